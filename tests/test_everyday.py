"""lax.map / associative_scan / reduce / broadcast_shapes and the everyday
functrans.numpy names, against NumPy and under the transformations."""

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.test_util import check_grads

RNG = np.random.default_rng(0)
X = RNG.normal(size=(5, 3))


# ---------------------------------------------------------------- lax

@pytest.mark.parametrize("batch_size", [None, 1, 2, 5, 7])
def test_lax_map_matches_a_loop(batch_size):
    def f(row):
        return {"s": fnp.sum(fnp.sin(row)), "r": row[::-1]}

    out = lax.map(f, X, batch_size=batch_size)
    np.testing.assert_allclose(out["s"], np.sin(X).sum(1))
    np.testing.assert_allclose(out["r"], X[:, ::-1])
    check_grads(lambda x: lax.map(lambda r: fnp.prod(r), x, batch_size=batch_size), (X,),
                order=1)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        lax.map(f, X, batch_size=0)


@pytest.mark.parametrize("length", [1, 2, 7, 8])
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_scan_matches_cumulative_ops(length, reverse):
    x = RNG.normal(size=(length, 2))
    expected = np.cumsum(x[::-1], 0)[::-1] if reverse else np.cumsum(x, 0)
    np.testing.assert_allclose(lax.associative_scan(lax.add, x, reverse=reverse), expected)
    along_1 = lax.associative_scan(lax.max, x.T, axis=1)
    np.testing.assert_allclose(along_1, np.maximum.accumulate(x.T, axis=1))
    check_grads(lambda v: lax.associative_scan(lax.mul, v, reverse=reverse), (x,), order=1)


def test_associative_scan_pytree_linear_recurrence():
    # h_t = a_t h_{t-1} + b_t as a scan of affine maps, checked against the loop
    a, b = RNG.uniform(0.5, 1.0, 9), RNG.normal(size=9)

    def compose(first, second):
        return second[0] * first[0], second[0] * first[1] + second[1]

    _, h = lax.associative_scan(compose, (a, b))
    expected, state = [], 0.0
    for at, bt in zip(a, b):
        state = at * state + bt
        expected.append(state)
    np.testing.assert_allclose(h, expected)
    np.testing.assert_allclose(ft.jit(lambda a, b: lax.associative_scan(compose, (a, b))[1])(a, b),
                               expected)


def test_lax_reduce_monoids_and_general_computations():
    np.testing.assert_allclose(lax.reduce(X, 0.0, lax.add, (0,)), X.sum(0))
    np.testing.assert_allclose(lax.reduce(X, -np.inf, lax.max, (0, 1)), X.max())
    # a computation that is not a known monoid takes the pairwise route
    np.testing.assert_allclose(lax.reduce(X, 1.0, lambda a, b: a * b, (1,)), X.prod(1))
    values, positions = lax.reduce(
        (X, np.broadcast_to(np.arange(5.0)[:, None], X.shape)), (-np.inf, 0.0),
        lambda p, q: (lax.max(p[0], q[0]), lax.select(p[0] >= q[0], p[1], q[1])), (0,))
    np.testing.assert_allclose(values, X.max(0))
    np.testing.assert_allclose(positions, X.argmax(0))
    check_grads(lambda x: lax.reduce(x, 1.0, lambda a, b: a * b, (0,)), (X,), order=1)
    np.testing.assert_allclose(ft.vmap(lambda r: lax.reduce(r, 1.0, lambda a, b: a * b, (0,)))(X),
                               X.prod(1))
    with pytest.raises(TypeError, match="init_values has structure"):
        lax.reduce((X, X), 0.0, lax.add, (0,))


def test_broadcast_shapes():
    assert lax.broadcast_shapes((2, 1), (3,), ()) == (2, 3)
    with pytest.raises(ValueError, match="do not broadcast"):
        lax.broadcast_shapes((2,), (3,))


# ---------------------------------------------------------------- numpy

def _np_inplace(f, a, *args):
    a = np.array(a, copy=True)
    f(a, *args)
    return a


@pytest.mark.parametrize("name, ours, reference", [
    ("gradient", lambda: fnp.gradient(X, axis=0), lambda: np.gradient(X, axis=0)),
    ("gradient coords", lambda: fnp.gradient(X[:, 0], np.array([0.0, 1, 3, 4, 7])),
     lambda: np.gradient(X[:, 0], np.array([0.0, 1, 3, 4, 7]))),
    ("gradient all axes", lambda: fnp.gradient(X, 0.5, 2.0), lambda: np.gradient(X, 0.5, 2.0)),
    ("trapezoid dx", lambda: fnp.trapezoid(X, dx=0.3, axis=0),
     lambda: np.trapezoid(X, dx=0.3, axis=0)),
    ("trapezoid x", lambda: fnp.trapezoid(X, np.array([0.0, 1, 3])),
     lambda: np.trapezoid(X, np.array([0.0, 1, 3]))),
    ("angle", lambda: fnp.angle(X[0] + 1j * X[1], deg=True),
     lambda: np.angle(X[0] + 1j * X[1], deg=True)),
    ("isin", lambda: fnp.isin(np.arange(6), [1, 4, 9], invert=True),
     lambda: np.isin(np.arange(6), [1, 4, 9], invert=True)),
    ("gcd", lambda: fnp.gcd(np.array([12, -18, 0, 7, 0]), np.array([8, 12, 5, 0, 0])),
     lambda: np.gcd(np.array([12, -18, 0, 7, 0]), np.array([8, 12, 5, 0, 0]))),
    ("lcm", lambda: fnp.lcm(np.array([4, 6, 0, -3]), np.array([6, 4, 3, 5])),
     lambda: np.lcm(np.array([4, 6, 0, -3]), np.array([6, 4, 3, 5]))),
    ("block", lambda: fnp.block([[np.eye(2), np.zeros((2, 1))], [np.ones((1, 2)), 5.0]]),
     lambda: np.block([[np.eye(2), np.zeros((2, 1))], [np.ones((1, 2)), 5.0]])),
    ("block 1-d", lambda: fnp.block([np.ones(2), 3.0]), lambda: np.block([np.ones(2), 3.0])),
    ("polyder", lambda: fnp.polyder(np.array([1.0, 2, 3, 4]), 2),
     lambda: np.polyder(np.array([1.0, 2, 3, 4]), 2)),
    ("polyint", lambda: fnp.polyint(np.array([3.0, 2, 1]), 2, k=[1, 2]),
     lambda: np.polyint(np.array([3.0, 2, 1]), 2, k=[1, 2])),
    ("polyfit", lambda: fnp.polyfit(X[:, 0], X[:, 1], 2), lambda: np.polyfit(X[:, 0], X[:, 1], 2)),
    ("polyfit weighted 2-d", lambda: fnp.polyfit(X[:, 0], X[:, 1:], 1, w=np.arange(1.0, 6)),
     lambda: np.polyfit(X[:, 0], X[:, 1:], 1, w=np.arange(1.0, 6))),
    ("polyfit cov", lambda: fnp.polyfit(X[:, 0], X[:, 1], 1, cov=True)[1],
     lambda: np.polyfit(X[:, 0], X[:, 1], 1, cov=True)[1]),
    ("roots", lambda: np.sort_complex(fnp.roots(np.array([0.0, 1, -6, 11, -6]))),
     lambda: np.sort_complex(np.roots(np.array([0.0, 1, -6, 11, -6])))),
    ("apply_along_axis", lambda: fnp.apply_along_axis(lambda v: v[:2] * v.sum(), 1, X),
     lambda: np.apply_along_axis(lambda v: v[:2] * v.sum(), 1, X)),
    ("apply_along_axis 3-d", lambda: fnp.apply_along_axis(fnp.diff, 1, np.ones((2, 4, 3))),
     lambda: np.apply_along_axis(np.diff, 1, np.ones((2, 4, 3)))),
    ("fill_diagonal wrap", lambda: fnp.fill_diagonal(np.zeros((7, 3)), [1.0, 2], wrap=True,
                                                    inplace=False),
     lambda: _np_inplace(lambda a: np.fill_diagonal(a, [1.0, 2], wrap=True), np.zeros((7, 3)))),
    ("fill_diagonal 3-d", lambda: fnp.fill_diagonal(np.zeros((3, 3, 3)), 7.0, inplace=False),
     lambda: _np_inplace(lambda a: np.fill_diagonal(a, 7.0), np.zeros((3, 3, 3)))),
    ("put_along_axis", lambda: fnp.put_along_axis(X, np.array([[0], [2], [1], [0], [2]]), -1.0,
                                                  1, inplace=False),
     lambda: _np_inplace(lambda a: np.put_along_axis(a, np.array([[0], [2], [1], [0], [2]]),
                                                     -1.0, 1), X)),
    ("vectorize signature", lambda: fnp.vectorize(lambda a, b: a @ b, signature="(n),(n)->()")(
        np.ones((2, 1, 3)), X[:4]),
     lambda: np.vectorize(lambda a, b: a @ b, signature="(n),(n)->()")(np.ones((2, 1, 3)),
                                                                       X[:4])),
    ("vectorize scalars", lambda: fnp.vectorize(lambda a, b: a * b + 1)(X, X[0]),
     lambda: X * X[0] + 1),
    ("ix_", lambda: X[fnp.ix_(np.array([4, 0]), np.array([2, 0]))],
     lambda: X[np.ix_([4, 0], [2, 0])]),
    ("mgrid", lambda: fnp.mgrid[0:2, 0:3:0.5], lambda: np.mgrid[0:2, 0:3:0.5]),
    ("ogrid", lambda: fnp.ogrid[0:2, 0:3][1], lambda: np.ogrid[0:2, 0:3][1]),
    ("astype", lambda: fnp.astype(X, np.int32), lambda: X.astype(np.int32)),
])
def test_numpy_extras_match_numpy(name, ours, reference):
    out, expected = ours(), reference()
    assert np.shape(out) == np.shape(expected)
    assert np.asarray(out).dtype.kind == np.asarray(expected).dtype.kind
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_numpy_extras_under_jit_vmap_and_grad():
    np.testing.assert_array_equal(ft.jit(fnp.gcd)(np.array([8, 9]), np.array([12, 6])), [4, 3])
    np.testing.assert_array_equal(ft.vmap(fnp.gcd)(np.array([8, 9]), np.array([12, 6])), [4, 3])
    np.testing.assert_allclose(ft.jit(lambda y: fnp.polyfit(X[:, 0], y, 2))(X[:, 1]),
                               np.polyfit(X[:, 0], X[:, 1], 2), atol=1e-10)
    check_grads(lambda f: fnp.gradient(f, 0.5), (X[:, 0],), order=1)
    check_grads(lambda y: fnp.trapezoid(y, np.array([0.0, 1, 3])), (X,), order=2)
    check_grads(lambda x: fnp.apply_along_axis(lambda v: fnp.sin(v) * v.sum(), 0, x), (X,),
                order=1)
    check_grads(lambda x: fnp.vectorize(lambda a, b: a @ b, signature="(n),(n)->()")(x, x[0]),
                (X,), order=1)
    check_grads(lambda v: fnp.fill_diagonal(fnp.outer(v, v), v, inplace=False), (X[0],),
                order=1)
    # d(sum of roots)/dp = d(-p1/p0)/dp
    p = np.array([2.0, -3.0, 1.0])
    grad = ft.grad(lambda c: fnp.sum(fnp.roots(c, strip_zeros=False).real))(p)
    np.testing.assert_allclose(grad, [p[1] / p[0] ** 2, -1 / p[0], 0.0], atol=1e-12)
    assert ft.jit(lambda x: fnp.astype(x, np.float32))(X).dtype == np.float32
    assert len(fnp.unstack(X, axis=1)) == 3 and np.array_equal(fnp.unstack(X)[2], X[2])


def test_numpy_extras_errors_name_the_function():
    with pytest.raises(ValueError, match="fill_diagonal: .*inplace=False"):
        fnp.fill_diagonal(np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="put_along_axis: .*inplace=False"):
        fnp.put_along_axis(np.zeros((2, 2)), np.zeros((2, 1), int), 1.0, 1)
    with pytest.raises(TypeError, match="gcd: x1 has dtype float64"):
        fnp.gcd(np.ones(2), np.ones(2, int))
    with pytest.raises(ValueError, match="roots: strip_zeros=True needs a concrete p"):
        ft.jit(fnp.roots)(np.ones(3))
    with pytest.raises(ValueError, match="vectorize: core dimension 'n'"):
        fnp.vectorize(lambda a, b: a @ b, signature="(n),(n)->()")(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="gradient: edge_order=2"):
        fnp.gradient(X, edge_order=2)


# ---------------------------------------------------------------- holomorphic

Z = np.array([1 + 1j, 0.5 - 2j])


def test_holomorphic_derivatives_are_complex_derivatives():
    np.testing.assert_allclose(ft.grad(fnp.sin, holomorphic=True)(Z[0]), np.cos(Z[0]))
    np.testing.assert_allclose(ft.jacfwd(lambda z: z ** 3, holomorphic=True)(Z),
                               np.diag(3 * Z ** 2))
    np.testing.assert_allclose(ft.jacrev(lambda z: fnp.exp(z) * z, holomorphic=True)(Z),
                               np.diag(np.exp(Z) * (1 + Z)))
    np.testing.assert_allclose(ft.hessian(lambda z: fnp.sum(z ** 3), holomorphic=True)(Z),
                               np.diag(6 * Z))
    # against a complex finite difference, f'(z) = (f(z + h) - f(z - h)) / 2h
    f, h = (lambda z: fnp.log(z) * z), 1e-6
    np.testing.assert_allclose(ft.grad(f, holomorphic=True)(Z[1]),
                               (f(Z[1] + h) - f(Z[1] - h)) / (2 * h), rtol=1e-8)


def test_complex_without_holomorphic_is_a_clear_error():
    with pytest.raises(TypeError, match="output is complex.*holomorphic=True"):
        ft.grad(lambda z: z ** 2)(Z[0])
    with pytest.raises(TypeError, match="jacfwd of .* real-valued inputs.*holomorphic=True"):
        ft.jacfwd(lambda z: z ** 2)(Z)
    with pytest.raises(TypeError, match="jacrev of .* real-valued outputs.*holomorphic=True"):
        ft.jacrev(lambda x: x * 1j)(np.ones(2))
    with pytest.raises(TypeError, match="holomorphic=True requires complex inputs"):
        ft.grad(lambda z: z * 1j, holomorphic=True)(1.0)
    with pytest.raises(TypeError, match="holomorphic=True requires a complex output"):
        ft.grad(lambda z: fnp.abs(z), holomorphic=True)(Z[0])


def test_disable_jit_runs_the_python_function_on_concrete_values() -> None:
    seen: list[type] = []
    f = ft.jit(lambda x: seen.append(type(x)) or x * 2)
    f(np.ones(2))
    with ft.disable_jit():
        np.testing.assert_array_equal(f(np.ones(2)), [2.0, 2.0])
    assert seen[-1] is np.ndarray and seen[0] is not np.ndarray
    assert not ft.config.disable_jit


@pytest.mark.parametrize("size", [2, 4, 7])
def test_nonzero_with_a_static_size_under_jit_and_vmap(size: int) -> None:
    x = np.array([[0, 1], [2, 0], [3, 3]])
    for got, want in zip(ft.jit(lambda a: fnp.nonzero(a, size=size, fill_value=-1))(x),
                         fnp.nonzero(x, size=size, fill_value=-1), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ft.jit(lambda a: fnp.argwhere(a, size=size))(x),
                                  fnp.argwhere(x, size=size))
    np.testing.assert_array_equal(ft.jit(lambda a: fnp.where(a > 1, size=size)[0])(x),
                                  fnp.where(x > 1, size=size)[0])
    np.testing.assert_array_equal(ft.vmap(lambda r: fnp.flatnonzero(r, size=2))(x),
                                  [[1, 0], [0, 0], [0, 1]])


def test_linearize_with_aux() -> None:
    out, f_jvp, aux = ft.linearize(lambda x: (fnp.sin(x), {"c": fnp.cos(x)}), 0.5,
                                   has_aux=True)
    assert out == pytest.approx(np.sin(0.5))
    assert f_jvp(2.0) == pytest.approx(2 * np.cos(0.5))
    assert aux["c"] == pytest.approx(np.cos(0.5))


def test_jacrev_allow_int_gives_float0_jacobians_for_integer_inputs() -> None:
    jac_x, jac_n = ft.jacrev(lambda x, n: fnp.sin(x) * n, argnums=(0, 1),
                             allow_int=True)(np.ones(3), 2)
    np.testing.assert_allclose(jac_x, np.diag(2 * np.cos(np.ones(3))))
    assert jac_n.shape == (3,) and jac_n.dtype == ft.float0
    with pytest.raises(TypeError):
        ft.jacrev(lambda x, n: fnp.sin(x) * n, argnums=1)(np.ones(3), 2)
