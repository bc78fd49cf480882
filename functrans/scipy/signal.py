"""``functrans.scipy.signal``: convolution and correlation, as ``jax.scipy.signal``.

Two ways to compute a convolution, both made of differentiable ``functrans.numpy``
operations:

* **direct**: the input, padded for the mode (and, in the 2-D functions, for the
  boundary condition), convolved with the kernel by ``lax.conv_general_dilated`` (as in
  JAX). Exact sums.
* **fft**: products of (real) FFTs of the zero-padded inputs, lengths rounded up to
  ``scipy.fft.next_fast_len``; ``O(N log N)``, rounding errors of the order of
  ``eps * max|values|``.

``method="auto"`` compares the two operation counts (JAX's "auto" is always direct).
Every mode is a window of the full convolution: "same" the centred part the size of
`in1`, "valid" the part that needs no padding. As in JAX (and unlike SciPy), integer and
boolean inputs are promoted to floating point, so results are always inexact and
differentiable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.fft

import functrans.numpy as fnp
from functrans.core.trace import Tracer
from functrans.numpy import fft as fnp_fft
from functrans.numpy._lax import lax
from functrans.numpy._util import (
    Array,
    cast,
    dtype_of,
    operand,
    result_type,
    shape_of,
    to_inexact_dtype,
)

__all__ = ["convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve"]


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)

_MODES = ("full", "same", "valid")
_METHODS = ("auto", "direct", "fft")
#: SciPy's boundary names -> the ``fnp.pad`` mode that extends the input that way
_BOUNDARIES = {"fill": "constant", "pad": "constant", "wrap": "wrap", "circular": "wrap",
               "symm": "symmetric", "symmetric": "symmetric"}
#: below this many multiply-adds, a direct convolution (exact) costs no more than FFTs
_SMALL = 2 ** 12
#: above this many, FFTs are faster whatever the shapes
_DIRECT_LIMIT = 2 ** 16


# ------------------------------------------------------------------ arguments

def _operands(fname: str, in1: Any, in2: Any) -> tuple[Array, Array]:
    in1 = operand(in1, f"scipy.signal.{fname}", "in1")
    in2 = operand(in2, f"scipy.signal.{fname}", "in2")
    dtype = to_inexact_dtype(result_type(in1, in2))
    in1, in2 = cast(in1, dtype), cast(in2, dtype)
    if in1.ndim != in2.ndim:
        raise ValueError(f"functrans.scipy.signal.{fname}: in1 and in2 should have the same "
                         f"dimensionality, got shapes {shape_of(in1)} and {shape_of(in2)}")
    return in1, in2


def _check_mode(fname: str, mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"functrans.scipy.signal.{fname}: mode must be one of {_MODES}, "
                         f"got {mode!r}")


def _check_method(fname: str, method: str) -> None:
    if method not in _METHODS:
        raise ValueError(f"functrans.scipy.signal.{fname}: method must be one of "
                         f"{_METHODS}, got {method!r}")


def _check_not_empty(fname: str, in1: Array, in2: Array) -> None:
    if in1.size == 0 or in2.size == 0:
        raise ValueError(f"functrans.scipy.signal.{fname}: in1 and in2 must be non-empty, "
                         f"got shapes {shape_of(in1)} and {shape_of(in2)}")


def _valid_swap_needed(fname: str, mode: str, shape1: Sequence[int], shape2: Sequence[int],
                       axes: Sequence[int]) -> bool:
    """In "valid" mode the larger input slides over the smaller: whether in2 is the
    larger one (SciPy's rule: one must be at least as large in every axis)."""
    if mode != "valid" or not axes:
        return False
    in1_larger = all(shape1[a] >= shape2[a] for a in axes)
    in2_larger = all(shape2[a] >= shape1[a] for a in axes)
    if not (in1_larger or in2_larger):
        raise ValueError(f"functrans.scipy.signal.{fname}: for 'valid' mode, one input "
                         "must be at least as large as the other in every dimension, got "
                         f"shapes {tuple(shape1)} and {tuple(shape2)}")
    return not in1_larger


# ------------------------------------------------------------------ windows of the full result

def _mode_padding(mode: str, kernel_size: int, same_start: int) -> tuple[int, int]:
    """Padding (before, after) of the input along one axis so that a valid convolution
    with the kernel gives the mode's window of the full convolution; in "same" mode the
    window starts `same_start` into the full result."""
    if mode == "full":
        return kernel_size - 1, kernel_size - 1
    if mode == "same":
        return kernel_size - 1 - same_start, same_start
    return 0, 0


def _centered(x: Array, shape: Sequence[int]) -> Array:
    """The centred block of `x` of `shape` (SciPy's ``_centered``)."""
    index = tuple(slice((n - m) // 2, (n - m) // 2 + m) for n, m in zip(shape_of(x), shape))
    return x[index]


def _apply_mode(full: Array, shape1: Sequence[int], shape2: Sequence[int], mode: str,
                axes: Sequence[int]) -> Array:
    if mode == "full":
        return full
    if mode == "same":
        return _centered(full, shape1)
    valid = [shape1[a] - shape2[a] + 1 if a in axes else n
             for a, n in enumerate(shape_of(full))]
    return _centered(full, valid)


# ------------------------------------------------------------------ the two methods

def _direct(volume: Array, kernel: Array, padding: Sequence[tuple[int, int]]) -> Array:
    """The convolution of `volume`, zero-padded by `padding`, with `kernel`, every axis
    convolved: one ``lax.conv_general_dilated`` (a correlation, hence the flip) on a
    batch of one, one feature."""
    ndim = volume.ndim
    out = lax.conv_general_dilated(volume[None, None], fnp.flip(kernel)[None, None],
                                   (1,) * ndim, [tuple(p) for p in padding])
    return out[0, 0]


def _fft_full(in1: Array, in2: Array, axes: Sequence[int]) -> Array:
    """The full convolution along `axes` by FFTs; the other axes broadcast."""
    full = [shape_of(in1)[a] + shape_of(in2)[a] - 1 for a in axes]
    real = dtype_of(in1).kind != "c"
    fast = [scipy.fft.next_fast_len(n, real) for n in full]
    if real:
        product = fnp.multiply(fnp_fft.rfftn(in1, fast, axes), fnp_fft.rfftn(in2, fast, axes))
        out = fnp_fft.irfftn(product, fast, axes)
    else:
        product = fnp.multiply(fnp_fft.fftn(in1, fast, axes), fnp_fft.fftn(in2, fast, axes))
        out = fnp_fft.ifftn(product, fast, axes)
    index = [slice(None)] * in1.ndim
    for a, n in zip(axes, full):
        index[a] = slice(0, n)
    return cast(out[tuple(index)], dtype_of(in1))


def _fft_is_cheaper(shape1: Sequence[int], shape2: Sequence[int], mode: str) -> bool:
    """Operation counts: direct is (output size) x (kernel size) multiply-adds, three FFTs
    of the padded size about 3 N log2 N. Measured with NumPy, the FFTs win (or tie) from
    a quarter of the direct count on, and whenever the direct count passes 2^16; below
    2^12 both cost the overhead of a few calls, and the direct sum is exact."""
    out_sizes = [
        n + k - 1 if mode == "full" else (n if mode == "same" else abs(n - k) + 1)
        for n, k in zip(shape1, shape2)]
    direct = math.prod(out_sizes) * min(math.prod(shape1), math.prod(shape2))
    padded = math.prod(n + k - 1 for n, k in zip(shape1, shape2))
    fft = 3 * padded * max(math.log2(padded), 1.0)
    if direct <= _SMALL:
        return False
    return direct > fft / 4 or direct > _DIRECT_LIMIT


def _is_zero(value: Any) -> bool:
    return not isinstance(value, Tracer) and bool(np.all(np.asarray(value) == 0))


def _convolve_padded(volume: Array, kernel: Array, padding: Sequence[tuple[int, int]],
                     pad_mode: str, fillvalue: Any, use_fft: bool) -> Array:
    """The valid convolution of `volume`, padded by `padding` with `pad_mode`, with
    `kernel`: every mode and boundary condition is one of these."""
    if not use_fft and pad_mode == "constant" and _is_zero(fillvalue):
        return _direct(volume, kernel, padding)  # the convolution pads with zeros itself
    if any(lo or hi for lo, hi in padding):
        if pad_mode == "constant":
            fill = fnp.asarray(fillvalue, dtype=dtype_of(volume))
            volume = fnp.pad(volume, padding, mode="constant", constant_values=fill)
        else:
            volume = fnp.pad(volume, padding, mode=pad_mode)
    if not use_fft:
        return _direct(volume, kernel, [(0, 0)] * volume.ndim)
    axes = list(range(volume.ndim))
    full = _fft_full(volume, kernel, axes)
    return _apply_mode(full, shape_of(volume), shape_of(kernel), "valid", axes)


# ------------------------------------------------------------------ N-d

def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto",
             precision: Any = None) -> Array:
    """The N-dimensional convolution of `in1` and `in2` (as ``jax.scipy.signal.convolve``).

    `mode` "full" (every overlap), "same" (the size of `in1`, centred) or "valid" (no
    zero padding; in "valid" mode one input must be at least as large as the other in
    every axis). `method` "direct", "fft" or "auto" (the cheaper of the two by operation
    count; JAX's "auto" is always direct). `precision` is accepted for JAX
    compatibility and ignored (evaluation is NumPy). Integer inputs give float results.
    """
    _check_mode("convolve", mode)
    _check_method("convolve", method)
    in1, in2 = _operands("convolve", in1, in2)
    if in1.ndim == 0:
        return fnp.multiply(in1, in2)
    _check_not_empty("convolve", in1, in2)
    axes = list(range(in1.ndim))
    if _valid_swap_needed("convolve", mode, shape_of(in1), shape_of(in2), axes):
        in1, in2 = in2, in1  # convolution commutes
    shape1, shape2 = shape_of(in1), shape_of(in2)
    use_fft = method == "fft" or (method == "auto" and _fft_is_cheaper(shape1, shape2, mode))
    if use_fft:
        return _apply_mode(_fft_full(in1, in2, axes), shape1, shape2, mode, axes)
    # SciPy centres "same" on in1: the window starts (k - 1) // 2 into the full result
    padding = [_mode_padding(mode, k, (k - 1) // 2) for k in shape2]
    return _direct(in1, in2, padding)


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto",
              precision: Any = None) -> Array:
    """The N-dimensional cross-correlation ``z[k] = sum_l in1[l + k] conj(in2[l])`` (as
    ``jax.scipy.signal.correlate``): the convolution of `in1` with `in2` reversed and
    conjugated, with the modes and methods of :func:`convolve`."""
    _check_mode("correlate", mode)
    _check_method("correlate", method)
    in1, in2 = _operands("correlate", in1, in2)
    if in1.ndim == 0:
        return fnp.multiply(in1, fnp.conj(in2))
    return convolve(in1, _reverse_and_conj(in2), mode, method)


def _reverse_and_conj(x: Array) -> Array:
    flipped = fnp.flip(x)
    return fnp.conj(flipped) if dtype_of(x).kind == "c" else flipped


def fftconvolve(in1: Any, in2: Any, mode: str = "full", axes: Any = None) -> Array:
    """The convolution of `in1` and `in2` by FFTs over `axes` (all by default), the
    other axes broadcast (as ``jax.scipy.signal.fftconvolve``)."""
    _check_mode("fftconvolve", mode)
    in1, in2 = _operands("fftconvolve", in1, in2)
    if in1.ndim == 0:
        return fnp.multiply(in1, in2)
    _check_not_empty("fftconvolve", in1, in2)
    shape1, shape2 = shape_of(in1), shape_of(in2)
    axes = _convolution_axes(axes, shape1, shape2)
    if _valid_swap_needed("fftconvolve", mode, shape1, shape2, axes):
        in1, in2 = in2, in1
        shape1, shape2 = shape2, shape1
    if not axes:  # every axis broadcasts: the product of the inputs
        return _apply_mode(fnp.multiply(in1, in2), shape1, shape2, mode, axes)
    return _apply_mode(_fft_full(in1, in2, axes), shape1, shape2, mode, axes)


def _convolution_axes(axes: Any, shape1: Sequence[int], shape2: Sequence[int]) -> list[int]:
    """SciPy's reading of `axes`: axes where either input has length 1 broadcast
    instead (a convolution there is a product); the other axes must match or be 1."""
    ndim = len(shape1)
    if axes is None:
        axes = range(ndim)
    elif isinstance(axes, int):
        axes = [axes]
    canonical = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"functrans.scipy.signal.fftconvolve: axes {axes} out of range "
                             f"for inputs of dimension {ndim}")
        canonical.append(a % ndim)
    if len(set(canonical)) != len(canonical):
        raise ValueError(f"functrans.scipy.signal.fftconvolve: axes {axes} repeat an axis")
    convolved = [a for a in canonical if shape1[a] != 1 and shape2[a] != 1]
    for a in range(ndim):
        if a not in convolved and shape1[a] not in (1, shape2[a]) and shape2[a] != 1:
            raise ValueError(f"functrans.scipy.signal.fftconvolve: incompatible shapes "
                             f"{tuple(shape1)} and {tuple(shape2)}: axis {a} is not "
                             "convolved, so its lengths must match or one must be 1")
    return convolved


# ------------------------------------------------------------------ 2-D with boundaries

def _two_d(fname: str, in1: Any, in2: Any, mode: str, boundary: str) -> tuple[Array, Array]:
    _check_mode(fname, mode)
    if boundary not in _BOUNDARIES:
        raise ValueError(f"functrans.scipy.signal.{fname}: boundary must be one of "
                         f"{tuple(_BOUNDARIES)}, got {boundary!r}")
    in1, in2 = _operands(fname, in1, in2)
    if in1.ndim != 2:
        raise ValueError(f"functrans.scipy.signal.{fname}: in1 and in2 must both be 2-D "
                         f"arrays, got shapes {shape_of(in1)} and {shape_of(in2)}")
    _check_not_empty(fname, in1, in2)
    return in1, in2


def _convolve2d(in1: Array, in2: Array, mode: str, boundary: str, fillvalue: Any,
                correlation: bool) -> Array:
    # SciPy's 2-D "same" window starts (k - 1) // 2 into a full convolution, but k // 2
    # into a full correlation (a convolution with the reversed kernel)
    padding = [_mode_padding(mode, k, k // 2 if correlation else (k - 1) // 2)
               for k in shape_of(in2)]
    use_fft = _fft_is_cheaper(shape_of(in1), shape_of(in2), mode)
    return _convolve_padded(in1, in2, padding, _BOUNDARIES[boundary], fillvalue, use_fft)


def convolve2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
               fillvalue: Any = 0, precision: Any = None) -> Array:
    """The 2-D convolution of `in1` and `in2`, `in1` extended beyond its edges by
    `boundary` (as ``scipy.signal.convolve2d``).

    `boundary` "fill" pads with `fillvalue`, "wrap" periodically, "symm" by reflection
    (edge repeated); JAX supports only "fill" with a zero `fillvalue`. In "valid" mode
    the boundary is never read.
    """
    in1, in2 = _two_d("convolve2d", in1, in2, mode, boundary)
    if _valid_swap_needed("convolve2d", mode, shape_of(in1), shape_of(in2), [0, 1]):
        in1, in2 = in2, in1
    return _convolve2d(in1, in2, mode, boundary, fillvalue, correlation=False)


def correlate2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
                fillvalue: Any = 0, precision: Any = None) -> Array:
    """The 2-D cross-correlation of `in1` and `in2`, with the boundary conditions of
    :func:`convolve2d` (as ``scipy.signal.correlate2d``)."""
    in1, in2 = _two_d("correlate2d", in1, in2, mode, boundary)
    swapped = _valid_swap_needed("correlate2d", mode, shape_of(in1), shape_of(in2), [0, 1])
    if swapped:  # SciPy correlates the larger with the smaller, then reverses
        in1, in2 = in2, in1
    out = _convolve2d(in1, _reverse_and_conj(in2), mode, boundary, fillvalue,
                      correlation=True)
    return fnp.flip(out) if swapped else out
