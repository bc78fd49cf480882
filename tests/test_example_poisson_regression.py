"""examples/poisson_regression.py runs, its Newton fits agree with scipy.optimize's,
and it saves its plot (scikit-learn, and matplotlib for the plot, are optional)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.test_examples import numbers_after, run_example

pytest.importorskip("sklearn")


def test_poisson_regression_example(tmp_path: Path) -> None:
    plot = tmp_path / "poisson_regression.png"
    started = time.perf_counter()
    out = run_example("poisson_regression.py", "--plot", str(plot))
    assert time.perf_counter() - started < 20
    poisson, negative_binomial = out.split("Negative-binomial regression")
    # the intercept is close to log(mean count); the two fits agree with SciPy's
    assert numbers_after("intercept", poisson)[0] == pytest.approx(4.927619, abs=1e-6)
    assert numbers_after("max |functrans - scipy.optimize|:", poisson)[0] < 1e-5
    assert numbers_after("max |functrans - scipy.optimize|:", negative_binomial)[0] < 1e-5
    # overdispersion: the negative binomial fits far better than the Poisson model
    poisson_nll = numbers_after("-log-likelihood", poisson)[0]
    nb_nll = numbers_after("-log-likelihood", negative_binomial)[0]
    assert nb_nll < poisson_nll - 50
    assert "converged in" in out
    if "plot saved" in out:
        assert plot.stat().st_size > 10_000
    else:
        assert "matplotlib is not installed" in out
