/** Task arithmetic ({@code theta0 + lambda sum tau_t}) and the simple average of fine-tuned weights. */
package dev.peft4j.merge.ta;
