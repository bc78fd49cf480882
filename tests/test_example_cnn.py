"""examples/cnn_digits.py trains its CNN to at least 97 % test accuracy and saves the plot."""

from __future__ import annotations

import pytest

from tests.test_examples import numbers_after, run_example

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def test_cnn_digits(tmp_path):
    plot = tmp_path / "curve.png"
    out = run_example("cnn_digits.py", "--plot", str(plot))
    (accuracy,) = numbers_after("test accuracy:", out)
    assert accuracy >= 0.97, out
    losses = [numbers_after(f"epoch {epoch:2d}:", out)[0] for epoch in (1, 15)]
    assert losses[1] < 0.1 * losses[0], out    # the training curve goes down
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
