package dev.peft4j.train.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.Arrays;
import java.util.List;

/**
 * A right-padded batch of tokenized texts: the {@code input_ids}, {@code attention_mask} and
 * {@code token_type_ids} an HF encoder takes, padded to the longest text of the batch.
 */
public final class TokenBatch {

    private final long[][] inputIds;
    private final long[][] attentionMask;
    private final long[][] tokenTypeIds;

    private TokenBatch(long[][] inputIds, long[][] attentionMask, long[][] tokenTypeIds) {
        this.inputIds = inputIds;
        this.attentionMask = attentionMask;
        this.tokenTypeIds = tokenTypeIds;
    }

    /**
     * Tokenizes texts (with the tokenizer's special tokens) and pads them to the longest.
     *
     * @param tokenizer the tokenizer, without padding of its own
     * @param texts the texts
     * @param padId the id that fills padded positions ({@code pad_token_id})
     * @return the batch
     */
    public static TokenBatch encode(
            HuggingFaceTokenizer tokenizer, List<String> texts, long padId) {
        Encoding[] encodings = tokenizer.batchEncode(texts);
        int length = 0;
        for (Encoding e : encodings) {
            length = Math.max(length, e.getIds().length);
        }
        int n = encodings.length;
        long[][] ids = new long[n][length];
        long[][] mask = new long[n][length];
        long[][] types = new long[n][length];
        for (int b = 0; b < n; b++) {
            long[] tokenIds = encodings[b].getIds();
            long[] tokenMask = encodings[b].getAttentionMask();
            long[] tokenTypes = encodings[b].getTypeIds();
            Arrays.fill(ids[b], padId);
            System.arraycopy(tokenIds, 0, ids[b], 0, tokenIds.length);
            System.arraycopy(tokenMask, 0, mask[b], 0, tokenMask.length);
            System.arraycopy(tokenTypes, 0, types[b], 0, tokenTypes.length);
        }
        return new TokenBatch(ids, mask, types);
    }

    /**
     * Returns the number of texts.
     *
     * @return the batch size
     */
    public int size() {
        return inputIds.length;
    }

    /**
     * Returns the padded length.
     *
     * @return the sequence length
     */
    public int length() {
        return inputIds.length == 0 ? 0 : inputIds[0].length;
    }

    /**
     * Returns the number of real (unpadded) tokens of one text.
     *
     * @param row the text's index
     * @return its token count
     */
    public int tokens(int row) {
        int count = 0;
        for (long m : attentionMask[row]) {
            count += (int) m;
        }
        return count;
    }

    /**
     * Returns the padded token ids {@code [B, T]} (a copy).
     *
     * @return the input ids
     */
    public long[][] inputIds() {
        return copy(inputIds);
    }

    /**
     * Returns the attention mask {@code [B, T]}, 1 for real tokens (a copy).
     *
     * @return the attention mask
     */
    public long[][] attentionMask() {
        return copy(attentionMask);
    }

    /**
     * Returns the token type ids {@code [B, T]} (a copy).
     *
     * @return the token type ids
     */
    public long[][] tokenTypeIds() {
        return copy(tokenTypeIds);
    }

    /**
     * Returns the batch as the inputs of an HF encoder block.
     *
     * @param manager the manager of the new arrays
     * @return {@code input_ids}, {@code attention_mask}, {@code token_type_ids}, each int64 {@code
     *     [B, T]}
     */
    public NDList toNDList(NDManager manager) {
        return new NDList(
                manager.create(inputIds),
                manager.create(attentionMask),
                manager.create(tokenTypeIds));
    }

    private static long[][] copy(long[][] rows) {
        long[][] out = new long[rows.length][];
        for (int i = 0; i < rows.length; i++) {
            out[i] = rows[i].clone();
        }
        return out;
    }
}
