"""functrans.numpy.fft against numpy.fft (values, dtypes, n / s / axes / norm, padding
and truncation), derivatives by check_grads, and jit / vmap / float32. The primitive's
rules are checked by the rule table (tests/rules/table_fft.py)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.test_util import check_grads

NORMS = (None, "backward", "ortho", "forward")
ONE_AXIS = ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
SEVERAL_AXES = ("fftn", "ifftn", "rfftn", "irfftn", "fft2", "ifft2", "rfft2", "irfft2")
REAL_INPUT = ("rfft", "ihfft", "rfftn", "rfft2")


def _input(name: str, shape: tuple[int, ...], rng: np.random.Generator,
           dtype: type = np.float64) -> np.ndarray:
    x = rng.standard_normal(shape).astype(dtype)
    if name in REAL_INPUT:
        return x
    return (x + 1j * rng.standard_normal(shape)).astype(np.result_type(dtype, np.complex64))


def _assert_matches_numpy(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert got.shape == expected.shape and got.dtype == expected.dtype, what
    tol = 1e-5 if expected.dtype in (np.complex64, np.float32) else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.abs(expected).max(),
                               err_msg=what)


# ------------------------------------------------------------------ values

@pytest.mark.parametrize("name", ONE_AXIS)
def test_one_axis_against_numpy(name):
    rng = np.random.default_rng(0)
    x = _input(name, (4, 6), rng)
    for n, axis, norm in itertools.product((None, 1, 4, 6, 9), (0, -1), NORMS):
        got = getattr(fnp.fft, name)(x, n=n, axis=axis, norm=norm)
        expected = getattr(np.fft, name)(x, n=n, axis=axis, norm=norm)
        _assert_matches_numpy(got, expected, f"{name}(n={n}, axis={axis}, norm={norm})")


@pytest.mark.parametrize("name", SEVERAL_AXES)
def test_several_axes_against_numpy(name):
    rng = np.random.default_rng(1)
    x = _input(name, (3, 4, 5), rng)
    two = name.endswith("2")
    cases = [(None, None), ((4, 6), (0, 2)), ((2, -1), (2, 0)), ((6, 3), (-1, 1))]
    if not two:
        cases += [(None, (1,)), ((3, 3, 8), (0, 1, 2))]
    for (s, axes), norm in itertools.product(cases, NORMS):
        kw = {} if axes is None else {"axes": axes}
        got = getattr(fnp.fft, name)(x, s=s, norm=norm, **kw)
        expected = getattr(np.fft, name)(x, s=s, norm=norm, **kw)
        _assert_matches_numpy(got, expected, f"{name}(s={s}, axes={axes}, norm={norm})")


def test_s_without_axes_transforms_the_last_axes():
    x = np.random.default_rng(2).standard_normal((3, 4, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # NumPy 2 deprecates the form
        expected = np.fft.rfftn(x, s=(6, 4))
    _assert_matches_numpy(fnp.fft.rfftn(x, s=(6, 4)), expected, "rfftn(s=(6, 4))")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.float16, bool])
def test_dtypes_follow_numpy(dtype):
    x = (np.arange(8) % 3).astype(dtype)
    for name in ("fft", "rfft", "ifft", "hfft", "ihfft", "fftn", "irfftn"):
        got = getattr(fnp.fft, name)(x)
        expected = getattr(np.fft, name)(x)
        if dtype is np.float16 and expected.dtype == np.float16:
            # NumPy computes half precision in single and rounds its real inverse
            # transforms back to half; functrans keeps the single-precision result
            expected = expected.astype(np.float32)
        assert got.dtype == expected.dtype, (name, dtype)
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-2)
    assert fnp.fft.fft(x.astype(np.complex64)).dtype == np.complex64


def test_frequencies_and_shifts_against_numpy():
    for n, d in itertools.product((1, 4, 7), (1.0, 0.25, np.float32(2.0))):
        for name in ("fftfreq", "rfftfreq"):
            got, expected = getattr(fnp.fft, name)(n, d), getattr(np.fft, name)(n, d)
            assert got.dtype == expected.dtype
            np.testing.assert_allclose(got, expected, rtol=1e-15)
    assert fnp.fft.fftfreq(4, dtype=np.float32).dtype == np.float32
    x = np.arange(24.0).reshape(2, 3, 4)
    for axes in (None, 0, (0, 2), [-1]):
        np.testing.assert_array_equal(fnp.fft.fftshift(x, axes), np.fft.fftshift(x, axes))
        np.testing.assert_array_equal(fnp.fft.ifftshift(x, axes), np.fft.ifftshift(x, axes))


def test_fftfreq_spacing_is_differentiable():
    np.testing.assert_allclose(ft.grad(lambda d: fnp.sum(fnp.fft.fftfreq(4, d)))(0.5),
                               -np.sum(np.fft.fftfreq(4)) / 0.25)
    np.testing.assert_allclose(ft.grad(lambda d: fnp.fft.rfftfreq(5, d)[2])(2.0),
                               -np.fft.rfftfreq(5)[2] / 4.0)


def test_results_are_new_arrays():
    x = np.ones((2, 3), complex)
    for out in (fnp.fft.fftn(x, axes=()), fnp.fft.fftshift(x, axes=()),
                fnp.fft.ifftshift(x[:1, :1])):
        assert not np.shares_memory(out, x)
        np.testing.assert_array_equal(out, x[:out.shape[0], :out.shape[1]])


def test_errors_name_the_function_and_the_fix():
    with pytest.raises(ValueError, match="invalid norm value 'unitary'"):
        fnp.fft.fft(np.ones(4), norm="unitary")
    with pytest.raises(ValueError, match="invalid number of FFT data points \\(0\\)"):
        fnp.fft.fft(np.ones(4), n=0)
    with pytest.raises(ValueError, match="invalid number of FFT data points \\(0\\)"):
        fnp.fft.irfft(np.ones(1))
    with pytest.raises(TypeError, match="rfft: takes a real array, got dtype complex128"):
        fnp.fft.rfft(np.ones(4, complex))
    with pytest.raises(ValueError, match="repeat an axis"):
        fnp.fft.fftn(np.ones((2, 2)), axes=(0, 0))
    with pytest.raises(ValueError, match="have different lengths"):
        fnp.fft.fftn(np.ones((2, 2)), s=(2,), axes=(0, 1))
    with pytest.raises(np.exceptions.AxisError):
        fnp.fft.fft(np.ones(3), axis=1)
    with pytest.raises(TypeError, match="'out' argument is not supported"):
        fnp.fft.fft(np.ones(3), out=np.ones(3, complex))
    # the primitive itself: what lax.fft accepts, said by the shape rule
    with pytest.raises(ValueError, match="trailing axes \\(4,\\) must equal fft_lengths, "
                                         "\\(5,\\)"):
        lax.fft(np.ones(4), "fft", (5,))
    with pytest.raises(ValueError, match="IRFFT .* fft_lengths\\[-1\\] // 2 \\+ 1, \\(4,\\)"):
        lax.fft(np.ones(5, complex), "irfft", (6,))
    with pytest.raises(TypeError, match="RFFT takes a real operand, got c128"):
        lax.fft(np.ones(4, complex), "rfft", (4,))
    with pytest.raises(TypeError, match="fft_type must be a lax.FftType"):
        lax.fft(np.ones(4), "dct", (4,))
    with pytest.raises(ValueError, match="names 2 trailing axes, but the operand c128\\[4\\]"):
        lax.fft(np.ones(4), "fft", (1, 4))


def test_lax_fft_converts_and_returns_untouched_without_lengths():
    x = np.arange(4)
    assert lax.fft(x, lax.FftType.FFT, ()).dtype == np.complex128
    assert lax.fft(x.astype(np.float32), "RFFT", (4,)).dtype == np.complex64
    np.testing.assert_allclose(lax.fft(x, "fft", (4,)), np.fft.fft(x))


# ------------------------------------------------------------------ derivatives and transforms

def _spectral_loss(name: str, **kw):
    def loss(x):
        spectrum = getattr(fnp.fft, name)(x, **kw)
        weights = np.linspace(0.5, 1.5, spectrum.size).reshape(spectrum.shape)
        return fnp.sum(weights * fnp.abs(spectrum) ** 2)
    return loss


@pytest.mark.parametrize("name, kw", [
    ("fft", dict(n=7, norm="ortho")), ("rfft", dict(n=5)), ("irfft", dict(n=8)),
    ("hfft", dict(n=6, norm="forward")), ("ihfft", dict()), ("rfftn", dict(s=(3, 4))),
    ("irfft2", dict(s=(4, 5))), ("ifftn", dict(axes=(0,)))])
def test_check_grads_order_2(name, kw):
    rng = np.random.default_rng(3)
    x = _input(name, (3, 4), rng)
    check_grads(_spectral_loss(name, **kw), (x,), order=2)


def test_gradient_of_a_real_convolution_loss():
    """A circular convolution by rfft/irfft, its gradient against the hand-derived one."""
    rng = np.random.default_rng(4)
    x, k, target = rng.standard_normal(16), rng.standard_normal(16), rng.standard_normal(16)

    def loss(x):
        y = fnp.fft.irfft(fnp.fft.rfft(x) * fnp.fft.rfft(k), n=16)
        return fnp.sum((y - target) ** 2)

    residual = np.fft.irfft(np.fft.rfft(x) * np.fft.rfft(k), n=16) - target
    # the adjoint of circular convolution with k is circular correlation with k
    expected = 2 * np.fft.irfft(np.fft.rfft(residual) * np.conj(np.fft.rfft(k)), n=16)
    np.testing.assert_allclose(ft.grad(loss)(x), expected, rtol=1e-12)
    np.testing.assert_allclose(ft.jit(ft.grad(loss))(x), expected, rtol=1e-12)


def test_jit_vmap_and_float32():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 8, 6)).astype(np.float32)

    def f(x):
        return fnp.fft.irfftn(fnp.fft.rfftn(x, axes=(0, 1)) * 2.0, s=(8, 6), axes=(0, 1))

    out = ft.jit(ft.vmap(f))(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 2 * x, rtol=1e-5, atol=1e-5)
    out = ft.vmap(lambda x: fnp.fft.irfftn(fnp.fft.rfftn(x) * 2.0, s=x.shape), in_axes=2,
                  out_axes=2)(x)
    np.testing.assert_allclose(out, 2 * x, rtol=1e-5, atol=1e-5)
    grad = ft.grad(lambda x: fnp.sum(fnp.abs(fnp.fft.fft2(x)) ** 2))(x)
    assert grad.dtype == np.float32
    # Parseval: sum |fft2 x|^2 = N sum x^2, so the gradient is 2 N x
    np.testing.assert_allclose(grad, 2 * 48 * x, rtol=1e-4)
