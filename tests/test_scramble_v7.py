"""scramble-v7: scramble-v6 with the chroma AC target three times higher
(container SPEC §10.6). The vector and a literal reading of the target; its
parameters and scramble-v6's never open as each other's; and the point of the
scheme: a colourful region's chroma comes back from a re-encode with far less
error, same photo, box and keys."""

import io
import os
from pathlib import Path

import numpy as np
import pytest

from picveil.crypto import RegionKey
from picveil.schemes import get_scheme
from picveil.schemes import scramble_v5 as v5
from picveil.schemes import scramble_v6 as v6
from picveil.schemes import scramble_v7 as v7

from .conftest import decode, load_mix_vector
from .test_scramble_v6 import check_vector

VECTOR = Path(__file__).parent / "vectors" / "scramble_v7.json"
SCHEME = get_scheme("scramble-v7")


def literal_chroma_target() -> np.ndarray:
    """SPEC §10.6: §10.4's TARGET_CHROMA, every AC entry × 3, DC kept."""
    t = np.array(v5.TARGET_CHROMA, dtype=np.float64)
    t[1:] = t[1:] * 3
    return t


def test_vector_and_the_literal_reading():
    assert SCHEME.scheme_id == 8 and isinstance(SCHEME, v6.ScrambleV6)
    assert np.array_equal(v7.target(1), literal_chroma_target()) and np.array_equal(v7.target(0), v5.TARGET_LUMA)
    check_vector(VECTOR, SCHEME, literal_chroma_target())
    # the same blocks and key under scramble-v6: the luma is the same, the chroma is not
    vec6 = load_mix_vector(Path(__file__).parent / "vectors" / "scramble_v6.json")[0]
    vec7 = load_mix_vector(VECTOR)[0]
    luma6, luma7 = vec6["components"][0], vec7["components"][0]
    assert luma6["codes_zigzag"] == luma7["codes_zigzag"] and luma6["output"] == luma7["output"]
    for c6, c7 in zip(vec6["components"][1:], vec7["components"][1:]):
        assert c6["output"] != c7["output"]
        coded = [(a, b) for a, b in zip(c6["codes_zigzag"][1:], c7["codes_zigzag"][1:]) if a and b]
        # ρ̂ / T: three times the target is log2(3) octaves, about 3.2 half-octave codes lower
        assert coded and all(2 <= a - b <= 4 for a, b in coded)


def test_parameters_open_only_under_their_own_scheme():
    codes = [v6.encode_codes(v5.TARGET_LUMA * 0.5, np.full(64, 0.5), 0), v7.BrightChromaCodec().encode(v7.TARGET_CHROMA * 2.0, np.full(64, 0.5), 1)]
    codes.append(codes[1].copy())
    key = RegionKey(b"k" * 32)
    sealed = key.seal_short(v7.PARAMS_LABEL, b"", v6.pack_params(codes, [0, 1, 2]))
    opened = SCHEME.codec.open(key, sealed, 3)
    assert opened is not None and all(np.array_equal(a, b) for a, b in zip(opened[0], codes)) and opened[1] == [0, 1, 2]
    assert get_scheme("scramble-v6").codec.open(key, sealed, 3) is None
    assert SCHEME.codec.open(key, key.seal_short(v6.PARAMS_LABEL, b"", v6.pack_params(codes, [0, 1, 2])), 3) is None
    # the gains follow the target: the same chroma, three times the gain on AC (within the half-octave grid)
    d = v5.dither(key, 1)
    rho = v5.TARGET_CHROMA * np.exp(np.random.default_rng(0).normal(0, 1, 64))
    c6, c7 = get_scheme("scramble-v6").codec, SCHEME.codec
    g6, g7 = c6.gains(c6.encode(rho, d, 1), d, 1), c7.gains(c7.encode(rho, d, 1), d, 1)
    ac = v5.transmitted(1)[1:]
    assert np.all((g7[ac] / g6[ac] > 3 * 2**-0.5) & (g7[ac] / g6[ac] < 3 * 2**0.5)) and g7[0] == g6[0]


def _ycc(rgb: np.ndarray) -> np.ndarray:
    m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
    return np.asarray(rgb, dtype=np.float64) @ m.T


def _protect(tmp_path, photo: bytes, box, scheme: str, seed: int):
    """`photo` protected for a new circle with `scheme`, keys and salts from a seeded generator."""
    from picveil import api
    from picveil.crypto import Keyring

    with pytest.MonkeyPatch.context() as mp:
        rng = np.random.default_rng(seed)
        mp.setattr(os, "urandom", lambda n: rng.bytes(n))
        me = Keyring.open(tmp_path / scheme, create=True)
        me.create_circle("family")
        out, _, _ = api._protect(photo, [box], circle="family", keyring=me, scheme=scheme)
    return me, out


def test_a_colourful_region_keeps_its_colour_through_a_re_encode(tmp_path):
    """scikit-image's chelsea (an orange cat) at 800×600, q92, one box, the
    same keys for both schemes: after JPEG q75 and WebP 75 the revealed
    region's chroma error (Cb + Cr squared error per pixel) with scramble-v7 is
    below 3/5 of scramble-v6's (measured 2.72 -> 1.12 and 5.44 -> 2.01; the
    unprotected photo through the same chains: 3.37 and 5.14). The price is
    the luma's: more of the shown region clips, and the luma error grows by
    up to a third (1.69 -> 2.16 and 4.77 -> 5.38; unprotected 3.86 and 10.93)."""
    from PIL import Image
    from skimage import data

    from picveil.platforms.simulate import parse_chain
    from picveil.robust import reveal as rv

    rgb = np.asarray(Image.fromarray(data.chelsea()).resize((800, 600), Image.Resampling.LANCZOS))
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=92)
    photo = buf.getvalue()
    box = (224, 64, 192, 224)
    x, y, w, h = box
    orig = _ycc(decode(photo)[y : y + h, x : x + w])
    errors = {}
    for scheme in ("scramble-v6", "scramble-v7"):
        me, out = _protect(tmp_path, photo, box, scheme, seed=1)
        for chain in ("strip,jpeg:75", "strip,webp:75"):
            got = _ycc(rv.reveal_pixels(parse_chain(chain).run(out), keyring=me)[0][y : y + h, x : x + w])
            e = ((got - orig) ** 2).mean(axis=(0, 1))
            errors[scheme, chain] = (e[0], e[1] + e[2])
    for chain in ("strip,jpeg:75", "strip,webp:75"):
        (l6, c6), (l7, c7) = errors["scramble-v6", chain], errors["scramble-v7", chain]
        assert c7 < 0.6 * c6, (chain, errors)
        assert l7 < 1.4 * l6 and l7 + c7 < 0.85 * (l6 + c6), (chain, errors)


def test_a_gray_region_is_scramble_v6s_but_for_the_label():
    """The target differs only in chroma: a gray region (one component) gets the very
    coefficients scramble-v6 writes with the same key, so the privacy audit's
    grayscale digits and clothes (docs/audit/v6-128) measure scramble-v7 too; only
    the sealed parameters differ (their label)."""
    rng = np.random.default_rng(8)
    blocks = [np.rint(rng.laplace(0, 6, (5, 7, 8, 8)) / (1 + np.add.outer(np.arange(8), np.arange(8)))).astype(np.int16)]
    quant = [np.full((8, 8), 4, dtype=np.uint16)]
    key = RegionKey(bytes(range(32, 64)))
    p6, p7 = get_scheme("scramble-v6").protect(blocks, key, quant), SCHEME.protect(blocks, key, quant)
    assert np.array_equal(p6.blocks[0], p7.blocks[0]) and p6.aux == p7.aux
    assert p6.robust != p7.robust and len(p6.robust) == len(p7.robust) == 38
    assert SCHEME.codec.open(key, p7.robust, 1)[0][0].tolist() == get_scheme("scramble-v6").codec.open(key, p6.robust, 1)[0][0].tolist()
