"""Everyday NumPy names built from the other functrans.numpy functions: casting,
grids and index helpers, calculus on samples, set membership, integer gcd/lcm,
functional updates of arrays, polynomial helpers and ``vectorize``."""

from __future__ import annotations

import builtins
import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans.core.trace import Tracer
from functrans.higher_order.control_flow import while_loop
from functrans.numpy import linalg
from functrans.numpy._composites import diff, vander
from functrans.numpy._composites_index import resize
from functrans.numpy._creation import asarray, ones, zeros
from functrans.numpy._indexing import at
from functrans.numpy._reductions import any as any_
from functrans.numpy._reductions import sum as sum_
from functrans.numpy._shape import (
                              broadcast_to,
                              concatenate,
                              expand_dims,
                              moveaxis,
                              ravel,
                              reshape,
                              transpose,
)
from functrans.numpy._ufuncs import abs as abs_
from functrans.numpy._ufuncs import arctan2, degrees, imag, logical_not, real, sqrt, where
from functrans.numpy._util import Array, shape_of
from functrans.primitives.elementwise import convert_element_type
from functrans.transforms.vmap import vmap

__all__ = ["astype", "angle", "trapezoid", "isin", "gcd", "lcm", "unstack", "block",
           "polyder", "polyint", "polyfit", "roots", "gradient", "apply_along_axis",
           "vectorize", "ix_", "s_", "mgrid", "ogrid", "fill_diagonal", "put_along_axis"]


# ---------------------------------------------------------------- casting

def astype(x: Any, dtype: Any, /, *, copy: bool = False, device: Any = None) -> Array:
    """`x` cast to `dtype`, as ``jnp.astype`` (complex to real drops the imaginary
    part). The result never shares memory with `x`."""
    return convert_element_type(asarray(x), np.dtype(dtype))


def angle(z: Any, deg: bool = False) -> Array:
    """The argument of complex `z` (radians, or degrees with `deg`), as ``jnp.angle``."""
    z = asarray(z)
    result = arctan2(imag(z), real(z))
    return degrees(result) if deg else result


# ---------------------------------------------------------------- calculus on samples

def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Array:
    """The trapezoidal-rule integral of samples `y` along `axis`, at positions `x`
    (1-D, or y's shape) or spacing `dx`, as ``jnp.trapezoid``."""
    y = moveaxis(asarray(y), axis, -1)
    pair_sums = y[..., 1:] + y[..., :-1]
    if x is None:
        return sum_(pair_sums, axis=-1) * dx * 0.5
    x = asarray(x)
    widths = diff(x) if len(shape_of(x)) == 1 else diff(moveaxis(x, axis, -1), axis=-1)
    return sum_(pair_sums * widths, axis=-1) * 0.5


def gradient(f: Any, *varargs: Any, axis: int | Sequence[int] | None = None,
             edge_order: int | None = None) -> Any:
    """Second-order central differences inside, first-order one-sided at the
    edges, as ``jnp.gradient``. `varargs`: one spacing for all axes, or one per
    axis, each a scalar or a 1-D array of coordinates. As in JAX, only
    ``edge_order=1`` (the default) is offered."""
    if edge_order not in (None, 1):
        raise ValueError(f"gradient: edge_order={edge_order} is not supported; only 1 (as "
                         "in JAX): one-sided first-order differences at the edges")
    f = asarray(f)
    ndim = len(shape_of(f))
    axes = tuple(builtins.range(ndim)) if axis is None else (
        (axis,) if isinstance(axis, int) else tuple(axis))
    axes = tuple(a % ndim for a in axes)
    if len(varargs) in (0, 1):
        spacings = list(varargs or (1.0,)) * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError(f"gradient: give one spacing, or one per axis ({len(axes)}), got "
                        f"{len(varargs)}")
    out = [_gradient_1d(f, a, h) for a, h in zip(axes, spacings)]
    return out[0] if len(out) == 1 else out


def _gradient_1d(f: Any, axis: int, spacing: Any) -> Array:
    g = moveaxis(f, axis, -1)
    if shape_of(g)[-1] < 2:
        raise ValueError(f"gradient: axis {axis} has length {shape_of(g)[-1]}; at least 2 "
                         "samples are needed")
    spacing = asarray(spacing)
    if len(shape_of(spacing)) == 0:
        interior = (g[..., 2:] - g[..., :-2]) / (2 * spacing)
        first = (g[..., 1:2] - g[..., :1]) / spacing
        last = (g[..., -1:] - g[..., -2:-1]) / spacing
    else:
        if shape_of(spacing) != (shape_of(g)[-1],):
            raise ValueError(f"gradient: coordinates of shape {shape_of(spacing)} do not "
                             f"match axis {axis} of length {shape_of(g)[-1]}")
        dx = diff(spacing)
        dx1, dx2 = dx[:-1], dx[1:]
        # the non-uniform three-point formula NumPy uses
        interior = (-dx2 / (dx1 * (dx1 + dx2)) * g[..., :-2]
                    + (dx2 - dx1) / (dx1 * dx2) * g[..., 1:-1]
                    + dx1 / (dx2 * (dx1 + dx2)) * g[..., 2:])
        first = (g[..., 1:2] - g[..., :1]) / dx[0]
        last = (g[..., -1:] - g[..., -2:-1]) / dx[-1]
    return moveaxis(concatenate([first, interior, last], axis=-1), -1, axis)


# ---------------------------------------------------------------- sets, integers

def isin(element: Any, test_elements: Any, assume_unique: bool = False,
         invert: bool = False) -> Array:
    """Whether each of `element` occurs in `test_elements`, as ``jnp.isin``."""
    found = any_(expand_dims(asarray(element), -1) == ravel(asarray(test_elements)), axis=-1)
    return logical_not(found) if invert else found


def gcd(x1: Any, x2: Any) -> Array:
    """The greatest common divisor of integers, elementwise (Euclid's algorithm in
    a while_loop over the whole array), as ``jnp.gcd``."""
    a, b = _integer_pair("gcd", x1, x2)

    def step(pair: tuple[Any, Any]) -> tuple[Any, Any]:
        a, b = pair
        nonzero = b != 0
        safe_b = where(nonzero, b, 1)
        return where(nonzero, b, a), where(nonzero, a % safe_b, 0)

    return while_loop(lambda pair: any_(pair[1] != 0), step, (abs_(a), abs_(b)))[0]


def lcm(x1: Any, x2: Any) -> Array:
    """The least common multiple of integers, elementwise, as ``jnp.lcm`` (0 when
    either is 0)."""
    a, b = _integer_pair("lcm", x1, x2)
    divisor = gcd(a, b)
    return where(divisor == 0, 0, abs_(a * (b // where(divisor == 0, 1, divisor))))


def _integer_pair(name: str, x1: Any, x2: Any) -> tuple[Array, Array]:
    a, b = asarray(x1), asarray(x2)
    for arg, v in (("x1", a), ("x2", b)):
        if np.dtype(v.dtype).kind not in "iu":
            raise TypeError(f"{name}: {arg} has dtype {v.dtype}; {name} is defined for "
                            "integer arrays (cast with .astype(int) first)")
    shape = np.broadcast_shapes(shape_of(a), shape_of(b))
    dtype = np.result_type(a.dtype, b.dtype)
    return (broadcast_to(convert_element_type(a, dtype), shape),
            broadcast_to(convert_element_type(b, dtype), shape))


# ---------------------------------------------------------------- shapes

def unstack(x: Any, /, *, axis: int = 0) -> tuple[Array, ...]:
    """The slices of `x` along `axis`, as ``jnp.unstack``."""
    moved = moveaxis(asarray(x), axis, 0)
    return tuple(moved[i] for i in builtins.range(shape_of(moved)[0]))


def block(arrays: Any) -> Array:
    """An array assembled from nested lists of blocks, as ``np.block``: the
    innermost lists are joined along the last axis, the next along the one
    before, and so on."""
    depth = _list_depth(arrays)
    ndim = builtins.max(depth, _max_ndim(arrays))
    return _block(arrays, depth, ndim)


def _list_depth(arrays: Any) -> int:
    depth = 0
    while isinstance(arrays, list):
        if not arrays:
            raise ValueError("block: lists must not be empty")
        depth, arrays = depth + 1, arrays[0]
    return depth


def _max_ndim(arrays: Any) -> int:
    if isinstance(arrays, list):
        return builtins.max(_max_ndim(a) for a in arrays)
    return len(shape_of(asarray(arrays)))


def _block(arrays: Any, depth: int, ndim: int) -> Array:
    if not isinstance(arrays, list):
        if depth:
            raise ValueError("block: list depths are mismatched")
        x = asarray(arrays)
        return reshape(x, (1,) * (ndim - len(shape_of(x))) + shape_of(x))
    parts = [_block(a, depth - 1, ndim) for a in arrays]
    return concatenate(parts, axis=-depth)


def apply_along_axis(func1d: Callable[..., Any], axis: int, arr: Any, *args: Any,
                     **kwargs: Any) -> Array:
    """``func1d`` applied to each 1-D slice of `arr` along `axis` (through vmap),
    the result's own axes taking `axis`'s place, as ``jnp.apply_along_axis``."""
    arr = asarray(arr)
    ndim = len(shape_of(arr))
    axis %= ndim
    f: Callable[..., Any] = lambda v: func1d(v, *args, **kwargs)  # noqa: E731
    for _ in builtins.range(ndim - 1):
        f = vmap(f)
    out = asarray(f(moveaxis(arr, axis, -1)))
    core = len(shape_of(out)) - (ndim - 1)
    batch = list(builtins.range(ndim - 1))
    order = batch[:axis] + list(builtins.range(ndim - 1, ndim - 1 + core)) + batch[axis:]
    return transpose(out, order)


# ---------------------------------------------------------------- index helpers

def ix_(*args: Any) -> tuple[Array, ...]:
    """Open-mesh index arrays from 1-D integer sequences, as ``jnp.ix_``."""
    out = []
    for i, seq in enumerate(args):
        seq = asarray(seq)
        if len(shape_of(seq)) != 1:
            raise ValueError(f"ix_: argument {i} has shape {shape_of(seq)}; each must be 1-D")
        if np.dtype(seq.dtype) == np.bool_:
            raise TypeError(f"ix_: argument {i} is boolean; pass integer indices "
                            "(jnp.nonzero(mask, size=...)[0]) instead")
        shape = [1] * len(args)
        shape[i] = shape_of(seq)[0]
        out.append(reshape(seq, tuple(shape)))
    return tuple(out)


s_ = np.s_


class _Grid:
    """``mgrid[...]`` / ``ogrid[...]``: NumPy's, with static bounds."""

    def __init__(self, sparse: bool):
        self.sparse = sparse

    def __getitem__(self, key: Any) -> Any:
        grid = (np.ogrid if self.sparse else np.mgrid)[key]
        if isinstance(grid, (list, tuple)):  # ogrid, with more than one slice
            return [np.array(g) for g in grid]
        return np.array(grid)


mgrid = _Grid(sparse=False)
ogrid = _Grid(sparse=True)


# ---------------------------------------------------------------- functional updates

def fill_diagonal(a: Any, val: Any, wrap: bool = False, *, inplace: bool = True) -> Array:
    """`a` with its main diagonal set to `val` (repeated as needed), as
    ``jnp.fill_diagonal``: arrays are immutable, so pass ``inplace=False`` and use
    the result."""
    if inplace:
        raise ValueError("fill_diagonal: functrans arrays are immutable; call "
                         "fill_diagonal(a, val, inplace=False) and use the returned array")
    a = asarray(a)
    shape = shape_of(a)
    if len(shape) < 2 or (len(shape) > 2 and len(set(shape)) != 1):
        raise ValueError(f"fill_diagonal: a has shape {shape}; it needs at least 2 "
                         "dimensions, all of equal length beyond 2")
    # NumPy's walk over the flattened array: one step per diagonal entry
    step = shape[1] + 1 if len(shape) == 2 else 1 + int(np.cumprod(shape[:-1]).sum())
    end = int(np.prod(shape)) if (wrap or len(shape) > 2) else shape[1] * shape[1]
    positions = np.arange(0, builtins.min(end, int(np.prod(shape))), step)
    values = resize(ravel(asarray(val)), (len(positions),))
    return reshape(at(ravel(a))[positions].set(values), shape)


def put_along_axis(arr: Any, indices: Any, values: Any, axis: int | None,
                   inplace: bool = True, *, mode: str | None = None) -> Array:
    """`arr` with `values` written at `indices` along `axis`, as
    ``jnp.put_along_axis`` (which, arrays being immutable, needs ``inplace=False``).
    Only the default `mode` (in-bounds indices) is offered."""
    if inplace:
        raise ValueError("put_along_axis: functrans arrays are immutable; call "
                         "put_along_axis(..., inplace=False) and use the returned array")
    if mode is not None:
        raise ValueError(f"put_along_axis: mode={mode!r} is not supported; indices must be "
                         "in bounds (negative ones count from the end)")
    arr, indices = asarray(arr), asarray(indices)
    if axis is None:
        return reshape(put_along_axis(ravel(arr), ravel(indices), ravel(asarray(values)), 0,
                                      inplace=False, mode=mode), shape_of(arr))
    ndim = len(shape_of(arr))
    if len(shape_of(indices)) != ndim:
        raise ValueError(f"put_along_axis: indices has {len(shape_of(indices))} dimensions "
                         f"but arr has {ndim}; they must match")
    axis %= ndim
    index = []
    for d, n in enumerate(shape_of(indices)):
        if d == axis:
            index.append(indices)
        else:
            shape = [1] * ndim
            shape[d] = n
            index.append(np.arange(n).reshape(shape))
    return at(arr)[tuple(index)].set(values)


# ---------------------------------------------------------------- polynomials

def polyder(p: Any, m: int = 1) -> Array:
    """The coefficients of the `m`-th derivative of polynomial `p`, as ``jnp.polyder``."""
    p = asarray(p)
    for _ in builtins.range(_order("polyder", m)):
        degree = shape_of(p)[0] - 1
        if degree < 1:
            return zeros((1,), _inexact(p))
        p = p[:-1] * np.arange(degree, 0, -1)
    return p


def polyint(p: Any, m: int = 1, k: Any = None) -> Array:
    """The coefficients of the `m`-th antiderivative of `p`, with integration
    constants `k` (one, or one per integration, the first used first), as
    ``jnp.polyint``."""
    m = _order("polyint", m)
    constants = zeros((m,)) if k is None else ravel(asarray(k))
    if shape_of(constants)[0] == 1 and m > 1:
        constants = constants[0] * ones((m,))
    if shape_of(constants)[0] < m:
        raise ValueError(f"polyint: k has {shape_of(constants)[0]} constants; give 1 or m={m}")
    p = asarray(p)
    for i in builtins.range(m):
        n = shape_of(p)[0]
        p = concatenate([p / np.arange(n, 0, -1), reshape(constants[i], (1,))])
    return p


def _order(name: str, m: Any) -> int:
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 0:
        raise ValueError(f"{name}: the order m must be a non-negative int, got {m!r}")
    return int(m)


def _inexact(p: Any) -> np.dtype:
    dtype = np.dtype(p.dtype)
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def polyfit(x: Any, y: Any, deg: int, rcond: float | None = None, full: bool = False,
            w: Any = None, cov: bool | str = False) -> Any:
    """Least-squares polynomial fit of degree `deg`, highest power first, as
    ``jnp.polyfit`` (columns scaled to unit norm before ``lstsq``, as NumPy).
    `full` adds residuals, rank, singular values and rcond; `cov` adds the
    covariance of the coefficients (``"unscaled"`` skips the residual scaling)."""
    x, y = asarray(x), asarray(y)
    order = int(deg) + 1
    if order < 1 or len(shape_of(x)) != 1 or shape_of(x)[0] != shape_of(y)[0]:
        raise ValueError(f"polyfit: needs deg >= 0, 1-D x and y with x's length first; got "
                         f"deg={deg}, x shape {shape_of(x)}, y shape {shape_of(y)}")
    rcond = shape_of(x)[0] * np.finfo(_inexact(x)).eps if rcond is None else rcond
    lhs, rhs = vander(x, order), y
    if w is not None:
        w = asarray(w)
        lhs = lhs * w[:, None]
        rhs = rhs * (w if len(shape_of(rhs)) == 1 else w[:, None])
    scale = sqrt(sum_(lhs * lhs, axis=0))
    coeffs, residuals, rank, singular = linalg.lstsq(lhs / scale, rhs, rcond)
    coeffs = transpose(transpose(coeffs) / scale)
    if full:
        return coeffs, residuals, rank, singular, rcond
    if not cov:
        return coeffs
    base = linalg.inv((lhs / scale).T @ (lhs / scale)) / (scale[:, None] * scale[None, :])
    dof = shape_of(x)[0] - order
    factor = 1.0 if cov == "unscaled" else residuals / dof
    if len(shape_of(y)) == 1:
        return coeffs, base * factor
    return coeffs, base[:, :, None] * factor


def roots(p: Any, *, strip_zeros: bool = True) -> Array:
    """The roots of polynomial `p` (highest power first): eigenvalues of its
    companion matrix, always complex, as ``jnp.roots``. `strip_zeros` drops
    leading zero coefficients, which needs concrete `p`; under jit pass
    ``strip_zeros=False`` (leading zeros then give NaN roots, as in JAX)."""
    p = ravel(asarray(p))
    if strip_zeros:
        if isinstance(p, Tracer):
            raise ValueError("roots: strip_zeros=True needs a concrete p (the number of "
                             "roots depends on it); pass strip_zeros=False under jit")
        nonzero = np.flatnonzero(np.asarray(p))
        p = p[nonzero[0]:] if len(nonzero) else p[:0]
    n = shape_of(p)[0]
    if n < 2:
        return zeros((0,), np.complex128)
    companion = np.eye(n - 1, k=-1)
    first_row = expand_dims(-p[1:] / p[0], 0)
    matrix = concatenate([first_row, companion[1:]], axis=0) if n > 2 else first_row
    return linalg.eigvals(matrix)


# ---------------------------------------------------------------- vectorize

_DIMS = r"\(\s*(?:\w+(?:\s*,\s*\w+)*)?\s*\)"


def _parse_signature(signature: str) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    pattern = rf"^{_DIMS}(?:\s*,\s*{_DIMS})*\s*->\s*{_DIMS}(?:\s*,\s*{_DIMS})*$"
    if not re.match(pattern, signature.strip()):
        raise ValueError(f"vectorize: signature {signature!r} is not of the form "
                         "'(m,n),(n)->(m)'")
    inputs, outputs = signature.split("->")

    def parse(part: str) -> list[tuple[str, ...]]:
        return [tuple(d.strip() for d in group.split(",") if d.strip())
                for group in re.findall(r"\(([^)]*)\)", part)]

    return parse(inputs), parse(outputs)


def vectorize(pyfunc: Callable[..., Any], *, excluded: frozenset = frozenset(),
              signature: str | None = None) -> Callable[..., Any]:
    """``pyfunc`` over the broadcast leading (loop) dimensions of its arguments,
    as ``jnp.vectorize``: the core dimensions named by `signature` (``"(n),(n)->()"``;
    default: all scalars) go to ``pyfunc`` whole, the loop dimensions are
    broadcast, flattened into one and mapped with vmap. `excluded` names
    positions or keywords passed through unchanged."""
    core_in, core_out = _parse_signature(signature) if signature else (None, None)

    @functools.wraps(pyfunc)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        mapped = [i for i in builtins.range(len(args)) if i not in excluded]
        fixed_kwargs = {k: v for k, v in kwargs.items() if k in excluded}
        mapped_kwargs = [k for k in kwargs if k not in excluded]
        arrays = [asarray(args[i]) for i in mapped] + [asarray(kwargs[k]) for k in mapped_kwargs]
        cores = core_in if core_in is not None else [()] * len(arrays)
        if len(cores) != len(arrays):
            raise TypeError(f"vectorize: signature {signature!r} has {len(cores)} inputs, "
                            f"got {len(arrays)} mapped arguments")
        loop_shapes, sizes = [], {}
        for i, (x, dims) in enumerate(zip(arrays, cores)):
            shape = shape_of(x)
            if len(shape) < len(dims):
                raise ValueError(f"vectorize: argument {i} of shape {shape} has fewer than "
                                 f"the {len(dims)} core dimensions {dims} of {signature!r}")
            core_shape = shape[len(shape) - len(dims):]
            for name, n in zip(dims, core_shape):
                if sizes.setdefault(name, n) != n:
                    raise ValueError(f"vectorize: core dimension {name!r} is {sizes[name]} "
                                     f"in one argument and {n} in argument {i}")
            loop_shapes.append(shape[:len(shape) - len(dims)])
        loop_shape = np.broadcast_shapes(*loop_shapes)
        count = int(np.prod(loop_shape, dtype=np.int64))

        def call(*flat: Any) -> Any:
            call_args = list(args)
            for i, v in zip(mapped, flat):
                call_args[i] = v
            named = dict(zip(mapped_kwargs, flat[len(mapped):]))
            return pyfunc(*call_args, **fixed_kwargs, **named)

        if not loop_shape:
            return call(*arrays)
        flat = [reshape(broadcast_to(x, loop_shape + shape_of(x)[len(s):]),
                        (count,) + shape_of(x)[len(s):])
                for x, s in zip(arrays, loop_shapes)]
        out = vmap(call)(*flat)
        unflatten = lambda y: reshape(y, loop_shape + shape_of(y)[1:])  # noqa: E731
        if isinstance(out, tuple):
            if core_out is not None and len(core_out) != len(out):
                raise TypeError(f"vectorize: signature {signature!r} has {len(core_out)} "
                                f"outputs, pyfunc returned {len(out)}")
            return tuple(unflatten(y) for y in out)
        return unflatten(out)

    return wrapped
