"""picveil.robust.shrink: empirical-Bayes shrinkage of sparse values in Gaussian noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from picveil.robust.shrink import posterior_mean, shrink


def test_posterior_mean_is_odd_shrinks_and_tends_to_t_minus_a():
    t = np.linspace(-12, 12, 241)
    for w, a in ((0.05, 0.5), (0.5, 1.0), (1.0, 0.3)):
        m = posterior_mean(t, w, a)
        assert np.allclose(m, -posterior_mean(-t, w, a), atol=1e-12)
        assert np.all(np.abs(m) <= np.abs(t) + 1e-12)
        assert np.all(m * t >= -1e-12)  # never crosses zero
        assert np.all(np.diff(m) > 0)  # monotone
        far = posterior_mean(np.array([40.0]), w, a)[0]
        assert far == pytest.approx(40.0 - a, abs=1e-6)
    # a sparse prior leaves small values near zero
    assert abs(posterior_mean(np.array([1.5]), 0.05, 0.5)[0]) < 0.2
    # extreme inputs stay finite
    assert np.all(np.isfinite(posterior_mean(np.array([-1e6, 0.0, 1e6]), 0.02, 4.0)))


def test_shrink_removes_most_noise_from_sparse_values():
    rng = np.random.default_rng(5)
    n = 20_000
    x = np.where(rng.random(n) < 0.1, rng.laplace(0, 6.0, n), 0.0)
    sigma = 1.0
    y = x + rng.normal(0, sigma, n)
    est, chosen = shrink(y, sigma * 1.2)  # the model a little off: the fit picks within its range
    assert 0.8 <= chosen <= 1.3
    assert np.mean((est - x) ** 2) < 0.35 * np.mean((y - x) ** 2)


def test_shrink_hardly_touches_dense_values_in_small_noise():
    rng = np.random.default_rng(6)
    n = 10_000
    x = rng.laplace(0, 20.0, n)
    y = x + rng.normal(0, 1.0, n)
    est, _ = shrink(y, 1.0)
    assert np.mean((est - x) ** 2) <= 1.02 * np.mean((y - x) ** 2)


@pytest.mark.parametrize("sigma", [0.0, -1.0, math.nan, math.inf])
def test_shrink_leaves_values_alone_without_a_noise_model(sigma):
    y = np.array([1.0, -2.0, 3.0])
    est, chosen = shrink(y, sigma)
    assert np.array_equal(est, y) and est is not y
    assert math.isnan(chosen)
