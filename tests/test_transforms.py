"""The transformations and how they compose."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.core.ir import typecheck_jaxpr

# f(x) = sin(x) exp(x) and its derivatives in closed form.
F = [lambda x: np.sin(x) * np.exp(x),
     lambda x: (np.cos(x) + np.sin(x)) * np.exp(x),
     lambda x: 2 * np.cos(x) * np.exp(x),
     lambda x: 2 * (np.cos(x) - np.sin(x)) * np.exp(x)]


def f(x):
    return fnp.sin(x) * fnp.exp(x)


# ---------------------------------------------------------------- seeds' scalar example

def seed_z(u):
    return fnp.exp(fnp.sin(u**2) * fnp.log(u**2))


def seed_z_grad(u):
    z = np.exp(np.sin(u**2) * np.log(u**2))
    return z * (np.cos(u**2) * np.log(u**2) + np.sin(u**2) / u**2) * 2 * u


def test_seed_example_grad_and_jvp():
    u = 1.5
    np.testing.assert_allclose(ft.grad(seed_z)(u), seed_z_grad(u), rtol=1e-13)
    value, tangent = ft.jvp(seed_z, (u,), (1.0,))
    np.testing.assert_allclose(value, np.exp(np.sin(u**2) * np.log(u**2)), rtol=1e-14)
    np.testing.assert_allclose(tangent, seed_z_grad(u), rtol=1e-13)


def test_seed_example_jaxpr_text():
    text = str(ft.make_jaxpr(seed_z)(1.5))
    assert text.splitlines()[0] == "{ lambda ; a:f64[]. let"
    assert "integer_pow[y=2] a" in text
    for prim in ("sin", "log", "mul", "exp"):
        assert f" = {prim} " in text
    assert text.rstrip().endswith("in (f,) }") or "in (" in text.splitlines()[-1]


@pytest.mark.parametrize("order", [1, 2, 3])
def test_higher_order_matches_closed_form(order):
    x = 0.7
    g = f
    for _ in range(order):
        g = ft.grad(g)
    np.testing.assert_allclose(g(x), F[order](x), rtol=1e-12)


# ---------------------------------------------------------------- composition

def _as_scalar_fn(name, fn):
    """Each transformation, wrapped to map a scalar function to a scalar function."""
    if name == "grad":
        return ft.grad(fn)
    if name == "jvp":
        return lambda x: ft.jvp(fn, (x,), (fnp.ones_like(x),))[1]
    if name == "vjp":
        return lambda x: ft.vjp(fn, x)[1](fnp.ones_like(x))[0]
    if name == "jit":
        return ft.jit(fn)
    if name == "vmap":
        return lambda x: ft.vmap(fn)(fnp.stack([x, x + 1.0]))[0]
    raise ValueError(name)


_DIFFERENTIATING = {"grad", "jvp", "vjp"}
_NAMES = ["grad", "jvp", "vjp", "vmap", "jit"]


@pytest.mark.parametrize("outer,inner", list(itertools.product(_NAMES, _NAMES)))
def test_every_pair_composes(outer, inner):
    x = 0.3
    fn = _as_scalar_fn(outer, _as_scalar_fn(inner, f))
    order = (outer in _DIFFERENTIATING) + (inner in _DIFFERENTIATING)
    np.testing.assert_allclose(fn(x), F[order](x), rtol=1e-12)


def test_autodidax_style_stress():
    """One function differentiated many ways, all compared."""
    x = 0.4
    expected = F[2](x)
    ways = {
        "jvp(grad)": lambda: ft.jvp(ft.grad(f), (x,), (1.0,))[1],
        "grad(grad)": lambda: ft.grad(ft.grad(f))(x),
        "grad(jit(grad))": lambda: ft.grad(ft.jit(ft.grad(f)))(x),
        "jit(grad(jit(grad)))": lambda: ft.jit(ft.grad(ft.jit(ft.grad(f))))(x),
        "vmap(grad(grad))": lambda: ft.vmap(ft.grad(ft.grad(f)))(np.array([x, x]))[0],
        "grad(vmap sum)": lambda: ft.grad(lambda y: ft.grad(lambda z: ft.vmap(f)(z).sum())(
            y[None])[0])(x),
        "hessian": lambda: ft.hessian(f)(x),
        "jacfwd(jacrev)": lambda: ft.jacfwd(ft.jacrev(f))(x),
        "jacrev(jacfwd)": lambda: ft.jacrev(ft.jacfwd(f))(x),
        "linearize(grad)": lambda: ft.linearize(ft.grad(f), x)[1](1.0),
        "jit(jit(grad(grad)))": lambda: ft.jit(ft.jit(ft.grad(ft.grad(f))))(x),
    }
    for name, way in ways.items():
        np.testing.assert_allclose(way(), expected, rtol=1e-12, err_msg=name)


def test_jaxprs_of_transformed_functions_typecheck():
    x = np.linspace(0.1, 1.0, 4)
    g = lambda x: fnp.sum(fnp.tanh(x) ** 2 * fnp.sin(x))
    for fn in (g, ft.grad(g), ft.grad(ft.jit(g)), ft.vmap(ft.grad(g)),
               ft.jacfwd(ft.grad(g)), ft.jit(ft.grad(ft.jit(g)))):
        arg = x if fn is not ft.vmap(ft.grad(g)) else x[None]
        typecheck_jaxpr(ft.make_jaxpr(fn)(arg).jaxpr)


# ---------------------------------------------------------------- reverse mode API

def test_value_and_grad_argnums_and_aux():
    def loss(w, b, x):
        y = fnp.tanh(x @ w + b)
        return fnp.sum(y**2), y

    w, b, x = np.ones((3, 2)) * 0.1, np.zeros(2), np.arange(6.0).reshape(2, 3)
    (value, y), (gw, gb) = ft.value_and_grad(loss, argnums=(0, 1), has_aux=True)(w, b, x)
    yy = np.tanh(x @ w + b)
    np.testing.assert_allclose(value, np.sum(yy**2))
    np.testing.assert_allclose(y, yy)
    dy = 2 * yy * (1 - yy**2)
    np.testing.assert_allclose(gw, x.T @ dy, rtol=1e-12)
    np.testing.assert_allclose(gb, dy.sum(0), rtol=1e-12)


def test_grad_of_pytree_params():
    params = {"w": np.ones((2, 2)), "layers": [np.ones(2), (np.float64(2.0), None)]}

    def loss(p):
        return fnp.sum(p["w"] ** 2) + fnp.sum(p["layers"][0] * p["layers"][1][0])

    g = ft.grad(loss)(params)
    assert ft.tree_util.tree_structure(g) == ft.tree_util.tree_structure(params)
    np.testing.assert_allclose(g["w"], 2 * np.ones((2, 2)))
    np.testing.assert_allclose(g["layers"][0], [2.0, 2.0])
    np.testing.assert_allclose(g["layers"][1][0], 2.0)


def test_unused_input_gets_zero_of_right_shape_and_dtype():
    gx, gy = ft.grad(lambda x, y: fnp.sin(x), argnums=(0, 1))(1.0, np.ones(3, np.float32))
    assert gy.shape == (3,) and gy.dtype == np.float32 and not gy.any()


def test_linearized_jaxpr_has_no_work_for_a_zero_tangent():
    _, f_jvp = ft.linearize(lambda x, y: fnp.sin(x) * 2.0 + y * 0.0 + fnp.cos(x), 1.0, 2.0)
    # the tangent of y only reaches the output through a multiplication by zero
    np.testing.assert_allclose(f_jvp(1.0, 0.0), np.cos(1.0) * 2.0 - np.sin(1.0))


def test_float32_stays_float32():
    x = np.linspace(0.1, 1, 5, dtype=np.float32)
    g = ft.grad(lambda x: fnp.sum(fnp.exp(fnp.sin(x) * 2.0)))(x)
    assert g.dtype == np.float32
    h = ft.hessian(lambda x: fnp.sum(fnp.tanh(x) ** 3))(x)
    assert h.dtype == np.float32
    out, t = ft.jvp(lambda x: x * 3.0, (x,), (x,))
    assert out.dtype == t.dtype == np.float32


def test_numpy_array_on_the_left_of_an_operator():
    y = np.array([1.0, 2.0, 3.0])
    g = ft.grad(lambda t: fnp.sum((y - t) ** 2))(np.zeros(3))
    np.testing.assert_allclose(g, -2 * y)
    g2 = ft.grad(lambda t: fnp.sum(y * t + y / (t + 2.0)) + y @ t)(np.zeros(3))
    np.testing.assert_allclose(g2, y - y / 4.0 + y)


def test_python_control_flow_under_grad():
    def relu_loop(x, n):
        for _ in range(n):
            x = x * 2.0 if x < 1.0 else x - 0.5
        return x

    assert ft.grad(relu_loop)(0.3, 3) == 4.0


def test_stop_gradient():
    g = ft.grad(lambda x: x * ft.stop_gradient(x) + fnp.sin(ft.stop_gradient(x)))(2.0)
    assert g == 2.0


def test_deep_chain_does_not_recurse():
    def chain(x):
        for _ in range(100_000):
            x = fnp.sin(x)
        return x

    g = ft.grad(chain)(0.5)
    assert np.isfinite(g)


def test_threads_do_not_share_traces():
    results = {}

    def work(i):
        results[i] = ft.grad(lambda x: fnp.sin(x) * i)(0.5)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        np.testing.assert_allclose(results[i], i * np.cos(0.5))


# ---------------------------------------------------------------- forward mode, jacobians

def test_jvp_of_pytrees_and_integer_inputs():
    def fn(d, n):
        return {"s": fnp.sin(d["x"]) * n, "n": n}

    out, tangent = ft.jvp(fn, ({"x": 1.0}, 3), ({"x": 2.0}, np.zeros((), ft.float0)))
    np.testing.assert_allclose(tangent["s"], 6 * np.cos(1.0))
    assert tangent["n"].dtype == ft.float0


def test_jacobians_and_hessian():
    A = np.arange(12.0).reshape(4, 3) / 10
    fn = lambda x: fnp.tanh(A @ x)
    x = np.array([0.1, -0.2, 0.3])
    expected = (1 - np.tanh(A @ x) ** 2)[:, None] * A
    np.testing.assert_allclose(ft.jacfwd(fn)(x), expected, rtol=1e-12)
    np.testing.assert_allclose(ft.jacrev(fn)(x), expected, rtol=1e-12)
    loss = lambda x: fnp.sum(fnp.tanh(A @ x) ** 2)
    H = ft.hessian(loss)(x)
    t = np.tanh(A @ x)
    w = 2 * (1 - t**2) * (1 - 3 * t**2)
    np.testing.assert_allclose(H, A.T @ (w[:, None] * A), rtol=1e-12)
    assert H.shape == (3, 3)


def test_jacobian_pytree_structure():
    fn = lambda p: {"y": p["a"] * 2.0, "z": fnp.sum(p["b"])}
    p = {"a": np.ones(2), "b": np.ones(3)}
    for jac in (ft.jacfwd, ft.jacrev):
        J = jac(fn)(p)
        assert J["y"]["a"].shape == (2, 2) and J["y"]["b"].shape == (2, 3)
        assert J["z"]["a"].shape == (2,) and J["z"]["b"].shape == (3,)
        np.testing.assert_allclose(J["y"]["a"], 2 * np.eye(2))


# ---------------------------------------------------------------- vmap

def test_per_example_gradients():
    def loss(params, x, y):
        pred = fnp.tanh(x @ params["w"] + params["b"])
        return fnp.sum((pred - y) ** 2)

    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    xs, ys = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    batched = ft.vmap(ft.grad(loss), in_axes=(None, 0, 0))(params, xs, ys)
    for i in range(5):
        single = ft.grad(loss)(params, xs[i], ys[i])
        np.testing.assert_allclose(batched["w"][i], single["w"], rtol=1e-12)
        np.testing.assert_allclose(batched["b"][i], single["b"], rtol=1e-12)


def test_vmap_axes():
    x = np.arange(12.0).reshape(3, 4)
    out = ft.vmap(lambda r: fnp.sum(r * 2.0), in_axes=1)(x)
    np.testing.assert_allclose(out, 2 * x.sum(0))
    out = ft.vmap(lambda r: r * 2.0, in_axes=1, out_axes=1)(x)
    np.testing.assert_allclose(out, 2 * x)
    out = ft.vmap(lambda a, b: a + b, in_axes=(0, None))(x, np.ones(4))
    np.testing.assert_allclose(out, x + 1)
    out = ft.vmap(lambda d: d["a"] * d["b"], in_axes=({"a": 0, "b": None},))(
        {"a": x, "b": 3.0})
    np.testing.assert_allclose(out, 3 * x)
    with pytest.raises(ValueError, match="different sizes"):
        ft.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))


# ---------------------------------------------------------------- jit

def test_jit_caches_per_signature():
    traces = []

    def fn(x, n):
        traces.append(1)
        return x * n

    jf = ft.jit(fn, static_argnums=1)
    jf(np.ones(3), 2)
    jf(np.ones(3) * 5, 2)
    assert len(traces) == 1
    jf(np.ones(4), 2)          # new shape
    jf(np.ones(4, np.float32), 2)  # new dtype
    jf(np.ones(4), 3)          # new static value
    assert len(traces) == 4
    jf(1.0, 2)                 # weakly typed scalar
    jf(np.float64(1.0), 2)     # strongly typed scalar: a new signature
    assert len(traces) == 6
    jf(np.ones(4), 3)
    assert len(traces) == 6


def test_jit_pytree_signature_and_kwargs():
    traces = []

    def fn(p, scale=1.0):
        traces.append(1)
        return p["a"] * scale + p["b"]

    jf = ft.jit(fn)
    np.testing.assert_allclose(jf({"a": np.ones(2), "b": np.ones(2)}, scale=2.0), [3.0, 3.0])
    jf({"a": np.ones(2), "b": np.ones(2)}, scale=3.0)
    assert len(traces) == 1
    jf({"a": np.ones(2), "b": np.ones(2), "c": np.ones(2)}, scale=3.0)  # new structure
    assert len(traces) == 2


def test_jit_lower_shows_jaxpr():
    text = ft.jit(lambda x: fnp.sin(x) * 2.0).lower(np.ones(3)).as_text()
    assert "sin" in text and "f64[3]" in text


def test_jit_closure_over_outer_tracer():
    def outer(x):
        inner = ft.jit(lambda y: y * x)
        return inner(2.0)

    np.testing.assert_allclose(ft.grad(outer)(3.0), 2.0)


# ---------------------------------------------------------------- errors

def test_concretization_error_under_jit_names_function():
    def branchy(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(ft.ConcretizationTypeError, match="branchy") as info:
        ft.jit(branchy)(1.0)
    assert "static_argnums" in str(info.value)
    assert isinstance(info.value, TypeError)
    with pytest.raises(ft.ConcretizationTypeError):
        ft.make_jaxpr(lambda x: int(x))(1.0)


def test_grad_errors():
    with pytest.raises(TypeError, match=r"scalar output.*\(3,\).*vjp or jacrev"):
        ft.grad(lambda x: x * 2.0)(np.ones(3))
    with pytest.raises(TypeError, match="int64"):
        ft.grad(lambda x: x * 2.0)(3)
    with pytest.raises(TypeError, match="str"):
        ft.grad(lambda x: "a string")(1.0)
    with pytest.raises(TypeError, match="object"):
        ft.jit(lambda x: object())(1.0)


def test_vjp_cotangent_errors():
    _, f_vjp = ft.vjp(lambda x: fnp.sin(x), np.ones(3))
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        f_vjp(np.ones(4))
    with pytest.raises(TypeError, match="float32.*float64"):
        f_vjp(np.ones(3, np.float32))


def test_leaked_tracer_error():
    leaked = []

    def fn(x):
        leaked.append(x)
        return fnp.sin(x)

    ft.grad(fn)(1.0)
    with pytest.raises(ft.UnexpectedTracerError, match="already finished"):
        fnp.sin(leaked[0])
    ft.jit(fn)(1.0)
    with pytest.raises(ft.UnexpectedTracerError):
        ft.jit(lambda y: y + leaked[-1])(1.0)


def test_numpy_on_tracer_error():
    with pytest.raises(TypeError, match="functrans.numpy"):
        ft.grad(lambda x: np.asarray(x))(1.0)


def test_eval_shape_computes_nothing():
    calls = []

    def fn(params, x):
        calls.append(type(x).__name__)
        return {"y": fnp.tanh(x @ params["w"]), "n": fnp.sum(x)}

    params = {"w": ft.ShapeDtypeStruct((3, 4), np.float32)}
    out = ft.eval_shape(fn, params, np.ones((2, 3), np.float32))
    assert out == {"y": ft.ShapeDtypeStruct((2, 4), np.float32),
                   "n": ft.ShapeDtypeStruct((), np.float32)}
    assert calls == ["StagedTracer"]
