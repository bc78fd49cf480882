"""The discrete Fourier transform: one ``fft`` primitive with four kinds, as ``jax.lax.fft``.

``fft(x, fft_type, fft_lengths)`` transforms the trailing ``len(fft_lengths)`` axes
of `x` (the leading axes are a batch):

========  ==============  ================================================================
kind      operand         result
========  ==============  ================================================================
FFT       complex         complex, same shape (``numpy.fft.fftn``)
IFFT      complex         complex, same shape, scaled by ``1 / prod(fft_lengths)``
RFFT      real            complex, last axis ``n // 2 + 1`` (the non-negative frequencies)
IRFFT     complex         real, trailing shape ``fft_lengths``; the inverse of RFFT
========  ==============  ================================================================

with ``n = fft_lengths[-1]``; float32 pairs with complex64, float64 with complex128.
Every kind is linear (real-linear for RFFT and IRFFT), so the JVP is the primitive on
the tangent and reverse mode needs only the transpose rules below. Cotangents follow
JAX's convention, the pairing ``<a, b> = Re(sum(a * b))`` without a conjugate (see
:mod:`functrans.primitives.elementwise`, complex numbers):

* FFT and IFFT: the DFT matrix is symmetric, so each kind is its own transpose.
* RFFT keeps half of a Hermitian spectrum; its transpose sums each kept bin's
  contribution to the real input, ``Re(sum_k ct_k exp(-2 pi i k j / n))``. That is an
  IRFFT of ``conj(ct)`` once the bins IRFFT counts twice (all but the zero frequency
  and, for even ``n``, the Nyquist one) are halved, and the ``1 / prod(fft_lengths)``
  of the inverse undone.
* IRFFT reads each interior bin twice (as itself and as its mirror image); its
  transpose is the conjugate of the cotangent's RFFT with those bins doubled, scaled by
  ``1 / prod(fft_lengths)``.

Both weightings are the same per-bin vector along the last axis, :func:`_hermitian_weights`.
"""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from functrans import dtypes
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive
from functrans.primitives.elementwise import conj, convert_element_type, mul
from functrans.primitives.rules import deflinear, move_bdim
from functrans.primitives.structural import broadcast_in_dim

__all__ = ["fft", "FftType", "fft_p"]


class FftType(enum.IntEnum):
    """Which transform ``lax.fft`` computes (as ``jax.lax.FftType``)."""

    FFT = 0    #: complex-to-complex forward transform
    IFFT = 1   #: complex-to-complex inverse transform
    RFFT = 2   #: real-to-complex forward transform (non-negative frequencies)
    IRFFT = 3  #: complex-to-real inverse of RFFT


def _complex_dtype(real: np.dtype) -> np.dtype:
    return np.result_type(real, np.complex64)


def _real_dtype(complex_dtype: np.dtype) -> np.dtype:
    return np.finfo(complex_dtype).dtype


# ------------------------------------------------------------------ shape and dtype rule



def _check_operand(x: ShapedArray, fft_type: FftType, fft_lengths: tuple[int, ...]) -> None:
    k = len(fft_lengths)
    if not 1 <= k <= x.ndim:
        raise ValueError(f"fft: fft_lengths {fft_lengths} names {k} trailing axes, but the "
                         f"operand {x.str_short()} has {x.ndim}; give between 1 and {x.ndim}")
    if any(n < 1 for n in fft_lengths):
        raise ValueError(f"fft: fft_lengths {fft_lengths} must be positive")
    wanted_kind = "f" if fft_type == FftType.RFFT else "c"
    if x.dtype.kind != wanted_kind or x.dtype.itemsize not in (
            (4, 8) if wanted_kind == "f" else (8, 16)):
        wanted = "float32 or float64" if wanted_kind == "f" else "complex64 or complex128"
        raise TypeError(f"fft: {fft_type.name} takes a {wanted} operand, got "
                        f"{x.str_short()} (lax.fft converts integers and, for FFT/IFFT/IRFFT, "
                        "real floats; functrans.numpy.fft converts everything)")
    trailing = x.shape[x.ndim - k:]
    expected = fft_lengths
    if fft_type == FftType.IRFFT:
        expected = fft_lengths[:-1] + (fft_lengths[-1] // 2 + 1,)
    if trailing != expected:
        what = ("all but the last fft_length, then fft_lengths[-1] // 2 + 1"
                if fft_type == FftType.IRFFT else "fft_lengths")
        raise ValueError(f"fft: {fft_type.name} of {x.str_short()} with fft_lengths "
                         f"{fft_lengths}: the trailing axes {trailing} must equal {what}, "
                         f"{expected} (functrans.numpy.fft pads or truncates to `n`/`s`)")


def _fft_aval(x: ShapedArray, *, fft_type: FftType, fft_lengths: tuple[int, ...]
              ) -> ShapedArray:
    _check_operand(x, fft_type, fft_lengths)
    batch = x.shape[:x.ndim - len(fft_lengths)]
    if fft_type == FftType.RFFT:
        last = fft_lengths[-1] // 2 + 1
        return ShapedArray(batch + fft_lengths[:-1] + (last,), _complex_dtype(x.dtype))
    if fft_type == FftType.IRFFT:
        return ShapedArray(batch + fft_lengths, _real_dtype(x.dtype))
    return ShapedArray(x.shape, x.dtype)


# pocketfft through numpy.fft: single precision stays single (NumPy 2)
_NUMPY_TRANSFORMS = {FftType.FFT: np.fft.fftn, FftType.IFFT: np.fft.ifftn,
                     FftType.RFFT: np.fft.rfftn, FftType.IRFFT: np.fft.irfftn}


#: the Array API's names of the four kinds (its ``fft`` extension, which CuPy (cuFFT),
#: PyTorch and Dask implement)
_ARRAY_API_TRANSFORMS = {FftType.FFT: "fftn", FftType.IFFT: "ifftn", FftType.RFFT: "rfftn",
                         FftType.IRFFT: "irfftn"}


def _fft_impl(x: Any, *, fft_type: FftType, fft_lengths: tuple[int, ...], xp: Any = np
              ) -> np.ndarray:
    axes = tuple(range(x.ndim - len(fft_lengths), x.ndim))
    if xp is np:
        x = np.asarray(x)
        transform = _NUMPY_TRANSFORMS[fft_type]
    else:
        transform = getattr(xp.fft, _ARRAY_API_TRANSFORMS[fft_type])
    if fft_type == FftType.IRFFT:  # the output lengths: the input holds half the last one
        return transform(x, s=fft_lengths, axes=axes)
    return transform(x, axes=axes)


# Dask's transforms take axes held in one chunk: it runs NumPy's as one task instead
_fft_impl.prefer_fallback = True  # type: ignore[attr-defined]


# ------------------------------------------------------------------ transpose

def _hermitian_weights(fft_lengths: tuple[int, ...], count_twice: float, scale: float,
                       dtype: np.dtype, shape: tuple[int, ...]) -> Any:
    """Per-bin weights along the last axis of a half spectrum, times `scale`, broadcast
    to `shape`: 1 for the bins IRFFT reads once (zero frequency; Nyquist when n is
    even), `count_twice` for the others (each stands for itself and its mirror image)."""
    n = fft_lengths[-1]
    weights = np.full(n // 2 + 1, count_twice)
    weights[0] = 1
    if n % 2 == 0:
        weights[-1] = 1
    return broadcast_in_dim((weights * scale).astype(dtype), shape, (len(shape) - 1,))


def _rfft_transpose(ct: Any, fft_lengths: tuple[int, ...]) -> Any:
    aval = get_aval(ct)
    # halve the bins IRFFT counts twice; undo the 1/prod(n) of the inverse transform
    weights = _hermitian_weights(fft_lengths, 0.5, math.prod(fft_lengths), aval.dtype,
                                 aval.shape)
    return fft_p.bind(mul(conj(ct), weights), fft_type=FftType.IRFFT,
                      fft_lengths=fft_lengths)


def _irfft_transpose(ct: Any, fft_lengths: tuple[int, ...]) -> Any:
    spectrum = fft_p.bind(ct, fft_type=FftType.RFFT, fft_lengths=fft_lengths)
    aval = get_aval(spectrum)
    weights = _hermitian_weights(fft_lengths, 2.0, 1.0 / math.prod(fft_lengths), aval.dtype,
                                 aval.shape)
    return mul(conj(spectrum), weights)


def _fft_transpose(ct: Any, x: Any, *, fft_type: FftType, fft_lengths: tuple[int, ...]
                   ) -> list[Any]:
    if fft_type == FftType.RFFT:
        return [_rfft_transpose(ct, fft_lengths)]
    if fft_type == FftType.IRFFT:
        return [_irfft_transpose(ct, fft_lengths)]
    # the DFT matrix (and its inverse) is symmetric
    return [fft_p.bind(ct, fft_type=fft_type, fft_lengths=fft_lengths)]


# ------------------------------------------------------------------ batching

def _fft_batch(args: Sequence[Any], dims: Sequence[int | None], *, fft_type: FftType,
               fft_lengths: tuple[int, ...]) -> tuple[Any, int]:
    (x,), (d,) = args, dims
    ndim = get_aval(x).ndim
    if d >= ndim - len(fft_lengths):  # the batch axis sits among the transformed ones
        x = move_bdim(x, d, 0, get_aval(x).shape[d])
        d = 0
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths), d


fft_p = Primitive("fft")
fft_p.impl = _fft_impl
fft_p.abstract_eval = _fft_aval
deflinear(fft_p, _fft_transpose)
fft_p.batch = _fft_batch


# ------------------------------------------------------------------ the lax-level function

_FFT_TYPE_NAMES = {"fft": FftType.FFT, "ifft": FftType.IFFT, "rfft": FftType.RFFT,
                   "irfft": FftType.IRFFT}


def _canonical_fft_type(fft_type: Any) -> FftType:
    if isinstance(fft_type, FftType):
        return fft_type
    if isinstance(fft_type, str) and fft_type.lower() in _FFT_TYPE_NAMES:
        return _FFT_TYPE_NAMES[fft_type.lower()]
    raise TypeError(f"fft: fft_type must be a lax.FftType or one of 'fft', 'ifft', 'rfft', "
                    f"'irfft', got {fft_type!r}")


def _operand_dtype(aval: ShapedArray, fft_type: FftType) -> np.dtype:
    """The dtype the operand is converted to: real floating for RFFT, complex otherwise
    (integers become float64 / complex128; float32 stays single precision)."""
    if fft_type == FftType.RFFT:
        if aval.dtype.kind == "c":
            raise TypeError(f"fft: RFFT takes a real operand, got {aval.str_short()}; use "
                            "FFT for complex input")
        if aval.dtype.kind == "f":
            return aval.dtype if aval.dtype.itemsize >= 4 else np.dtype(np.float32)
        return dtypes.default_float()
    real = aval.dtype if aval.dtype.kind in "fc" else dtypes.default_float()
    return np.result_type(real, np.complex64)


def fft(x: Any, fft_type: FftType | str, fft_lengths: Sequence[int]) -> Any:
    """The FFT of kind `fft_type` over the trailing ``len(fft_lengths)`` axes of `x`
    (as ``jax.lax.fft``).

    The operand is converted first: to complex for FFT, IFFT and IRFFT, to real floating
    for RFFT (integers to double precision, float16 to float32). The trailing axes must
    already have the transform's sizes (``fft_lengths``; for IRFFT the last one is
    ``fft_lengths[-1] // 2 + 1``). With no ``fft_lengths``, `x` is returned converted.
    Unlike XLA, any number of trailing axes may be transformed at once.
    """
    fft_type = _canonical_fft_type(fft_type)
    lengths = tuple(operator.index(n) for n in fft_lengths)
    aval = get_aval(x)
    x = convert_element_type(x, _operand_dtype(aval, fft_type))
    if not lengths:
        return x
    _check_operand(get_aval(x), fft_type, lengths)
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=lengths)
