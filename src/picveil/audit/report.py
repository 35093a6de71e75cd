"""Write an audit's results: ``README.md`` tables, ``*.png`` plots, ``results.json``,
and a summary table for the terminal.

matplotlib is used with the Agg backend (no display needed) and imported only
when plots are written.
"""

from __future__ import annotations

import datetime as _dt
import re
import textwrap
from pathlib import Path

import numpy as np

from . import obfuscations as _obf

__all__ = ["write_report", "print_summary", "markdown_tables", "validation_rows"]


def _pct(x: float | None) -> str:
    return "–" if x is None or x != x else f"{100 * x:.1f}"


def _cells(results):
    seen = []
    for r in results.rows:
        k = (r.dataset, r.size)
        if k not in seen:
            seen.append(k)
    return seen


def _obf_order(results, dataset, size):
    out = []
    for r in results.rows:
        if (r.dataset, r.size) == (dataset, size) and r.obfuscation not in out:
            out.append(r.obfuscation)
    return out


def _summary(name: str) -> str:
    try:
        return _obf.get(name).summary
    except ValueError:
        return ""


def validation_rows(results) -> list[tuple[str, float, float | None, bool | None]]:
    """(obfuscation, seed 004's top-1 %, ours %, within tolerance) for MNIST at 32 px."""
    from .run import SEED004_MNIST, VALIDATION_TOLERANCE

    rows = []
    for name in ("none", "mosaic2", "mosaic4", "mosaic8", "mosaic16"):
        r = results.get("mnist", 32, name)
        ours = None if r is None else 100 * r.top1
        ok = None if ours is None else abs(ours - SEED004_MNIST[name]) <= VALIDATION_TOLERANCE
        rows.append((name, SEED004_MNIST[name], ours, ok))
    return rows


def markdown_tables(results) -> str:
    """The report's tables as Markdown."""
    from .run import SEED004_MNIST, VALIDATION_TOLERANCE

    lines: list[str] = []
    val = validation_rows(results)
    if any(v[2] is not None for v in val):
        lines += [
            "## Validation against seed 004 (MNIST, 32×32, top-1 %)", "",
            f"Tolerance ±{VALIDATION_TOLERANCE:g} points.", "",
            "| obfuscation | seed 004 | measured | within tolerance |", "|---|---:|---:|:---:|",
        ]
        for name, ref, ours, ok in val:
            if ours is not None:
                lines.append(f"| {name} | {ref:.1f} | {ours:.1f} | {'yes' if ok else '**no**'} |")
        lines.append("")
    p3 = [(n, results.get("mnist", 32, n)) for n in ("p3-20", "p3-10", "p3-1")]
    if any(r is not None for _, r in p3):
        lines += [
            "## P3 public part (MNIST, 32×32, top-1 %)", "",
            "| threshold | measured | seed 004 |", "|---|---:|---:|",
        ]
        for n, r in p3:
            if r is not None:
                lines.append(f"| {n.split('-')[1]} | {_pct(r.top1)} | {SEED004_MNIST[n]:.1f} |")
        lines.append("")
        variants = [("p3", "clip ±T (default)"), ("p3nosign", "large → +T, sign lost"),
                    ("p3dc0", "clip ±T, DC = 0"), ("p3lib", "clip ±T, real libjpeg files")]
        present = [(v, title) for v, title in variants
                   if any(results.get("mnist", 32, f"{v}-{t}") for t in (20, 10, 1))]
        if len(present) > 1:
            lines += [
                "### P3 variants tried (MNIST, 32×32, CNN top-1 %)", "",
                "Diagnostics, not baselines: each changes one thing seed 004's text leaves open.", "",
                "| threshold | " + " | ".join(t for _, t in present) + " | seed 004 |",
                "|---|" + "---:|" * (len(present) + 1),
            ]
            for t in (20, 10, 1):
                cells = [results.get("mnist", 32, f"{v}-{t}") for v, _ in present]
                lines.append(f"| {t} | " + " | ".join(_pct(c.top1 if c else None) for c in cells)
                             + f" | {SEED004_MNIST[f'p3-{t}']:.1f} |")
            lines.append("")

    for dataset, size in _cells(results):
        lines += [
            f"## {dataset}, {size}×{size}", "",
            "Top-1 / top-5 accuracy in per cent on obfuscated test images. "
            "CNN: trained on obfuscated training images. Stats: logistic regression (LR) or MLP "
            "on global statistics (mean, contrast, histogram of 8×8 block means). Spectrum: "
            "gradient-boosted trees on the energy and mean magnitude of each 8×8 DCT frequency "
            "over all blocks, which every scramble that keeps coefficients at their frequency keeps.", "",
            "| obfuscation | CNN top-1 | CNN top-5 | stats LR top-1 | stats MLP top-1 | spectrum top-1 | chance | epochs (best) | train s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name in _obf_order(results, dataset, size):
            c = results.get(dataset, size, name, "cnn")
            lr = results.get(dataset, size, name, "stats-lr")
            mlp = results.get(dataset, size, name, "stats-mlp")
            sp = results.get(dataset, size, name, "spectrum-gbt")
            lines.append(
                f"| {name} | {_pct(c.top1 if c else None)} | {_pct(c.top5 if c else None)} | "
                f"{_pct(lr.top1 if lr else None)} | {_pct(mlp.top1 if mlp else None)} | "
                f"{_pct(sp.top1 if sp else None)} | "
                f"{_pct(c.chance if c else None)} | {c.epochs if c else '–'} ({c.best_epoch if c else '–'}) | "
                f"{c.seconds:.0f} |" if c else f"| {name} | – | – | – | – | – | – | – | – |"
            )
        lines.append("")
    return "\n".join(lines)


def _plot_bars(results, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    datasets = []
    for d, _ in _cells(results):
        if d not in datasets:
            datasets.append(d)
    for dataset in datasets:
        sizes = [s for d, s in _cells(results) if d == dataset]
        names = []
        for s in sizes:
            for n in _obf_order(results, dataset, s):
                if n not in names:
                    names.append(n)
        fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(names) + 2), 4))
        width = 0.8 / max(1, len(sizes))
        x = np.arange(len(names))
        chance = None
        for k, s in enumerate(sizes):
            vals = []
            for n in names:
                r = results.get(dataset, s, n, "cnn")
                vals.append(np.nan if r is None else 100 * r.top1)
                chance = chance if r is None else 100 * r.chance
            ax.bar(x + (k - (len(sizes) - 1) / 2) * width, vals, width, label=f"CNN, {s}px")
            for attack, marker, color, label in (("stats-mlp", "_", "black", "global stats (MLP)"),
                                                 ("spectrum-gbt", "x", "tab:orange", "block spectrum")):
                other = [results.get(dataset, s, n, attack) for n in names]
                ax.scatter(x + (k - (len(sizes) - 1) / 2) * width, [np.nan if r is None else 100 * r.top1 for r in other],
                           marker=marker, s=60, color=color, zorder=3, label=label if k == 0 else None)
        if chance is not None:
            ax.axhline(chance, color="red", linestyle="--", linewidth=1, label="chance")
        ax.set_xticks(x, names, rotation=45, ha="right")
        ax.set_ylabel("attacker top-1 accuracy (%)")
        ax.set_ylim(0, 118)  # headroom for the legend
        ax.set_yticks(range(0, 101, 20))
        ax.set_title(f"{dataset}: attacker accuracy on obfuscated test images")
        ax.legend(fontsize="small", loc="upper center", ncol=len(sizes) + 3, frameon=False)
        fig.tight_layout()
        fname = f"accuracy-{dataset}.png"
        fig.savefig(out / fname, dpi=110)
        plt.close(fig)
        files.append(fname)
    return files


_OBF_FILE = re.compile(r"-[0-9a-f]{16}\.npz")


def _example_file(cache: Path, dataset: str, size: int, name: str) -> Path | None:
    """The cached obfuscated images of `name` on `dataset` at `size`: exactly its
    files, ``<dataset>-<size>-<name>-<16 hex>.npz`` (a plain prefix match would
    take ``picveil_scramble-v4-random-dc-…`` for ``picveil_scramble-v4``), the
    last by name if several runs left one."""
    stem = f"{dataset}-{size}-{name.replace(':', '_')}"
    hits = sorted(h for h in cache.glob(f"{stem}-*.npz") if _OBF_FILE.fullmatch(h.name[len(stem):]))
    return hits[-1] if hits else None


def _plot_examples(results, out: Path) -> list[str]:
    """One image per class... kept to one test image, shown under every obfuscation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    cache = out / "cache" / "obf"
    for dataset, size in _cells(results):
        names = _obf_order(results, dataset, size)
        imgs = []
        for n in names:
            path = _example_file(cache, dataset, size, n)
            if path is not None:
                with np.load(path) as z:
                    imgs.append((n, z["test"][:3]))
        if not imgs:
            continue
        fig, axes = plt.subplots(3, len(imgs), figsize=(max(1.2 * len(imgs), 4.0), 3.9), squeeze=False)
        for j, (n, arr) in enumerate(imgs):
            for i in range(3):
                ax = axes[i][j]
                if i < len(arr):
                    ax.imshow(arr[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
            axes[0][j].set_title("\n".join(textwrap.wrap(n, 16, break_on_hyphens=True)), fontsize=7)
        fig.suptitle(f"{dataset}, {size}×{size}: the same test images under each obfuscation", fontsize=9)
        fig.tight_layout()
        fname = f"examples-{dataset}-{size}.png"
        fig.savefig(out / fname, dpi=110)
        plt.close(fig)
        files.append(fname)
    return files


def cpu_minutes(results) -> float:
    """CPU minutes the cells took (training, statistics attackers, obfuscation), cached cells included."""
    total, seen = 0.0, set()
    for r in results.rows:
        total += r.cpu_seconds
        key = (r.dataset, r.size, r.obfuscation)
        if key not in seen:
            seen.add(key)
            total += r.obfuscate_cpu_seconds
    return total / 60.0


def cipher_lines(results) -> list[str]:
    """The "Cipher statistics" section (``picveil audit --cipher``) as lines; none without those results."""
    data = getattr(results, "cipher", None)
    if not data:
        return []
    from .cipher import CipherResults, markdown_section

    return [markdown_section(CipherResults.from_dict(data)), ""]


def faces_lines(results) -> list[str]:
    """The "Real faces" section (``picveil audit --faces``) as lines; none without those results."""
    data = getattr(results, "faces", None)
    if not data:
        return []
    from .faces import FaceResults, markdown_table

    return [markdown_table(FaceResults.from_dict(data)), ""]


def write_report(results, out_dir) -> Path:
    """Write ``README.md``, ``results.json`` and the plots into ``out_dir``; return the README path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(results.to_json())
    plots = _plot_bars(results, out) + _plot_examples(results, out)
    cfg = results.config
    mode, att = cfg["mode"], cfg["attack"]
    names = cfg["obfuscations"]
    lines = [
        "# picveil audit: can a trained network see through the obfuscation?", "",
        f"Generated {_dt.datetime.now().isoformat(timespec='seconds')} in {results.seconds / 60:.1f} min "
        f"on {cfg.get('cpus')} CPU(s). Mode **{mode['name']}**: {mode['n_train']} training / "
        f"{mode['n_test']} test images per data set (class-stratified, seed {cfg['seed']}), at most "
        f"{att['max_epochs']} epochs, early stopping after {att['patience']} epochs without gain on a "
        f"{att['val_fraction']:.0%} validation split.", "",
        f"Compute: {cpu_minutes(results):.1f} CPU-minutes over all cells, run as {cfg.get('workers', 1)} "
        f"one-thread worker process(es); on an otherwise idle machine with that many cores the wall time "
        f"is about {cpu_minutes(results) / max(1, cfg.get('workers', 1)):.0f} min. Wall time here includes "
        "waiting for other processes.", "",
        "Threat model (seed 004): the attacker knows the algorithm and its settings, not the keys; every "
        "image has its own fresh key. It trains on obfuscated training images with their labels and is "
        "scored on obfuscated test images. Network: seed 004's MNIST CNN (appendix A.1) with batch "
        "normalisation, a stride-k patch stem above 32 px, shift augmentation by multiples of the "
        "obfuscation's block grid, SGD (Nesterov, momentum 0.9, weight decay 5e-4).", "",
        f"Images: native size = padded to 32×32 with black; larger sizes = {cfg['upscale']} upscales "
        f"of that. JPEG-domain baselines use IJG quality {cfg['jpeg_quality']} tables.", "",
        markdown_tables(results),
        *cipher_lines(results),
        *faces_lines(results),
        "## Obfuscations", "",
        "| name | what |", "|---|---|",
        *[f"| {n} | {_summary(n)} |" for n in names],
        "",
        "## Plots", "",
        *[f"![{p}]({p})" for p in plots],
        "",
        "## Reproduce", "",
        "```", cfg.get("command") or "python -m picveil.audit", "```", "",
        f"Versions: {', '.join(f'{k} {v}' for k, v in cfg['versions'].items())}.", "",
    ]
    path = out / "README.md"
    path.write_text("\n".join(lines))
    return path


def print_summary(results) -> None:
    """A rich table of CNN top-1 (and the statistics and spectrum attackers' top-1) per cell."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    cells = _cells(results)
    table = Table(title=f"attacker top-1 % ({results.seconds / 60:.1f} min)")
    table.add_column("obfuscation")
    for d, s in cells:
        table.add_column(f"{d} {s}px\nCNN / stats / spectrum", justify="right")
    names = []
    for d, s in cells:
        for n in _obf_order(results, d, s):
            if n not in names:
                names.append(n)
    for n in names:
        row = [n]
        for d, s in cells:
            c, m = results.get(d, s, n, "cnn"), results.get(d, s, n, "stats-mlp")
            sp = results.get(d, s, n, "spectrum-gbt")
            row.append(f"{_pct(c.top1 if c else None)} / {_pct(m.top1 if m else None)} / {_pct(sp.top1 if sp else None)}")
        table.add_row(*row)
    console.print(table)
