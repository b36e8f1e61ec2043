/** Vision Transformers with HF ViTModel names and an image-classification head. */
package dev.peft4j.models.vit;
