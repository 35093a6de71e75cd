"""Retrieval metrics in the protocol of seed 002 (numpy only).

Every test image queries all the *other* test images (leave-one-out); an
image is relevant when it has the query's label.

* **mAP**: mean over queries of average precision over the full ranking.
* **Recall@K**: relevant images among the first ``K`` results divided by all
  relevant images (seed 002's Table IV; with ``R`` relevant images per query
  it cannot exceed ``K / R``).
* **P@K**: relevant images among the first ``K`` results divided by ``K``
  (easier to read; reported beside the seed's numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RetrievalScores", "cosine_similarity", "random_scores", "ranking_metrics"]


@dataclass(frozen=True)
class RetrievalScores:
    mAP: float
    recall_at_10: float
    recall_at_30: float
    precision_at_10: float
    queries: int


def cosine_similarity(features: np.ndarray) -> np.ndarray:
    """``(N, N)`` ``float32`` cosine similarities of the rows of ``features``."""
    f = np.asarray(features, dtype=np.float32)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    return f @ f.T


def random_scores(n: int, seed: int = 0) -> np.ndarray:
    """Similarities of a random ranking (the chance baseline)."""
    return np.random.default_rng(seed).random((n, n), dtype=np.float32)


def ranking_metrics(similarity: np.ndarray, labels: np.ndarray) -> RetrievalScores:
    """Leave-one-out retrieval scores from an ``(N, N)`` similarity matrix.

    Ties are broken by index (stable sort), never in favour of relevant items.
    """
    s = np.array(similarity, dtype=np.float32, copy=True)
    labels = np.asarray(labels)
    n = len(labels)
    if s.shape != (n, n):
        raise ValueError(f"similarity must be ({n}, {n}), got {s.shape}")
    np.fill_diagonal(s, -np.inf)
    order = np.argsort(-s, axis=1, kind="stable")[:, : n - 1]  # the query itself sorts last
    rel = labels[order] == labels[:, None]
    n_rel = rel.sum(axis=1)
    keep = n_rel > 0
    hits = np.cumsum(rel, axis=1)
    prec = hits / np.arange(1, n, dtype=np.float64)
    ap = (prec * rel).sum(axis=1)[keep] / n_rel[keep]
    k10, k30 = min(10, n - 1), min(30, n - 1)
    return RetrievalScores(
        mAP=float(ap.mean()),
        recall_at_10=float((hits[keep, k10 - 1] / n_rel[keep]).mean()),
        recall_at_30=float((hits[keep, k30 - 1] / n_rel[keep]).mean()),
        precision_at_10=float(rel[keep, :k10].mean()),
        queries=int(keep.sum()),
    )
