/**
 * Reproducible random numbers: counter-based generators that regenerate any chunk bit-identically.
 */
package dev.peft4j.core.random;
