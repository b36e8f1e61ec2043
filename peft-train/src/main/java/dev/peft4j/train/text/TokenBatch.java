package dev.peft4j.train.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
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
     * @param tokenizer the tokenizer; where it pads on its own (DJL pads a batch to its longest
     *     unless told not to), its padding is dropped by the attention mask and redone here
     * @param texts the texts
     * @param padId the id that fills padded positions ({@code pad_token_id})
     * @return the batch
     */
    public static TokenBatch encode(
            HuggingFaceTokenizer tokenizer, List<String> texts, long padId) {
        Encoding[] encodings = tokenizer.batchEncode(texts);
        List<long[]> ids = new ArrayList<>();
        List<long[]> types = new ArrayList<>();
        for (Encoding e : encodings) {
            int real = realTokens(e.getAttentionMask());
            ids.add(Arrays.copyOf(e.getIds(), real));
            types.add(Arrays.copyOf(e.getTypeIds(), real));
        }
        return pad(ids, types, padId);
    }

    /** The number of leading real tokens; a mask that is not ones then zeros is refused. */
    private static int realTokens(long[] mask) {
        int real = 0;
        while (real < mask.length && mask[real] == 1) {
            real++;
        }
        for (int i = real; i < mask.length; i++) {
            if (mask[i] != 0) {
                throw new IllegalArgumentException(
                        "the tokenizer pads on the left (attention mask "
                                + Arrays.toString(mask)
                                + "); right padding is expected");
            }
        }
        return real;
    }

    /**
     * Pads already tokenized texts (every token real) to the longest.
     *
     * @param tokenIds each text's ids, special tokens included
     * @param typeIds each text's token type ids (same lengths)
     * @param padId the id that fills padded positions
     * @return the batch
     */
    public static TokenBatch pad(List<long[]> tokenIds, List<long[]> typeIds, long padId) {
        int length = 0;
        for (long[] t : tokenIds) {
            length = Math.max(length, t.length);
        }
        int n = tokenIds.size();
        long[][] ids = new long[n][length];
        long[][] mask = new long[n][length];
        long[][] types = new long[n][length];
        for (int b = 0; b < n; b++) {
            long[] t = tokenIds.get(b);
            Arrays.fill(ids[b], padId);
            System.arraycopy(t, 0, ids[b], 0, t.length);
            Arrays.fill(mask[b], 0, t.length, 1L);
            System.arraycopy(typeIds.get(b), 0, types[b], 0, t.length);
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
