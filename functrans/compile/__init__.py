"""The jit compiler: optimisation passes on jaxprs (:mod:`.passes`), generation of
straight-line NumPy code (:mod:`.codegen`), and the runtime that evaluates jaxprs
with that code (:mod:`.runtime`)."""

from functrans.compile.codegen import CompiledJaxpr, generate
from functrans.compile.passes import optimize
from functrans.compile.runtime import (
    compile_jaxpr,
    compiled_if_cached,
    evaluate_jaxpr,
    quietly,
    run_compiled,
)

__all__ = ["compile_jaxpr", "compiled_if_cached", "evaluate_jaxpr", "run_compiled", "quietly",
           "optimize", "generate", "CompiledJaxpr"]
