/**
 * Initializers that change the base weight (PiSSA, LoRA-GA): their fingerprint check on load and
 * their conversion to plain LoRA for the original weights on save.
 */
package dev.peft4j.init.convert;
