"""Eager reverse mode on a tape: the fast path of ``grad``, ``value_and_grad`` and ``vjp``.

Called with concrete arguments outside every transformation, reverse mode needs no
linear jaxpr. The tape trace runs each primitive's *forward function* on the
primal values, which returns the outputs and the residuals its backward pass
needs, and appends one entry (rule, residuals, which values went in and came out)
to a flat list; the backward pass walks that list in reverse, calling each
entry's *backward function* on its residuals and output cotangents.

Both functions are derived, never written by hand: linearize the primitive's JVP
rule at abstract operands (the known part is the forward function, the recorded
linear part its tangent map) and transpose the linear part (the backward
function). A derivation is made once per (primitive, parameters, operand avals,
which operands are traced), kept in a bounded cache: a signature's first application
takes the general path below, its second derives the rule (and interprets it), its
third on runs the rule compiled to NumPy code. So the JVP and transpose rules stay
the only source of derivatives, and the per-primitive cost is one call of generated
code forward and one backward.

The backward pass walks the entries in reverse. A tape whose structure was met
before (the same function differentiated again, as in a training loop) runs one
fused backward function instead: every entry's backward function inlined,
optimised together and compiled (:class:`_Plan`).

A primitive whose derivation cannot be made from avals alone (a custom_jvp or
custom_vjp call, whose rules run on the concrete values; parameters that cannot
be hashed; a rule that needs concrete values) is linearized on its concrete
operands by the general path (:func:`linearize_flat`) instead, and its entry
transposes that linear jaxpr. Inside any other transformation, ``grad`` and
``vjp`` take the general path: see :func:`applies`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans import dtypes
from functrans.compile.codegen import generate
from functrans.compile.passes import optimize
from functrans.config import config
from functrans.core import trace as core_trace
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.backend import NUMPY_TYPES, is_numpy_value
from functrans.core.ir import ClosedJaxpr, Jaxpr, Var, dce_jaxpr, eval_jaxpr
from functrans.core.trace import Trace, Tracer, check_alive, get_current_trace
from functrans.core.zeros import UndefinedPrimal, Zero
from functrans.primitives import elementwise as ew
from functrans.primitives.tangent_space import add_any_p
from functrans.transforms.linearize import LinearFunction, linearize_flat
from functrans.transforms.staging import trace_to_jaxpr
from functrans.transforms.transpose import backward_pass

__all__ = ["applies", "one_entry", "record", "Tape", "TapeTrace", "TapeTracer"]

#: derived rules kept (oldest dropped first): one per primitive application site
#: signature, so a program reuses a few dozen; the bound only caps pathological use
_MAX_RULES = 4096


def applies(flat_args: Sequence[Any]) -> bool:
    """Whether reverse mode of a call with these flat arguments may use the tape:
    it is on, nothing is being traced around the call, and every argument is a NumPy
    value (the derived rules are NumPy code; other libraries' arrays, see
    :mod:`functrans.core.backend`, take the general path)."""
    if not config.eager_tape or core_trace.get_current_trace() is not core_trace.eval_trace:
        return False
    return NUMPY_TYPES.issuperset(map(type, flat_args)) or all(
        is_numpy_value(x) for x in flat_args)  # subclasses (np.memmap...) too


class TapeTracer(Tracer):
    """A concrete value the tape differentiates; `index` names it on the tape and
    `key` describes it in the signatures of the primitives applied to it."""

    __slots__ = ("primal", "index", "key", "aval")

    def __init__(self, trace: TapeTrace, primal: Any, index: int, key: Any,
                 aval: ShapedArray):
        self._trace = trace
        self.primal = primal
        self.index = index
        self.key = key
        self.aval = aval

    def to_concrete(self, context: str) -> Any:
        return self.primal


class TapeTrace(Trace):
    """Runs primitives on primal values and records one tape entry per application."""

    differentiates = True
    transformation = "differentiation"

    def __init__(self, parent: Trace):
        self.parent = parent
        #: per entry: its rule, and (residuals, indices of the traced operands, indices
        #: of the traced outputs). Kept apart so that an entry holds only arrays and
        #: ints: the garbage collector then stops tracking it, and a long tape adds no
        #: objects for its full collections to walk (each of which walks every object
        #: of the process)
        self.rules: list[Any] = []
        self.entries: list[tuple[tuple, tuple[int, ...], tuple[int, ...]]] = []
        self.num_values = 0
        #: each entry's rule and traced operands, flat: with the outputs, what the
        #: backward pass does, so a tape recorded again finds its fused backward
        #: function (see :class:`_Plan`); None once a general-path entry makes the
        #: tape one of a kind
        self.structure: list[Any] | None = []

    def describe(self) -> str:
        return "grad"

    def process_primitive(self, primitive, args, params):
        # Fast paths for the common unary and binary applications of a signature whose
        # rule is derived: one lookup, then the rule. Anything else takes the loop below.
        try:
            pkey = tuple(params.items()) if params else ()
            if len(args) == 1:
                x = args[0]
                if type(x) is TapeTracer and x._trace is self:
                    sig = (primitive, pkey, x.key)
                    rule = _rules.get(sig) or _call_rules.get(sig)
                    if type(rule) is _DerivedRule:
                        return rule.record(self, (x.primal,), (x.index,))
            elif len(args) == 2:
                x, y = args
                if type(x) is TapeTracer and x._trace is self:
                    if type(y) is TapeTracer and y._trace is self:
                        rule = _rules.get((primitive, pkey, x.key, y.key))
                        if type(rule) is _DerivedRule:
                            return rule.record(self, (x.primal, y.primal), (x.index, y.index))
                    elif type(y) in _CONSTANT_TYPES:
                        rule = _rules.get((primitive, pkey, x.key, _operand_key(y, False)))
                        if type(rule) is _DerivedRule:
                            return rule.record(self, (x.primal, y), (x.index,))
                elif type(x) in _CONSTANT_TYPES and type(y) is TapeTracer and y._trace is self:
                    rule = _rules.get((primitive, pkey, _operand_key(x, False), y.key))
                    if type(rule) is _DerivedRule:
                        return rule.record(self, (x, y.primal), (y.index,))
        except TypeError:  # unhashable parameters: the general path says so
            pass
        operands, traced_in = [], []
        key = [primitive, tuple(params.items()) if params else ()]
        for x in args:
            if type(x) is TapeTracer and x._trace is self:
                operands.append(x.primal)
                traced_in.append(x.index)
                key.append(x.key)
            else:
                if isinstance(x, Tracer):
                    check_alive(x, f"as an argument of '{primitive.name}' inside grad")
                operands.append(x)
                key.append(_operand_key(x, False))
        if not traced_in:
            return self.parent.process_primitive(primitive, tuple(operands), params)
        traced_in = tuple(traced_in)
        try:
            signature = tuple(key)
            rule = _cache_of(primitive, params).get(signature, _UNSEEN)
        except TypeError:  # unhashable parameters or operands
            signature = rule = None
        if type(rule) is _DerivedRule:
            return rule.record(self, operands, traced_in)
        traced = [type(x) is TapeTracer and x._trace is self for x in args]
        rule = _rule_for(rule, signature, primitive, params, operands, traced)
        if rule is not None:
            return rule.record(self, operands, traced_in)
        rule = _ConcreteRule(primitive, params, traced, self.parent)
        self.structure = None  # an entry of its own kind: the tape has no fused backward
        outs, residuals = rule.forward(operands)
        return self.record_entry(rule, outs, residuals, traced_in)

    def apply_function(self, fn: Callable[..., Any], args: tuple, kwargs: dict,
                       n_operands: int, keywords: bool = False, static_scalars: bool = False
                       ) -> Any:
        """``fn(*args, **kwargs)`` as one tape entry, its rule derived from `fn` itself
        (see :func:`one_entry`), or NOT_RECORDED: `fn` then runs primitive by primitive.

        The tracers of this trace, and NumPy arrays among the first `n_operands`
        arguments or among the items of a tuple or list there, are operands, keyed by
        shape and dtype as a primitive's are. Everything else is static, keyed by
        value (`_static_key`): Python scalars, axes, flags, so `fn` sees them exactly
        as it would called directly. With `keywords`, arrays and tracers passed by
        keyword are operands too."""
        key: list[Any] = [fn]
        operands, traced, traced_in, positions = [], [], [], []
        by_type = not static_scalars and fn in _scalars_by_type
        valued = False  # a Python scalar operand keyed by its value
        for k, x in enumerate(args):
            t = type(x)
            if t is TapeTracer and x._trace is self:
                key.append(x.key)
                operands.append(x.primal)
                traced.append(True)
                traced_in.append(x.index)
            elif k < n_operands and (t is np.ndarray or isinstance(x, np.generic)):
                key.append((x.shape, x.dtype, False))
                operands.append(x)
                traced.append(False)
            elif k < n_operands and t in _SCALAR_TYPES and by_type:
                key.append((t, _WEAK))
                operands.append(x)
                traced.append(False)
            elif k < n_operands and (t is tuple or t is list):  # operands among its items
                part: list[Any] = [t]
                for j, item in enumerate(x):
                    if type(item) is TapeTracer and item._trace is self:
                        part.append(item.key)
                        operands.append(item.primal)
                        traced.append(True)
                        traced_in.append(item.index)
                    elif type(item) is np.ndarray or isinstance(item, np.generic):
                        part.append((item.shape, item.dtype, False))
                        operands.append(item)
                        traced.append(False)
                    elif type(item) in _SCALAR_TYPES and by_type:
                        part.append((type(item), _WEAK))
                        operands.append(item)
                        traced.append(False)
                    else:
                        part.append(_static_key(item))
                        valued = valued or type(item) in _SCALAR_TYPES
                        continue
                    positions.append((k, j))
                key.append(tuple(part))
                continue
            else:
                key.append(_static_key(x))
                valued = valued or (k < n_operands and t in _SCALAR_TYPES)
                continue
            positions.append(k)
        for name, value in kwargs.items():
            if keywords and ((type(value) is TapeTracer and value._trace is self)
                             or type(value) is np.ndarray or isinstance(value, np.generic)
                             or (type(value) in _SCALAR_TYPES and by_type)):
                if type(value) is TapeTracer:
                    key.append((name, value.key))
                    operands.append(value.primal)
                    traced.append(True)
                    traced_in.append(value.index)
                else:
                    key.append((name, (type(value), _WEAK) if type(value) in _SCALAR_TYPES
                                else (value.shape, value.dtype, False)))
                    operands.append(value)
                    traced.append(False)
                positions.append(name)
            else:
                key.append((name, _static_key(value)))
                valued = valued or (keywords and type(value) in _SCALAR_TYPES)
        if not traced_in:
            return NOT_RECORDED
        traced_in = tuple(traced_in)
        try:
            signature = tuple(key)
            rule = _rules.get(signature, _UNSEEN)
        except TypeError:  # an argument of another kind: not recorded whole
            return NOT_RECORDED
        if type(rule) is not _DerivedRule:
            if rule is None:
                return NOT_RECORDED
            if rule is _UNSEEN and valued and not static_scalars:
                _count_scalar_values(fn)
            rule = _second_sight(_rules, signature, rule, lambda: _derive(
                _function_of_operands(fn, args, kwargs, positions),
                getattr(fn, "__name__", "fn"), False, operands, traced))
            if rule is None:
                return NOT_RECORDED
        return rule.record(self, operands, traced_in)

    def apply_short(self, fn: Callable[..., Any], args: tuple, n_operands: int,
                    static_scalars: bool = False) -> Any:
        """`apply_function` of one or two positional arguments, with one lookup where
        they are of the common kinds (a tracer of this trace, with a tracer, a NumPy
        array operand or a Python scalar, either way round) and their rule is derived."""
        try:
            if len(args) == 1:
                x, = args
                if type(x) is TapeTracer and x._trace is self:
                    rule = _rules.get((fn, x.key))
                    if type(rule) is _DerivedRule:
                        return rule.record(self, (x.primal,), (x.index,))
                return self.apply_function(fn, args, {}, n_operands, False, static_scalars)
            x, y = args
            dynamic = not static_scalars and fn in _scalars_by_type
            dynamic_y = dynamic and n_operands >= 2
            tx, ty = type(x), type(y)
            if tx is TapeTracer and x._trace is self:
                if ty is TapeTracer and y._trace is self:
                    rule = _rules.get((fn, x.key, y.key))
                    if type(rule) is _DerivedRule:
                        return rule.record(self, (x.primal, y.primal), (x.index, y.index))
                elif ty is np.ndarray and n_operands >= 2:
                    rule = _rules.get((fn, x.key, (y.shape, y.dtype, False)))
                    if type(rule) is _DerivedRule:
                        return rule.record(self, (x.primal, y), (x.index,))
                elif (ty is int or ty is float) and dynamic_y:
                    rule = _rules.get((fn, x.key, (ty, _WEAK)))
                    if type(rule) is _DerivedRule:
                        return rule.record(self, (x.primal, y), (x.index,))
                elif ty is int or ty is float:
                    rule = _rules.get((fn, x.key, _scalar_key(ty, y)))
                    if type(rule) is _DerivedRule:
                        return rule.record(self, (x.primal,), (x.index,))
            elif ty is TapeTracer and y._trace is self:
                if tx is np.ndarray:
                    rule = _rules.get((fn, (x.shape, x.dtype, False), y.key))
                    if type(rule) is _DerivedRule:
                        return rule.record(self, (x, y.primal), (y.index,))
                elif (tx is int or tx is float) and dynamic:
                    rule = _rules.get((fn, (tx, _WEAK), y.key))
                    if type(rule) is _DerivedRule:
                        return rule.record(self, (x, y.primal), (y.index,))
                elif tx is int or tx is float:
                    rule = _rules.get((fn, _scalar_key(tx, x), y.key))
                    if type(rule) is _DerivedRule:
                        return rule.record(self, (y.primal,), (y.index,))
        except TypeError:  # an operand of another kind (an ndarray subclass)
            return NOT_RECORDED
        return self.apply_function(fn, args, {}, n_operands, False, static_scalars)

    def record_entry(self, rule: Any, outs: list[Any], residuals: tuple,
                     traced_in: tuple[int, ...]
                     ) -> Any:
        """Trace the outputs that have tangents; append the entry if there are any."""
        traced_out = []
        for k, aval, value_key in rule.traced_outputs:
            index = self.num_values
            self.num_values = index + 1
            outs[k] = TapeTracer(self, outs[k], index, value_key, aval)
            traced_out.append(index)
        if traced_out:
            self.rules.append(rule)
            self.entries.append((residuals, traced_in, tuple(traced_out)))
            structure = self.structure
            if structure is not None:
                structure.append(rule)
                structure += traced_in
        return outs if rule.multiple_results else outs[0]


# ---------------------------------------------------------------- rules


#: constants the fast paths key by value type (see :func:`_operand_key`)
_CONSTANT_TYPES = frozenset({np.ndarray, float, int, np.float64, np.float32})


def _operand_key(x: Any, traced: bool) -> Any:
    t = type(x)
    if t is np.ndarray or isinstance(x, np.generic):
        return (x.shape, x.dtype, traced)
    if t in (float, int, bool, complex):
        return (t, traced)  # a Python scalar: weakly typed
    return _UNHASHABLE  # anything else (another array type): no derivation of its own


#: Python scalars. Among a function entry's operands they are keyed by value, as
#: static arguments: the function then sees them as called directly, and its forward
#: function has them as constants (``x * 0.5`` is ``v0 = a0 * k``). A function that
#: meets more than _VALUES_PER_FUNCTION values so (a time step's ``t * x`` in a loop)
#: keys them by type from then on, as weakly-typed values (`_scalars_by_type`): a
#: program never derives a rule per value of a changing scalar. Functions whose
#: scalar operands must stay static (an order, an index) say so (`static_scalars`).
_SCALAR_TYPES = frozenset({int, float, complex, bool})
#: the key part of a scalar keyed by type: unlike any value's ((int, 0) == (int, False))
_WEAK = "weakly typed"
_VALUES_PER_FUNCTION = 32
_scalars_by_type: set[Any] = set()
_values_met: dict[Any, int] = {}


def _count_scalar_values(fn: Any) -> None:
    """Note a new signature of `fn` keyed by a scalar's value (see _SCALAR_TYPES)."""
    met = _values_met[fn] = _values_met.get(fn, 0) + 1
    if met > _VALUES_PER_FUNCTION:
        _scalars_by_type.add(fn)


#: the static argument types a function recorded as one entry is keyed by
_STATIC_TYPES = frozenset({int, bool, complex, str, type(None), type(Ellipsis), np.dtype,
                           np.int64, np.int32})


def _scalar_key(t: type, x: int | float) -> tuple:
    """`_static_key` of a Python int or float `x` of type `t`."""
    return (t, x) if t is int else (t, x, math.copysign(1.0, x))


def _static_key(x: Any) -> Any:
    """A static argument (a Python scalar, an axis, a flag, a dtype, an index of
    ints, slices, None and Ellipsis), as a key part:
    its type with its value (1, 1.0 and True are equal, and a key must not confuse
    them; nor 0.0 and -0.0); for a tuple, its items'; _UNHASHABLE for anything else."""
    t = type(x)
    if t is int or t is float:
        return _scalar_key(t, x)
    if t in _STATIC_TYPES:
        return (t, x) if t is not complex else (t, x, repr(x))
    if t is tuple:
        return tuple(map(_static_key, x))
    if t is slice:  # (not hashable before Python 3.12); bounds are ints or None
        bounds = (x.start, x.stop, x.step)
        return (t, *bounds) if _SLICE_BOUNDS.issuperset(map(type, bounds)) else _UNHASHABLE
    return _UNHASHABLE


_SLICE_BOUNDS = frozenset({int, type(None)})


#: a key part that cannot be hashed: the signature then fails to hash, and the
#: application takes the general path
_UNHASHABLE: list[Any] = []


#: per application signature: its derived rule, None where none can be derived, or
#: _SEEN_ONCE after its first application
_rules: dict[Any, Any] = {}
#: the same for higher-order primitives (jit, checkpoint, control flow), whose
#: signatures hold their jaxprs and so the constants those close over: a smaller bound,
#: so that a program making new jitted closures in a loop does not keep them all alive
_call_rules: dict[Any, Any] = {}
_MAX_CALL_RULES = 64
_UNSEEN, _SEEN_ONCE = object(), object()
#: per primitive: whether its parameters hold jaxprs
_higher_order: dict[Any, bool] = {}


def _cache_of(primitive: Any, params: dict) -> dict[Any, Any]:
    higher_order = _higher_order.get(primitive)
    if higher_order is None:
        higher_order = _higher_order[primitive] = primitive.call_jaxpr_param is not None or any(
            isinstance(item, (ClosedJaxpr, Jaxpr)) for value in params.values()
            for item in (value if type(value) is tuple else (value,)))
    return _call_rules if higher_order else _rules


def _rule_for(rule: Any, signature: tuple | None, primitive: Any, params: dict,
              operands: list[Any], traced: list[bool]) -> _DerivedRule | None:
    """The derived rule for an application whose signature has no derived rule yet
    (`rule` is what the cache holds), or None for the general path.

    A signature's first application takes the general path; its second derives
    the rule. Applications seen once (a custom rule's call, whose parameters are
    new objects each time; shapes a program meets once) cost no derivation."""
    if signature is None or rule is None:  # unhashable, or known not to be derivable
        return None
    if not _derivable(primitive, params):
        return None  # and not cached: a custom rule's parameters are new each call
    return _second_sight(_cache_of(primitive, params), signature, rule,
                         lambda: _derive(_bind_function(primitive, params), primitive.name,
                                         primitive.multiple_results, operands, traced))


def _second_sight(cache: dict[Any, Any], signature: tuple, rule: Any,
                  derive: Callable[[], _DerivedRule | None]) -> _DerivedRule | None:
    """Mark a signature seen (`rule` is _UNSEEN: None, the general path) or derive
    and keep its rule (`rule` is _SEEN_ONCE)."""
    if rule is _UNSEEN:
        if len(cache) >= (_MAX_RULES if cache is _rules else _MAX_CALL_RULES):
            del cache[next(iter(cache))]
        cache[signature] = _SEEN_ONCE
        return None
    rule = cache[signature] = derive()
    return rule


def _derivable(primitive: Any, params: dict) -> bool:
    if primitive.has_side_effect or primitive.jvp is None:
        return False  # side effects run once per application; no rule: the general error
    call_jaxpr = primitive.call_jaxpr_param
    # a custom rule's call without its function: the rule runs on the values
    return call_jaxpr is None or params.get(call_jaxpr) is not None


def _bind_function(primitive: Any, params: dict) -> Callable[..., list[Any]]:
    def apply(*operands: Any) -> list[Any]:
        out = primitive.bind(*operands, **params)
        return list(out) if primitive.multiple_results else [out]
    return apply


def _function_of_operands(fn: Callable[..., Any], args: tuple, kwargs: dict,
                          positions: list[Any]) -> Callable[..., list[Any]]:
    """``fn(*args, **kwargs)`` as a function of the arguments at `positions` (an
    argument's position, (position, item) for an item of a tuple or list argument,
    or a keyword), returning its one output (a list of it, as derived rules take it)."""
    def apply(*operands: Any) -> list[Any]:
        full = list(args)
        containers: dict[int, list[Any]] = {}
        keywords = dict(kwargs)
        for position, x in zip(positions, operands):
            if type(position) is int:
                full[position] = x
            elif type(position) is str:
                keywords[position] = x
            else:
                k, j = position
                items = containers.get(k)
                if items is None:
                    items = containers[k] = list(args[k])
                items[j] = x
        for k, items in containers.items():
            full[k] = type(args[k])(items)
        out = fn(*full, **keywords)
        if not isinstance(out, Tracer):
            raise TypeError(f"{fn}: a function the tape records whole returns one array")
        return [out]
    return apply


def _of_traced(apply: Callable[..., list[Any]], operands: Sequence[Any], traced: list[bool]
               ) -> Callable[..., list[Any]]:
    """`apply` as a function of the `traced` operands, the others fixed."""
    def apply_traced(*traced_operands: Any) -> list[Any]:
        it = iter(traced_operands)
        return apply(*[next(it) if t else x for x, t in zip(operands, traced)])
    return apply_traced


def _derive(apply: Callable[..., list[Any]], name: str, multiple_results: bool,
            operands: list[Any], traced: list[bool]) -> _DerivedRule | None:
    try:
        return _DerivedRule(apply, name, multiple_results, [get_aval(x) for x in operands],
                            traced)
    except Exception:  # noqa: BLE001 — e.g. a rule that needs concrete values: the
        return None  # general path runs it on them (and raises its own errors)


class _Compiled:
    """A jaxpr evaluated by interpretation on its first call and by generated code
    from its second: most derivations are reused many times, some never."""

    __slots__ = ("closed", "name", "fn")

    def __init__(self, closed: ClosedJaxpr, name: str):
        self.closed = closed
        self.name = name
        self.fn: Callable[..., list[Any]] = self._first_call

    def _first_call(self, *args: Any) -> list[Any]:
        self.fn = self._compile
        return self.interpret(*args)

    def interpret(self, *args: Any) -> list[Any]:
        """Evaluate by binding each primitive: for any values, tracers included."""
        return eval_jaxpr(self.closed.jaxpr, self.closed.consts, *args)

    def _compile(self, *args: Any) -> list[Any]:
        with core_trace.gc_paused():
            self.fn = generate(optimize(self.closed), self.name, copy_outputs=False).fn
        return self.fn(*args)


class _DerivedRule:
    """Forward and backward functions of one application signature: of a primitive,
    or of a function the tape records as one entry (see :func:`one_entry`);
    `apply` applies it to all operands and returns its outputs as a list."""

    def __init__(self, apply: Callable[..., list[Any]], name: str, multiple_results: bool,
                 avals: list[ShapedArray], traced: list[bool]):
        self.name = name
        linearized: list[LinearFunction] = []

        def known_part(*operands: Any) -> list[Any]:
            outs, linear = linearize_flat(_of_traced(apply, operands, traced),
                                          [x for x, t in zip(operands, traced) if t])
            linearized.append(linear)
            return outs + list(linear.jaxpr.consts)

        forward = trace_to_jaxpr(known_part, avals, name=self.name, purpose="linearize")
        self.linear = linear = linearized[0]
        self.num_outs = len(linear.out_nonzero)
        # a NumPy result's aval: never weakly typed (what get_aval of it says)
        out_avals = [ShapedArray(a.shape, a.dtype) for a in forward.out_avals[:self.num_outs]]
        self.traced_outputs = [(k, a, (a.shape, a.dtype, True))
                               for k, (a, nz) in enumerate(zip(out_avals, linear.out_nonzero))
                               if nz]
        forward_jaxpr, self.recompute = _save_less(forward, self.num_outs)
        self.residual_sources = _residual_sources(forward_jaxpr, self.num_outs)
        # the forward function returns the outputs, then the residuals: an operand or
        # output kept as a residual is returned as it is (no copy, no new array)
        self._forward = _Compiled(ClosedJaxpr(dce_jaxpr(forward_jaxpr), forward.consts),
                                  self.name + "_fwd")
        self.residual_avals = [v.aval for v in forward_jaxpr.outvars[self.num_outs:]]
        # the common case, recorded without loops: one output, traced
        self.multiple_results = multiple_results
        self.one_output = not self.multiple_results and len(self.traced_outputs) == 1
        _, self.out_aval, self.out_key = self.traced_outputs[0] if self.one_output else (
            None, None, None)
        linear.jaxpr.consts = []  # tracers of the finished derivation: only their avals count
        self._backward: dict[tuple[bool, ...], _Backward] = {}
        self._backward_one: _Backward | None = None

    def forward(self, operands: list[Any]) -> tuple[list[Any], tuple]:
        computed = self._forward.fn(*operands)
        return computed[:self.num_outs], tuple(computed[self.num_outs:])

    def record(self, trace: TapeTrace, operands: Sequence[Any], traced_in: tuple[int, ...]
               ) -> Any:
        """Apply the forward function and append the tape entry; the output(s), traced."""
        if not self.one_output:
            outs, residuals = self.forward(list(operands))
            return trace.record_entry(self, outs, residuals, traced_in)
        computed = self._forward.fn(*operands)
        index = trace.num_values
        trace.num_values = index + 1
        trace.rules.append(self)
        trace.entries.append((tuple(computed[1:]), traced_in, (index,)))
        structure = trace.structure
        if structure is not None:
            structure.append(self)
            structure += traced_in
        return TapeTracer(trace, computed[0], index, self.out_key, self.out_aval)

    def backward(self, residuals: tuple, cotangents: list[Any], traced: bool = False
                 ) -> list[Any]:
        """Cotangents of the traced operands (None where none flows) from those of the
        traced outputs (None where the output was not used). `traced` cotangents
        (a vjp function called under another transformation) are bound, not computed."""
        present = tuple(ct is not None for ct in cotangents)
        fn = self._backward.get(present)
        if fn is None:
            fn = self._backward[present] = _Backward(self, present)
        return fn(residuals, [ct for ct in cotangents if ct is not None], traced)

    def backward_one(self, residuals: tuple, cotangent: Any) -> list[Any]:
        """`backward` of a one-output primitive: the common case, kept short."""
        fn = self._backward_one
        if fn is None:
            fn = self._backward_one = self._backward[(True,)] = _Backward(self, (True,))
        cts = fn.fn.fn(*residuals, cotangent)
        return cts if fn.all_nonzero else fn.spread(cts)


#: arithmetic cheap enough to redo in the backward function rather than keep an array
_CHEAP = frozenset({ew.add_p, ew.sub_p, ew.mul_p, ew.neg_p, ew.square_p})


def _save_less(closed: ClosedJaxpr, num_outs: int) -> tuple[Jaxpr, ClosedJaxpr | None]:
    """Keep a primitive's outputs instead of residuals computed from them by cheap
    arithmetic.

    ``tanh``'s derivative is ``1 - y²`` of its output y, ``logistic``'s ``y (1 - y)``:
    the backward function recomputes such a residual from the output, which the tape
    usually holds anyway (the next primitive's operand), so the forward pass does no
    work for the backward one and the tape keeps no array of its own. Returns the
    forward jaxpr saving the new residuals, and the jaxpr computing the linear part's
    residuals from them (None: nothing moved)."""
    jaxpr = closed.jaxpr
    const_values = dict(zip(jaxpr.constvars, closed.consts))
    outputs = {v for v in jaxpr.outvars[:num_outs] if type(v) is Var}
    producer = {v: eqn for eqn in jaxpr.eqns for v in eqn.outvars}

    def chain(v: Any, found: list[Any], depth: int = 0) -> bool:
        """Whether `v` is cheap arithmetic of outputs and constants (its equations
        appended to `found`)."""
        if type(v) is not Var or v in outputs or v in const_values:
            return True
        eqn = producer.get(v)
        if (eqn is None or depth > 4 or eqn.primitive not in _CHEAP
                or any(type(a) is Var and a.aval.shape != v.aval.shape for a in eqn.invars)
                or not all(chain(a, found, depth + 1) for a in eqn.invars)):
            return False
        found.append(eqn)
        return True

    residuals = jaxpr.outvars[num_outs:]
    saved: dict[Any, None] = {}
    moved: set[int] = set()
    for r in residuals:
        found: list[Any] = []
        if type(r) is Var and r in producer and r not in outputs and chain(r, found):
            moved.update(id(eqn) for eqn in found)
        elif type(r) is Var:  # an operand, an output, a constant, or worth its memory
            saved[r] = None
    if not moved:
        return jaxpr, None
    eqns = [eqn for eqn in jaxpr.eqns if id(eqn) in moved]
    for eqn in eqns:  # the outputs the moved equations read: saved instead
        for a in eqn.invars:
            if type(a) is Var and a in outputs:
                saved[a] = None
    forward = Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars[:num_outs] + list(saved),
                    jaxpr.eqns)
    constvars = list({a: None for eqn in eqns for a in eqn.invars
                      if type(a) is Var and a in const_values})
    return forward, ClosedJaxpr(Jaxpr(constvars, list(saved), residuals, eqns),
                                [const_values[v] for v in constvars])


def _residual_sources(jaxpr: Jaxpr, num_outs: int) -> list[str]:
    """Where each residual of a forward jaxpr comes from: ``"operand k"``,
    ``"output k"`` (mul keeps its operands, exp its output: neither is a new array),
    or ``"computed"``."""
    sources = []
    for v in jaxpr.outvars[num_outs:]:
        if v in jaxpr.invars:
            sources.append(f"operand {jaxpr.invars.index(v)}")
        elif v in jaxpr.outvars[:num_outs]:
            sources.append(f"output {jaxpr.outvars.index(v)}")
        else:
            sources.append("computed")
    return sources


class _Backward:
    """The transposed linear part for one pattern of present output cotangents."""

    __slots__ = ("fn", "nonzero", "all_nonzero")

    def __init__(self, rule: _DerivedRule, present: tuple[bool, ...]):
        linear, recompute, name = rule.linear, rule.recompute, rule.name
        residual_avals = rule.residual_avals
        ct_avals = [a for a, nz in zip(linear.out_avals, linear.out_nonzero) if nz]
        nonzero: list[bool] = []
        n_res = len(residual_avals)

        def transposed(*args: Any) -> list[Any]:
            cts = iter(args[n_res:])
            cts_out = [next(cts) if p else Zero(a) for a, p in zip(ct_avals, present)]
            residuals = list(args[:n_res])
            if recompute is not None:
                residuals = eval_jaxpr(recompute.jaxpr, recompute.consts, *residuals)
            cts_in = backward_pass(linear.jaxpr.jaxpr, residuals,
                                   [UndefinedPrimal(a) for a in linear.in_avals], cts_out,
                                   all_linear=True)
            nonzero.extend(type(ct) is not Zero for ct in cts_in)
            return [ct for ct in cts_in if type(ct) is not Zero]

        in_avals = residual_avals + [a for a, p in zip(ct_avals, present) if p]
        closed = trace_to_jaxpr(transposed, in_avals, name=name + "_bwd", purpose="transpose")
        self.nonzero = nonzero
        self.all_nonzero = all(nonzero)
        self.fn = _Compiled(closed, name + "_bwd")

    def __call__(self, residuals: tuple, cotangents: list[Any], traced: bool = False
                 ) -> list[Any]:
        run = self.fn.interpret if traced else self.fn.fn
        cts = run(*residuals, *cotangents)
        return cts if self.all_nonzero else self.spread(cts)

    def spread(self, cts: list[Any]) -> list[Any]:
        """One entry per traced operand: None for those no cotangent reaches."""
        it = iter(cts)
        return [next(it) if nz else None for nz in self.nonzero]


class _ConcreteRule:
    """The general path for one application: linearized on its concrete operands (a
    custom rule runs here, on the values), its linear jaxpr transposed backwards."""

    def __init__(self, primitive: Any, params: dict, traced: list[bool], parent: Trace):
        self.primitive = primitive
        self.multiple_results = primitive.multiple_results
        self.params = params
        self.traced = traced
        self.parent = parent

    def forward(self, operands: list[Any]) -> tuple[list[Any], tuple]:
        traced = self.traced
        apply = _of_traced(_bind_function(self.primitive, self.params), operands, traced)
        token = core_trace.set_current_trace(self.parent)
        try:
            outs, linear = linearize_flat(apply, [x for x, t in zip(operands, traced) if t])
        finally:
            core_trace.reset_current_trace(token)
        self.traced_outputs = [(k, get_aval(outs[k]), _operand_key(outs[k], True))
                               for k, nz in enumerate(linear.out_nonzero) if nz]
        return outs, (linear,)

    def backward_one(self, residuals: tuple, cotangent: Any) -> list[Any]:
        return self.backward(residuals, [cotangent])

    def backward(self, residuals: tuple, cotangents: list[Any], traced: bool = False
                 ) -> list[Any]:
        linear: LinearFunction = residuals[0]
        cts = iter(cotangents)  # one per traced output
        cts_out = [_or_zero(next(cts), a) if nz else Zero(a)
                   for a, nz in zip(linear.out_avals, linear.out_nonzero)]
        cts_in = linear.transpose(cts_out)
        return [None if type(ct) is Zero else ct for ct in cts_in]


def _or_zero(ct: Any, aval: ShapedArray) -> Any:
    return Zero(aval) if ct is None else ct


# ---------------------------------------------------------------- recording


class Tape:
    """What recording a function gave: its tape, and which inputs and outputs are
    traced. ``transpose`` maps output cotangents to input cotangents, as
    :meth:`LinearFunction.transpose` does."""

    __slots__ = ("trace", "in_avals", "in_nonzero", "out_indices")

    def __init__(self, trace: TapeTrace, in_avals: list[ShapedArray], in_nonzero: list[bool],
                 out_indices: list[int]):
        self.trace = trace
        self.in_avals = in_avals  # of the primals
        self.in_nonzero = in_nonzero
        self.out_indices = out_indices

    @property
    def out_nonzero(self) -> list[bool]:
        return [i >= 0 for i in self.out_indices]

    @property
    def residuals(self) -> list[Any]:
        """The values the tape keeps from the forward pass (each once)."""
        kept: dict[int, Any] = {}
        for rule, (residuals, _, _) in zip(self.trace.rules, self.trace.entries):
            if type(rule) is _ConcreteRule:
                residuals = residuals[0].residuals
            for r in residuals:
                kept.setdefault(id(r), r)
        return list(kept.values())

    def first_outputs(self, n_keep: int) -> Tape:
        return Tape(self.trace, self.in_avals, self.in_nonzero, self.out_indices[:n_keep])

    def transpose(self, cts_out: Sequence[Any], consume: bool = False) -> list[Any]:
        """Cotangents of the inputs (``Zero`` where none flows). With `consume`, each
        entry (and its residuals) is released as the walk passes it, and the tape
        cannot be transposed again."""
        cts: dict[int, Any] = {}
        for index, ct in zip(self.out_indices, cts_out):
            if index >= 0 and type(ct) is not Zero:
                previous = cts.get(index)
                cts[index] = ct if previous is None else previous + ct
        rules, entries = self.trace.rules, self.trace.entries
        if entries:
            traced = core_trace.get_current_trace() is not core_trace.eval_trace
            for ct in cts_out:
                traced = traced or isinstance(ct, Tracer)
            plan = None if traced else self._plan(cts)
            if consume:
                self.trace.rules, self.trace.entries = [], []
            if plan is not None:
                return plan.run(entries, cts, self.in_avals)
            core_trace.quietly(_walk_backwards, (rules, entries, cts, consume, traced))
        return [cts[i] if nz and i in cts else Zero(a.to_tangent_aval())
                for i, (a, nz) in enumerate(zip(self.in_avals, self.in_nonzero))]


    def _plan(self, cts: dict[int, Any]) -> _Plan | None:
        """The fused backward function of this tape's structure with cotangents of
        the outputs `cts` holds, if one was made (see :class:`_Plan`)."""
        structure = self.trace.structure
        if structure is None:
            return None
        # rules hash by identity: one rule object per signature
        key = (tuple(structure), tuple(cts), len(self.in_avals))
        plan = _plans.get(key, _UNSEEN)
        if type(plan) is _Plan:
            return plan
        if plan is _UNSEEN:  # the first time: the walk; the second: a plan
            if len(_plans) >= _MAX_PLANS:
                del _plans[next(iter(_plans))]
            _plans[key] = _SEEN_ONCE
            return None
        if plan is _SEEN_ONCE:
            plan = _plans[key] = _Plan.make(self.trace.rules, self.trace.entries, list(cts),
                                            len(self.in_avals))
        return plan


#: fused backward functions, per tape structure (see :class:`_Plan`)
_plans: dict[Any, Any] = {}
_MAX_PLANS = 256
#: a fused backward function holds every residual until it returns, where the walk
#: releases each as it passes: fusion is for tapes of small arrays, whose cost is
#: the walk's Python (per entry ~1.5 µs), and only up to a size whose generated
#: code compiles quickly
_PLAN_MAX_RESIDUAL_BYTES = 1 << 24
_PLAN_MAX_ENTRIES = 2000


class _Plan:
    """One backward function for a whole tape: the entries' backward functions
    inlined in reverse with the additions of their cotangents, optimised together
    and compiled, for a tape structure met more than once (the same function
    differentiated again, say in a training loop). It computes what
    :func:`_walk_backwards` computes, without a Python step per entry."""

    __slots__ = ("fn", "inputs")

    def __init__(self, fn: Callable[..., list[Any]], inputs: list[int]):
        self.fn = fn
        self.inputs = inputs  # the input indices whose cotangents fn returns, in order

    @staticmethod
    def make(rules: list[Any], entries: list[Any], out_indices: list[int], num_inputs: int
             ) -> _Plan | None:
        """None where the tape is too big to fuse or an output is an input."""
        if (len(entries) > _PLAN_MAX_ENTRIES or not out_indices
                or min(out_indices) < num_inputs):
            return None
        residual_avals = [a for rule in rules for a in rule.residual_avals]
        size = sum(a.size * a.dtype.itemsize for a in residual_avals)
        if size > _PLAN_MAX_RESIDUAL_BYTES:
            return None
        out_avals = {}
        for rule, (_, _, traced_out) in zip(rules, entries):
            for index, (_, aval, _) in zip(traced_out, rule.traced_outputs):
                out_avals[index] = aval
        n_res = len(residual_avals)
        inputs: list[int] = []

        def backward(*args: Any) -> list[Any]:
            residuals = iter(args[:n_res])
            traced_entries = [(tuple(next(residuals) for _ in rule.residual_avals),
                               traced_in, traced_out)
                              for rule, (_, traced_in, traced_out) in zip(rules, entries)]
            cts = dict(zip(out_indices, args[n_res:]))
            _walk_backwards(rules, traced_entries, cts, False, True)
            inputs.extend(i for i in range(num_inputs) if i in cts)
            return [cts[i] for i in inputs]

        closed = trace_to_jaxpr(backward, residual_avals + [out_avals[i] for i in out_indices],
                                name="tape_bwd", purpose="transpose")
        with core_trace.gc_paused():
            fn = generate(optimize(closed), "tape_bwd", copy_outputs=False).fn
        return _Plan(fn, inputs)

    def run(self, entries: list[Any], cts: dict[int, Any], in_avals: list[ShapedArray]
            ) -> list[Any]:
        args = [r for entry in entries for r in entry[0]]
        args += cts.values()
        computed = core_trace.quietly(self.fn, args)
        if len(computed) == len(in_avals):  # a cotangent for every input, in order
            return computed
        by_input = dict(zip(self.inputs, computed))
        return [by_input[i] if i in by_input else Zero(a.to_tangent_aval())
                for i, a in enumerate(in_avals)]


def _walk_backwards(rules: list[Any], entries: list[Any], cts: dict[int, Any], consume: bool,
                    traced: bool) -> None:
    pop = cts.pop
    for k in range(len(entries) - 1, -1, -1):
        if consume:
            rule = rules.pop()
            residuals, traced_in, traced_out = entries.pop()
        else:
            rule = rules[k]
            residuals, traced_in, traced_out = entries[k]
        if len(traced_out) == 1 and not traced:
            ct = pop(traced_out[0], None)
            if ct is None:
                continue
            cts_in = rule.backward_one(residuals, ct)
            if len(traced_in) == 1:  # the common case: one cotangent to pass on
                index = traced_in[0]
                ct = cts_in[0]
                if ct is not None:
                    previous = cts.get(index)
                    cts[index] = ct if previous is None else previous + ct
                continue
        else:
            cts_out = [pop(i, None) for i in traced_out]
            if all(ct is None for ct in cts_out):
                continue
            cts_in = rule.backward(residuals, cts_out, traced)
        for index, ct in zip(traced_in, cts_in):
            if ct is not None:  # several uses of a value: their cotangents add up
                previous = cts.get(index)
                if previous is not None:
                    ct = add_any_p.bind(previous, ct) if traced else previous + ct
                cts[index] = ct


#: what :meth:`TapeTrace.apply_function` returns where it records nothing
NOT_RECORDED = object()


def one_entry(n_operands: int = 1, keywords: bool = False, static_scalars: bool = False
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a function of `n_operands` arrays (then static arguments; with
    `keywords`, arrays passed by keyword too) that returns one array, and that the
    tape should record as one entry: its forward and backward functions are derived
    from the function itself, as a primitive's are from its rules, so a
    ``functrans.numpy`` function of several primitives (``x + b`` with a broadcast,
    ``mean``) costs one lookup and one call of generated code each way. Elsewhere,
    and for arguments of other kinds, the function runs as it is."""
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def on_tape(*args: Any, **kwargs: Any) -> Any:
            trace = get_current_trace()
            if type(trace) is TapeTrace:
                if kwargs or len(args) > 2:
                    out = trace.apply_function(fn, args, kwargs, n_operands, keywords,
                                               static_scalars)
                else:
                    out = trace.apply_short(fn, args, n_operands, static_scalars)
                if out is not NOT_RECORDED:
                    return out
            return fn(*args, **kwargs)
        on_tape.one_entry = n_operands  # type: ignore[attr-defined]  (tests find them)
        return on_tape
    return decorate


def record(f: Callable[..., Sequence[Any]], primals: Sequence[Any],
           in_avals: list[ShapedArray] | None = None) -> tuple[list[Any], Tape]:
    """Evaluate `f` at `primals` (whose avals the caller may know), recording the tape
    of its reverse mode."""
    trace = TapeTrace(core_trace.get_current_trace())
    trace.num_values = len(primals)  # an input's index is its position
    if in_avals is None:
        in_avals = [get_aval(p) for p in primals]
    in_nonzero, in_tracers = [], []
    for i, (p, a) in enumerate(zip(primals, in_avals)):
        nonzero = dtypes.is_float(a.dtype)
        in_nonzero.append(nonzero)
        in_tracers.append(TapeTracer(trace, p, i, _operand_key(p, True), a) if nonzero else p)
    # no gc_paused: a tape's entries are untracked by the collector (see TapeTrace)
    outs = core_trace.run_in(trace, f, in_tracers)
    out_primals, out_indices = [], []
    for o in outs:
        if type(o) is TapeTracer and o._trace is trace:
            out_primals.append(o.primal)
            out_indices.append(o.index)
        else:
            out_primals.append(o)
            out_indices.append(-1)
    return out_primals, Tape(trace, in_avals, in_nonzero, out_indices)
