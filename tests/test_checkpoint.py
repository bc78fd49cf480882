"""checkpoint / remat: same derivatives, fewer residuals, recomputation in the
backward pass, policies."""

import re
import tracemalloc

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.higher_order.checkpoint import checkpoint, checkpoint_policies, remat

RNG = np.random.default_rng(0)
W = RNG.standard_normal((3, 5, 5)) * 0.5
X0 = RNG.standard_normal((4, 5))
POLICIES = [None, checkpoint_policies.nothing_saveable, checkpoint_policies.dots_saveable,
            checkpoint_policies.checkpoint_dots, checkpoint_policies.everything_saveable,
            checkpoint_policies.dots_with_no_batch_dims_saveable]


def layer(w, h):
    return fnp.tanh(h @ w)


def mlp(weights, x, wrap=lambda f: f):
    h = x
    for i in range(weights.shape[0]):
        h = wrap(layer)(weights[i], h)
    return fnp.sum(h ** 2)


def checkpointed(policy=None):
    return lambda weights, x: mlp(weights, x, lambda f: checkpoint(f, policy=policy))


def _close(a, b, tol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def _residual_bytes(f, *args):
    _, f_vjp = ft.vjp(f, *args)
    return sum(np.asarray(c).nbytes for c in f_vjp.linear.residuals)


@pytest.mark.parametrize("policy", POLICIES)
def test_same_gradients(policy):
    f = checkpointed(policy)
    want = ft.grad(mlp, (0, 1))(W, X0)
    for got in (ft.grad(f, (0, 1))(W, X0), ft.jit(ft.grad(f, (0, 1)))(W, X0),
                ft.grad(ft.jit(f), (0, 1))(W, X0)):
        _close(got[0], want[0])
        _close(got[1], want[1])


def test_same_derivatives_under_every_transformation():
    f = checkpointed()
    tangents = (W, X0)
    _close(ft.jvp(f, (W, X0), tangents)[1], ft.jvp(mlp, (W, X0), tangents)[1])
    batch = X0[:, None]
    _close(ft.vmap(ft.grad(f), (None, 0))(W, batch), ft.vmap(ft.grad(mlp), (None, 0))(W, batch))
    _close(ft.grad(lambda w: fnp.sum(ft.vmap(f, (None, 0))(w, batch)))(W),
           ft.grad(lambda w: fnp.sum(ft.vmap(mlp, (None, 0))(w, batch)))(W))
    _close(ft.hessian(lambda x: f(W, x))(X0[:1]), ft.hessian(lambda x: mlp(W, x))(X0[:1]),
           1e-10)
    _close(ft.linearize(f, W, X0)[1](W, X0), ft.jvp(mlp, (W, X0), tangents)[1])
    _close(ft.jacrev(lambda x: f(W, x))(X0), ft.jacfwd(lambda x: mlp(W, x))(X0))
    second = ft.grad(ft.grad(lambda s: f(W * s, X0)))(1.0)
    _close(second, ft.grad(ft.grad(lambda s: mlp(W * s, X0)))(1.0), 1e-10)


def test_value_is_unchanged():
    f = checkpointed()
    assert f(W, X0) == mlp(W, X0)
    assert ft.jit(f)(W, X0) == pytest.approx(mlp(W, X0), rel=1e-14)


def test_fewer_residuals_are_saved():
    plain = _residual_bytes(mlp, W, X0)
    nothing = _residual_bytes(checkpointed(), W, X0)
    everything = _residual_bytes(checkpointed(checkpoint_policies.everything_saveable), W, X0)
    assert nothing < plain
    # the eager tape recomputes tanh's 1 - y² from y, which a checkpoint that saves
    # everything keeps; with the linear jaxpr they save the same
    assert plain <= everything
    ft.config.update("eager_tape", False)
    try:
        assert _residual_bytes(mlp, W, X0) == everything
    finally:
        ft.config.update("eager_tape", True)
    # with nothing saved, the residuals are exactly each layer's inputs (weight slice
    # and activation) and the last activation
    assert nothing == 3 * (W[0].nbytes + X0.nbytes) + X0.nbytes


def test_backward_pass_recomputes_the_forward():
    def count(f, prim):
        return len(re.findall(f"= {prim}[ \\[]", str(ft.make_jaxpr(ft.grad(f))(W, X0))))

    # plain: each tanh once; checkpointed: once forward, once recomputed backward
    assert count(mlp, "tanh") == 3
    assert count(checkpointed(), "tanh") == 6
    # dots_saveable keeps the products: only tanh is recomputed, not the dot
    assert count(checkpointed(checkpoint_policies.dots_saveable), "tanh") == 6
    assert (count(checkpointed(), "dot_general")
            == count(checkpointed(checkpoint_policies.dots_saveable), "dot_general") + 3)
    assert count(checkpointed(checkpoint_policies.everything_saveable), "tanh") == 3


def test_remat_alias_static_argnums_and_pytrees():
    assert remat is checkpoint

    def f(params, x, n):
        h = x
        for _ in range(n):
            h = fnp.sin(h * params["a"]) + params["b"]
        return fnp.sum(h)

    params = {"a": 1.3, "b": np.ones(5)}
    want = ft.grad(f)(params, X0, 3)
    got = ft.grad(checkpoint(f, static_argnums=2))(params, X0, 3)
    _close(got["a"], want["a"])
    _close(got["b"], want["b"])


def test_closure_over_differentiated_value():
    def f(a):
        return fnp.sum(checkpoint(lambda x: fnp.sin(x * a))(X0))

    _close(ft.grad(f)(1.3), np.sum(np.cos(X0 * 1.3) * X0))
    _close(ft.grad(ft.jit(f))(1.3), np.sum(np.cos(X0 * 1.3) * X0))


def test_bad_policy():
    with pytest.raises(TypeError, match="policy must be a function"):
        checkpoint(layer, policy="dots")


def _scan():
    try:
        from functrans.higher_order.control_flow import scan
    except ImportError:
        pytest.skip("scan is not available")
    return scan


def test_scan_of_checkpointed_body_saves_only_the_carry():
    scan = _scan()
    weights = RNG.standard_normal((8, 5, 5)) * 0.5

    def body(h, w):
        return fnp.tanh(h @ w), None

    def plain(ws, x):
        return fnp.sum(scan(body, x, ws)[0] ** 2)

    def per_layer(ws, x):
        return fnp.sum(scan(checkpoint(body), x, ws)[0] ** 2)

    def two_level(ws, x):
        def block(h, wb):
            return scan(body, h, wb)[0], None
        return fnp.sum(scan(checkpoint(block), x, ws.reshape((4, 2, 5, 5)))[0] ** 2)

    want = ft.grad(plain, (0, 1))(weights, X0)
    sizes = {}
    for f in (per_layer, two_level):
        got = ft.grad(f, (0, 1))(weights, X0)
        _close(got[0], want[0])
        _close(got[1], want[1])
        _close(ft.jit(ft.grad(f))(weights, X0), want[0])
        sizes[f.__name__] = _residual_bytes(f, weights, X0)
    activations = 8 * X0.nbytes
    plain_size = _residual_bytes(plain, weights, X0)
    # the activation-sized residuals: plain keeps two per layer, per-layer
    # checkpointing one, two-level one per block
    assert plain_size - sizes["per_layer"] == activations
    assert sizes["per_layer"] - sizes["two_level"] == activations - 4 * X0.nbytes


def test_whole_function_checkpoint_holds_no_more_than_plain_grad() -> None:
    """Eager grad of a checkpointed function recomputes its forward pass during the
    backward pass holding only the residuals, as plain grad does."""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((128, 128)) / 12 for _ in range(10)]
    x = rng.standard_normal((128, 128))

    def chain(h):
        for w in weights:
            h = fnp.tanh(h @ w)
        return fnp.sum(h ** 2)

    def peak(f) -> int:
        f(x)  # caches warm
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            f(x)
            return tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()

    plain, checkpointed = peak(ft.grad(chain)), peak(ft.grad(ft.checkpoint(chain)))
    assert checkpointed <= 1.25 * plain, (checkpointed, plain)


def test_named_values_are_saved_by_the_name_policies() -> None:
    from functrans.ad_checkpoint import checkpoint_name

    w = np.random.default_rng(1).standard_normal((3, 3))

    def layer(x):
        hidden = checkpoint_name(fnp.tanh(x @ w), "hidden")
        return fnp.sum(fnp.sin(hidden) ** 2)

    x = np.ones((2, 3))
    expected = ft.grad(layer)(x)
    for policy, saved in [(checkpoint_policies.save_only_these_names("hidden"), True),
                          (checkpoint_policies.save_any_names_but_these("hidden"), False),
                          (checkpoint_policies.save_only_these_names("other"), False)]:
        f = ft.checkpoint(layer, policy=policy)
        np.testing.assert_allclose(ft.grad(f)(x), expected)
        np.testing.assert_allclose(ft.jit(ft.grad(f))(x), expected)
        assert _named_value_is_saved(ft.make_jaxpr(ft.grad(f))(x)) == saved
    with pytest.raises(TypeError, match="name must be a str"):
        checkpoint_name(x, 3)


def _named_value_is_saved(closed) -> bool:
    """The forward (known) checkpoint returns its named value: a residual it saves."""
    from functrans.higher_order.checkpoint import checkpoint_p, name_p

    for eqn in closed.jaxpr.eqns:
        if eqn.primitive is checkpoint_p:
            inner = eqn.params["jaxpr"].jaxpr
            named = {v for e in inner.eqns if e.primitive is name_p for v in e.outvars}
            return any(v in named for v in inner.outvars)
    raise AssertionError("no checkpoint in the jaxpr")
