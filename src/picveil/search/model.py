"""The feature networks (PyTorch; imported only when a network is used).

Both follow seed 002: a stack of gMLP blocks (Liu et al. 2021, "Pay Attention
to MLPs") over patch tokens, with a learnable class token prepended whose
final state is the image representation ``f``; a BatchNorm "neck" gives the
retrieval feature ``f_bn`` (compared by cosine) and a linear classifier is
trained on it. Training combines a triplet loss on ``f`` and cross-entropy on
the classifier (:mod:`picveil.search.training`).

:class:`CipherGMLP` (what picveil ships) reads the keyless tokens of
:func:`picveil.search.features.cipher_tokens`. Block permutation is keyed
afresh for every image, so a token's *position* in the file means nothing;
instead each of the three component slots lists its 8×8 blocks in a keyless
sorted order (a quantile function). A small MLP embeds every 8×8 block, the
sorted blocks are averaged in consecutive groups into rank "bins", and the
gMLP's spatial gating mixes the bins -- the seed's 8×8-patch gMLP with rank
taking the place of position.

:class:`PlainGMLP` is the same trunk on 16×16 pixel patches of a plaintext
picture in raster order: the benchmark's upper bound, not shipped.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["CipherGMLP", "CipherTileGMLP", "DEFAULT_TILE_CONFIG", "PlainGMLP", "build_model", "DEFAULT_CIPHER_CONFIG", "DEFAULT_PLAIN_CONFIG"]

#: Configuration of the shipped network (values are JSON-friendly).
DEFAULT_CIPHER_CONFIG = {
    "kind": "cipher",
    "slot_rows": [128, 32, 32],
    "bins": [32, 8, 8],
    "d_in": 64,
    "d_block": 96,
    "d": 64,
    "depth": 3,
    "n_classes": 10,
}
#: searchable-v2: one token per tile of the scheme's 8 × 8 grid, from its sorted block rows.
DEFAULT_TILE_CONFIG = {
    "kind": "cipher-tiles",
    "tiles": 64,
    "rows_per_tile": 8,
    "d_in": 64,
    "d_block": 48,
    "d": 64,
    "depth": 3,
    "n_classes": 10,
}
DEFAULT_PLAIN_CONFIG = {"kind": "plain", "n_tokens": 64, "d_in": 256, "d": 64, "depth": 3, "n_classes": 10}


class SpatialGatingUnit(nn.Module):
    """Split channels in two; gate one half by a linear map across tokens of the other."""

    def __init__(self, d_ffn: int, n_tokens: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_ffn // 2)
        self.proj = nn.Linear(n_tokens, n_tokens)
        # Near-identity start (weights 0, bias 1), as in the gMLP paper.
        nn.init.zeros_(self.proj.weight)
        nn.init.ones_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, v = x.chunk(2, dim=-1)
        v = self.proj(self.norm(v).transpose(1, 2)).transpose(1, 2)
        return u * v


class GMLPBlock(nn.Module):
    """``x + W2 · SGU(GELU(W1 · LN(x)))`` (seed 002, equations 1-3)."""

    def __init__(self, d: int, d_ffn: int, n_tokens: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, d_ffn)
        self.sgu = SpatialGatingUnit(d_ffn, n_tokens)
        self.fc2 = nn.Linear(d_ffn // 2, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.sgu(F.gelu(self.fc1(self.norm(x)))))


class _Trunk(nn.Module):
    """Class token + positional embedding + gMLP blocks + LN; BN neck; classifier."""

    def __init__(self, d: int, depth: int, n_tokens: int, n_classes: int) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, n_tokens, d))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.Sequential(*[GMLPBlock(d, 4 * d, n_tokens + 1) for _ in range(depth)])
        self.norm = nn.LayerNorm(d)
        self.neck = nn.BatchNorm1d(d)
        self.neck.bias.requires_grad_(False)  # BNNeck (Luo et al. 2019), as seed 002 cites
        self.head = nn.Linear(d, n_classes, bias=False)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = tokens + self.pos
        x = torch.cat([self.cls.expand(len(x), -1, -1), x], dim=1)
        f = self.norm(self.blocks(x))[:, 0]
        f_bn = self.neck(f)
        return f, f_bn, self.head(f_bn)


class CipherGMLP(nn.Module):
    """gMLP over rank bins of keyless block features (input: ``uint8`` tokens)."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = dict(config)
        rows, bins = list(config["slot_rows"]), list(config["bins"])
        if len(rows) != len(bins) or any(r % b for r, b in zip(rows, bins)):
            raise ValueError("every slot's rows must be a multiple of its bins")
        self.rows, self.bins = rows, bins
        d = config["d"]
        self.block = nn.Sequential(nn.Linear(config["d_in"], config["d_block"]), nn.GELU(), nn.Linear(config["d_block"], d))
        self.slot = nn.Parameter(torch.zeros(len(rows), d))
        self.trunk = _Trunk(d, config["depth"], sum(bins), config["n_classes"])

    def forward(self, x: torch.Tensor):
        e = self.block(x.float() / 255.0)
        parts, start = [], 0
        for s, (r, b) in enumerate(zip(self.rows, self.bins)):
            seg = e[:, start:start + r]
            parts.append(seg.reshape(len(e), b, r // b, -1).mean(dim=2) + self.slot[s])
            start += r
        return self.trunk(torch.cat(parts, dim=1))


class CipherTileGMLP(nn.Module):
    """gMLP over the tiles of searchable-v2 files (input: ``uint8`` ``(N, tiles · rows_per_tile, d_in)``).

    A small MLP embeds every sorted block row; a tile's rows are concatenated
    (their rank order is keyless) and projected to one token; the tokens keep
    their tile position, as the plaintext network's patches do.
    """

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = dict(config)
        self.tiles, self.rows = int(config["tiles"]), int(config["rows_per_tile"])
        d = config["d"]
        self.block = nn.Sequential(nn.Linear(config["d_in"], config["d_block"]), nn.GELU())
        self.tile = nn.Linear(self.rows * config["d_block"], d)
        self.trunk = _Trunk(d, config["depth"], self.tiles, config["n_classes"])

    def forward(self, x: torch.Tensor):
        e = self.block(x.float() / 255.0)
        return self.trunk(self.tile(e.reshape(len(e), self.tiles, -1)))


class PlainGMLP(nn.Module):
    """gMLP over raster-order pixel patches (input: ``uint8`` ``(N, n_tokens, d_in)``)."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = dict(config)
        self.embed = nn.Linear(config["d_in"], config["d"])
        self.trunk = _Trunk(config["d"], config["depth"], config["n_tokens"], config["n_classes"])

    def forward(self, x: torch.Tensor):
        return self.trunk(self.embed(x.float() / 255.0))


def build_model(config: dict) -> nn.Module:
    """A fresh network for ``config`` (``config["kind"]``: ``"cipher"`` or ``"plain"``)."""
    kind = config.get("kind")
    if kind == "cipher":
        return CipherGMLP(config)
    if kind == "cipher-tiles":
        return CipherTileGMLP(config)
    if kind == "plain":
        return PlainGMLP(config)
    raise ValueError(f"unknown network kind {kind!r}")
