"""Why do our P3 numbers differ from seed 004's? One table, one run.

    python benchmarks/audit_p3_variants.py [--n-train 8000 --n-test 2000]

Trains the attacker on MNIST (32×32) protected with P3's public part at
thresholds 20, 10 and 1, and prints top-1 accuracy for

* ``ours``: the audit's attacker (seed 004's network + batch norm,
  standardised inputs, shift augmentation, early stopping);
* ``paper net``: seed 004's network exactly (no batch norm), inputs as
  pixel/255 like Torch's MNIST template, no augmentation, learning rate 0.01;

next to seed 004's Table 2. Every P3 variant of the registry can be added
with ``--variants`` (``p3``, ``p3nosign``, ``p3dc0``, ``p3lib``).
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

PAPER = {"none": 98.71, 20: 79.93, 10: 74.19, 1: 58.54}


def _job(args):
    name, cfg_name, n_train, n_test = args
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from picveil.audit import data, obfuscations as ob
    from picveil.audit.attack import AttackConfig, train_cnn

    ds = data.load_mnist()
    tr, te = data.split_indices(ds.labels, n_train, n_test, 0)
    x = data.prepare(ds.images[np.concatenate([tr, te])], 32)
    o = ob.get(name)
    x = np.stack([o(im, np.random.default_rng(i)) for i, im in enumerate(x)])
    if cfg_name == "ours":
        cfg = AttackConfig(max_epochs=20, patience=4, threads=1)
    else:
        cfg = AttackConfig(max_epochs=20, patience=4, threads=1, batchnorm=False, standardize=False,
                           augment=False, lr=0.01)
    r = train_cnn(x[:n_train], ds.labels[tr], x[n_train:], ds.labels[te], n_classes=10, grid=o.grid, config=cfg)
    return name, cfg_name, r.top1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=8000)
    p.add_argument("--n-test", type=int, default=2000)
    p.add_argument("--variants", default="p3", help="comma-separated P3 registry prefixes")
    p.add_argument("--no-none", action="store_true", help="skip the unprotected baseline")
    p.add_argument("--configs", default="ours,paper net", help="comma-separated: 'ours', 'paper net'")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    names = ([] if args.no_none else ["none"]) + [f"{v}-{t}" for v in args.variants.split(",") for t in (20, 10, 1)]
    configs = [c.strip() for c in args.configs.split(",")]
    jobs = [(n, c, args.n_train, args.n_test) for n in names for c in configs]
    with ProcessPoolExecutor(args.workers) as pool:
        res = {(n, c): top1 for n, c, top1 in pool.map(_job, jobs)}
    print(f"MNIST 32x32, {args.n_train}/{args.n_test} images, CNN top-1 %")
    print(f"{'obfuscation':16s}" + "".join(f" {c:>10s}" for c in configs) + f" {'seed 004':>9s}"
          + "".join(f" {c + '/004':>14s}" for c in configs))
    for n in names:
        ref = PAPER["none"] if n == "none" else PAPER[int(n.rsplit("-", 1)[1])]
        vals = [100 * res[(n, c)] for c in configs]
        print(f"{n:16s}" + "".join(f" {v:10.1f}" for v in vals) + f" {ref:9.1f}"
              + "".join(f" {v / ref:14.2f}" for v in vals))


if __name__ == "__main__":
    main()
