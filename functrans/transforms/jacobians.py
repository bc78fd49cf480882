"""Jacobians and Hessians, built from vmap over jvp (forward) or vjp (reverse)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans import dtypes
from functrans.core.avals import get_aval
from functrans.primitives import structural
from functrans.transforms.api_util import fun_name, normalize_argnums, split_argnums, to_output
from functrans.transforms.autodiff import vjp
from functrans.transforms.jvp import jvp
from functrans.transforms.vmap import vmap
from functrans.tree_util import (
    tree_flatten,
    tree_map,
    tree_structure,
    tree_transpose,
    tree_unflatten,
)


def _std_basis(tree: Any) -> Any:
    """A pytree like `tree` whose leaves gain a leading axis of size N (the total
    size): stacked, they form the identity."""
    leaves, treedef = tree_flatten(tree)
    avals = [get_aval(x) for x in leaves]
    sizes = [math.prod(a.shape) for a in avals]
    total = sum(sizes)
    if len(avals) == 1:  # the common case: the identity itself, reshaped (a view)
        eye = np.eye(total, dtype=avals[0].dtype)
        return tree_unflatten(treedef, [eye.reshape((total,) + avals[0].shape)])
    dtype = np.result_type(*[a.dtype for a in avals]) if avals else np.float64
    eye = np.eye(total, dtype=dtype)
    out, start = [], 0
    for a, n in zip(avals, sizes):
        out.append(eye[:, start:start + n].reshape((total,) + a.shape).astype(a.dtype))
        start += n
    return tree_unflatten(treedef, out)


def _check_float_inputs(x: Any, fname: str, what: str) -> None:
    for leaf in tree_flatten(x)[0]:
        dt = get_aval(leaf).dtype
        if not dtypes.is_float(dt):
            raise TypeError(f"{what} of {fname} requires floating-point inputs, got an "
                            f"argument of dtype {dt}")


def _check_holomorphic(tree: Any, fname: str, what: str, holomorphic: bool,
                       side: str) -> None:
    """JAX's rule: complex values on `side` ("inputs" or "outputs") of a Jacobian
    need holomorphic=True, and holomorphic=True needs them complex."""
    for leaf in tree_flatten(tree)[0]:
        dt = get_aval(leaf).dtype
        is_complex = dt.kind == "c"
        if holomorphic and not is_complex:
            raise TypeError(f"{what} of {fname} with holomorphic=True requires complex "
                            f"{side}, got dtype {dt}; cast with .astype(complex)")
        if is_complex and not holomorphic:
            raise TypeError(f"{what} of {fname} requires real-valued {side}, got dtype {dt}. "
                            "For holomorphic differentiation pass holomorphic=True; for "
                            "non-holomorphic functions of complex values use jvp or vjp.")


def _single_arg(f_partial: Callable[..., Any], dyn: tuple, argnums: Any
                ) -> tuple[Callable[..., Any], Any]:
    """`f` as a function of one pytree: the argument itself for an int `argnums`,
    the tuple of arguments otherwise."""
    if isinstance(argnums, int):
        return f_partial, dyn[0]
    return (lambda xs: f_partial(*xs)), dyn


def jacfwd(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False, holomorphic: bool = False) -> Callable[..., Any]:
    """Jacobian by forward mode (vmap of jvp over the input basis), as ``jax.jacfwd``.

    The result has the output's structure at the top, the input's below it, and
    each leaf has shape ``out_shape + in_shape``. Complex inputs and outputs need
    `holomorphic` (and then give the complex derivative), as in JAX. A one-element
    input (a scalar) needs a single jvp, which runs without the vmap.
    """
    name = fun_name(fun)

    def jac(*args: Any, **kwargs: Any) -> Any:
        nums = normalize_argnums(argnums, len(args), f"jacfwd of {name}")
        f_partial, dyn = split_argnums(fun, args, nums, kwargs)
        _check_float_inputs(dyn, name, "jacfwd")
        _check_holomorphic(dyn, name, "jacfwd", holomorphic, "inputs")
        f1, x = _single_arg(f_partial, dyn, argnums)

        def push(tangent: Any) -> Any:
            if has_aux:
                _, t, aux = jvp(f1, (x,), (tangent,), has_aux=True)
                return t, aux
            return jvp(f1, (x,), (tangent,))[1]

        if _one_element(x):  # one basis vector: a single jvp, no vmap over it
            pushed = push(_only_basis_vector(x))
            jac_t, aux = pushed if has_aux else (pushed, None)
            unstack = _column_of_single_input
        else:
            basis = _std_basis(x)
            if has_aux:
                jac_t, aux = vmap(push, out_axes=(-1, None))(basis)
            else:
                jac_t = vmap(push, out_axes=-1)(basis)
            unstack = _unstack_last
        if holomorphic:  # real outputs of complex inputs cannot be holomorphic
            _check_holomorphic(jac_t, name, "jacfwd", holomorphic, "outputs")
        jac_tree = tree_map(to_output, tree_map(lambda leaf: unstack(leaf, x), jac_t))
        return (jac_tree, aux) if has_aux else jac_tree

    jac.__name__ = f"jacfwd({name})"
    return jac


def _unstack_last(leaf: Any, x: Any) -> Any:
    """Split the last axis (total input size) of a Jacobian leaf per input leaf."""
    in_leaves, in_treedef = tree_flatten(x)
    out_shape = get_aval(leaf).shape[:-1]
    if len(in_leaves) == 1:  # the last axis is all this input's: nothing to slice
        return tree_unflatten(in_treedef, [structural.reshape(
            leaf, out_shape + get_aval(in_leaves[0]).shape)])
    parts, start = [], 0
    for xi in in_leaves:
        shape = get_aval(xi).shape
        n = int(np.prod(shape, dtype=np.int64))
        part = structural.slice_in_dim(leaf, start, start + n, axis=len(out_shape))
        parts.append(structural.reshape(part, out_shape + shape))
        start += n
    return tree_unflatten(in_treedef, parts)


def _one_element(tree: Any) -> bool:
    """Whether `tree` is one leaf of one element (a scalar, say): its standard basis
    is a single vector, so the Jacobian needs one jvp or vjp and no vmap over it."""
    leaves = tree_flatten(tree)[0]
    return len(leaves) == 1 and math.prod(get_aval(leaves[0]).shape) == 1


def _only_basis_vector(tree: Any) -> Any:
    """The one vector of the standard basis of a one-element `tree`: a one of its
    leaf's shape and dtype (what vmap over `_std_basis(tree)` would hand over)."""
    (leaf,), treedef = tree_flatten(tree)
    aval = get_aval(leaf)
    return tree_unflatten(treedef, [np.ones(aval.shape, aval.dtype)])


def _column_of_single_input(leaf: Any, x: Any) -> Any:
    """`_unstack_last` for a one-element input `x`: the tangent `leaf` (one output
    leaf's shape) is the Jacobian's only column, shaped ``out_shape + in_shape``."""
    x_leaf, in_treedef = tree_flatten(x)
    shape = get_aval(leaf).shape + get_aval(x_leaf[0]).shape
    return tree_unflatten(in_treedef, [structural.reshape(leaf, shape)])


def _single_row(cotangent: Any, out: Any) -> Any:
    """The Jacobian of a one-element output `out` from its only pullback: each
    leaf of the input `cotangent` shaped ``out_shape + in_shape``, in the output's
    structure at the top and the input's below it."""
    (out_leaf,), out_treedef = tree_flatten(out)
    out_shape = get_aval(out_leaf).shape
    rows = tree_map(lambda leaf: structural.reshape(leaf, out_shape + get_aval(leaf).shape),
                    cotangent)
    return tree_unflatten(out_treedef, [rows])


def _unstack_first(leaf: Any, out: Any) -> Any:
    """Split the first axis (total output size) of a cotangent leaf per output leaf."""
    out_leaves, out_treedef = tree_flatten(out)
    in_shape = get_aval(leaf).shape[1:]
    if len(out_leaves) == 1:  # the first axis is all this output's: nothing to slice
        return tree_unflatten(out_treedef, [structural.reshape(
            leaf, get_aval(out_leaves[0]).shape + in_shape)])
    parts, start = [], 0
    for o in out_leaves:
        shape = get_aval(o).shape
        n = int(np.prod(shape, dtype=np.int64))
        part = structural.slice_in_dim(leaf, start, start + n, axis=0)
        parts.append(structural.reshape(part, shape + in_shape))
        start += n
    return tree_unflatten(out_treedef, parts)


def jacrev(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False, holomorphic: bool = False, allow_int: bool = False
           ) -> Callable[..., Any]:
    """Jacobian by reverse mode (vmap of vjp over the output basis), as ``jax.jacrev``.
    Complex outputs need `holomorphic` (which needs complex inputs too), as in JAX.
    With `allow_int`, integer inputs are accepted and get ``float0`` Jacobians. A
    one-element output (a scalar function, the inner Jacobian of every `hessian`)
    needs a single vjp, which runs without the vmap."""
    name = fun_name(fun)

    def jac(*args: Any, **kwargs: Any) -> Any:
        nums = normalize_argnums(argnums, len(args), f"jacrev of {name}")
        f_partial, dyn = split_argnums(fun, args, nums, kwargs)
        if not allow_int:
            _check_float_inputs(dyn, name, "jacrev")
        if holomorphic:
            _check_holomorphic(dyn, name, "jacrev", holomorphic, "inputs")
        f1, x = _single_arg(f_partial, dyn, argnums)
        if has_aux:
            out, f_vjp, aux = vjp(f1, x, has_aux=True)
        else:
            out, f_vjp = vjp(f1, x)
        _check_holomorphic(out, name, "jacrev", holomorphic, "outputs")
        if _one_element(out):  # a scalar function: one pullback, no vmap over the basis
            jac_tree = _single_row(f_vjp(_only_basis_vector(out))[0], out)
        else:
            cts = vmap(lambda ct: f_vjp(ct)[0])(_std_basis(out))
            per_out = tree_map(lambda leaf: _unstack_first(leaf, out), cts)
            jac_tree = tree_transpose(tree_structure(x), tree_structure(out), per_out)
        jac_tree = tree_map(to_output, jac_tree)
        return (jac_tree, aux) if has_aux else jac_tree

    jac.__name__ = f"jacrev({name})"
    return jac


jacobian = jacrev


def hessian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
            has_aux: bool = False, holomorphic: bool = False) -> Callable[..., Any]:
    """Hessian by forward-over-reverse, as ``jax.hessian``."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux, holomorphic=holomorphic), argnums,
                  has_aux=has_aux, holomorphic=holomorphic)
