"""Reverse mode: ``vjp`` is linearize then transpose; ``grad`` is ``vjp`` with a
unit cotangent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans import dtypes
from functrans.compile.passes import inline_calls
from functrans.core import trace as core_trace
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.backend import foreign_backend, is_numpy_value
from functrans.core.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Var, eval_jaxpr
from functrans.core.zeros import UndefinedPrimal, Zero
from functrans.primitives import elementwise, indexing
from functrans.primitives.tangent_space import instantiate_zeros
from functrans.transforms import tape
from functrans.transforms.api_util import (
    FlatFun,
    argument_name,
    flatten_args,
    flatten_args_avals,
    fun_name,
    leaf_avals,
    normalize_argnums,
    outputs,
    split_argnums,
    to_output,
    unflatten_args,
)
from functrans.transforms.jvp import aux_fun
from functrans.transforms.linearize import LinearFunction, linearize_flat
from functrans.transforms.staging import JaxprTrace, trace_to_jaxpr
from functrans.transforms.transpose import backward_pass
from functrans.tree_util import PyTreeDef, tree_flatten, tree_unflatten


class VJPFunction:
    """The function ``ct -> cotangents of the primals`` returned by ``vjp``."""

    def __init__(self, linear: LinearFunction, in_tree: PyTreeDef, out_tree: PyTreeDef,
                 primal_avals: list[ShapedArray], out_avals: list[ShapedArray], name: str,
                 backends: list[Any] | None = None):
        self.linear = linear
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.primal_avals = primal_avals
        #: per primal: the array library of a non-NumPy one (its zero cotangents too);
        #: None when all are NumPy values
        self.backends = backends
        self.out_avals = out_avals
        self.name = name

    def __call__(self, cotangent: Any) -> tuple[Any, ...]:
        flat_ct, ct_tree = tree_flatten(cotangent)
        if ct_tree != self.out_tree:
            raise TypeError(f"vjp of {self.name}: the cotangent must have the structure of "
                            f"the function's output, {self.out_tree}; got {ct_tree}")
        cts = [_check_cotangent(ct, a, f"vjp of {self.name}", i)
               for i, (ct, a) in enumerate(zip(flat_ct, self.out_avals))]
        cts_in = self.linear.transpose(cts)
        args, _ = unflatten_args(self.in_tree, _cotangent_results(
            cts_in, self.primal_avals, flat_ct, self.backends))
        return args


def _check_cotangent(ct: Any, primal_aval: ShapedArray, fname: str, i: int) -> Any:
    """Cotangent `i` as the backward pass takes it (a Python float cast to the
    output's dtype, a symbolic Zero for an integer output), or a typed error."""
    if type(ct) is Zero:
        return ct
    if dtypes.is_python_scalar(ct):
        ct = np.asarray(ct, primal_aval.dtype if dtypes.is_float(primal_aval.dtype)
                        else None)
    ct_aval = get_aval(ct)
    expected = primal_aval.to_tangent_aval()
    if ct_aval.shape != expected.shape:
        raise ValueError(f"{fname}: cotangent {i} has shape {ct_aval.shape} and dtype "
                         f"{ct_aval.dtype}, but the output it pairs with has shape "
                         f"{expected.shape} and dtype {expected.dtype}")
    if expected.dtype == dtypes.float0:
        return Zero(expected)
    if ct_aval.dtype != expected.dtype:
        if ct_aval.weak_type and dtypes.is_float(ct_aval.dtype):
            return np.asarray(ct, expected.dtype)
        raise TypeError(f"{fname}: cotangent {i} has dtype {ct_aval.dtype} and shape "
                        f"{ct_aval.shape}, but the output it pairs with has dtype "
                        f"{expected.dtype} and shape {expected.shape}; cast it with "
                        f".astype({expected.dtype})")
    return ct


def _instantiate_like(ct: Any, primal_aval: ShapedArray, backend: Any = None) -> Any:
    """`ct` as an array: zeros for a symbolic Zero, in the primal's array library."""
    if type(ct) is not Zero:
        return ct
    eager = core_trace.get_current_trace() is core_trace.eval_trace
    return _zeros(primal_aval.to_tangent_aval(), backend, eager)


def _zeros(aval: ShapedArray, backend: Any, eager: bool) -> Any:
    """Zeros of `aval` in `backend`'s array library (None: NumPy's); evaluating
    `eager`ly, a new NumPy array (not a broadcast, which could not be written to)."""
    zeros = np.zeros(aval.shape, aval.dtype) if eager else instantiate_zeros(Zero(aval))
    if backend is None or zeros.dtype == dtypes.float0:
        return zeros
    return backend.from_numpy(zeros)


def _cotangent_results(cts: list[Any], primal_avals: list[ShapedArray], inputs: list[Any],
                       backends: list[Any] | None) -> list[Any]:
    """The cotangents of the primals as a transformation returns them (see `outputs`):
    the computed ones made the caller's, copied where one shares memory with one of
    `inputs` or another cotangent; zeros for a symbolic Zero (new arrays, whose memory
    needs no check)."""
    if Zero not in map(type, cts):
        return outputs(cts, inputs)
    computed = [ct for ct in cts if type(ct) is not Zero]
    owned = iter(outputs(computed, inputs))
    eager = core_trace.get_current_trace() is core_trace.eval_trace
    numpy_zeros = eager and backends is None
    results = []
    for k, ct in enumerate(cts):
        if type(ct) is not Zero:
            results.append(next(owned))
            continue
        aval = primal_avals[k].to_tangent_aval()
        if numpy_zeros:  # a new array, as _zeros makes it; to_output's work in short
            zeros = np.zeros(aval.shape, aval.dtype)
            results.append(zeros if aval.shape or aval.dtype == dtypes.float0 else zeros[()])
        else:
            results.append(to_output(_zeros(aval, backends and backends[k], eager)))
    return results


def _backends(flat: list[Any]) -> list[Any] | None:
    """The array library of each non-NumPy value of `flat`; None when all are NumPy."""
    if all(is_numpy_value(x) for x in flat):
        return None
    return [foreign_backend(x) for x in flat]


def vjp(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``(fun(*primals), f_vjp)`` with ``f_vjp(ct)`` the cotangents of the
    primals, as ``jax.vjp`` (``(out, f_vjp, aux)`` with ``has_aux=True``)."""
    name = fun_name(fun)
    flat, in_tree, in_avals = flatten_args_avals(primals, None, f"vjp of {name}")
    flat_fun = FlatFun(aux_fun(fun, has_aux), in_tree, name)
    out_primals, out_tree, linear, aux = _linearize(flat_fun, flat, has_aux, in_avals)
    # the tape takes NumPy values only; the general path any library's
    backends = None if type(linear) is tape.Tape else _backends(flat)
    f_vjp = VJPFunction(linear, in_tree, out_tree, in_avals, leaf_avals(out_primals), name,
                        backends)
    out = tree_unflatten(out_tree, outputs(out_primals, flat))
    return (out, f_vjp, aux) if has_aux else (out, f_vjp)


def _linearize(flat_fun: FlatFun, flat: list[Any], has_aux: bool,
               in_avals: list[ShapedArray] | None = None
               ) -> tuple[list[Any], PyTreeDef, LinearFunction, Any]:
    """Linearize (on the tape where it applies: see :mod:`tape`); with `has_aux`,
    split the (output, aux) pair and keep the linear map of the output only."""
    if tape.applies(flat):
        out_primals, linear = tape.record(flat_fun, flat, in_avals)
    else:
        out_primals, linear = linearize_flat(flat_fun, flat)
    out_tree = flat_fun.out_tree
    if not has_aux:
        return out_primals, out_tree, linear, None
    out, aux = tree_unflatten(out_tree, out_primals)
    out_primals, out_tree = tree_flatten(out)
    return out_primals, out_tree, linear.first_outputs(len(out_primals)), aux


def value_and_grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False, allow_int: bool = False, holomorphic: bool = False
                   ) -> Callable[..., Any]:
    """``f -> (x -> (f(x), ∇f(x)))`` for scalar-valued `f`, as ``jax.value_and_grad``.

    With `holomorphic`, `f` maps complex inputs to a complex output and the result
    is its complex derivative f'(z); without it the output must be real."""
    return _gradient_function(fun, argnums, has_aux, allow_int, holomorphic, with_value=True)


def _gradient_function(fun: Callable[..., Any], argnums: int | Sequence[int], has_aux: bool,
                       allow_int: bool, holomorphic: bool, with_value: bool
                       ) -> Callable[..., Any]:
    """The function of ``value_and_grad`` (`with_value`) or of ``grad``: one function
    for both, so that ``grad`` costs no call more."""
    name = fun_name(fun)
    fname = f"grad of {name}"
    fun_with_aux = aux_fun(fun, has_aux)
    one_argnum = isinstance(argnums, int)

    def gradient_f(*args: Any, **kwargs: Any) -> Any:
        nums = normalize_argnums(argnums, len(args), fname)
        f_partial, dyn = split_argnums(fun_with_aux, args, nums, kwargs)
        flat, in_tree, in_avals = flatten_args_avals(dyn, None, fname)
        if not allow_int:
            for a in in_avals:
                if not dtypes.is_float(a.dtype):
                    _raise_int_input(dyn, nums, name)
        if holomorphic:
            _check_complex_inputs(flat, name)
        flat_fun = FlatFun(f_partial, in_tree, name)
        out_primals, out_tree, linear, aux = _linearize(flat_fun, flat, has_aux, in_avals)
        one = _output_cotangent(out_primals, out_tree, name, holomorphic)
        cts = linear.transpose([one], consume=True)
        # the tape takes NumPy values only; the general path any library's
        backends = None if type(linear) is tape.Tape else _backends(flat)
        grads, _ = unflatten_args(in_tree, _cotangent_results(cts, in_avals, flat, backends))
        g = grads[0] if one_argnum else tuple(grads)
        if not with_value:
            return (g, aux) if has_aux else g
        value = to_output(out_primals[0])  # a scalar: it shares no memory
        return ((value, aux), g) if has_aux else (value, g)

    gradient_f.__name__ = f"{'value_and_grad' if with_value else 'grad'}({name})"
    gradient_f.__wrapped__ = fun  # type: ignore[attr-defined]
    return gradient_f


def _output_cotangent(leaves: list[Any], tree: PyTreeDef, name: str, holomorphic: bool
                      ) -> np.ndarray:
    """The cotangent 1 of the output `leaves` of grad's function, checked to be a
    scalar of a floating dtype (complex with `holomorphic` only)."""
    if len(leaves) == 1 and not holomorphic:
        one = _real_scalar_units.get(type(leaves[0]))
        if one is not None:  # a NumPy real floating scalar: nothing more to check
            return one
    return _unit_cotangent(_check_scalar_output(leaves, tree, name, holomorphic).dtype)


_unit_cotangents: dict[np.dtype, np.ndarray] = {}


def _unit_cotangent(dtype: np.dtype) -> np.ndarray:
    """The cotangent 1 of a scalar output, one read-only array per dtype (the backward
    pass never writes into its inputs; read-only makes sure of it)."""
    one = _unit_cotangents.get(dtype)
    if one is None:
        one = _unit_cotangents[dtype] = np.ones((), dtype)
        one.flags.writeable = False
    return one


#: per NumPy real floating scalar type: the unit cotangent of its dtype
_real_scalar_units = {t: _unit_cotangent(np.dtype(t))
                      for t in (np.float16, np.float32, np.float64, np.longdouble)}


def grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
         allow_int: bool = False, holomorphic: bool = False) -> Callable[..., Any]:
    """The gradient of scalar-valued `fun` with respect to argument(s) `argnums`,
    as ``jax.grad``. With `holomorphic`, the complex derivative of a complex
    function of complex inputs."""
    return _gradient_function(fun, argnums, has_aux, allow_int, holomorphic, with_value=False)


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


def _check_complex_inputs(flat: list[Any], name: str) -> None:
    for leaf in flat:
        aval = get_aval(leaf)
        if not np.issubdtype(aval.dtype, np.complexfloating):
            raise TypeError(f"grad of {name} with holomorphic=True requires complex inputs, "
                            f"but an input has dtype {aval.dtype} (shape {aval.shape}). Cast "
                            "it with .astype(complex), or drop holomorphic=True.")


def _check_scalar_output(leaves: list[Any], tree: PyTreeDef, name: str,
                         holomorphic: bool = False) -> ShapedArray:
    if len(leaves) != 1:
        raise TypeError(f"grad of {name} requires a scalar output, but the function returned "
                        f"a pytree {tree} with {len(leaves)} leaves. Use vjp or jacrev for "
                        "functions with several outputs (or has_aux=True to return extra "
                        "values).")
    aval = leaf_avals(leaves)[0]
    if aval.shape != ():
        raise TypeError(f"grad of {name} requires a scalar output, but the output has shape "
                        f"{aval.shape}. Reduce it to a scalar (e.g. with .sum()), or use "
                        "vjp or jacrev for non-scalar outputs.")
    if not dtypes.is_float(aval.dtype):
        raise TypeError(f"grad of {name} requires a real-valued floating output, but the "
                        f"output has dtype {aval.dtype}.")
    is_complex = aval.dtype.kind == "c"
    if holomorphic and not is_complex:
        raise TypeError(f"grad of {name} with holomorphic=True requires a complex output, "
                        f"but the output has dtype {aval.dtype}.")
    if is_complex and not holomorphic:
        raise TypeError(f"grad of {name} requires a real-valued output, but the output is "
                        f"complex ({aval.dtype}). For holomorphic differentiation pass "
                        "holomorphic=True; for non-holomorphic functions with complex "
                        "outputs use vjp.")
    return aval


def linear_transpose(fun: Callable[..., Any], *primals: Any) -> Callable[..., Any]:
    """The transpose of the linear function `fun`, at arguments shaped like
    `primals`, as ``jax.linear_transpose``: `fun` is traced with its arguments
    unknown, checked to be linear in them, and its jaxpr transposed once."""
    name = fun_name(fun)
    fname = f"linear_transpose of {name}"
    flat, in_tree = flatten_args(primals, None, fname)
    flat_fun = FlatFun(fun, in_tree, name)
    in_avals = [get_aval(x).strip_weak_type() for x in flat]
    closed = _trace_linear_part(flat_fun, in_avals, name)
    _check_linear(closed.jaxpr, in_tree, fname)
    out_tree = flat_fun.out_tree
    out_avals = closed.out_avals
    backward = _transpose_jaxpr(closed, fname)

    def transposed(*cts: Any) -> tuple[Any, ...]:
        ct = cts[0] if len(cts) == 1 else cts
        flat_ct, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise TypeError(f"{fname}: cotangent structure {ct_tree} does not match the "
                            f"output structure {out_tree}")
        checked = [_check_cotangent(c, a, fname, i)
                   for i, (c, a) in enumerate(zip(flat_ct, out_avals))]
        float_cts = [_instantiate_like(c, a)
                     for c, a in zip(checked, out_avals) if dtypes.is_float(a.dtype)]
        float_outs = iter(eval_jaxpr(backward.jaxpr, backward.consts, *float_cts))
        cts_in = [next(float_outs) if dtypes.is_float(a.dtype) else _instantiate_like(Zero(a), a)
                  for a in in_avals]
        # a constant of the transposed jaxpr may come back as is: it must not be shared
        owned = outputs(cts_in, list(flat_ct) + list(backward.consts))
        args, _ = tree_unflatten(in_tree, owned)
        return args

    return transposed


def _trace_linear_part(flat_fun: FlatFun, in_avals: list[ShapedArray], name: str
                       ) -> ClosedJaxpr:
    """The jaxpr of what `flat_fun` computes from its arguments, all unknown (as
    JAX's linear_transpose traces): what needs none of them runs now and becomes
    constants, higher-order primitives are split the same way (a loop counter
    runs now), and calls (jit) are inlined so that the check sees every equation."""
    trace = JaxprTrace(core_trace.get_current_trace(), stage_all=False, name=name,
                       purpose="linear_transpose")
    in_tracers = [trace.new_arg(a) for a in in_avals]
    with core_trace.gc_paused(), core_trace.new_trace(trace), np.errstate(all="ignore"):
        outs = flat_fun(*in_tracers)
    return inline_calls(trace.to_jaxpr(in_tracers, outs))


# Primitives linear in each operand separately (a product): at most one operand may
# depend on the arguments.
# Primitives linear in one operand only (div's numerator, scatter_mul's operand): its
# position.
_LINEAR_OPERAND = {elementwise.div_p: 0, indexing.scatter_mul_p: 0}


def _check_linear(jaxpr: Jaxpr, in_tree: PyTreeDef, fname: str) -> None:
    """Raise a TypeError at the first equation that is not linear in the values
    computed from the arguments (the invars); the others are constants."""
    source: dict[Var, int] = {v: i for i, v in enumerate(jaxpr.invars)}  # -> argument
    for eqn in jaxpr.eqns:
        depends = [type(v) is Var and v in source for v in eqn.invars]
        if not any(depends):
            continue
        arg = source[next(v for v, d in zip(eqn.invars, depends) if d)]
        problem = _nonlinearity(eqn, depends)
        if problem is not None:
            raise TypeError(
                f"{fname}: Linearity check failed: {problem} (applied to a value computed "
                f"from the argument {argument_name(in_tree, arg)}). linear_transpose "
                "needs a function linear in all its arguments: sums, negation, products "
                "and quotients with constants, dot products with constants, reshapes, "
                "indexing with constant indices, sums over axes. Close over arguments it "
                "is not linear in (functools.partial), or use vjp for the transpose of "
                "the derivative of a non-linear function.")
        source.update((v, arg) for v in eqn.outvars)


def _nonlinearity(eqn: JaxprEqn, depends: Sequence[bool]) -> str | None:
    """Why `eqn` is not linear in its operands marked in `depends`, or None."""
    prim = eqn.primitive
    for v, d in zip(eqn.invars, depends):
        if d and not dtypes.is_float(v.aval.dtype):
            return (f"'{prim}' reads an operand of type {v.aval.str_short()}, and integer "
                    "or boolean values are not linear quantities")
    if prim.transpose is None:
        return f"'{prim}' is not linear: it has no transpose rule"
    if prim.bilinear and sum(depends) > 1:
        return f"'{prim}' multiplies two values that both depend on the arguments"
    position = _LINEAR_OPERAND.get(prim)
    if position is not None:
        for i, d in enumerate(depends):
            if d and i != position:
                return (f"'{prim}' is linear only in its operand {position}, and its "
                        f"operand {i} depends on the arguments")
    elif not (prim.linear or _has_jaxpr_param(eqn)):
        return f"'{prim}' is not linear"
    out = eqn.outvars[0].aval
    if not prim.multiple_results and not dtypes.is_float(out.dtype):
        return (f"'{prim}' gives a {out.str_short()} result, and integer or boolean "
                "values are not linear quantities")
    return None


def _has_jaxpr_param(eqn: JaxprEqn) -> bool:
    """Higher-order primitives (cond, scan, checkpoint) with a transpose rule: their
    rule transposes their jaxprs, which fails on a non-linear body."""
    return any(isinstance(p, ClosedJaxpr) or (isinstance(p, tuple) and p
                                               and isinstance(p[0], ClosedJaxpr))
               for p in eqn.params.values())


def _transpose_jaxpr(closed: ClosedJaxpr, fname: str) -> ClosedJaxpr:
    """The jaxpr (cotangents of the float outputs) -> (cotangents of the float
    inputs) of the linear `closed`, its inputs taken as linear."""
    in_avals, out_avals = closed.in_avals, closed.out_avals
    float_out_avals = [a for a in out_avals if dtypes.is_float(a.dtype)]

    def backward(*float_cts: Any) -> list[Any]:
        it = iter(float_cts)
        cts = [next(it) if dtypes.is_float(a.dtype) else Zero(a.to_tangent_aval())
               for a in out_avals]
        with np.errstate(all="ignore"):
            cts_in = backward_pass(closed.jaxpr, closed.consts,
                                   [UndefinedPrimal(a) for a in in_avals], cts)
        return [instantiate_zeros(c) for c, a in zip(cts_in, in_avals)
                if dtypes.is_float(a.dtype)]

    try:
        return trace_to_jaxpr(backward, float_out_avals, fname, "linear_transpose")
    except TypeError as e:  # a transpose rule met a non-linear use (inside a cond...)
        raise TypeError(f"{fname}: Linearity check failed while transposing: {e}") from e
