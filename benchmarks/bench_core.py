"""Benchmark picveil's core: protect and reveal against the cost of rewriting a JPEG.

Prints two tables measured in one run (STYLE.md point 10: ratios, not a
timed test):

* time: median wall time of protect and reveal, side by side with three
  references on the same file: ``jpegtran -copy all`` (the physical floor
  for rewriting a JPEG's coefficients, process start-up subtracted), a
  Pillow decode + encode, and picveil's bare coefficient read + write;
* memory and size: the peak resident memory each operation adds, measured
  in a fresh process, and the file-size growth of protection.

Inputs are generated deterministically (seeded) in a temporary folder; see
:func:`make_photo` and :func:`make_boxes`. Usage::

    python benchmarks/bench_core.py                 # 1, 4, 12, 24 MP, 5 runs
    python benchmarks/bench_core.py --quick         # 1 and 4 MP, 2 runs
    python benchmarks/bench_core.py --markdown      # tables as Markdown
    python benchmarks/bench_core.py --profile 12    # also cProfile protect/reveal at 12 MP
    python benchmarks/bench_core.py --look scramble # a look other than the default (auto)

With the default look ``auto`` a protect for age recipients paints ``fill``
(see :mod:`picveil.looks`); ``--look scramble`` measures the coefficient
scramble that circle protects use.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import math
import multiprocessing
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# --- what is measured -------------------------------------------------------------------
#: Seed of everything random in the inputs (noise, box placement).
SEED = 20240601
#: JPEG settings of the inputs: quality 90, 4:2:0, baseline, standard Huffman tables.
QUALITY = 90
SUBSAMPLING = "4:2:0"
#: Aspect ratio of the inputs (a 3:2 camera sensor).
ASPECT = 3 / 2
#: Source photographs from scikit-image, tiled (with flips) to fill the frame.
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
#: Edge of one tile relative to the photo's own short side: at most this much upscaling,
#: so the content keeps photo-like detail at every size.
MAX_UPSCALE = 2.0
#: Sensor-like noise added after resizing: Gaussian, this standard deviation in 8-bit levels.
NOISE_SIGMA = 3.5
#: Mild sharpening after Lanczos upscaling, so tiles do not look soft (radius px, percent, threshold).
UNSHARP = (1.5, 60, 2)
#: Share of the image area covered by the requested boxes, before MCU snapping.
REGION_SHARE = 0.08
#: Relative areas of the face-like boxes (width : height = 4 : 5).
BOX_WEIGHTS = (1.6, 1.2, 1.0, 0.7, 0.5)
BOX_ASPECT = 4 / 5
#: Sizes (megapixels) from which fewer timed runs are made, and how many at most.
LARGE_MP, LARGE_REPEAT = 20, 3
#: Target under the table: protect and reveal of this size within this factor of jpegtran.
TARGET_MP, TARGET_RATIO = 12, 1.5
#: Runs per round of the trivial jpegtran (16x16 input) that measures process start-up.
STARTUP_PER_ROUND = 3
#: jpegtran memory: seconds to let an idle one load, and the VmHWM polling interval.
JPEGTRAN_IDLE_WAIT, JPEGTRAN_POLL = 0.1, 0.0002

MIB = 1024 * 1024
OPS = ("protect", "reveal", "bare", "pillow")


# --- inputs -----------------------------------------------------------------------------
def frame_size(mp: float) -> tuple[int, int]:
    """Width and height (multiples of 16) of a 3:2 frame of about ``mp`` megapixels."""
    w = round(math.sqrt(mp * 1e6 * ASPECT) / 16) * 16
    h = round(w / ASPECT / 16) * 16
    return w, h


def make_photo(width: int, height: int, seed: int) -> bytes:
    """A realistic JPEG (q90, 4:2:0) of ``width`` x ``height`` pixels.

    The frame is a mosaic of scikit-image photographs (:data:`PHOTOS`),
    cycled with horizontal flips; each tile is cropped to the tile's aspect,
    resized with Lanczos (upscaled at most :data:`MAX_UPSCALE` times where
    the frame is large enough to need several tiles), lightly sharpened,
    then Gaussian sensor noise of sigma :data:`NOISE_SIGMA` is added to the
    whole frame with a seeded generator. Same arguments, same bytes.
    """
    from PIL import Image, ImageFilter, ImageOps
    from skimage import data as skdata

    photos = [Image.fromarray(getattr(skdata, name)()) for name in PHOTOS]
    short = min(min(p.size) for p in photos)
    tile = short * MAX_UPSCALE
    cols = max(1, math.ceil(width / tile))
    rows = max(1, math.ceil(height / tile))
    canvas = Image.new("RGB", (width, height))
    k = 0
    for r in range(rows):
        for c in range(cols):
            x0, x1 = c * width // cols, (c + 1) * width // cols
            y0, y1 = r * height // rows, (r + 1) * height // rows
            src = photos[k % len(photos)]
            if (k // len(photos)) % 2:
                src = ImageOps.mirror(src)
            k += 1
            canvas.paste(ImageOps.fit(src, (x1 - x0, y1 - y0), Image.Resampling.LANCZOS), (x0, y0))
    radius, percent, threshold = UNSHARP
    canvas = canvas.filter(ImageFilter.UnsharpMask(radius, percent, threshold))
    pixels = np.asarray(canvas, dtype=np.float32)
    rng = np.random.default_rng(seed)
    noisy = np.empty(pixels.shape, dtype=np.uint8)
    step = 256  # rows at a time, to keep the float noise small
    for y in range(0, height, step):
        band = pixels[y : y + step] + rng.normal(0.0, NOISE_SIGMA, pixels[y : y + step].shape).astype(np.float32)
        noisy[y : y + step] = np.clip(np.rint(band), 0, 255)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "JPEG", quality=QUALITY, subsampling=SUBSAMPLING)
    return buf.getvalue()


def make_boxes(width: int, height: int, seed: int) -> list[tuple[int, int, int, int]]:
    """Face-like boxes ``(x, y, w, h)`` covering :data:`REGION_SHARE` of the frame.

    One box per weight in :data:`BOX_WEIGHTS`, each in its own cell of a 3 x 2
    grid (so none overlap), at a seeded position not aligned to the MCU grid.
    """
    rng = np.random.default_rng(seed)
    total = REGION_SHARE * width * height
    weights = np.asarray(BOX_WEIGHTS) / sum(BOX_WEIGHTS)
    cells = rng.permutation(6)[: len(BOX_WEIGHTS)]
    cw, ch = width // 3, height // 2
    boxes = []
    for wt, cell in zip(weights, cells):
        bw = int(round(math.sqrt(total * wt * BOX_ASPECT)))
        bh = int(round(bw / BOX_ASPECT))
        cx, cy = (cell % 3) * cw, (cell // 3) * ch
        x = cx + int(rng.integers(0, max(1, cw - bw)))
        y = cy + int(rng.integers(0, max(1, ch - bh)))
        boxes.append((x, y, bw, bh))
    return boxes


def tiny_jpeg() -> bytes:
    """A 16 x 16 JPEG: for process start-up and import warm-ups."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (128, 90, 60)).save(buf, "JPEG", quality=QUALITY, subsampling=SUBSAMPLING)
    return buf.getvalue()


@dataclass
class Case:
    mp: int
    width: int
    height: int
    path: Path
    prot_path: Path
    boxes: list[tuple[int, int, int, int]]
    data: bytes = field(repr=False)
    prot: bytes = field(repr=False)
    snapped_share: float = 0.0


# --- operations -------------------------------------------------------------------------
def bench_look() -> str:
    """The look measured (``--look``; passed to the memory child processes by the environment)."""
    return os.environ.get("PICVEIL_BENCH_LOOK", "auto")


def make_ops(data: bytes, prot: bytes, boxes, identity) -> dict[str, Callable[[], object]]:
    """The in-process operations, each a closure returning its output."""
    import picveil
    from PIL import Image

    from picveil.jpeg.codec import read_coefficients

    recipient = identity.recipient
    look = bench_look()

    def protect():
        return picveil.protect(data, boxes, recipients=[recipient], look=look)

    def reveal():
        return picveil.reveal(prot, identities=[identity])

    def bare():
        return read_coefficients(data).encode()

    def pillow():
        im = Image.open(io.BytesIO(data))
        im.load()
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=QUALITY, subsampling=SUBSAMPLING)
        return buf.getvalue()

    return {"protect": protect, "reveal": reveal, "bare": bare, "pillow": pillow}


def median_times(ops: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Seconds of ``repeat`` calls of each operation, after one warm-up call each.

    The operations run interleaved, one round at a time, so that a change in
    the machine's load during the run hits all of them alike and the ratios
    stay meaningful on a busy machine.
    """
    for fn in ops.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(repeat):
        for name, fn in ops.items():
            gc.collect()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


# --- jpegtran ---------------------------------------------------------------------------
def jpegtran_op(jpegtran: str, path: Path) -> Callable[[], bytes]:
    """``jpegtran -copy all`` of ``path`` to a pipe, as a subprocess (start-up included)."""

    def run() -> bytes:
        proc = subprocess.run([jpegtran, "-copy", "all", str(path)], stdout=subprocess.PIPE, check=False)
        if proc.returncode != 0 or not proc.stdout.startswith(b"\xff\xd8"):
            raise RuntimeError(f"jpegtran failed on {path} (exit status {proc.returncode})")
        return proc.stdout

    return run


def _hwm_of(pid: int) -> int | None:
    """VmHWM of a running process in bytes; None once it has exited (or is a zombie)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def jpegtran_peak(jpegtran: str, path: Path) -> int:
    """Peak RSS of ``jpegtran -copy all`` on ``path`` beyond its idle start-up, in bytes.

    The child's ``ru_maxrss`` is useless here (Linux carries the forking
    Python process's peak over ``exec``), so VmHWM of jpegtran's own address
    space is polled until it exits. The baseline is a jpegtran waiting on an
    empty stdin: program and libraries loaded, nothing allocated.
    """
    idle = subprocess.Popen([jpegtran, "-copy", "all"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(JPEGTRAN_IDLE_WAIT)
    base = _hwm_of(idle.pid) or 0
    idle.stdin.close()
    idle.wait()
    proc = subprocess.Popen([jpegtran, "-copy", "all", str(path)], stdout=subprocess.DEVNULL)
    peak = 0
    while (hwm := _hwm_of(proc.pid)) is not None:
        peak = max(peak, hwm)
        time.sleep(JPEGTRAN_POLL)
    if proc.wait() != 0:
        raise RuntimeError(f"jpegtran failed on {path} (exit status {proc.returncode})")
    return max(0, peak - base)


# --- peak memory in a fresh process ------------------------------------------------------
def _status_bytes(field_name: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field_name} not in /proc/self/status")


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _child_peak(op: str, path: str, prot_path: str, boxes, identity_path: str, tiny: bytes) -> tuple[int, str]:
    """Run ``op`` once in this (fresh) process; return the peak RSS it added, in bytes.

    Imports and first-call set-up are done on a tiny image first, the input
    is read into memory, then the peak counter is reset and the baseline
    taken; the result is kept alive until the peak has been read.
    """
    import picveil
    from picveil.crypto import load_identities

    identity = load_identities(identity_path)[0]
    tiny_prot = picveil.protect(tiny, [(0, 0, 8, 8)], recipients=[identity.recipient])
    for fn in make_ops(tiny, tiny_prot, [(0, 0, 8, 8)], identity).values():
        fn()
    data, prot = Path(path).read_bytes(), Path(prot_path).read_bytes()
    fn = make_ops(data, prot, boxes, identity)[op]
    gc.collect()
    if _reset_peak():
        method = "VmHWM after clear_refs"
        base = _status_bytes("VmRSS")
        result = fn()
        peak = _status_bytes("VmHWM")
    else:  # the peak so far may exceed the baseline: an underestimate
        method = "ru_maxrss"
        base = _status_bytes("VmRSS")
        result = fn()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    del result
    return max(0, peak - base), method


def peak_memory(op: str, case: Case, identity_path: Path, tiny: bytes) -> tuple[int, str]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(
            _child_peak, op, str(case.path), str(case.prot_path), case.boxes, str(identity_path), tiny
        ).result()


# --- correctness ------------------------------------------------------------------------
def check_roundtrip(case: Case, identity) -> tuple[bool, bool]:
    """(revealed coefficients == input coefficients, protected coefficients differ)."""
    import picveil
    from picveil.jpeg.codec import read_coefficients

    src = read_coefficients(case.data)
    back = read_coefficients(picveil.reveal(case.prot, identities=[identity]))
    scr = read_coefficients(case.prot)
    n = len(src.components)
    equal = len(back.components) == n and all(np.array_equal(src.array(ci), back.array(ci)) for ci in range(n))
    changed = any(not np.array_equal(src.array(ci), scr.array(ci)) for ci in range(n))
    return equal, changed


# --- tables -----------------------------------------------------------------------------
@dataclass
class TableData:
    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str]


def print_rich(tables: list[TableData]) -> None:
    from rich.console import Console
    from rich.table import Table

    from rich import box

    # Piped output is not squeezed to 80 columns: the tables are meant to be read whole.
    console = Console(width=None if sys.stdout.isatty() else 220)
    for t in tables:
        table = Table(title=t.title, title_justify="left", box=box.SIMPLE_HEAD)
        for i, col in enumerate(t.columns):
            table.add_column(col, justify="left" if i == 0 else "right", no_wrap=True)
        for row in t.rows:
            table.add_row(*row)
        console.print(table)
        for note in t.notes:
            console.print(note, markup=False, highlight=False)
        console.print()


def print_markdown(tables: list[TableData]) -> None:
    for t in tables:
        print(f"**{t.title}**\n")
        print("| " + " | ".join(col.replace("\n", " ") for col in t.columns) + " |")
        print("|" + "|".join([":---"] + ["---:"] * (len(t.columns) - 1)) + "|")
        for row in t.rows:
            print("| " + " | ".join(row) + " |")
        print()
        for note in t.notes:
            print(f"- {note}")
        print()


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f}" if seconds >= 0.1 else f"{seconds * 1e3:.1f}"


def ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}×"


def mib(n: float | None) -> str:
    return "–" if n is None else f"{n / MIB:.1f}"


# --- main -------------------------------------------------------------------------------
def profile_case(case: Case, identity, top: int = 10) -> None:
    """Print the top cumulative cProfile entries inside picveil for protect and reveal."""
    ops = make_ops(case.data, case.prot, case.boxes, identity)
    for name in ("protect", "reveal"):
        ops[name]()  # warm-up
        prof = cProfile.Profile()
        prof.runcall(ops[name])
        stats = pstats.Stats(prof)
        total = stats.total_tt
        rows = []
        for (filename, line, func), (_, ncalls, _, cum, _) in stats.stats.items():
            if f"{os.sep}picveil{os.sep}" in filename:
                short = filename.split(f"{os.sep}picveil{os.sep}", 1)[1]
                rows.append((cum, ncalls, f"picveil/{short}:{line}({func})"))
        rows.sort(reverse=True)
        print(f"\ncProfile, {name} at {case.mp} MP: total {total * 1e3:.0f} ms; top {top} cumulative inside picveil")
        for cum, ncalls, where in rows[:top]:
            print(f"  {cum * 1e3:8.1f} ms  {cum / total:6.1%}  {ncalls:6d} calls  {where}")
        # Largest callees outside picveil (the C extension, numpy, crypto), for context.
        ext = sorted(
            ((v[3], k) for k, v in stats.stats.items() if f"{os.sep}picveil{os.sep}" not in k[0]),
            reverse=True,
        )[:5]
        print("  largest outside picveil (cumulative):")
        for cum, (filename, line, func) in ext:
            print(f"  {cum * 1e3:8.1f} ms  {cum / total:6.1%}  {Path(filename).name}:{line}({func})")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1,4,12,24", help="megapixels, comma-separated (default 1,4,12,24)")
    p.add_argument("--repeat", type=int, default=5, help=f"timed runs per operation (default 5; at most {LARGE_REPEAT} from {LARGE_MP} MP)")
    p.add_argument("--quick", action="store_true", help="1 and 4 MP, 2 runs")
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    p.add_argument("--profile", type=int, metavar="MP", help="also profile protect and reveal at this size")
    p.add_argument("--look", default="auto", help="the look protected (default auto: fill for age recipients)")
    args = p.parse_args(argv)
    os.environ["PICVEIL_BENCH_LOOK"] = args.look
    if args.quick:
        args.sizes, args.repeat = "1,4", 2
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes must be whole megapixels separated by commas, got {args.sizes!r}")
    if not args.sizes or any(s <= 0 for s in args.sizes):
        p.error("--sizes must list positive megapixel counts")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    args.profile_only = args.profile is not None and args.profile not in args.sizes
    if args.profile_only:
        args.sizes.append(args.profile)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from rich.console import Console

    import picveil
    from picveil.crypto import Identity
    from picveil.jpeg.codec import LIBJPEG_VERSION

    log = Console(stderr=True)
    jpegtran = shutil.which("jpegtran")
    identity = Identity.generate()
    tiny = tiny_jpeg()
    cases: list[Case] = []
    results: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="picveil-bench-") as tmp:
        tmpdir = Path(tmp)
        identity_path = tmpdir / "identity.txt"
        identity_path.write_text(identity.to_file_text())
        identity_path.chmod(0o600)
        tiny_path = tmpdir / "tiny.jpg"
        tiny_path.write_bytes(tiny)
        startup_runs: list[float] = []

        for mp in args.sizes:
            w, h = frame_size(mp)
            log.print(f"[dim]{mp} MP: generating {w}x{h}…[/dim]")
            data = make_photo(w, h, SEED + mp)
            boxes = make_boxes(w, h, SEED + mp)
            path = tmpdir / f"photo_{mp}mp.jpg"
            path.write_bytes(data)
            prot = picveil.protect(data, boxes, recipients=[identity.recipient], look=bench_look())
            prot_path = tmpdir / f"photo_{mp}mp.protected.jpg"
            prot_path.write_bytes(prot)
            snapped = sum(r.box.w * r.box.h for r in picveil.inspect(prot).regions)
            case = Case(mp, w, h, path, prot_path, boxes, data, prot, snapped / (w * h))
            cases.append(case)
            if args.profile_only and mp == args.profile:
                continue
            repeat = min(args.repeat, LARGE_REPEAT) if mp >= LARGE_MP else args.repeat
            res: dict = {"repeat": repeat}
            res["equal"], res["changed"] = check_roundtrip(case, identity)
            log.print(f"[dim]{mp} MP: timing ({repeat} runs)…[/dim]")
            ops = make_ops(data, prot, boxes, identity)
            if jpegtran:
                for k in range(STARTUP_PER_ROUND):
                    ops[f"jt_start{k}"] = jpegtran_op(jpegtran, tiny_path)
                ops["jt_raw"] = jpegtran_op(jpegtran, path)
            times = median_times(ops, repeat)
            for name in OPS:
                res[name] = statistics.median(times[name])
            if jpegtran:
                res["jt_raw"] = statistics.median(times["jt_raw"])
                startup_runs += [t for k in range(STARTUP_PER_ROUND) for t in times[f"jt_start{k}"]]
            if not args.no_memory:
                log.print(f"[dim]{mp} MP: peak memory (fresh process per operation)…[/dim]")
                for name in OPS:
                    res[f"{name}_mem"], res["mem_method"] = peak_memory(name, case, identity_path, tiny)
                if jpegtran:
                    res["jt_mem"] = max(jpegtran_peak(jpegtran, path) for _ in range(repeat))
            results[mp] = res

    timed = [c for c in cases if c.mp in results]
    startup = statistics.median(startup_runs) if startup_runs else None
    for res in results.values():
        if jpegtran:  # net time: the start-up of a process that rewrites a 16x16 JPEG subtracted
            res["jt_net"] = max(res["jt_raw"] - startup, 1e-9)
        res["startup_n"] = len(startup_runs)
    tables = build_tables(timed, results, startup, jpegtran, args, LIBJPEG_VERSION)
    (print_markdown if args.markdown else print_rich)(tables)
    if args.profile is not None:
        if args.markdown:
            print("```", end="")
        profile_case(next(c for c in cases if c.mp == args.profile), identity)
        if args.markdown:
            print("```")
    ok = all(results[c.mp]["equal"] and results[c.mp]["changed"] for c in timed)
    return 0 if ok else 1


def build_tables(cases, results, startup, jpegtran, args, libjpeg) -> list[TableData]:
    jt = jpegtran is not None
    cols = ["size", "pixels", "runs"]
    if jt:
        cols += ["jpegtran\nraw ms", "jpegtran\nnet ms"]
    cols += ["Pillow\ndec+enc ms", "bare\nread+write ms", "protect\nms", "reveal\nms"]
    if jt:
        cols += ["protect\n÷ jpegtran", "reveal\n÷ jpegtran"]
    cols += ["protect\n÷ bare", "reveal\n÷ bare", "protect\n÷ Pillow", "reveal\n÷ Pillow"]
    rows = []
    for c in cases:
        r = results[c.mp]
        row = [f"{c.mp} MP", f"{c.width}×{c.height}", str(r["repeat"])]
        if jt:
            row += [ms(r["jt_raw"]), ms(r["jt_net"])]
        row += [ms(r["pillow"]), ms(r["bare"]), ms(r["protect"]), ms(r["reveal"])]
        if jt:
            row += [ratio(r["protect"], r["jt_net"]), ratio(r["reveal"], r["jt_net"])]
        row += [
            ratio(r["protect"], r["bare"]),
            ratio(r["reveal"], r["bare"]),
            ratio(r["protect"], r["pillow"]),
            ratio(r["reveal"], r["pillow"]),
        ]
        rows.append(row)
    notes = [
        f"Median of `runs` timed runs after one warm-up, operations interleaved round by round, time.perf_counter "
        f"in one process (single-threaded); picveil's extension uses {libjpeg}.",
    ]
    if jt:
        notes.append(
            f"jpegtran = `{jpegtran} -copy all FILE` to a pipe, a subprocess; net = raw − process start-up "
            f"({startup * 1e3:.1f} ms: median of {next(iter(results.values()))['startup_n']} runs of it on a 16×16 JPEG, interleaved)."
        )
        target = cases_by_mp(cases).get(TARGET_MP)
        if target is None:
            notes.append(f"Target: protect and reveal of the {TARGET_MP} MP file ≤ {TARGET_RATIO}× jpegtran net — not measured (add {TARGET_MP} to --sizes).")
        else:
            r = results[TARGET_MP]
            p, v = r["protect"] / r["jt_net"], r["reveal"] / r["jt_net"]
            verdict = "met" if max(p, v) <= TARGET_RATIO else "NOT met"
            notes.append(
                f"Target: protect and reveal of the {TARGET_MP} MP file ≤ {TARGET_RATIO}× jpegtran net: "
                f"protect {p:.2f}×, reveal {v:.2f}× — {verdict}."
            )
    else:
        notes.append("jpegtran not found on PATH (Debian: libjpeg-turbo-progs): its columns and the target are skipped.")
    checks = []
    for c in cases:
        r = results[c.mp]
        checks.append(f"{c.mp} MP {'yes' if r['equal'] else 'NO'}" + ("" if r["changed"] else " (protect changed nothing!)"))
    notes.append("Correctness, reveal(protect(x)) has exactly x's coefficients: " + ", ".join(checks) + ".")
    time_table = TableData(f"picveil protect / reveal: time (sizes {','.join(str(c.mp) for c in cases)} MP)", cols, rows, notes)

    mem = not args.no_memory
    cols = ["size", "input\nMiB", "regions\n(snapped)", "size\ngrowth"]
    if mem:
        cols += ["Pillow\npeak MiB", "bare\npeak MiB", "protect\npeak MiB", "reveal\npeak MiB"]
        if jt:
            cols += ["jpegtran\npeak MiB"]
        cols += ["protect\n÷ input", "protect\n÷ Pillow", "reveal\n÷ Pillow"]
    rows = []
    for c in cases:
        r = results[c.mp]
        row = [
            f"{c.mp} MP",
            f"{len(c.data) / MIB:.2f}",
            f"{len(c.boxes)} × {c.snapped_share:.2%}",
            f"{(len(c.prot) / len(c.data) - 1):+.2%}",
        ]
        if mem:
            row += [mib(r["pillow_mem"]), mib(r["bare_mem"]), mib(r["protect_mem"]), mib(r["reveal_mem"])]
            if jt:
                row += [mib(r["jt_mem"])]
            row += [
                ratio(r["protect_mem"], len(c.data)),
                ratio(r["protect_mem"], r["pillow_mem"]),
                ratio(r["reveal_mem"], r["pillow_mem"]),
            ]
        rows.append(row)
    notes = [
        f"Inputs: {', '.join(PHOTOS)} from skimage.data tiled (≤{MAX_UPSCALE:g}× Lanczos upscale, mirrored), "
        f"unsharp mask {UNSHARP}, Gaussian noise σ={NOISE_SIGMA}, JPEG q{QUALITY} {SUBSAMPLING} by Pillow; seed {SEED}+MP.",
        f"Regions: {len(BOX_WEIGHTS)} non-overlapping 4:5 boxes requested at {REGION_SHARE:.0%} of the area; "
        "the share shown is after snapping outward to the 16×16 MCU grid.",
        "Size growth = protected bytes ÷ input bytes − 1 (one age recipient, metadata allow-listed).",
    ]
    if mem:
        method = next(iter(results.values())).get("mem_method", "?")
        notes.append(
            "Peak = extra resident memory of one operation in a fresh spawned process (imports and a tiny warm-up first, "
            f"input bytes already loaded; {method} − VmRSS before)."
        )
        if jt:
            notes.append("jpegtran peak = its VmHWM, polled while it runs, − that of an idle jpegtran (max over the runs).")
    mem_table = TableData("picveil protect / reveal: memory and size", cols, rows, notes)
    return [time_table, mem_table]


def cases_by_mp(cases) -> dict[int, Case]:
    return {c.mp: c for c in cases}


if __name__ == "__main__":
    sys.exit(main())
