"""Reverse mode: ``vjp`` is linearize then transpose; ``grad`` is ``vjp`` with a
unit cotangent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans import dtypes
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.ir import ClosedJaxpr, Jaxpr
from functrans.core.zeros import UndefinedPrimal, Zero
from functrans.primitives.tangent_space import instantiate_zeros
from functrans.transforms.api_util import (
    FlatFun,
    flatten_args,
    fun_name,
    normalize_argnums,
    outputs,
    split_argnums,
)
from functrans.transforms.jvp import _aux_fun
from functrans.transforms.linearize import LinearFunction, linearize_flat
from functrans.transforms.transpose import backward_pass
from functrans.tree_util import PyTreeDef, tree_flatten, tree_unflatten


def _transpose_linear(linear: LinearFunction, cts_out: Sequence[Any],
                      consume: bool = False) -> list[Any]:
    """Cotangents of the inputs of a LinearFunction (Zero where none flows).
    With `consume`, the residuals are released during the walk and `linear`
    cannot be transposed again."""
    nz_in_avals = [a for a, nz in zip(linear.in_avals, linear.in_nonzero) if nz]
    nz_cts = [ct for ct, nz in zip(cts_out, linear.out_nonzero) if nz]
    consts = linear.jaxpr.consts
    if consume:
        linear.jaxpr.consts = []
    with np.errstate(all="ignore"):
        cts_in = iter(backward_pass(linear.jaxpr.jaxpr, consts,
                                    [UndefinedPrimal(a) for a in nz_in_avals], nz_cts,
                                    all_linear=True, consume=consume))
    return [next(cts_in) if nz else Zero(a)
            for a, nz in zip(linear.in_avals, linear.in_nonzero)]


class VJPFunction:
    """The function ``ct -> cotangents of the primals`` returned by ``vjp``."""

    def __init__(self, linear: LinearFunction, in_tree: PyTreeDef, out_tree: PyTreeDef,
                 primal_avals: list[ShapedArray], out_avals: list[ShapedArray], name: str):
        self.linear = linear
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.primal_avals = primal_avals
        self.out_avals = out_avals
        self.name = name

    def __call__(self, cotangent: Any) -> tuple[Any, ...]:
        flat_ct, ct_tree = tree_flatten(cotangent)
        if ct_tree != self.out_tree:
            raise TypeError(f"vjp of {self.name}: the cotangent must have the structure of "
                            f"the function's output, {self.out_tree}; got {ct_tree}")
        cts = [self._check_ct(ct, a, i) for i, (ct, a) in enumerate(zip(flat_ct,
                                                                       self.out_avals))]
        cts_in = _transpose_linear(self.linear, cts)
        out = [_instantiate_like(ct, a) for ct, a in zip(cts_in, self.primal_avals)]
        args, _ = tree_unflatten(self.in_tree, outputs(out, flat_ct))
        return args

    def _check_ct(self, ct: Any, primal_aval: ShapedArray, i: int) -> Any:
        if type(ct) is Zero:
            return ct
        if dtypes.is_python_scalar(ct):
            ct = np.asarray(ct, primal_aval.dtype if dtypes.is_float(primal_aval.dtype)
                            else None)
        ct_aval = get_aval(ct)
        expected = primal_aval.to_tangent_aval()
        if ct_aval.shape != expected.shape:
            raise ValueError(f"vjp of {self.name}: cotangent {i} has shape {ct_aval.shape} "
                             f"and dtype {ct_aval.dtype}, but the output it pairs with has "
                             f"shape {expected.shape} and dtype {expected.dtype}")
        if expected.dtype == dtypes.float0:
            return Zero(expected)
        if ct_aval.dtype != expected.dtype:
            if ct_aval.weak_type and dtypes.is_float(ct_aval.dtype):
                return np.asarray(ct, expected.dtype)
            raise TypeError(f"vjp of {self.name}: cotangent {i} has dtype {ct_aval.dtype} "
                            f"and shape {ct_aval.shape}, but the output it pairs with has "
                            f"dtype {expected.dtype} and shape {expected.shape}; cast it "
                            f"with .astype({expected.dtype})")
        return ct


def _instantiate_like(ct: Any, primal_aval: ShapedArray) -> Any:
    if type(ct) is Zero:
        return instantiate_zeros(Zero(primal_aval.to_tangent_aval()))
    return ct


def vjp(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``(fun(*primals), f_vjp)`` with ``f_vjp(ct)`` the cotangents of the
    primals, as ``jax.vjp`` (``(out, f_vjp, aux)`` with ``has_aux=True``)."""
    name = fun_name(fun)
    flat, in_tree = flatten_args(primals, None, f"vjp of {name}")
    flat_fun = FlatFun(_aux_fun(fun, has_aux), in_tree, name)
    out_primals, out_tree, linear, aux = _linearize(flat_fun, flat, has_aux)
    f_vjp = VJPFunction(linear, in_tree, out_tree, [get_aval(p) for p in flat],
                        [get_aval(p) for p in out_primals], name)
    out = tree_unflatten(out_tree, outputs(out_primals, flat))
    return (out, f_vjp, aux) if has_aux else (out, f_vjp)


def _linearize(flat_fun: FlatFun, flat: list[Any], has_aux: bool
               ) -> tuple[list[Any], PyTreeDef, LinearFunction, Any]:
    """Linearize; with `has_aux`, split the (output, aux) pair and keep the
    linear map of the output only."""
    out_primals, linear = linearize_flat(flat_fun, flat)
    out_tree = flat_fun.out_tree
    if not has_aux:
        return out_primals, out_tree, linear, None
    out, aux = tree_unflatten(out_tree, out_primals)
    out_primals, out_tree = tree_flatten(out)
    return out_primals, out_tree, _drop_aux_outputs(linear, len(out_primals)), aux


def _drop_aux_outputs(linear: LinearFunction, n_keep: int) -> LinearFunction:
    """The auxiliary outputs come last; cut them from the linear map."""
    n_nz_keep = sum(linear.out_nonzero[:n_keep])
    jaxpr = linear.jaxpr
    if n_nz_keep != len(jaxpr.jaxpr.outvars):
        j = jaxpr.jaxpr
        jaxpr = ClosedJaxpr(Jaxpr(j.constvars, j.invars, j.outvars[:n_nz_keep], j.eqns),
                            jaxpr.consts)
    return LinearFunction(jaxpr, linear.in_avals, linear.out_avals[:n_keep],
                          linear.in_nonzero, linear.out_nonzero[:n_keep])


def value_and_grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False, allow_int: bool = False
                   ) -> Callable[..., Any]:
    """``f -> (x -> (f(x), ∇f(x)))`` for scalar-valued `f`, as ``jax.value_and_grad``."""
    name = fun_name(fun)
    aux_fun = _aux_fun(fun, has_aux)

    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        nums = normalize_argnums(argnums, len(args), f"grad of {name}")
        f_partial, dyn = split_argnums(aux_fun, args, nums, kwargs)
        flat, in_tree = flatten_args(dyn, None, f"grad of {name}")
        for leaf in flat:
            if not (allow_int or dtypes.is_float(get_aval(leaf).dtype)):
                _raise_int_input(dyn, nums, name)
        flat_fun = FlatFun(f_partial, in_tree, name)
        out_primals, out_tree, linear, aux = _linearize(flat_fun, flat, has_aux)
        aval = _check_scalar_output(out_primals, out_tree, name)
        cts = _transpose_linear(linear, [np.ones((), aval.dtype)], consume=True)
        value, *flat_grads = outputs([out_primals[0]] + [_instantiate_like(ct, get_aval(p))
                                                         for ct, p in zip(cts, flat)], flat)
        grads, _ = tree_unflatten(in_tree, flat_grads)
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((value, aux), g) if has_aux else (value, g)

    value_and_grad_f.__name__ = f"value_and_grad({name})"
    value_and_grad_f.__wrapped__ = fun  # type: ignore[attr-defined]
    return value_and_grad_f


def grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
         allow_int: bool = False) -> Callable[..., Any]:
    """The gradient of scalar-valued `fun` with respect to argument(s) `argnums`,
    as ``jax.grad``."""
    vg = value_and_grad(fun, argnums, has_aux, allow_int)

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    grad_f.__name__ = f"grad({fun_name(fun)})"
    grad_f.__wrapped__ = fun  # type: ignore[attr-defined]
    return grad_f


def _raise_int_input(dyn: tuple, argnums: tuple[int, ...], name: str) -> None:
    for i, x in zip(argnums, dyn):
        for leaf in tree_flatten(x)[0]:
            aval = get_aval(leaf)
            if not dtypes.is_float(aval.dtype):
                raise TypeError(
                    f"grad of {name} requires real- or complex-valued inputs (a floating "
                    f"dtype), but argument {i} has dtype {aval.dtype} (shape {aval.shape}). "
                    "Pass a float array (e.g. x.astype(float)), or use vjp, or "
                    "grad(..., allow_int=True) to get float0 zeros for integer inputs.")


def _check_scalar_output(leaves: list[Any], tree: PyTreeDef, name: str) -> ShapedArray:
    if len(leaves) != 1:
        raise TypeError(f"grad of {name} requires a scalar output, but the function returned "
                        f"a pytree {tree} with {len(leaves)} leaves. Use vjp or jacrev for "
                        "functions with several outputs (or has_aux=True to return extra "
                        "values).")
    aval = get_aval(leaves[0])
    if aval.shape != ():
        raise TypeError(f"grad of {name} requires a scalar output, but the output has shape "
                        f"{aval.shape}. Reduce it to a scalar (e.g. with .sum()), or use "
                        "vjp or jacrev for non-scalar outputs.")
    if not dtypes.is_float(aval.dtype):
        raise TypeError(f"grad of {name} requires a real-valued floating output, but the "
                        f"output has dtype {aval.dtype}.")
    if np.issubdtype(aval.dtype, np.complexfloating):
        raise TypeError(f"grad of {name} requires a real-valued output, but the output is "
                        f"complex ({aval.dtype}); use vjp for complex outputs.")
    return aval


def linear_transpose(fun: Callable[..., Any], *primals: Any) -> Callable[..., Any]:
    """The transpose of the linear function `fun`, at arguments shaped like
    `primals`, as ``jax.linear_transpose``."""
    name = fun_name(fun)
    flat, in_tree = flatten_args(primals, None, f"linear_transpose of {name}")
    flat_fun = FlatFun(fun, in_tree, name)
    _, linear = linearize_flat(flat_fun, [np.zeros(get_aval(x).shape, get_aval(x).dtype)
                                          for x in flat])
    out_tree = flat_fun.out_tree
    avals = [get_aval(x) for x in flat]

    def transposed(*cts: Any) -> tuple[Any, ...]:
        ct = cts[0] if len(cts) == 1 else cts
        flat_ct, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise TypeError(f"linear_transpose of {name}: cotangent structure {ct_tree} does "
                            f"not match the output structure {out_tree}")
        cts_in = _transpose_linear(linear, flat_ct)
        args, _ = tree_unflatten(in_tree, outputs((_instantiate_like(c, a)
                                                   for c, a in zip(cts_in, avals)), flat_ct))
        return args

    return transposed
