#!/usr/bin/env python3
"""Reference values for the embedding losses, sampler and evaluators, written from
sentence-transformers' source (commit 85ec6455, 5.2.0.dev0) with NumPy and SciPy, independently of
the Java code.

  losses/MultipleNegativesRankingLoss.py 127-156: scores = cos_sim(anchors, cat(candidates)) * scale,
      CrossEntropyLoss(scores, arange(B)).
  losses/MultipleNegativesSymmetricRankingLoss.py 99-136: (CE(forward) + CE(forward[:, :B].T)) / 2.
  losses/CoSENTLoss.py 98-111: s = pairwise_cos_sim * scale; s[:, None] - s[None, :];
      masked by labels[:, None] < labels[None, :] (- 1e12); logsumexp over [0, ...].
  losses/CosineSimilarityLoss.py 94-95: MSE(cosine_similarity(u, v), labels).
  losses/TripletLoss.py 97-102 with the documented Euclidean distance (F.pairwise_distance, p=2,
      eps=1e-6: ||x - y + eps||) and COSINE = 1 - pairwise_cos_sim (line 17).
  util/similarity.py 29-46 cos_sim, 48-64 pairwise_cos_sim (F.normalize: x / max(||x||, 1e-12)).
  sampler.py 204-238 NoDuplicatesBatchSampler.__iter__, given the visiting order.
  evaluation/InformationRetrievalEvaluator.py 293-500 (top-k by cos_sim, then compute_metrics,
      compute_dcg_at_k 550-554), default k lists.
  evaluation/EmbeddingSimilarityEvaluator.py 185-198: scipy.stats.pearsonr / spearmanr of the
      pairwise cosine against the gold scores.

The inputs are formulas both sides evaluate (in double, then rounded to float32), see
EmbeddingReferenceTest. Regenerate with:
  python3 embedding_reference.py > ../../../../../resources/dev/peft4j/train/embedding/reference.json
"""
import json
import math
import sys

import numpy as np
from scipy.stats import pearsonr, spearmanr

B, H = 6, 8


def column(c, rows=B):
    """Embeddings of column c: f(c, i, j) = sin(1.3 i + 0.7 j + 2.1 c) + 0.25 cos(0.9 i j + c)."""
    x = [[math.sin(1.3 * i + 0.7 * j + 2.1 * c) + 0.25 * math.cos(0.9 * i * j + c) for j in range(H)]
         for i in range(rows)]
    return np.array(x, dtype=np.float32).astype(np.float64)


def gold():
    """Scores with a tie: ((3 i) mod 5) / 4 - 0.5."""
    return np.array([((3 * i) % 5) / 4 - 0.5 for i in range(B)], dtype=np.float32).astype(np.float64)


def normalize(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cos_sim(a, b):
    return normalize(a) @ normalize(b).T


def pairwise_cos_sim(a, b):
    return (normalize(a) * normalize(b)).sum(-1)


def cross_entropy(scores, labels):
    m = scores.max(1, keepdims=True)
    lse = np.log(np.exp(scores - m).sum(1)) + m[:, 0]
    return float(np.mean(lse - scores[np.arange(len(labels)), labels]))


def mnrl(embeddings, scale=20.0):
    anchors, candidates = embeddings[0], np.concatenate(embeddings[1:], 0)
    scores = cos_sim(anchors, candidates) * scale
    return cross_entropy(scores, np.arange(len(anchors)))


def mnsrl(embeddings, scale=20.0):
    anchors, candidates = embeddings[0], np.concatenate(embeddings[1:], 0)
    b = len(anchors)
    forward = cos_sim(anchors, candidates) * scale
    backward = forward[:, :b].T
    return (cross_entropy(forward, np.arange(b)) + cross_entropy(backward, np.arange(b))) / 2


def cosent(u, v, labels, scale=20.0):
    s = pairwise_cos_sim(u, v) * scale
    s = s[:, None] - s[None, :]
    lab = (labels[:, None] < labels[None, :]).astype(np.float64)
    s = s - (1 - lab) * 1e12
    s = np.concatenate(([0.0], s.reshape(-1)))
    m = s.max()
    return float(np.log(np.exp(s - m).sum()) + m)


def cosine_similarity_loss(u, v, labels):
    return float(np.mean((pairwise_cos_sim(u, v) - labels) ** 2))


def triplet(a, p, n, distance, margin):
    if distance == "euclidean":
        d = lambda x, y: np.sqrt(((x - y + 1e-6) ** 2).sum(-1))
    else:
        d = lambda x, y: 1 - pairwise_cos_sim(x, y)
    return float(np.mean(np.maximum(d(a, p) - d(a, n) + margin, 0)))


def no_duplicates(rows, order, batch_size, drop_last):
    remaining = dict.fromkeys(order)
    out = []
    while remaining:
        values, batch = set(), []
        for index in remaining:
            sample = set(rows[index])
            if sample & values:
                continue
            batch.append(index)
            if len(batch) == batch_size:
                out.append(batch)
                break
            values.update(sample)
        else:
            if not drop_last:
                out.append(batch)
        for index in batch:
            del remaining[index]
    return out


def dcg(relevances, k):
    return sum(relevances[i] / np.log2(i + 2) for i in range(min(len(relevances), k)))


def ir_metrics(rankings, relevant):
    acc_k, mrr_k, ndcg_k, map_k = [1, 3, 5, 10], [10], [10], [100]
    out = {}
    q = len(rankings)
    for k in acc_k:
        out["accuracy@%d" % k] = sum(any(h in r for h in hits[:k]) for hits, r in zip(rankings, relevant)) / q
    for k in acc_k:
        out["precision@%d" % k] = float(np.mean([sum(h in r for h in hits[:k]) / k for hits, r in zip(rankings, relevant)]))
    for k in acc_k:
        out["recall@%d" % k] = float(np.mean([sum(h in r for h in hits[:k]) / len(r) for hits, r in zip(rankings, relevant)]))
    for k in mrr_k:
        total = 0
        for hits, r in zip(rankings, relevant):
            for rank, h in enumerate(hits[:k]):
                if h in r:
                    total += 1.0 / (rank + 1)
                    break
        out["mrr@%d" % k] = total / q
    for k in ndcg_k:
        out["ndcg@%d" % k] = float(np.mean([dcg([1 if h in r else 0 for h in hits[:k]], k) / dcg([1] * len(r), k)
                                            for hits, r in zip(rankings, relevant)]))
    for k in map_k:
        aps = []
        for hits, r in zip(rankings, relevant):
            found, s = 0, 0.0
            for rank, h in enumerate(hits[:k]):
                if h in r:
                    found += 1
                    s += found / (rank + 1)
            aps.append(s / min(k, len(r)))
        out["map@%d" % k] = float(np.mean(aps))
    return out


def retrieval_case():
    """12 documents and 5 queries as angles on the unit circle (float32), relevance by formula."""
    docs = np.array([[math.cos(0.5 * d + 0.13), math.sin(0.5 * d + 0.13)] for d in range(12)], dtype=np.float32)
    queries = np.array([[math.cos(1.1 * q + 0.02), math.sin(1.1 * q + 0.02)] for q in range(5)], dtype=np.float32)
    relevant = [{"d%d" % ((2 * q + 1) % 12), "d%d" % ((5 * q) % 12)} if q != 3 else {"d7"} for q in range(5)]
    scores = cos_sim(queries.astype(np.float64), docs.astype(np.float64))
    rankings = [["d%d" % i for i in np.argsort(-row, kind="stable")] for row in scores]
    return ir_metrics(rankings, relevant)


def main():
    a, p, n = column(0), column(1), column(2)
    labels = gold()
    u, v = column(3), column(4)
    losses = {
        "mnrl": mnrl([a, p]),
        "mnrl_hard_negative": mnrl([a, p, n]),
        "mnrl_scale_5": mnrl([a, p], scale=5.0),
        "mnsrl": mnsrl([a, p]),
        "mnsrl_hard_negative": mnsrl([a, p, n]),
        "cosent": cosent(u, v, labels),
        "cosine_similarity": cosine_similarity_loss(u, v, labels),
        "triplet_euclidean_5": triplet(a, p, n, "euclidean", 5.0),
        "triplet_euclidean_0_5": triplet(a, p, n, "euclidean", 0.5),
        "triplet_cosine_0_5": triplet(a, p, n, "cosine", 0.5),
    }
    cos = pairwise_cos_sim(u, v)
    similarity = {"pearson_cosine": float(pearsonr(cos, labels)[0]),
                  "spearman_cosine": float(spearmanr(cos, labels)[0])}
    rows = [["q0", "a"], ["q1", "b"], ["q0", "c"], ["q2", "a"], ["q3", "d"], ["q4", "e"], ["q1", "f"], ["q5", "g"]]
    order = [3, 0, 6, 2, 5, 7, 1, 4]
    sampler = {"rows": rows, "order": order,
               "batches_3": no_duplicates(rows, order, 3, False),
               "batches_3_drop_last": no_duplicates(rows, order, 3, True)}
    json.dump({"losses": losses, "similarity": similarity, "sampler": sampler, "retrieval": retrieval_case()},
              sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
