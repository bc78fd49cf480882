"""custom_jvp and custom_vjp: the rule is used, and composes with jit, vmap and
higher-order differentiation; the library's numerically safe functions."""

from functools import partial

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import nn
from functrans.higher_order.custom_derivatives import SymbolicZero, custom_jvp, custom_vjp
from functrans.scipy.special import logsumexp
from functrans.test_util import check_grads, inner_prod, numerical_jvp, rand_like

X = 0.7
Y = 1.5
XS = np.linspace(0.1, 1.0, 4)


# A deliberately wrong rule (twice the true derivative) shows it is used.
@custom_jvp
def doubled_sin(x):
    return fnp.sin(x)


@doubled_sin.defjvp
def _doubled_sin_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return doubled_sin(x), 2.0 * fnp.cos(x) * t


@custom_vjp
def tripled(x, y):
    return fnp.sin(x) * y


def _tripled_fwd(x, y):
    return fnp.sin(x) * y, (fnp.cos(x), fnp.sin(x), y)


def _tripled_bwd(res, g):
    cos_x, sin_x, y = res
    return 3.0 * cos_x * y * g, sin_x * g


tripled.defvjp(_tripled_fwd, _tripled_bwd)


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ custom_jvp

def test_jvp_value_is_the_function():
    _close(doubled_sin(XS), np.sin(XS))
    _close(ft.jit(doubled_sin)(XS), np.sin(XS))
    _close(ft.vmap(doubled_sin)(XS), np.sin(XS))


@pytest.mark.parametrize("how", ["grad", "jvp", "jit(grad)", "grad(jit)", "vmap(grad)",
                                 "grad(vmap)", "jit(vmap(grad))", "linearize"])
def test_jvp_rule_is_used(how):
    want = 2.0 * np.cos(XS)
    g = ft.grad(doubled_sin)
    if how == "grad":
        got = [g(x) for x in XS]
    elif how == "jvp":
        got = ft.jvp(doubled_sin, (XS,), (np.ones(4),))[1]
    elif how == "jit(grad)":
        got = [ft.jit(g)(x) for x in XS]
    elif how == "grad(jit)":
        got = [ft.grad(ft.jit(doubled_sin))(x) for x in XS]
    elif how == "vmap(grad)":
        got = ft.vmap(g)(XS)
    elif how == "grad(vmap)":
        got = ft.grad(lambda v: fnp.sum(ft.vmap(doubled_sin)(v)))(XS)
    elif how == "jit(vmap(grad))":
        got = ft.jit(ft.vmap(g))(XS)
    else:
        got = ft.linearize(doubled_sin, XS)[1](np.ones(4))
    _close(got, want)


def test_jvp_higher_order_differentiates_the_rule():
    _close(ft.grad(ft.grad(doubled_sin))(X), -2.0 * np.sin(X))
    _close(ft.jacfwd(ft.jacrev(doubled_sin))(X), -2.0 * np.sin(X))
    _close(ft.vmap(ft.grad(ft.grad(doubled_sin)))(XS), -2.0 * np.sin(XS))


def test_jvp_staged_under_jit_keeps_the_rule():
    jaxpr = ft.make_jaxpr(doubled_sin)(X)
    assert "custom_jvp_call" in str(jaxpr)
    jitted = ft.jit(doubled_sin)
    jitted(X)
    _close(ft.grad(jitted)(X), 2.0 * np.cos(X))


def test_jvp_check_grads_with_a_correct_rule():
    @custom_jvp
    def f(x, y):
        return fnp.sin(x) * fnp.exp(y)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        out = f(x, y)
        return out, fnp.cos(x) * fnp.exp(y) * tx + out * ty

    check_grads(f, (XS, XS[::-1]), order=2)
    check_grads(ft.jit(f), (XS, XS[::-1]), order=2)
    check_grads(ft.vmap(f), (XS, XS[::-1]), order=1)


def test_jvp_defjvps_and_partial_zero_tangents():
    @custom_jvp
    def f(x, y):
        return fnp.sin(x) * y

    f.defjvps(lambda tx, ans, x, y: 2.0 * fnp.cos(x) * tx * y,
              lambda ty, ans, x, y: fnp.sin(x) * ty)
    gx, gy = ft.grad(f, (0, 1))(X, Y)
    _close(gx, 2.0 * np.cos(X) * Y)
    _close(gy, np.sin(X))
    _close(ft.grad(f, 1)(X, Y), np.sin(X))
    _close(ft.jvp(f, (X, Y), (0.0, 1.0))[1], np.sin(X))


def test_jvp_symbolic_zeros():
    seen = []

    @custom_jvp
    def f(x, y):
        return x * y

    @partial(f.defjvp, symbolic_zeros=True)
    def f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        seen.append((type(tx) is SymbolicZero, type(ty) is SymbolicZero))
        out = 0.0
        if type(tx) is not SymbolicZero:
            out = out + tx * y
        if type(ty) is not SymbolicZero:
            out = out + x * ty
        return f(x, y), out

    _close(ft.grad(f)(2.0, 3.0), 3.0)
    assert seen[-1] == (False, True)
    _close(ft.grad(f, 1)(2.0, 3.0), 2.0)
    assert seen[-1] == (True, False)


def test_jvp_nondiff_argnums_static_and_traced():
    @partial(custom_jvp, nondiff_argnums=(1,))
    def power(x, n):
        return x ** n

    @power.defjvp
    def power_jvp(n, primals, tangents):
        (x,), (t,) = primals, tangents
        return power(x, n), 100.0 * n * t

    assert ft.grad(power)(2.0, 3) == 300.0
    _close(ft.vmap(ft.grad(power), (0, None))(XS, 3), np.full(4, 300.0))
    # a traced nondiff argument (batched by vmap) reaches the rule as a value
    _close(ft.vmap(lambda x, n: ft.grad(power)(x, n))(XS, XS), 100.0 * XS)
    _close(ft.jit(ft.grad(power), static_argnums=1)(2.0, 2), 200.0)


def test_jvp_nondiff_function_argument():
    @partial(custom_jvp, nondiff_argnums=(0,))
    def apply(f, x):
        return f(x)

    @apply.defjvp
    def apply_jvp(f, primals, tangents):
        (x,), (t,) = primals, tangents
        return apply(f, x), 7.0 * t

    assert ft.grad(lambda x: apply(fnp.sin, x))(X) == 7.0
    _close(ft.jit(ft.vmap(ft.grad(lambda x: apply(fnp.exp, x))))(XS), np.full(4, 7.0))


def test_jvp_pytrees_in_and_out():
    @custom_jvp
    def f(d):
        return {"s": fnp.sin(d["a"]) * d["b"], "pair": (d["a"], 3)}

    @f.defjvp
    def f_jvp(primals, tangents):
        (d,), (td,) = primals, tangents
        s_dot = fnp.cos(d["a"]) * td["a"] * d["b"] + fnp.sin(d["a"]) * td["b"]
        return f(d), {"s": s_dot, "pair": (td["a"], np.zeros((), ft.float0))}

    g = ft.grad(lambda d: f(d)["s"])({"a": X, "b": Y})
    _close(g["a"], np.cos(X) * Y)
    _close(g["b"], np.sin(X))
    out, tangent = ft.jvp(f, ({"a": X, "b": Y},), ({"a": 1.0, "b": 0.0},))
    assert out["pair"][1] == 3
    _close(tangent["s"], np.cos(X) * Y)


def test_jvp_keyword_arguments():
    @custom_jvp
    def f(x, scale=2.0):
        return x * scale

    f.defjvp(lambda p, t: (f(*p), 10.0 * t[0]))
    assert ft.grad(lambda x: f(x, scale=3.0))(1.0) == 10.0


def test_jvp_closure_over_differentiated_value():
    def outer(a):
        @custom_jvp
        def h(x):
            return fnp.sin(x) * a

        @h.defjvp
        def h_jvp(p, t):
            return h(p[0]), fnp.cos(p[0]) * a * t[0]

        return h(X)

    # the closed-over `a` is differentiated through the function itself
    _close(ft.grad(outer)(2.0), np.sin(X))
    _close(ft.grad(ft.jit(outer))(2.0), np.sin(X))


def test_jvp_rule_errors():
    @custom_jvp
    def f(x):
        return x * 2.0

    with pytest.raises(AttributeError, match="No JVP defined"):
        ft.grad(f)(1.0)
    f.defjvp(lambda p, t: (f(*p), fnp.ones(3)))
    with pytest.raises(ValueError, match="tangent output 0 has shape"):
        ft.grad(f)(1.0)
    f.defjvp(lambda p, t: f(*p))
    with pytest.raises(TypeError, match="must return a pair"):
        ft.jvp(f, (np.ones(2),), (np.ones(2),))
    f.defjvp(lambda p, t: ((f(*p),), t[0]))
    with pytest.raises(TypeError, match="structure"):
        ft.grad(f)(1.0)


# ------------------------------------------------------------------ custom_vjp

@pytest.mark.parametrize("how", ["grad", "jit(grad)", "grad(jit)", "vjp"])
def test_vjp_rule_is_used(how):
    want = (3.0 * np.cos(X) * Y, np.sin(X))
    g = ft.grad(tripled, (0, 1))
    if how == "grad":
        got = g(X, Y)
    elif how == "jit(grad)":
        got = ft.jit(g)(X, Y)
    elif how == "grad(jit)":
        got = ft.grad(ft.jit(tripled), (0, 1))(X, Y)
    else:
        got = ft.vjp(tripled, X, Y)[1](1.0)
    _close(got[0], want[0])
    _close(got[1], want[1])


def test_vjp_value_is_the_function():
    _close(tripled(XS, Y), np.sin(XS) * Y)
    _close(ft.jit(tripled)(XS, Y), np.sin(XS) * Y)
    _close(ft.vmap(tripled, (0, None))(XS, Y), np.sin(XS) * Y)


def test_vjp_batching():
    want_x = 3.0 * np.cos(XS) * Y
    _close(ft.vmap(ft.grad(tripled), (0, None))(XS, Y), want_x)
    _close(ft.jit(ft.vmap(ft.grad(tripled), (0, None)))(XS, Y), want_x)
    gx, gy = ft.grad(lambda v, y: fnp.sum(ft.vmap(tripled, (0, None))(v, y)), (0, 1))(XS, Y)
    _close(gx, want_x)
    _close(gy, np.sum(np.sin(XS)))  # the unbatched argument's cotangent is summed
    gx = ft.grad(lambda v: fnp.sum(ft.jit(ft.vmap(tripled, (0, None)))(v, Y)))(XS)
    _close(gx, want_x)


def test_vjp_higher_order():
    # bwd is differentiated: d/dx (3 cos(x) y) = -3 sin(x) y
    _close(ft.grad(ft.grad(tripled))(X, Y), -3.0 * np.sin(X) * Y)
    _close(ft.jacfwd(ft.grad(tripled))(X, Y), -3.0 * np.sin(X) * Y)
    _close(ft.vmap(ft.grad(ft.grad(tripled)), (0, None))(XS, Y), -3.0 * np.sin(XS) * Y)


def test_vjp_forward_mode_is_refused():
    with pytest.raises(TypeError, match="can't apply forward-mode autodiff"):
        ft.jvp(tripled, (X, Y), (1.0, 0.0))
    with pytest.raises(TypeError, match="can't apply forward-mode autodiff"):
        ft.jacfwd(tripled)(X, Y)
    with pytest.raises(TypeError, match="can't apply forward-mode autodiff"):
        ft.jit(lambda x: ft.jvp(lambda u: tripled(u, Y), (x,), (1.0,))[1])(X)
    with pytest.raises(TypeError, match="can't apply forward-mode autodiff"):
        ft.vmap(lambda x: ft.jvp(lambda u: tripled(u, Y), (x,), (1.0,))[1])(XS)


def _check_vjp_numerically(f, args):
    """Dot-product test of the VJP against central differences."""
    rng = np.random.default_rng(0)
    out, f_vjp = ft.vjp(f, *args)
    u = rand_like(rng, args)
    v = rand_like(rng, out)
    lhs = inner_prod(v, numerical_jvp(f, args, u))
    rhs = inner_prod(f_vjp(v), u)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-6)


def test_vjp_correct_rule_passes_numerical_check():
    @custom_vjp
    def f(x, y):
        return fnp.sin(x) * y

    f.defvjp(lambda x, y: (fnp.sin(x) * y, (x, y)),
             lambda res, g: (fnp.cos(res[0]) * res[1] * g, fnp.sin(res[0]) * g))
    _check_vjp_numerically(f, (XS, XS[::-1]))
    _check_vjp_numerically(ft.jit(f), (XS, XS[::-1]))
    _check_vjp_numerically(ft.vmap(f), (XS, XS[::-1]))


def test_vjp_nondiff_argnums():
    @partial(custom_vjp, nondiff_argnums=(0,))
    def apply(f, x):
        return f(x)

    apply.defvjp(lambda f, x: (f(x), x), lambda f, x, g: (10.0 * g,))
    assert ft.grad(lambda x: apply(fnp.sin, x))(X) == 10.0
    _close(ft.vmap(ft.grad(lambda x: apply(fnp.sin, x)))(XS), np.full(4, 10.0))

    @partial(custom_vjp, nondiff_argnums=(1,))
    def scale(x, s):
        return x * s

    scale.defvjp(lambda x, s: (x * s, None), lambda s, res, g: (g * s * 2.0,))
    _close(ft.vmap(ft.grad(scale))(XS, XS), 2.0 * XS)  # traced nondiff argument


def test_vjp_pytree_residuals_and_none_cotangent():
    @custom_vjp
    def f(d, y):
        return {"out": d["a"] * d["b"] * y}

    def fwd(d, y):
        return f(d, y), {"d": d, "extra": [y, None]}

    def bwd(res, g):
        d = res["d"]
        return {"a": g["out"] * d["b"], "b": None}, None

    f.defvjp(fwd, bwd)
    gd, gy = ft.grad(lambda d, y: f(d, y)["out"], (0, 1))({"a": 2.0, "b": 3.0}, 4.0)
    assert (gd["a"], gd["b"], gy) == (3.0, 0.0, 0.0)


def test_vjp_integer_output():
    @custom_vjp
    def f(x):
        return x * 2.0, fnp.argmax(x)

    f.defvjp(lambda x: (f(x), None), lambda res, g: (5.0 * g[0],))
    _close(ft.grad(lambda x: fnp.sum(f(x)[0]))(XS), np.full(4, 5.0))
    _close(ft.vmap(ft.grad(lambda x: fnp.sum(f(x)[0])))(np.stack([XS, XS])), np.full((2, 4), 5.0))


def test_vjp_errors():
    @custom_vjp
    def f(x):
        return x * 2.0

    with pytest.raises(AttributeError, match="No VJP defined"):
        ft.grad(f)(1.0)
    f.defvjp(lambda x: (f(x), None), lambda res, g: g)
    with pytest.raises(TypeError, match="one cotangent per differentiable argument"):
        ft.grad(f)(1.0)
    f.defvjp(lambda x: (f(x), None), lambda res, g: (np.ones(3),))
    with pytest.raises(ValueError, match="shape"):
        ft.grad(f)(1.0)

    def outer(a):
        @custom_vjp
        def h(x):
            return x * a

        h.defvjp(lambda x: (h(x), None), lambda res, g: (g,))
        return h(X)

    with pytest.raises(TypeError, match="closes over a value that is being differentiated"):
        ft.grad(outer)(2.0)


def test_vjp_float32_stays_float32():
    x32 = np.float32(0.5)
    g = ft.grad(tripled)(x32, np.float32(2.0))
    assert g.dtype == np.float32


# ------------------------------------------------------------------ library uses

def test_norm_at_zero_has_zero_gradient():
    _close(ft.grad(fnp.linalg.norm)(np.zeros(3)), np.zeros(3))
    _close(ft.grad(fnp.linalg.norm)(np.array([3.0, 4.0])), [0.6, 0.8])
    _close(ft.vmap(ft.grad(fnp.linalg.norm))(np.array([[0.0, 0.0], [3.0, 4.0]])),
           [[0.0, 0.0], [0.6, 0.8]])
    check_grads(fnp.linalg.norm, (np.array([1.0, -2.0, 0.5]),), order=2)


def test_logaddexp_and_softplus_finite_at_extremes():
    x = np.array([1.0, -np.inf, np.inf, -40.0, 1000.0, -1000.0])
    grads = ft.vmap(ft.grad(nn.softplus))(x)
    assert np.all(np.isfinite(grads))
    _close(grads, 1 / (1 + np.exp(-np.clip(x, -700, 700))))
    second = ft.vmap(ft.grad(ft.grad(nn.softplus)))(x)
    assert np.all(np.isfinite(second))
    _close(ft.grad(lambda x: fnp.logaddexp(x, x))(np.inf), 1.0)
    assert nn.softplus(-40.0) == np.logaddexp(-40.0, 0.0)  # log1p accuracy
    assert np.all(np.isfinite(ft.vmap(ft.grad(nn.log_sigmoid))(x)))
    check_grads(fnp.logaddexp, (XS, XS[::-1]), order=2)


def test_logsumexp_gradient_with_infinities():
    _close(ft.grad(logsumexp)(np.array([-np.inf, -np.inf])), [0.0, 0.0])
    _close(ft.grad(logsumexp)(np.array([np.inf, 1.0, np.inf])), [0.5, 0.0, 0.5])
    g = ft.grad(logsumexp)(np.array([-np.inf, 0.0, 1.0]))
    _close(g, [0.0, 1 / (1 + np.e), np.e / (1 + np.e)])
    mask = np.array([True, False, True])
    _close(ft.grad(lambda x: logsumexp(x, where=mask))(np.array([1.0, 2.0, 3.0])),
           [1 / (1 + np.e ** 2), 0.0, np.e ** 2 / (1 + np.e ** 2)])
    a = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]])
    check_grads(lambda x: logsumexp(x, axis=1), (a,), order=2)
    check_grads(lambda x: logsumexp(x, axis=0, keepdims=True), (a,), order=1)


def test_sigmoid_finite_at_extremes():
    x = np.array([-1000.0, 0.0, 1000.0])
    assert np.all(np.isfinite(ft.vmap(ft.grad(nn.sigmoid))(x)))
    assert np.all(np.isfinite(ft.vmap(ft.grad(ft.grad(nn.sigmoid)))(x)))


@pytest.mark.parametrize("fn", [doubled_sin, lambda x: tripled(x, fnp.ones_like(x))])
def test_rules_inside_scan_and_checkpoint(fn):
    try:
        from functrans.higher_order.control_flow import scan
    except ImportError:
        pytest.skip("scan is not available")
    from functrans.higher_order.checkpoint import checkpoint

    steps = np.linspace(0.5, 1.0, 3)

    def loop(x):
        for a in steps:
            x = fn(x) * a
        return fnp.sum(x)

    def scanned(x, body=fn):
        return fnp.sum(scan(lambda c, a: (body(c) * a, None), x, steps)[0])

    want = ft.grad(loop)(XS)
    _close(ft.grad(scanned)(XS), want)
    _close(ft.jit(ft.grad(scanned))(XS), want)
    _close(ft.grad(lambda x: scanned(x, checkpoint(fn)))(XS), want)
    _close(ft.vmap(ft.grad(lambda x: scanned(x[None])))(XS), want)
