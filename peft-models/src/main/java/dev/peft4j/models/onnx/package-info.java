/** Import of the weights of ONNX exports of HF models, through a minimal protobuf reader. */
package dev.peft4j.models.onnx;
