"""``functrans.numpy.fft``: discrete Fourier transforms, as ``jax.numpy.fft`` / ``numpy.fft``.

Every transform is one ``lax.fft`` over all the requested axes at once: the input is
converted (complex, or real floating for the real-input transforms; float32 stays
single precision, integers become double), padded with zeros or truncated to the
lengths `n` / `s`, its transformed axes moved last, and the result scaled for `norm`:

=============  ====================  ====================
`norm`         forward transforms    inverse transforms
=============  ====================  ====================
"backward"     1                     1 / N
"ortho"        1 / sqrt(N)           1 / sqrt(N)
"forward"      1 / N                 1
=============  ====================  ====================

with ``N`` the product of the transform lengths (``lax.fft``'s inverse kinds already
divide by ``N``). Differences from NumPy: an axis may not be repeated in `axes`
(NumPy transforms it twice; JAX refuses too), `out` is not supported, and the real
results of ``irfft``/``hfft`` of half-precision input stay in single precision (NumPy
computes in single precision too, then rounds them to half).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from functrans.numpy import _creation, _shape, _ufuncs
from functrans.numpy._lax import lax
from functrans.numpy._util import (
    Array,
    asarray_arg,
    canonicalize_axis,
    cast,
    dtype_of,
    operand,
    shape_of,
    static_int,
)

__all__ = ["fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn",
           "ifftn", "rfftn", "irfftn", "hfft", "ihfft", "fftfreq", "rfftfreq", "fftshift",
           "ifftshift"]


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)

FftType = lax.FftType
_FORWARD = (FftType.FFT, FftType.RFFT)
_NORMS = ("backward", "ortho", "forward")
_SWAPPED_NORM = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


# ------------------------------------------------------------------ arguments

def _check_norm(norm: str | None, fname: str) -> str:
    if norm is None:
        return "backward"
    if norm not in _NORMS:
        raise ValueError(f"functrans.numpy.fft.{fname}: invalid norm value {norm!r}; should "
                         'be "backward", "ortho" or "forward" (or None)')
    return norm


def _no_out(out: Any, fname: str) -> None:
    if out is not None:
        raise TypeError(f"functrans.numpy.fft.{fname}: the 'out' argument is not supported "
                        "(arrays are immutable values); use the returned array")


def _converted(a: Any, kind: FftType, fname: str) -> Array:
    """`a` in the dtype the transform reads: real floating for RFFT, complex otherwise."""
    a = operand(a, fname)
    dtype = dtype_of(a)
    if kind == FftType.RFFT:
        if dtype.kind == "c":
            raise TypeError(f"functrans.numpy.fft.{fname}: takes a real array, got dtype "
                            f"{dtype} (shape {shape_of(a)}); use fft for complex input")
        if dtype.kind != "f":
            return cast(a, np.dtype(np.float64))
        return cast(a, dtype if dtype.itemsize >= 4 else np.dtype(np.float32))
    real = dtype if dtype.kind in "fc" else np.dtype(np.float64)
    return cast(a, np.result_type(real, np.complex64))


def _length(n: Any, fname: str, what: str) -> int:
    n = static_int(n, fname, what)
    if n < 1:
        raise ValueError(f"functrans.numpy.fft.{fname}: invalid number of FFT data points "
                         f"({n}) specified in {what}; it must be at least 1")
    return n


def _one_axis(a: Array, n: Any, axis: Any, fname: str, inverse_real: bool
              ) -> tuple[list[int], list[int]]:
    """(lengths, axes) of a one-axis transform; an inverse real transform's default
    length is ``2 * (m - 1)`` for an input of m frequencies."""
    axis = canonicalize_axis(axis, len(shape_of(a)), fname)
    if n is None:
        m = shape_of(a)[axis]
        n = 2 * (m - 1) if inverse_real else m
    return [_length(n, fname, "n")], [axis]


def _nd_axes(a: Array, s: Any, axes: Any, fname: str, inverse_real: bool
             ) -> tuple[list[int], list[int]]:
    """(lengths, axes) as NumPy reads `s` and `axes`: all axes (or the last ``len(s)``)
    by default, an entry -1 in `s` meaning the input's length."""
    shape = shape_of(a)
    if axes is None:
        axes = list(range(len(shape))) if s is None else list(range(-len(s), 0))
    axes = [canonicalize_axis(ax, len(shape), fname) for ax in axes]
    if len(set(axes)) != len(axes):
        raise ValueError(f"functrans.numpy.fft.{fname}: axes {tuple(axes)} repeat an axis; "
                         "transform along distinct axes (NumPy would transform twice)")
    if s is None:
        lengths = [shape[ax] for ax in axes]
        if inverse_real and axes:
            lengths[-1] = 2 * (shape[axes[-1]] - 1)
    else:
        if len(s) != len(axes):
            raise ValueError(f"functrans.numpy.fft.{fname}: s {tuple(s)} and axes "
                             f"{tuple(axes)} have different lengths")
        lengths = [shape[ax] if static_int(n, fname, "s") == -1 else n
                   for n, ax in zip(s, axes)]
    return [_length(n, fname, "s") for n in lengths], axes


# ------------------------------------------------------------------ the transform

def _resized(x: Array, axis: int, size: int) -> Array:
    """`x` truncated, or padded with zeros at the end, to `size` along `axis`."""
    current = shape_of(x)[axis]
    if current > size:
        return lax.slice_in_dim(x, 0, size, axis=axis)
    if current < size:
        widths = [(0, 0)] * len(shape_of(x))
        widths[axis] = (0, size - current)
        return _shape.pad(x, widths)
    return x


def _norm_scale(kind: FftType, norm: str, lengths: Sequence[int]) -> float:
    count = math.prod(lengths)
    forward = kind in _FORWARD
    if norm == "ortho":
        return 1 / math.sqrt(count) if forward else math.sqrt(count)
    if norm == "forward":
        return 1 / count if forward else float(count)
    return 1.0


def _transform(a: Any, kind: FftType, lengths: list[int], axes: list[int], norm: Any,
               fname: str) -> Array:
    norm = _check_norm(norm, fname)
    x = _converted(a, kind, fname)
    if not axes:
        if kind in (FftType.RFFT, FftType.IRFFT):
            raise ValueError(f"functrans.numpy.fft.{fname}: needs at least one axis")
        return _creation.copy(x)  # nothing to transform; still a new array
    input_lengths = list(lengths)
    if kind == FftType.IRFFT:  # the input holds the non-negative frequencies
        input_lengths[-1] = lengths[-1] // 2 + 1
    for ax, size in zip(axes, input_lengths):
        x = _resized(x, ax, size)
    ndim = len(shape_of(x))
    others = [d for d in range(ndim) if d not in axes]
    order = others + axes
    if order != list(range(ndim)):
        x = lax.transpose(x, order)
    out = lax.fft(x, kind, tuple(lengths))
    if order != list(range(ndim)):
        out = lax.transpose(out, tuple(np.argsort(order)))
    scale = _norm_scale(kind, norm, lengths)
    return out if scale == 1.0 else lax.mul(out, scale)


# ------------------------------------------------------------------ one axis

def fft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None,
        out: None = None) -> Array:
    """The one-dimensional discrete Fourier transform along `axis`, the input truncated
    or zero-padded to `n` points (as ``jnp.fft.fft``)."""
    _no_out(out, "fft")
    a = operand(a, "fft")
    lengths, axes = _one_axis(a, n, axis, "fft", inverse_real=False)
    return _transform(a, FftType.FFT, lengths, axes, norm, "fft")


def ifft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None,
         out: None = None) -> Array:
    """The one-dimensional inverse discrete Fourier transform along `axis` (as
    ``jnp.fft.ifft``)."""
    _no_out(out, "ifft")
    a = operand(a, "ifft")
    lengths, axes = _one_axis(a, n, axis, "ifft", inverse_real=False)
    return _transform(a, FftType.IFFT, lengths, axes, norm, "ifft")


def rfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None,
         out: None = None) -> Array:
    """The discrete Fourier transform of a real input along `axis`: the ``n // 2 + 1``
    non-negative frequencies (as ``jnp.fft.rfft``)."""
    _no_out(out, "rfft")
    a = operand(a, "rfft")
    lengths, axes = _one_axis(a, n, axis, "rfft", inverse_real=False)
    return _transform(a, FftType.RFFT, lengths, axes, norm, "rfft")


def irfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None,
          out: None = None) -> Array:
    """The inverse of `rfft`: `n` real points (default ``2 * (m - 1)`` for m input
    frequencies) along `axis` (as ``jnp.fft.irfft``)."""
    _no_out(out, "irfft")
    a = operand(a, "irfft")
    lengths, axes = _one_axis(a, n, axis, "irfft", inverse_real=True)
    return _transform(a, FftType.IRFFT, lengths, axes, norm, "irfft")


def hfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None,
         out: None = None) -> Array:
    """The transform of a signal with Hermitian symmetry, given by its first half: a real
    spectrum of `n` points (default ``2 * (m - 1)``) (as ``jnp.fft.hfft``)."""
    _no_out(out, "hfft")
    a = _converted(a, FftType.FFT, "hfft")
    lengths, axes = _one_axis(a, n, axis, "hfft", inverse_real=True)
    return _transform(lax.conj(a), FftType.IRFFT, lengths, axes,
                      _SWAPPED_NORM[_check_norm(norm, "hfft")], "hfft")


def ihfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None,
          out: None = None) -> Array:
    """The inverse of `hfft`: the first half of the Hermitian spectrum of a real signal
    (as ``jnp.fft.ihfft``)."""
    _no_out(out, "ihfft")
    a = operand(a, "ihfft")
    lengths, axes = _one_axis(a, n, axis, "ihfft", inverse_real=False)
    spectrum = _transform(a, FftType.RFFT, lengths, axes,
                          _SWAPPED_NORM[_check_norm(norm, "ihfft")], "ihfft")
    return lax.conj(spectrum)


# ------------------------------------------------------------------ several axes

def fftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None, out: None = None) -> Array:
    """The N-dimensional discrete Fourier transform over `axes` (all by default), each
    truncated or zero-padded to the lengths `s` (as ``jnp.fft.fftn``)."""
    _no_out(out, "fftn")
    a = operand(a, "fftn")
    lengths, axes = _nd_axes(a, s, axes, "fftn", inverse_real=False)
    return _transform(a, FftType.FFT, lengths, axes, norm, "fftn")


def ifftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None, out: None = None) -> Array:
    """The N-dimensional inverse discrete Fourier transform (as ``jnp.fft.ifftn``)."""
    _no_out(out, "ifftn")
    a = operand(a, "ifftn")
    lengths, axes = _nd_axes(a, s, axes, "ifftn", inverse_real=False)
    return _transform(a, FftType.IFFT, lengths, axes, norm, "ifftn")


def rfftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None, out: None = None) -> Array:
    """The N-dimensional transform of a real input; the last axis keeps its non-negative
    frequencies (as ``jnp.fft.rfftn``)."""
    _no_out(out, "rfftn")
    a = operand(a, "rfftn")
    lengths, axes = _nd_axes(a, s, axes, "rfftn", inverse_real=False)
    return _transform(a, FftType.RFFT, lengths, axes, norm, "rfftn")


def irfftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: str | None = None, out: None = None) -> Array:
    """The inverse of `rfftn`, real output of lengths `s` (the last defaults to
    ``2 * (m - 1)``) (as ``jnp.fft.irfftn``)."""
    _no_out(out, "irfftn")
    a = operand(a, "irfftn")
    lengths, axes = _nd_axes(a, s, axes, "irfftn", inverse_real=True)
    return _transform(a, FftType.IRFFT, lengths, axes, norm, "irfftn")


def fft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
         norm: str | None = None, out: None = None) -> Array:
    """The two-dimensional discrete Fourier transform over `axes` (as ``jnp.fft.fft2``)."""
    return fftn(a, s, axes, norm, out)


def ifft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None, out: None = None) -> Array:
    """The two-dimensional inverse discrete Fourier transform (as ``jnp.fft.ifft2``)."""
    return ifftn(a, s, axes, norm, out)


def rfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None, out: None = None) -> Array:
    """The two-dimensional transform of a real input (as ``jnp.fft.rfft2``)."""
    return rfftn(a, s, axes, norm, out)


def irfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
           norm: str | None = None, out: None = None) -> Array:
    """The inverse of `rfft2` (as ``jnp.fft.irfft2``)."""
    return irfftn(a, s, axes, norm, out)


# ------------------------------------------------------------------ frequencies and shifts

def _check_device(device: Any, fname: str) -> None:
    if device not in (None, "cpu"):
        raise ValueError(f"functrans.numpy.fft.{fname}: device must be None or 'cpu', got "
                         f"{device!r} (functrans computes with NumPy on the CPU)")


def _frequencies(bins: np.ndarray, n: int, d: Any, dtype: Any) -> Array:
    # NumPy's order of operations: the integer bins times 1 / (n d)
    d = asarray_arg(d, "fftfreq", "d")
    out = _ufuncs.multiply(bins, _ufuncs.true_divide(1.0, _ufuncs.multiply(n, d)))
    return out if dtype is None else cast(out, np.dtype(dtype))


def fftfreq(n: int, d: Any = 1.0, *, dtype: Any = None, device: Any = None) -> Array:
    """The sample frequencies of an `n`-point transform with sample spacing `d`: ``[0, 1,
    ..., -1] / (n d)`` (as ``jnp.fft.fftfreq``; float64 unless `dtype` is given)."""
    _check_device(device, "fftfreq")
    n = _length(n, "fftfreq", "n")
    bins = np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)])
    return _frequencies(bins, n, d, dtype)


def rfftfreq(n: int, d: Any = 1.0, *, dtype: Any = None, device: Any = None) -> Array:
    """The non-negative sample frequencies ``[0, 1, ..., n // 2] / (n d)`` of `rfft` (as
    ``jnp.fft.rfftfreq``)."""
    _check_device(device, "rfftfreq")
    n = _length(n, "rfftfreq", "n")
    return _frequencies(np.arange(0, n // 2 + 1), n, d, dtype)


def _shifted(x: Any, axes: Any, fname: str, direction: int) -> Array:
    x = operand(x, fname, "x")
    shape = shape_of(x)
    if axes is None:
        axes = tuple(range(len(shape)))
    axis_list = axes if isinstance(axes, (tuple, list)) else (axes,)
    axis_list = [canonicalize_axis(ax, len(shape), fname) for ax in axis_list]
    shifts = [direction * (shape[ax] // 2) for ax in axis_list]
    if not any(shifts):  # nothing moves; still a new array
        return _creation.copy(x)
    return _shape.roll(x, shifts, axis_list)


def fftshift(x: Any, axes: int | Sequence[int] | None = None) -> Array:
    """`x` with the zero frequency moved to the centre of `axes` (all by default) (as
    ``jnp.fft.fftshift``)."""
    return _shifted(x, axes, "fftshift", 1)


def ifftshift(x: Any, axes: int | Sequence[int] | None = None) -> Array:
    """The inverse of `fftshift` (as ``jnp.fft.ifftshift``)."""
    return _shifted(x, axes, "ifftshift", -1)
