"""functrans.scipy.signal and functrans.scipy.integrate against SciPy: values for every
mode, method and boundary, derivatives by check_grads, and jit / vmap / float32."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.integrate
import scipy.signal

import functrans as ft
import functrans.numpy as fnp
from functrans.scipy import integrate, signal
from functrans.test_util import check_grads

MODES = ("full", "same", "valid")
# (in1 shape, in2 shape): in1 larger, in2 larger (valid mode swaps), equal, even kernels
SHAPES = {
    1: [((7,), (3,)), ((3,), (6,)), ((4,), (4,)), ((9,), (2,))],
    2: [((7, 6), (3, 4)), ((3, 2), (5, 6)), ((4, 4), (4, 4)), ((6, 7), (2, 5))],
    3: [((5, 6, 4), (3, 2, 2)), ((3, 2, 4), (4, 3, 4))],
}
CASES = [(s1, s2) for shapes in SHAPES.values() for s1, s2 in shapes]


def _normal(rng: np.random.Generator, shape: tuple[int, ...], complex_: bool = False
            ) -> np.ndarray:
    x = rng.standard_normal(shape)
    return x + 1j * rng.standard_normal(shape) if complex_ else x


def _compare(fname: str, args: tuple, **kw: object) -> None:
    """functrans and SciPy agree: the same values and shape, or the same error type."""
    try:
        expected = getattr(scipy.signal, fname)(*args, **kw)
    except ValueError:
        with pytest.raises(ValueError):
            getattr(signal, fname)(*args, **kw)
        return
    got = getattr(signal, fname)(*args, **kw)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ values

@pytest.mark.parametrize("fname", ["convolve", "correlate"])
@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
@pytest.mark.parametrize("shapes", CASES, ids=str)
def test_nd_against_scipy(fname, method, shapes):
    rng = np.random.default_rng(0)
    a, b = (_normal(rng, s) for s in shapes)
    for mode in MODES:
        _compare(fname, (a, b), mode=mode, method=method)


@pytest.mark.parametrize("fname", ["convolve", "correlate"])
def test_complex_nd_against_scipy(fname):
    rng = np.random.default_rng(1)
    a, b = _normal(rng, (5, 4), True), _normal(rng, (3, 3), True)
    for mode, method in itertools.product(MODES, ("direct", "fft")):
        _compare(fname, (a, b), mode=mode, method=method)


@pytest.mark.parametrize("fname", ["convolve2d", "correlate2d"])
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("shapes", SHAPES[2], ids=str)
def test_2d_against_scipy(fname, boundary, shapes):
    rng = np.random.default_rng(2)
    a, b = (_normal(rng, s, True) for s in shapes)
    for mode, fillvalue in itertools.product(MODES, (0, 1.5)):
        _compare(fname, (a, b), mode=mode, boundary=boundary, fillvalue=fillvalue)


def test_2d_large_inputs_take_the_fft_path():
    rng = np.random.default_rng(3)
    a, b = _normal(rng, (64, 64)), _normal(rng, (31, 31))
    assert signal._fft_is_cheaper(a.shape, b.shape, "same")
    for fname, boundary in (("convolve2d", "fill"), ("correlate2d", "symm")):
        _compare(fname, (a, b), mode="same", boundary=boundary)


@pytest.mark.parametrize("axes", [None, 0, (0, 2), (2,)])
def test_fftconvolve_axes_broadcast(axes):
    rng = np.random.default_rng(4)
    a, b = _normal(rng, (5, 1, 4)), _normal(rng, (3, 6, 4))
    for mode in MODES:
        _compare("fftconvolve", (a, b), mode=mode, axes=axes)


def test_integer_inputs_give_floats():
    a, b = np.arange(6), np.array([1, -2, 1])
    out = signal.convolve(a, b)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, scipy.signal.convolve(a, b))


def test_scalars_and_1d_numpy_semantics_unchanged():
    assert signal.convolve(np.array(2.0), np.array(3.0)) == 6.0
    # fnp.convolve keeps NumPy's 1-D "same" (the longer input's size); SciPy's is in1's
    a, v = np.arange(3.0), np.arange(5.0)
    np.testing.assert_allclose(fnp.convolve(a, v, "same"), np.convolve(a, v, "same"))
    assert signal.convolve(a, v, "same").shape == (3,)


def test_errors_name_the_function_and_the_fix():
    with pytest.raises(ValueError, match="convolve: mode must be one of"):
        signal.convolve(np.ones(3), np.ones(2), mode="middle")
    with pytest.raises(ValueError, match="correlate: method must be one of"):
        signal.correlate(np.ones(3), np.ones(2), method="fast")
    with pytest.raises(ValueError, match="same dimensionality.*\\(3,\\) and \\(2, 2\\)"):
        signal.convolve(np.ones(3), np.ones((2, 2)))
    with pytest.raises(ValueError, match="at least as large as the other in every"):
        signal.convolve(np.ones((3, 2)), np.ones((2, 3)), mode="valid")
    with pytest.raises(ValueError, match="convolve2d: in1 and in2 must both be 2-D"):
        signal.convolve2d(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="boundary must be one of"):
        signal.correlate2d(np.ones((3, 3)), np.ones((2, 2)), boundary="edge")
    with pytest.raises(ValueError, match="non-empty"):
        signal.convolve(np.ones(0), np.ones(2))
    with pytest.raises(ValueError, match="incompatible shapes"):
        signal.fftconvolve(np.ones((3, 4)), np.ones((2, 5)), axes=0)


# ------------------------------------------------------------------ derivatives and transforms

@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("mode", MODES)
def test_convolve_gradients(method, mode):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((6, 5)), rng.standard_normal((3, 2))
    check_grads(lambda a, b: signal.convolve(a, b, mode, method), (a, b), order=2)


def test_correlate2d_boundary_gradients():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((2, 3))
    for boundary in ("fill", "wrap", "symm"):
        check_grads(lambda a, b, boundary=boundary: signal.correlate2d(
            a, b, "same", boundary, fillvalue=0.5), (a, b), order=1)


def test_complex_correlate_gradient_matches_scipy_of_perturbation():
    """The gradient of |correlate(a, b)|^2 with respect to a real `a`, against SciPy by
    central differences."""
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal(6), _normal(rng, (3,), True)

    def loss(a):
        return fnp.sum(fnp.abs(signal.correlate(a, b, "full", "fft")) ** 2)

    def reference(a):
        return np.sum(np.abs(scipy.signal.correlate(a, b, "full")) ** 2)

    eps = 1e-6
    numeric = [(reference(a + eps * e) - reference(a - eps * e)) / (2 * eps)
               for e in np.eye(6)]
    np.testing.assert_allclose(ft.grad(loss)(a), numeric, rtol=1e-6)


def test_jit_vmap_and_float32():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((4, 16)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)

    def smooth(x):
        return signal.convolve(x, b, "same", "fft")

    batched = ft.jit(ft.vmap(smooth))(a)
    assert batched.dtype == np.float32
    expected = np.stack([scipy.signal.convolve(row, b, "same") for row in a])
    np.testing.assert_allclose(batched, expected, rtol=1e-5, atol=1e-5)
    grad = ft.grad(lambda x: fnp.sum(signal.convolve(x, b, "full", "direct") ** 2))(a[0])
    assert grad.dtype == np.float32
    per_row = ft.vmap(ft.grad(lambda x: fnp.sum(signal.correlate2d(x[None], b[None]) ** 2)))(a)
    assert per_row.shape == a.shape and per_row.dtype == np.float32


# ------------------------------------------------------------------ trapezoid

def test_trapezoid_against_scipy():
    rng = np.random.default_rng(9)
    y = rng.standard_normal((3, 5))
    x1 = np.cumsum(rng.random(5))
    x2 = np.cumsum(rng.random((3, 5)), axis=1)
    np.testing.assert_allclose(integrate.trapezoid(y), scipy.integrate.trapezoid(y))
    np.testing.assert_allclose(integrate.trapezoid(y, x1), scipy.integrate.trapezoid(y, x1))
    np.testing.assert_allclose(integrate.trapezoid(y, x2), scipy.integrate.trapezoid(y, x2))
    np.testing.assert_allclose(integrate.trapezoid(y, dx=0.3, axis=0),
                               scipy.integrate.trapezoid(y, dx=0.3, axis=0))
    assert integrate.trapezoid(np.arange(4)) == 4.5
    assert integrate.trapezoid(y.astype(np.float32), dx=0.5).dtype == np.float32
    check_grads(integrate.trapezoid, (y, x2), order=2)
    with pytest.raises(ValueError, match="x has 4 points but y has 5 samples"):
        integrate.trapezoid(y, np.arange(4.0))
