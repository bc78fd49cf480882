"""functrans.debug (print, callback), pure_callback, block_until_ready, and the
side-effect mechanism that keeps debug callbacks through the compiler's passes."""

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.compile.passes import optimize
from functrans.test_util import check_grads


def _lines(capsys):
    return capsys.readouterr().out.splitlines()


def test_print_formats_concrete_values_eagerly(capsys):
    ft.debug.print("x={} total={t:.1f}", np.arange(3.0), t=np.float64(3.0))
    assert _lines(capsys) == ["x=[0. 1. 2.] total=3.0"]


def test_print_under_jit_runs_at_every_call_not_at_trace(capsys):
    traces = []

    @ft.jit
    def f(x):
        traces.append(1)
        ft.debug.print("x={}", x)
        ft.debug.print("x={}", x)  # the same print twice: CSE must not merge them
        return 2 * x

    f(np.array(1.0))
    f(np.array(2.0))
    assert len(traces) == 1
    assert _lines(capsys) == ["x=1.0", "x=1.0", "x=2.0", "x=2.0"]


def test_print_without_arrays_runs_at_every_call(capsys):
    f = ft.jit(lambda x: (ft.debug.print("hello"), 2 * x)[1])
    f(1.0)
    f(2.0)
    assert _lines(capsys) == ["hello", "hello"]


def test_print_survives_optimize_although_nothing_reads_it(capsys):
    closed = ft.make_jaxpr(lambda x: (ft.debug.print("{}", 3.0 * x), x + 1.0)[1])(1.0)
    names = [e.primitive.name for e in optimize(closed).jaxpr.eqns]
    assert "debug_callback" in names  # not dropped by DCE, not folded


def test_print_inside_nested_jit_and_loop_body(capsys):
    inner = ft.jit(lambda x: (ft.debug.print("inner {}", x), x)[1])
    ft.jit(lambda x: inner(x) * 0 + 1)(np.array(5.0))

    def body(carry, x):
        ft.debug.print("step {}", x)
        return carry + x, None

    lax.scan(body, 0.0, np.arange(3.0))
    assert _lines(capsys) == ["inner 5.0", "step 0.0", "step 1.0", "step 2.0"]


def test_print_under_grad_prints_primals_and_passes_tangents(capsys):
    def f(x):
        ft.debug.print("x={}", x)
        return fnp.sum(x ** 3)

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(ft.grad(f)(x), 3 * x ** 2)
    np.testing.assert_allclose(ft.jit(ft.grad(f))(x), 3 * x ** 2)
    assert _lines(capsys) == ["x=[1. 2.]", "x=[1. 2.]"]
    check_grads(f, (x,), order=2)


def test_print_under_vmap_prints_each_element_outer_first(capsys):
    def f(x, y):
        ft.debug.print("{} {}", x, y)
        return x + y

    ft.vmap(f, in_axes=(0, None))(np.array([1.0, 2.0]), np.array(9.0))
    assert _lines(capsys) == ["1.0 9.0", "2.0 9.0"]
    ft.vmap(ft.vmap(f, in_axes=(0, None)), in_axes=(None, 0))(np.array([1.0, 2.0]),
                                                               np.array([10.0, 20.0]))
    assert _lines(capsys) == ["1.0 10.0", "2.0 10.0", "1.0 20.0", "2.0 20.0"]


def test_callback_gets_numpy_arrays_and_bad_arguments_are_named():
    seen = []
    ft.jit(lambda x: ft.debug.callback(lambda v, scale: seen.append((type(v), scale)), x,
                                       scale=2.0))(np.ones(2))
    assert seen == [(np.ndarray, 2.0)]
    with pytest.raises(TypeError, match="debug.callback: argument leaf 0 is a object"):
        ft.debug.callback(print, object())
    with pytest.raises(TypeError, match="fmt must be a str"):
        ft.debug.print(3, 1.0)


def test_pure_callback_under_jit_and_dropped_when_unused():
    calls = []

    def host_sin(x):
        calls.append(1)
        return np.sin(x)

    def f(x):
        return ft.pure_callback(host_sin, ft.ShapeDtypeStruct(x.shape, x.dtype), x)

    x = np.linspace(0.0, 1.0, 4)
    np.testing.assert_allclose(ft.jit(f)(x), np.sin(x))
    ft.jit(lambda x: (f(x), x)[1])(x)
    assert len(calls) == 1  # pure: the second program does not need it
    out = ft.pure_callback(lambda a: {"s": a.sum(), "n": np.int32(a.size)},
                           {"s": ft.ShapeDtypeStruct((), np.float64),
                            "n": ft.ShapeDtypeStruct((), np.int32)}, x)
    assert out["n"] == 4 and out["n"].dtype == np.int32


@pytest.mark.parametrize("method, calls_expected", [("sequential", 3), ("expand_dims", 1),
                                                    ("broadcast_all", 1)])
def test_pure_callback_vmap_methods(method, calls_expected):
    shapes = []

    def host(a, b):
        shapes.append((a.shape, b.shape))
        return a * b

    def f(a, b):
        return ft.pure_callback(host, ft.ShapeDtypeStruct(a.shape, a.dtype), a, b,
                                vmap_method=method)

    a, b = np.arange(6.0).reshape(3, 2), np.array([10.0, 100.0])
    np.testing.assert_allclose(ft.vmap(f, in_axes=(0, None))(a, b), a * b)
    assert len(shapes) == calls_expected
    expected_b = {"sequential": (2,), "expand_dims": (1, 2), "broadcast_all": (3, 2)}[method]
    assert shapes[0][1] == expected_b


def test_pure_callback_errors_are_clear():
    spec = ft.ShapeDtypeStruct((2,), np.float64)
    with pytest.raises(ValueError, match="vmap_method="):
        ft.vmap(lambda x: ft.pure_callback(np.sin, spec, x))(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"has shape \(3,\).*says \(2,\)"):
        ft.pure_callback(np.sin, spec, np.ones(3))
    with pytest.raises(TypeError, match="dtype float32"):
        ft.pure_callback(lambda x: x.astype(np.float32), spec, np.ones(2))
    with pytest.raises(TypeError, match="has no derivative.*custom_jvp"):
        ft.grad(lambda x: ft.pure_callback(np.sin, spec, x).sum())(np.ones(2))
    with pytest.raises(ValueError, match="vmap_method must be one of"):
        ft.pure_callback(np.sin, spec, np.ones(2), vmap_method="vectorized")


def test_pure_callback_derivative_through_custom_jvp():
    @ft.custom_jvp
    def host_sin(x):
        return ft.pure_callback(np.sin, ft.ShapeDtypeStruct(x.shape, x.dtype), x,
                                vmap_method="expand_dims")

    @host_sin.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        cos = ft.pure_callback(np.cos, ft.ShapeDtypeStruct(x.shape, x.dtype), x,
                               vmap_method="expand_dims")
        return host_sin(x), cos * t

    x = np.array([0.3, 1.1])
    check_grads(host_sin, (x,), order=1)
    np.testing.assert_allclose(ft.jit(ft.grad(lambda v: fnp.sum(host_sin(v))))(x), np.cos(x))
    np.testing.assert_allclose(ft.vmap(ft.grad(lambda v: host_sin(v)))(x), np.cos(x))


def test_block_until_ready_returns_its_argument():
    tree = {"a": np.ones(2)}
    assert ft.block_until_ready(tree) is tree
