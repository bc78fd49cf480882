"""Optimisation passes on closed jaxprs, run by ``jit`` before code generation.

Each pass is one function ``ClosedJaxpr -> ClosedJaxpr`` that walks the
equations once, front to back (or back to front for DCE), with dictionaries
keyed by variable: linear in the number of equations and free of recursion, so
a 100,000-equation jaxpr optimises in well under a second per pass.

Most passes are *rewrites*: a rule looks at one equation (with its operands
already substituted) and either keeps it, or replaces its outputs with atoms
(variables defined earlier, or literals), possibly after emitting new
equations. :func:`_rewrite` is the shared driver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans.core import trace as core_trace
from functrans.core.avals import ShapedArray
from functrans.core.backend import is_numpy_value
from functrans.core.ir import (
    Atom,
    ClosedJaxpr,
    Jaxpr,
    JaxprEqn,
    Literal,
    Var,
    dce_jaxpr,
    has_side_effects,
)
from functrans.primitives import elementwise as ew
from functrans.primitives import reductions as red
from functrans.primitives import structural as st
from functrans.primitives.products import _free_dims, dot_general_p
from functrans.primitives.tangent_space import add_any_p

__all__ = ["optimize", "inline_calls", "dce", "cse", "fold_constants", "forward_noops",
           "simplify", "expand_integer_pow", "fold_transposes_into_dot", "PASSES"]

#: a rewrite rule: (equation, context) -> None to keep the equation, or the atoms
#: that replace its outputs (new equations go through ``ctx.emit``)
Rule = Callable[[JaxprEqn, "_Context"], "list[Atom] | None"]

#: constant folding never creates constants larger than this (elements)
FOLD_LIMIT = 4096


class _Context:
    """What a rewrite rule may look at: the producer of each variable, the known
    constant values, and a way to emit equations and constants."""

    def __init__(self, jaxpr: Jaxpr, consts: Sequence[Any]):
        self.eqns: list[JaxprEqn] = []
        self.producer: dict[Var, JaxprEqn] = {}
        self.constvars = list(jaxpr.constvars)
        self.consts = list(consts)
        self.const_value: dict[Var, Any] = dict(zip(jaxpr.constvars, consts))

    def emit(self, prim: Any, invars: list[Atom], params: dict[str, Any],
             aval: ShapedArray) -> Var:
        out = Var(aval)
        eqn = JaxprEqn(prim, invars, params, [out])
        self.eqns.append(eqn)
        self.producer[out] = eqn
        return out

    def new_const(self, value: Any) -> Atom:
        aval = ShapedArray(np.shape(value), np.asarray(value).dtype)
        if aval.shape == ():
            return Literal(np.asarray(value)[()], aval)
        var = Var(aval)
        self.constvars.append(var)
        self.consts.append(value)
        self.const_value[var] = value
        return var

    def value(self, atom: Atom) -> Any:
        """The concrete value of `atom` if it is a literal or a constant, else None."""
        if type(atom) is Literal:
            return atom.val
        return self.const_value.get(atom)

    def splat(self, atom: Atom) -> Any:
        """The scalar every element of `atom` equals, when known (a literal, a constant
        filled with one value, or a broadcast of one); else None."""
        while True:
            value = self.value(atom)
            if value is not None:
                arr = np.asarray(value)
                if arr.size == 0:
                    return None
                first = arr.flat[0]
                if arr.size <= FOLD_LIMIT and np.all(arr == first):
                    return first
                return None
            eqn = self.producer.get(atom)
            if eqn is None or eqn.primitive is not st.broadcast_in_dim_p:
                return None
            atom = eqn.invars[0]


def _subst(env: dict[Var, Atom], a: Atom) -> Atom:
    if type(a) is Var:
        return env.get(a, a)
    return a


def _rewrite(closed: ClosedJaxpr, rule: Rule) -> ClosedJaxpr:
    jaxpr = closed.jaxpr
    ctx = _Context(jaxpr, closed.consts)
    env: dict[Var, Atom] = {}
    for eqn in jaxpr.eqns:
        invars = [_subst(env, a) for a in eqn.invars]
        if any(a is not b for a, b in zip(invars, eqn.invars)):
            eqn = JaxprEqn(eqn.primitive, invars, eqn.params, eqn.outvars)
        replacement = rule(eqn, ctx)
        if replacement is None:
            ctx.eqns.append(eqn)
            for v in eqn.outvars:
                ctx.producer[v] = eqn
        else:
            env.update(zip(eqn.outvars, replacement))
    outvars = [_subst(env, a) for a in jaxpr.outvars]
    new = Jaxpr(ctx.constvars, jaxpr.invars, outvars, ctx.eqns)
    return ClosedJaxpr(new, ctx.consts)


def _same_aval(a: Atom, b: Atom) -> bool:
    return a.aval.shape == b.aval.shape and a.aval.dtype == b.aval.dtype


# ------------------------------------------------------------------ inlining

def inline_calls(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Replace each call-like equation (nested ``jit``, ``custom_jvp_call``,
    ``custom_vjp_call``: a primitive with a ``call_jaxpr_param``) by the equations of
    its jaxpr (with fresh variables), so the whole computation is one straight line.
    Calls inside the inlined bodies are expanded too, through an explicit work stack.
    Evaluation is all that is left at compile time, so custom rules have done their
    work."""
    jaxpr = closed.jaxpr
    if not any(e.primitive.call_jaxpr_param for e in jaxpr.eqns):
        return closed
    constvars, consts = list(jaxpr.constvars), list(closed.consts)
    eqns: list[JaxprEqn] = []
    top: dict[Var, Atom] = {}
    # frames: (equations left, renaming of the body's variables, the call's binders
    # in the caller, the caller's renaming, the body's outputs)
    stack: list[tuple[Any, dict[Var, Atom], list[Var], dict[Var, Atom], list[Atom]]] = [
        (iter(jaxpr.eqns), top, [], top, [])]
    while stack:
        it, env, call_outvars, caller_env, body_outs = stack[-1]
        eqn = next(it, None)
        if eqn is None:  # body done: the call's binders now name the body's outputs
            stack.pop()
            caller_env.update(zip(call_outvars, [_subst(env, a) for a in body_outs]))
            continue
        invars = [_subst(env, a) for a in eqn.invars]
        call_param = eqn.primitive.call_jaxpr_param
        if call_param is not None:
            inner: ClosedJaxpr = eqn.params[call_param]
            body = inner.jaxpr
            inner_env: dict[Var, Atom] = dict(zip(body.invars, invars))
            for v, c in zip(body.constvars, inner.consts):
                fresh = inner_env[v] = Var(v.aval)
                constvars.append(fresh)
                consts.append(c)
            stack.append((iter(body.eqns), inner_env, eqn.outvars, env, body.outvars))
            continue
        if env is top:
            outvars = eqn.outvars
        else:
            outvars = [Var(v.aval) for v in eqn.outvars]
            env.update(zip(eqn.outvars, outvars))
        eqns.append(JaxprEqn(eqn.primitive, invars, eqn.params, outvars))
    outs = [_subst(top, a) for a in jaxpr.outvars]
    return ClosedJaxpr(Jaxpr(constvars, jaxpr.invars, outs, eqns), consts)


# ------------------------------------------------------------------ DCE

def dce(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Drop equations whose outputs are unused and constants nobody reads."""
    jaxpr = dce_jaxpr(closed.jaxpr)
    read = {v for e in jaxpr.eqns for v in e.invars if type(v) is Var}
    read.update(v for v in jaxpr.outvars if type(v) is Var)
    used = [(v, c) for v, c in zip(jaxpr.constvars, closed.consts) if v in read]
    new = Jaxpr([v for v, _ in used], jaxpr.invars, jaxpr.outvars, jaxpr.eqns)
    return ClosedJaxpr(new, [c for _, c in used])


# ------------------------------------------------------------------ CSE

def _atom_key(a: Atom) -> Any:
    if type(a) is Literal:  # repr keeps -0.0 and 0.0 apart
        return ("literal", a.aval.dtype.str, repr(np.asarray(a.val).item()))
    return a


def cse(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Reuse the result of an earlier equation with the same primitive, operands and
    parameters (no primitive has side effects)."""
    return _rewrite(closed, _cse_rule())


def _cse_rule() -> Rule:
    seen: dict[Any, list[Var]] = {}

    def rule(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
        if has_side_effects(eqn):  # two prints print twice
            return None
        try:
            key = (eqn.primitive, tuple(_atom_key(a) for a in eqn.invars),
                   tuple(sorted(eqn.params.items())))
            earlier = seen.get(key)
        except TypeError:  # an unhashable parameter: keep the equation as it is
            return None
        if earlier is not None:
            return list(earlier)
        seen[key] = eqn.outvars
        return None

    return rule


# ------------------------------------------------------------------ constant folding

def _has_subjaxpr(params: dict[str, Any]) -> bool:
    for p in params.values():
        for x in (p if isinstance(p, (tuple, list)) else (p,)):
            if isinstance(x, (ClosedJaxpr, Jaxpr)):
                return True
    return False


def fold_constants(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Evaluate equations whose operands are all known (literals or constants) now,
    unless the result would be a large new constant (a broadcast of a scalar stays
    a cheap broadcast)."""
    return _rewrite(closed, _fold_rule)


def _fold_rule(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
    if not eqn.invars or _has_subjaxpr(eqn.params) or eqn.primitive.has_side_effect:
        return None  # a side effect happens when the program runs, not when it compiles
    values = [ctx.value(a) for a in eqn.invars]
    if any(v is None or not is_numpy_value(v) for v in values):
        return None  # unknown, or another library's constant: its impl is not NumPy's
    # no new constant larger than the largest operand (or than FOLD_LIMIT)
    limit = max([FOLD_LIMIT] + [np.size(v) for v in values])
    if any(int(np.prod(v.aval.shape, dtype=np.int64)) > limit for v in eqn.outvars):
        return None
    try:
        with core_trace.evaluating(), np.errstate(all="ignore"):
            out = eqn.primitive.impl(*values, **eqn.params)
    except Exception:  # leave errors to run time, where they are reported
        return None
    outs = out if eqn.primitive.multiple_results else [out]
    return [ctx.new_const(np.asarray(o, v.aval.dtype)) for o, v in zip(outs, eqn.outvars)]


# ------------------------------------------------------------------ no-op forwarding

def _is_noop(eqn: JaxprEqn) -> bool:
    prim, params = eqn.primitive, eqn.params
    x, out = eqn.invars[0] if eqn.invars else None, eqn.outvars[0] if eqn.outvars else None
    if x is None or out is None or not _same_aval(x, out):
        return False
    if prim in (st.reshape_p, st.broadcast_in_dim_p, st.squeeze_p, st.expand_dims_p,
                ew.convert_element_type_p, ew.stop_gradient_p):
        return True
    if prim is st.transpose_p:
        return tuple(params["permutation"]) == tuple(range(len(params["permutation"])))
    if prim in (red.reduce_sum_p, red.reduce_max_p, red.reduce_min_p):
        return not params["axes"]
    return False


def forward_noops(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Forward the operand of operations that return it unchanged: reshape to the
    same shape, convert to the same dtype, broadcast to the same shape, identity
    transposes, reductions over no axis, stop_gradient (evaluation only)."""
    return _rewrite(closed, _noop_rule)


def _noop_rule(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
    return [eqn.invars[0]] if _is_noop(eqn) else None


# ------------------------------------------------------------------ algebraic simplification

def _simplify_eqn(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
    prim = eqn.primitive
    rule = _SIMPLIFIERS.get(prim)
    return None if rule is None else rule(eqn, ctx)


def _is_splat(ctx: _Context, a: Atom, value: float) -> bool:
    s = ctx.splat(a)
    if s is None:
        return False
    try:
        return bool(s == value)
    except (TypeError, ValueError):
        return False


def _simplify_mul(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
    x, y = eqn.invars
    out = eqn.outvars[0]
    if _is_splat(ctx, y, 1) and _same_aval(x, out):
        return [x]
    if _is_splat(ctx, x, 1) and _same_aval(y, out):
        return [y]
    return None


def _simplify_add(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
    # x + (-0.0) is x exactly; x + 0.0 is not (-0.0 + 0.0 is +0.0)
    x, y = eqn.invars
    out = eqn.outvars[0]
    if _is_zero(ctx, y, negative=True) and _same_aval(x, out):
        return [x]
    if _is_zero(ctx, x, negative=True) and _same_aval(y, out):
        return [y]
    return None


def _simplify_sub(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
    # x - 0.0 is x exactly, sign of zero included; x - (-0.0) is not
    x, y = eqn.invars
    if _is_zero(ctx, y, negative=False) and _same_aval(x, eqn.outvars[0]):
        return [x]
    return None


def _is_zero(ctx: _Context, a: Atom, negative: bool) -> bool:
    """`a` is a splat of zero; of a float zero, with the sign bit `negative`."""
    if not _is_splat(ctx, a, 0):
        return False
    if a.aval.dtype.kind not in "fc":
        return True
    return bool(np.signbit(np.real(ctx.splat(a)))) == negative


def _simplify_div(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
    x, y = eqn.invars
    if _is_splat(ctx, y, 1) and _same_aval(x, eqn.outvars[0]):
        return [x]
    return None


def _simplify_neg(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
    inner = ctx.producer.get(eqn.invars[0])
    if inner is not None and inner.primitive is ew.neg_p:
        return [inner.invars[0]]
    return None


def _simplify_transpose(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
    inner = ctx.producer.get(eqn.invars[0])
    if inner is None or inner.primitive is not st.transpose_p:
        return None
    first, second = inner.params["permutation"], eqn.params["permutation"]
    combined = tuple(first[i] for i in second)
    source = inner.invars[0]
    if combined == tuple(range(len(combined))):
        return [source]
    return [ctx.emit(st.transpose_p, [source], dict(permutation=combined), eqn.outvars[0].aval)]


def _simplify_reduce_sum(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
    """sum(broadcast_in_dim(x)) over exactly the new axes is x times their size."""
    inner = ctx.producer.get(eqn.invars[0])
    if inner is None or inner.primitive is not st.broadcast_in_dim_p:
        return None
    x = inner.invars[0]
    out = eqn.outvars[0]
    bdims = inner.params["broadcast_dimensions"]
    shape = inner.params["shape"]
    new_axes = tuple(i for i in range(len(shape)) if i not in bdims)
    if tuple(sorted(eqn.params["axes"])) != new_axes or not _same_aval(x, out):
        return None
    count = int(np.prod([shape[i] for i in new_axes], dtype=np.int64))
    if count == 1:
        return [x]
    dtype = out.aval.dtype
    if dtype.kind not in "iufc":
        return None
    factor = Literal(np.asarray(count, dtype)[()], ShapedArray((), dtype))
    if out.aval.shape != ():
        factor = ctx.emit(st.broadcast_in_dim_p, [factor],
                          dict(shape=out.aval.shape, broadcast_dimensions=()), out.aval)
    return [ctx.emit(ew.mul_p, [x, factor], {}, out.aval)]


def _simplify_reshape(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
    """A reshape of a reshape reshapes the original (row-major order is kept)."""
    inner = ctx.producer.get(eqn.invars[0])
    if inner is None or inner.primitive is not st.reshape_p or inner.params["dimensions"]:
        return None
    source, out = inner.invars[0], eqn.outvars[0]
    if _same_aval(source, out):
        return [source]
    params = dict(new_sizes=tuple(out.aval.shape), dimensions=None)
    return [ctx.emit(st.reshape_p, [source], params, out.aval)]


_SIMPLIFIERS: dict[Any, Rule] = {
    st.reshape_p: _simplify_reshape,
    ew.mul_p: _simplify_mul,
    ew.add_p: _simplify_add,
    add_any_p: _simplify_add,
    ew.sub_p: _simplify_sub,
    ew.div_p: _simplify_div,
    ew.neg_p: _simplify_neg,
    st.transpose_p: _simplify_transpose,
    red.reduce_sum_p: _simplify_reduce_sum,
}


def simplify(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Algebraic identities that transposition leaves behind: multiply or divide by
    one, add zero (add and add_any), subtract zero, negate twice, transpose of a
    transpose, reshape of a reshape, a broadcast summed back over the axes it added."""
    return _rewrite(closed, _simplify_eqn)


# ------------------------------------------------------------------ integer_pow

#: larger exponents keep np.power (a multiplication chain would grow the code)
MAX_POW_EXPANSION = 16


def expand_integer_pow(closed: ClosedJaxpr) -> ClosedJaxpr:
    """``integer_pow(x, y)`` for 1 <= y <= 16 as multiplications (square-and-multiply);
    y == 0 as ones."""
    return _rewrite(closed, _integer_pow_rule)


def _integer_pow_rule(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
    if eqn.primitive is not ew.integer_pow_p:
        return None
    y = eqn.params["y"]
    x, out = eqn.invars[0], eqn.outvars[0]
    aval = out.aval
    if y == 0:
        one = Literal(np.asarray(1, aval.dtype)[()], ShapedArray((), aval.dtype))
        if aval.shape == ():
            return [one]
        return [ctx.emit(st.broadcast_in_dim_p, [one],
                         dict(shape=aval.shape, broadcast_dimensions=()), aval)]
    if not 1 <= y <= MAX_POW_EXPANSION:
        return None
    return [_power_by_squaring(ctx, x, y, aval)]


def _power_by_squaring(ctx: _Context, x: Atom, y: int, aval: ShapedArray) -> Atom:
    result: Atom | None = None
    base = x
    while True:
        if y & 1:
            result = base if result is None else ctx.emit(ew.mul_p, [result, base], {}, aval)
        y >>= 1
        if not y:
            return result
        base = ctx.emit(ew.mul_p, [base, base], {}, aval)


# ------------------------------------------------------------------ dot_general with transposes

def fold_transposes_into_dot(closed: ClosedJaxpr) -> ClosedJaxpr:
    """``dot_general(transpose(a), b)`` contracts `a` directly: the dimension numbers
    absorb the permutation (the code generator then hands BLAS a transposed view)."""
    return _rewrite(closed, _dot_rule(closed))


def _dot_rule(closed: ClosedJaxpr) -> Rule:
    def through(ctx: _Context, operand: Atom, contract: tuple, batch: tuple):
        inner = ctx.producer.get(operand)
        if inner is None or inner.primitive is not st.transpose_p:
            return None
        perm = inner.params["permutation"]
        free = _free_dims(len(perm), contract, batch)
        mapped_free = [perm[d] for d in free]
        if mapped_free != sorted(mapped_free):  # the output layout would change
            return None
        return (inner.invars[0], tuple(perm[d] for d in contract),
                tuple(perm[d] for d in batch))

    uses = _use_counts(closed.jaxpr)

    def swapped_product(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
        """transpose(dot_general(a, b)) that swaps the two free groups is
        dot_general(b, a): one contiguous result instead of a transposed view."""
        inner = ctx.producer.get(eqn.invars[0])
        if inner is None or inner.primitive is not dot_general_p or uses.get(
                eqn.invars[0]) != 1:
            return None
        (lc, rc), (lb, rb) = inner.params["dimension_numbers"]
        if lb:
            return None
        lhs, rhs = inner.invars
        n_left = lhs.aval.ndim - len(lc)
        n_right = rhs.aval.ndim - len(rc)
        swap = tuple(range(n_left, n_left + n_right)) + tuple(range(n_left))
        if tuple(eqn.params["permutation"]) != swap:
            return None
        params = dict(inner.params, dimension_numbers=((rc, lc), ((), ())))
        return [ctx.emit(dot_general_p, [rhs, lhs], params, eqn.outvars[0].aval)]

    def rule(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
        if eqn.primitive is st.transpose_p:
            return swapped_product(eqn, ctx)
        if eqn.primitive is not dot_general_p:
            return None
        (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
        lhs, rhs = eqn.invars
        new_l = through(ctx, lhs, lc, lb)
        new_r = through(ctx, rhs, rc, rb)
        if new_l is None and new_r is None:
            return None
        if new_l is not None:
            lhs, lc, lb = new_l
        if new_r is not None:
            rhs, rc, rb = new_r
        params = dict(eqn.params, dimension_numbers=((lc, rc), (lb, rb)))
        return [ctx.emit(dot_general_p, [lhs, rhs], params, eqn.outvars[0].aval)]

    return rule


def _use_counts(jaxpr: Jaxpr) -> dict[Var, int]:
    counts: dict[Var, int] = {}
    for eqn in jaxpr.eqns:
        for a in eqn.invars:
            if type(a) is Var:
                counts[a] = counts.get(a, 0) + 1
    for a in jaxpr.outvars:
        if type(a) is Var:
            counts[a] = counts.get(a, 0) + 1
    return counts


# ------------------------------------------------------------------ pipeline

PASSES: tuple[Callable[[ClosedJaxpr], ClosedJaxpr], ...] = (
    inline_calls, expand_integer_pow, forward_noops, fold_constants, simplify,
    fold_transposes_into_dot, cse, dce,
)


def optimize(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Every pass: inlining, then one walk applying, per equation, the first rule of
    no-op forwarding, constant folding, integer_pow expansion, simplification,
    transpose folding and CSE that rewrites it, then DCE."""
    closed = inline_calls(closed)
    rules = (_noop_rule, _fold_rule, _integer_pow_rule, _simplify_eqn, _dot_rule(closed),
             _cse_rule())

    def first_rule(eqn: JaxprEqn, ctx: _Context) -> list[Atom] | None:
        for rule in rules:
            replacement = rule(eqn, ctx)
            if replacement is not None:
                return replacement
        return None

    return dce(_rewrite(closed, first_rule))
