package dev.peft4j.core.io;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * What a {@link TensorSource} knows about one tensor before loading it.
 *
 * @param name the tensor's key in its source (a Hugging Face parameter name for model weights)
 * @param dtype the element type the tensor loads as
 * @param shape the tensor's shape
 */
public record TensorInfo(String name, DataType dtype, Shape shape) {}
