"""``functrans.experimental.ode``: ``odeint``, as ``jax.experimental.ode.odeint``.

**Integration.** Adaptive Dormand–Prince 5(4) (the method of ``scipy.integrate.RK45``):
seven stages per step, the last one reused as the first of the next (FSAL), the
difference of the embedded 4th- and 5th-order solutions as the error estimate, and the
step accepted when the root mean square of ``error / (atol + rtol * max(|y|, |y_new|))``
is at most 1. The next step is ``0.9 h ratio^(-1/5)``, at most 10 times larger, never
smaller after an accepted step, at most 5 times smaller after a rejected one, and at
most `hmax`. Steps are not shortened to land on the requested times: each requested
time is reached by a ``lax.while_loop`` over steps, then read from the step that covers
it by the method's quartic dense output (Hairer's, as in SciPy). The loop over the
requested times is a ``lax.scan``, so ``odeint`` runs under ``jit`` and ``vmap``.

**Reverse mode** is the adjoint method (``custom_vjp``): the forward pass keeps only the
solution at the requested times. The backward pass integrates the augmented system

    d/ds (y, a, t0_bar, args_bar) = (-f(y, t), a . df/dy, a . df/dt, a . df/dargs),
    s = -t,

backwards from each requested time to the previous one, where ``a = dL/dy(t)`` and each
requested time adds its output cotangent to ``a``. Memory does not grow with the number
of steps; the price is integrating ``y`` backwards a second time, which is accurate for
non-stiff systems at tight tolerances (the defaults), as in JAX.

The state may be any pytree of arrays; it is integrated as one flat vector of the
promoted dtype of its leaves and `t` (float32 stays float32 when `t` is float32 too).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

import functrans.numpy as fnp
from functrans import dtypes, lax
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.ir import ClosedJaxpr, eval_jaxpr
from functrans.core.trace import Tracer
from functrans.higher_order.custom_derivatives import custom_vjp
from functrans.transforms.autodiff import vjp
from functrans.transforms.staging import hoist_tracer_consts, trace_to_jaxpr
from functrans.tree_util import PyTreeDef, tree_flatten, tree_map, tree_unflatten

__all__ = ["odeint"]


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)

# ------------------------------------------------------------------ the Dormand–Prince tableau

_NODES = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_STAGE_WEIGHTS = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    # the 5th-order solution: the last stage is f at the new point (FSAL)
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_FIFTH_ORDER = _STAGE_WEIGHTS[-1] + (0.0,)
_FOURTH_ORDER = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100,
                 1 / 40)
_ERROR_WEIGHTS = tuple(b - b_hat for b, b_hat in zip(_FIFTH_ORDER, _FOURTH_ORDER))
#: dense output: y(t + theta h) = y + h sum_k K_k (P[k] . (theta, theta^2, theta^3, theta^4))
_DENSE_OUTPUT = np.array([
    [1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
    [0, 0, 0, 0],
    [0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
    [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
    [0, 127303824393 / 49829197408, -318862633887 / 49829197408,
     701980252875 / 199316789632],
    [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
    [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423]])

_SAFETY = 0.9          # aim a little below the largest step the error estimate allows
_MAX_GROWTH = 10.0
_MAX_SHRINK = 0.2
_ERROR_EXPONENT = -1 / 5  # the error of the 4th-order estimate scales as h^5


# ------------------------------------------------------------------ flat states

class _Layout:
    """How a list of arrays (of `avals`) lies in one flat vector of `dtype`."""

    def __init__(self, avals: Sequence[ShapedArray], dtype: np.dtype):
        self.avals = list(avals)
        self.dtype = np.dtype(dtype)
        self.sizes = [math.prod(a.shape) for a in self.avals]
        self.size = sum(self.sizes)

    def ravel(self, parts: Sequence[Any]) -> Any:
        flat = [fnp.ravel(fnp.asarray(p).astype(self.dtype)) for p in parts]
        return flat[0] if len(flat) == 1 else fnp.concatenate(flat)

    def unravel(self, flat: Any, leading: tuple[int, ...] = ()) -> list[Any]:
        """The parts back from `flat` (whose last axis is the vector; `leading` axes
        come first), each in its own dtype."""
        parts, start = [], 0
        for aval, size in zip(self.avals, self.sizes):
            part = flat[..., start:start + size]
            if self.dtype.kind == "c" and aval.dtype.kind != "c":
                part = fnp.real(part)
            parts.append(fnp.reshape(part, leading + aval.shape).astype(aval.dtype))
            start += size
        return parts


class _Dynamics:
    """The user's ``func(y, t, *args)`` as a function of the flat state: its closed
    jaxpr, with the values it closed over that a transformation traces (parameters being
    differentiated, batched ...) taken as leading explicit parameters (JAX's
    ``closure_convert``), so that the adjoint pass can differentiate with respect to
    them."""

    def __init__(self, closed: ClosedJaxpr, num_hoisted: int, name: str):
        self.closed = closed
        self.num_hoisted = num_hoisted
        self.__name__ = name

    def __call__(self, y: Any, t: Any, *params: Any) -> Any:
        hoisted, args = params[:self.num_hoisted], params[self.num_hoisted:]
        (derivative,) = eval_jaxpr(self.closed.jaxpr, self.closed.consts, *hoisted, y, t,
                                   *args)
        return derivative


def _flat_dynamics(func: Callable[..., Any], y_layout: _Layout, y_tree: PyTreeDef,
                   arg_tree: PyTreeDef, name: str) -> Callable[..., list[Any]]:
    def dynamics(y: Any, t: Any, *arg_leaves: Any) -> list[Any]:
        state = tree_unflatten(y_tree, y_layout.unravel(y))
        derivative = func(state, t, *tree_unflatten(arg_tree, list(arg_leaves)))
        leaves, tree = tree_flatten(derivative)
        if tree != y_tree:
            raise TypeError(f"odeint: func {name} must return a derivative with the structure "
                            f"of y0, {y_tree}, but it returned {tree}")
        for i, (leaf, aval) in enumerate(zip(leaves, y_layout.avals)):
            _check_derivative(leaf, aval, y_layout.dtype, i, name)
        return [y_layout.ravel(leaves)]
    return dynamics


def _check_derivative(leaf: Any, aval: ShapedArray, dtype: np.dtype, i: int, name: str) -> None:
    leaf_aval = get_aval(leaf)
    if leaf_aval.shape != aval.shape:
        raise TypeError(f"odeint: func {name} returned a derivative of shape "
                        f"{leaf_aval.shape} for leaf {i} of the state, of shape {aval.shape}; "
                        "they must match")
    if not (leaf_aval.weak_type or np.result_type(leaf_aval.dtype, dtype) == dtype):
        raise TypeError(f"odeint: func {name} returned dtype {leaf_aval.dtype} for leaf {i} "
                        f"of a state integrated in {dtype}; the derivative may not be wider "
                        "than the state (cast y0 and t to the wider dtype, or the derivative "
                        "to the state's)")


def _convert_closure(func: Callable[..., Any], y_layout: _Layout, y_tree: PyTreeDef,
                     arg_leaves: list[Any], arg_tree: PyTreeDef, time_dtype: np.dtype,
                     ) -> tuple[_Dynamics, list[Any]]:
    name = getattr(func, "__name__", type(func).__name__)
    in_avals = ([ShapedArray((y_layout.size,), y_layout.dtype), ShapedArray((), time_dtype)]
                + [get_aval(a) for a in arg_leaves])
    closed = trace_to_jaxpr(_flat_dynamics(func, y_layout, y_tree, arg_tree, name), in_avals,
                            name, "odeint")
    closed, hoisted = hoist_tracer_consts(closed)
    return _Dynamics(closed, len(hoisted), name), hoisted


# ------------------------------------------------------------------ one step

def _weighted_sum(weights: Sequence[float], vectors: Sequence[Any]) -> Any:
    terms = [fnp.multiply(w, v) for w, v in zip(weights, vectors) if w != 0]
    return functools.reduce(fnp.add, terms)


def _dormand_prince_step(f: Callable[[Any, Any], Any], y: Any, f_y: Any, t: Any, h: Any
                         ) -> tuple[Any, Any, Any, Any]:
    """(y_new, f(y_new), error estimate, the seven stages stacked)."""
    stages = [f_y]
    for node, weights in zip(_NODES[1:], _STAGE_WEIGHTS[1:]):
        y_stage = y + h * _weighted_sum(weights, stages)
        stages.append(f(y_stage, t + node * h))
    error = h * _weighted_sum(_ERROR_WEIGHTS, stages)
    return y_stage, stages[-1], error, fnp.stack(stages)


def _rms(x: Any) -> Any:
    return fnp.sqrt(fnp.mean(fnp.square(fnp.abs(x))))


def _error_ratio(error: Any, y: Any, y_new: Any, rtol: float, atol: float) -> Any:
    tolerance = atol + rtol * fnp.maximum(fnp.abs(y), fnp.abs(y_new))
    return _rms(error / tolerance)


def _next_step_size(h: Any, ratio: Any, accepted: Any, hmax: float) -> Any:
    growth = _SAFETY * fnp.maximum(ratio, 1e-10) ** _ERROR_EXPONENT
    # an accepted step never shrinks the next one; a rejected one shrinks it at most 5x
    growth = fnp.where(accepted, fnp.maximum(growth, 1.0), fnp.maximum(growth, _MAX_SHRINK))
    return fnp.minimum(h * fnp.minimum(growth, _MAX_GROWTH), hmax)


def _initial_step_size(f: Callable[[Any, Any], Any], t0: Any, y0: Any, f0: Any,
                       rtol: float, atol: float) -> Any:
    """Hairer, Nørsett and Wanner, Solving ODEs I, II.4: a step along which the
    first-order extrapolation stays within the tolerance."""
    scale = atol + fnp.abs(y0) * rtol
    d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
    tiny = (d0 < 1e-5) | (d1 < 1e-5)
    h0 = fnp.where(tiny, 1e-6, 0.01 * d0 / fnp.where(tiny, 1.0, d1))
    f1 = f(y0 + h0 * f0, t0 + h0)
    d2 = _rms((f1 - f0) / scale) / h0
    flat = (d1 <= 1e-15) & (d2 <= 1e-15)
    largest = fnp.where(flat, 1.0, fnp.maximum(d1, d2))
    h1 = fnp.where(flat, fnp.maximum(1e-6, h0 * 1e-3), (0.01 / largest) ** (1 / 5))
    return fnp.minimum(100 * h0, h1)


# ------------------------------------------------------------------ the solver

class _Solver(NamedTuple):
    """The while loop's state: the current point, and the last accepted step (which the
    dense output interpolates)."""
    t: Any
    y: Any
    f_y: Any
    h: Any            # the next step to try
    t_prev: Any       # the last accepted step went from t_prev to t ...
    y_prev: Any       # ... starting at y_prev ...
    stages: Any       # ... with these stages
    attempts: Any     # steps tried since the last requested time


def _dense_output(state: _Solver, target: Any) -> Any:
    h = state.t - state.t_prev
    theta = (target - state.t_prev) / fnp.where(h > 0, h, 1.0)
    powers = fnp.stack([theta, theta ** 2, theta ** 3, theta ** 4])
    weights = fnp.matmul(_DENSE_OUTPUT.astype(fnp.result_type(theta)), powers)
    value = state.y_prev + h * fnp.matmul(weights, state.stages)
    # a time the loop could not reach (mxstep attempts, or the step size underflowed)
    return fnp.where(state.t >= target, value, np.nan)


def _solve(func: Callable[..., Any], rtol: float, atol: float, mxstep: float, hmax: float,
           y0: Any, ts: Any, *params: Any) -> Any:
    """The flat state at every time of `ts` (rows), ``func(y, t, *params)`` the derivative."""
    def f(y: Any, t: Any) -> Any:
        return func(y, t, *params)

    def attempt(state: _Solver) -> _Solver:
        y_new, f_new, error, stages = _dormand_prince_step(f, state.y, state.f_y, state.t,
                                                           state.h)
        ratio = _error_ratio(error, state.y, y_new, rtol, atol)
        accepted = ratio <= 1.0
        h_next = _next_step_size(state.h, ratio, accepted, hmax)
        moved = _Solver(state.t + state.h, y_new, f_new, h_next, state.t, state.y, stages,
                        state.attempts + 1)
        stayed = state._replace(h=h_next, attempts=state.attempts + 1)
        return tree_map(lambda new, old: fnp.where(accepted, new, old), moved, stayed)

    def advance_to(state: _Solver, target: Any) -> tuple[_Solver, Any]:
        def not_there(state: _Solver) -> Any:
            going = (state.t < target) & (state.h > 0)
            return going & (state.attempts < mxstep) if math.isfinite(mxstep) else going
        state = lax.while_loop(not_there, attempt, state._replace(attempts=np.int64(0)))
        return state, _dense_output(state, target)

    t0 = ts[0]
    f0 = f(y0, t0)
    h0 = fnp.minimum(_initial_step_size(f, t0, y0, f0, rtol, atol), hmax)
    start = _Solver(t0, y0, f0, h0, t0, y0, fnp.zeros((7,) + fnp.shape(y0), fnp.result_type(y0)),
                    np.int64(0))
    _, ys = lax.scan(advance_to, start, ts[1:])
    return fnp.concatenate([y0[None], ys])


# ------------------------------------------------------------------ reverse mode: the adjoint

class _Augmented:
    """The augmented dynamics of the adjoint pass, in reversed time ``s = -t``, on the
    flat vector (y, a, t0_bar, args_bar...)."""

    def __init__(self, func: _Dynamics, layout: _Layout, differentiable: Sequence[bool]):
        self.func = func
        self.layout = layout
        self.differentiable = list(differentiable)
        self.__name__ = f"adjoint of {func.__name__}"

    def __call__(self, z: Any, minus_t: Any, *params: Any) -> Any:
        y, adjoint = self.layout.unravel(z)[:2]
        chosen = [p for p, d in zip(params, self.differentiable) if d]

        def dynamics(y: Any, t: Any, *chosen: Any) -> Any:
            it = iter(chosen)
            return self.func(y, t, *[next(it) if d else p
                                     for p, d in zip(params, self.differentiable)])

        y_dot, pullback = vjp(dynamics, y, -minus_t, *chosen)
        return self.layout.ravel([-y_dot, *pullback(adjoint)])


def _solve_fwd(func: _Dynamics, rtol: float, atol: float, mxstep: float, hmax: float,
               y0: Any, ts: Any, *params: Any) -> tuple[Any, tuple]:
    # through the custom rule again, so that differentiating this pass (reverse over
    # reverse) uses the adjoint method too
    ys = _odeint(func, rtol, atol, mxstep, hmax, y0, ts, *params)
    return ys, (ys, ts, params)


def _solve_bwd(func: _Dynamics, rtol: float, atol: float, mxstep: float, hmax: float,
               residuals: tuple, ys_bar: Any) -> tuple:
    ys, ts, params = residuals
    differentiable = [dtypes.is_float(get_aval(p).dtype) for p in params]
    state_aval = get_aval(ys[0])
    time_aval = get_aval(ts[0])
    chosen_avals = [get_aval(p).strip_weak_type() for p, d in zip(params, differentiable)
                    if d]
    layout = _Layout([state_aval, state_aval, time_aval, *chosen_avals],
                     dtypes.result_type(state_aval, *chosen_avals))
    augmented = _Augmented(func, layout, differentiable)

    def back_one_interval(carry: tuple, xs: tuple) -> tuple[tuple, Any]:
        adjoint, t0_bar, params_bar = carry
        y, t, t_before, y_bar_before, y_bar = xs
        # moving the requested time t moves its output along f
        t_bar = fnp.real(fnp.sum(func(y, t, *params) * y_bar))
        t0_bar = t0_bar - t_bar
        start = layout.ravel([y, adjoint, t0_bar, *params_bar])
        end = _odeint(augmented, rtol, atol, mxstep, hmax, start,
                      fnp.stack([-t, -t_before]), *params)[1]
        _, adjoint, t0_bar, *params_bar = layout.unravel(end)
        return (adjoint + y_bar_before, t0_bar, params_bar), t_bar

    init = (ys_bar[-1], fnp.zeros((), time_aval.dtype),
            [fnp.zeros(a.shape, a.dtype) for a in chosen_avals])
    xs = (ys[1:], ts[1:], ts[:-1], ys_bar[:-1], ys_bar[1:])
    (y0_bar, t0_bar, params_bar), ts_bar = lax.scan(back_one_interval, init, xs, reverse=True)
    it = iter(params_bar)
    params_ct = [next(it).astype(get_aval(p).dtype) if d else None
                 for p, d in zip(params, differentiable)]
    return (y0_bar, fnp.concatenate([t0_bar[None], ts_bar]), *params_ct)


_odeint = custom_vjp(_solve, nondiff_argnums=(0, 1, 2, 3, 4))
_odeint.defvjp(_solve_fwd, _solve_bwd)


# ------------------------------------------------------------------ the public function

def _check_options(rtol: Any, atol: Any, mxstep: Any, hmax: Any) -> tuple[float, ...]:
    values = []
    for name, value in (("rtol", rtol), ("atol", atol), ("mxstep", mxstep), ("hmax", hmax)):
        if isinstance(value, Tracer):
            raise TypeError(f"odeint: {name} must be a Python number (it is static), got a "
                            "traced value")
        value = float(value)
        if not value >= 0:
            raise ValueError(f"odeint: {name} must be non-negative, got {value}")
        values.append(value)
    if values[0] == 0 and values[1] == 0:
        raise ValueError("odeint: rtol and atol are both 0; give a positive tolerance")
    if values[2] < 1 or values[3] == 0:
        raise ValueError(f"odeint: mxstep ({mxstep}) must be at least 1 and hmax ({hmax}) "
                         "positive")
    return tuple(values)


def _times(t: Any) -> Any:
    t = fnp.asarray(t)
    if t.ndim != 1 or t.shape[0] < 1:
        raise ValueError(f"odeint: t must be a 1-D array of at least one time, got shape "
                         f"{t.shape}")
    if not dtypes.is_float(t.dtype) and t.dtype.kind not in "iub":
        raise TypeError(f"odeint: t must be real numbers, got dtype {t.dtype}")
    if t.dtype.kind == "c":
        raise TypeError(f"odeint: t must be real, got dtype {t.dtype}")
    if not isinstance(t, Tracer) and np.any(np.diff(t) < 0):
        raise ValueError(f"odeint: t must be non-decreasing, got {t}")
    return t


def _state_leaves(y0: Any) -> tuple[list[Any], PyTreeDef]:
    leaves, tree = tree_flatten(y0)
    if not leaves:
        raise ValueError("odeint: y0 has no arrays to integrate")
    arrays = []
    for i, leaf in enumerate(leaves):
        leaf = leaf if isinstance(leaf, Tracer) else np.asarray(leaf)
        if get_aval(leaf).dtype.kind not in "biufc":
            raise TypeError(f"odeint: leaf {i} of y0 has dtype {get_aval(leaf).dtype}; the "
                            "state must be numbers")
        arrays.append(leaf)
    return arrays, tree


def odeint(func: Callable[..., Any], y0: Any, t: Any, *args: Any, rtol: float = 1.4e-8,
           atol: float = 1.4e-8, mxstep: float = np.inf, hmax: float = np.inf) -> Any:
    """The solution of ``dy/dt = func(y, t, *args)`` with ``y(t[0]) = y0``, at the times
    `t` (as ``jax.experimental.ode.odeint``).

    Args:
      func: the derivative ``func(y, t, *args)``, with the structure and shapes of `y0`;
        it may close over arrays, including differentiated ones.
      y0: the initial state, an array or a pytree of arrays.
      t: the times, a 1-D array starting at the initial time, non-decreasing.
      *args: further arguments of `func` (arrays, or pytrees of them).
      rtol, atol: the relative and absolute error tolerances of each step.
      mxstep: the most steps (accepted or not) to reach each time of `t`.
      hmax: the largest step.

    Returns:
      The state at each time of `t`, stacked along a new leading axis (per leaf).

    Reverse-mode derivatives with respect to `y0`, `t`, `args` and the arrays `func`
    closes over use the adjoint method (memory independent of the number of steps);
    forward mode is not available (as in JAX). Differs from JAX: a time that `mxstep`
    steps do not reach comes out as NaN instead of an extrapolation.
    """
    if not callable(func):
        raise TypeError(f"odeint: func must be callable, got {func!r}")
    rtol, atol, mxstep, hmax = _check_options(rtol, atol, mxstep, hmax)
    t = _times(t)
    leaves, y_tree = _state_leaves(y0)
    dtype = dtypes.canonical_float(dtypes.result_type(*leaves, t))
    time_dtype = np.finfo(dtype).dtype
    out_avals = [ShapedArray(get_aval(x).shape,
                             dtypes.canonical_float(dtypes.result_type(x, t)))
                 for x in leaves]
    layout = _Layout(out_avals, dtype)
    arg_leaves, arg_tree = tree_flatten(args)
    dynamics, hoisted = _convert_closure(func, layout, y_tree, arg_leaves, arg_tree,
                                         time_dtype)
    ts = t.astype(time_dtype)
    ys = _odeint(dynamics, rtol, atol, mxstep, hmax, layout.ravel(leaves), ts, *hoisted,
                 *arg_leaves)
    return tree_unflatten(y_tree, layout.unravel(ys, (t.shape[0],)))
