"""Obfuscations the audit attacks: baselines from the literature and picveil's modes.

Contract shared by every obfuscation function
---------------------------------------------
``fn(image, rng, **params) -> numpy.ndarray``

* ``image``: ``uint8``, shape ``(H, W)``, grayscale, 0 = black. Anything else
  raises ``ValueError``. Some functions need ``H`` and ``W`` to be multiples
  of a block size; they say so and raise ``ValueError`` otherwise.
* ``rng``: a :class:`numpy.random.Generator`. Keyed obfuscations draw the
  image's *fresh, per-image* key from it, so the same generator state gives
  the same output and different generators give different keys. Unkeyed ones
  ignore it. (The audit models keys as random draws; it does not evaluate a
  key-derivation function. picveil's own modes, reached through
  :func:`picveil_mode`, draw their keys from the operating system instead.)
* returns a new ``uint8`` array of shape ``(H, W)``; the input is not changed.

JPEG-domain obfuscations (P3, Van Droogenbroeck) encode with the IJG
quality-75 luminance table through :mod:`picveil.audit._jpeg`, change the
quantised coefficients, and return the decoded image, which is what a viewer
(and seed 004's attacker) sees.

:data:`REGISTRY` maps a name to an :class:`Obfuscation`; :func:`get` also
resolves ``picveil:<mode>`` names to picveil's public API.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import _jpeg

__all__ = [
    "Obfuscation",
    "REGISTRY",
    "DIAGNOSTICS",
    "DEFAULT_SET",
    "JPEG_QUALITY",
    "get",
    "available",
    "identity",
    "mosaic",
    "gaussian_blur",
    "p3_public",
    "van_droogenbroeck",
    "etc_scramble",
    "picveil_mode",
    "picveil_options",
    "picveil_available",
    "picveil_schemes",
]

#: JPEG quality of every JPEG-domain baseline (P3's and seed 004's setting).
JPEG_QUALITY = 75
#: Gaussian kernels are cut at this many standard deviations.
BLUR_TRUNCATE = 4.0


def _check(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError("image must be a uint8 numpy array of shape (H, W)")


def identity(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """No obfuscation (the attacker's upper bound). Returns a copy."""
    _check(image)
    return image.copy()


def mosaic(image: np.ndarray, rng: np.random.Generator, *, cell: int) -> np.ndarray:
    """Pixelate: every ``cell``×``cell`` window becomes its mean, rounded.

    Windows are aligned to the top-left corner; partial windows at the right
    and bottom edges take the mean of the pixels they cover (seed 004's
    "simple Python script with NumPy"). Unkeyed.
    """
    _check(image)
    if cell < 1:
        raise ValueError("cell must be >= 1")
    h, w = image.shape
    ph, pw = -h % cell, -w % cell
    x = np.pad(image.astype(np.float64), ((0, ph), (0, pw)))
    ones = np.pad(np.ones((h, w)), ((0, ph), (0, pw)))
    by, bx = x.shape[0] // cell, x.shape[1] // cell
    sums = x.reshape(by, cell, bx, cell).sum(axis=(1, 3))
    counts = ones.reshape(by, cell, bx, cell).sum(axis=(1, 3))
    means = np.rint(sums / counts)
    out = np.repeat(np.repeat(means, cell, axis=0), cell, axis=1)[:h, :w]
    return out.astype(np.uint8)


def gaussian_blur(image: np.ndarray, rng: np.random.Generator, *, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels, edges replicated.

    The kernel is truncated at ``BLUR_TRUNCATE`` sigmas; the result is rounded.
    Unkeyed.
    """
    _check(image)
    if sigma <= 0:
        raise ValueError("sigma must be > 0")
    from scipy.ndimage import gaussian_filter

    out = gaussian_filter(image.astype(np.float64), sigma=sigma, mode="nearest", truncate=BLUR_TRUNCATE)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


P3_VARIANTS = ("clip", "nosign", "dc-zero")


def p3_public(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    threshold: int,
    variant: str = "clip",
    quality: int = JPEG_QUALITY,
    backend: str = "model",
) -> np.ndarray:
    """The public part of P3 (Ra, Govindan, Ortega, NSDI 2013) at ``threshold``.

    The image is JPEG-quantised at ``quality``; then, in every block,

    ``variant="clip"`` (default; what issue 3 and seed 004 describe)
        every quantised coefficient, DC included, is clipped to
        ``[-threshold, threshold]``: a coefficient whose magnitude exceeds the
        threshold is replaced by the threshold with its sign kept.
    ``variant="nosign"`` (diagnostic)
        as ``clip`` but a replaced coefficient becomes ``+threshold``, so the
        sign of every large coefficient is lost.
    ``variant="dc-zero"`` (diagnostic)
        as ``clip`` for AC; every DC becomes 0 (mid-grey), as if the DC were
        removed from the public part entirely.

    ``backend="model"`` (default) uses the numpy JPEG model of
    :mod:`picveil.audit._jpeg`; ``backend="libjpeg"`` encodes with Pillow
    (libjpeg), edits the coefficients of the real file with
    :func:`picveil.jpeg.codec.read_coefficients`, and decodes with Pillow,
    as seed 004 did with a modified IJG libjpeg. The two agree to within
    rounding (see the tests); the model is the default because it does not
    depend on picveil's compiled extension.

    The decoded image is returned. The secret part is not modelled: an
    attacker never has it. Unkeyed (the public part has no key).
    """
    _check(image)
    if threshold < 1:
        raise ValueError("threshold must be >= 1")
    if variant not in P3_VARIANTS:
        raise ValueError(f"variant must be one of {P3_VARIANTS}")
    if backend == "libjpeg":
        return _p3_public_libjpeg(image, threshold, variant, quality)
    if backend != "model":
        raise ValueError("backend must be 'model' or 'libjpeg'")
    coef = p3_public_coefficients(_jpeg.forward(image, quality), threshold, variant)
    return _jpeg.inverse(coef, image.shape, quality)


def _encode_gray(image: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, mode="L").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _decode_gray(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8).copy()


#: Grey levels an unclipped decode (:func:`_decode_gray_unclipped`) maps onto 0..255:
#: ``(x - UNCLIPPED_LOW) / UNCLIPPED_SPAN * 255``.
UNCLIPPED_LOW, UNCLIPPED_SPAN = -256.0, 768.0


def _decode_gray_unclipped(data: bytes) -> np.ndarray:
    """What an attacker who reads the file's coefficients sees: the luma the
    coefficients describe, *not* clipped to 0..255 as a viewer does, mapped
    linearly from ``-256 .. 512`` onto ``uint8`` (a third of the grey
    resolution, none of the clipping)."""
    from picveil.jpeg.codec import read_coefficients
    from picveil.jpeg.pixels import blocks_to_plane, idct

    jc = read_coefficients(data)
    coef = jc.array(0).astype(np.float64) * jc.quant_table(0).astype(np.float64)
    plane = blocks_to_plane(idct(coef))[: jc.height, : jc.width]
    return np.clip(np.rint((plane - UNCLIPPED_LOW) * 255.0 / UNCLIPPED_SPAN), 0, 255).astype(np.uint8)


def _p3_public_libjpeg(image: np.ndarray, threshold: int, variant: str, quality: int) -> np.ndarray:
    from picveil.jpeg.codec import read_coefficients

    jc = read_coefficients(_encode_gray(image, quality))
    coef = jc.array(0)
    jc.set_blocks(0, 0, 0, p3_public_coefficients(coef, threshold, variant).astype(np.int16))
    return _decode_gray(jc.encode())


def p3_public_coefficients(coef: np.ndarray, threshold: int, variant: str = "clip") -> np.ndarray:
    """The coefficient step of :func:`p3_public` on quantised ``(by, bx, 8, 8)`` blocks."""
    if variant == "nosign":
        return np.where(np.abs(coef) > threshold, threshold, coef).astype(coef.dtype)
    out = np.clip(coef, -threshold, threshold)
    if variant == "dc-zero":
        out[..., 0, 0] = 0
    return out


def _vd_encrypt_coefficients(coef: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """XOR the appended bits of every non-zero AC coefficient with key bits (see below)."""
    dc = coef[..., 0, 0].copy()
    mag = np.abs(coef).astype(np.int64)
    cat = np.zeros_like(mag)
    nz = mag > 0
    cat[nz] = np.floor(np.log2(mag[nz])).astype(np.int64) + 1
    # JPEG appended bits of a size-s value v: v if v >= 0 else v + 2**s - 1 (one's complement).
    bits = np.where(coef >= 0, coef, coef + (1 << cat) - 1).astype(np.int64)
    key = rng.integers(0, 1 << 16, size=coef.shape, dtype=np.int64) & ((1 << cat) - 1)
    newbits = bits ^ key
    positive = (newbits >> np.maximum(cat - 1, 0)) == 1  # leading appended bit 1 means v > 0
    new = np.where(positive, newbits, newbits - (1 << cat) + 1)
    out = np.where(nz, new, 0).astype(np.int32)
    out[..., 0, 0] = dc
    return out


def van_droogenbroeck(image: np.ndarray, rng: np.random.Generator, *, quality: int = JPEG_QUALITY) -> np.ndarray:
    """Selective JPEG encryption after Van Droogenbroeck & Benedett (ACIVS 2002).

    DC coefficients are kept. For each non-zero AC coefficient of magnitude
    ``m`` in JPEG size category ``s`` (``2**(s-1) <= m < 2**s``), the ``s``
    appended bits that JPEG writes after the Huffman code (sign and value) are
    XORed with key bits. The result is a value of the same category with a
    key-random sign and magnitude, so zero runs and Huffman codes, and thus
    the file size, are unchanged. Keyed: the key bits come from ``rng``.
    """
    _check(image)
    coef = _vd_encrypt_coefficients(_jpeg.forward(image, quality), rng)
    return _jpeg.inverse(coef, image.shape, quality)


def etc_scramble(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    block: int = 16,
    rotate: bool = True,
    negpos: bool = True,
) -> np.ndarray:
    """Encryption-then-Compression block scrambling (Kurihara, Kikuchi, Imaizumi,
    Shiota, Kiya, IEICE Trans. Inf. & Syst. 2015), grayscale.

    The image is cut into ``block``×``block`` blocks, and with key-random
    choices from ``rng``:

    1. block positions are permuted;
    2. each block is rotated by 0/90/180/270 degrees and optionally flipped
       horizontally (the "rotation and inversion" step), if ``rotate``;
    3. each block is negative-positive transformed (``p -> 255 - p``) with
       probability 1/2, if ``negpos``.

    (Colour-component shuffling does not apply to grayscale.) ``H`` and ``W``
    must be multiples of ``block``.
    """
    _check(image)
    h, w = image.shape
    if block < 1 or h % block or w % block:
        raise ValueError(f"image size {h}x{w} must be a multiple of block={block}")
    by, bx = h // block, w // block
    blocks = image.reshape(by, block, bx, block).transpose(0, 2, 1, 3).reshape(by * bx, block, block)
    blocks = blocks[rng.permutation(by * bx)]
    if rotate:
        rots = rng.integers(0, 4, size=by * bx)
        flips = rng.integers(0, 2, size=by * bx)
        out = np.empty_like(blocks)
        for i in range(by * bx):
            b = np.rot90(blocks[i], k=int(rots[i]))
            out[i] = b[:, ::-1] if flips[i] else b
        blocks = out
    if negpos:
        neg = rng.integers(0, 2, size=by * bx).astype(bool)
        blocks = blocks.copy()
        blocks[neg] = 255 - blocks[neg]
    return blocks.reshape(by, bx, block, block).transpose(0, 2, 1, 3).reshape(h, w).copy()


# --- picveil's own modes ----------------------------------------------------
# Calls picveil's public API only:
#   picveil.protect(jpeg_bytes, regions=[(x, y, w, h)], recipients=["age1..."], scheme=name) -> bytes
# The whole image is one region; every image gets a fresh age X25519 identity,
# so each is protected under its own key, and the attacker never has it.

def picveil_available() -> bool:
    """True when ``picveil.protect`` can be imported."""
    try:
        from picveil import protect  # noqa: F401
    except Exception:  # ImportError, or a half-built package failing at import
        return False
    return True


def picveil_schemes() -> list[str]:
    """Names of picveil's protection schemes ("default" first), or ``[]`` without picveil."""
    if not picveil_available():
        return []
    try:
        from picveil.schemes import scheme_names
    except Exception:
        return ["default"]
    try:
        from picveil.looks import LOOK_IDS
    except Exception:
        looks = []
    else:
        looks = [f"look-{name}" for name in LOOK_IDS if name != "scramble"]
    return ["default", "default-circle"] + list(scheme_names()) + looks


_KEEP_ALIVE: list = []


@functools.cache
def _circle_keyring():
    """A throwaway keyring (temporary folder, removed at exit) holding one circle, ``"audit"``."""
    import tempfile
    from pathlib import Path

    from picveil.crypto import Keyring

    tmp = tempfile.TemporaryDirectory(prefix="picveil-audit-")
    _KEEP_ALIVE.append(tmp)
    keyring = Keyring.open(Path(tmp.name) / "keyring", create=True)
    keyring.create_circle("audit")
    return keyring


def picveil_options(mode: str) -> dict:
    """Keyword arguments of :func:`picveil.protect` for an audit mode, who opens it included.

    ``default``: picveil's defaults for a protect to an age recipient (a fresh
    identity each call); ``default-circle``: its defaults for a protect to a
    circle (the case with the robust in-image header, which changes the
    default look); ``look-<name>``: a painted look; anything else names a
    scheme. Every call protects under a fresh key (circle images get their
    own key by HKDF from a fresh salt).
    """
    import pyrage

    if mode == "default-circle":
        return {"circle": "audit", "keyring": _circle_keyring()}
    opts: dict = {"recipients": [str(pyrage.x25519.Identity.generate().to_public())]}
    if mode.startswith("look-"):
        opts["look"] = mode[len("look-"):]
    elif mode != "default":
        opts["scheme"] = mode
    return opts


def picveil_mode(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    mode: str = "default",
    quality: int = JPEG_QUALITY,
    coefficients: bool = False,
) -> np.ndarray:
    """Protect the whole image with picveil's public API and decode the result.

    The image is encoded as a grayscale JPEG at ``quality`` (Pillow), passed
    to ``picveil.protect`` with one region covering it and a fresh
    ``pyrage.x25519.Identity`` as the only recipient, and the protected JPEG
    is decoded back to grayscale ``uint8`` (with ``coefficients``: as an
    attacker reading the file's coefficients sees it, unclipped, see
    :func:`_decode_gray_unclipped`). ``mode`` names a picveil scheme
    (``scheme=``) or a painted look as ``look-<name>`` (``look=``);
    ``"default"`` and ``"default-circle"`` leave picveil's defaults (see
    :func:`picveil_options`). Keys come from
    picveil (the OS CSPRNG), not from ``rng``, so the output is *not*
    reproducible from ``rng``; the audit caches it instead.
    """
    _check(image)
    from picveil import protect

    h, w = image.shape
    protected = protect(_encode_gray(image, quality), regions=[(0, 0, w, h)], **picveil_options(mode))
    out = _decode_gray_unclipped(protected) if coefficients else _decode_gray(protected)
    if out.shape != (h, w):
        raise ValueError(f"picveil returned a {out.shape} image for a {(h, w)} input")
    return out


def _whole_image_coefficients(image: np.ndarray, scheme: str):
    """The whole ``image`` protected with ``scheme`` as :func:`picveil_mode` does,
    returned as ``(coefficients object, int32 luma blocks)`` for a diagnostic to edit."""
    from picveil import protect
    from picveil.jpeg.codec import read_coefficients

    _check(image)
    h, w = image.shape
    jc = read_coefficients(protect(_encode_gray(image, JPEG_QUALITY), regions=[(0, 0, w, h)], **picveil_options(scheme)))
    return jc, jc.array(0).astype(np.int32)


def scramble_v3_dc70(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Diagnostic: a scramble-v3 file, then the public map of scramble-v4's step 0
    (every DC to ``round(0.7·DC)``) applied by the *attacker* to the file's
    coefficients, then a viewer's decode. Its output has scramble-v4's
    distribution (block means within one step), so an attack that scores
    higher here than on ``picveil:scramble-v3`` shows what scramble-v3 leaks
    to an attacker who preprocesses, and that scramble-v4 does not add to it."""
    from picveil.schemes.scramble_v4 import compress_dc

    jc, coef = _whole_image_coefficients(image, "scramble-v3")
    coef[..., 0, 0] = compress_dc(coef[..., 0, 0])
    jc.set_blocks(0, 0, 0, coef.astype(np.int16))
    return _decode_gray(jc.encode())


def scramble_v4_random_dc(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Diagnostic: a scramble-v4 file whose every block mean is then replaced by an
    independent uniform draw (from ``rng``) over the whole range scramble-v4's
    block means can take, then a viewer's decode.

    This is the best any hiding of the block means can do (issue 3's "keyed
    normalisation of block means" or "wrapped DC encryption": a perfect one
    makes every block mean uniform and independent of the picture). The AC
    coefficients, what a robust scramble must keep, are the file's. If an
    attack scores as high here as on ``picveil:scramble-v4``, the block means
    are not what it reads, and hiding them would buy nothing."""
    from picveil.schemes.scramble_v4 import compress_dc

    jc, coef = _whole_image_coefficients(image, "scramble-v4")
    q = int(jc.quant_table(0)[0, 0])
    lo, hi = (int(compress_dc(np.array(v))) for v in (-(1024 // q), 1016 // q))
    coef[..., 0, 0] = rng.integers(lo, hi + 1, size=coef.shape[:2])
    jc.set_blocks(0, 0, 0, coef.astype(np.int16))
    return _decode_gray(jc.encode())


def scramble_v4_frequency_shuffle(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Diagnostic: a scramble-v4 file whose coefficients are then shuffled *per
    frequency* across the picture's blocks (each of the 64 positions its own
    permutation, from ``rng``; AC signs drawn afresh), then a viewer's decode.

    What a scramble that moved coefficients between blocks, but never between
    frequencies, would show: each block's texture then comes from 64
    different blocks, and only the picture's per-frequency histograms remain.
    Such a scramble keeps every value at its own frequency, so a re-encode
    quantizes it as it would the original (the property the robust reveal
    needs). If an attack scores much lower here than on ``picveil:scramble-v4``,
    a scheme built that way would leak less."""
    jc, coef = _whole_image_coefficients(image, "scramble-v4")
    flat = coef.reshape(-1, 64)
    for k in range(64):
        flat[:, k] = flat[rng.permutation(len(flat)), k]
        if k:
            flat[:, k] *= rng.choice(np.array([-1, 1], dtype=np.int32), size=len(flat))
    jc.set_blocks(0, 0, 0, flat.reshape(coef.shape).astype(np.int16))
    return _decode_gray(jc.encode())


#: Diagnostics built on picveil's API (keyed by picveil's CSPRNG, like the modes):
#: offered by :func:`get` and :func:`available` when picveil is importable, not in REGISTRY.
DIAGNOSTICS: dict[str, tuple[Callable[[np.ndarray, np.random.Generator], np.ndarray], str]] = {
    "picveil:scramble-v3-dc70": (scramble_v3_dc70, "diagnostic: scramble-v3 file, then DC x 0.7 by the attacker "
                                 "(scramble-v4's public step 0), viewer decode"),
    "picveil:scramble-v4-random-dc": (scramble_v4_random_dc, "diagnostic: scramble-v4 file, every block mean then "
                                      "replaced by a uniform random one (perfectly hidden block means), viewer decode"),
    "picveil:scramble-v4-frequency-shuffle": (scramble_v4_frequency_shuffle, "diagnostic: scramble-v4 file, then each "
                                              "frequency shuffled across blocks on its own (a scramble between blocks, "
                                              "never between frequencies), viewer decode"),
}


# --- registry ----------------------------------------------------------------

@dataclass(frozen=True)
class Obfuscation:
    """One named obfuscation with fixed settings.

    Attributes
    ----------
    name : str
    fn : callable ``(image, rng) -> image``
    family : str
        Grouping used in the report ("mosaic", "blur", "p3", ...).
    grid : int
        Shifting the input by a multiple of ``grid`` pixels commutes with the
        obfuscation (up to edges); the attacker's shift augmentation uses only
        such shifts, so augmentation never breaks block alignment.
    keyed : bool
        Whether each image gets a fresh random key.
    summary : str
        One line for the report.
    """

    name: str
    fn: Callable[[np.ndarray, np.random.Generator], np.ndarray]
    family: str
    grid: int
    keyed: bool
    summary: str
    params: dict = field(default_factory=dict)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.fn(image, rng)


def _entry(name, fn, family, grid, keyed, summary, **params) -> Obfuscation:
    return Obfuscation(name, functools.partial(fn, **params) if params else fn, family, grid, keyed, summary, params)


#: Blur strengths, standard deviation in pixels of the image being blurred.
BLUR_SIGMAS = (2, 4, 8)
MOSAIC_CELLS = (2, 4, 8, 16)
P3_THRESHOLDS = (20, 10, 1)

REGISTRY: dict[str, Obfuscation] = {}
REGISTRY["none"] = _entry("none", identity, "none", 1, False, "original images")
for _c in MOSAIC_CELLS:
    REGISTRY[f"mosaic{_c}"] = _entry(f"mosaic{_c}", mosaic, "mosaic", _c, False, f"mosaic, {_c}x{_c}-pixel cells", cell=_c)
for _s in BLUR_SIGMAS:
    REGISTRY[f"blur{_s}"] = _entry(f"blur{_s}", gaussian_blur, "blur", 1, False, f"Gaussian blur, sigma {_s} px", sigma=float(_s))
for _t in P3_THRESHOLDS:
    REGISTRY[f"p3-{_t}"] = _entry(
        f"p3-{_t}", p3_public, "p3", 8, False,
        f"P3 public part, T={_t} (all coefficients clipped to +-T, q{JPEG_QUALITY})", threshold=_t,
    )
    REGISTRY[f"p3nosign-{_t}"] = _entry(
        f"p3nosign-{_t}", p3_public, "p3-diagnostic", 8, False,
        f"P3 diagnostic, T={_t}: large coefficients become +T (sign lost)", threshold=_t, variant="nosign",
    )
    REGISTRY[f"p3dc0-{_t}"] = _entry(
        f"p3dc0-{_t}", p3_public, "p3-diagnostic", 8, False,
        f"P3 diagnostic, T={_t}: AC clipped to +-T, every DC set to 0", threshold=_t, variant="dc-zero",
    )
    REGISTRY[f"p3lib-{_t}"] = _entry(
        f"p3lib-{_t}", p3_public, "p3-diagnostic", 8, False,
        f"P3 diagnostic, T={_t}: as p3-{_t} but on real libjpeg files (Pillow + picveil's codec)",
        threshold=_t, backend="libjpeg",
    )
REGISTRY["vd"] = _entry("vd", van_droogenbroeck, "vd", 8, True, f"Van Droogenbroeck: DC kept, AC appended bits XOR key (q{JPEG_QUALITY})")
for _b in (8, 16):
    REGISTRY[f"etc{_b}"] = _entry(
        f"etc{_b}", etc_scramble, "etc", _b, True,
        f"EtC: {_b}x{_b} block permutation + rotation/flip + negative-positive", block=_b,
    )

#: What ``run_audit`` compares when no list is given (picveil modes are added when importable).
DEFAULT_SET = (
    "none", "mosaic2", "mosaic4", "mosaic8", "mosaic16", "blur2", "blur4", "blur8",
    "p3-20", "p3-10", "p3-1", "vd", "etc8", "etc16",
)


def get(name: str) -> Obfuscation:
    """Look up an obfuscation; ``picveil:<mode>`` builds the picveil adapter, and
    ``picveil-coef:<mode>`` the same seen through the file's coefficients (unclipped)."""
    if name in DIAGNOSTICS:
        fn, summary = DIAGNOSTICS[name]
        return _entry(name, fn, "picveil-diagnostic", 8, True, summary)
    if name.startswith("picveil-coef:"):
        mode = name.split(":", 1)[1] or "default"
        return _entry(name, picveil_mode, "picveil", 8, True,
                      f"picveil.protect, scheme {mode!r}, whole image, read from the file's coefficients (no viewer clipping)",
                      mode=mode, coefficients=True)
    if name.startswith("picveil:"):
        mode = name.split(":", 1)[1] or "default"
        return _entry(name, picveil_mode, "picveil", 8, True, f"picveil.protect, scheme {mode!r}, whole image", mode=mode)
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown obfuscation {name!r}; choose from {available()}") from None


def available() -> list[str]:
    """Registered names, plus ``picveil:<scheme>`` for each scheme of an importable picveil
    and ``picveil-coef:<scheme>`` (the same, read from the file's coefficients)."""
    modes = picveil_schemes()
    diagnostics = list(DIAGNOSTICS) if modes else []
    return list(REGISTRY) + [f"picveil:{m}" for m in modes] + [f"picveil-coef:{m}" for m in modes] + diagnostics
