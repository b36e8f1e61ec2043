package dev.peft4j.init.eva;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;

/**
 * Which token positions of a batch EVA feeds to the PCA, as a boolean mask {@code [B, T]}; a
 * layer input {@code [B, T, n]} keeps the rows where the mask is true, other inputs ({@code [B,
 * n]}) keep every row.
 */
@FunctionalInterface
public interface TokenMask {

    /** The name of the attention mask among a batch's data arrays. */
    String ATTENTION_MASK = "attention_mask";

    /** The mask of the tokens to use, or null to use all of them. */
    NDArray keep(Batch batch, EvaConfig config);

    /**
     * PEFT's default for language data: the data array named {@code attention_mask} drops padding,
     * and with {@code use_label_mask} token-level labels ({@code [B, T]}, the first label array)
     * equal to {@code label_mask_value} drop their tokens; sequence-level labels are ignored.
     */
    static TokenMask standard() {
        return (batch, config) -> {
            NDArray keep = null;
            for (NDArray a : batch.getData()) {
                if (ATTENTION_MASK.equals(a.getName())) {
                    keep = a.neq(0);
                }
            }
            NDList labels = batch.getLabels();
            if (config.useLabelMask() && labels != null && !labels.isEmpty()) {
                NDArray y = labels.head();
                Shape shape = y.getShape();
                if (shape.dimension() == 2 && (keep == null || keep.getShape().equals(shape))) {
                    NDArray valid = y.neq(config.labelMaskValue());
                    keep = keep == null ? valid : keep.logicalAnd(valid);
                }
            }
            return keep;
        };
    }

    /** Every token. */
    static TokenMask all() {
        return (batch, config) -> null;
    }

    /** The rows {@code [tokens, n]} of a layer input that {@code keep} selects. */
    static NDArray rows(NDArray x, NDArray keep) {
        Shape shape = x.getShape();
        long n = shape.get(shape.dimension() - 1);
        NDArray flat = x.reshape(-1, n);
        boolean aligned =
                keep != null
                        && shape.dimension() == keep.getShape().dimension() + 1
                        && shape.slice(0, shape.dimension() - 1).equals(keep.getShape());
        if (!aligned) {
            return flat;
        }
        // DJL masks only whole-shape or trailing-shape masks, so the row mask is broadcast over the
        // columns
        NDArray cells = keep.reshape(-1, 1).broadcast(flat.getShape());
        return flat.booleanMask(cells).reshape(-1, n);
    }
}
