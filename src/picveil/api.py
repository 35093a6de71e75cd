"""The public recipes: protect, reveal and inspect, on bytes and on paths.

These functions compose the lower layers (``jpeg`` for coefficients and
markers, ``regions`` for the MCU plan, ``schemes`` for the transform,
``crypto`` for keys and tags, ``container`` for the bytes) and add the
user-facing guarantees: typed errors, no input ever modified, outputs
written atomically.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Union

import numpy as np

from .errors import (
    CircleNotFoundError,
    ContentModifiedError,
    RegionError,
    InputError,
    NoPicveilDataError,
    NotRecipientError,
    OutputError,
    TamperedError,
    UnsupportedImageError,
)
from .regions.region import Box, McuRect, Region, as_region, plan_regions

PathLike = Union[str, os.PathLike]
Source = Union[bytes, bytearray, memoryview, PathLike]

DEFAULT_MAX_PIXELS = 200_000_000
DEFAULT_QUALITY = 95
LOOK_SCRAMBLE = 0
_HEADER_LABEL = b"picveil v1 header\x00"
_REGION_LABEL = b"picveil v1 region\x00"


# --- results ------------------------------------------------------------------------
@dataclass(frozen=True)
class RegionInfo:
    """One protected rectangle, as stored in the container."""

    index: int
    box: Box  #: in pixels, snapped to the MCU grid and clipped to the image
    group: int
    look: str
    recipients: int  #: number of X25519 recipients of its group
    passphrase: bool  #: whether its group can be opened with a passphrase
    circle: str | None = None  #: hex id of the circle that opens it, if any


@dataclass(frozen=True)
class Inspection:
    """What a protected image carries, readable without a key."""

    format_version: int
    scheme: str
    scheme_id: int
    width: int
    height: int
    mcu: tuple[int, int]
    subsampling: str
    regions: tuple[RegionInfo, ...]
    groups: int
    extra_boxes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    #: where it was read: ``"container"`` (the picveil data), or ``"in-image header"``
    #: (its pixels, when the data was stripped: a downloaded copy)
    source: str = "container"
    #: for an in-image header: the received picture, in words ("1080×935, shrunk to 42% of 2564×2220")
    received: str = ""
    #: for an in-image header: where the protected picture (``width`` × ``height``) sits in the
    #: received one, ``(x, y, w, h)`` in its pixels (shrunk, or inside a border); None when turned
    placement: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class ProtectReport:
    output: Path | None
    source_format: str
    regions: tuple[RegionInfo, ...]
    input_bytes: int
    output_bytes: int
    warnings: tuple[str, ...] = ()  #: e.g. why no robust in-image header was written
    fitted: str = ""  #: with ``platform=``: what the fit did, e.g. "Instagram: 548×1100 → 864×1080 (padded to 880×1100)"
    advice: tuple[str, ...] = ()  #: nothing is wrong with the output, but the user may want to know (e.g. --platform)


@dataclass(frozen=True)
class RevealReport:
    output: Path | None
    revealed: tuple[int, ...]  #: region indices restored
    locked: tuple[int, ...]  #: region indices the given keys could not open
    jpeg: bytes = field(repr=False, default=b"")
    warnings: tuple[str, ...] = ()  #: e.g. a reveal from pixels that is not exact


# --- helpers ---------------------------------------------------------------------------
def _read_source(src: Source) -> tuple[bytes, Path | None]:
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src), None
    if not isinstance(src, (str, os.PathLike)):
        raise InputError(
            f"An image is given as a path or as the file's bytes, not as {type(src).__name__}.",
            hint="Pass the file name, or open(name, 'rb').read(); encode an array or a PIL image to PNG or JPEG bytes first.",
        )
    path = Path(src)
    try:
        return path.read_bytes(), path
    except FileNotFoundError:
        raise InputError(f"No such file: {path}", hint="Check the path.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not an image.", hint="Give an image file.") from None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}", hint="Check the file's permissions.") from None


def _check_output(out: PathLike, src_path: Path | None, overwrite: bool) -> Path:
    out = Path(out)
    if src_path is not None:
        same = out.resolve() == src_path.resolve()
        if not same and out.exists():
            try:
                same = os.path.samefile(out, src_path)
            except OSError:
                same = False
        if same:
            raise OutputError(f"The output {out} is the input file; picveil never overwrites its input.")
    if out.is_dir():
        raise OutputError(f"{out} is a folder.", hint="Give a file name for -o.")
    if out.exists() and not out.is_file():  # a device, FIFO or socket: --force must not replace it
        raise OutputError(f"{out} is not a regular file.", hint="Choose another -o path.")
    if out.exists() and not overwrite:
        raise OutputError(f"{out} already exists.", hint="Choose another -o path, or pass --force to replace it.")
    return out


#: File name extensions of image formats (lower case) -> the format picveil calls them.
IMAGE_EXTENSIONS = {
    ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".jfif": "jpeg", ".png": "png", ".webp": "webp",
    ".gif": "gif", ".bmp": "bmp", ".tif": "tiff", ".tiff": "tiff", ".heic": "heic", ".heif": "heic", ".avif": "avif",
}


def format_for_output(out: PathLike, writes: Sequence[str], what: str) -> str:
    """The format of `writes` (picveil's names, the first the default) that the
    output name `out` asks for: the one its extension names, or the default
    when the extension names no image format (none, ``.out``...).

    Raises
    ------
    OutputError
        The extension names an image format that `what` (e.g. "protect")
        does not write: the file would hold bytes its name belies.
    """
    fmt = IMAGE_EXTENSIONS.get(Path(out).suffix.lower())
    if fmt is None:
        return writes[0]
    if fmt not in writes:
        names = " or ".join(f.upper() for f in writes)
        exts = " or ".join(f".{'jpg' if f == 'jpeg' else f}" for f in writes)
        raise OutputError(
            f"{what} writes {names}, but {Path(out).name} names a {fmt.upper()} file.",
            hint=f"Name the output {exts}.",
        )
    return fmt


def _umask() -> int:
    """The process's umask, read without changing it (a umask(0) round trip would
    open a window for other threads' files)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    m = os.umask(0o022)
    os.umask(m)
    return m


def write_atomic(path: PathLike, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename).

    Readers see either the old file or the complete new one, never a part.
    ``mode`` defaults to what ``open()`` would give (0666 less the umask); key
    files pass 0600. A full disk or another write failure is :class:`OutputError`.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"The folder {parent} does not exist.", hint="Create it first or choose another -o path.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    except OSError as exc:
        raise OutputError(f"Cannot write in {parent}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"Cannot write {path}: {exc.strerror or exc}.", hint="Free some space, or choose another -o path.") from None
        raise


def _component_rects(coeffs, rect: McuRect) -> list[tuple[int, int, int, int]]:
    """Per component ``(by0, by1, bx0, bx1)`` block ranges of an MCU rectangle."""
    out = []
    for c in coeffs.components:
        bx0, by0 = rect.x * c.h_samp, rect.y * c.v_samp
        bx1 = min((rect.x + rect.w) * c.h_samp, c.width_in_blocks)
        by1 = min((rect.y + rect.h) * c.v_samp, c.height_in_blocks)
        out.append((by0, by1, bx0, bx1))
    return out


def _region_bytes(blocks: list[np.ndarray]) -> list[memoryview]:
    """Canonical serialisation for region tags: int16 little-endian, natural order
    (one buffer per component, to be fed to the MAC in order; no copy on
    little-endian machines)."""
    return [memoryview(np.ascontiguousarray(b, dtype="<i2")).cast("B") for b in blocks]


def _face_gallery(keyring):
    """The face gallery of ``keyring`` (object, folder or ``None`` for the default), or ``None`` if there is no keyring."""
    from . import crypto
    from .regions.identify import Gallery

    if not isinstance(keyring, crypto.Keyring):
        home = Path(keyring) if keyring is not None else crypto.default_home()
        if not (home / crypto.keyring.KEYRING_FILE).exists():
            return None
        keyring = crypto.Keyring.open(home)
    return Gallery.from_keyring(keyring)


def _auto_regions(
    jpeg, width, height, classes, level, min_score, exclude, regions_file, *, only=None, except_people=None, keyring=None,
    notes: list[str] | None = None, left_visible: list[str] | None = None,
) -> list[Region]:
    """Regions from detection and/or a regions.json, after --exclude, --only/--except and --level.
    What the user should know about the choice is appended to ``notes``; what
    it left visible that was detected, to ``left_visible`` too."""

    def tell(note: str, visible: bool = False) -> None:
        for out in (notes, left_visible if visible else None):
            if out is not None:
                out.append(note)

    from .regions import priority as pr
    from .regions import regionsfile as rf

    if isinstance(classes, str):
        classes = [c.strip() for c in classes.split(",") if c.strip()]
    gallery = None
    if only is not None or except_people is not None:
        from .regions.detectors import canonical_class
        from .regions.identify import check_selection

        if only is not None and except_people is not None:
            check_selection(None, only, except_people)  # raises: they exclude each other
        if regions_file is None and "face" not in {canonical_class(c) for c in classes or ()}:
            raise InputError(
                "--only/--except choose among detected faces, but face detection is off.",
                hint="Add --detect faces (or pass a --regions file with faces).",
            )
        gallery = _face_gallery(keyring)
        check_selection(gallery, only, except_people)
    if regions_file is not None:
        doc = rf.read(regions_file)
        doc.check_image(width, height)
    else:
        from .regions.detectors import detect as run_detect

        dets = run_detect(jpeg, tuple(classes), min_score=min_score)
        doc = rf.from_detections(dets, width, height)
    entries = doc.enabled(exclude=exclude)
    if gallery is not None:
        from .regions.identify import MIN_MATCH_FACE, identify_boxes, select

        faces = [e for e in entries if e.cls == "face"]
        embeddings = identify_boxes(jpeg, [e.box for e in faces], min_face=MIN_MATCH_FACE)
        kept = select(faces, embeddings, gallery, only=only, except_=except_people)
        small = int(np.isnan(embeddings).any(axis=1).sum())
        if len(kept) < len(faces):
            tell(f"{len(faces) - len(kept)} of {len(faces)} detected face(s) left visible, as --only/--except chose.", True)
        if small:
            tell(
                f"{small} face(s) are less than {MIN_MATCH_FACE} px high, too small to tell who they are: "
                "they are protected whatever --only/--except say."
            )
        keep_ids = {id(e) for e in kept}
        entries = [e for e in entries if e.cls != "face" or id(e) in keep_ids]
    if level is not None:
        chosen = pr.select_by_level(pr.prioritise([e.detection() for e in entries], width, height), level, width, height)
        keep = {(d.box.x, d.box.y, d.box.w, d.box.h) for d in chosen}
        left = [e for e in entries if (e.box.x, e.box.y, e.box.w, e.box.h) not in keep]
        entries = [e for e in entries if (e.box.x, e.box.y, e.box.w, e.box.h) in keep]
        if left:
            from collections import Counter

            counts = ", ".join(f"{n} {c}" for c, n in sorted(Counter(e.cls for e in left).items()))
            tell(
                f"--level {level} protects {pr.level_budget(level):.0%} of the picture at most, in priority order: "
                f"it left {len(left)} detected region(s) visible ({counts}). A higher --level, or --detect with fewer "
                "classes, protects them.",
                True,
            )
    return [Region(e.box, label=e.cls) for e in entries]


def _displayed_to_stored(data: bytes, regions, mask, max_pixels: int):
    """`regions` and `mask` given over the photo as a viewer shows it (EXIF
    orientation applied), on the file's stored pixel grid."""
    from dataclasses import replace

    from .jpeg.loading import probe_image, sniff
    from .regions.spaces import box_to_stored, mask_to_stored

    if sniff(data) == "heic":  # decoded upright (pillow-heif applies the turn): the two spaces agree
        return list(regions), mask
    _, width, height, orientation = probe_image(data, max_pixels)
    if orientation == 1:
        return list(regions), mask
    out = [replace(r, box=box_to_stored(r.box, orientation, width, height)) for r in (as_region(x) for x in regions)]
    return out, (mask_to_stored(np.asarray(mask), orientation) if mask is not None else None)


def _map_region(region: Region, fitted) -> Region:
    """The same region on a resized image (``platforms.FitResult``)."""
    from dataclasses import replace

    b = region.box
    return replace(region, box=Box(*fitted.map_box((b.x, b.y, b.w, b.h))))


def _decode_pixels(jpeg: bytes) -> np.ndarray:
    """Decode to ``(H, W, C)`` uint8 (C = 1 for grayscale, else RGB), as stored (no EXIF rotation)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as im:
        im = im.convert("L" if im.mode == "L" else "RGB")
        arr = np.asarray(im)
    return arr[..., None] if arr.ndim == 2 else arr


def _blocks_from_bytes(raw: bytes, shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    """Inverse of :func:`_region_bytes` for the given per-component block shapes."""
    need = sum(h * w * 128 for h, w in shapes)
    if len(raw) != need:
        raise TamperedError("The picveil data in this image is damaged or was altered.")
    out, pos = [], 0
    for h, w in shapes:
        n = h * w * 128
        out.append(np.frombuffer(raw[pos : pos + n], dtype="<i2").astype(np.int16).reshape(h, w, 8, 8))
        pos += n
    return out


def _pack_original(coeffs, rect: McuRect, blocks: list[np.ndarray]) -> tuple[int, bytes]:
    """A painted region's original coefficients for the container: kind 3 (a
    small Huffman-coded JPEG) where the layout allows, else kind 2 (zlib of
    int16); container SPEC §4.3."""
    from .container.region_data import DATA_ORIGINAL, DATA_ORIGINAL_JPEG
    from .jpeg.blockpack import pack_blocks

    box = rect.pixels(coeffs.mcu_width, coeffs.mcu_height, coeffs.width, coeffs.height)
    sampling = [(c.h_samp, c.v_samp) for c in coeffs.components]
    packed = pack_blocks(blocks, sampling, box.w, box.h)
    if packed is not None:
        return DATA_ORIGINAL_JPEG, packed
    return DATA_ORIGINAL, zlib.compress(b"".join(bytes(m) for m in _region_bytes(blocks)), 6)


#: Side of the luma thumbnail in a ``pvrd`` kind-5 entry (container SPEC §4.3).
PICTURE_THUMB = 16


def _outside_digest(coeffs, rects) -> bytes:
    """SHA-256 of the picture's coefficients with every region's blocks zeroed (container SPEC §4.3, kind 5)."""
    import hashlib

    h = hashlib.sha256()
    for ci in range(len(coeffs.components)):
        arr = coeffs.array(ci)
        for rect in rects:
            by0, by1, bx0, bx1 = _component_rects(coeffs, rect)[ci]
            arr[by0:by1, bx0:bx1] = 0
        h.update(np.ascontiguousarray(arr, dtype="<i2").tobytes())
    return h.digest()


def _luma_thumbnail(luma: np.ndarray) -> np.ndarray:
    """A luma picture area-averaged to PICTURE_THUMB × PICTURE_THUMB, rounded to uint8."""
    from PIL import Image

    small = Image.fromarray(np.asarray(luma, dtype=np.float32), mode="F").resize((PICTURE_THUMB, PICTURE_THUMB), Image.Resampling.BOX)
    return np.clip(np.round(np.asarray(small)), 0, 255).astype(np.uint8)


def _picture_entry(coeffs, rects) -> bytes:
    """The plaintext of a ``pvrd`` kind-5 entry for the protected coefficients `coeffs`."""
    dc = coeffs.array(0)[..., 0, 0].astype(np.float64) * float(coeffs.quant_table(0)[0, 0]) / 8.0 + 128.0
    thumb = _luma_thumbnail(dc)
    return bytes([1]) + _outside_digest(coeffs, rects) + bytes([PICTURE_THUMB]) + thumb.tobytes()


def _parse_picture_entry(plain: bytes) -> tuple[bytes, np.ndarray]:
    """``(digest, thumbnail)`` of a kind-5 plaintext; TamperedError if malformed."""
    n = PICTURE_THUMB
    if len(plain) != 34 + n * n or plain[0] != 1 or plain[33] != n:
        raise TamperedError("The picveil data in this image is damaged or was altered.")
    return plain[1:33], np.frombuffer(plain[34:], dtype=np.uint8).reshape(n, n)


def _same_picture(thumb: np.ndarray, luma: np.ndarray) -> bool:
    """Whether a received picture's luma is the protected picture's (its kind-5
    thumbnail), up to a network's re-encode, resize or a tone edit: correlated
    at 0.9 or within 6 grey levels rms."""
    got = _luma_thumbnail(luma).astype(np.float64)
    ref = thumb.astype(np.float64)
    rms = float(np.sqrt(np.mean((got - ref) ** 2)))
    a, b = got - got.mean(), ref - ref.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    corr = float((a * b).sum() / denom) if denom > 0 else (1.0 if rms < 6 else 0.0)
    return corr >= 0.9 or rms <= 6.0


def _picture_record(header, header_raw: bytes, unlocked: dict, region_data: dict) -> tuple[bytes, np.ndarray] | None:
    """The kind-5 ``(digest, thumbnail)`` an unlocked key group holds, or None
    (data written before kind 5). TamperedError where one does not authenticate."""
    from .container.region_data import DATA_PICTURE

    for idx, rec in enumerate(header.regions):
        sealed = region_data.get((idx, DATA_PICTURE))
        if sealed is None or rec.group not in unlocked:
            continue
        plain = unlocked[rec.group].region_key(rec.salt).open(DATA_PICTURE, _region_data_aad(idx, DATA_PICTURE, header_raw), sealed)
        if plain is None:
            raise TamperedError("The picveil data in this image is damaged or was altered.")
        return _parse_picture_entry(plain)
    return None


def _region_data_aad(index: int, kind: int, header_raw: bytes) -> bytes:
    """Associated data of a ``pvrd`` entry: binds it to its region, kind and header."""
    return b"picveil v1 region data\x00" + index.to_bytes(2, "big") + bytes([kind]) + header_raw


def _header_geometry(coeffs):
    from .container import ComponentInfo

    return tuple(ComponentInfo(c.id, c.h_samp, c.v_samp) for c in coeffs.components)


def _normalise_recipients(items: Iterable[str] | str | None) -> tuple[str, ...]:
    """Recipients as ``age1…`` strings: strings, or objects with a ``recipient``
    (an :class:`picveil.crypto.Identity`: its public key), alone or in a sequence."""
    from .errors import RecipientError

    if items is None:
        return ()
    if isinstance(items, str) or hasattr(items, "recipient"):
        items = [items]
    try:
        items = list(items)
    except TypeError:
        raise RecipientError(f"Recipients are age1… strings, not {type(items).__name__}.") from None
    out = []
    for item in items:
        item = getattr(item, "recipient", item)
        if not isinstance(item, str):
            raise RecipientError(f"A recipient is an age1… string, not {type(item).__name__}.")
        out.append(item.strip())
    return tuple(dict.fromkeys(s for s in out if s))


# --- protect ---------------------------------------------------------------------------------
def _input_subsampling(regions, circle: str | None, robust: bool | None, whole: bool) -> str:
    """The chroma subsampling a non-JPEG input is encoded with when the caller
    names none: 4:2:0 when the protection is meant for circles with the robust
    header (`robust` on, or left to default with a default `circle` or every
    given region for a circle), so that a network's 4:2:0 re-encode keeps the
    regions' scrambled colour (a 4:4:4 file keeps a quarter of it, which the
    reveal estimates the rest from; measured on seven packaged photos, same
    boxes: the regions revealed +2.2 dB better after JPEG q85 on all seven,
    +2.4 after q75, +0.9 after WebP 75; 5.7 dB on the most saturated,
    ``docs/robust/source-chroma.md``); else 4:4:4, which keeps the photo's
    colour detail for an exact reveal."""
    return "4:2:0" if _for_platforms(regions, circle, robust, whole) else "4:4:4"


def _for_platforms(regions, circle: str | None, robust: bool | None, whole: bool) -> bool:
    """Whether a protection is meant to survive networks: for circles with the
    robust header (`robust` on, or left to default with a default `circle` or
    every given region for a circle)."""
    if robust is False or whole:
        return False
    given = [as_region(r) for r in regions]
    for_circles = circle is not None or (bool(given) and all(r.circle is not None for r in given))
    return bool(robust) or for_circles


#: What ``protect(colour=...)`` takes.
COLOUR_CHOICES = ("auto", "srgb", "keep")


def _wants_srgb(colour: str, regions, circle: str | None, robust: bool | None, whole: bool) -> bool:
    """Whether protect puts the photo's colours in sRGB first: ``colour="auto"``
    does for a protection meant to survive networks (:func:`_for_platforms`),
    whose colour conversion would otherwise erase the robust header
    (``picveil.jpeg.colour``)."""
    if colour not in COLOUR_CHOICES:
        raise InputError(f"Unknown colour choice {colour!r}.", hint="Use auto, srgb or keep.")
    if colour == "auto":
        return _for_platforms(regions, circle, robust, whole)
    return colour == "srgb"


def _metadata_segments(jpeg: bytes, source: bytes, recoded: bool, policy) -> list[tuple[int, bytes]]:
    """The metadata segments of the protected file: `jpeg`'s under `policy`,
    or, for a JPEG that protect re-encoded in sRGB (`recoded`), the source's
    under `policy` with the source's colour profile swapped for `jpeg`'s."""
    from .jpeg.metadata import APP2, ICC_SIG, MetadataPolicy, select_metadata

    if not recoded:
        return list(select_metadata(jpeg, policy))

    def is_icc(seg: tuple[int, bytes]) -> bool:
        return seg[0] == APP2 and seg[1].startswith(ICC_SIG)

    icc = [seg for seg in select_metadata(jpeg, MetadataPolicy()) if is_icc(seg)]
    return icc + [seg for seg in select_metadata(source, policy) if not is_icc(seg)]


def _protect(
    image: Source,
    regions: Sequence[Region | Box | tuple[int, int, int, int] | str],
    *,
    recipients: Iterable[str] | str | None = None,
    passphrase: str | None = None,
    circle: str | None = None,
    keyring=None,
    look: str = "auto",
    cells: int = 6,
    feather: int = 0,
    shape: str = "box",
    mask=None,
    platform: str | None = None,
    detect: Sequence[str] | str | None = None,
    level: int | None = None,
    min_score: float | None = None,
    exclude: Sequence[int] = (),
    regions_file=None,
    only: Sequence[str] | str | None = None,
    except_people: Sequence[str] | str | None = None,
    allow_empty: bool = False,
    quality: int = DEFAULT_QUALITY,
    subsampling: str | None = None,
    scheme: str | None = None,
    keep_gps: bool = False,
    keep_serials: bool = False,
    keep_all_metadata: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progressive: bool | None = None,
    optimize: bool = False,
    clip: bool = False,
    robust: bool | None = None,
    whole: bool = False,
    box_space: str = "stored",
    colour: str = "auto",
) -> tuple[bytes, ProtectReport, Path | None]:
    call = dict(locals())  # to protect again at 4:4:4 if 4:2:0's coarser MCUs make boxes of two groups share one
    from . import crypto
    from .container import Container, ExtraBox, Header, KeyGroup, RegionRecord, Wrap, encode_container
    from .container.region_data import (
        BOX_REGION_DATA,
        DATA_PICTURE,
        DATA_SCHEME_AUX,
        DATA_TABLES,
        RegionDataEntry,
        encode_region_data,
    )
    from .schemes import Protected
    from .jpeg import markers
    from .jpeg.codec import read_coefficients
    from .jpeg.loading import CMYK_JPEG, frame_count, read_input
    from .jpeg.metadata import MetadataPolicy
    from .schemes import DEFAULT_SCHEME, DEFAULT_WHOLE_SCHEME

    for name, value, low, high in (("quality", quality, 1, 100), ("max_pixels", max_pixels, 1, None)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            raise InputError(f"{name} must be an integer from {low}{f' to {high}' if high else ' up'}, not {value!r}.")
    if detect:  # the names and the level checked before any work, as the user's mistakes they are
        from .regions.detectors.base import canonical_class
        from .regions.priority import level_budget

        try:
            for name in [detect] if isinstance(detect, str) else detect:
                for part in str(name).split(","):
                    if part.strip():
                        canonical_class(part)
            if level is not None:
                level_budget(level)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if min_score is not None and (isinstance(min_score, bool) or not isinstance(min_score, (int, float)) or not 0.0 <= min_score <= 1.0):
            raise InputError(f"min_score is a score from 0 to 1, not {min_score!r}.")
    if regions is None or isinstance(regions, (str, Box, Region)):  # one region given alone
        regions = [] if regions is None else [regions]
    elif isinstance(regions, tuple) and len(regions) == 4 and all(isinstance(v, int) for v in regions):
        regions = [regions]  # one (x, y, w, h)
    data, src_path = _read_source(image)
    if box_space not in ("stored", "displayed"):
        raise InputError(f"Unknown box space {box_space!r}.", hint="Use 'stored' or 'displayed'.")
    if box_space == "displayed":  # boxes (and a mask) as a viewer shows the photo: onto the stored grid
        regions, mask = _displayed_to_stored(data, regions, mask, max_pixels)
    fit_note = ""
    if platform is not None:
        # Resize and re-encode for the platform first, so that it need not; boxes follow.
        from .platforms import fit

        fitted = fit(data, platform, max_pixels=max_pixels)
        regions = [m for m in (_map_region(as_region(r), fitted) for r in regions) if m.box.w and m.box.h]
        if mask is not None:
            mask = fitted.map_mask(mask)
        fit_note = fitted.describe(platform)
        data = fitted.jpeg
    frames = frame_count(data)
    if subsampling is None:
        subsampling = _input_subsampling(regions, circle, robust, whole)
    elif subsampling not in ("4:2:0", "4:2:2", "4:4:4"):
        raise InputError(f"Unknown chroma subsampling {subsampling!r}.", hint="Use 4:2:0, 4:2:2 or 4:4:4.")
    input_notes: list[str] = []  # what the conversion to JPEG changed (transparency, colours put in sRGB)
    srgb = _wants_srgb(colour, regions, circle, robust, whole)
    jpeg, source_format = read_input(data, quality=quality, subsampling=subsampling, max_pixels=max_pixels, notes=input_notes, srgb=srgb)
    recoded = source_format == "jpeg" and jpeg != data  # a JPEG whose colours were put in sRGB (or its Huffman copy)
    if source_format == "jpeg" and markers.app11_payloads(data):
        from .container import decode_container

        try:
            decode_container(markers.app11_payloads(data))
            already = True
        except (NoPicveilDataError, TamperedError):
            already = False
        except Exception:
            already = True
        if already:
            raise InputError(
                "This image is already protected by picveil.",
                hint="Reveal it first, or protect the original photo.",
            )
    coeffs = read_coefficients(jpeg, max_pixels=max_pixels)
    if coeffs.color_space not in ("gray", "ycbcr", "rgb"):
        raise UnsupportedImageError(f"picveil cannot protect {coeffs.color_space.upper()} JPEGs.")
    if coeffs.color_space == "rgb" and call["subsampling"] is None and subsampling == "4:2:0":
        # An RGB JPEG (no colour transform: `cjpeg -rgb`, some scientific tools) protected for
        # circles: a network's YCbCr 4:2:0 copy keeps little of its scrambled R, G and B planes'
        # differences (measured: the revealed region 8.6 dB under the same network's copy of the
        # photo, where a 4:2:0 photo loses about 1), so it is re-encoded as one first.
        from .jpeg.loading import to_jpeg

        jpeg = to_jpeg(jpeg, quality=quality, subsampling=subsampling, max_pixels=max_pixels)
        recoded = True
        input_notes.append(
            f"The JPEG stores its colours as RGB, which a network's copy keeps badly: picveil re-encoded it "
            f"as a YCbCr 4:2:0 JPEG at quality {quality} before protecting it, so the whole picture was "
            "re-encoded once."
        )
        coeffs = read_coefficients(jpeg, max_pixels=max_pixels)
    regions = list(regions)
    if whole:
        if regions or detect or regions_file is not None:
            raise InputError(
                "A whole-image protection takes no boxes and no detection.",
                hint="Drop --whole to protect regions, or drop the boxes.",
            )
        if look not in ("auto", "scramble"):
            raise InputError(
                f"A whole-image protection is a cipher image (its scheme, {scheme or DEFAULT_WHOLE_SCHEME}); "
                f"the {look!r} look does not apply to it.",
                hint="Drop --look, or drop --whole and protect a box with that look.",
            )
        regions = [Box(0, 0, coeffs.width, coeffs.height)]
        scheme = scheme or DEFAULT_WHOLE_SCHEME
        if robust is None:
            robust = False  # an image that is all region has no room for a robust header
    sch = _scheme_named(scheme or DEFAULT_SCHEME)
    left_visible: list[str] = []
    if detect or regions_file is not None or only is not None or except_people is not None:
        regions += _auto_regions(
            jpeg, coeffs.width, coeffs.height, detect, level, min_score, exclude, regions_file,
            only=only, except_people=except_people, keyring=keyring, notes=input_notes, left_visible=left_visible,
        )
    if not regions:
        if left_visible and not allow_empty:  # detected, then left visible by --only/--except or --level
            raise RegionError(
                f"Nothing to protect: {left_visible[0]}",
                hint="Check the names given to --only/--except (`picveil people list`), or pass --allow-empty to "
                "write the image unprotected.",
            )
        if not allow_empty:
            raise RegionError(
                "Nothing to protect: no box given and nothing detected.",
                hint="Add --box X,Y,W,H, lower --min-score, or pass --allow-empty to write the image unprotected.",
            )
        policy = MetadataPolicy(keep_gps=keep_gps, keep_serials=keep_serials, keep_all=keep_all_metadata)
        body = coeffs.encode(progressive=progressive, optimize=optimize)
        out = markers.insert_segments(body, _metadata_segments(jpeg, data, recoded, policy))
        return out, ProtectReport(None, source_format, (), len(data), len(out), tuple(input_notes)), src_path

    from .looks import LookParams, look_id, resolve_auto

    params = LookParams(cells=cells, feather=feather, shape=shape)
    # Plan groups: one per distinct (recipients, passphrase, circle, look); key
    # groups: one per distinct (recipients, passphrase, circle).
    default_to = _normalise_recipients(recipients)
    specs = [as_region(r) for r in regions]
    spec_keys = []
    for spec in specs:
        if spec.recipients is None and spec.passphrase is None and spec.circle is None:
            spec_keys.append((tuple(sorted(default_to)), passphrase, circle))
        else:
            spec_keys.append((tuple(sorted(_normalise_recipients(spec.recipients))), spec.passphrase, spec.circle))
    # look "auto": scramble only when the robust header is written (or a scheme is named), else fill
    header_planned = (robust is None or bool(robust)) and all(k[2] is not None for k in spec_keys)
    plan_of: dict[tuple, int] = {}
    box_groups = []
    for spec, key in zip(specs, spec_keys):
        region_look = resolve_auto(spec.look or look, robust_header=header_planned, scheme_given=scheme is not None)
        look_id(region_look)
        box_groups.append(plan_of.setdefault(key + (region_look,), len(plan_of)))
    try:
        rects = plan_regions(
            [s.box for s in specs],
            box_groups,
            width=coeffs.width,
            height=coeffs.height,
            mcu_w=coeffs.mcu_width,
            mcu_h=coeffs.mcu_height,
            clip=clip,
        )
    except RegionError as exc:
        if call["subsampling"] is None and (source_format != "jpeg" or recoded) and subsampling == "4:2:0" and exc.args and "different" in str(exc.args[0]):
            # our choice of 4:2:0 (16-pixel MCUs) made two groups' boxes meet; 8-pixel MCUs may keep them apart
            return _protect(**{**call, "subsampling": "4:4:4"})
        raise
    plan_key = {g: k for k, g in plan_of.items()}
    key_groups = list(dict.fromkeys(plan_key[r.group][:3] for r in rects))
    rect_looks = [plan_key[r.group][3] for r in rects]
    rects = [McuRect(r.x, r.y, r.w, r.h, key_groups.index(plan_key[r.group][:3])) for r in rects]
    used = key_groups
    group_specs = dict(enumerate(key_groups))
    if mask is not None and np.asarray(mask).shape[:2] != (coeffs.height, coeffs.width):
        mh, mw = np.asarray(mask).shape[:2]
        raise RegionError(
            f"The mask is {mw}×{mh} pixels, the image {coeffs.width}×{coeffs.height}: it would protect the wrong place.",
            hint="Draw the mask at the image's own size (white where to protect).",
        )
    if mask is not None and shape != "mask":
        params = LookParams(cells=cells, feather=feather, shape="mask")

    # Robust in-image header (robust/SPEC.md §13): on by default when every key
    # group is a circle group; its salts are derived so that the header carries 8 bytes.
    all_circles = all(group_specs[g][2] is not None for g in range(len(used)))
    robust_on = all_circles if robust is None else bool(robust)
    if robust_on and not all_circles:
        raise InputError(
            "The robust in-image header needs every region to be protected for a circle.",
            hint="Use --circle for every region, or turn the robust header off.",
        )
    scheme_note = None
    if robust is None and not all_circles and any(group_specs[g][2] is not None for g in range(len(used))):
        scheme_note = (
            "Some regions are for a circle and some are not (--to, --passphrase): the in-image header, which lets a "
            "circle reveal a network's copy, needs every region to be for a circle, so none was written. A copy a "
            "network re-encoded or stripped can only be revealed beside its sidecar (--sidecar). Protect every region "
            "for a circle (a circle of your own for your regions) to reveal the network's copy with the keyring."
        )
    choose_scheme = robust_on and scheme is None and LOOK_SCRAMBLE in [look_id(lk) for lk in rect_looks]
    if robust_on:
        from .robust import header as robust_header

        robust_seed = crypto.random_salt(robust_header.SEED_BYTES)
        file_salt = robust_header.file_salt_from_seed(robust_seed)
    else:
        file_salt = crypto.random_salt()
    group_circles = {}
    kr = None
    group_keys, wraps = [], []
    for g in range(len(used)):
        to, pw, circle_name = group_specs[g]
        w: list[tuple[int, bytes]] = []
        if circle_name is not None:
            if kr is None:
                kr = keyring if isinstance(keyring, crypto.Keyring) else crypto.Keyring.open(keyring)
            try:
                c = kr.get(circle_name)
            except CircleNotFoundError as exc:  # protecting: the circle is the user's to create
                import difflib

                names = [c.name for c in kr.circles]
                close = difflib.get_close_matches(circle_name, names, n=1)
                have = f"Your circles: {', '.join(names)}. " if names else "You have no circle yet. "
                raise type(exc)(
                    (f"{exc} Did you mean {close[0]!r}?" if close else str(exc)), name=circle_name,
                    hint=have + f"`picveil circle create {circle_name}` creates it, "
                    "and `picveil circle import FILE` adds one shared with you.",
                ) from None
            group_circles[g] = c
            gk = c.image_group_key(file_salt)
            w.append((crypto.WRAP_CIRCLE, c.circle_id))
        else:
            gk = crypto.GroupKey.generate()
        if to or pw or circle_name is None:
            w.extend(gk.wrap(to, pw))
        group_keys.append(gk)
        wraps.append(w)

    records = tuple(
        RegionRecord(
            x=r.x, y=r.y, w=r.w, h=r.h, group=r.group, look=look_id(lk),
            salt=robust_header.region_salt(file_salt, i) if robust_on else crypto.random_salt(),
        )
        for i, (r, lk) in enumerate(zip(rects, rect_looks))
    )
    quant = [coeffs.quant_table(ci) for ci in range(len(coeffs.components))]
    # (scheme id, region index) -> the scheme's result, where it was run to size its header
    scrambled: dict[tuple[int, int], Protected] = {}

    if choose_scheme:
        def lengths(scheme) -> list[int]:
            # the scheme's sealed parameters, region by region: their size depends on the content (scramble-v8)
            out = []
            for idx, (rect, rec) in enumerate(zip(rects, records)):
                if rec.look != LOOK_SCRAMBLE:
                    out.append(0)
                    continue
                if (scheme.scheme_id, idx) not in scrambled:
                    blocks = [coeffs.blocks(ci, *rg) for ci, rg in enumerate(_component_rects(coeffs, rect))]
                    key = group_keys[rect.group].region_key(rec.salt)
                    scrambled[scheme.scheme_id, idx] = scheme.protect(blocks, key, quant)
                out.append(len(scrambled[scheme.scheme_id, idx].robust))
            return out

        sch, scheme_note = _circle_scheme(coeffs, rects, rect_looks, len(used), lengths)
    header = Header(
        scheme_id=sch.scheme_id,
        width=coeffs.width,
        height=coeffs.height,
        mcu_width=coeffs.mcu_width,
        mcu_height=coeffs.mcu_height,
        components=_header_geometry(coeffs),
        file_salt=file_salt,
        regions=records,
    )
    header_raw = header.to_bytes()
    mac_keys = [k.mac_key(file_salt) for k in group_keys]
    region_tags: dict[int, list[bytes]] = {g: [] for g in range(len(used))}
    data_entries = []
    tables_plain = zlib.compress(b"".join(np.asarray(q, dtype=">u2").tobytes() for q in quant), 9)
    robust_params: list[bytes] = []
    decoded = None
    for idx, (rect, rec) in enumerate(zip(rects, records)):
        ranges = _component_rects(coeffs, rect)
        blocks = [coeffs.blocks(ci, *rg) for ci, rg in enumerate(ranges)]
        rkey = group_keys[rect.group].region_key(rec.salt)
        if rec.look == LOOK_SCRAMBLE:
            done = scrambled.get((sch.scheme_id, idx))
            result = done if done is not None else sch.protect(blocks, rkey, quant)
        else:
            from .looks.apply import paint_region

            if decoded is None:
                decoded = _decode_pixels(jpeg)
                hidden = np.zeros(decoded.shape[:2], dtype=bool)  # every region's pixels: no look reads another's
                for r in rects:
                    hidden[r.y * coeffs.mcu_height : (r.y + r.h) * coeffs.mcu_height, r.x * coeffs.mcu_width : (r.x + r.w) * coeffs.mcu_width] = True
            painted = paint_region(decoded, coeffs, rect, ranges, rect_looks[idx], params, rkey, quant, mask, hidden)
            kind, original = _pack_original(coeffs, rect, blocks)
            aad = _region_data_aad(idx, kind, header_raw)
            data_entries.append(RegionDataEntry(idx, kind, rkey.seal(kind, aad, original)))
            result = Protected(painted)
        for ci, (rg, arr) in enumerate(zip(ranges, result.blocks)):
            coeffs.set_blocks(ci, rg[0], rg[2], arr)
        region_tags[rect.group].append(
            mac_keys[rect.group].tag(_REGION_LABEL, idx.to_bytes(2, "big"), *_region_bytes(result.blocks))
        )
        robust_params.append(result.robust if rec.look == LOOK_SCRAMBLE else b"")
        if result.aux:
            aad = _region_data_aad(idx, DATA_SCHEME_AUX, header_raw)
            data_entries.append(RegionDataEntry(idx, DATA_SCHEME_AUX, rkey.seal(DATA_SCHEME_AUX, aad, result.aux)))
        if rec.look != LOOK_SCRAMBLE or (result.aux and getattr(sch, "aux_is_original", False)):
            # the tables that show the original: a copy a network re-encoded is revealed from it (SPEC §4.3)
            aad = _region_data_aad(idx, DATA_TABLES, header_raw)
            data_entries.append(RegionDataEntry(idx, DATA_TABLES, rkey.seal(DATA_TABLES, aad, tables_plain)))
    groups = tuple(
        KeyGroup(
            index=g,
            wraps=tuple(Wrap(kind, blob) for kind, blob in wraps[g]),
            header_tag=mac_keys[g].tag(_HEADER_LABEL, header_raw),
            region_tags=tuple(region_tags[g]),
        )
        for g in range(len(used))
    )
    extras = []
    warnings: list[str] = list(input_notes)
    from .looks import leak_warning

    warnings.extend(w for w in dict.fromkeys(leak_warning(lk) for lk in rect_looks) if w)  # blur, mosaic: recognisable
    if source_format == CMYK_JPEG:
        warnings.append(
            f"The JPEG is in CMYK (print colours); picveil converted it to an RGB JPEG at quality {quality} "
            "before protecting it, so the whole picture was re-encoded once."
        )
    advice: list[str] = [scheme_note] if scheme_note else []
    if robust_on and platform is None and source_format == "jpeg" and _subsampling(coeffs) not in ("grayscale", "4:2:0"):
        advice.append(
            f"This JPEG keeps its colour at {_subsampling(coeffs)} (more than a network keeps): every network "
            "re-encodes photos to 4:2:0, which keeps only part of the regions' scrambled colour, so a friend's "
            "reveal of its copy is a little noisier in colour (from 4:4:4 about 2 dB on average, up to 6 on vivid colours) "
            "than if the photo were 4:2:0. Protect with --platform NAME (it re-encodes the photo 4:2:0 first; "
            "`picveil platforms`), or \"Where you will post it\" in the web app."
        )
    if robust_on and platform is None and source_format == "jpeg":
        from .platforms.quality import estimate_quality

        q_in = estimate_quality(jpeg).quality
        if q_in < LOW_QUALITY:
            advice.append(
                f"This JPEG is saved at a very low quality (about {q_in}): the in-image header is written in its coarse "
                "steps, and a network's re-encode may leave too little of it for a friend's reveal (a quality-20 photo's "
                "did not survive Facebook's or WhatsApp's copy). Protect with --platform NAME: it re-encodes the photo "
                "at the network's quality first (`picveil platforms`)."
            )
    if robust_on and platform is None:
        resized_by = _platforms_that_resize(coeffs.width, coeffs.height)
        if resized_by:
            advice.append(
                f"The photo is {coeffs.width}×{coeffs.height}: {resized_by} would shrink a photo this large, and a friend's "
                "reveal of a shrunk copy is much blurrier than of one the network kept at its size. "
                "Fit the photo for the network you post to first: protect --platform NAME (see `picveil platforms`), "
                "or \"Where you will post it\" in the web app."
            )
    if frames > 1:
        warnings.append(
            f"The {'WebP' if source_format == 'webp' else source_format.upper()} file holds {frames} frames (an animation or pages); "
            "the protected JPEG has the first one only."
        )
    if robust_on:
        # Before encoding: the header goes into the luma outside the regions (the
        # container's tags cover the regions only), and the container keeps the
        # record that undoes it, so that the exact reveal stays exact everywhere.
        from .container.format import BOX_ROBUST_UNDO
        from .robust.header import embed_header

        # painted regions also get an encrypted low-resolution thumbnail when
        # the channel has room (robust/SPEC.md §13.7); `decoded` is the original
        thumb_keys = {
            i: group_keys[rec.group].region_key(rec.salt)
            for i, rec in enumerate(records)
            if rec.look != LOOK_SCRAMBLE
        }
        warning, undo = embed_header(
            coeffs, header, robust_seed, [group_circles[g] for g in range(len(used))], robust_params,
            original=decoded, region_keys=thumb_keys,
        )
        if warning:
            warnings.append(warning)
        if undo:
            extras.append(ExtraBox(BOX_ROBUST_UNDO, undo))
    # the picture the regions belong to, as written (container SPEC §4.3 kind 5): one entry per key group
    picture = _picture_entry(coeffs, rects)
    for g in range(len(used)):
        first = next(i for i, r in enumerate(rects) if r.group == g)
        rkey = group_keys[g].region_key(records[first].salt)
        aad = _region_data_aad(first, DATA_PICTURE, header_raw)
        data_entries.append(RegionDataEntry(first, DATA_PICTURE, rkey.seal(DATA_PICTURE, aad, picture)))
    data_entries.sort(key=lambda e: (e.region, e.kind))
    extras.insert(0, ExtraBox(BOX_REGION_DATA, encode_region_data(data_entries)))
    payloads = encode_container(Container(header=header, groups=groups, extras=tuple(extras)))
    body = coeffs.encode(progressive=progressive, optimize=optimize)
    policy = MetadataPolicy(keep_gps=keep_gps, keep_serials=keep_serials, keep_all=keep_all_metadata)
    segments = _metadata_segments(jpeg, data, recoded, policy) + [(0xFFEB, p) for p in payloads]
    out = markers.insert_segments(body, segments)
    infos = _region_infos(header, groups)
    report = ProtectReport(None, source_format, infos, len(data), len(out), tuple(warnings), fit_note, tuple(advice))
    return out, report, src_path


def _platforms_that_resize(width: int, height: int) -> str:
    """The named networks (not ``generic``) whose reported size limit is under
    the photo's long edge, as a phrase ("Facebook (2048 px) and Instagram (1080 px)"),
    or ``""``."""
    from .platforms.profiles import PROFILES

    names = [
        f"{p.title} ({p.max_long_edge} px)"
        for p in sorted(PROFILES.values(), key=lambda p: -p.max_long_edge)
        if p.name != "generic" and max(width, height) > p.max_long_edge
    ]
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def protect(image: Source, regions, **options) -> bytes:
    """Protect regions of an image; return the protected JPEG as bytes.

    Parameters
    ----------
    image : bytes or path
        A JPEG (baseline or progressive; grayscale, 4:2:0, 4:2:2 or 4:4:4),
        or a PNG, BMP, TIFF or WebP image, which is first encoded to JPEG at
        ``quality``.
    regions : sequence
        Boxes to protect: :class:`Region`, :class:`Box`, ``(x, y, w, h)`` or
        ``"X,Y,W,H"`` in pixels. Each is snapped outward to the MCU grid. A
        :class:`Region` may carry its own ``recipients``/``passphrase``.
    recipients : str or sequence of str, optional
        Default age recipients (``age1…``) for regions without their own.
    passphrase : str, optional
        Default passphrase (in addition to, or instead of, recipients).
    circle : str, optional
        Default circle (a name in the keyring); its members reveal with their
        keyring, with no identity file.
    keyring : Keyring or path, optional
        Where circles are looked up (default: the user's keyring).
    quality : int
        JPEG quality used to encode non-JPEG inputs (default 95).
    subsampling : {'4:2:0', '4:2:2', '4:4:4'} or None
        Chroma subsampling used to encode non-JPEG inputs (a JPEG keeps its
        own). ``None`` (default): 4:2:0 when the regions are for circles with
        the robust header (what every network re-encodes to, so that the
        scrambled colour survives it; 4:4:4 after all if 4:2:0's 16-pixel MCUs
        would put boxes of two groups in one MCU), else 4:4:4.
    keep_gps, keep_serials, keep_all_metadata : bool
        Metadata allow-list overrides; by default GPS, serial numbers, EXIF
        thumbnails, XMP and comments are stripped.
    max_pixels : int
        Refuse larger images (decompression-bomb guard).
    progressive : bool or None
        Output mode; ``None`` keeps the input's.
    clip : bool
        Clip boxes to the image instead of refusing boxes that cross its edge.
    look : str
        ``auto`` (default), ``scramble``, ``fill``, ``inpaint``, ``frost``,
        ``sticker``, ``blur`` or ``pixelate`` (see :mod:`picveil.looks`);
        with ``cells``, ``feather``, ``shape`` (``box``/``ellipse``/``mask``)
        and ``mask``. ``auto`` scrambles when the robust in-image header is
        written (every region for a circle) or ``scheme`` is given, so that a
        friend can reveal what a platform served; otherwise it paints
        ``fill``, which leaks nothing of the region (a scramble leaks its
        texture amount and, without the header, buys nothing).
    platform : str, optional
        Resize and re-encode for ``x``, ``facebook``, ``instagram``,
        ``whatsapp``, ``telegram`` or ``generic`` first (boxes are mapped), so the platform
        need not resize.
    detect, level, min_score, exclude, regions_file :
        Find regions automatically (see :func:`detect`) and merge them with
        ``regions``.
    only, except_people : str (comma-separated) or sequence of str, optional
        Protect only the detected faces of these people, or every face except
        theirs, named from the face gallery in ``keyring`` (``picveil people
        add``; needs the ``[identify]`` extra and face detection). Faces that
        match nobody are protected with ``except_people`` and left visible with
        ``only``; non-face detections are kept either way. At most one of them.
    scheme : str, optional
        The scramble look's scheme: ``scramble-v8`` (default; for circles, where
        its robust header fits neither outside nor over the regions of a small
        photo, ``scramble-v4``), an older ``scramble-v1`` ... ``scramble-v7``, or
        ``searchable-v2`` / ``searchable-v1`` (short names ``scramble``,
        ``searchable``).
    whole : bool
        Protect the entire image as one region (``regions`` must be empty);
        the scheme defaults to ``searchable-v2``, whose cipher images a server
        can index and search (:mod:`picveil.search`).
    robust : bool or None
        Write the robust in-image header that survives platforms (needs every
        region to be for a circle). ``None``: on exactly when it can be.
    box_space : {'stored', 'displayed'}
        What the boxes (and ``mask``) are drawn over: ``stored`` (default), the
        file's pixel grid; ``displayed``, the photo as a viewer shows it, its
        EXIF Orientation applied (a phone photo stored sideways). Detected
        regions and a ``regions_file`` are always in stored pixels.
    colour : {'auto', 'srgb', 'keep'}
        Whether the photo's colours are put in sRGB first when it carries
        another colour profile (Display P3, Adobe RGB): networks convert such
        photos to sRGB, a non-linear change of every pixel that erases the
        robust header. ``auto`` (default) converts when the protection is
        meant to survive networks (the robust header), re-encoding a JPEG once
        at ``quality`` (as a PNG input is); ``srgb`` always; ``keep`` never.
        The report's warnings say when it converted.

    Raises
    ------
    PicveilError
        A typed subclass for each failure (see :mod:`picveil.errors`).
    """
    return _protect(image, regions, **options)[0]


def protect_file(
    src: PathLike, dst: PathLike, regions, *, overwrite: bool = False, sidecar: bool = False, **options
) -> ProtectReport:
    """Protect ``src`` into ``dst`` (written atomically; ``src`` is never modified).

    With ``sidecar``, also writes ``dst`` + ``.picveil``: the container alone
    (a JUMBF box), for platforms that strip the image's metadata.
    """
    format_for_output(dst, ("jpeg",), "picveil protect")  # the regions live in the JPEG's coefficients
    dst = _check_output(dst, Path(src), overwrite)
    side = Path(str(dst) + SIDECAR_SUFFIX)
    if sidecar:
        _check_output(side, Path(src), overwrite)
    out, report, _ = _protect(Path(src), regions, **options)
    write_atomic(dst, out)
    if sidecar:
        write_atomic(side, sidecar_bytes(out))
    return replace(report, output=dst)


# --- reveal ----------------------------------------------------------------------------------
SIDECAR_SUFFIX = ".picveil"


def sidecar_bytes(protected: bytes) -> bytes:
    """The container of a protected JPEG as a standalone JUMBF box (a sidecar file)."""
    from .container import from_app11_payloads
    from .jpeg import markers

    return from_app11_payloads(markers.app11_payloads(protected))


def _load_container(data: bytes, sidecar: bytes | None = None):
    if sidecar is not None:
        from .container import Container

        return Container.from_jumbf(sidecar)
    return _load_container_from_image(data)


def _load_container_from_image(data: bytes):
    from .container import decode_container
    from .jpeg import markers
    from .jpeg.loading import sniff

    kind = sniff(data)
    if kind != "jpeg":
        raise NoPicveilDataError(f"This {kind.upper()} image carries no picveil data.")
    return decode_container(markers.app11_payloads(data))


def _reveal(
    image: Source,
    *,
    identities=(),
    passphrase: str | None = None,
    keyring=None,
    sidecar=None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    require_all: bool = False,
    output_format: str = "jpeg",
) -> tuple[bytes, RevealReport]:
    if output_format not in ("jpeg", "png"):
        raise InputError(f"Reveal writes JPEG or PNG, not {output_format!r}.", hint="Name the output .jpg or .png.")
    out, report = _reveal_jpeg(
        image, identities=identities, passphrase=passphrase, keyring=keyring, sidecar=sidecar,
        max_pixels=max_pixels, require_all=require_all, output_format=output_format,
    )
    if output_format == "png" and out[:2] == b"\xff\xd8":
        out = _jpeg_to_png(out)
    return out, RevealReport(None, report.revealed, report.locked, out, report.warnings)


def _jpeg_to_png(jpeg: bytes) -> bytes:
    """The decoded pixels of `jpeg` as a lossless PNG (what a viewer shows, kept):
    turned upright by its EXIF Orientation (PNG viewers ignore EXIF), with its
    ICC profile."""
    import io

    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(jpeg)) as im:
        icc = im.info.get("icc_profile")
        im = ImageOps.exif_transpose(im.convert("L") if im.mode == "L" else im.convert("RGB"))
        buf = io.BytesIO()
        im.save(buf, "PNG", compress_level=6, **({"icc_profile": icc} if icc else {}))
    return buf.getvalue()


#: Below this JPEG quality (estimated from the tables), protect for circles advises --platform:
#: measured on a 1001x667 photo, the header of a quality 10, 15 or 20 file did not survive the
#: simulated Facebook and WhatsApp copies; from 25 it did (and with --platform from 15).
LOW_QUALITY = 25

#: Short scheme names a user may type (the newest version of each family).
SCHEME_ALIASES = {"scramble": "scramble-v8", "searchable": "searchable-v2"}


def _circle_scheme(coeffs, rects, looks, groups: int, params_lengths):
    """The scheme of a protect for circles that names none: the default (scramble-v8)
    when its robust header (with each scrambled region's sealed gains) fits the photo,
    outside the regions or, failing that, over them (robust SPEC §13.5: the
    reveal from pixels takes the header's faint pattern out of the regions);
    else scramble-v4 when its smaller header fits, with a note for the user;
    else the default (no header fits: the image reveals only with its container
    either way). `params_lengths(scheme)` gives the scheme's sealed parameters' length
    per region (0 for painted regions): scramble-v8's depend on the content.
    Returns ``(scheme, note or None)``.

    Privacy comes first: scramble-v4 shows each region's spectrum, which the
    audit's attackers read (docs/audit), so it is used only where the default
    could not be revealed after a platform at all. Measured on the quick
    benchmark's photos whose scramble-v5 header goes over the regions (aloeL
    1.4 MP, a 4 MP mosaic of 4 regions), scramble-v5 against scramble-v4 after
    JPEG q75 / q50 / WebP 75: -3.2 / -0.1 / +0.2 and +0.9 / +0.6 / +0.7 dB;
    after JPEG q95 it is 4-9 dB worse (docs/robust)."""
    from .looks import look_id
    from .robust.header import header_fits, header_length, layout_of, size_for_header
    from .schemes import CIRCLE_FALLBACK_SCHEME, DEFAULT_SCHEME, get_scheme

    best = get_scheme(DEFAULT_SCHEME)
    layout = layout_of(coeffs.color_space, tuple((c.h_samp, c.v_samp) for c in coeffs.components))
    codec = getattr(best, "codec", None)  # the gain-coding schemes (scramble-v5 to v8) carry parameters
    if layout is None or codec is None:
        return best, None
    ids = [look_id(lk) for lk in looks]
    regions = [(r.x, r.y, r.w, r.h, r.group, i) for r, i in zip(rects, ids)]
    mcu = (coeffs.mcu_width, coeffs.mcu_height)
    size = (coeffs.width, coeffs.height)
    n5 = params_lengths(best)
    zero = [0] * len(regions)

    def fits(scheme, lengths) -> bool:
        return header_fits(scheme.scheme_id, *size, layout, regions, groups, lengths, mcu) or header_fits(
            scheme.scheme_id, *size, layout, regions, groups, lengths, mcu, outside=False
        )

    if fits(best, n5):
        return best, None
    fallback = get_scheme(CIRCLE_FALLBACK_SCHEME)
    if fits(fallback, zero):
        mp = size_for_header(*size, header_length(best.scheme_id, *size, layout, regions, groups, n5), mcu)
        larger = (
            f"protect a larger copy of the photo (from about {mp:.1f} MP), or fewer regions"
            if mp is not None
            else f"protect fewer regions (with these, {best.name}'s header fits no photo)"
        )
        return fallback, (
            f"This {coeffs.width}×{coeffs.height} photo is too small to carry {best.name}'s in-image header, so "
            f"its regions were scrambled with {fallback.name}, which a friend can still reveal after a platform "
            "but which shows how much texture and colour each region has (enough for a trained attacker to tell "
            f"digits or clothes apart: `picveil audit`). For the stronger scheme, {larger}; or protect with "
            f"--scheme {best.name} (reveals with the picveil data only)."
        )
    return best, None


def _scheme_named(name: str | int):
    from .schemes import get_scheme, scheme_names

    try:
        return get_scheme(SCHEME_ALIASES.get(name, name) if isinstance(name, str) else name)
    except ValueError:
        raise InputError(
            f"Unknown protection scheme {name!r}.",
            hint="Known: " + ", ".join(sorted(set(scheme_names()) | set(SCHEME_ALIASES))) + ".",
        ) from None


def _reveal_jpeg(
    image: Source,
    *,
    identities=(),
    passphrase: str | None = None,
    keyring=None,
    sidecar=None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    require_all: bool = False,
    output_format: str = "jpeg",
) -> tuple[bytes, RevealReport]:
    from . import crypto
    from .jpeg import markers
    from .jpeg.codec import read_coefficients
    from .jpeg.metadata import MetadataPolicy, select_metadata
    from .schemes import get_scheme

    data, src_path = _read_source(image)
    if sidecar is None and src_path is not None and Path(str(src_path) + SIDECAR_SUFFIX).exists():
        sidecar = Path(str(src_path) + SIDECAR_SUFFIX)
    side = _read_source(sidecar)[0] if sidecar is not None else None
    from .jpeg.loading import sniff

    if side is not None and sniff(data) == "jpeg" and markers.app11_payloads(data):
        side = None  # the image's own container wins
    fallback_options = dict(
        keyring=keyring, identities=identities, passphrase=passphrase, max_pixels=max_pixels, require_all=require_all,
        output_format=output_format,
    )
    try:
        container = _load_container(data, side)
    except NoPicveilDataError:  # stripped by a platform: try the robust in-image header
        return _reveal_from_pixels(data, **fallback_options)
    header = container.header
    sch = get_scheme(header.scheme_id)
    from .looks import LOOK_NAMES

    unknown_looks = sorted({r.look for r in header.regions} - set(LOOK_NAMES))
    if unknown_looks:
        from .errors import UnsupportedVersionError

        raise UnsupportedVersionError(f"This image uses region look {unknown_looks[0]}, which this picveil does not know.")
    ids = crypto.load_identities(identities) if identities else []
    kr = _keyring_for_reveal(keyring, explicit=bool(ids or passphrase))
    if not ids and not passphrase and kr is None:
        circles = [w.data.hex() for g in container.groups for w in g.wraps if w.kind == crypto.WRAP_CIRCLE]
        if circles:
            from .errors import CircleNotFoundError

            raise CircleNotFoundError(
                f"This image was protected for circle {', '.join(dict.fromkeys(circles))}, and you have no keyring.",
                hint="Ask whoever shared the photo to share the circle with you (`picveil circle whoami` prints the "
                "recipient to give them), then `picveil circle import FILE`; or give an identity file with -i.",
            )
        raise _no_key_given(container)
    unlocked: dict[int, object] = {}
    missing_circles: list[bytes] = []
    for g in container.groups:
        key = crypto.GroupKey.unwrap([(w.kind, w.data) for w in g.wraps], ids, passphrase)
        for w in g.wraps:
            if key is None and w.kind == crypto.WRAP_CIRCLE:
                c = kr.find_by_id(w.data) if kr is not None else None
                if c is not None:
                    key = c.image_group_key(header.file_salt)
                else:
                    missing_circles.append(w.data)
        if key is not None:
            unlocked[g.index] = key
    if not unlocked:
        if missing_circles and not ids and not passphrase:
            from .errors import CircleNotFoundError

            ids_hex = ", ".join(dict.fromkeys(c.hex() for c in missing_circles))
            raise CircleNotFoundError(f"This image was protected for circle {ids_hex}, which is not in your keyring.")
        if not ids and not passphrase:
            raise _no_key_given(container, " and no circle in your keyring opens this image")
        raise NotRecipientError(
            "None of the given keys opens any region of this image (wrong key or passphrase, or not a recipient; "
            "if the key is right, the picveil data may be damaged)."
        )
    header_raw = header.to_bytes()
    mac_keys = {}
    for g, key in unlocked.items():
        mk = key.mac_key(header.file_salt)
        if not mk.verify(container.groups[g].header_tag, _HEADER_LABEL, header_raw):
            raise TamperedError("The picveil data in this image is damaged or was altered.")
        mac_keys[g] = mk
    from .container.format import BOX_ROBUST_UNDO
    from .container.region_data import BOX_REGION_DATA, DATA_SCHEME_AUX, DATA_TABLES, decode_region_data

    region_data = {}
    for extra in container.extras:
        if extra.box_type == BOX_REGION_DATA:
            region_data = {(e.region, e.kind): e.ciphertext for e in decode_region_data(extra.body)}

    def modified(what: str):
        """The picture is not the protected file's coefficients: its regions
        from the picveil data's originals where they are there, else from
        its pixels (a circle's robust header), else `what` as the error."""
        pasted = _reveal_from_originals(
            data, header, header_raw, unlocked, region_data, sch, max_pixels, require_all, output_format
        )
        if pasted is not None:
            return pasted
        return _reveal_from_pixels(data, **fallback_options, fallback=ContentModifiedError(what))

    if sniff(data) != "jpeg":  # a sidecar's container, but the picture was converted (WebP, PNG)
        return modified("The image was converted to another format after it was protected; exact reveal is impossible.")
    coeffs = read_coefficients(data, max_pixels=max_pixels)
    geometry_ok = (
        coeffs.width == header.width
        and coeffs.height == header.height
        and coeffs.mcu_width == header.mcu_width
        and coeffs.mcu_height == header.mcu_height
        and _header_geometry(coeffs) == header.components
    )
    if not geometry_ok:
        return modified("The image was resized or re-encoded with a different layout after it was protected; exact reveal is impossible.")
    warnings: list[str] = []
    record = _picture_record(header, header_raw, unlocked, region_data)
    rects_all = [McuRect(r.x, r.y, r.w, r.h, r.group) for r in header.regions]
    outside_intact = record is not None and _outside_digest(coeffs, rects_all) == record[0]
    if record is not None and not outside_intact:
        warnings.append(
            "The picture around the protected regions is not the one that was protected (edited, or the regions "
            "were copied into another picture); the revealed regions themselves are authentic."
        )
    undo = next((e.body for e in container.extras if e.box_type == BOX_ROBUST_UNDO), None)
    if undo is not None:  # take the robust header out again (container SPEC §4.4)
        from .robust.header import apply_undo

        if not apply_undo(coeffs, undo):
            warnings.append(
                "The in-image header could not be taken out exactly: the pixels outside the "
                "regions keep its faint pattern (about 41 dB)."
            )
    quant = [coeffs.quant_table(ci) for ci in range(len(coeffs.components))]
    revealed, locked = [], []
    position_in_group: dict[int, int] = {}
    for idx, rec in enumerate(header.regions):
        pos = position_in_group.get(rec.group, 0)
        position_in_group[rec.group] = pos + 1
        if rec.group not in unlocked:
            locked.append(idx)
            continue
        rect = McuRect(rec.x, rec.y, rec.w, rec.h, rec.group)
        ranges = _component_rects(coeffs, rect)
        blocks = [coeffs.blocks(ci, *rg) for ci, rg in enumerate(ranges)]
        tag = container.groups[rec.group].region_tags[pos]
        if not mac_keys[rec.group].verify(tag, _REGION_LABEL, idx.to_bytes(2, "big"), *_region_bytes(blocks)):
            if outside_intact:  # the file was not re-encoded (the rest is as written): this region was edited in place
                raise ContentModifiedError(
                    f"Region {idx + 1} was edited after protection (the rest of the file is as it was written), "
                    "so it cannot be revealed.",
                    hint="Reveal the photo as it was shared, not an edited copy.",
                )
            return modified("The protected regions were re-encoded or edited after protection; exact reveal is impossible.")
        rkey = unlocked[rec.group].region_key(rec.salt)
        sealed = region_data.get((idx, DATA_TABLES))
        if sealed is not None and rkey.open(DATA_TABLES, _region_data_aad(idx, DATA_TABLES, header_raw), sealed) is None:
            raise TamperedError("The picveil data in this image is damaged or was altered.")  # unused here, but checked
        if rec.look != LOOK_SCRAMBLE:
            original = _painted_original(idx, rkey, region_data, header_raw, [(rg[1] - rg[0], rg[3] - rg[2]) for rg in ranges])
            if original is None:
                raise TamperedError("The picveil data in this image is damaged or was altered.")
            for ci, (rg, arr) in enumerate(zip(ranges, original)):
                coeffs.set_blocks(ci, rg[0], rg[2], arr)
            revealed.append(idx)
            continue
        aux = None
        sealed = region_data.get((idx, DATA_SCHEME_AUX))
        if sealed is not None:
            aux = rkey.open(DATA_SCHEME_AUX, _region_data_aad(idx, DATA_SCHEME_AUX, header_raw), sealed)
            if aux is None:
                raise TamperedError("The picveil data in this image is damaged or was altered.")
        try:
            original = sch.reveal(blocks, rkey, quant, aux)
        except ValueError:
            raise TamperedError("The picveil data in this image is damaged or was altered.") from None
        for ci, (rg, arr) in enumerate(zip(ranges, original)):
            coeffs.set_blocks(ci, rg[0], rg[2], arr)
        revealed.append(idx)
    if require_all and locked:
        raise NotRecipientError(f"The given keys open {len(revealed)} of {len(header.regions)} regions.")
    body = coeffs.encode()
    # The protected file's metadata was allow-listed at protection; copy it, minus picveil's APP11.
    segments = select_metadata(data, MetadataPolicy(keep_all=True))
    out = markers.insert_segments(body, segments)
    return out, RevealReport(None, tuple(revealed), tuple(locked), out, tuple(warnings))


def _painted_original(idx: int, rkey, region_data: dict, header_raw: bytes, shapes) -> list[np.ndarray] | None:
    """A painted region's original quantized blocks from its ``pvrd`` kind-2 or
    kind-3 entry (container SPEC §4.3); None where it has none.

    Raises
    ------
    TamperedError
        The entry does not authenticate or decode to the region's block shapes.
    """
    from .container.region_data import DATA_ORIGINAL, DATA_ORIGINAL_JPEG

    kind = DATA_ORIGINAL_JPEG if (idx, DATA_ORIGINAL_JPEG) in region_data else DATA_ORIGINAL
    sealed = region_data.get((idx, kind))
    if sealed is None:
        return None
    plain = rkey.open(kind, _region_data_aad(idx, kind, header_raw), sealed)
    if plain is None:
        raise TamperedError("The picveil data in this image is damaged or was altered.")
    if kind == DATA_ORIGINAL_JPEG:
        from .jpeg.blockpack import unpack_blocks

        original = unpack_blocks(plain, shapes)
        if original is None:
            raise TamperedError("The picveil data in this image is damaged or was altered.")
        return original
    try:
        return _blocks_from_bytes(zlib.decompress(plain), shapes)
    except zlib.error:
        raise TamperedError("The picveil data in this image is damaged or was altered.") from None


def _header_component_rects(header, rect: McuRect) -> list[tuple[int, int, int, int]]:
    """:func:`_component_rects` from a container header's geometry (no coefficients at hand)."""
    hmax = max(c.h_samp for c in header.components)
    vmax = max(c.v_samp for c in header.components)
    out = []
    for c in header.components:
        wb = -(-(-(-header.width * c.h_samp // hmax)) // 8)
        hb = -(-(-(-header.height * c.v_samp // vmax)) // 8)
        out.append((rect.y * c.v_samp, min((rect.y + rect.h) * c.v_samp, hb), rect.x * c.h_samp, min((rect.x + rect.w) * c.h_samp, wb)))
    return out


def _reveal_from_originals(
    data: bytes, header, header_raw: bytes, unlocked: dict, region_data: dict, sch, max_pixels: int, require_all: bool,
    output_format: str,
) -> tuple[bytes, RevealReport] | None:
    """The regions of a picture that is no longer the protected file (a network
    re-encoded it, resized it, served it as WebP; its container kept, or its
    sidecar beside it) pasted from the originals the picveil data holds.

    Each region the keys open gets its original pixels, decoded from its
    original blocks (``pvrd`` kind 2 or 3; a scramble-v5…v8 region's kind 1)
    with the protected file's quantization tables (kind 4), shrunk or enlarged
    as the picture was. None where that cannot be done, and the caller goes on
    as before: data written before kind 4 existed, a region whose scheme's
    data is not its original (scramble-v1…v4), a picture whose shape is not
    the protected one's (cropped, turned).

    Raises
    ------
    TamperedError
        A sealed entry does not authenticate or decode.
    NotRecipientError
        With `require_all`, a region the keys do not open.
    """
    from .container.region_data import DATA_SCHEME_AUX, DATA_TABLES
    from .jpeg.pixels import blocks_to_pixels
    from .robust.reveal import _decode_image, encode_output

    regions = [(i, r) for i, r in enumerate(header.regions) if r.group in unlocked]
    if not regions or any((i, DATA_TABLES) not in region_data for i, _ in regions):
        return None
    if any(r.look == LOOK_SCRAMBLE and not getattr(sch, "aux_is_original", False) for _, r in regions):
        return None
    image, _ = _decode_image(data, max_pixels)
    rh, rw = image.shape[:2]
    sx, sy = rw / header.width, rh / header.height
    if abs(sx - sy) * max(header.width, header.height) > 2.0:  # not the protected picture's shape
        return None
    from .robust.reveal import CROP_MAX_PX, _resize_size

    near = 0 <= header.width - rw <= CROP_MAX_PX and 0 <= header.height - rh <= CROP_MAX_PX
    if near and (rw, rh) != (header.width, header.height) and not _resize_size(header, rw, rh):
        return None  # a few pixels cropped, not resized: pasting at the scaled place would misplace the regions
    record = _picture_record(header, header_raw, unlocked, region_data)
    if record is not None:
        from .robust.reveal import _luma64

        if not _same_picture(record[1], _luma64(image)):
            raise ContentModifiedError(
                "This picveil data does not match the picture it came with: that is not the protected picture as "
                "it was (another photo, or this one flipped, turned or edited), so its regions cannot be placed.",
                hint="Reveal the protected photo, or a network's copy of it, beside its own sidecar.",
            )
    sampling = [(c.h_samp, c.v_samp) for c in header.components]
    rgb = len(sampling) == 3 and tuple(c.id for c in header.components) == (82, 71, 66)  # 'R', 'G', 'B'
    out = np.array(image)
    revealed, locked = [], [i for i, r in enumerate(header.regions) if r.group not in unlocked]
    if require_all and locked:
        raise NotRecipientError(f"The given keys open {len(regions)} of {len(header.regions)} regions.")
    for idx, rec in regions:
        rect = McuRect(rec.x, rec.y, rec.w, rec.h, rec.group)
        ranges = _header_component_rects(header, rect)
        shapes = [(rg[1] - rg[0], rg[3] - rg[2]) for rg in ranges]
        rkey = unlocked[rec.group].region_key(rec.salt)
        sealed = region_data[(idx, DATA_TABLES)]
        plain = rkey.open(DATA_TABLES, _region_data_aad(idx, DATA_TABLES, header_raw), sealed)
        try:
            raw = zlib.decompress(plain) if plain is not None else b""
        except zlib.error:
            raw = b""
        if len(raw) != 128 * len(sampling):
            raise TamperedError("The picveil data in this image is damaged or was altered.")
        tables = [np.frombuffer(raw[128 * c : 128 * (c + 1)], dtype=">u2").reshape(8, 8) for c in range(len(sampling))]
        if rec.look == LOOK_SCRAMBLE:
            sealed = region_data.get((idx, DATA_SCHEME_AUX))
            aux = rkey.open(DATA_SCHEME_AUX, _region_data_aad(idx, DATA_SCHEME_AUX, header_raw), sealed) if sealed else None
            if aux is None:
                raise TamperedError("The picveil data in this image is damaged or was altered.")
            try:
                original = sch.reveal([np.zeros(sh + (8, 8), np.int16) for sh in shapes], rkey, tables, aux)
            except ValueError:
                raise TamperedError("The picveil data in this image is damaged or was altered.") from None
        else:
            original = _painted_original(idx, rkey, region_data, header_raw, shapes)
            if original is None:
                raise TamperedError("The picveil data in this image is damaged or was altered.")
        box = rect.pixels(header.mcu_width, header.mcu_height, header.width, header.height)
        pixels = blocks_to_pixels(original, tables, sampling, (box.w, box.h), rgb=rgb)
        x0, y0 = round(box.x * sx), round(box.y * sy)
        x1, y1 = min(round((box.x + box.w) * sx), rw), min(round((box.y + box.h) * sy), rh)
        if x1 <= x0 or y1 <= y0:
            continue
        if (x1 - x0, y1 - y0) != (box.w, box.h):
            from PIL import Image

            pixels = np.asarray(Image.fromarray(pixels).resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS))
        if out.ndim == 2 and pixels.ndim == 3:  # the network made it gray
            pixels = np.clip(np.rint(pixels @ np.array([0.299, 0.587, 0.114])), 0, 255).astype(np.uint8)
        elif out.ndim == 3 and pixels.ndim == 2:
            pixels = np.repeat(pixels[..., None], 3, axis=-1)
        out[y0:y1, x0:x1] = pixels
        revealed.append(idx)
    encoded = encode_output(out, output_format, orientation=_received_orientation(data))
    resized = "" if (rw, rh) == (header.width, header.height) else f", {'shrunk' if sx < 1 else 'enlarged'} to {rw}×{rh}"
    warnings = (
        f"The picture is no longer the protected file (re-encoded or edited{resized}): the regions were restored "
        "from the originals its picveil data holds and pasted into it; the rest of the picture is as received.",
    )
    return encoded, RevealReport(None, tuple(revealed), tuple(locked), encoded, warnings)


def _reveal_from_pixels(
    data: bytes,
    *,
    keyring=None,
    identities=(),
    passphrase: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    require_all: bool = False,
    fallback: Exception | None = None,
    output_format: str = "jpeg",
) -> tuple[bytes, RevealReport]:
    """Reveal from the robust in-image header when the container is gone or no
    longer matches the pixels (re-encoded, resized): the regions are inverted
    on the decoded pixels with the keyring's circles (robust/SPEC.md §13).

    The result is a JPEG at quality 95, at the received size (or, when only
    the metadata was stripped from a scramble-v1/v3 image, the exactly restored
    JPEG). If the picture carries no robust header either, `fallback` (the
    container path's own error) is raised when given, else
    :class:`NoPicveilDataError`.
    """
    from .robust.reveal import encode_output, reveal_pixels

    kr = _keyring_for_reveal(keyring, explicit=bool(identities or passphrase))
    try:
        rgb, rep = reveal_pixels(data, keyring=kr, identities=identities or (), max_pixels=max_pixels)
    except NoPicveilDataError:
        if fallback is not None:
            raise fallback from None
        raise NoPicveilDataError(
            "This image carries no picveil data: no container, and no in-image header in its pixels.",
            hint=(
                "If a platform served it, it may have been cropped or edited; ask for the file as it was posted. "
                "A screenshot works when it holds the whole photo (a plain background around it is fine). "
                "Instagram crops photos narrower than 4:5 or wider than 1.91:1: protect with --platform instagram, "
                "which pads them."
            ),
        ) from None
    locked = tuple(sorted(rep.locked + rep.container_only))
    if require_all and locked:
        raise NotRecipientError(f"The keyring opens {len(rep.revealed)} of {len(rep.header.regions)} regions.")
    orientation = _received_orientation(data)
    out = rep.jpeg or encode_output(rgb, output_format, orientation=orientation)  # the exact JPEG when the coefficients were intact
    if rep.jpeg and orientation != 1:  # shown as the received file was
        from .jpeg.markers import insert_segments
        from .jpeg.metadata import APP1
        from .robust.reveal import orientation_exif

        out = insert_segments(out, [(APP1, orientation_exif(orientation))])
    if rep.jpeg and rep.source == "jpeg-coefficients (integer)":
        warnings: tuple[str, ...] = (
            "Revealed from the file's own coefficients (the picveil data was stripped, the picture was not "
            "re-encoded): every detail is exact, each 8x8 block's brightness within one quantization step; "
            "the file with its picveil data reveals bit for bit.",
        )
    else:
        warnings = () if rep.jpeg else (
            "Revealed from the pixels (the picveil data was stripped or the picture re-encoded): "
            "the regions are the best the received pixels allow, not exact.",
        )
    if rep.low_res:  # painted regions shown from their thumbnails (robust/SPEC.md §13.7)
        names = ", ".join(str(i + 1) for i in rep.low_res)
        warnings += (
            f"Region{'s' if len(rep.low_res) > 1 else ''} {names}: low-resolution cop"
            f"{'ies' if len(rep.low_res) > 1 else 'y'} only (the original travels in the picveil data, "
            "which was stripped); reveal the original file or its sidecar for the exact picture.",
        )
    if rep.resampling:
        resized = "shrunk" if rep.scale < 1 else "enlarged"
        warnings += (f"The picture had been {resized} to {rep.scale:.0%} of its protected size; the reveal modelled the "
                     f"platform's resampling as {rep.resampling} (estimated from the picture) and returns it at the received size.",)
    if rep.rotated or rep.mirrored:
        turn = {0: "", 90: "a quarter turn anticlockwise", 180: "a half turn", 270: "a quarter turn clockwise"}[rep.rotated]
        how = f"mirrored{' and given ' + turn if turn else ''}" if rep.mirrored else f"given {turn}"
        warnings += (f"The picture had been {how} (a platform applied its orientation, or an editor); "
                     "it was revealed turned back, and is returned as received.",)
    if rep.frame:
        x0, y0, x1, y1 = rep.frame
        warnings += (f"The photo sat inside a plain border (a screenshot?): picveil revealed the {x1 - x0}×{y1 - y0} "
                     f"picture at {x0},{y0} and returns the whole image as received.",)
    if rep.to_srgb:
        warnings += ("The copy was in another colour space (its ICC profile is not sRGB's): it was converted to sRGB, "
                     "revealed, and is returned in sRGB.",)
    if rep.tone:
        b, c = rep.tone
        warnings += (f"The picture's brightness had been edited (about {b:+.1f} grey levels, contrast {1 + c:.2f}×); the "
                     "reveal undid that to read the regions and gave the revealed regions the same edit.",)
    if rep.cropped:
        warnings += (_crop_note(rep.cropped) + " The reveal put it back in place and returns it as received; a region "
                     "that reached a cut edge lost those pixels, and comes back noisier there.",)
    revealed = tuple(sorted(rep.revealed + rep.low_res))
    return out, RevealReport(None, revealed, locked, out, warnings)


def _crop_note(cut: tuple[int, int, int, int]) -> str:
    """"The picture had been cropped by 1 px on the left and 2 px at the bottom." """
    sides = [f"{n} px {where}" for n, where in zip(cut, ("on the left", "at the top", "on the right", "at the bottom")) if n]
    return f"The picture had been cropped by {' and '.join(sides)}."


def _no_key_given(container, why: str = "") -> NotRecipientError:
    """The error for a reveal given no key that the container needs: says which kinds of key open it."""
    from . import crypto

    kinds = {w.kind for g in container.groups for w in g.wraps}
    needs = [what for kind, what in ((crypto.WRAP_PASSPHRASE, "a passphrase (--passphrase)"),
                                     (crypto.WRAP_X25519, "an age identity (-i KEY)")) if kind in kinds]
    return NotRecipientError(
        f"No key was given{why}.",
        hint=f"It was protected for {' or '.join(needs)}." if needs else None,
    )


def _received_orientation(data: bytes) -> int:
    """The EXIF Orientation (1..8) of a received picture (JPEG, PNG, WebP); 1 when it has none or it cannot be read."""
    try:
        from .jpeg.loading import probe_image

        return probe_image(data)[3]
    except Exception:  # noqa: BLE001 - a picture the reveal decoded anyway: shown as stored
        return 1


def _keyring_for_reveal(keyring, *, explicit: bool):
    """The keyring to try circles with: the given one, else the default one if it exists.

    With explicit identities or a passphrase, a missing or locked default
    keyring is silently skipped; without them its errors are reported.
    """
    from . import crypto

    if isinstance(keyring, crypto.Keyring):
        return keyring
    if keyring is False:
        return None
    home = Path(keyring) if keyring is not None else crypto.default_home()
    if not (home / "keyring.age").exists():
        if keyring is not None and not explicit:  # a keyring the caller named, which is not there: a typo?
            from .errors import KeyringNotFoundError

            raise KeyringNotFoundError(f"There is no keyring at {home}.", hint="Check the folder (--keyring), or leave it out for your default keyring.")
        return None
    try:
        return crypto.Keyring.open(home)
    except Exception:
        if explicit:
            return None
        raise


def reveal(image: Source, **options) -> bytes:
    """Reveal the regions the given keys open; return the restored JPEG bytes.

    Parameters
    ----------
    image : bytes or path
        A picveil-protected JPEG.
    identities : path, :class:`picveil.crypto.Identity`, or a sequence of them
        age identity files (``AGE-SECRET-KEY-1…``), as written by
        ``picveil keygen`` or ``age-keygen``.
    passphrase : str, optional
    keyring : Keyring, path or False, optional
        Keyring whose circles are tried (default: the user's keyring if it
        exists; ``False`` disables it).
    require_all : bool
        Raise :class:`NotRecipientError` unless every region opens. By default
        regions the keys cannot open stay protected in the output.
    output_format : {"jpeg", "png"}
        ``"png"``: the revealed pixels as a lossless PNG (:func:`reveal_file`
        picks it from a ``.png`` output name).

    The restored regions decode to exactly the coefficients of the input
    that was protected. The output carries no picveil container.
    """
    return _reveal(image, **options)[0]


def reveal_file(src: PathLike, dst: PathLike, *, overwrite: bool = False, **options) -> RevealReport:
    """Reveal ``src`` into ``dst`` (written atomically); returns what was restored."""
    dst = _check_output(dst, Path(src), overwrite)
    options.setdefault("output_format", format_for_output(dst, ("jpeg", "png"), "picveil reveal"))
    out, report = _reveal(Path(src), **options)
    write_atomic(dst, out)
    return RevealReport(dst, report.revealed, report.locked, out, report.warnings)


# --- inspect ---------------------------------------------------------------------------------
def _region_infos(header, groups) -> tuple[RegionInfo, ...]:
    from . import crypto

    counts = {}
    for g in groups:
        n = sum(crypto.count_age_stanzas(w.data) for w in g.wraps if w.kind == crypto.WRAP_X25519)
        pw = any(w.kind == crypto.WRAP_PASSPHRASE for w in g.wraps)
        circ = next((w.data.hex() for w in g.wraps if w.kind == crypto.WRAP_CIRCLE), None)
        counts[g.index] = (n, pw, circ)
    from .looks import LOOK_NAMES as looks
    infos = []
    for i, r in enumerate(header.regions):
        rect = McuRect(r.x, r.y, r.w, r.h, r.group)
        n, pw, circ = counts.get(r.group, (0, False, None))
        infos.append(
            RegionInfo(
                index=i,
                box=rect.pixels(header.mcu_width, header.mcu_height, header.width, header.height),
                group=r.group,
                look=looks.get(r.look, f"look-{r.look}"),
                recipients=n,
                passphrase=pw,
                circle=circ,
            )
        )
    return tuple(infos)


def _subsampling(header) -> str:
    comps = header.components
    if len(comps) == 1:
        return "grayscale"
    h = [c.h_samp for c in comps]
    v = [c.v_samp for c in comps]
    if all(x == 1 for x in h[1:] + v[1:]):
        return {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (1, 2): "4:4:0", (4, 1): "4:1:1"}.get((h[0], v[0]), "other")
    return "other"


def inspect(image: Source) -> Inspection:
    """Describe the picveil data an image carries; needs no key.

    Raises :class:`NoPicveilDataError` when the image carries none.
    """
    from .schemes import get_scheme

    data, _ = _read_source(image)
    try:
        c = _load_container(data)
    except NoPicveilDataError as exc:
        return _inspect_pixels(data, exc)
    h = c.header
    try:
        scheme_name = get_scheme(h.scheme_id).name
    except Exception:
        scheme_name = f"unknown ({h.scheme_id})"
    return Inspection(
        format_version=h.version,
        scheme=scheme_name,
        scheme_id=h.scheme_id,
        width=h.width,
        height=h.height,
        mcu=(h.mcu_width, h.mcu_height),
        subsampling=_subsampling(h),
        regions=_region_infos(h, c.groups),
        groups=len(c.groups),
        extra_boxes=tuple(e.box_type.decode("latin-1") for e in c.extras),
        warnings=_warnings(_region_infos(h, c.groups)),
    )


def _inspect_pixels(data: bytes, no_container: NoPicveilDataError) -> Inspection:
    """:func:`inspect` of a picture whose picveil data was stripped, from its
    in-image header (found as the reveal finds it); `no_container` is raised
    when it has none either."""
    from .looks import LOOK_NAMES
    from .robust.reveal import read_header
    from .schemes import get_scheme

    try:
        rh, where = read_header(data)
    except NoPicveilDataError:
        raise no_container from None
    try:
        scheme_name = get_scheme(rh.scheme_id).name
    except Exception:
        scheme_name = f"unknown ({rh.scheme_id})"
    infos = tuple(
        RegionInfo(
            index=i, box=Box(*rh.region_box(i)), group=r.group, look=LOOK_NAMES.get(r.look, f"look-{r.look}"),
            recipients=0, passphrase=False, circle=rh.groups[r.group].circle_id.hex(),
        )
        for i, r in enumerate(rh.regions)
    )
    rw, rh_ = where.received_size
    received = f"{rw}×{rh_}"
    if where.scale != 1.0:
        received += f", {'shrunk' if where.scale < 1 else 'enlarged'} to {where.scale:.0%} of {rh.width}×{rh.height}"
    if where.mirrored:
        received += ", mirrored"
    if where.rotated:
        received += f", turned {where.rotated}°"
    if where.frame:
        x0, y0, x1, y1 = where.frame
        received += f", the photo at {x0},{y0} inside a plain border ({x1 - x0}×{y1 - y0})"
    if where.cropped:
        received += ", " + _crop_note(where.cropped)[len("The picture had been "):].rstrip(".")
    notes = (
        "Read from the in-image header: the picveil data was stripped (a downloaded or re-encoded copy). "
        "Members of the circle(s) named by the id prefixes above reveal it with their keyring; "
        "age recipients and passphrases need the original file.",
    )
    if where.rotated or where.mirrored:
        placement = None
    elif where.frame:
        x0, y0, x1, y1 = where.frame
        placement = (x0, y0, x1 - x0, y1 - y0)
    else:
        placement = (0, 0, rw, rh_)
    return Inspection(
        format_version=1, scheme=scheme_name, scheme_id=rh.scheme_id, width=rh.width, height=rh.height,
        mcu=rh.mcu, subsampling=rh.layout, regions=infos, groups=len(rh.groups),
        warnings=notes + _warnings(infos), source="in-image header", received=received, placement=placement,
    )


def _warnings(infos) -> tuple[str, ...]:
    from .looks import leak_warning

    out = []
    for name in dict.fromkeys(r.look for r in infos):
        w = leak_warning(name)
        if w:
            regions = ", ".join(str(r.index + 1) for r in infos if r.look == name)
            out.append(f"region(s) {regions}: {w}")
    return tuple(out)
