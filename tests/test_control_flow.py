"""Structured control flow (cond, switch, scan, fori_loop, while_loop) against the
same computations written with Python control flow, under every transformation."""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.errors import ConcretizationTypeError
from functrans.higher_order.control_flow import cond, fori_loop, scan, switch, while_loop
from functrans.test_util import check_grads
from functrans.transforms.linearize import linearize_flat

RNG = np.random.default_rng(0)
X = RNG.standard_normal(3)
Y = RNG.standard_normal(3)
W = RNG.standard_normal((3, 3)) * 0.5
XS = RNG.standard_normal((5, 3))
BATCH = RNG.standard_normal((4, 3))


def close(a, b, tol=1e-10):
    for u, v in zip(ft.tree_util.tree_leaves(a), ft.tree_util.tree_leaves(b), strict=True):
        u, v = np.asarray(u), np.asarray(v)
        if ft.float0 in (u.dtype, v.dtype):
            assert u.dtype == v.dtype and u.shape == v.shape
            continue
        np.testing.assert_allclose(u, v, rtol=tol, atol=tol)


def eqns_named(closed, name):
    """Equations of primitive `name`, searched recursively through sub-jaxprs."""
    found = []
    for eqn in closed.jaxpr.eqns:
        if eqn.primitive.name == name:
            found.append(eqn)
        for p in eqn.params.values():
            for sub in p if isinstance(p, tuple) else (p,):
                if isinstance(sub, ft.ClosedJaxpr):
                    found.extend(eqns_named(sub, name))
    return found


# ------------------------------------------------------------------ cond / switch

def branchy(x, y):
    """cond with pytree operands and outputs, closing over x."""
    def true_fun(ops):
        a, b = ops
        return {"s": fnp.sin(a) * b, "t": a * x}

    def false_fun(ops):
        a, b = ops
        return {"s": fnp.cos(a) + b * b, "t": a - x}

    return cond(fnp.sum(x) > 0, true_fun, false_fun, (x * 2.0, y))


def branchy_python(x, y):
    a, b = x * 2.0, y
    if fnp.sum(x) > 0:
        return {"s": fnp.sin(a) * b, "t": a * x}
    return {"s": fnp.cos(a) + b * b, "t": a - x}


def scalar_of(f):
    return lambda x, y: fnp.sum(f(x, y)["s"] ** 2) + fnp.sum(fnp.sin(f(x, y)["t"]))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_matches_python_under_grad_jvp_jit(sign):
    x = sign * np.abs(X)
    close(branchy(x, Y), branchy_python(x, Y))
    close(ft.jit(branchy)(x, Y), branchy_python(x, Y))
    close(ft.grad(scalar_of(branchy), (0, 1))(x, Y), ft.grad(scalar_of(branchy_python),
                                                              (0, 1))(x, Y))
    close(ft.jvp(branchy, (x, Y), (Y, X)), ft.jvp(branchy_python, (x, Y), (Y, X)))
    close(ft.jit(ft.grad(scalar_of(branchy)))(x, Y), ft.grad(scalar_of(branchy_python))(x, Y))
    close(ft.grad(ft.jit(scalar_of(branchy)))(x, Y), ft.grad(scalar_of(branchy_python))(x, Y))


def test_cond_vmap_batched_and_unbatched_predicate():
    xs = BATCH * np.array([[1.0], [-1.0], [1.0], [-1.0]])  # both branches taken
    expected = [branchy_python(x, Y) for x in xs]
    out = ft.vmap(branchy, (0, None))(xs, Y)
    for i, e in enumerate(expected):
        close({k: v[i] for k, v in out.items()}, e)
    # predicate not batched: only the operand y is mapped
    out = ft.vmap(branchy, (None, 0))(X, BATCH)
    for i, y in enumerate(BATCH):
        close({k: v[i] for k, v in out.items()}, branchy_python(X, y))


def test_cond_grad_of_vmap_and_vmap_of_grad():
    xs = BATCH * np.array([[1.0], [-1.0], [1.0], [-1.0]])
    f, fp = scalar_of(branchy), scalar_of(branchy_python)
    g = ft.grad(lambda xs: fnp.sum(ft.vmap(f, (0, None))(xs, Y)))(xs)
    close(g, np.stack([ft.grad(fp)(x, Y) for x in xs]))
    close(ft.vmap(ft.grad(f), (0, None))(xs, Y), np.stack([ft.grad(fp)(x, Y) for x in xs]))
    close(ft.jit(ft.vmap(ft.grad(f), (0, None)))(xs, Y),
          np.stack([ft.grad(fp)(x, Y) for x in xs]))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_higher_order(sign):
    x = sign * np.abs(X)
    f = lambda x: scalar_of(branchy)(x, Y)  # noqa: E731
    fp = lambda x: scalar_of(branchy_python)(x, Y)  # noqa: E731
    close(ft.hessian(f)(x), ft.hessian(fp)(x), 1e-9)
    close(ft.grad(lambda x: fnp.sum(ft.grad(f)(x) ** 2))(x),
          ft.grad(lambda x: fnp.sum(ft.grad(fp)(x) ** 2))(x), 1e-9)
    check_grads(lambda x, y: scalar_of(branchy)(x, y), (x, Y), order=2)


def test_switch_clamps_and_differentiates():
    branches = [lambda v: v * 2.0, lambda v: fnp.sin(v), lambda v: v ** 3]
    python = [lambda v: v * 2.0, lambda v: fnp.sin(v), lambda v: v ** 3]
    for i in range(-2, 5):
        j = min(max(i, 0), 2)
        close(switch(i, branches, X), python[j](X))
        close(ft.jit(lambda i, x: switch(i, branches, x))(i, X), python[j](X))
        close(ft.grad(lambda x: fnp.sum(switch(i, branches, x)))(X),
              ft.grad(lambda x: fnp.sum(python[j](x)))(X))
    idx = np.array([0, 1, 2, 7])
    out = ft.vmap(lambda i, x: switch(i, branches, x))(idx, BATCH)
    close(out, np.stack([python[min(i, 2)](x) for i, x in zip(idx, BATCH)]))
    g = ft.vmap(ft.grad(lambda x, i: fnp.sum(switch(i, branches, x))))(BATCH, idx)
    close(g, np.stack([ft.grad(lambda x: fnp.sum(python[min(i, 2)](x)))(x)
                       for i, x in zip(idx, BATCH)]))
    check_grads(lambda x: switch(1, branches, x), (X,), order=2)


def test_cond_symbolic_zero_tangents_and_integer_outputs():
    def f(x, n):
        return cond(n > 0, lambda x, n: (x * 2.0, n + 1), lambda x, n: (x, n), x, n)
    (y, m), (ty, tm) = ft.jvp(f, (X, np.int32(3)), (Y, np.zeros((), ft.float0)))
    close(y, X * 2.0)
    assert m == 4 and tm.dtype == ft.float0
    close(ty, Y * 2.0)
    # the tangent of an output that depends on no tangent in any branch is a
    # symbolic zero: it is not an output of the linear jaxpr
    _, linear = linearize_flat(lambda x: [cond(True, lambda x: x * x, lambda x: x, x),
                                          cond(True, lambda x: X, lambda x: X + 1.0, x)], [X])
    assert linear.out_nonzero == [True, False]


def test_cond_jaxpr_structure():
    closed = ft.make_jaxpr(lambda x: cond(x[0] > 0, fnp.sin, fnp.cos, x))(X)
    (eqn,) = eqns_named(closed, "cond")
    assert len(eqn.params["branches"]) == 2


def test_cond_errors():
    with pytest.raises(TypeError, match=r"cond: the branches must return the same shapes "
                       r"and dtypes.*false_fun '<lambda>' returned \(f64\[3\]\).*true_fun "
                       r"'<lambda>' returned \(f64\[2\]\)"):
        cond(True, lambda x: x[:2], lambda x: x, X)
    with pytest.raises(TypeError, match="cond: the branches must return the same pytree"):
        cond(True, lambda x: (x, x), lambda x: x, X)
    with pytest.raises(TypeError, match=r"predicate `pred` must be a boolean or integer "
                       r"scalar, but got an array of shape \(3,\)"):
        cond(X > 0, lambda x: x, lambda x: x, X)
    with pytest.raises(TypeError, match=r"must be a boolean or integer scalar.*f64\[\]"):
        cond(1.5, lambda x: x, lambda x: x, X)
    with pytest.raises(TypeError, match="switch: the index must be an integer scalar"):
        switch(np.float64(1.0), [lambda x: x], X)
    with pytest.raises(TypeError, match="non-empty sequence of callables"):
        switch(0, [], X)


def test_cond_weak_typed_branch_output_takes_other_dtype():
    x32 = X.astype(np.float32)
    out = cond(True, lambda x: x * 2, lambda x: 0.0 * x, x32)
    assert out.dtype == np.float32
    out = cond(False, lambda x: fnp.sum(x), lambda x: 1.0, x32)
    assert out.dtype == np.float32 and out == 1.0


def test_python_if_on_traced_value_points_to_lax_cond():
    def f(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(ConcretizationTypeError) as info:
        ft.jit(f)(1.0)
    message = str(info.value)
    for name in ("lax.cond", "lax.while_loop", "lax.fori_loop", "lax.scan"):
        assert name in message


# ------------------------------------------------------------------ scan

def rnn(w, h0, xs, reverse=False):
    """A scan with pytree carry, pytree ys, a closed-over weight and an integer carry."""
    def body(carry, x):
        h, n = carry
        h = fnp.tanh(h @ w + x["a"] * x["b"])
        return (h, n + 1), {"h": h, "sq": fnp.sum(h * h)}

    return scan(body, (h0, 0), xs, reverse=reverse)


def rnn_python(w, h0, xs, reverse=False):
    h, n = h0, 0
    hs, sqs = [None] * len(xs["a"]), [None] * len(xs["a"])
    order = range(len(xs["a"]))
    for i in (reversed(order) if reverse else order):
        h = fnp.tanh(h @ w + xs["a"][i] * xs["b"][i])
        n += 1
        hs[i], sqs[i] = h, fnp.sum(h * h)
    return (h, n), {"h": fnp.stack(hs), "sq": fnp.stack(sqs)}


XS_TREE = {"a": XS, "b": XS[::-1] * 0.5}


def loss(f, reverse=False):
    def scalar(w, h0, xs):
        (h, _), ys = f(w, h0, xs, reverse)
        return fnp.sum(h * h) + fnp.sum(ys["h"] * xs["a"]) + fnp.sum(fnp.sin(ys["sq"]))
    return scalar


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_matches_python_loop(reverse):
    args = (W, X, XS_TREE)
    close(rnn(*args, reverse), rnn_python(*args, reverse))
    close(ft.jit(rnn, static_argnums=3)(*args, reverse), rnn_python(*args, reverse))
    tangents = (W * 0.3, Y, {"a": XS * 0.1, "b": XS})
    close(ft.jvp(lambda *a: rnn(*a, reverse), args, tangents),
          ft.jvp(lambda *a: rnn_python(*a, reverse), args, tangents))
    expected = ft.grad(loss(rnn_python, reverse), (0, 1, 2))(*args)
    close(ft.grad(loss(rnn, reverse), (0, 1, 2))(*args), expected)
    close(ft.jit(ft.grad(loss(rnn, reverse), (0, 1, 2)))(*args), expected)
    close(ft.grad(ft.jit(loss(rnn, reverse)), (0, 1, 2))(*args), expected)


def test_scan_vmap_over_each_argument():
    f, fp = loss(rnn), loss(rnn_python)
    ws = np.stack([W, W * 0.5, -W, W.T])
    xs_b = {"a": np.stack([XS] * 4) + BATCH[:, None, :], "b": np.stack([XS] * 4)}
    for in_axes, args in [((0, None, None), (ws, X, XS_TREE)),
                          ((None, 0, None), (W, BATCH, XS_TREE)),
                          ((None, None, 0), (W, X, xs_b)),
                          ((None, None, {"a": 1, "b": None}),
                           (W, X, {"a": np.moveaxis(xs_b["a"], 0, 1), "b": XS * 0.5}))]:
        def arg_i(a, ax, i):
            if ax is None:
                return a
            if isinstance(a, dict):
                return {k: arg_i(a[k], ax[k] if isinstance(ax, dict) else ax, i) for k in a}
            return np.take(a, i, axis=ax)
        expected = [fp(*[arg_i(a, ax, i) for a, ax in zip(args, in_axes)]) for i in range(4)]
        close(ft.vmap(f, in_axes)(*args), np.stack(expected))
        grads = [ft.grad(fp, (0, 1))(*[arg_i(a, ax, i) for a, ax in zip(args, in_axes)])
                 for i in range(4)]
        vg = ft.vmap(ft.grad(f, (0, 1)), in_axes)(*args)
        for k in range(2):
            close(vg[k], np.stack([g[k] for g in grads]))
        gv = ft.grad(lambda *a: fnp.sum(ft.vmap(f, in_axes)(*a)), (0, 1))(*args)
        gv_expected = ft.grad(lambda *a: sum(fp(*[arg_i(x, ax, i) for x, ax in
                                                   zip(a, in_axes)]) for i in range(4)),
                              (0, 1))(*args)
        close(gv, gv_expected)


def test_scan_higher_order_and_check_grads():
    f = lambda w: loss(rnn)(w, X, XS_TREE)  # noqa: E731
    fp = lambda w: loss(rnn_python)(w, X, XS_TREE)  # noqa: E731
    close(ft.grad(lambda w: fnp.sum(ft.grad(f)(w) ** 2))(W),
          ft.grad(lambda w: fnp.sum(ft.grad(fp)(w) ** 2))(W), 1e-9)
    close(ft.jacfwd(ft.grad(f))(W), ft.jacfwd(ft.grad(fp))(W), 1e-9)
    check_grads(loss(rnn), (W, X, XS_TREE), order=2)
    check_grads(loss(rnn, True), (W, X, XS_TREE), order=1)


def test_scan_without_xs_and_without_ys():
    c, ys = scan(lambda c, _: (c * 1.5, None), 1.0, None, length=4)
    assert ys is None and c == 1.5 ** 4
    c, ys = scan(lambda c, _: (c + 1, c), 0, None, length=0)
    assert c == 0 and ys.shape == (0,)
    g = ft.grad(lambda x: scan(lambda c, _: (c * x, None), 1.0, None, length=4)[0])(2.0)
    assert g == 4 * 2.0 ** 3


def test_scan_reverse_mode_stores_per_step_residuals_only():
    def f(w, xs):
        c, _ = scan(lambda c, x: (fnp.tanh(c @ w.T + x), None), fnp.zeros(3), xs)
        return fnp.sum(c)

    _, linear = linearize_flat(lambda w: [f(w, XS)], [W])
    residual_shapes = sorted(np.shape(c) for c in linear.jaxpr.consts)
    # the weight once (not once per step), and per step: the carry and tanh'
    assert residual_shapes.count((3, 3)) == 1
    assert all(s in {(3, 3), (5, 3), (3,), ()} for s in residual_shapes)
    (lin_scan,) = eqns_named(linear.jaxpr, "scan")
    assert lin_scan.params["num_carry"] == 1  # only the tangent of the carry
    closed = ft.make_jaxpr(ft.grad(f))(W, XS)
    scans = [e for e in closed.jaxpr.eqns if e.primitive.name == "scan"]
    assert [e.params["reverse"] for e in scans] == [False, True]  # the transpose is a scan
    assert all(e.params["length"] == 5 for e in scans)


def test_scan_symbolic_zero_carries():
    def f(x):
        def body(carry, _):
            a, b = carry
            return (a * x, b + 1.0), None   # b never depends on x
        return scan(body, (1.0, 0.0), None, length=3)[0]

    _, linear = linearize_flat(lambda x: list(f(x)), [2.0])
    assert linear.out_nonzero == [True, False]
    (a, b), (ta, tb) = ft.jvp(f, (2.0,), (1.0,))
    assert (a, b, ta, tb) == (8.0, 3.0, 12.0, 0.0)


def test_scan_weak_init_takes_body_dtype_and_float32_is_kept():
    xs32 = XS.astype(np.float32)
    c, ys = scan(lambda c, x: (c + fnp.sum(x), x * 2), 0.0, xs32)
    assert c.dtype == np.float32 and ys.dtype == np.float32
    g = ft.grad(lambda xs: scan(lambda c, x: (c * fnp.sum(x), None), np.float32(1), xs)[0])(
        xs32)
    assert g.dtype == np.float32


def test_scan_errors():
    with pytest.raises(TypeError, match=r"scan: the body function 'grow' must return a carry "
                       r"of the same shapes and dtypes as its input carry, but the input "
                       r"carry is \(f64\[3\]\) and the output carry is \(f64\[6\]\)"):
        def grow(c, x):
            return fnp.concatenate([c, c]), None
        scan(grow, X, XS)
    with pytest.raises(TypeError, match=r"input carry is \(i64\[\]\) and the output carry is "
                       r"\(f64\[\]\)"):
        scan(lambda c, x: (c + fnp.sum(x), None), np.int64(0), XS)
    with pytest.raises(TypeError, match="must return a pair"):
        scan(lambda c, x: c, X, XS)
    with pytest.raises(ValueError, match="same leading axis size"):
        scan(lambda c, x: (c, None), 0.0, (XS, XS[:2]))
    with pytest.raises(ValueError, match="length argument is required"):
        scan(lambda c, x: (c, None), 0.0, None)
    with pytest.raises(ValueError, match="does not match"):
        scan(lambda c, x: (c, None), 0.0, XS, length=4)


# ------------------------------------------------------------------ fori_loop

def fori_body(i, x):
    return fnp.sin(x) * fnp.take(W, i % 3, axis=0) + x * 0.5


def fori_python(lo, hi, x):
    for i in range(lo, hi):
        x = fori_body(i, x)
    return x


def test_fori_loop_static_bounds_is_a_differentiable_scan():
    close(fori_loop(1, 6, fori_body, X), fori_python(1, 6, X))
    f = lambda x: fnp.sum(fori_loop(1, 6, fori_body, x) ** 2)  # noqa: E731
    fp = lambda x: fnp.sum(fori_python(1, 6, x) ** 2)  # noqa: E731
    close(ft.grad(f)(X), ft.grad(fp)(X))
    close(ft.jit(ft.grad(f))(X), ft.grad(fp)(X))
    close(ft.vmap(ft.grad(f))(BATCH), np.stack([ft.grad(fp)(x) for x in BATCH]))
    close(ft.grad(lambda x: fnp.sum(ft.vmap(f)(x)))(BATCH),
          np.stack([ft.grad(fp)(x) for x in BATCH]))
    close(ft.hessian(f)(X), ft.hessian(fp)(X), 1e-9)
    check_grads(f, (X,), order=2)
    closed = ft.make_jaxpr(f)(X)
    assert eqns_named(closed, "scan") and not eqns_named(closed, "while")
    close(fori_loop(5, 2, fori_body, X), X)


def test_fori_loop_traced_bounds_is_a_while_loop():
    f = ft.jit(lambda n, x: fori_loop(0, n, fori_body, x))
    close(f(4, X), fori_python(0, 4, X))
    closed = ft.make_jaxpr(lambda n, x: fori_loop(0, n, fori_body, x))(4, X)
    assert eqns_named(closed, "while")
    close(ft.jvp(lambda x: f(4, x), (X,), (Y,)),
          ft.jvp(lambda x: fori_python(0, 4, x), (X,), (Y,)))


# ------------------------------------------------------------------ while_loop

def collatz_like(x, limit):
    """A loop whose trip count depends on the data."""
    def cond_fun(c):
        i, v = c
        return (fnp.sum(v * v) < limit) & (i < 50)

    def body_fun(c):
        i, v = c
        return i + 1, v * 1.5 + fnp.sin(v)

    return while_loop(cond_fun, body_fun, (0, x))


def collatz_python(x, limit):
    i, v = 0, x
    while fnp.sum(v * v) < limit and i < 50:
        i, v = i + 1, v * 1.5 + fnp.sin(v)
    return i, v


def test_while_loop_matches_python_under_jvp_and_jit():
    x = X * 0.1
    close(collatz_like(x, 10.0), collatz_python(x, 10.0))
    close(ft.jit(collatz_like)(x, 10.0), collatz_python(x, 10.0))
    close(ft.jvp(lambda x: collatz_like(x, 10.0)[1], (x,), (Y,)),
          ft.jvp(lambda x: collatz_python(x, 10.0)[1], (x,), (Y,)))
    close(ft.jacfwd(lambda x: collatz_like(x, 10.0)[1])(x),
          ft.jacfwd(lambda x: collatz_python(x, 10.0)[1])(x))
    y, f_jvp = ft.linearize(lambda x: collatz_like(x, 10.0)[1], x)
    close(f_jvp(Y), ft.jvp(lambda x: collatz_python(x, 10.0)[1], (x,), (Y,))[1])


def test_while_loop_vmap_batched_predicate_runs_every_lane_to_its_end():
    xs = BATCH * np.array([[0.01], [0.1], [1.0], [3.0]])  # different trip counts
    expected = [collatz_python(x, 10.0) for x in xs]
    counts, values = ft.vmap(collatz_like, (0, None))(xs, 10.0)
    assert len(set(int(n) for n, _ in expected)) > 1
    close(counts, np.array([n for n, _ in expected]))
    close(values, np.stack([v for _, v in expected]))
    limits = np.array([1.0, 5.0, 10.0, 100.0])
    counts, values = ft.vmap(collatz_like, (None, 0))(X * 0.1, limits)
    close(counts, np.array([collatz_python(X * 0.1, lim)[0] for lim in limits]))
    jv = ft.vmap(lambda x, t: ft.jvp(lambda x: collatz_like(x, 10.0)[1], (x,), (t,))[1])(
        xs, BATCH)
    close(jv, np.stack([ft.jvp(lambda x: collatz_python(x, 10.0)[1], (x,), (t,))[1]
                        for x, t in zip(xs, BATCH)]))
    close(ft.jit(ft.vmap(collatz_like, (0, None)))(xs, 10.0)[1], values * 0 + np.stack(
        [v for _, v in expected]))


def test_while_loop_unbatched_predicate_under_vmap():
    def f(y):  # the trip count depends only on an unbatched counter
        return while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 2.0 + 1.0), (0, y))
    close(ft.vmap(f)(BATCH)[1], BATCH * 8.0 + 7.0)
    closed = ft.make_jaxpr(ft.vmap(f))(BATCH)
    assert not eqns_named(closed, "reduce_or")  # no masking needed


def test_while_loop_reverse_mode_is_refused_with_advice():
    with pytest.raises(TypeError, match=r"(?s)Reverse-mode.*while_loop.*fori_loop.*scan"):
        ft.grad(lambda x: fnp.sum(collatz_like(x, 10.0)[1]))(X * 0.1)
    # a while_loop that the gradient does not flow through is fine
    g = ft.grad(lambda x: fnp.sum(x * collatz_like(X, 10.0)[1]))(X)
    close(g, collatz_python(X, 10.0)[1])


def test_while_loop_errors():
    with pytest.raises(TypeError, match=r"cond_fun '<lambda>' must return a boolean scalar, "
                       r"but it returned \(f64\[3\]\)"):
        while_loop(lambda v: v, lambda v: v, X)
    with pytest.raises(TypeError, match=r"while_loop: the body function 'body' must return "
                       r"a carry of the same shapes and dtypes.*\(f64\[3\]\).*\(f32\[3\]\)"):
        def body(v):
            return v.astype(np.float32)
        while_loop(lambda v: fnp.sum(v) < 0, body, X)
    with pytest.raises(TypeError, match="structure of init_val"):
        while_loop(lambda v: True, lambda v: (v, v), X)


def test_fori_loop_bound_dtypes_and_errors():
    def body(i, c):
        return c + i

    out = fori_loop(np.int32(0), 4, body, np.int32(0))
    assert out == 6 and out.dtype == np.int32
    with pytest.raises(TypeError, match="fori_loop: the upper bound must be an integer"):
        fori_loop(0, 2.5, body, 0)
    with pytest.raises(TypeError, match=r"fori_loop: the body function 'grow' must return a "
                       r"carry of the same shapes"):
        def grow(i, c):
            return fnp.concatenate([c, c])
        fori_loop(0, 3, grow, X)


# ------------------------------------------------------------------ composition

def nested(w, xs):
    """scan of (scan of cond), closing over w at two levels."""
    def inner(c, x):
        c = cond(fnp.sum(c) > 0, lambda c: fnp.sin(c) * x, lambda c: c * c + x, c)
        return c, fnp.sum(c * w)

    def body(c, x):
        return scan(inner, c * w, fnp.stack([x, x * 0.5]))

    c, ys = scan(body, fnp.ones(3) * 0.3, xs)
    return fnp.sum(c) + fnp.sum(ys ** 2)


def nested_python(w, xs):
    c, ys = fnp.ones(3) * 0.3, []
    for x in xs:
        c = c * w
        for x2 in (x, x * 0.5):
            c = fnp.sin(c) * x2 if fnp.sum(c) > 0 else c * c + x2
            ys.append(fnp.sum(c * w))
    return fnp.sum(c) + fnp.sum(fnp.stack(ys) ** 2)


def test_nested_control_flow_under_every_transformation():
    xs = XS[:3]
    close(nested(1.3, xs), nested_python(1.3, xs))
    expected = ft.grad(nested_python)(1.3, xs)
    close(ft.grad(nested)(1.3, xs), expected)
    close(ft.grad(ft.jit(nested))(1.3, xs), expected)
    expected2 = ft.grad(ft.grad(nested_python))(1.3, xs)
    close(ft.grad(ft.grad(nested))(1.3, xs), expected2, 1e-9)
    close(ft.jit(ft.grad(ft.grad(nested)))(1.3, xs), expected2, 1e-9)
    close(ft.grad(ft.jit(ft.grad(nested)))(1.3, xs), expected2, 1e-9)
    ws = np.array([1.3, 0.5, -0.8])
    close(ft.vmap(ft.grad(nested), (0, None))(ws, xs),
          np.array([ft.grad(nested_python)(w, xs) for w in ws]))
    close(ft.grad(lambda ws: fnp.sum(ft.vmap(nested, (0, None))(ws, xs)))(ws),
          np.array([ft.grad(nested_python)(w, xs) for w in ws]))


def test_linearize_through_scan_and_while_under_jit():
    f = lambda w: loss(rnn)(w, X, XS_TREE)  # noqa: E731
    y, f_jvp = ft.linearize(f, W)
    close(f_jvp(W * 0.1), ft.jvp(f, (W,), (W * 0.1,))[1])

    def loop(x):
        return while_loop(lambda c: c[0] < 4, lambda c: (c[0] + 1, fnp.sin(c[1]) * 2.0),
                          (0, x))[1]

    expected = ft.jvp(loop, (X,), (Y,))[1]
    for g in (loop, ft.jit(loop)):
        _, f_jvp = ft.linearize(g, X)
        close(f_jvp(Y), expected)
    with pytest.raises(TypeError, match="Reverse-mode differentiation"):
        ft.grad(lambda x: fnp.sum(ft.jit(loop)(x)))(X)


def test_closed_over_tracers_are_hoisted():
    # the branches and bodies close over values of the enclosing grad and vmap
    def f(a, x):
        c = cond(x[0] > 0, lambda v: v * a, lambda v: v + a, x)
        s, _ = scan(lambda c, x: (c * a + x, None), 0.0, c)
        n = fori_loop(0, 3, lambda i, v: v * a, s)
        return n

    def f_python(a, x):
        c = x * a if x[0] > 0 else x + a
        s = 0.0
        for v in c:
            s = s * a + v
        return s * a ** 3

    for x in (X, -X):
        close(ft.grad(f, (0, 1))(0.7, x), ft.grad(f_python, (0, 1))(0.7, x))
        close(ft.vmap(f, (0, None))(np.array([0.7, 1.2]), x),
              np.array([f_python(0.7, x), f_python(1.2, x)]))
        close(ft.vmap(ft.grad(f), (0, None))(np.array([0.7, 1.2]), x),
              np.array([ft.grad(f_python)(0.7, x), ft.grad(f_python)(1.2, x)]))


def test_scan_over_layer_weights_does_not_copy_them_as_residuals():
    ws = RNG.standard_normal((6, 4, 4)) * 0.5
    h0 = RNG.standard_normal((2, 4))

    def mlp(ws, h):
        h, _ = scan(lambda h, w: (fnp.tanh(h @ w), None), h, ws)
        return fnp.sum(h)

    _, linear = linearize_flat(lambda ws, h: [mlp(ws, h)], [ws, h0])
    consts = linear.jaxpr.consts
    assert sum(c is ws for c in consts) == 1  # the weights themselves, read again
    stacked = [c for c in consts if np.shape(c) == (6, 2, 4)]
    assert len(stacked) <= 2  # per step: the layer input and tanh'
    assert sum(np.size(c) for c in consts if c is not ws) <= 2 * 6 * 2 * 4 + 2 * 4
    def python(ws, h):
        for w in ws:
            h = fnp.tanh(h @ w)
        return fnp.sum(h)

    close(ft.grad(mlp, (0, 1))(ws, h0), ft.grad(python, (0, 1))(ws, h0))
