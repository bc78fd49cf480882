"""examples/damped_oscillator.py: the fit through odeint recovers the spring constant and
the damping, and the plot is written (or skipped with a message without matplotlib)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.test_examples import EXAMPLES, ROOT, numbers_after, run_example


def test_fit_recovers_the_parameters_and_saves_the_plot(tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "oscillator.png"
    out = run_example("damped_oscillator.py", "--plot", str(plot))
    k, true_k = numbers_after("fitted spring constant k:", out)
    c, true_c = numbers_after("fitted damping c:", out)
    # 40 observations with noise 0.05: the least-squares fit is k = 3.98, c = 0.463
    assert abs(k - true_k) < 0.05 and abs(c - true_c) < 0.06
    first, last = numbers_after("loss went from", out)
    assert last < 0.01 * first
    assert plot.stat().st_size > 10_000 and f"plot saved to {plot}" in out


def test_runs_without_matplotlib(tmp_path):
    """matplotlib made unimportable: the fit runs, the plot is skipped with a message."""
    code = ("import runpy, sys; sys.modules['matplotlib'] = None; "
            f"sys.argv = ['damped_oscillator.py', '--steps', '2', '--plot', "
            f"{str(tmp_path / 'none.png')!r}]; "
            f"runpy.run_path({str(EXAMPLES / 'damped_oscillator.py')!r}, run_name='__main__')")
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "matplotlib is not installed: no plot" in done.stdout
    assert "fitted spring constant k:" in done.stdout
    assert not (tmp_path / "none.png").exists()
