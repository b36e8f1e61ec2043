/**
 * Building blocks with Hugging Face module and parameter names: the base class, norms, embeddings,
 * attention, module lists.
 */
package dev.peft4j.models.nn;
