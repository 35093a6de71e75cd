"""Protection schemes: keyed, invertible transforms of a region's DCT blocks.

One module per scheme; each module's docstring says what the scheme
preserves and what it leaks. Schemes are pure numpy functions: they receive
a key-stream source from :mod:`picveil.crypto` and never see key bytes.
The container stores the scheme's numeric id, so a file names exactly the
transform that produced it.
"""

from __future__ import annotations

from ..errors import UnsupportedVersionError
from .base import Protected, Scheme
from .scramble_v1 import ScrambleV1
from .scramble_v2 import ScrambleV2
from .scramble_v3 import ScrambleV3
from .scramble_v4 import ScrambleV4
from .scramble_v5 import ScrambleV5
from .scramble_v6 import ScrambleV6
from .scramble_v7 import ScrambleV7
from .scramble_v8 import ScrambleV8
from .searchable_v1 import SearchableV1
from .searchable_v2 import SearchableV2

_SCHEMES: dict[int, Scheme] = {s.scheme_id: s for s in (ScrambleV1(), ScrambleV2(), ScrambleV3(), ScrambleV4(), ScrambleV5(), ScrambleV6(), ScrambleV7(), ScrambleV8(), SearchableV1(), SearchableV2())}
_BY_NAME = {s.name: s for s in _SCHEMES.values()}
#: The default since the eleventh session (issue 3): scramble-v6, scramble-v5's
#: transform (every frequency shown at a fixed energy, mixed over the region, so
#: that the audit's attackers (CNN, global statistics, block spectrum) score at
#: chance, where scramble-v4 kept each block's texture and colour and let them
#: name 37-69 %) with its gains coded in 57 bytes instead of 79, so that its
#: in-image header fits more photos. Since the thirteenth session scramble-v7:
#: the same, with a chroma target three times higher, so that a colourful
#: region's reveal after a platform's re-encode loses less of its colour. Since the
#: seventeenth session scramble-v8: scramble-v7's transform with its gains written
#: in about 39 bytes instead of 57 (a prefix code), so that its in-image header
#: fits outside the regions of more photos instead of going over them.
DEFAULT_SCHEME = ScrambleV8.name
#: What a protect for circles falls back to when the default's in-image header
#: (its sealed gains) fits the photo nowhere and scramble-v4's does (``api``).
CIRCLE_FALLBACK_SCHEME = ScrambleV4.name
#: The default of a whole-image protection (``--whole``): searchable-v2, whose
#: tile-bounded permutation lets search reach ~0.9 of plaintext (issue 8).
DEFAULT_WHOLE_SCHEME = SearchableV2.name


def get_scheme(key: int | str) -> Scheme:
    """Return the scheme with this numeric id or name.

    Raises :class:`UnsupportedVersionError` for an unknown id (a newer file)
    and ``ValueError`` for an unknown name (a caller mistake).
    """
    if isinstance(key, str):
        try:
            return _BY_NAME[key]
        except KeyError:
            raise ValueError(f"unknown scheme {key!r}; known: {', '.join(sorted(_BY_NAME))}") from None
    try:
        return _SCHEMES[key]
    except KeyError:
        raise UnsupportedVersionError(f"This image uses protection scheme {key}, which this picveil does not know.") from None


def leak_summary(name: str) -> str | None:
    """What anyone can read without a key, for the schemes that leak by design (searchable), else None."""
    from . import searchable_v1, searchable_v2

    return {SearchableV1.name: searchable_v1.LEAK_SUMMARY, SearchableV2.name: searchable_v2.LEAK_SUMMARY}.get(name)


def scheme_names() -> list[str]:
    return sorted(_BY_NAME)


__all__ = ["CIRCLE_FALLBACK_SCHEME", "DEFAULT_SCHEME", "DEFAULT_WHOLE_SCHEME", "Protected", "Scheme", "get_scheme", "leak_summary", "scheme_names"]
