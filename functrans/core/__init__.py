"""The core: abstract values, the IR, primitives and the trace machinery."""

from functrans.core.avals import ShapedArray, get_aval
from functrans.core.ir import (
           ClosedJaxpr,
           Jaxpr,
           JaxprEqn,
           Literal,
           Var,
           eval_jaxpr,
           typecheck_jaxpr,
)
from functrans.core.primitive import Primitive
from functrans.core.trace import Trace, Tracer, get_current_trace
from functrans.core.zeros import UndefinedPrimal, Zero

__all__ = ["ShapedArray", "get_aval", "ClosedJaxpr", "Jaxpr", "JaxprEqn", "Literal", "Var",
           "eval_jaxpr", "typecheck_jaxpr", "Primitive", "Trace", "Tracer", "get_current_trace",
           "UndefinedPrimal", "Zero"]
