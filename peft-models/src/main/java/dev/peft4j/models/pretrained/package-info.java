/** Pre-trained encoders shipped on Maven Central as ONNX files, loaded into our blocks. */
package dev.peft4j.models.pretrained;
