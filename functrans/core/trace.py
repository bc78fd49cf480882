"""Interpreters ("traces") and the values they carry ("tracers").

There is always exactly one *current* trace, held in a context variable (so
each thread and each asyncio task has its own). ``Primitive.bind`` hands the
primitive to the current trace. A transformation installs its trace as current
while it runs the user's function; each trace knows its *parent*, the trace
that was current when it was created, and evaluates the primal parts of its
work by binding in the parent. At the bottom sits the evaluation trace, which
runs the NumPy implementations.

A trace recognises its own tracers by identity (``tracer._trace is self``);
anything else is a constant from its point of view: a NumPy value, or a tracer
of an enclosing trace, which the parent will handle. This is JAX's "stackless"
design: no global stack of levels, so nested transformations cannot confuse
each other's perturbations.
"""

from __future__ import annotations

import contextvars
import gc
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from functrans import errors
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.backend import NUMPY_TYPES, foreign_backend
from functrans.core.backend import evaluate as evaluate_on_backend


class Trace:
    """Base class of interpreters. Subclasses implement ``process_primitive``."""

    parent: Trace | None = None
    alive: bool = True
    #: True for traces that record operations on constants too (jit, make_jaxpr)
    stages_constants: bool = False
    #: True for traces that differentiate their tracers with the primitives' JVP
    #: rules: custom_jvp/custom_vjp calls run their rules at once under them
    differentiates: bool = False

    def process_primitive(self, primitive: Any, args: tuple, params: dict) -> Any:
        raise TypeError(f"{type(self).__name__} must define process_primitive")

    def claims(self, primitive: Any, params: dict) -> bool:
        """Whether this trace must process an application of `primitive` even though
        none of its operands is traced (a vmap whose axis name a call's jaxpr uses)."""
        return False

    def is_ancestor_of(self, other: Trace) -> bool:
        t: Trace | None = other
        while t is not None:
            if t is self:
                return True
            t = t.parent
        return False

    def describe(self) -> str:
        return type(self).__name__


# NumPy floating-point warnings: transformations evaluate both sides of
# selects inside derivative rules (log(x) where x may be 0, then masked), so
# they run with NumPy's warnings silenced, as JAX never warns. Plain eager
# calls of functrans.numpy outside any transformation warn as NumPy does.


class EvalTrace(Trace):
    """Runs primitives with their NumPy implementations."""

    def describe(self) -> str:
        return "evaluation"

    def process_primitive(self, primitive, args, params):
        foreign = False
        for a in args:
            if type(a) in NUMPY_TYPES:
                continue
            if isinstance(a, Tracer):
                raise errors.UnexpectedTracerError(
                    a.describe(), f"as an argument of '{primitive.name}' outside any "
                    "transformation")
            foreign = foreign or foreign_backend(a) is not None
        if foreign:  # arrays of another library: evaluated with it (core/backend.py)
            return evaluate_on_backend(primitive, args, params)
        try:
            return primitive.impl(*args, **params)
        except Exception as numpy_error:
            explain_failure(primitive, args, params, numpy_error)
            raise


def claimed(trace: Trace, primitive: Any, params: dict) -> bool:
    """Whether `trace` or one of its ancestors claims an application of `primitive`
    whose operands are all constants (see :meth:`Trace.claims`)."""
    t: Trace | None = trace
    while t is not None:
        if t.claims(primitive, params):
            return True
        t = t.parent
    return False


def explain_failure(primitive: Any, args: tuple, params: dict, cause: Exception) -> None:
    """Raise the shape rule's error for operands a NumPy implementation rejected.

    The shape rule explains bad operands better than NumPy does; it only runs on
    this failure path, so evaluation pays nothing for it."""
    try:
        avals = [get_aval(a) for a in args]
    except TypeError:
        return
    try:
        primitive.abstract_eval(*avals, **params)
    except (TypeError, ValueError) as rule_error:
        raise rule_error from cause


eval_trace = EvalTrace()
_current_trace: contextvars.ContextVar[Trace] = contextvars.ContextVar(
    "functrans_current_trace", default=eval_trace)

#: the trace that ``Primitive.bind`` hands primitives to
get_current_trace = _current_trace.get
#: ``token = set_current_trace(trace)`` makes `trace` current until
#: ``reset_current_trace(token)``; the pair costs less than a ``with`` block, which
#: matters on the per-primitive paths of the interpreters
set_current_trace = _current_trace.set
reset_current_trace = _current_trace.reset


@contextmanager
def evaluating() -> Iterator[None]:
    """Make the evaluation trace current: nested primitives run with NumPy."""
    token = _current_trace.set(eval_trace)
    try:
        yield
    finally:
        _current_trace.reset(token)


def _ignore_all_fp_errors() -> tuple[Any, Any]:
    """NumPy's error state is a context variable; setting it to a prepared 'ignore
    all' value directly costs a tenth of entering ``np.errstate``. The variable is
    private to NumPy: where it is missing, ``quietly`` enters ``np.errstate``."""
    try:
        from numpy._core._ufunc_config import _extobj_contextvar as var
    except ImportError:
        return None, None
    with np.errstate(all="ignore"):
        return var, var.get()


_errstate_var, _ignore_all = _ignore_all_fp_errors()


def quietly(fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    """``fn(*args)`` with NumPy's floating-point warnings off (see EvalTrace: the
    transformations evaluate both sides of selects, as JAX never warns)."""
    if _errstate_var is None:
        with np.errstate(all="ignore"):
            return fn(*args)
    err_token = _errstate_var.set(_ignore_all)
    try:
        return fn(*args)
    finally:
        _errstate_var.reset(err_token)


def run_in(trace: Trace, fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    """``fn(*args)`` with `trace` current and NumPy's floating-point warnings off;
    afterwards the trace's tracers are dead. What each interpreter does with the user's
    function (``new_trace`` without a generator, which costs more per call)."""
    token = _current_trace.set(trace)
    try:
        return quietly(fn, args)
    finally:
        _current_trace.reset(token)
        trace.alive = False


@contextmanager
def new_trace(trace: Trace) -> Iterator[Trace]:
    """Make `trace` current for the duration; afterwards its tracers are dead."""
    token = _current_trace.set(trace)
    try:
        yield trace
    finally:
        _current_trace.reset(token)
        trace.alive = False


class Tracer:
    """A value being traced by `_trace`. Subclasses define ``aval``.

    The NumPy-style operators (``+``, ``@``, indexing, ``.sum()`` ...) are
    attached by :mod:`functrans.numpy`, which is the layer that knows them.
    """

    __slots__ = ("_trace", "__weakref__")
    __array_priority__ = 1000
    # __array_ufunc__ (NumPy's arithmetic on tracers, typed errors for its other
    # functions) is attached with the other NumPy-style methods

    _trace: Trace

    @property
    def aval(self) -> ShapedArray:
        raise TypeError(f"{type(self).__name__} must define aval")

    # -- what every array has
    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @property
    def ndim(self) -> int:
        return len(self.aval.shape)

    @property
    def size(self) -> int:
        return self.aval.size

    @property
    def weak_type(self) -> bool:
        return self.aval.weak_type

    def __len__(self) -> int:
        if not self.aval.shape:
            raise TypeError("len() of unsized object (a traced scalar)")
        return self.aval.shape[0]

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.aval.shape[0]))

    # -- conversion to concrete Python values
    def to_concrete(self, context: str) -> Any:
        """The concrete value behind this tracer, or raise ConcretizationTypeError."""
        check_alive(self, f"by {context}")
        raise errors.ConcretizationTypeError(self.describe(), self._trace_context())

    def _trace_context(self) -> str:
        return ""

    def __bool__(self) -> bool:
        try:
            return bool(self.to_concrete("bool"))
        except errors.ConcretizationTypeError as e:
            raise errors.TracerBoolConversionError(
                self.describe(), "It was used as a Python bool (an `if`, `while`, `and`, "
                "`or`, `not` or `bool()`). " + self._trace_context()) from e.__cause__

    def __int__(self) -> int:
        return int(self._concrete_for("int()"))

    def __float__(self) -> float:
        raise self.scalar_conversion_error("float()")

    def __complex__(self) -> complex:
        raise self.scalar_conversion_error("complex()")

    def scalar_conversion_error(self, what: str) -> errors.FunctransError:
        """The error for converting this value to a Python float or complex."""
        if not self._trace.alive:
            return errors.UnexpectedTracerError(self.describe(), f"by {what}")
        # JAX refuses float() of every tracer, even one whose value is known (under
        # grad): a Python number carries no derivative, so it would silently drop it
        return errors.ConcretizationTypeError(self.describe(), _scalar_conversion(what)
                                              + self._trace_context(), about_tracing=False)

    def __index__(self) -> int:
        return int(np.asarray(self._concrete_for("an index")).__index__())

    def _concrete_for(self, what: str) -> Any:
        try:
            return self.to_concrete(what)
        except errors.ConcretizationTypeError:
            raise errors.TracerIntegerConversionError(
                self.describe(), f"It was converted with {what}. " + self._trace_context()
            ) from None

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise errors.TracerArrayConversionError(self.describe())

    def __hash__(self) -> int:
        raise TypeError(f"unhashable type: traced array ({self.describe()})")

    def describe(self) -> str:
        return f"traced array {self.aval.str_short()} of the {self._trace.describe()} trace"

    def __repr__(self) -> str:
        return f"Traced<{self.aval.str_short()}>with<{self._trace.describe()}>"


def _scalar_conversion(what: str) -> str:
    return (f"It was converted with {what} (as math.* functions, numpy scalar constructors "
            "such as np.float64(), and .item() do). A Python number carries no derivative "
            "or batch, so the result would silently drop them: compute with "
            "functrans.numpy (fnp.exp, not math.exp) and keep the value an array.\n")


class gc_paused:
    """Keep Python's cyclic garbage collector from re-walking a jaxpr being recorded.

    Recording keeps every equation, variable and tracer alive until the end, and a
    full collection walks every live object, so full collections during a long
    recording would make tracing quadratic. The collector stays on (other threads'
    garbage is collected as usual); instead, after each full collection that runs
    while something is being recorded, the survivors are frozen (``gc.freeze``):
    later collections skip them, so each object is walked a bounded number of times.
    When the last recording ends they are unfrozen, and collected normally again.
    Process-wide, so nesting and threads share one counter.
    """

    _lock = threading.Lock()
    _depth = 0
    #: freezing is ours to undo only if nothing was frozen before (a program that froze
    #: its start-up objects, say before forking, keeps them frozen)
    _may_freeze = False
    _froze = False

    def __enter__(self) -> None:
        with gc_paused._lock:
            if gc_paused._depth == 0:
                gc_paused._may_freeze = gc.get_freeze_count() == 0
            gc_paused._depth += 1

    def __exit__(self, *exc: Any) -> None:
        with gc_paused._lock:
            gc_paused._depth -= 1
            if gc_paused._depth == 0 and gc_paused._froze:
                gc_paused._froze = False
                gc.unfreeze()


def _freeze_survivors_while_recording(phase: str, info: dict[str, Any]) -> None:
    if (phase == "stop" and info["generation"] == 2 and gc_paused._depth
            and gc_paused._may_freeze):
        gc_paused._froze = True
        gc.freeze()


gc.callbacks.append(_freeze_survivors_while_recording)


def check_alive(tracer: Tracer, where: str) -> None:
    if not tracer._trace.alive:
        raise errors.UnexpectedTracerError(tracer.describe(), where)
