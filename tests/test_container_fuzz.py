"""Fuzzing the container parser (SPEC.md §1: canonical encoding).

(a) Random mutations of valid payload lists end in one of the three parser
    errors, or in a container that re-serialises to exactly the (mutated)
    picveil packets.
(b) Random valid containers round-trip.
(c) Arbitrary bytes never crash the parser; the overlap sweep agrees with
    brute force.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import picveil.container as container_pkg
from picveil.container import (
    AGE_PREFIX,
    ComponentInfo,
    Container,
    ExtraBox,
    Header,
    KeyGroup,
    RegionRecord,
    Wrap,
    decode_container,
    encode_container,
    from_app11_payloads,
    is_picveil_packet,
    to_app11_payloads,
)
from picveil.container.format import _find_overlap
from picveil.errors import NoPicveilDataError, TamperedError, UnsupportedVersionError

PARSER_ERRORS = (TamperedError, UnsupportedVersionError, NoPicveilDataError)
VECTOR_DIR = Path(container_pkg.__file__).parent / "vectors"


def _valid_payload_lists() -> list[list[bytes]]:
    seeds = []
    for path in sorted(VECTOR_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc["expected"] == "ok":
            seeds.append([bytes.fromhex(h) for h in doc["app11_payloads_hex"]])
    return seeds


SEEDS = _valid_payload_lists()
SMALL_SEEDS = [s for s in SEEDS if sum(map(len, s)) < 5000]


def canonical(payloads: list[bytes]) -> list[bytes]:
    return sorted((p for p in payloads if is_picveil_packet(p)), key=lambda p: p[4:8])


def check_parse(payloads: list[bytes]) -> None:
    try:
        c = decode_container(payloads)
    except PARSER_ERRORS as exc:
        event(type(exc).__name__)  # shown by pytest --hypothesis-show-statistics
        return
    event("parsed")
    assert encode_container(c) == canonical(payloads)


# --- (a) mutations -------------------------------------------------------------------------
@st.composite
def mutated(draw: st.DrawFn) -> list[bytes]:
    # Mostly small containers, where nearly every byte is structure.
    pool = SMALL_SEEDS if draw(st.integers(0, 9)) else SEEDS
    payloads = [bytearray(p) for p in draw(st.sampled_from(pool))]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "drop", "dup", "swap"]))
        if not payloads:
            break
        i = draw(st.integers(0, len(payloads) - 1))
        p = payloads[i]
        # Positions near the start (packet and box headers) are drawn more often;
        # CI and En (bytes 0..3) less, as hypothesis favours small integers.
        hi = max(len(p) - 1, 0)
        lo = min(4, hi)
        pos = draw(st.one_of(st.integers(lo, min(hi, 120)), st.integers(lo, hi), st.integers(0, hi)))
        if draw(st.booleans()):  # ... or count from the end, where the boxes' tails are
            pos = hi - draw(st.integers(0, min(hi, 120)))
        if op == "flip" and p:
            p[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and p:
            p[pos] = draw(st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xFF]))
        elif op == "insert":
            p[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and p:
            del p[pos : pos + draw(st.integers(1, 8))]
        elif op == "truncate":
            del p[pos:]
        elif op == "drop":
            del payloads[i]
        elif op == "dup":
            payloads.insert(i, bytearray(p))
        elif op == "swap" and len(payloads) > 1:
            j = draw(st.integers(0, len(payloads) - 1))
            payloads[i], payloads[j] = payloads[j], payloads[i]
    return [bytes(p) for p in payloads]


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutations_fail_cleanly_or_round_trip(payloads: list[bytes]) -> None:
    check_parse(payloads)


# --- (b) random valid containers -------------------------------------------------------------
SAMPLINGS = [
    [(1, 1)],
    [(1, 1), (1, 1), (1, 1)],
    [(2, 2), (1, 1), (1, 1)],
    [(2, 1), (1, 1), (1, 1)],
    [(4, 1), (1, 1), (1, 1)],
    [(1, 1), (1, 1), (1, 1), (1, 1)],
    [(1, 2), (1, 1)],
    [(3, 3), (1, 1), (1, 1)],
]


@st.composite
def headers(draw: st.DrawFn, max_groups: int = 4) -> Header:
    sampling = draw(st.sampled_from(SAMPLINGS))
    ids = draw(st.lists(st.integers(0, 255), min_size=len(sampling), max_size=len(sampling), unique=True))
    components = tuple(ComponentInfo(i, h, v) for i, (h, v) in zip(ids, sampling))
    mcu_w = 8 * max(h for h, _ in sampling)
    mcu_h = 8 * max(v for _, v in sampling)
    width = draw(st.integers(1, 65535))
    height = draw(st.integers(1, 65535))
    cols, rows = -(-width // mcu_w), -(-height // mcu_h)
    rects: list[tuple[int, int, int, int]] = []
    for _ in range(draw(st.integers(1, 12))):
        x = draw(st.integers(0, cols - 1))
        y = draw(st.integers(0, rows - 1))
        w = draw(st.integers(1, min(cols - x, 6)))
        h = draw(st.integers(1, min(rows - y, 6)))
        if _find_overlap([*rects, (x, y, w, h)]) is None:
            rects.append((x, y, w, h))
    n_groups = draw(st.integers(1, min(max_groups, len(rects))))
    groups = list(range(n_groups)) + draw(
        st.lists(st.integers(0, n_groups - 1), min_size=len(rects) - n_groups, max_size=len(rects) - n_groups)
    )
    groups = draw(st.permutations(groups))
    regions = tuple(
        RegionRecord(x, y, w, h, g, draw(st.integers(0, 255)), draw(st.binary(min_size=16, max_size=16)))
        for (x, y, w, h), g in zip(rects, groups)
    )
    return Header(
        draw(st.integers(0, 65535)), width, height, mcu_w, mcu_h, components,
        draw(st.binary(min_size=16, max_size=16)), regions,
    )  # fmt: skip


wraps = st.one_of(
    st.builds(Wrap, st.sampled_from([1, 2]), st.binary(max_size=64).map(lambda b: AGE_PREFIX + b)),
    st.builds(Wrap, st.integers(0, 255).filter(lambda k: k not in (1, 2)), st.binary(max_size=64)),
)
tags = st.binary(min_size=32, max_size=32)
box_types = st.binary(min_size=4, max_size=4).filter(lambda t: t not in {b"jumb", b"jumd", b"pvhd", b"pvkg"})


@st.composite
def containers(draw: st.DrawFn) -> Container:
    header = draw(headers())
    n_groups = max(r.group for r in header.regions) + 1
    groups = []
    for g in range(n_groups):
        n_tags = sum(1 for r in header.regions if r.group == g)
        groups.append(
            KeyGroup(
                g,
                tuple(draw(st.lists(wraps, min_size=1, max_size=3))),
                draw(tags),
                tuple(draw(st.lists(tags, min_size=n_tags, max_size=n_tags))),
            )
        )
    extras = draw(st.lists(st.builds(ExtraBox, box_types, st.binary(max_size=40)), max_size=3))
    return Container(header, tuple(groups), tuple(extras))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(containers())
def test_random_containers_round_trip(c: Container) -> None:
    payloads = encode_container(c)
    parsed = decode_container(payloads)
    assert parsed == c
    assert parsed.header.raw == c.header.to_bytes()
    assert encode_container(parsed) == payloads
    assert Container.from_jumbf(from_app11_payloads(payloads[::-1])) == c


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(containers(), st.data())
def test_mutated_random_containers(c: Container, data: st.DataObject) -> None:
    (payload,) = encode_container(c)
    payload = bytearray(payload)
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.one_of(st.integers(4, len(payload) - 1), st.integers(0, len(payload) - 1)))
        payload[pos] = data.draw(st.integers(0, 255))
    check_parse([bytes(payload)])


def _boxes(content: bytes) -> list[list[bytes]]:
    """Split well-formed box content into [type, body] pairs (test-side, no checks)."""
    out = []
    while content:
        size = int.from_bytes(content[:4], "big")
        out.append([content[4:8], content[8:size]])
        content = content[size:]
    return out


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(containers(), st.data())
def test_structure_aware_mutations(c: Container, data: st.DataObject) -> None:
    """Mutate box bodies and re-frame them with correct lengths, so the
    mutations reach the field parsers instead of the length checks."""
    children = _boxes(c.to_jumbf()[8:])
    for _ in range(data.draw(st.integers(1, 2))):
        op = data.draw(
            st.sampled_from(["flip", "set", "insert", "delete", "append", "chop", "drop_box", "dup_box", "retype"])
        )
        i = data.draw(st.integers(0, len(children) - 1))
        body = bytearray(children[i][1])
        pos = data.draw(st.integers(0, len(body)))
        if data.draw(st.booleans()):  # hypothesis favours small offsets: count from either end
            pos = len(body) - pos
        if op == "flip" and pos < len(body):
            body[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set" and pos < len(body):
            body[pos] = data.draw(st.sampled_from([0, 1, 2, 3, 0x7F, 0xFF]))
        elif op == "insert":
            body[pos:pos] = data.draw(st.binary(min_size=1, max_size=30))
        elif op == "delete":
            del body[pos : pos + data.draw(st.integers(1, 30))]
        elif op == "append":
            body += data.draw(st.binary(min_size=1, max_size=40))
        elif op == "chop":
            del body[len(body) - data.draw(st.integers(1, 40)) :]
        elif op == "drop_box" and len(children) > 1:
            del children[i]
            continue
        elif op == "dup_box":
            children.insert(i, list(children[i]))
        elif op == "retype":
            children[i][0] = data.draw(st.sampled_from([b"jumd", b"pvhd", b"pvkg", b"jumb", b"free"]))
        children[i][1] = bytes(body)
    content = b"".join((8 + len(b)).to_bytes(4, "big") + t + b for t, b in children)
    check_parse(to_app11_payloads((8 + len(content)).to_bytes(4, "big") + b"jumb" + content))


# --- (c) arbitrary bytes, overlap check -------------------------------------------------------------
@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(blob: bytes) -> None:
    for parse in (Header.from_bytes, Container.from_jumbf):
        try:
            parse(blob)
        except PARSER_ERRORS:
            pass
    check_parse([blob])
    check_parse([b"JP\x50\x56" + blob])
    check_parse([b"JP\x50\x56\x00\x00\x00\x01" + blob])


rect = st.tuples(st.integers(0, 12), st.integers(0, 12), st.integers(1, 5), st.integers(1, 5))


@settings(max_examples=1000, deadline=None)
@given(st.lists(rect, max_size=10))
def test_overlap_sweep_matches_brute_force(rects: list[tuple[int, int, int, int]]) -> None:
    def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
        return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]

    brute = any(overlap(rects[i], rects[j]) for i in range(len(rects)) for j in range(i))
    found = _find_overlap(rects)
    assert (found is not None) == brute
    if found is not None:
        assert overlap(rects[found[0]], rects[found[1]])
