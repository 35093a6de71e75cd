"""Generate the picveil container test vectors (SPEC.md §11).

Usage::

    python src/picveil/container/vectors/make_vectors.py [--out DIR]

The encoder here is written from SPEC.md with ``struct`` alone and does NOT
import picveil, so the vectors check ``format.py`` against the document
rather than against itself. It validates nothing, which is what lets it
write the invalid vectors. Output is deterministic: stand-in bytes (salts,
tags, age files) come from SHA-256 of a label, and files are written with
sorted keys, so re-running gives identical files (a test checks this).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
from pathlib import Path

UUID = bytes.fromhex("f4d49211cfba4883aecae3d3a7013ca8")
C2PA_UUID = bytes.fromhex("6332706100110010800000aa00389b71")  # "c2pa" manifest store
EN = 0x5056
CHUNK = 65533 - 16
AGE = b"age-encryption.org/v1\n"


# --- stand-in bytes ----------------------------------------------------------------
def fake(label: str, n: int) -> bytes:
    """``n`` deterministic bytes: SHA-256(label ‖ u32 counter) blocks."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(label.encode() + struct.pack(">I", counter)).digest()
        counter += 1
    return bytes(out[:n])


def age_blob(label: str, n: int) -> bytes:
    return AGE + fake("age:" + label, n)


# --- raw encoder (no validation) ----------------------------------------------------
def box(box_type: bytes, body: bytes, lbox: int | None = None) -> bytes:
    return struct.pack(">I", 8 + len(body) if lbox is None else lbox) + box_type + body


def jumd(uuid: bytes = UUID, toggles: int = 0x03, label: bytes = b"picveil\x00", tail: bytes = b"") -> bytes:
    return box(b"jumd", uuid + bytes([toggles]) + label + tail)


def pvhd(
    *,
    width: int,
    height: int,
    mcu: tuple[int, int],
    components: list[tuple[int, int, int]],
    regions: list[tuple[int, int, int, int, int, int]],
    scheme: int = 1,
    version: int = 1,
    flags: int = 0,
    salt_label: str = "file",
    tail: bytes = b"",
) -> bytes:
    body = struct.pack(">BHHHHBBB", version, scheme, flags, width, height, mcu[0], mcu[1], len(components))
    for cid, h, v in components:
        body += struct.pack(">BBB", cid, h, v)
    body += fake("salt:" + salt_label, 16)
    body += struct.pack(">H", len(regions))
    for i, (x, y, w, h, group, look) in enumerate(regions):
        body += struct.pack(">HHHHBB", x, y, w, h, group, look) + fake(f"salt:{salt_label}:{i}", 16)
    return box(b"pvhd", body + tail)


def pvkg(index: int, wraps: list[tuple[int, bytes]], n_tags: int, tag_label: str = "tag") -> bytes:
    body = struct.pack(">BB", index, len(wraps))
    for kind, data in wraps:
        body += struct.pack(">BI", kind, len(data)) + data
    body += fake(f"{tag_label}:{index}:header", 32)
    for t in range(n_tags):
        body += fake(f"{tag_label}:{index}:region:{t}", 32)
    return box(b"pvkg", body)


def superbox(children: list[bytes], tail: bytes = b"") -> bytes:
    return box(b"jumb", b"".join(children) + tail)


def packets(sb: bytes, *, en: int = EN, chunk: int = CHUNK, ci: bytes = b"JP") -> list[bytes]:
    lbox, tbox, content = sb[:4], sb[4:8], sb[8:]
    return [
        ci + struct.pack(">HI", en, z) + lbox + tbox + content[start : start + chunk]
        for z, start in enumerate(range(0, len(content), chunk), start=1)
    ]


def after_jumd(sb: bytes) -> bytes:
    """The children of a superbox after its (default, 32-byte) jumd box."""
    return sb[8 + len(jumd()) :]


def group_sizes(regions: list[tuple[int, ...]]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for r in regions:
        sizes[r[4]] = sizes.get(r[4], 0) + 1
    return sizes


# --- the vectors -------------------------------------------------------------------------
GRAY = dict(width=64, height=48, mcu=(8, 8), components=[(1, 1, 1)])
YCC420 = dict(width=640, height=480, mcu=(16, 16), components=[(1, 2, 2), (2, 1, 1), (3, 1, 1)])
ONE_REGION = [(1, 1, 2, 2, 0, 0)]


def simple(regions=ONE_REGION, geometry=GRAY, wraps=None, extras=(), **hd) -> bytes:
    """Superbox with one pvkg per group (group sizes from the regions)."""
    sizes = group_sizes(regions)
    kgs = [
        pvkg(g, wraps or [(1, age_blob(f"simple:{g}", 40))], sizes.get(g, 0))
        for g in range(max(sizes) + 1)
    ]
    return superbox([jumd(), pvhd(regions=regions, **geometry, **hd), *kgs, *extras])


def summary(geometry, regions, wraps_per_group, extras=(), scheme=1) -> dict:
    return {
        "scheme_id": scheme,
        "width": geometry["width"],
        "height": geometry["height"],
        "mcu": list(geometry["mcu"]),
        "components": [list(c) for c in geometry["components"]],
        "regions": [list(r) for r in regions],
        "groups": len(wraps_per_group),
        "wraps": [[[k, len(d)] for k, d in ws] for ws in wraps_per_group],
        "extras": [e.decode("latin-1") for e in extras],
    }


def valid_vectors() -> dict[str, dict]:
    out = {}

    w0 = [(1, age_blob("simple:0", 40))]
    out["valid_01_one_region"] = {
        "description": "Grayscale 64x48 image, one region in one key group with one X25519 wrap.",
        "payloads": packets(simple()),
        "parsed": summary(GRAY, ONE_REGION, [w0]),
    }

    regions = [(0, 0, 4, 3, 0, 0), (10, 5, 2, 2, 1, 0), (4, 0, 3, 3, 1, 0), (39, 29, 1, 1, 0, 0)]
    g0 = [(1, age_blob("two:0:x25519", 120)), (2, age_blob("two:0:scrypt", 90))]
    g1 = [(1, age_blob("two:1:x25519", 120))]
    sb = superbox([jumd(), pvhd(regions=regions, **YCC420), pvkg(0, g0, 2), pvkg(1, g1, 2)])
    out["valid_02_two_groups"] = {
        "description": "YCbCr 4:2:0 640x480, four regions in two key groups (interleaved in header "
        "order), group 0 with an X25519 and a passphrase wrap; region at the last MCU.",
        "payloads": packets(sb),
        "parsed": summary(YCC420, regions, [g0, g1]),
    }

    w7 = [(1, age_blob("extras:0", 40)), (7, fake("unknown-kind", 25)), (9, b"")]
    extras = [box(b"pvxt", fake("extra", 30)), box(b"free", b"")]
    sb = superbox([jumd(), pvhd(regions=ONE_REGION, **GRAY), pvkg(0, w7, 1), *extras])
    out["valid_03_extras_and_unknown_wrap_kinds"] = {
        "description": "Two extra boxes ('pvxt' with data, empty 'free') after the key group, kept "
        "byte for byte; wraps of unknown kinds 7 and 9 (one empty) kept.",
        "payloads": packets(sb),
        "parsed": summary(GRAY, ONE_REGION, [w7], extras=[b"pvxt", b"free"]),
    }

    big = [(1, age_blob("big:1", 70000)), (2, age_blob("big:2", 70000))]
    sb = superbox([jumd(), pvhd(regions=ONE_REGION, **GRAY), pvkg(0, big, 1)])
    out["valid_04_large_three_packets"] = {
        "description": "About 140 KB of wraps: the superbox is split over three APP11 packets "
        "(two full ones of 65533 bytes and a shorter last one).",
        "payloads": packets(sb),
        "parsed": summary(GRAY, ONE_REGION, [big]),
    }

    mid = [(1, age_blob("mid:1", 66000))]
    sb = superbox([jumd(), pvhd(regions=ONE_REGION, **GRAY), pvkg(0, mid, 1)])
    pk = packets(sb)
    out["valid_05_packets_out_of_order"] = {
        "description": "Two packets given in the order Z=2, Z=1: readers order by sequence number.",
        "payloads": [pk[1], pk[0]],
        "parsed": summary(GRAY, ONE_REGION, [mid]),
    }

    foreign = superbox([jumd(uuid=C2PA_UUID, label=b"c2pa\x00"), box(b"json", b'{"x":1}')])
    out["valid_06_other_app11_users_ignored"] = {
        "description": "A C2PA-like JUMBF (En 0x0001), a non-JUMBF APP11 payload and a 3-byte "
        "payload around the picveil packet: all ignored.",
        "payloads": [*packets(foreign, en=1), packets(simple())[0], b"HDR\x00\x01junk", b"JP\x50"],
        "parsed": summary(GRAY, ONE_REGION, [w0]),
    }

    regions = [(0, 0, 1, 1, 0, 3)]
    out["valid_07_unknown_scheme_and_look"] = {
        "description": "scheme_id 2 and look 3 parse (the caller decides to reject them).",
        "payloads": packets(simple(regions=regions, scheme=2)),
        "parsed": summary(GRAY, regions, [w0], scheme=2),
    }

    geo = dict(width=100, height=37, mcu=(16, 8), components=[(1, 2, 1), (2, 1, 1), (3, 1, 1)])
    regions = [(6, 4, 1, 1, 0, 0), (0, 0, 6, 4, 0, 0)]
    out["valid_08_422_partial_edge_mcus"] = {
        "description": "4:2:2 100x37 (MCU grid 7x5, right and bottom MCUs partly outside the "
        "image); regions touching the grid's edges.",
        "payloads": packets(simple(regions=regions, geometry=geo)),
        "parsed": summary(geo, regions, [w0]),
    }
    return out


def invalid_vectors() -> dict[str, dict]:
    out = {}

    def add(name: str, expected: str, description: str, payloads: list[bytes]) -> None:
        out[name] = {"description": description, "expected": expected, "payloads": payloads}

    good = packets(simple())[0]

    add("invalid_01_bad_ci", "no_picveil_data", "The only packet has CI 'JQ': not a JPEG XT box.", [b"JQ" + good[2:]])
    add(
        "invalid_02_other_en_only",
        "no_picveil_data",
        "A complete picveil superbox under En 0x0001: not picveil's instance, ignored.",
        packets(simple(), en=1),
    )
    wrong = superbox([jumd(uuid=C2PA_UUID), after_jumd(simple())])
    add("invalid_03_wrong_uuid", "no_picveil_data", "En 0x5056 but the jumd TYPE is another UUID.", packets(wrong))
    add("invalid_04_no_payloads", "no_picveil_data", "No APP11 payloads at all.", [])
    add("invalid_05_gap_in_z", "tampered", "The only packet has Z=2 (packet 1 missing).", [good[:4] + struct.pack(">I", 2) + good[8:]])
    add("invalid_06_duplicate_z", "tampered", "The same packet twice (Z=1 duplicated).", [good, good])
    lbox = int.from_bytes(good[8:12], "big")
    add(
        "invalid_07_lbox_mismatch",
        "tampered",
        "The packets' LBox is one more than 8 + the content carried.",
        [good[:8] + struct.pack(">I", lbox + 1) + good[12:]],
    )
    add(
        "invalid_08_short_first_packet",
        "tampered",
        "Content split 100 + rest although it fits one packet: non-canonical split.",
        packets(simple(), chunk=100),
    )
    add("invalid_09_xlbox", "tampered", "LBox = 1 (XLBox) in the packet.", [good[:8] + struct.pack(">I", 1) + good[12:]])
    add("invalid_10_tbox_not_jumb", "tampered", "Packet TBox is 'jumd'.", [good[:12] + b"jumd" + good[16:]])
    add("invalid_11_packet_too_short", "tampered", "A picveil packet of 10 bytes.", [good[:10]])

    # truncated box: the key group's LBox claims 10 bytes more than the superbox holds
    kg = pvkg(0, [(1, age_blob("simple:0", 40))], 1)
    kg = struct.pack(">I", len(kg) + 10) + kg[4:]
    add(
        "invalid_12_truncated_box",
        "tampered",
        "The pvkg box's LBox runs 10 bytes beyond the superbox.",
        packets(superbox([jumd(), pvhd(regions=ONE_REGION, **GRAY), kg])),
    )
    add("invalid_13_version_2", "unsupported_version", "format_version 2.", packets(simple(version=2)))
    v2 = superbox([jumd(), box(b"pvhd", b"\x02" + fake("v2 layout", 7)), box(b"pvk2", b"?")])
    add(
        "invalid_14_version_2_other_layout",
        "unsupported_version",
        "format_version 2 with a body v1 cannot parse: the version is checked first.",
        packets(v2),
    )
    add("invalid_15_flags_nonzero", "unsupported_version", "flags = 0x0001.", packets(simple(flags=1)))
    add(
        "invalid_16_overlapping_regions",
        "tampered",
        "Regions (0,0,3,3) and (2,2,2,2) share MCU (2,2).",
        packets(simple(regions=[(0, 0, 3, 3, 0, 0), (2, 2, 2, 2, 0, 0)])),
    )
    add(
        "invalid_17_region_out_of_image",
        "tampered",
        "Region (7,0,2,1) on an 8x6 MCU grid: x + w = 9 > 8.",
        packets(simple(regions=[(7, 0, 2, 1, 0, 0)])),
    )
    sb = superbox(
        [jumd(), pvhd(regions=ONE_REGION, **GRAY), pvkg(0, [(1, age_blob("a", 9))], 1), pvkg(1, [(1, age_blob("b", 9))], 0)]
    )
    add("invalid_18_group_without_regions", "tampered", "Key group 1 protects no region.", packets(sb))
    two = [(1, 1, 2, 2, 0, 0), (4, 1, 1, 1, 1, 0)]
    sb = superbox([jumd(), pvhd(regions=two, **GRAY), pvkg(0, [(1, age_blob("a", 9))], 1)])
    add("invalid_19_region_group_missing", "tampered", "Region 1 is in group 1; only group 0 exists.", packets(sb))
    sb = superbox([jumd(), pvkg(0, [(1, age_blob("a", 9))], 1)])
    add("invalid_20_missing_pvhd", "tampered", "No pvhd box: jumd is followed by pvkg.", packets(sb))
    add(
        "invalid_21_trailing_bytes_superbox",
        "tampered",
        "Three bytes after the last box inside the superbox.",
        packets(superbox([jumd(), pvhd(regions=ONE_REGION, **GRAY), pvkg(0, [(1, age_blob("a", 9))], 1)], tail=b"\x00\x00\x00")),
    )
    add(
        "invalid_22_trailing_bytes_pvhd",
        "tampered",
        "One byte after the last region in the pvhd body.",
        packets(simple(tail=b"\x00")),
    )
    add(
        "invalid_23_age_prefix_wrong",
        "tampered",
        "A kind-1 wrap whose data starts 'age-encryption.org/v2'.",
        packets(simple(wraps=[(1, b"age-encryption.org/v2\n" + fake("v2", 20))])),
    )
    sb = superbox([jumd(toggles=0x07, tail=b"\x00\x00\x00\x01"), after_jumd(simple())])
    add("invalid_24_jumd_toggles_id", "tampered", "jumd TOGGLES 0x07 with a 4-byte ID: not used by v1.", packets(sb))
    sb = superbox([jumd(label=b"picveiL\x00"), after_jumd(simple())])
    add("invalid_25_wrong_label", "tampered", "jumd label 'picveiL'.", packets(sb))
    sb = superbox([jumd(), pvhd(regions=ONE_REGION, **GRAY), pvkg(0, [(1, age_blob("a", 9))], 2)])
    add("invalid_26_region_tag_count", "tampered", "Two region tags for a group of one region.", packets(sb))
    sb = superbox([jumd(), pvhd(regions=ONE_REGION, **GRAY), box(b"pvxt", b""), pvkg(0, [(1, age_blob("a", 9))], 1)])
    add("invalid_27_extra_before_keygroup", "tampered", "An extra box between pvhd and pvkg.", packets(sb))
    geo = dict(width=64, height=48, mcu=(8, 8), components=[(1, 2, 1), (2, 1, 1), (3, 1, 1)])
    add(
        "invalid_28_mcu_inconsistent",
        "tampered",
        "h_samp 2 but mcu_width 8 (must be 16).",
        packets(simple(geometry=geo)),
    )
    add(
        "invalid_29_region_zero_width",
        "tampered",
        "A region with w = 0.",
        packets(simple(regions=[(1, 1, 0, 2, 0, 0)])),
    )
    sb = superbox([jumd(), pvhd(regions=ONE_REGION, **GRAY), pvkg(0, [(1, age_blob("a", 9))], 1), box(b"pvhd", b"")])
    add("invalid_30_second_pvhd", "tampered", "A second pvhd box after the key group.", packets(sb))
    return out


def write(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, v in {**valid_vectors(), **invalid_vectors()}.items():
        doc = {
            "description": v["description"],
            "app11_payloads_hex": [p.hex() for p in v["payloads"]],
            "expected": v.get("expected", "ok"),
        }
        if "parsed" in v:
            doc["parsed"] = v["parsed"]
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="output folder")
    args = parser.parse_args()
    for path in write(args.out):
        print(path)


if __name__ == "__main__":
    main()
