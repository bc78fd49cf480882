"""functrans.experimental.ode.odeint: values against SciPy's solve_ivp, reverse-mode
derivatives (the adjoint method) against finite differences and against differentiating
a fixed-step RK4 unrolled with scan, and jit / vmap / float32 / pytrees / closures."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate
from scipy.integrate._ivp.rk import RK45

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.experimental import ode
from functrans.experimental.ode import odeint
from functrans.test_util import check_grads

TIGHT = dict(rtol=1e-12, atol=1e-12)


def oscillator(y, t, k, c):
    """A damped spring: position y[0], velocity y[1]."""
    return fnp.stack([y[1], -k * y[0] - c * y[1]])


def oscillator_np(t, y, k, c):
    return [y[1], -k * y[0] - c * y[1]]


def lotka_volterra(y, t, a, b):
    prey, predator = y[0], y[1]
    return fnp.stack([a * prey - b * prey * predator, b * prey * predator - predator])


def forced(y, t, w):
    return -y + fnp.sin(w * t)


def reference(rhs, y0, ts, *args):
    """SciPy's solution at tight tolerances."""
    times, where = np.unique(ts, return_inverse=True)
    solution = scipy.integrate.solve_ivp(lambda t, y: rhs(t, y, *args), (ts[0], ts[-1]), y0,
                                         t_eval=times, method="DOP853", **TIGHT)
    return solution.y.T[where]


# ------------------------------------------------------------------ values

def test_method_constants_are_scipys():
    assert np.array_equal(ode._DENSE_OUTPUT, RK45.P)
    np.testing.assert_allclose(np.abs(ode._ERROR_WEIGHTS), np.abs(RK45.E), rtol=1e-12)
    np.testing.assert_allclose(ode._NODES[:6], RK45.C)


@pytest.mark.parametrize("ts", [np.linspace(0.0, 5.0, 11), np.array([0.0, 0.01, 0.3, 4.0]),
                                np.array([1.0, 1.0, 2.0])], ids=["uniform", "uneven", "repeat"])
def test_oscillator_against_solve_ivp(ts):
    y0 = np.array([1.0, -0.5])
    ys = odeint(oscillator, y0, ts, 2.0, 0.3)
    assert ys.shape == (len(ts), 2) and ys.dtype == np.float64
    np.testing.assert_allclose(ys, reference(oscillator_np, y0, ts, 2.0, 0.3), atol=1e-7)


def test_nonlinear_and_time_dependent_against_solve_ivp():
    ts = np.linspace(0.0, 6.0, 7)
    ys = odeint(lotka_volterra, np.array([1.0, 0.5]), ts, 1.5, 1.0, rtol=1e-10, atol=1e-10)
    expected = reference(lambda t, y, a, b: [a * y[0] - b * y[0] * y[1],
                                             b * y[0] * y[1] - y[1]],
                         [1.0, 0.5], ts, 1.5, 1.0)
    np.testing.assert_allclose(ys, expected, rtol=1e-7)
    ys = odeint(forced, np.array([0.0, 2.0]), ts, 3.0)
    expected = reference(lambda t, y, w: -y + np.sin(w * t), [0.0, 2.0], ts, 3.0)
    np.testing.assert_allclose(ys, expected, atol=1e-7)


def test_dense_output_between_steps_is_fifth_order_accurate():
    # exponential decay; many outputs inside each (large) step at loose tolerance
    ts = np.linspace(0.0, 2.0, 201)
    loose = odeint(lambda y, t: -y, np.ones(1), ts, rtol=1e-4, atol=1e-8)[:, 0]
    tight = odeint(lambda y, t: -y, np.ones(1), ts)[:, 0]
    assert np.abs(tight - np.exp(-ts)).max() < 1e-8
    assert np.abs(loose - np.exp(-ts)).max() < 1e-4


def test_pytree_state_and_args():
    ts = np.linspace(0.0, 1.0, 5)

    def f(state, t, params):
        return {"x": state["v"], "v": -params["w"] ** 2 * state["x"]}

    out = odeint(f, {"x": np.ones(3), "v": np.zeros(3)}, ts, {"w": 2.0})
    assert set(out) == {"x", "v"} and out["x"].shape == (5, 3)
    np.testing.assert_allclose(out["x"], np.cos(2 * ts)[:, None] * np.ones(3), atol=1e-8)
    np.testing.assert_allclose(out["v"], -2 * np.sin(2 * ts)[:, None] * np.ones(3),
                               atol=1e-8)


def test_single_time_and_scalar_state():
    np.testing.assert_array_equal(odeint(lambda y, t: -y, 2.0, np.array([0.0])), [2.0])
    out = odeint(lambda y, t: -y, 2.0, np.array([0.0, 1.0]))
    assert out.shape == (2,)
    np.testing.assert_allclose(out[1], 2 * np.exp(-1.0), rtol=1e-8)


def test_complex_state():
    ts = np.linspace(0.0, 1.0, 4)
    ys = odeint(lambda y, t, w: 1j * w * y, np.array([1.0 + 0.0j]), ts, 3.0)
    assert ys.dtype == np.complex128
    np.testing.assert_allclose(ys[:, 0], np.exp(3j * ts), atol=1e-7)


def test_mxstep_leaves_unreached_times_nan():
    out = odeint(lambda y, t: -y, np.ones(2), np.array([0.0, 0.5, 100.0]), mxstep=8)
    assert np.all(np.isfinite(out[:2])) and np.all(np.isnan(out[2]))


def test_hmax_bounds_the_step():
    # at loose tolerances the steps are long; capped at 0.01 the solution is far more
    # accurate than the tolerances ask, and 50 attempts no longer reach t = 1
    ts = np.array([0.0, 1.0])
    coarse = odeint(lambda y, t: -y, np.ones(1), ts, rtol=1e-2, atol=1e-2)
    fine = odeint(lambda y, t: -y, np.ones(1), ts, rtol=1e-2, atol=1e-2, hmax=0.01)
    assert abs(fine[1, 0] - np.exp(-1)) < 1e-3 * abs(coarse[1, 0] - np.exp(-1))
    assert np.isfinite(odeint(lambda y, t: -y, np.ones(1), ts, hmax=0.01, mxstep=150)[1, 0])
    assert np.isnan(odeint(lambda y, t: -y, np.ones(1), ts, hmax=0.01, mxstep=50)[1, 0])


def test_errors():
    y0, ts = np.ones(2), np.linspace(0.0, 1.0, 3)
    with pytest.raises(TypeError, match="func must be callable"):
        odeint(3.0, y0, ts)
    with pytest.raises(TypeError, match="structure of y0"):
        odeint(lambda y, t: (y, y), y0, ts)
    with pytest.raises(TypeError, match="shape \\(3,\\) for leaf 0 of the state, of shape"):
        odeint(lambda y, t: fnp.ones(3), y0, ts)
    with pytest.raises(TypeError, match="may not be wider than the state"):
        odeint(lambda y, t: y * np.float64(2.0), y0.astype(np.float32),
               ts.astype(np.float32))
    with pytest.raises(ValueError, match="non-decreasing"):
        odeint(lambda y, t: -y, y0, ts[::-1])
    with pytest.raises(ValueError, match="1-D array"):
        odeint(lambda y, t: -y, y0, 1.0)
    with pytest.raises(ValueError, match="rtol and atol are both 0"):
        odeint(lambda y, t: -y, y0, ts, rtol=0, atol=0)
    with pytest.raises(ValueError, match="mxstep"):
        odeint(lambda y, t: -y, y0, ts, mxstep=0)


# ------------------------------------------------------------------ derivatives

def _fd(fun, x, eps=1e-6):
    """Central differences of a scalar function of an array (float64)."""
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        out[i] = (fun(x + e) - fun(x - e)) / (2 * eps)
    return out


def test_gradients_against_finite_differences_of_scipy():
    """d/d(y0, k, c, t) of a loss over the whole trajectory, the adjoint method against
    central differences of SciPy's solution."""
    ts = np.array([0.0, 0.7, 1.5, 3.0])
    y0, k, c = np.array([1.0, -0.5]), 2.0, 0.3
    weights = np.array([[0.0, 0.0], [1.0, -2.0], [0.5, 1.0], [3.0, 0.2]])

    def loss(y0, k, c, ts):
        return fnp.sum(weights * odeint(oscillator, y0, ts, k, c) ** 2)

    def loss_np(y0, k, c, ts):
        return np.sum(weights * reference(oscillator_np, y0, ts, k, c) ** 2)

    grads = ft.grad(loss, argnums=(0, 1, 2, 3))(y0, k, c, ts)
    expected = (_fd(lambda y: loss_np(y, k, c, ts), y0),
                _fd(lambda k: loss_np(y0, k, c, ts), k),
                _fd(lambda c: loss_np(y0, k, c, ts), c),
                _fd(lambda t: loss_np(y0, k, c, t), ts))
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def _rk4(f, y0, ts, steps_per_interval, *args):
    """A fixed-step classical RK4, unrolled with scan: differentiated by functrans'
    own reverse mode (backpropagation through every step)."""
    def interval(y, t_pair):
        t, t_next = t_pair
        h = (t_next - t) / steps_per_interval

        def step(y, i):
            s = t + i * h
            k1 = f(y, s, *args)
            k2 = f(y + h / 2 * k1, s + h / 2, *args)
            k3 = f(y + h / 2 * k2, s + h / 2, *args)
            k4 = f(y + h * k3, s + h, *args)
            return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None

        y, _ = lax.scan(step, y, fnp.arange(steps_per_interval, dtype=ts.dtype))
        return y, y

    _, ys = lax.scan(interval, y0, (ts[:-1], ts[1:]))
    return fnp.concatenate([y0[None], ys])


def test_adjoint_gradients_match_backprop_through_rk4():
    ts = np.linspace(0.0, 4.0, 5)
    y0, a, b = np.array([1.0, 0.5]), 1.5, 1.0

    def loss(solve, y0, a, b):
        return fnp.sum(solve(lotka_volterra, y0, ts, a, b)[:, 1] ** 2)

    def solve(*args):
        return odeint(*args, rtol=1e-10, atol=1e-10)

    adjoint = ft.grad(lambda *p: loss(solve, *p), argnums=(0, 1, 2))(y0, a, b)
    unrolled = ft.grad(lambda *p: loss(lambda *q: _rk4(*q[:3], 200, *q[3:]), *p),
                       argnums=(0, 1, 2))(y0, a, b)
    for got, want in zip(adjoint, unrolled):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_check_grads_reverse_mode_order_2():
    ts = np.array([0.0, 0.5, 1.0])
    check_grads(lambda y0, w: odeint(forced, y0, ts, w), (np.array([0.3, -0.2]), 2.0),
                order=2, modes=("rev",), rtol=1e-5, atol=1e-6)


def test_closed_over_parameters_are_differentiated():
    ts = np.linspace(0.0, 1.0, 3)

    def loss(k):
        return fnp.sum(odeint(lambda y, t: -k * y, np.ones(2), ts))

    expected = np.sum(-ts * np.exp(-0.8 * ts)) * 2
    np.testing.assert_allclose(ft.grad(loss)(0.8), expected, rtol=1e-7)
    np.testing.assert_allclose(ft.jit(ft.grad(loss))(0.8), expected, rtol=1e-7)


def test_forward_mode_is_refused():
    with pytest.raises(TypeError, match="forward-mode"):
        ft.jvp(lambda y0: odeint(lambda y, t: -y, y0, np.array([0.0, 1.0])), (np.ones(1),),
               (np.ones(1),))


def test_reverse_mode_keeps_only_the_requested_times():
    """Memory independent of the number of steps: the forward pass's residuals are the
    solution at the requested times, whatever the step size."""
    ts = np.array([0.0, 1.0, 2.0])
    for hmax in (0.5, 0.001):
        _, residuals = ode._solve_fwd(lambda y, t: -y, 1e-8, 1e-8, np.inf, hmax, np.ones(3),
                                      ts)
        ys, times, params = residuals
        assert ys.shape == (3, 3) and times.shape == (3,) and params == ()


# ------------------------------------------------------------------ transformations and dtypes

def test_jit_and_vmap():
    ts = np.linspace(0.0, 2.0, 4)
    ks = np.array([0.5, 1.0, 2.0])

    def solve(y0, k):
        return odeint(oscillator, y0, ts, k, 0.1)

    y0s = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    expected = np.stack([solve(y0, k) for y0, k in zip(y0s, ks)])
    np.testing.assert_allclose(ft.vmap(solve)(y0s, ks), expected, atol=1e-12)
    np.testing.assert_allclose(ft.jit(ft.vmap(solve, in_axes=(0, None)))(y0s, 1.0),
                               np.stack([solve(y0, 1.0) for y0 in y0s]), atol=1e-12)

    def loss(k):
        return fnp.sum(solve(np.array([1.0, 0.0]), k) ** 2)

    np.testing.assert_allclose(ft.vmap(ft.grad(loss))(ks), [ft.grad(loss)(k) for k in ks],
                               rtol=1e-10)


def test_float32_is_kept():
    ts = np.linspace(0.0, 1.0, 3, dtype=np.float32)
    y0 = np.array([1.0, 0.0], np.float32)
    ys = odeint(oscillator, y0, ts, np.float32(2.0), np.float32(0.1))
    assert ys.dtype == np.float32
    np.testing.assert_allclose(ys, odeint(oscillator, y0.astype(float), ts.astype(float), 2.0,
                                          0.1), rtol=1e-5, atol=1e-5)
    grads = ft.grad(lambda y0, k: fnp.sum(odeint(oscillator, y0, ts, k, np.float32(0.1))),
                    argnums=(0, 1))(y0, np.float32(2.0))
    assert grads[0].dtype == np.float32 and grads[1].dtype == np.float32
    # float64 times promote a float32 state, as float32 combined with float64 does
    assert odeint(oscillator, y0, ts.astype(float), 2.0, 0.1).dtype == np.float64
