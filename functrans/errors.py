"""The errors functrans raises, each with a message a user can act on.

Names follow ``jax.errors``.
"""

from __future__ import annotations


class FunctransError(Exception):
    """Base class of functrans-specific errors."""


class JaxprTypeError(FunctransError, TypeError):
    """A jaxpr failed the type checker: a bug in a rule or a hand-built jaxpr."""


class ConcretizationTypeError(FunctransError, TypeError):
    """A traced value was used where a concrete Python value is needed."""

    def __init__(self, tracer_desc: str, context: str = "", about_tracing: bool = True):
        msg = (f"Abstract tracer value encountered where a concrete value is expected: "
               f"{tracer_desc}.\n{context}")
        if about_tracing:
            msg += self._ABOUT_TRACING
        super().__init__(msg)

    _ABOUT_TRACING = (
        "The value depends on the function's traced arguments, so its actual value is "
        "not known while the function is being traced (under jit, make_jaxpr or vmap).\n"
        "Fixes: mark the argument as static with jit(f, static_argnums=...) if it is a "
        "configuration value; use functrans.numpy.where or functrans.lax.select for "
        "data-dependent choices; or use structured control flow (functrans.lax.cond, "
        "functrans.lax.while_loop, functrans.lax.fori_loop, functrans.lax.scan) instead "
        "of Python if/while on traced values."
    )


class TracerBoolConversionError(ConcretizationTypeError):
    """``bool()`` (an ``if``/``while``/``and``) was applied to a traced value."""


class TracerIntegerConversionError(ConcretizationTypeError):
    """``int()``/``operator.index`` was applied to a traced value."""


class TracerArrayConversionError(FunctransError, TypeError):
    """A traced value was passed to plain NumPy (``np.asarray``, ``np.sin``...)."""

    def __init__(self, tracer_desc: str, message: str | None = None):
        if message is not None:  # a NumPy function on a tracer: the caller names it
            super().__init__(message)
            return
        super().__init__(
            f"A traced value ({tracer_desc}) was converted to a NumPy array. Inside a "
            "function being transformed, use functrans.numpy (import functrans.numpy as fnp) "
            "instead of numpy for operations on traced values: NumPy cannot see through "
            "tracers. If you need the concrete value for debugging, compute it outside the "
            "transformation."
        )


class UnexpectedTracerError(FunctransError):
    """A tracer escaped the transformation that created it and was used later."""

    def __init__(self, tracer_desc: str, where: str):
        super().__init__(
            f"Encountered an unexpected tracer: {tracer_desc} was created by a "
            f"transformation that has already finished, and is now used {where}.\n"
            "This happens when a function being transformed stores a traced value in a "
            "global, a closure or an object attribute (a side effect), and the value is "
            "used after the transformation returned. Return such values from the "
            "function instead of storing them."
        )


class ForwardModeUnsupportedError(FunctransError, TypeError):
    """Forward-mode differentiation of a function that only defines reverse mode
    (a ``custom_vjp`` function)."""


class NonConcreteBooleanIndexError(FunctransError, IndexError):
    """Boolean-mask indexing of a traced array, whose result shape is not static."""
