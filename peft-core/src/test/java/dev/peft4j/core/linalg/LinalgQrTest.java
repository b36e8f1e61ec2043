package dev.peft4j.core.linalg;

import ai.djl.ndarray.NDArray;

/** {@link Linalg#qr} against the QR contract. */
class LinalgQrTest extends QrContractTest {

    @Override
    protected QrResult decompose(NDArray a) {
        return Linalg.qr(a);
    }
}
