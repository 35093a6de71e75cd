"""scramble-v7: scramble-v6 with the chroma brought to a three times higher energy.

scramble-v5 and -v6 (:mod:`.scramble_v5`, :mod:`.scramble_v6`) multiply each
frequency of a region by ``g_f = T_f / ρ̂_f`` so that it shows the public
energy ``T_f²`` whatever the region holds; a reveal divides by the same gains,
so the noise a platform adds to a frequency comes back multiplied by
``ρ_f / T_f``. Their chroma target (:data:`.scramble_v5.TARGET_CHROMA`) is
the mean chroma spectrum of photos × 1.5. Chroma varies far more between
photos than luma does, and a platform quantizes chroma coarsely (libjpeg's
q75 chroma steps are 9–50 where that target's AC rms is 1–26): on a colourful
region the gains are well below 1, the platform's re-encode zeroes most of
the scrambled chroma, and the reveal amplifies what is left of its noise.
Measured with fixed keys and boxes (twelfth and thirteenth sessions), the
revealed chroma of colourful photos (scikit-image's scenetext05, opencv-doc's
aloeL) after a q75 re-encode had 2–10× the squared error of the same photo
re-encoded without protection.

scramble-v7 differs from scramble-v6 in one public constant, the chroma
target, and in its sealing label:

* **Chroma AC target × 3** (:data:`CHROMA_SCALE`, :data:`TARGET_CHROMA`);
  DC and luma keep scramble-v5's. The price is more clipping where a viewer
  shows the region (R and B swing with the chroma): a lossless copy of the
  shown region clips 2.0–2.9 % of its pixels instead of 1.1–1.8 % (seven
  packaged photos), and the revealed luma's error grows by 10–50 % on a
  lossless copy and up to a third after JPEG q75. Fixed keys and boxes, the
  gap to the unprotected photo through JPEG q75 went from −2.77 to −1.87 dB
  on average over ten photos (none worse by more than 0.07 dB); after JPEG
  q95 it moved by −0.7 to +1.7 dB. ``× 2`` and ``× 4`` were about as good at
  q75; ``× 4`` was better at q50 and WebP 75 and worse on lossless copies,
  ``× 6`` worse everywhere; halving the chroma DC target as well (less
  clipping) cost more chroma than it saved luma.
* Everything else is scramble-v6's: the transform and key streams of
  container SPEC §10.4, the gain codes of §10.5 (relative to the target, so
  their meaning follows it), the parameter sizes (57 bytes sealed for a
  colour region, 38 for gray: a gray region is scramble-v6's exactly), and
  the dither's guarantee: the energies the picture shows are ``T_f²`` times a
  factor that carries nothing of the region, so the new target changes no
  privacy property (the target is public and the same for every region).

Sealing label ``"picveil scramble-v7 gains"``: a scramble-v6 reader opening
scramble-v7 parameters (or the reverse) fails the tag instead of revealing
with the wrong target.

What it leaks: as scramble-v5, the region's size and position.
"""

from __future__ import annotations

import numpy as np

from . import scramble_v5 as v5
from . import scramble_v6 as v6

PARAMS_LABEL = b"picveil scramble-v7 gains"
#: Factor on scramble-v5's chroma AC target.
CHROMA_SCALE = 3.0
#: ``(64,)`` chroma target rms (natural order): scramble-v5's, AC × :data:`CHROMA_SCALE`, DC kept.
TARGET_CHROMA = np.concatenate([v5.TARGET_CHROMA[:1], v5.TARGET_CHROMA[1:] * CHROMA_SCALE])
TARGET_CHROMA.setflags(write=False)


def target(ci: int) -> np.ndarray:
    """``(64,)`` target rms of component `ci` (natural order): scramble-v5's
    luma target for component 0, :data:`TARGET_CHROMA` for the others."""
    return v5.TARGET_LUMA if ci == 0 else TARGET_CHROMA


class BrightChromaCodec(v6.CompactCodec):
    """scramble-v6's codes, relative to scramble-v7's target."""

    label = PARAMS_LABEL
    target = staticmethod(target)


class ScrambleV7(v6.ScrambleV6):
    """scramble-v6 with :data:`TARGET_CHROMA` (module docstring)."""

    scheme_id = 8
    name = "scramble-v7"
    codec = BrightChromaCodec()
