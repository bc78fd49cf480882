"""Rows for the collectives over named vmap axes (functrans/higher_order/collectives.py).

A collective has no meaning outside a named vmap, so each row's function is a named
vmap over the leading axis of its argument with the collective inside: the harness then
checks the collective's JVP, transpose and batching rules through it (its vmap-vs-loop
check adds an anonymous vmap around the named one: the collective is then batched over
an axis it does not name). Differentiating around the vmap meets only the reductions the
vmap turned the collective into; the collectives' own JVP and transpose rules, used when
differentiating inside the vmap, are checked in tests/test_collectives.py, with the loop
definitions of every collective over random shapes and in_axes. Arguments of pmax/pmin
are drawn away from ties.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from functrans import lax
from functrans.api.jit import jit
from functrans.transforms.vmap import vmap
from tests.rules import Row

Args = Callable[[np.random.Generator, np.dtype], tuple]


def _normal(*shapes: tuple[int, ...]) -> Args:
    return lambda rng, dtype: tuple(rng.standard_normal(s).astype(dtype) for s in shapes)


def _distinct(shape: tuple[int, ...]) -> Args:
    """Distinct values (a shuffled grid, spacing 0.1, plus a little noise): no ties."""
    def args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
        size = int(np.prod(shape))
        grid = rng.permutation(size) * 0.1 - 0.05 * size
        return ((grid + rng.uniform(-0.01, 0.01, size)).reshape(shape).astype(dtype),)
    return args


def _over_i(member: Callable[..., Any], **vmap_kwargs: Any) -> Callable[..., Any]:
    """`member` mapped over the leading axis, named "i"."""
    return vmap(member, axis_name="i", **vmap_kwargs)


def _normalised(v: Any) -> Any:
    # batch-norm style: centred and scaled by statistics over the whole axis
    centred = lax.sub(v, lax.pmean(v, "i"))
    variance = lax.pmean(lax.mul(centred, centred), "i")
    return lax.div(centred, lax.sqrt(lax.add(variance, lax.full_like(variance, 0.5))))


def _scaled_by_index(v: Any) -> Any:
    index = lax.convert_element_type(lax.axis_index("i"), v.dtype)
    return lax.mul(v, lax.add(lax.broadcast_in_dim(index, v.shape, ()),
                              lax.full_like(v, 1.0)))


def _nested_psum(x: Any) -> Any:
    inner = vmap(lambda v: lax.psum(v, ("i", "j")), axis_name="j")
    return vmap(inner, axis_name="i")(x)


ROWS = [
    Row("psum", _over_i(lambda v: lax.psum(v, "i")), _normal((4, 3)), linear=True),
    # an operand the axis does not map: the same in every member, summed size times
    Row("psum[unmapped]", _over_i(lambda v: lax.psum(v, "i"), in_axes=None, axis_size=4),
        _normal((3,)), linear=True),
    Row("psum[i,j]", _nested_psum, _normal((2, 3, 2)), linear=True),
    Row("pmean", _over_i(lambda v: lax.pmean(v, "i")), _normal((4, 3)), linear=True),
    Row("pmax", _over_i(lambda v: lax.pmax(v, "i")), _distinct((4, 3))),
    Row("pmin", _over_i(lambda v: lax.pmin(v, "i")), _distinct((4, 3))),
    Row("axis_index", _over_i(_scaled_by_index), _normal((4, 3)), linear=True),
    Row("all_gather", _over_i(lambda v: lax.all_gather(v, "i", axis=1)), _normal((3, 2, 2)),
        linear=True),
    Row("all_gather[tiled]", _over_i(lambda v: lax.all_gather(v, "i", tiled=True)),
        _normal((3, 2, 2)), linear=True),
    Row("psum_scatter", _over_i(lambda v: lax.psum_scatter(v, "i")), _normal((3, 3, 2)),
        linear=True),
    Row("psum_scatter[tiled]",
        _over_i(lambda v: lax.psum_scatter(v, "i", scatter_dimension=1, tiled=True)),
        _normal((2, 3, 4)), linear=True),
    Row("batch_norm", _over_i(_normalised), _normal((4, 3)), rtol=1e-5, atol=1e-5),
    # the collective inside a jitted function: batching the jit resolves the name
    Row("jit(pmean)", _over_i(jit(lambda v: lax.sub(v, lax.pmean(v, "i")))), _normal((4, 3)),
        linear=True),
]
