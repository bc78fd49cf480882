"""Closure conversion: a function's closed-over traced values made explicit arguments.

A custom rule (a ``custom_vjp`` backward pass, the transpose of a linear solve)
can give a derivative only to the values it receives as arguments. A function
that closes over a tracer of an enclosing transformation hides such a value;
closure conversion traces the function once, at the avals of example
arguments, and hoists every closed-over tracer into a trailing argument.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from functrans.core.avals import ShapedArray, get_aval
from functrans.core.ir import ClosedJaxpr, eval_jaxpr
from functrans.transforms.api_util import check_leaf, fun_name
from functrans.transforms.staging import hoist_tracer_consts, trace_to_jaxpr
from functrans.tree_util import PyTreeDef, tree_flatten, tree_unflatten

__all__ = ["closure_convert", "TracedClosure", "trace_closure"]


class TracedClosure:
    """A function traced to a closed jaxpr whose leading inputs are the tracers it
    closed over (``consts``), followed by its flat arguments."""

    __slots__ = ("closed", "consts", "in_tree", "out_tree")

    def __init__(self, closed: ClosedJaxpr, consts: list[Any], in_tree: PyTreeDef,
                 out_tree: PyTreeDef):
        self.closed = closed
        self.consts = consts
        self.in_tree = in_tree
        self.out_tree = out_tree

    @property
    def out_avals(self) -> list[ShapedArray]:
        return list(self.closed.out_avals)


def trace_closure(fun: Callable[..., Any], in_tree: PyTreeDef,
                  in_avals: Sequence[ShapedArray], where: str) -> TracedClosure:
    """Trace ``fun(*args)``, with ``args`` unflattened from `in_tree` at `in_avals`,
    hoisting the tracers it closes over; `where` names the caller in errors."""
    name = fun_name(fun)
    out_trees: list[PyTreeDef] = []

    def flat_fun(*flat: Any) -> list[Any]:
        leaves, out_tree = tree_flatten(fun(*tree_unflatten(in_tree, flat)))
        for leaf in leaves:
            check_leaf(leaf, f"{where}: {name}", "an output")
        out_trees.append(out_tree)
        return leaves

    closed = trace_to_jaxpr(flat_fun, list(in_avals), name, where)
    closed, consts = hoist_tracer_consts(closed)
    return TracedClosure(closed, consts, in_tree, out_trees[0])


def closure_convert(fun: Callable[..., Any], *example_args: Any
                    ) -> tuple[Callable[..., Any], list[Any]]:
    """``(converted_fun, hoisted_consts)``, as ``jax.closure_convert``.

    `fun` is traced once at the shapes and dtypes of `example_args`. Every value
    it closes over that is traced by an enclosing transformation (``grad``,
    ``jvp``, ``vmap``, ``jit``) is returned in `hoisted_consts`, and
    ``converted_fun(*args, *hoisted_consts)`` computes ``fun(*args)`` with those
    values as explicit arguments, so a custom rule (``custom_vjp``) can give them
    derivatives. Outside every transformation `hoisted_consts` is empty.

    Unlike JAX, every closed-over tracer is hoisted (JAX keeps some that it can
    prove carry no derivative closed over); ``converted_fun`` computes the same
    values either way.
    """
    where = f"closure_convert of {fun_name(fun)}"
    flat, in_tree = tree_flatten(tuple(example_args))
    for leaf in flat:
        check_leaf(leaf, where, "an example argument")
    traced = trace_closure(fun, in_tree, [get_aval(x) for x in flat], where)
    num_consts = len(traced.consts)
    closed = traced.closed

    def converted_fun(*args_and_consts: Any) -> Any:
        num_args = len(args_and_consts) - num_consts
        if num_args < 0:
            raise TypeError(f"{where}: the converted function takes the arguments followed "
                            f"by the {num_consts} hoisted constants; got "
                            f"{len(args_and_consts)} values")
        args, consts = args_and_consts[:num_args], args_and_consts[num_args:]
        flat_args, args_tree = tree_flatten(tuple(args))
        if args_tree != in_tree:
            raise TypeError(f"{where}: the converted function's arguments must have the "
                            f"structure of the example arguments, {in_tree}; got {args_tree}")
        outs = eval_jaxpr(closed.jaxpr, closed.consts, *consts, *flat_args)
        return tree_unflatten(traced.out_tree, outs)

    converted_fun.__name__ = f"closure_converted({fun_name(fun)})"
    return converted_fun, list(traced.consts)
