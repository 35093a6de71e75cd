"""Empirical-Bayes shrinkage of sparse coefficients seen through Gaussian noise.

A scramble-v5/v6/v7 region, unmixed after a platform re-encoded the picture,
is the original's DCT coefficients plus the re-encoder's noise divided by
the gains: at every frequency, ``y = x + n`` with ``n ~ N(0, σ²)`` (the
mixing spreads each block's noise over all of them, so whatever the
re-encoder did, the sum is Gaussian). The original's coefficients are
sparse: a JPEG's quantizer left most of its high frequencies exactly zero.
The plain inverse keeps all of ``n`` on every coefficient, where the
unprotected picture, re-encoded, kept its zeros; that is most of the gap
between the two after a re-encode coarser than the photo's own.

:func:`shrink` fits, per frequency, the prior of Johnstone and Silverman
("Needles and straw in haystacks", Ann. Statist. 2004): ``x`` is 0 with
probability ``1 − w`` and else Laplace with rate ``a`` (in units of
``σ``), by maximum likelihood on the values themselves, together with
``σ`` (within a range around the caller's model value: the model knows the
re-encoder's steps, not the pixel rounding and clipping beside them), and
returns each value's posterior mean. Pure numpy/scipy; no state.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["posterior_mean", "shrink"]

#: Multiples of the caller's σ tried by :func:`shrink`'s fit.
SIGMA_FACTORS = (0.8, 1.0, 1.25)
#: Laplace rates ``a`` (per σ) and prior weights ``w`` tried.
RATES = tuple(np.geomspace(0.03, 4.0, 12))
WEIGHTS = (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 1.0)
#: Values the fit reads at most (a regular subsample beyond).
FIT_SAMPLES = 3000

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _log_slab(t: np.ndarray, a: float) -> np.ndarray:
    """log of the density of ``t = μ + N(0, 1)`` with ``μ ~ Laplace(a)`` (density ``a/2 · e^{−a|μ|}``)."""
    from scipy.special import log_ndtr

    l1 = -a * t + log_ndtr(t - a)
    l2 = a * t + log_ndtr(-t - a)
    return math.log(a / 2.0) + a * a / 2.0 + np.logaddexp(l1, l2)


def posterior_mean(t: np.ndarray, w: float, a: float) -> np.ndarray:
    """``E[μ | t]`` for ``t = μ + N(0, 1)``, ``μ`` 0 with probability ``1 − w``, else Laplace(``a``).

    Parameters
    ----------
    t : numpy.ndarray
        Observations in units of the noise's rms.
    w : float
        Prior probability that ``μ`` is not 0, in ``(0, 1]``.
    a : float
        The Laplace rate, ``> 0``.

    Returns
    -------
    numpy.ndarray
        Same shape as `t`: between 0 and ``t``, odd in ``t``; near 0 for
        ``|t|`` up to about the universal threshold when ``w`` is small,
        about ``t − a·sign(t)`` far out.
    """
    from scipy.special import log_ndtr

    t = np.asarray(t, dtype=np.float64)
    l1 = -a * t + log_ndtr(t - a)
    l2 = a * t + log_ndtr(-t - a)
    slab_mean = t - a * np.tanh((l1 - l2) / 2.0)  # t − a (e1 − e2) / (e1 + e2)
    if w >= 1.0:
        return slab_mean
    log_null = math.log1p(-w) - 0.5 * t * t - _LOG_SQRT_2PI
    log_slab = math.log(w) + _log_slab(t, a)
    return slab_mean / (1.0 + np.exp(np.clip(log_null - log_slab, -700.0, 700.0)))


def _fit(t: np.ndarray) -> tuple[float, float, float]:
    """``(log-likelihood, w, a)`` maximising the likelihood of `t` (unit noise) over the grids."""
    log_null = -0.5 * t * t - _LOG_SQRT_2PI
    ws = np.asarray(WEIGHTS)
    best = (-math.inf, 1.0, 1.0)
    for a in RATES:
        ls = _log_slab(t, a)
        # all weights at once: (len(ws), n)
        with np.errstate(divide="ignore"):
            ll = np.logaddexp(np.log1p(-ws)[:, None] + log_null[None], np.log(ws)[:, None] + ls[None]).sum(axis=1)
        i = int(np.argmax(ll))
        if ll[i] > best[0]:
            best = (float(ll[i]), float(ws[i]), float(a))
    return best


def shrink(y: np.ndarray, sigma: float) -> tuple[np.ndarray, float]:
    """Posterior means of sparse values `y` seen through Gaussian noise of rms about `sigma`.

    Parameters
    ----------
    y : numpy.ndarray
        1-D: one frequency's values over a region's blocks.
    sigma : float
        The noise's modelled rms. The fit tries :data:`SIGMA_FACTORS` times it.

    Returns
    -------
    (numpy.ndarray, float)
        The estimates (a new array, same shape) and the noise rms the fit
        chose; `y` itself and ``nan`` if `sigma` is not a positive finite
        number or `y` holds fewer than 2 values.
    """
    y = np.asarray(y, dtype=np.float64)
    if not (np.isfinite(sigma) and sigma > 0) or y.size < 2:
        return y.copy(), math.nan
    sample = y[:: -(-y.size // FIT_SAMPLES)]
    best = (-math.inf, sigma, 1.0, 1.0)
    for f in SIGMA_FACTORS:
        s = sigma * f
        ll, w, a = _fit(sample / s)
        ll -= sample.size * math.log(s)
        if ll > best[0]:
            best = (ll, s, w, a)
    _, s, w, a = best
    return posterior_mean(y / s, w, a) * s, s
