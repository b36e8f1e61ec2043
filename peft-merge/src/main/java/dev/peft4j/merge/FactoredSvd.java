package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.peft4j.core.linalg.Linalg;
import dev.peft4j.core.linalg.QrResult;
import dev.peft4j.core.linalg.SvdResult;

/**
 * Thin SVD of a matrix given as a product {@code D = P Q^T} ({@code P [m, k]}, {@code Q [n, k]}),
 * without forming D: {@code P = Q_P R_P}, {@code Q = Q_Q R_Q}, SVD of the small core
 * {@code R_P R_Q^T = U_c S V_c^T}, then {@code U = Q_P U_c}, {@code V = Q_Q V_c}. Costs
 * O((m + n) k^2) instead of O(m n min(m, n)); a LoRA delta {@code s B A} is {@code P = s B},
 * {@code Q = A^T}.
 */
public final class FactoredSvd {

    private FactoredSvd() {}

    /** {@code U [m, k']}, {@code S [k']} descending, {@code V [n, k']} of {@code P Q^T}, on {@code manager}. */
    public static SvdResult svd(NDArray p, NDArray q, NDManager manager) {
        try (NDManager temp = manager.newSubManager()) {
            QrResult qp = Linalg.qr(p, temp);
            QrResult qq = Linalg.qr(q, temp);
            SvdResult core = Linalg.svd(qp.r().matMul(qq.r().transpose()), temp);
            NDArray u = qp.q().matMul(core.u());
            NDArray v = qq.q().matMul(core.v());
            NDArray s = core.s().duplicate();
            u.attach(manager);
            v.attach(manager);
            s.attach(manager);
            return new SvdResult(u, s, v);
        }
    }
}
