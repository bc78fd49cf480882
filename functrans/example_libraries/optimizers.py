"""Optimizers as ``(init_fun, update_fun, get_params)`` triples, as
``jax.example_libraries.optimizers``.

::

    opt_init, opt_update, get_params = optimizers.adam(1e-3)
    opt_state = opt_init(params)

    @ft.jit
    def step(i, opt_state, batch):
        value, grads = ft.value_and_grad(loss)(get_params(opt_state), batch)
        return value, opt_update(i, grads, opt_state)

    for i in range(num_steps):
        value, opt_state = step(i, opt_state, next(batches))

``init_fun(params)`` makes an :class:`OptimizerState` (a pytree, so it passes
through ``jit``), ``update_fun(step, grads, opt_state)`` returns the next one, and
``get_params(opt_state)`` the parameters in the structure they were given. Each
optimizer is written for one array and lifted to pytrees by :func:`optimizer`.

The step size is a number or a schedule ``step -> step size`` (:func:`constant`,
:func:`exponential_decay`, :func:`inverse_time_decay`, :func:`polynomial_decay`,
:func:`piecewise_constant`). Parameters keep their dtype: the step size and the
bias corrections are computed in each parameter's dtype, so float32 parameters
stay float32 under ``jit`` with a Python-int step, even when a schedule computes
in float64 (JAX gets the same from weak typing).
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import functrans.numpy as fnp
from functrans.core.trace import Tracer
from functrans.numpy._util import Array, cast, dtype_of, to_inexact_dtype
from functrans.tree_util import (
    register_pytree_node,
    tree_flatten,
    tree_map,
    tree_unflatten,
)

__all__ = ["OptimizerState", "Optimizer", "optimizer", "sgd", "momentum", "nesterov", "adagrad",
           "rmsprop", "rmsprop_momentum", "adam", "adamax", "sm3", "constant",
           "exponential_decay", "inverse_time_decay", "polynomial_decay", "piecewise_constant",
           "make_schedule", "l2_norm", "clip_grads", "JoinPoint", "unpack_optimizer_state",
           "pack_optimizer_state"]


def __dir__() -> list[str]:
    """The module's API (not the names it imports)."""
    return sorted(__all__)


Params = Any      # a pytree of arrays
State = Any       # the state of one parameter array: an array or a tuple of them
Step = Any        # an int, or a traced integer
Schedule = Callable[[Step], Any]

#: The state of an optimizer over a pytree of parameters: the flat per-parameter
#: states, and (static) the parameters' tree and each state's tree.
OptimizerState = namedtuple("OptimizerState", ["packed_state", "tree_def", "subtree_defs"])
register_pytree_node(
    OptimizerState,
    lambda state: ((state.packed_state,), (state.tree_def, state.subtree_defs)),
    lambda aux, children: OptimizerState(children[0], aux[0], aux[1]))


class Optimizer(NamedTuple):
    init_fn: Callable[[Params], OptimizerState]
    update_fn: Callable[[Step, Params, OptimizerState], OptimizerState]
    params_fn: Callable[[OptimizerState], Params]


# ------------------------------------------------------------------ from arrays to pytrees

def optimizer(opt_maker: Callable[..., tuple[Callable[..., Any], ...]]
              ) -> Callable[..., Optimizer]:
    """Decorator: an optimizer written for one array (``init(x0) -> state``,
    ``update(i, g, state) -> state``, ``get_params(state) -> x``) becomes one for
    pytrees of arrays, with states packed in an :class:`OptimizerState`."""

    @functools.wraps(opt_maker)
    def tree_opt_maker(*args: Any, **kwargs: Any) -> Optimizer:
        init, update, get_params = opt_maker(*args, **kwargs)

        @functools.wraps(init)
        def tree_init(x0_tree: Params) -> OptimizerState:
            x0_flat, tree = tree_flatten(x0_tree)
            flat_states = [tree_flatten(init(x0)) for x0 in x0_flat]
            return OptimizerState(tuple(s for s, _ in flat_states), tree,
                                  tuple(t for _, t in flat_states))

        @functools.wraps(update)
        def tree_update(i: Step, grad_tree: Params, opt_state: OptimizerState
                        ) -> OptimizerState:
            states_flat, tree, subtrees = opt_state
            grad_flat, grad_tree_def = tree_flatten(grad_tree)
            if grad_tree_def != tree:
                raise TypeError("optimizer update function was passed a gradient tree that "
                                "did not match the parameter tree structure with which it "
                                f"was initialized: parameter tree {tree} and grad tree "
                                f"{grad_tree_def}.")
            new_flat, new_subtrees = [], []
            for g, flat, subtree in zip(grad_flat, states_flat, subtrees, strict=True):
                leaves, subtree2 = tree_flatten(update(i, g, tree_unflatten(subtree, flat)))
                if subtree2 != subtree:
                    raise TypeError("optimizer update function produced an output structure "
                                    f"that did not match its input structure: input {subtree} "
                                    f"and output {subtree2}.")
                new_flat.append(leaves)
                new_subtrees.append(subtree2)
            return OptimizerState(tuple(new_flat), tree, tuple(new_subtrees))

        @functools.wraps(get_params)
        def tree_get_params(opt_state: OptimizerState) -> Params:
            states_flat, tree, subtrees = opt_state
            params = [get_params(tree_unflatten(subtree, flat))
                      for flat, subtree in zip(states_flat, subtrees, strict=True)]
            return tree_unflatten(tree, params)

        return Optimizer(tree_init, tree_update, tree_get_params)
    return tree_opt_maker


# ------------------------------------------------------------------ dtypes

def _param_dtype(x: Array) -> np.dtype:
    return to_inexact_dtype(dtype_of(x))


def _in_dtype_of(value: Any, x: Array) -> Array:
    """A step size, schedule value or power as an array of the parameter's dtype."""
    if not isinstance(value, Tracer):
        value = np.asarray(value)
    return cast(value, _param_dtype(x))


def _step_size(schedule: Schedule, i: Step, x: Array) -> Array:
    return _in_dtype_of(schedule(i), x)


def _decay_power(rate: float, i: Step, x: Array) -> Array:
    """``rate ** (i + 1)`` in the parameter's dtype (Adam's bias corrections)."""
    rate = np.asarray(rate, _param_dtype(x))
    return fnp.power(rate, _in_dtype_of(fnp.add(i, 1), x))


# ------------------------------------------------------------------ optimizers

@optimizer
def sgd(step_size: float | Schedule) -> tuple:
    """Stochastic gradient descent: ``x - step_size(i) g``."""
    step_size = make_schedule(step_size)

    def init(x0: Array) -> State:
        return x0

    def update(i: Step, g: Array, x: Array) -> State:
        return fnp.subtract(x, fnp.multiply(_step_size(step_size, i, x), g))

    def get_params(x: State) -> Array:
        return x

    return init, update, get_params


@optimizer
def momentum(step_size: float | Schedule, mass: float) -> tuple:
    """SGD with momentum: ``v = mass v + g``, ``x - step_size(i) v``."""
    step_size = make_schedule(step_size)

    def init(x0: Array) -> State:
        return x0, fnp.zeros_like(x0)

    def update(i: Step, g: Array, state: State) -> State:
        x, velocity = state
        velocity = fnp.add(fnp.multiply(mass, velocity), g)
        return fnp.subtract(x, fnp.multiply(_step_size(step_size, i, x), velocity)), velocity

    def get_params(state: State) -> Array:
        return state[0]

    return init, update, get_params


@optimizer
def nesterov(step_size: float | Schedule, mass: float) -> tuple:
    """SGD with Nesterov momentum: ``v = mass v + g``, ``x - step_size(i) (mass v + g)``."""
    step_size = make_schedule(step_size)

    def init(x0: Array) -> State:
        return x0, fnp.zeros_like(x0)

    def update(i: Step, g: Array, state: State) -> State:
        x, velocity = state
        velocity = fnp.add(fnp.multiply(mass, velocity), g)
        lookahead = fnp.add(fnp.multiply(mass, velocity), g)
        return fnp.subtract(x, fnp.multiply(_step_size(step_size, i, x), lookahead)), velocity

    def get_params(state: State) -> Array:
        return state[0]

    return init, update, get_params


@optimizer
def adagrad(step_size: float | Schedule, momentum: float = 0.9) -> tuple:
    """Adagrad (Duchi, Hazan and Singer, 2011), with momentum on the scaled gradient."""
    step_size = make_schedule(step_size)

    def init(x0: Array) -> State:
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i: Step, g: Array, state: State) -> State:
        x, g_sq, m = state
        g_sq = fnp.add(g_sq, fnp.square(g))
        safe = fnp.where(fnp.greater(g_sq, 0), g_sq, 1.0)
        g_sq_inv_sqrt = fnp.where(fnp.greater(g_sq, 0), fnp.divide(1.0, fnp.sqrt(safe)), 0.0)
        m = fnp.add(fnp.multiply(1.0 - momentum, fnp.multiply(g, g_sq_inv_sqrt)),
                    fnp.multiply(momentum, m))
        return fnp.subtract(x, fnp.multiply(_step_size(step_size, i, x), m)), g_sq, m

    def get_params(state: State) -> Array:
        return state[0]

    return init, update, get_params


@optimizer
def rmsprop(step_size: float | Schedule, gamma: float = 0.9, eps: float = 1e-8) -> tuple:
    """RMSProp: ``x - step_size(i) g / sqrt(avg(g**2) + eps)``."""
    step_size = make_schedule(step_size)

    def init(x0: Array) -> State:
        return x0, fnp.zeros_like(x0)

    def update(i: Step, g: Array, state: State) -> State:
        x, avg_sq_grad = state
        avg_sq_grad = fnp.add(fnp.multiply(avg_sq_grad, gamma),
                              fnp.multiply(fnp.square(g), 1.0 - gamma))
        scaled = fnp.divide(fnp.multiply(_step_size(step_size, i, x), g),
                            fnp.sqrt(fnp.add(avg_sq_grad, eps)))
        return fnp.subtract(x, scaled), avg_sq_grad

    def get_params(state: State) -> Array:
        return state[0]

    return init, update, get_params


@optimizer
def rmsprop_momentum(step_size: float | Schedule, gamma: float = 0.9, eps: float = 1e-8,
                     momentum: float = 0.9) -> tuple:
    """RMSProp with momentum on the scaled step."""
    step_size = make_schedule(step_size)

    def init(x0: Array) -> State:
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i: Step, g: Array, state: State) -> State:
        x, avg_sq_grad, mom = state
        avg_sq_grad = fnp.add(fnp.multiply(avg_sq_grad, gamma),
                              fnp.multiply(fnp.square(g), 1.0 - gamma))
        scaled = fnp.divide(fnp.multiply(_step_size(step_size, i, x), g),
                            fnp.sqrt(fnp.add(avg_sq_grad, eps)))
        mom = fnp.add(fnp.multiply(momentum, mom), scaled)
        return fnp.subtract(x, mom), avg_sq_grad, mom

    def get_params(state: State) -> Array:
        return state[0]

    return init, update, get_params


@optimizer
def adam(step_size: float | Schedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> tuple:
    """Adam (Kingma and Ba 2015): bias-corrected moment estimates ``mhat``,
    ``vhat``; ``x - step_size(i) mhat / (sqrt(vhat) + eps)``."""
    step_size = make_schedule(step_size)

    def init(x0: Array) -> State:
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i: Step, g: Array, state: State) -> State:
        x, m, v = state
        m = fnp.add(fnp.multiply(1 - b1, g), fnp.multiply(b1, m))              # first moment
        v = fnp.add(fnp.multiply(1 - b2, fnp.square(g)), fnp.multiply(b2, v))  # second moment
        mhat = fnp.divide(m, fnp.subtract(1, _decay_power(b1, i, x)))          # bias corrections
        vhat = fnp.divide(v, fnp.subtract(1, _decay_power(b2, i, x)))
        step = fnp.divide(fnp.multiply(_step_size(step_size, i, x), mhat),
                          fnp.add(fnp.sqrt(vhat), eps))
        return fnp.subtract(x, step), m, v

    def get_params(state: State) -> Array:
        return state[0]

    return init, update, get_params


@optimizer
def adamax(step_size: float | Schedule, b1: float = 0.9, b2: float = 0.999,
           eps: float = 1e-8) -> tuple:
    """AdaMax: Adam with the infinity norm, ``u = max(b2 u, |g|)``."""
    step_size = make_schedule(step_size)

    def init(x0: Array) -> State:
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i: Step, g: Array, state: State) -> State:
        x, m, u = state
        m = fnp.add(fnp.multiply(1 - b1, g), fnp.multiply(b1, m))
        u = fnp.maximum(fnp.multiply(b2, u), fnp.abs(g))
        rate = fnp.divide(_step_size(step_size, i, x), fnp.subtract(1, _decay_power(b1, i, x)))
        return fnp.subtract(x, fnp.divide(fnp.multiply(rate, m), fnp.add(u, eps))), m, u

    def get_params(state: State) -> Array:
        return state[0]

    return init, update, get_params


@optimizer
def sm3(step_size: float | Schedule, momentum: float = 0.9) -> tuple:
    """SM3 (Anil, Gupta, Koren and Singer, 2019): Adagrad whose accumulator is covered
    by one vector per axis (memory linear in the sizes of the axes), with momentum."""
    step_size = make_schedule(step_size)

    def along(ndim: int, v: Array, axis: int) -> Array:
        """The vector `v` along `axis` of an array of `ndim` dimensions."""
        return fnp.reshape(v, tuple(-1 if d == axis else 1 for d in range(ndim)))

    def init(x0: Array) -> State:
        vs = [fnp.zeros(size, dtype=dtype_of(x0)) for size in fnp.shape(fnp.atleast_1d(x0))]
        return x0, fnp.zeros_like(x0), vs

    def update(i: Step, g: Array, state: State) -> State:
        x, m, vs = state
        shape = fnp.shape(x)  # a scalar parameter is covered as a vector of one entry
        x, m = fnp.atleast_1d(x), fnp.atleast_1d(m)
        g = fnp.reshape(g, fnp.shape(x))
        ndim = len(vs)
        accum = functools.reduce(fnp.minimum, [along(ndim, v, a) for a, v in enumerate(vs)])
        accum = fnp.add(accum, fnp.square(g))
        safe = fnp.where(fnp.greater(accum, 0), accum, 1.0)
        accum_inv_sqrt = fnp.where(fnp.greater(accum, 0), fnp.divide(1.0, fnp.sqrt(safe)), 0.0)
        m = fnp.add(fnp.multiply(1.0 - momentum, fnp.multiply(g, accum_inv_sqrt)),
                    fnp.multiply(momentum, m))
        x = fnp.subtract(x, fnp.multiply(_step_size(step_size, i, x), m))
        vs = [fnp.max(accum, axis=tuple(d for d in range(ndim) if d != a)) for a in range(ndim)]
        return fnp.reshape(x, shape), fnp.reshape(m, shape), vs

    def get_params(state: State) -> Array:
        return state[0]

    return init, update, get_params


# ------------------------------------------------------------------ schedules

def constant(step_size: Any) -> Schedule:
    """The schedule that is always `step_size`."""
    def schedule(i: Step) -> Any:
        return step_size
    return schedule


def exponential_decay(step_size: Any, decay_steps: Any, decay_rate: Any) -> Schedule:
    """``step_size * decay_rate ** (i / decay_steps)``."""
    def schedule(i: Step) -> Any:
        return fnp.multiply(step_size, fnp.power(decay_rate, fnp.true_divide(i, decay_steps)))
    return schedule


def inverse_time_decay(step_size: Any, decay_steps: Any, decay_rate: Any,
                       staircase: bool = False) -> Schedule:
    """``step_size / (1 + decay_rate * i / decay_steps)`` (with ``floor(i /
    decay_steps)`` when `staircase`)."""
    def schedule(i: Step) -> Any:
        progress = fnp.true_divide(i, decay_steps)
        if staircase:
            progress = fnp.floor(progress)
        return fnp.divide(step_size, fnp.add(1, fnp.multiply(decay_rate, progress)))
    return schedule


def polynomial_decay(step_size: Any, decay_steps: Any, final_step_size: Any,
                     power: float = 1.0) -> Schedule:
    """From `step_size` to `final_step_size` over `decay_steps` steps, as
    ``(1 - i / decay_steps) ** power``; constant afterwards."""
    def schedule(step_num: Step) -> Any:
        step_num = fnp.minimum(step_num, decay_steps)
        step_mult = fnp.power(fnp.subtract(1, fnp.true_divide(step_num, decay_steps)), power)
        return fnp.add(fnp.multiply(step_mult, step_size - final_step_size), final_step_size)
    return schedule


def piecewise_constant(boundaries: Any, values: Any) -> Schedule:
    """``values[k]`` for steps past ``k`` of the `boundaries` (``len(values) ==
    len(boundaries) + 1``)."""
    boundaries, values = np.asarray(boundaries), np.asarray(values)
    if not boundaries.ndim == values.ndim == 1:
        raise ValueError("functrans.example_libraries.optimizers.piecewise_constant: "
                         "boundaries and values must be sequences")
    if not boundaries.shape[0] == values.shape[0] - 1:
        raise ValueError("functrans.example_libraries.optimizers.piecewise_constant: "
                         f"boundaries length ({boundaries.shape[0]}) must be one shorter than "
                         f"values length ({values.shape[0]})")

    def schedule(i: Step) -> Any:
        return fnp.take(values, fnp.sum(fnp.greater(i, boundaries)))
    return schedule


def make_schedule(scalar_or_schedule: float | Schedule) -> Schedule:
    """A schedule as given, or the constant schedule of a scalar."""
    if callable(scalar_or_schedule):
        return scalar_or_schedule
    if fnp.ndim(scalar_or_schedule) == 0:
        return constant(scalar_or_schedule)
    raise TypeError("functrans.example_libraries.optimizers: the step size must be a scalar "
                    f"or a schedule (a function of the step), got {type(scalar_or_schedule)}")


# ------------------------------------------------------------------ gradient utilities

def l2_norm(tree: Params) -> Array:
    """The l2 norm of a pytree of arrays: ``sqrt(sum of |x|**2 over every leaf)``."""
    leaves, _ = tree_flatten(tree)
    return fnp.sqrt(sum(fnp.real(fnp.vdot(x, x)) for x in leaves))


def clip_grads(grad_tree: Params, max_norm: Any) -> Params:
    """The gradients scaled down to l2 norm `max_norm` when their norm is larger."""
    norm = l2_norm(grad_tree)

    def normalize(g: Array) -> Array:
        return fnp.where(fnp.less(norm, max_norm), g,
                         fnp.multiply(g, _in_dtype_of(fnp.divide(max_norm, norm), g)))
    return tree_map(normalize, grad_tree)


# ------------------------------------------------------------------ serialization

class JoinPoint:
    """Marks the boundary between two joined (nested) pytrees."""

    def __init__(self, subtree: Any):
        self.subtree = subtree

    def __iter__(self) -> Any:  # pytrees are containers of arrays: look iterable
        yield self.subtree


def unpack_optimizer_state(opt_state: OptimizerState) -> Any:
    """The state as the parameters' pytree with :class:`JoinPoint` leaves holding each
    parameter's state (for serialization)."""
    states_flat, tree_def, subtree_defs = opt_state
    subtrees = [tree_unflatten(d, flat) for d, flat in zip(subtree_defs, states_flat,
                                                            strict=True)]
    return tree_unflatten(tree_def, [JoinPoint(s) for s in subtrees])


def pack_optimizer_state(marked_pytree: Any) -> OptimizerState:
    """The inverse of :func:`unpack_optimizer_state`."""
    sentinels, tree_def = tree_flatten(marked_pytree, is_leaf=lambda x: isinstance(x, JoinPoint))
    if not all(isinstance(s, JoinPoint) for s in sentinels):
        raise TypeError("functrans.example_libraries.optimizers.pack_optimizer_state: every "
                        "leaf must be a JoinPoint (as unpack_optimizer_state makes)")
    flat = [tree_flatten(s.subtree) for s in sentinels]
    return OptimizerState(tuple(f for f, _ in flat), tree_def, tuple(d for _, d in flat))
