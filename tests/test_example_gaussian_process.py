"""examples/gaussian_process.py runs, fits, agrees with the closed-form gradient, and plots.

Needs the ``examples`` extra (scikit-learn for the data set, matplotlib for the plot):
skipped without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_examples import EXAMPLES, ROOT, numbers_after

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def run_single_threaded(name: str, *args: str) -> str:
    """Run an example with BLAS on one thread: 442 x 442 factorisations gain nothing from
    more, and on a busy shared machine OpenBLAS's waiting threads cost seconds."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_gaussian_process_example(tmp_path: Path) -> None:
    plot = tmp_path / "gp.png"
    out = run_single_threaded("gaussian_process.py", str(plot))
    start, fitted = numbers_after("log marginal likelihood:", out)
    assert fitted > start + 100  # the fit improves the evidence a lot from the start
    lengthscale, signal, noise = numbers_after("fitted hyperparameters:", out)
    assert lengthscale > 0 and signal > 0 and 0 < noise < 1  # BMI explains part of y
    assert numbers_after("max difference", out)[0] < 1e-8
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot saved to {plot}" in out
