/**
 * Sentence-embedding fine-tuning as sentence-transformers does it: text pairs, triplets and scored
 * pairs ({@link EmbeddingData}), batches without in-batch duplicates ({@link
 * NoDuplicatesBatchSampler}), a pooled and normalized encoder ({@link SentenceEncoder}), the
 * contrastive losses ({@link MultipleNegativesRankingLoss}, {@link CoSentLoss}, {@link
 * CosineSimilarityLoss}, {@link TripletLoss}) and retrieval and similarity evaluation ({@link
 * RetrievalEvaluator}, {@link SimilarityEvaluator}).
 */
package dev.peft4j.train.embedding;
