"""Rows for the fft primitive (functrans/primitives/fft.py).

Every kind over one, two and three trailing axes, with a leading batch axis, at even and
odd lengths (the Nyquist bin exists only for even ones, which changes the Hermitian
weighting of RFFT's and IRFFT's transposes). Complex operands and results go through
``lax.complex`` / ``lax.real`` / ``lax.imag``, so each row maps real arrays to real
arrays, where JAX's complex cotangent convention and the harness's inner product agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from functrans import lax
from functrans.primitives.fft import FftType
from tests.rules import Row

Args = Callable[[np.random.Generator, np.dtype], tuple]

# (batch + transformed shape, fft_lengths): 1, 2 and 3 axes, even and odd last lengths
CONFIGS = {
    "1d_even": ((3, 8), (8,)),
    "1d_odd": ((2, 7), (7,)),
    "2d": ((2, 4, 6), (4, 6)),
    "2d_odd": ((3, 5), (3, 5)),
    "3d": ((2, 3, 4, 5), (3, 4, 5)),
}


def _normal(*shapes: tuple[int, ...]) -> Args:
    return lambda rng, dtype: tuple(rng.standard_normal(s).astype(dtype) for s in shapes)


def _parts(z: Any) -> tuple[Any, Any]:
    return lax.real(z), lax.imag(z)


def _complex_to_complex(kind: FftType, lengths: tuple[int, ...]) -> Callable[..., Any]:
    return lambda x, y: _parts(lax.fft(lax.complex(x, y), kind, lengths))


def _real_to_complex(lengths: tuple[int, ...]) -> Callable[..., Any]:
    return lambda x: _parts(lax.fft(x, FftType.RFFT, lengths))


def _complex_to_real(lengths: tuple[int, ...]) -> Callable[..., Any]:
    return lambda x, y: lax.fft(lax.complex(x, y), FftType.IRFFT, lengths)


def _half_spectrum(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[:-1] + (shape[-1] // 2 + 1,)


def _rows(name: str, shape: tuple[int, ...], lengths: tuple[int, ...]) -> list[Row]:
    half = _half_spectrum(shape)
    return [
        Row(f"fft_{name}", _complex_to_complex(FftType.FFT, lengths), _normal(shape, shape),
            linear=True),
        Row(f"ifft_{name}", _complex_to_complex(FftType.IFFT, lengths), _normal(shape, shape),
            linear=True),
        Row(f"rfft_{name}", _real_to_complex(lengths), _normal(shape), linear=True),
        Row(f"irfft_{name}", _complex_to_real(lengths), _normal(half, half), linear=True),
    ]


ROWS = [row for name, (shape, lengths) in CONFIGS.items() for row in _rows(name, shape, lengths)]
ROWS += [
    # the transform of an unbatched operand (every axis transformed)
    Row("rfft_no_batch", _real_to_complex((6,)), _normal((6,)), linear=True),
    Row("irfft_no_batch", _complex_to_real((6,)), _normal((4,), (4,)), linear=True),
    # a round trip is the identity, whatever the weighting of each half
    Row("irfft_of_rfft", lambda x: lax.fft(lax.fft(x, FftType.RFFT, (3, 6)), FftType.IRFFT,
                                           (3, 6)), _normal((2, 3, 6)), linear=True),
    # integer operands are converted (to complex128) before the transform
    Row("fft_of_int", lambda x: _parts(lax.fft(x, FftType.FFT, (5,))),
        lambda rng, dtype: (rng.integers(-4, 5, (2, 5)).astype(dtype),),
        dtypes=(np.int32,)),
]
