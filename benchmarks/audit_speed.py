"""How long the audit's pieces take, as a table of times and ratios from one run.

    python benchmarks/audit_speed.py [--images 200]

Columns: per-image obfuscation time at 32 and 128 pixels (and the ratio to
mosaic at the same size), then the attacker's training time per image for
each input size and thread count. Use it to size ``picveil.audit.run.FULL``:
a full run trains (data sets × sizes × obfuscations) cells of
``n_train × epochs`` images each. Timings on a shared machine vary; compare
ratios within one run, not numbers across runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _obf_times(names, images_by_size, repeats=1):
    from picveil.audit import obfuscations as ob

    rows = {}
    for name in names:
        o = ob.get(name)
        row = {}
        for size, imgs in images_by_size.items():
            t0 = time.perf_counter()
            for _ in range(repeats):
                for i, im in enumerate(imgs):
                    o(im, np.random.default_rng(i))
            row[size] = (time.perf_counter() - t0) / (repeats * len(imgs))
        rows[name] = row
    return rows


def _train_time(size: int, threads: int, batches: int = 20, batch: int = 64) -> float:
    import torch
    import torch.nn.functional as F

    from picveil.audit.attack import build_net

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = build_net(size, 10)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(batch, 1, size, size), torch.randint(0, 10, (batch,))
    for _ in range(3):  # warm-up
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    t0 = time.perf_counter()
    for _ in range(batches):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    return (time.perf_counter() - t0) / (batches * batch)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=200, help="images per obfuscation timing")
    args = p.parse_args()

    from picveil.audit import data, obfuscations as ob

    digits = data.load_digits().images[: args.images]
    by_size = {s: data.prepare(digits, s) for s in (32, 128)}
    names = [n for n in ob.DEFAULT_SET] + (["picveil:default"] if ob.picveil_available() else [])
    rows = _obf_times(names, by_size)
    base = rows["mosaic4"]
    print(f"obfuscation, {args.images} sklearn digits per size")
    print(f"{'name':18s} {'32px ms':>9s} {'x mosaic4':>10s} {'128px ms':>9s} {'x mosaic4':>10s} {'128/32':>7s}")
    for name, r in rows.items():
        print(f"{name:18s} {1e3 * r[32]:9.3f} {r[32] / base[32]:10.1f} {1e3 * r[128]:9.3f} "
              f"{r[128] / base[128]:10.1f} {r[128] / r[32]:7.1f}")

    print("\nattacker training, ms per image (batch 64)")
    print(f"{'size':>5s} {'1 thread':>9s} {'2 threads':>10s} {'speed-up':>9s}")
    t32 = None
    for size in (32, 128):
        t1, t2 = _train_time(size, 1), _train_time(size, 2)
        t32 = t32 or t1
        print(f"{size:5d} {1e3 * t1:9.3f} {1e3 * t2:10.3f} {t1 / t2:9.2f}   (1 thread: {t1 / t32:.1f}x the 32px time)")


if __name__ == "__main__":
    main()
