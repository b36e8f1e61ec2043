/**
 * Linear algebra DJL lacks: exact and randomized thin SVD, thin QR and symmetric
 * eigendecomposition.
 *
 * <p>Large products run as NDArray operations on the input's own device; only the small {@code k x
 * k} factorizations run in Java, in float64. Entry point: {@link dev.peft4j.core.linalg.Linalg}.
 */
package dev.peft4j.core.linalg;
