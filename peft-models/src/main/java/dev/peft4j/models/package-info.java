/**
 * peft4j models: DJL blocks whose module paths are the Hugging Face names, so adapter keys match
 * HF PEFT's, with weight loading (safetensors, ONNX) and export.
 */
package dev.peft4j.models;
