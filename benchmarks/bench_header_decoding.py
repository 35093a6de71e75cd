"""Robust-header recovery after the harshest chains, with and without the extra decoding passes.

The header reader (``picveil.robust.extractor``) decodes the body once with
its garbage estimate from sharpness, then, if that fails, twice more with
known bits as extra pilots (robust SPEC §8.3). This benchmark measures what
the extra passes buy: each photo of ``bench_robust``'s set (the same boxes)
is protected for a circle ``--keys`` times with fresh keys, every protected
file is put through each chain, and the header is read from the same
received pixels twice: first pass only, and all passes.

    python benchmarks/bench_header_decoding.py [--photos flower,pca_test1] [--keys 12] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import bench_robust as br  # noqa: E402 - the photo set and box drawing of the robust benchmark

CHAINS = ("jpeg:30", "jpeg:30:opencv", "jpeg:30:mozjpeg", "webp:50")


def first_pass_only(y, grid):
    """The reader before the extra passes: one body decoding with the sharpness garbage map."""
    from picveil.robust import coding
    from picveil.robust.channel import cell_llrs, features, soft_values
    from picveil.robust.layout import layout

    lay = layout(grid)
    s = soft_values(features(y, grid), lay.dither)
    llr = cell_llrs(s, lay).reshape(-1)
    pre = coding.preamble_decode(
        np.bincount(np.arange(lay.n_pre) % coding.PRE_BITS, weights=llr[lay.preamble_cells], minlength=coding.PRE_BITS)
    )
    if pre is None:
        return None
    n_bits = coding.body_bits(pre.length, pre.parity_class)
    body = np.bincount(np.arange(lay.n_body) % n_bits, weights=llr[lay.body_cells], minlength=n_bits)[:n_bits]
    return coding.body_decode(body, pre.length, pre.parity_class)


def read(image, passes: str) -> bytes | None:
    from picveil.robust import extractor as ex
    from picveil.robust.channel import working_luma

    y = working_luma(image)
    for _, grid in ex.detect(image):
        payload = first_pass_only(y, grid) if passes == "first" else ex._decode_grid(y, grid)
        if payload is not None:
            return payload
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", default="", help="comma-separated names (default: every photo under 2 MP)")
    parser.add_argument("--keys", type=int, default=6, help="protections per photo, each with fresh keys")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    from picveil import api
    from picveil.crypto import Keyring
    from picveil.platforms.simulate import available_encoders, parse_chain
    from picveil.robust import extract

    chains = [c for c in CHAINS if "mozjpeg" not in c or "mozjpeg" in available_encoders()]
    chains = [c for c in chains if "opencv" not in c or "opencv" in available_encoders()]
    photos = br.load_photos()
    names = sorted(photos)
    wanted = [n for n in args.photos.split(",") if n] or [n for n in names if photos[n].shape[0] * photos[n].shape[1] <= 2e6]
    home = tempfile.mkdtemp(prefix="pv-bench-")
    me = Keyring.open(os.path.join(home, "me"), create=True)
    me.create_circle("family")
    counts = {c: {"first": 0, "all": 0, "runs": 0} for c in chains}
    per_photo: dict[str, dict[str, list[int]]] = {}
    t0 = time.time()
    for n in wanted:
        i = names.index(n)
        rgb = photos[n]
        h, w = rgb.shape[:2]
        src = br.source_jpeg(rgb)
        # the boxes bench_robust draws for this photo
        found = br.protect_fitting(src, w, h, np.random.default_rng(br.SEED + i), me)
        if found is None:
            continue
        _, report, boxes = found
        per_photo[n] = {c: [0, 0] for c in chains}
        for _ in range(args.keys):
            prot = api._protect(src, boxes, circle="family", keyring=me)[0]
            payload = extract(br.decode(prot))
            for c in chains:
                got = br.decode(parse_chain("strip," + c).run(prot))
                first, every = read(got, "first") == payload, read(got, "all") == payload
                counts[c]["first"] += first
                counts[c]["all"] += every
                counts[c]["runs"] += 1
                per_photo[n][c][0] += not first
                per_photo[n][c][1] += not every
    took = time.time() - t0
    title = (f"Robust header recovered, first decoding pass only against all passes: {len(per_photo)} photos "
             f"x {args.keys} keys, the default scheme; {took:.0f} s")
    rows = [(c, counts[c]["runs"], counts[c]["first"], counts[c]["all"]) for c in chains]
    worst = sorted(((sum(v[c][0] for c in chains), n) for n, v in per_photo.items()), reverse=True)[:5]
    if args.markdown:
        print(f"### {title}\n")
        print("| chain | runs | first pass | all passes |")
        print("|---|---|---|---|")
        for c, runs, first, every in rows:
            print(f"| {c} | {runs} | {first} ({100 * first / max(runs, 1):.1f} %) | {every} ({100 * every / max(runs, 1):.1f} %) |")
        print()
        for fails, n in worst:
            if fails:
                print(f"* {n}: failures first pass / all passes: " + ", ".join(f"{c} {per_photo[n][c][0]}/{per_photo[n][c][1]}" for c in chains))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for col in ("chain", "runs", "first pass", "all passes"):
            table.add_column(col)
        for c, runs, first, every in rows:
            table.add_row(c, str(runs), f"{first} ({100 * first / max(runs, 1):.1f} %)", f"{every} ({100 * every / max(runs, 1):.1f} %)")
        Console().print(table)
        for fails, n in worst:
            if fails:
                print(f"{n}: failures first pass / all passes: " + ", ".join(f"{c} {per_photo[n][c][0]}/{per_photo[n][c][1]}" for c in chains))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
