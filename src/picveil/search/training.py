"""Training, embedding, saving and loading the feature networks (PyTorch).

Recipe (seed 002, Section II-B and III-C, scaled to a CPU):

* batches of ``classes_per_batch × per_class`` images (P×K sampling, so every
  anchor has positives and negatives in its batch);
* loss = batch-hard triplet loss (Euclidean, margin 0.3) on the class-token
  feature ``f`` + cross-entropy (label smoothing 0.1) on the classifier over
  the BatchNorm-neck feature ``f_bn``, weight 1 : 1;
* AdamW with a one-cycle schedule (warm-up, as the seed's reference [22]);
* retrieval compares ``f_bn`` by cosine.

Weights files
-------------
:func:`save_weights` writes a ``torch.save`` dict ``{"format", "config",
"state_dict", "meta"}`` and, beside it, ``NAME.sha256`` in ``sha256sum``
format. :func:`load_weights` refuses a file whose hash does not match (or
that has no recorded hash and none is given), then loads it with
``weights_only=True`` from the bytes it verified. The bundled models, one
per searchable scheme, are pinned by :data:`BUNDLED`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

import numpy as np

from .errors import MissingExtraError, WeightsError, WeightsIntegrityError

__all__ = [
    "BUNDLED",
    "BUNDLED_WEIGHTS",
    "BUNDLED_SHA256",
    "TrainSettings",
    "embed",
    "load_bundled",
    "load_weights",
    "save_weights",
    "train_network",
]

WEIGHTS_FORMAT = "picveil-search-weights 1"
#: The networks that ship in the package, by the scheme whose files they read:
#: ``(resource, sha256)`` (trained by benchmarks/bench_search.py or
#: `picveil train-search` on protected Fashion-MNIST; see each file's "meta").
BUNDLED = {
    "searchable-v1": ("weights/cipher-gmlp-fmnist.pt", "f1ec95806134bd3bada3915f2536dd4063bc98245b43e32396819288f9f4ab68"),
    "searchable-v2": ("weights/cipher-tiles-fmnist.pt", "dbb9e862a3dd3e27a3959eb4cc660f335eb69d4d2e4c3cfc9f122fe4ac2cdf51"),
}
#: The scheme `picveil protect --whole` uses by default, and so the default network.
DEFAULT_SEARCH_SCHEME = "searchable-v2"
BUNDLED_WEIGHTS, BUNDLED_SHA256 = BUNDLED[DEFAULT_SEARCH_SCHEME]


def require_torch():
    try:
        import torch
    except ImportError:
        raise MissingExtraError("PyTorch is needed for the search network.") from None
    return torch


@contextmanager
def _threads(n: int | None):
    torch = require_torch()
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class TrainSettings:
    """Hyper-parameters of :func:`train_network` (defaults: the benchmark's)."""

    def __init__(
        self,
        *,
        epochs: int = 12,
        classes_per_batch: int = 10,
        per_class: int = 8,
        lr: float = 2e-3,
        weight_decay: float = 0.05,
        margin: float = 0.3,
        label_smoothing: float = 0.1,
        seed: int = 0,
        threads: int | None = 1,
        min_steps: int = 0,
    ) -> None:
        self.epochs = epochs
        self.classes_per_batch = classes_per_batch
        self.per_class = per_class
        self.lr = lr
        self.weight_decay = weight_decay
        self.margin = margin
        self.label_smoothing = label_smoothing
        self.seed = seed
        self.threads = threads
        self.min_steps = min_steps

    def steps_per_epoch(self, n_samples: int, n_classes: int) -> int:
        """Optimiser steps in one pass over ``n_samples`` (batches of ``classes_per_batch × per_class``)."""
        return max(1, n_samples // (min(self.classes_per_batch, n_classes) * self.per_class))

    def epochs_for(self, n_samples: int, n_classes: int) -> int:
        """Passes :func:`train_network` makes: ``epochs``, or more where a small
        training set would otherwise get fewer than ``min_steps`` optimiser
        steps (a set of 2,800 pictures gets 35 steps a pass, one of 7,000 gets 87;
        with a step floor both are trained about as long)."""
        steps = self.steps_per_epoch(n_samples, n_classes)
        return max(self.epochs, -(-self.min_steps // steps))

    def as_dict(self) -> dict:
        return dict(vars(self))


def _batch_hard_triplet(f, labels, margin: float):
    torch = require_torch()
    dist = torch.cdist(f, f)
    same = labels[:, None] == labels[None, :]
    hardest_pos = (dist * same).max(dim=1).values
    hardest_neg = (dist + same * 1e4).min(dim=1).values
    return torch.relu(hardest_pos - hardest_neg + margin).mean()


def train_network(
    x: np.ndarray,
    labels: np.ndarray,
    config: dict,
    settings: TrainSettings | None = None,
    *,
    progress: Callable[[int, int, float], None] | None = None,
):
    """Train a network of ``config`` on inputs ``x`` with integer ``labels``.

    Parameters
    ----------
    x : numpy.ndarray
        ``uint8`` network inputs, ``(N, rows, d_in)`` (see
        :func:`picveil.search.features.cipher_tokens` and ``plain_patches``).
    labels : numpy.ndarray
        ``int64`` ``(N,)``, values ``0 .. config["n_classes"] - 1``.
    progress : callable, optional
        Called after every epoch with ``(epoch, epochs, mean_loss)``.

    Returns
    -------
    torch.nn.Module
        The trained network, in eval mode.
    """
    torch = require_torch()
    from torch.nn import functional as F

    from .model import build_model

    s = settings or TrainSettings()
    labels = np.asarray(labels, dtype=np.int64)
    if x.dtype != np.uint8 or x.ndim != 3 or len(x) != len(labels):
        raise ValueError("x must be uint8 (N, rows, d_in) with one label per row")
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError("training needs at least two classes")
    rng = np.random.default_rng(s.seed)
    with _threads(s.threads):
        torch.manual_seed(s.seed)
        model = build_model(config)
        xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(labels)
        by_class = {c: np.flatnonzero(labels == c) for c in classes}
        p = min(s.classes_per_batch, len(classes))
        steps = s.steps_per_epoch(len(labels), len(classes))
        epochs = s.epochs_for(len(labels), len(classes))
        opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, s.lr, total_steps=epochs * steps, pct_start=0.15)
        for epoch in range(epochs):
            model.train()
            total = 0.0
            for _ in range(steps):
                chosen = rng.choice(classes, p, replace=False)
                idx = np.concatenate(
                    [rng.choice(by_class[c], s.per_class, replace=len(by_class[c]) < s.per_class) for c in chosen]
                )
                f, _, logits = model(xt[idx])
                y = yt[idx]
                loss = F.cross_entropy(logits, y, label_smoothing=s.label_smoothing) + _batch_hard_triplet(f, y, s.margin)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach())
            if progress is not None:
                progress(epoch + 1, epochs, total / steps)
        model.eval()
    return model


def embed(model, x: np.ndarray, *, batch: int = 256, threads: int | None = None) -> np.ndarray:
    """Unit-length retrieval features ``f_bn`` (``float32``, ``(N, d)``) of inputs ``x``."""
    torch = require_torch()
    out = []
    with _threads(threads), torch.inference_mode():
        model.eval()
        for i in range(0, len(x), batch):
            _, f_bn, _ = model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch])))
            out.append(torch.nn.functional.normalize(f_bn, dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def classify(model, x: np.ndarray, *, batch: int = 256, threads: int | None = None) -> np.ndarray:
    """Predicted labels (``int64``) of inputs ``x``."""
    torch = require_torch()
    out = []
    with _threads(threads), torch.inference_mode():
        model.eval()
        for i in range(0, len(x), batch):
            _, _, logits = model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch])))
            out.append(logits.argmax(dim=1).numpy())
    return np.concatenate(out)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def save_weights(model, path, *, meta: dict | None = None) -> str:
    """Write ``model`` to ``path`` and its SHA-256 to ``path.sha256``; return the hex digest."""
    torch = require_torch()
    from ..api import write_atomic

    path = Path(path)
    buf = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": WEIGHTS_FORMAT, "config": model.config, "state_dict": state, "meta": meta or {}}, buf)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    write_atomic(path, data)
    write_atomic(_sidecar(path), f"{digest}  {path.name}\n".encode())
    return digest


def _load_bytes(data: bytes, origin: str):
    torch = require_torch()
    from .model import build_model

    try:
        blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # a torch unpickling error of any kind
        raise WeightsError(f"{origin} is not a picveil weights file ({type(exc).__name__}).") from None
    if not isinstance(blob, dict) or blob.get("format") != WEIGHTS_FORMAT:
        raise WeightsError(f"{origin} is not a picveil weights file (format {WEIGHTS_FORMAT!r} expected).")
    try:
        model = build_model(blob["config"])
        model.load_state_dict(blob["state_dict"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{origin} does not match its network configuration: {exc}") from None
    model.eval()
    model.meta = dict(blob.get("meta") or {})
    return model


def load_weights(path, *, sha256: str | None = None):
    """Load weights written by :func:`save_weights`, after checking their hash.

    The expected hash is ``sha256`` if given, else the one recorded in
    ``path.sha256``. The model gets a ``sha256`` attribute (hex digest).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"Cannot read weights {path}: {exc.strerror}") from None
    expected = sha256
    if expected is None:
        try:
            expected = _sidecar(path).read_text(encoding="utf-8").split()[0]
        except (OSError, IndexError):
            raise WeightsError(
                f"No SHA-256 is recorded for {path} (expected {_sidecar(path).name} beside it).",
                hint="Use weights written by `picveil train-search`, which records their hash.",
            ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected.lower():
        raise WeightsIntegrityError(f"{path} does not match its recorded SHA-256.")
    model = _load_bytes(data, str(path))
    model.sha256 = digest
    return model


def load_bundled(scheme: str = DEFAULT_SEARCH_SCHEME):
    """The network shipped with picveil for files of ``scheme`` (pinned by :data:`BUNDLED`)."""
    try:
        resource, pinned = BUNDLED[scheme]
    except KeyError:
        raise WeightsError(f"picveil has no search network for scheme {scheme!r}.") from None
    res = files("picveil.search").joinpath(resource)
    if not pinned or not res.is_file():
        raise WeightsError(
            f"This picveil has no bundled search network for {scheme}.",
            hint="Train one with `picveil train-search --out weights.pt` and pass --weights weights.pt.",
        )
    data = res.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != pinned:
        raise WeightsIntegrityError("The bundled search network does not match its pinned SHA-256.")
    model = _load_bytes(data, "the bundled search network")
    model.sha256 = digest
    return model
