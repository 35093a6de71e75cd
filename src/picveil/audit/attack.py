"""The attacks: a CNN trained on obfuscated images, a global-statistics attacker
and a block-spectrum attacker.

Threat model (seed 004): the attacker knows the algorithm and its settings but
not the keys; every image was obfuscated with its own key. The attacker trains
on obfuscated training images with their true labels and is scored on
obfuscated test images it has never seen.

CNN (:class:`AttackNet`)
    Seed 004's MNIST network (appendix A.1: conv 5×5 ×32, LeakyReLU, max-pool
    3; conv 5×5 ×64, LeakyReLU, max-pool 2; linear 256→200, LeakyReLU,
    dropout 0.5, linear →classes), with batch normalisation after each
    convolution added. For inputs larger than 32×32 a learned patch stem
    (a ``k``×``k`` convolution with stride ``k``, ``k = size // 32``, 16
    channels) brings the image to 32×32 first, so the 128-pixel runs see every
    pixel at the same cost. Training: SGD with Nesterov momentum 0.9, weight
    decay 5e-4 (seed 004's values), batch 64, learning rate cut 5× when the
    validation accuracy stalls, early stopping with the best-validation weights
    restored; shift augmentation by multiples of the obfuscation's grid
    (:attr:`Obfuscation.grid`), so that shifting never breaks block alignment.

Global statistics (:func:`global_stats_features`)
    Mean, standard deviation and a 16-bin histogram of 8×8 block means: what
    leaks when blocks are only permuted or their signs scrambled. Scored with
    logistic regression and with a small MLP (scikit-learn).

Block spectrum (:func:`spectrum_features`)
    The energy and mean magnitude of each of the 64 frequencies of the image's
    8×8 block DCT, over all blocks, scored with gradient-boosted trees. These
    are what any scramble keeps that only moves coefficients between blocks
    and flips their signs while leaving each at its frequency (so that a
    re-encode quantizes it as it would have quantized the original); the
    energies are also kept by any orthogonal mixing of blocks. The attacker
    bounds from below what every such scheme leaks.

torch and scikit-learn are imported inside the functions that need them.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

__all__ = [
    "AttackConfig",
    "AttackResult",
    "build_net",
    "train_cnn",
    "global_stats_features",
    "train_stats",
    "spectrum_features",
    "topk_accuracy",
]

#: Native input size of seed 004's MNIST network.
BASE_SIZE = 32


@dataclass(frozen=True)
class AttackConfig:
    """Training settings of the CNN attacker (recorded in the report)."""

    max_epochs: int = 30
    patience: int = 5          # epochs without validation gain before stopping
    lr: float = 0.02
    lr_patience: int = 2       # epochs without gain before the learning rate is cut
    lr_factor: float = 0.2
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 64
    val_fraction: float = 0.1
    augment: bool = True
    max_shift_fraction: float = 1 / 16   # shifts up to size/16 pixels (2 px at 32, 8 px at 128)
    threads: int = 2
    seed: int = 0
    batchnorm: bool = True     # False: seed 004's network exactly (a diagnostic)
    standardize: bool = True   # False: inputs are pixel/255, as in Torch's MNIST template


    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class AttackResult:
    """Scores of one attack on one obfuscated test set (fractions in [0, 1])."""

    top1: float
    top5: float
    epochs: int = 0
    best_epoch: int = 0
    val_top1: float = float("nan")
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    history: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Share of rows whose true label is among the ``k`` highest scores."""
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, kth=k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def build_net(size: int, n_classes: int, *, batchnorm: bool = True):
    """Seed 004's A.1 network with batch norm, plus a patch stem above 32 pixels.

    ``batchnorm=False`` gives seed 004's layers exactly (for diagnostics).
    """
    import torch.nn as nn

    def bn(c):
        return [nn.BatchNorm2d(c)] if batchnorm else []

    if size < BASE_SIZE or size % BASE_SIZE:
        raise ValueError(f"input size must be a multiple of {BASE_SIZE}, got {size}")
    layers: list = []
    c_in = 1
    if size > BASE_SIZE:
        k = size // BASE_SIZE
        layers += [nn.Conv2d(1, 16, kernel_size=k, stride=k), *bn(16), nn.LeakyReLU(0.01)]
        c_in = 16
    layers += [
        nn.Conv2d(c_in, 32, 5), *bn(32), nn.LeakyReLU(0.01), nn.MaxPool2d(3),   # 32 -> 28 -> 9
        nn.Conv2d(32, 64, 5), *bn(64), nn.LeakyReLU(0.01), nn.MaxPool2d(2),     # 9 -> 5 -> 2
        nn.Flatten(),
        nn.Linear(256, 200), nn.LeakyReLU(0.01), nn.Dropout(0.5),
        nn.Linear(200, n_classes),
    ]
    return nn.Sequential(*layers)


def _stratified_val(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = max(1, int(round(len(idx) * fraction)))
        val.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _shift_choices(size: int, grid: int, cfg: AttackConfig) -> np.ndarray:
    max_shift = int(size * cfg.max_shift_fraction)
    if not cfg.augment or grid > max_shift:
        return np.array([0])
    steps = max_shift // grid
    return np.arange(-steps, steps + 1) * grid


def train_cnn(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    n_classes: int,
    grid: int = 1,
    config: AttackConfig = AttackConfig(),
    on_epoch: Callable[[int, float], None] | None = None,
) -> AttackResult:
    """Train :func:`build_net` on ``x_train`` and score it on ``x_test``.

    Parameters
    ----------
    x_train, x_test : numpy.ndarray
        ``uint8``, shape ``(N, S, S)``, ``S`` a multiple of 32.
    y_train, y_test : numpy.ndarray
        integer labels ``0 .. n_classes-1``.
    grid : int
        Shift augmentation uses multiples of ``grid`` pixels only.
    on_epoch : callable, optional
        Called as ``on_epoch(epoch, val_top1)`` after each epoch.
    """
    import torch
    import torch.nn.functional as F

    for name, x in (("x_train", x_train), ("x_test", x_test)):
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1] != x.shape[2]:
            raise ValueError(f"{name} must be uint8 with shape (N, S, S)")
    t0, c0 = time.perf_counter(), time.process_time()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    size = x_train.shape[1]

    tr_idx, val_idx = _stratified_val(y_train, config.val_fraction, rng)
    if config.standardize:
        mean = float(x_train[tr_idx].mean()) / 255.0
        std = float(x_train[tr_idx].std()) / 255.0 or 1.0
    else:
        mean, std = 0.0, 1.0

    def to_tensor(x: np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x))

    xt, yt = to_tensor(x_train[tr_idx]), torch.from_numpy(y_train[tr_idx].astype(np.int64))
    xv, yv = to_tensor(x_train[val_idx]), y_train[val_idx]
    xs = to_tensor(x_test)

    def norm(xb):
        return ((xb.float() / 255.0) - mean).div_(std).unsqueeze(1)

    shifts = torch.from_numpy(_shift_choices(size, grid, config))
    ar = torch.arange(size)

    def augment(xb):
        if len(shifts) == 1:
            return xb
        b = xb.shape[0]
        dy = shifts[torch.randint(len(shifts), (b,))]
        dx = shifts[torch.randint(len(shifts), (b,))]
        rows = (ar[None, :] - dy[:, None]) % size
        cols = (ar[None, :] - dx[:, None]) % size
        return xb[torch.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]

    net = build_net(size, n_classes, batchnorm=config.batchnorm)
    opt = torch.optim.SGD(
        net.parameters(), lr=config.lr, momentum=config.momentum,
        weight_decay=config.weight_decay, nesterov=True,
    )

    def predict(x) -> np.ndarray:
        net.eval()
        out = []
        with torch.no_grad():
            for i in range(0, x.shape[0], 512):
                out.append(net(norm(x[i:i + 512])).numpy())
        return np.concatenate(out) if out else np.zeros((0, n_classes))

    best_val, best_epoch, best_state = -1.0, 0, None
    since_best = since_cut = 0
    history = []
    epoch = 0
    for epoch in range(1, config.max_epochs + 1):
        net.train()
        perm = torch.randperm(xt.shape[0])
        for i in range(0, xt.shape[0], config.batch_size):
            bi = perm[i:i + config.batch_size]
            if len(bi) < 2:  # batch norm needs two samples
                continue
            xb = norm(augment(xt[bi]))
            loss = F.cross_entropy(net(xb), yt[bi])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        val = topk_accuracy(predict(xv), yv, 1)
        history.append(round(val, 4))
        if on_epoch is not None:
            on_epoch(epoch, val)
        if val > best_val:
            best_val, best_epoch, best_state = val, epoch, copy.deepcopy(net.state_dict())
            since_best = since_cut = 0
        else:
            since_best += 1
            since_cut += 1
            if since_best >= config.patience:
                break
            if since_cut >= config.lr_patience:
                for g in opt.param_groups:
                    g["lr"] *= config.lr_factor
                since_cut = 0
    if best_state is not None:
        net.load_state_dict(best_state)
    scores = predict(xs)
    return AttackResult(
        top1=topk_accuracy(scores, y_test, 1),
        top5=topk_accuracy(scores, y_test, 5),
        epochs=epoch,
        best_epoch=best_epoch,
        val_top1=best_val,
        seconds=time.perf_counter() - t0,
        cpu_seconds=time.process_time() - c0,
        history=history,
    )


#: Histogram bins of 8×8 block means for the statistics attacker.
STATS_BINS = 16
STATS_BLOCK = 8


def global_stats_features(images: np.ndarray) -> np.ndarray:
    """Per-image global statistics, shape ``(N, 2 + STATS_BINS)``, float64.

    Columns: mean/255, standard deviation/255 (contrast), and the share of
    ``STATS_BLOCK``×``STATS_BLOCK`` blocks whose mean falls in each of
    ``STATS_BINS`` equal bins over 0..255. None of these depends on where a
    block is, so block permutation alone cannot change them.
    """
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError("images must be uint8 with shape (N, H, W)")
    n, h, w = images.shape
    x = images.astype(np.float64)
    hb, wb = h // STATS_BLOCK * STATS_BLOCK, w // STATS_BLOCK * STATS_BLOCK
    bm = x[:, :hb, :wb].reshape(n, hb // STATS_BLOCK, STATS_BLOCK, wb // STATS_BLOCK, STATS_BLOCK).mean(axis=(2, 4))
    bm = bm.reshape(n, -1)
    bins = np.minimum((bm * STATS_BINS / 256.0).astype(int), STATS_BINS - 1)
    hist = np.stack([(bins == k).mean(axis=1) for k in range(STATS_BINS)], axis=1)
    return np.column_stack([x.mean(axis=(1, 2)) / 255.0, x.std(axis=(1, 2)) / 255.0, hist])


def spectrum_features(images: np.ndarray) -> np.ndarray:
    """Per-image block-spectrum statistics, shape ``(N, 128)``, float64.

    The image (``(N, H, W)`` uint8), cut to whole 8×8 blocks from its top
    left, level-shifted by 128 and transformed with the orthonormal 8×8 DCT
    (JPEG's). Columns ``0..63``: ``log1p`` of the mean squared coefficient of
    each frequency (row-major ``u * 8 + v``) over all blocks; ``64..127``:
    ``log1p`` of the mean magnitude. Neither depends on which block holds a
    coefficient or on its sign.
    """
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError("images must be uint8 with shape (N, H, W)")
    from scipy.fft import dctn

    n, h, w = images.shape
    hb, wb = h // 8, w // 8
    if hb == 0 or wb == 0:
        raise ValueError(f"images must be at least 8×8 pixels, got {h}×{w}")
    out = np.empty((n, 128))
    for i in range(0, n, 256):  # bounded memory: 256 images of 128×128 are 32 MB of float64
        x = images[i : i + 256, : hb * 8, : wb * 8].astype(np.float64) - 128.0
        blocks = x.reshape(len(x), hb, 8, wb, 8).transpose(0, 1, 3, 2, 4)
        coef = dctn(blocks, axes=(-2, -1), norm="ortho").reshape(len(x), hb * wb, 64)
        out[i : i + len(x), :64] = np.log1p((coef**2).mean(axis=1))
        out[i : i + len(x), 64:] = np.log1p(np.abs(coef).mean(axis=1))
    return out


def train_stats(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    seed: int = 0,
    threads: int = 1,
) -> dict[str, AttackResult]:
    """Score logistic regression (``"stats-lr"``) and an MLP (``"stats-mlp"``) on
    :func:`global_stats_features`, and gradient-boosted trees (``"spectrum-gbt"``)
    on :func:`spectrum_features`."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from threadpoolctl import threadpool_limits

    stats = global_stats_features(x_train), global_stats_features(x_test)
    spectrum = spectrum_features(x_train), spectrum_features(x_test)
    models = {
        "stats-lr": (LogisticRegression(max_iter=2000), stats),
        "stats-mlp": (MLPClassifier(hidden_layer_sizes=(64, 64), early_stopping=True, max_iter=500, random_state=seed), stats),
        "spectrum-gbt": (HistGradientBoostingClassifier(max_iter=200, early_stopping=False, random_state=seed), spectrum),
    }
    out = {}
    for name, (model, (ftr, fte)) in models.items():
        t0, c0 = time.perf_counter(), time.process_time()
        # One BLAS thread: these models are small, and idle BLAS threads spinning
        # next to the CNN workers cost more than they help.
        with threadpool_limits(limits=threads):
            pipe = make_pipeline(StandardScaler(), model).fit(ftr, y_train)
            scores = pipe.predict_proba(fte)
        # predict_proba columns follow pipe.classes_; map labels to column indices.
        col = {c: i for i, c in enumerate(pipe.classes_)}
        lab = np.array([col.get(v, -1) for v in y_test])
        out[name] = AttackResult(
            top1=topk_accuracy(scores, lab, 1), top5=topk_accuracy(scores, lab, 5),
            seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0,
        )
    return out
