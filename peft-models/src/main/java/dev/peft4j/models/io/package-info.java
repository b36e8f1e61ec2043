/**
 * HF state-dict naming of block trees, weight loading from tensor sources and export to
 * safetensors.
 */
package dev.peft4j.models.io;
