"""Primitives: the operations of the IR, each carrying its rules.

A primitive is a name plus one slot per interpretation. A transformation
supports a primitive exactly when the primitive fills that transformation's
slot:

========================  =====================================================
``impl(*arrays, **p)``    NumPy implementation (evaluation, and ``jit``)
``abstract_eval(*avals)``  shape/dtype rule: avals in, aval(s) out
``jvp(primals, tangents)`` forward-mode rule; tangents may be symbolic ``Zero``;
                           returns ``(primal_out, tangent_out)``
``transpose(ct, *args)``   for linear primitives: the cotangents of the linear
                           arguments (given as ``UndefinedPrimal``) from the
                           output cotangent ``ct``
``batch(args, dims)``      vmap rule: returns ``(out, out_dim)``
``partial_eval``           optional, for higher-order primitives: split into
``partial_eval_eqn``       known and unknown parts while linearizing, and inside
                           a jaxpr (see transforms/partial_eval)
``ufunc``                  optional, for elementwise primitives: a
                           :class:`UfuncEquivalent`, the NumPy ufunc that computes
                           the primitive exactly for some operand dtypes (code
                           generation calls it directly, in place when it may)
========================  =====================================================

The rules are written next to each primitive in :mod:`functrans.primitives`,
mostly through the helpers of :mod:`functrans.primitives.rules`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from functrans.core.backend import NUMPY_TYPES, foreign_backend
from functrans.core.backend import evaluate as evaluate_on_backend
from functrans.core.trace import (
    Tracer,
    claimed,
    eval_trace,
    explain_failure,
    get_current_trace,
)


class UfuncEquivalent(NamedTuple):
    """The NumPy ufunc an elementwise primitive is, for operands of some dtypes."""

    #: the NumPy ufunc (``np.sin``): called on the operands, it gives the primitive's
    #: result, and accepts an ``out=`` buffer
    ufunc: Any
    #: the dtype kinds (``"fc"``) for which the ufunc keeps the operands' dtype exactly
    #: (elsewhere it promotes, or computes something else: use the primitive's impl)
    kinds: str


class Primitive:
    __slots__ = ("name", "multiple_results", "impl", "abstract_eval", "jvp", "transpose",
                 "batch", "partial_eval", "partial_eval_eqn", "linear", "call_jaxpr_param",
                 "ufunc", "bilinear", "has_side_effect", "__weakref__")

    def __init__(self, name: str, *, multiple_results: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        self.impl: Callable[..., Any] = _missing_rule(name, "a NumPy implementation")
        self.abstract_eval: Callable[..., Any] = _missing_rule(name, "a shape rule")
        self.jvp: Callable[..., Any] | None = None
        self.transpose: Callable[..., Any] | None = None
        self.batch: Callable[..., Any] | None = None
        self.partial_eval: Callable[..., Any] | None = None
        self.partial_eval_eqn: Callable[..., Any] | None = None
        #: for call-like primitives (jit, custom_jvp_call, checkpoint...): the name of
        #: the closed-jaxpr parameter that evaluating the primitive applies to its
        #: operands, so a compiler may inline it
        self.call_jaxpr_param: str | None = None
        self.ufunc: UfuncEquivalent | None = None
        self.linear = False
        #: linear in each operand separately (mul, dot_general, conv), not jointly:
        #: a product of two values that both depend on a linear input is not linear
        self.bilinear = False
        #: evaluating it does something besides computing its outputs (printing,
        #: calling back into Python): compilers keep it even when its outputs are
        #: unused, never merge two of them, never evaluate it at compile time
        self.has_side_effect = False

    def bind(self, *args: Any, **params: Any) -> Any:
        trace = get_current_trace()
        if trace.stages_constants:
            return trace.process_primitive(self, args, params)
        foreign = False
        for a in args:
            if type(a) in NUMPY_TYPES:
                continue
            if isinstance(a, Tracer):
                return trace.process_primitive(self, args, params)
            foreign = foreign or foreign_backend(a) is not None
        # No traced operand: every transformation but staging would hand this
        # down to the evaluation trace, so evaluate now: with NumPy, or with the
        # array library of the operands (functrans.core.backend). A call whose jaxpr
        # uses an enclosing vmap's axis name is the exception: that vmap applies it.
        if (self.call_jaxpr_param is not None and trace is not eval_trace
                and claimed(trace, self, params)):
            return trace.process_primitive(self, args, params)
        if foreign:
            return evaluate_on_backend(self, args, params)
        try:
            return self.impl(*args, **params)
        except Exception as numpy_error:
            explain_failure(self, args, params, numpy_error)
            raise

    def __repr__(self) -> str:
        return self.name


def _missing_rule(name: str, what: str) -> Callable[..., Any]:
    def missing(*args: Any, **params: Any) -> Any:
        raise TypeError(f"primitive '{name}' has no {what}")
    return missing


def missing_transformation_error(primitive: Primitive, transformation: str) -> TypeError:
    return TypeError(
        f"Differentiation or batching rule for '{primitive.name}' is not defined: "
        f"the primitive does not support {transformation}.")
