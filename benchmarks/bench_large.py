"""Benchmark picveil on large photos for a circle: protect, and reveal after the platforms.

Prints one table measured in one run (STYLE.md point 10: ratios, not a timed
test). For each size, a photo made by ``bench_core.make_photo`` (seeded,
JPEG q90 4:2:0) with ``bench_core.make_boxes`` (five face-like boxes, 8 % of
the area) is protected for a circle; then each received copy is revealed with
nothing but the keyring:

* ``exact``: the protected file itself (coefficients intact);
* ``jpeg:85``: stripped and re-encoded at quality 85, same size (reveal from
  the received JPEG's coefficients, with clipping recovery);
* ``x``, ``facebook``: the simulator presets (4096 and 2048 px long edge).

Every operation runs once in a fresh process (spawn), after a warm-up on a
tiny picture, so the peak resident memory it *adds* can be read
(``VmHWM`` after ``clear_refs``, as in ``bench_core``). The yardstick on the
same received file, in the same kind of process: a Pillow decode to RGB and
JPEG q90 encode (what any photo tool costs). Usage::

    python benchmarks/bench_large.py                 # 12, 24 and 48 MP
    python benchmarks/bench_large.py --sizes 4,12    # quicker
    python benchmarks/bench_large.py --markdown
"""

from __future__ import annotations

import argparse
import gc
import io
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_core as core  # noqa: E402  (the inputs and the memory probes)

CHAINS = ("exact", "jpeg:85", "x", "facebook")
SPECS = {"jpeg:85": "strip,jpeg:85"}


def _child(op: str, path: str, home: str) -> tuple[float, int]:
    """Run ``op`` on the file at `path` once; return (seconds, peak bytes added)."""
    from PIL import Image

    import picveil
    from picveil.crypto import Keyring

    keyring = Keyring.open(home)
    tiny = core.tiny_jpeg()
    warm = picveil.protect(tiny, [(0, 0, 8, 8)], circle="family", keyring=keyring)
    picveil.reveal(warm, keyring=keyring)
    data = Path(path).read_bytes()

    def pillow() -> bytes:
        with Image.open(io.BytesIO(data)) as im:
            rgb = im.convert("RGB")
        buf = io.BytesIO()
        rgb.save(buf, "JPEG", quality=90)
        return buf.getvalue()

    fn = {
        "protect": lambda: picveil.protect(data, _boxes(path), circle="family", keyring=keyring),
        "reveal": lambda: picveil.reveal(data, keyring=keyring),
        "pillow": pillow,
    }[op]
    gc.collect()
    reset = core._reset_peak()
    base = core._status_bytes("VmRSS")
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    peak = core._status_bytes("VmHWM") if reset else base
    del result
    return seconds, max(0, peak - base)


def _boxes(path: str):
    from PIL import Image

    with Image.open(path) as im:
        return core.make_boxes(*im.size, core.SEED)


def run(op: str, path: Path, home: Path) -> tuple[float, int]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_child, op, str(path), str(home)).result()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="12,24,48", help="megapixels, comma-separated (default 12,24,48)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = p.parse_args(argv)

    from PIL import Image

    import picveil
    from picveil.crypto import Keyring
    from picveil.platforms import parse_chain

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        home = tmp / "keyring"
        Keyring.open(home, create=True).create_circle("family")
        for mp in (float(s) for s in args.sizes.split(",")):
            w, h = core.frame_size(mp)
            src = tmp / f"photo_{mp:g}.jpg"
            src.write_bytes(core.make_photo(w, h, core.SEED))
            t, m = run("protect", src, home)
            tp, mp_ = run("pillow", src, home)
            rows.append((f"{w * h / 1e6:.1f}", "protect", "", t, m, tp, mp_))
            print(f"{w}x{h} protect {t:.1f} s, +{m / core.MIB:.0f} MiB", file=sys.stderr, flush=True)
            prot = picveil.protect(src.read_bytes(), core.make_boxes(w, h, core.SEED), circle="family", keyring=Keyring.open(home))
            for chain in CHAINS:
                got = prot if chain == "exact" else parse_chain(SPECS.get(chain, chain)).run(prot)
                path = tmp / f"got_{mp:g}_{chain.replace(':', '')}.bin"
                path.write_bytes(got)
                with Image.open(path) as im:
                    size = f"{im.width}×{im.height}"
                t, m = run("reveal", path, home)
                tp, mp_ = run("pillow", path, home)
                rows.append((f"{w * h / 1e6:.1f}", f"reveal {chain}", size, t, m, tp, mp_))
                print(f"{w}x{h} reveal {chain} {t:.1f} s, +{m / core.MIB:.0f} MiB", file=sys.stderr, flush=True)

    head = ("MP", "operation", "received", "picveil s", "picveil +MiB", "Pillow decode+encode s", "+MiB", "time ×", "memory ×")
    body = [
        (mpx, op, size, f"{t:.2f}", f"{m / core.MIB:.0f}", f"{tp:.2f}", f"{mp_ / core.MIB:.0f}", f"{t / tp:.1f}", f"{m / max(mp_, 1):.1f}")
        for mpx, op, size, t, m, tp, mp_ in rows
    ]
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in body:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        for r in (head, *body):
            print("  ".join(x.rjust(wd) for x, wd in zip(r, widths)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
