"""Benchmark search over whole-image protected photos (searchable-v2 and -v1, seed 002).

Prints, from one run (STYLE.md point 10: tables of ratios, not a timed test):

1. **Retrieval** on photo-like Fashion-MNIST (and MNIST in the full run):
   mAP, Recall@10/30 (seed 002's definition), P@10 and the keyless
   attacker's classification accuracy, for every method:

   * ``plain gMLP``: the gMLP trained on the *plaintext* pictures
     (16×16-pixel patches in raster order) -- the upper bound;
   * ``picveil searchable-v2, tile gMLP`` (the default of ``protect
     --whole``): the shipped network on the keyless tile features of
     searchable-v2 files (every file under its own fresh key, as in real use);
   * ``picveil searchable-v1, cipher gMLP``: the same for searchable-v1,
     whose permutation spans the whole image;
   * ``seed pipeline, per-image keys``: seed 002's network as published (gMLP
     on the decoded cipher picture's patches) on the same protected files;
   * ``seed pipeline, one shared key`` (full run, Fashion-MNIST): the same,
     with every picture encrypted under one key -- the seed's own setting,
     simulated here; picveil never does this;
   * ``cipher histograms``: keyless coefficient histograms (Hellinger), the
     hand-made kind of feature seed 002 compares with;
   * ``tile features``: hand-made keyless features of searchable-v2 files
     (per tile, the mean detail on each anti-diagonal; no network);
   * ``random ranking``.

   Target: picveil's cipher mAP ≥ 80 % of the plaintext upper bound (for
   the default scheme).
2. **Leakage** (seed 002, Table I): Euclidean distances between the
   normalized histograms of a plain JPEG and its protection -- DC
   coefficients (DCC), DC Huffman categories (DCH: code lengths of the DC
   differences in scan order), AC coefficients (ACC), AC Huffman symbols
   (ACH: run/size) -- plus the distances of the |DC| and per-diagonal |AC|
   histograms, which both searchable schemes keep exactly (0 = that histogram leaks).
3. **Compression**: BPP and PSNR of plain JPEG and of searchable-v2 and -v1 at
   Q 10–90 on scikit-image's bundled photos (UCID is not available offline);
   the revealed image is checked to equal the plain JPEG exactly, so their
   PSNR is the same.
4. **Index**: build time (features + insert) and query time (read + features
   + FAISS search, k = 10) per 10,000 protected images. Target: ≤ 50 ms.
5. **Near duplicates** on real photos: each photo protected twice under
   independent keys; is the other copy the top result?

Corel-10K (seed 002's retrieval set) is not available offline; the protocol
is the seed's: class-balanced 70/30 split, every test image queries the other
test images. Usage::

    python benchmarks/bench_search.py            # full (about 15-20 min on 2 busy cores)
    python benchmarks/bench_search.py --quick    # about 3 min
    python benchmarks/bench_search.py --save-weights src/picveil/search/weights/cipher-tiles-fmnist.pt
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from picveil.api import protect, reveal
from picveil.crypto import Identity, RegionKey
from picveil.jpeg.codec import read_coefficients
from picveil.schemes import get_scheme
from picveil.schemes.searchable_v1 import DIAG_SLICES
from picveil.search import data as sdata
from picveil.search import features, metrics
from picveil.search.index import HistogramExtractor, Library, NetworkExtractor, TileExtractor
from picveil.schemes import DEFAULT_WHOLE_SCHEME
from picveil.search.model import DEFAULT_CIPHER_CONFIG, DEFAULT_PLAIN_CONFIG, DEFAULT_TILE_CONFIG
from picveil.search.training import TrainSettings, classify, embed, load_weights, save_weights, train_network

QUALITIES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
COLOR_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "retina", "hubble_deep_field")
GRAY_PHOTOS = ("camera", "moon", "coins", "grass", "gravel", "brick", "page")
ZIGZAG = np.array(
    [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
     28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
     54, 47, 55, 62, 63]
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def table(title: str, header: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in header]] + [[c if isinstance(c, str) else f"{c:.4f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    out = [f"\n{title}", line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


# --- data ---------------------------------------------------------------------------------------
def decoded_gray(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("L"))


def shared_key_cipher(jpegs: list[bytes]) -> list[bytes]:
    """searchable-v1 under ONE key for every picture (seed 002's setting; a simulation)."""
    scheme, key = get_scheme("searchable-v1"), RegionKey(bytes(range(32)))
    out = []
    for data in jpegs:
        c = read_coefficients(data)
        blocks = [c.array(i) for i in range(len(c.components))]
        for i, arr in enumerate(scheme.protect(blocks, key).blocks):
            c.set_blocks(i, 0, 0, arr)
        out.append(c.encode())
    return out


#: The searchable schemes measured, the keyless tokens and network of each; the first is the default.
SCHEMES = {
    "searchable-v2": ("picveil searchable-v2, tile gMLP", features.tile_tokens, DEFAULT_TILE_CONFIG),
    "searchable-v1": ("picveil searchable-v1, cipher gMLP", features.cipher_tokens, DEFAULT_CIPHER_CONFIG),
}
assert next(iter(SCHEMES)) == DEFAULT_WHOLE_SCHEME


def prepare(name: str, per_class: int) -> dict:
    t = time.perf_counter()
    images, labels, names = sdata.load_labelled(name, per_class)
    pixels, jpegs = sdata.to_jpegs(images)
    ds = dict(name=name, labels=labels, names=names, pixels=pixels, jpegs=jpegs, protected={}, tokens={}, invariant=True)
    for scheme, (_, tokens_of, _) in SCHEMES.items():
        t_prot = time.perf_counter()
        protected = sdata.protect_whole(jpegs, scheme=scheme)
        t_prot = time.perf_counter() - t_prot
        tokens = np.stack([tokens_of(d) for d in protected])
        ds["invariant"] &= all(np.array_equal(tokens_of(jpegs[i]), tokens[i]) for i in range(0, len(jpegs), max(1, len(jpegs) // 50)))
        ds["protected"][scheme], ds["tokens"][scheme] = protected, tokens
        log(f"{name}: {scheme}: protect {1000 * t_prot / len(jpegs):.1f} ms each")
    log(f"{name}: {len(jpegs)} pictures ready in {time.perf_counter() - t:.0f} s")
    return ds


# --- retrieval ----------------------------------------------------------------------------------
def retrieval(ds: dict, settings: TrainSettings, *, ablations: bool, weights_out: Path | None) -> tuple[list[list], dict]:
    y = ds["labels"]
    train, test = sdata.balanced_split(y)
    rows, extra = [], {}

    def run(label: str, x: np.ndarray, config: dict) -> None:
        t = time.perf_counter()
        model = train_network(x[train], y[train], dict(config, n_classes=len(ds["names"])), settings)
        secs = time.perf_counter() - t
        f = embed(model, x[test])
        s = metrics.ranking_metrics(metrics.cosine_similarity(f), y[test])
        acc = float((classify(model, x[test]) == y[test]).mean())
        rows.append([label, s.mAP, s.recall_at_10, s.recall_at_30, s.precision_at_10, acc, f"{secs:.0f}"])
        extra[label] = (s, model)
        log(f"  {label}: mAP {s.mAP:.3f} acc {acc:.3f} ({secs:.0f} s)")

    plain_x = np.stack([features.plain_patches(p) for p in ds["pixels"]])
    run("plain gMLP (upper bound)", plain_x, DEFAULT_PLAIN_CONFIG)
    for scheme, (label, _, config) in SCHEMES.items():
        run(label, ds["tokens"][scheme], config)
    if weights_out is not None:
        label = SCHEMES[DEFAULT_WHOLE_SCHEME][0]
        model = extra[label][1]
        meta = {"dataset": ds["name"], "classes": list(ds["names"]), "per_class": int(len(y) // len(ds["names"])),
                "size": 128, "quality": 90, "scheme": DEFAULT_WHOLE_SCHEME, "settings": settings.as_dict(),
                "test_mAP": round(extra[label][0].mAP, 4)}
        digest = save_weights(model, weights_out, meta=meta)
        log(f"  saved {weights_out} sha256 {digest}")
    if ablations:
        seed_x = np.stack([features.plain_patches(decoded_gray(d)) for d in ds["protected"]["searchable-v1"]])
        run("seed pipeline, per-image keys", seed_x, DEFAULT_PLAIN_CONFIG)
        shared = shared_key_cipher(ds["jpegs"])
        run("seed pipeline, one shared key*", np.stack([features.plain_patches(decoded_gray(d)) for d in shared]), DEFAULT_PLAIN_CONFIG)
    files = np.asarray(ds["protected"][DEFAULT_WHOLE_SCHEME], dtype=object)[test]
    h = np.stack([features.histogram_features(d) for d in files])
    s = metrics.ranking_metrics(metrics.cosine_similarity(h), y[test])
    rows.append(["cipher histograms (Hellinger)", s.mAP, s.recall_at_10, s.recall_at_30, s.precision_at_10, "-", "0"])
    t = np.stack([features.tile_features_from_tokens(x) for x in ds["tokens"]["searchable-v2"][test]])
    s = metrics.ranking_metrics(metrics.cosine_similarity(t), y[test])
    rows.append(["searchable-v2 tile features (hand-made)", s.mAP, s.recall_at_10, s.recall_at_30, s.precision_at_10, "-", "0"])
    s = metrics.ranking_metrics(metrics.random_scores(len(test)), y[test])
    rows.append(["random ranking", s.mAP, s.recall_at_10, s.recall_at_30, s.precision_at_10, f"{1 / len(ds['names']):.4f}", "0"])
    return rows, extra


# --- leakage ------------------------------------------------------------------------------------
def scan_blocks(c) -> list[np.ndarray]:
    """Per component, blocks ``(n, 64)`` in the order of an interleaved baseline scan (padding left out)."""
    out = []
    single = len(c.components) == 1
    for comp in c.components:
        a = c.array(comp.index)
        if single or (comp.h_samp, comp.v_samp) == (1, 1):
            out.append(a.reshape(-1, 64))
            continue
        h, v = comp.h_samp, comp.v_samp
        rows, cols = a.shape[:2]
        order = [(my * v + j, mx * h + i) for my in range(-(-rows // v)) for mx in range(-(-cols // h))
                 for j in range(v) for i in range(h)]
        order = [(r, q) for r, q in order if r < rows and q < cols]
        out.append(np.stack([a[r, q].reshape(64) for r, q in order]))
    return out


def _category(x: np.ndarray) -> np.ndarray:
    return np.ceil(np.log2(np.abs(x.astype(np.float64)) + 1)).astype(np.intp)


def leak_histograms(jpeg: bytes) -> dict[str, np.ndarray]:
    comps = scan_blocks(read_coefficients(jpeg))
    dc = np.concatenate([b[:, 0] for b in comps]).astype(np.int64)
    diffs = np.concatenate([np.diff(b[:, 0].astype(np.int64), prepend=0) for b in comps])
    ac = np.concatenate([b[:, ZIGZAG[1:]] for b in comps]).astype(np.int64)
    # AC Huffman symbols: (run, size) per non-zero, ZRL for every 16 zeros, EOB after the last.
    blk, pos = np.nonzero(ac)
    prev = np.where(np.r_[True, blk[1:] != blk[:-1]], -1, np.r_[-1, pos[:-1]])
    run = pos - prev - 1
    sym = (run % 16) * 16 + _category(ac[blk, pos])
    zrl = int((run // 16).sum())
    last = np.full(len(ac), -1)
    last[blk] = pos
    eob = int((last < 62).sum())
    ach = np.bincount(sym, minlength=256).astype(np.float64)
    ach[0] += eob
    ach[0xF0] += zrl
    prof = np.concatenate([features.diagonal_profiles(b.reshape(-1, 8, 8)) for b in comps]).astype(np.int64)
    h = {
        "DCC": np.bincount(dc + 1024, minlength=2048),
        "DCH": np.bincount(_category(diffs), minlength=12),
        "ACC": np.bincount(ac.ravel() + 1024, minlength=2048),
        "ACH": ach,
        "|DC|": np.bincount(np.abs(dc), minlength=1025),
        "|AC| per diagonal": np.concatenate(
            [np.bincount(prof[:, s:s + n].ravel(), minlength=1024)[:1024] for s, n in DIAG_SLICES[1:]]
        ),
    }
    return {k: v / max(v.sum(), 1) for k, v in h.items()}


def leakage(samples: list[tuple[str, bytes]], recipient: str) -> list[list]:
    from picveil.schemes import DEFAULT_SCHEME

    rows = []
    for scheme in dict.fromkeys((*SCHEMES, DEFAULT_SCHEME, "scramble-v1")):
        for group in sorted({g for g, _ in samples}):
            dists = {}
            for g, jpeg in samples:
                if g != group:
                    continue
                c = read_coefficients(jpeg)
                prot = protect(jpeg, [(0, 0, c.width, c.height)], scheme=scheme, recipients=[recipient])
                a, b = leak_histograms(jpeg), leak_histograms(prot)
                for k in a:
                    dists.setdefault(k, []).append(float(np.linalg.norm(a[k] - b[k])))
            n = len(dists["DCC"])
            rows.append([scheme, f"{group} ({n})"] + [float(np.mean(dists[k])) for k in dists])
    return rows


# --- compression --------------------------------------------------------------------------------
def photos() -> list[tuple[str, np.ndarray]]:
    from skimage import data as skdata

    out = []
    for name in COLOR_PHOTOS + GRAY_PHOTOS:
        try:
            img = getattr(skdata, name)()
        except Exception as exc:  # a photo that needs a download is skipped, and said so
            log(f"  skipping skimage.data.{name}: {type(exc).__name__}")
            continue
        if img.dtype != np.uint8:
            img = np.clip(img * (255.0 if img.max() <= 1 else 1.0), 0, 255).astype(np.uint8)
        if img.ndim == 3:
            img = img[..., :3]
        out.append((name, img))
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def compression(pics: list[tuple[str, np.ndarray]], ident: Identity, scheme: str) -> list[list]:
    rows = []
    for q in QUALITIES:
        bpp_plain, bpp_body, bpp_file, ps, exact = [], [], [], [], True
        for _, img in pics:
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, "JPEG", quality=q)
            c = read_coefficients(buf.getvalue())
            plain = c.encode()  # the same libjpeg encoder and Huffman tables as picveil's output
            pixels = img.shape[0] * img.shape[1]
            prot = protect(plain, [(0, 0, c.width, c.height)], scheme=scheme, recipients=[ident.recipient])
            body = read_coefficients(prot).encode()  # without picveil's container
            back = read_coefficients(reveal(prot, identities=[ident]))
            exact &= all(np.array_equal(c.array(i), back.array(i)) for i in range(len(c.components)))
            bpp_plain.append(8 * len(plain) / pixels)
            bpp_body.append(8 * len(body) / pixels)
            bpp_file.append(8 * len(prot) / pixels)
            dec = np.asarray(Image.open(io.BytesIO(plain)))
            ps.append(psnr(dec, img if dec.ndim == img.ndim else img.mean(axis=2)))
        mp, mb, mf = map(statistics.mean, (bpp_plain, bpp_body, bpp_file))
        rows.append([scheme, f"Q{q}", mp, mb, mf, f"{100 * (mb / mp - 1):+.1f} %", f"{statistics.mean(ps):.2f}", "yes" if exact else "NO"])
    return rows


def plot_compression(rows: list[list], path: Path) -> None:
    """BPP-PSNR curves as seed 002 plots them: plain JPEG and each searchable
    scheme (file body without picveil's container) at Q 10-90; the revealed
    picture is the plain JPEG exactly, so a scheme's point sits at the plain
    PSNR and its own size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=120)
    by_scheme: dict[str, list] = {}
    for scheme, q, mp, mb, _mf, _chg, ps, _ok in rows:
        by_scheme.setdefault(scheme, []).append((float(mp), float(mb), float(ps), q))
    first = next(iter(by_scheme.values()))
    ax.plot([r[0] for r in first], [r[2] for r in first], "o-", color="black", label="plain JPEG")
    for (scheme, pts), marker in zip(by_scheme.items(), "s^dv"):
        ax.plot([r[1] for r in pts], [r[2] for r in pts], marker + "--", label=scheme)
    for mp, _mb, ps, q in first:
        ax.annotate(q, (mp, ps), textcoords="offset points", xytext=(-14, 4), fontsize=7)
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel("PSNR of the decoded (= revealed) picture, dB")
    ax.set_title("Compression cost of the searchable schemes (scikit-image photos)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


# --- index ----------------------------------------------------------------------------------------
def lib_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def index_timing(protected: list[bytes], extractors: list, queries: int) -> list[list]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "library"
        folder.mkdir()
        paths = []
        for i, d in enumerate(protected):
            p = folder / f"{i:05d}.jpg"
            p.write_bytes(d)
            paths.append(p)
        n = len(paths)
        for ex in extractors:
            db = Path(tmp) / f"{ex.name.split()[0]}.db"
            with Library.open(db, create=True) as lib:
                t = time.perf_counter()
                report = lib.add_files(paths, ex)
                build = time.perf_counter() - t
            times, self_first = [], 0
            with Library.open(db) as lib:
                lib.search(paths[0].read_bytes(), ex, 10)  # warm-up: loads the FAISS index
                for p in paths[:: max(1, n // queries)][:queries]:
                    t = time.perf_counter()
                    hits = lib.search(p.read_bytes(), ex, 10)
                    times.append(time.perf_counter() - t)
                    self_first += hits[0].sha256 == lib_sha(p)
            times_ms = 1000 * np.array(times)
            rows.append([ex.name.split()[0], n, report.added, f"{build * 10000 / n:.0f} s",
                         f"{np.median(times_ms):.1f} ms", f"{np.percentile(times_ms, 95):.1f} ms",
                         f"{self_first}/{len(times)}"])
    return rows


def near_duplicates(pics: list[tuple[str, np.ndarray]], extractors: list, ident: Identity, scheme: str) -> list[str]:
    files = []
    for name, img in pics:
        copies = []
        # copy A: the photo at q90; copy B: cropped by 12 px on each side and saved at q75
        for pic, q in ((img, 90), (img[12:-12, 12:-12], 75)):
            buf = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(pic)).save(buf, "JPEG", quality=q)
            c = read_coefficients(buf.getvalue())
            copies.append(protect(buf.getvalue(), [(0, 0, c.width, c.height)], scheme=scheme, recipients=[ident.recipient]))
        files.append((name, *copies))
    lines = []
    for ex in extractors:
        sims = ex([f[2] for f in files]) @ ex([f[1] for f in files]).T
        top = sims.argmax(axis=1)
        hits = int((top == np.arange(len(files))).sum())
        misses = [f"{files[i][0]}→{files[top[i]][0]}" for i in range(len(files)) if top[i] != i]
        lines.append(f"  {ex.name.split()[0]}: {hits}/{len(files)} first" + (f" (missed: {', '.join(misses)})" if misses else ""))
    return lines


# --- main -------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sets, fewer epochs (about 3 min)")
    ap.add_argument("--threads", type=int, default=1, help="PyTorch threads (default 1: fastest on a shared machine)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--min-steps", type=int, default=None,
                    help="train every network at least this many optimiser steps (default 1000; quick: 0), "
                         "so that the smaller MNIST set is trained about as long as Fashion-MNIST")
    ap.add_argument("--save-weights", type=Path, default=None, help="save the Fashion-MNIST cipher network here")
    ap.add_argument("--json", type=Path, default=None, help="also write the tables as JSON")
    ap.add_argument("--plot", type=Path, default=None, help="also plot BPP-PSNR (seed 002's figure) to this PNG")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    per_class = {"fashion-mnist": 200 if args.quick else 1000, "mnist": 0 if args.quick else 400}
    settings = TrainSettings(epochs=args.epochs or (6 if args.quick else 12), threads=args.threads,
                             min_steps=args.min_steps if args.min_steps is not None else (0 if args.quick else 1000))
    ident = Identity.generate()
    report: dict = {"settings": settings.as_dict(), "per_class": per_class}
    header = ["method", "mAP", "Recall@10", "Recall@30", "P@10", "top-1 class acc.", "train s"]
    out = []
    fm = None
    for name, n in per_class.items():
        if not n:
            continue
        log(f"== retrieval: {name}, {n} per class")
        ds = prepare(name, n)
        rows, extra = retrieval(ds, settings, ablations=(name == "fashion-mnist" and not args.quick),
                                weights_out=args.save_weights if name == "fashion-mnist" else None)
        plain_map = extra["plain gMLP (upper bound)"][0].mAP
        ratios = {scheme: extra[label][0].mAP / plain_map for scheme, (label, _, _) in SCHEMES.items()}
        out.append(table(f"Retrieval, {name} ({len(ds['labels'])} pictures 128×128 q90, 70/30 split; "
                         f"features invariant under the schemes: {'yes' if ds['invariant'] else 'NO'})", header, rows))
        out.append("class acc. of a cipher row = accuracy of a keyless attacker trained on labelled protected files.")
        for scheme, ratio in ratios.items():
            verdict = ("met" if ratio >= 0.8 else "NOT met") if scheme == DEFAULT_WHOLE_SCHEME else "not the default"
            out.append(f"{scheme}: cipher / plaintext mAP = {ratio:.3f} (target ≥ 0.80: {verdict})")
        report[f"retrieval {name}"] = {"rows": rows, "ratios": ratios}
        if name == "fashion-mnist":
            fm = (ds, {scheme: extra[label][1] for scheme, (label, _, _) in SCHEMES.items()})
    if fm is not None and any("shared key" in r[0] for r in report["retrieval fashion-mnist"]["rows"]):
        out.append("* simulation of seed 002's setting (one key for the whole library); picveil keys every file afresh.")

    log("== leakage")
    ds = fm[0]
    idx = np.concatenate([np.flatnonzero(ds["labels"] == c)[:10] for c in range(len(ds["names"]))])
    pics = photos()
    samples = [("fashion-mnist", ds["jpegs"][i]) for i in idx]
    for name, img in pics:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=90)
        samples.append(("photos", buf.getvalue()))
    rows = leakage(samples, ident.recipient)
    out.append(table("Leakage: Euclidean distance between plain and protected histograms (0 = histogram kept exactly)",
                     ["scheme", "images", "DCC", "DCH", "ACC", "ACH", "|DC|", "|AC| per diagonal"], rows))
    report["leakage"] = rows

    log("== compression")
    rows = [r for scheme in SCHEMES for r in compression(pics, ident, scheme)]
    out.append(table(f"Compression: mean over {len(pics)} scikit-image photos (UCID unavailable offline)",
                     ["scheme", "quality", "plain bpp", "searchable bpp (no container)", "searchable file bpp", "size change",
                      "PSNR dB (plain = revealed)", "reveal exact"], rows))
    report["compression"] = rows
    if args.plot:
        plot_compression(rows, args.plot)
        log(f"  wrote {args.plot}")

    log("== index")
    with tempfile.TemporaryDirectory() as tmp:
        rows, lines = [], []
        for scheme, model in fm[1].items():
            wpath = Path(tmp) / f"{scheme}.pt"
            save_weights(model, wpath)
            net = NetworkExtractor(load_weights(wpath), threads=args.threads)
            extractors = [net] + ([TileExtractor(), HistogramExtractor()] if scheme == DEFAULT_WHOLE_SCHEME else [])
            for r in index_timing(ds["protected"][scheme], extractors, queries=50 if args.quick else 100):
                rows.append([scheme] + r)
            lines += [f"  {scheme}:" + ln for ln in near_duplicates(pics, extractors, ident, scheme)]
        out.append(table("Index (SQLite catalogue + FAISS IndexFlatIP), Fashion-MNIST protected files",
                         ["scheme", "features", "images", "added", "build per 10k", "query median", "query p95", "query finds itself first"], rows))
        report["index"] = rows
    out.append(f"\nNear duplicates among {len(pics)} real photos: copy B (cropped by 12 px, saved at q75) queries all "
               "copies A (q90); each file protected under its own key. The network was trained on Fashion-MNIST only.")
    out += lines
    out.append(f"\nTotal run time {time.perf_counter() - t0:.0f} s; torch threads {args.threads}.")
    print("\n".join(out))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
