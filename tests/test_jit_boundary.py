"""What jit does with its arguments: Python scalars stay weakly typed (one signature
per kind, whatever the value), arguments it cannot trace are refused at the call
with a clear error, retraces can be logged, and the cache of signatures is bounded."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.core.avals import ShapedArray, get_aval


class TraceCounter:
    """A function under jit that counts how often Python runs it (once per trace)."""

    def __init__(self, fun):
        self.fun = fun
        self.traces = 0
        self.__name__ = fun.__name__

    def __call__(self, *args, **kwargs):
        self.traces += 1
        return self.fun(*args, **kwargs)


def adam_step(p, g, m, v, step, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    mhat = m / (1 - b1 ** step)
    vhat = v / (1 - b2 ** step)
    return p - lr * mhat / (fnp.sqrt(vhat) + eps), m, v


def scale(x, s):
    return x * s + s


@pytest.fixture
def log_compiles(monkeypatch):
    monkeypatch.setattr(ft.config, "log_compiles", True)


@pytest.fixture
def cache_of_8(monkeypatch):
    monkeypatch.setattr(ft.config, "jit_cache_size", 8)


# ------------------------------------------------------------------ weak types

@pytest.mark.parametrize("value, dtype", [(3, np.int64), (-2**63, np.int64), (2**63 - 1, np.int64),
                                          (2.5, np.float64), (True, np.bool_),
                                          (1j, np.complex128)])
def test_a_python_scalar_argument_is_traced_weakly_typed(value, dtype):
    (aval,) = ft.jit(lambda s: s).lower(value).jaxpr.in_avals
    assert aval == ShapedArray((), dtype, weak_type=True)
    assert get_aval(value) == aval


def test_a_numpy_scalar_argument_is_traced_strongly_typed():
    (aval,) = ft.jit(lambda s: s).lower(np.float32(2)).jaxpr.in_avals
    assert aval == ShapedArray((), np.float32)


def test_python_ints_of_any_value_share_one_trace_and_keep_the_arrays_dtype():
    counted = TraceCounter(scale)
    jitted = ft.jit(counted)
    x = np.arange(3, dtype=np.float32)
    for step in (1, 2, 3, 10**12, -5):
        out = jitted(x, step)
        assert out.dtype == scale(x, step).dtype == np.float32
        np.testing.assert_array_equal(out, scale(x, step))
    assert counted.traces == 1


def test_python_floats_share_one_signature_apart_from_ints():
    counted = TraceCounter(scale)
    jitted = ft.jit(counted)
    x = np.ones(2, np.float32)
    for s in (0.5, 2.5, 1e300, 1, 7):
        assert jitted(x, s).dtype == np.float32
    assert counted.traces == 2


def test_the_slow_path_also_keeps_one_signature_per_python_scalar_kind():
    counted = TraceCounter(lambda x, s, *, k: x * s * k)  # a keyword: no hot path
    jitted = ft.jit(counted)
    x = np.ones(2, np.float32)
    for s in (1, 2, 3):
        assert jitted(x, s, k=2).dtype == np.float32
    assert counted.traces == 1


def test_adam_step_with_a_python_int_counter_matches_eager_and_traces_once():
    counted = TraceCounter(adam_step)
    jitted = ft.jit(counted)
    g = np.array([0.1, -0.2, 0.3], np.float32)
    p = m = v = np.zeros(3, np.float32)
    p_eager, m_eager, v_eager = p, m, v
    for step in (1, 2, 3):
        p, m, v = jitted(p, g, m, v, step)
        p_eager, m_eager, v_eager = adam_step(p_eager, g, m_eager, v_eager, step)
        assert (p.dtype, m.dtype, v.dtype) == (p_eager.dtype, m_eager.dtype,
                                               v_eager.dtype) == (np.float32,) * 3
        np.testing.assert_allclose(p, p_eager, rtol=1e-6)
    assert counted.traces == 1


# ------------------------------------------------------------------ arguments jit refuses

def add_one(x):
    return x + 1


@pytest.mark.parametrize("value, size", [(2**70, "large"), (2**63, "large"),
                                         (-2**63 - 1, "small")])
def test_a_python_int_beyond_int64_is_an_overflow_error_naming_the_argument(value, size):
    with pytest.raises(OverflowError, match=rf"jit of add_one: argument 0 \(x\) is the Python "
                                            rf"int {value}: too {size} to convert to int64"):
        ft.jit(add_one)(value)


def test_a_big_int_is_refused_on_the_hot_path_too():
    jitted = ft.jit(add_one)
    assert jitted(2**63 - 1 - 1) == 2**63 - 1  # the signature (a weak int) is now cached
    with pytest.raises(OverflowError, match="too large to convert to int64"):
        jitted(2**63)


def test_the_overflow_error_says_what_works():
    with pytest.raises(OverflowError) as info:
        ft.jit(add_one)(2**64)
    message = str(info.value)
    assert "np.uint64(x)" in message and "float(x)" in message and "static_argnums" in message
    by_residue = ft.jit(lambda x, n: x * (n % 7), static_argnums=1)
    assert by_residue(1.0, 2**70) == 2**70 % 7
    assert ft.jit(add_one)(np.uint64(2**63)) == np.uint64(2**63 + 1)


def test_arguments_are_named_by_pytree_path_keyword_and_position_after_statics():
    def f(mode, tree, *, scale=1):
        return tree["a"][1] * scale

    with pytest.raises(OverflowError, match=r"argument 1 \(tree\)\['a'\]\[1\] is the Python "
                                            r"int 18446744073709551616"):
        ft.jit(f, static_argnums=0)("m", {"a": [1.0, 2**64]})
    with pytest.raises(OverflowError, match=r"keyword argument 'scale' is the Python int"):
        ft.jit(f, static_argnums=0)("m", {"a": [1.0, 2.0]}, scale=2**64)


@pytest.mark.parametrize("value, dtype, hint", [
    (np.array(["2020-01-01"], "datetime64[D]"), "datetime64[D]", "Convert dates"),
    (np.array([3], "timedelta64[s]"), "timedelta64[s]", "Convert durations"),
    (np.array([1, None], object), "object", "np.asarray(x, dtype=np.float64)"),
    (np.array(["a"]), "<U1", "Strings cannot be traced"),
    (np.array([b"a"]), "|S1", "Strings cannot be traced"),
    (np.zeros(2, [("a", np.float64)]), "[('a', '<f8')]", "structured array"),
])
def test_an_array_of_a_dtype_jit_cannot_trace_is_a_type_error(value, dtype, hint):
    with pytest.raises(TypeError, match=rf"jit of add_one: argument 0 \(x\) is an array of "
                                        rf"dtype {re.escape(dtype)}, which cannot be "
                                        r"traced") as info:
        ft.jit(add_one)(value)
    assert hint in str(info.value)


def test_a_numpy_scalar_of_such_a_dtype_is_refused_too():
    with pytest.raises(TypeError, match=r"argument 0 \(x\) is a NumPy scalar of dtype "
                                        r"datetime64\[D\]"):
        ft.jit(add_one)(np.datetime64("2020-01-01"))


@pytest.mark.parametrize("value, shown", [("abc", r"a str \('abc'\)"),
                                          ({1, 2}, r"a set \(\{1, 2\}\)")])
def test_a_value_that_is_no_array_is_a_type_error_pointing_to_static_arguments(value, shown):
    with pytest.raises(TypeError, match=rf"jit of add_one: argument 0 \(x\) is {shown}, not "
                                        r"an array.*static arguments"):
        ft.jit(add_one)(value)


def test_make_jaxpr_refuses_the_same_arguments():
    with pytest.raises(OverflowError, match=r"make_jaxpr of add_one: argument 0 \(x\)"):
        ft.make_jaxpr(add_one)(2**70)
    with pytest.raises(TypeError, match=r"make_jaxpr of add_one: argument 0 \(x\) is an array "
                                        r"of dtype datetime64\[D\]"):
        ft.make_jaxpr(add_one)(np.array(["2020-01-01"], "datetime64[D]"))


def test_big_python_ints_in_eager_code_behave_as_in_numpy():
    assert get_aval(2**70) == ShapedArray((), np.int64, weak_type=True)
    np.testing.assert_array_equal(fnp.add(np.ones(2), 2**70), np.ones(2) + 2**70)
    u = np.ones(2, np.uint64)
    np.testing.assert_array_equal(fnp.multiply(u, 2**63), u * 2**63)
    with pytest.raises(OverflowError):
        fnp.add(np.arange(2), 2**70)  # as np.arange(2) + 2**70
    assert ft.grad(lambda x, n: x * n)(1.0, 2**70) == 2.0**70  # a constant, not traced


# ------------------------------------------------------------------ log_compiles

def test_nothing_is_logged_by_default(caplog):
    with caplog.at_level(logging.DEBUG, logger="functrans"):
        ft.jit(add_one)(1.0)
    assert caplog.records == []


def logged(caplog, call):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="functrans"):
        call()
    assert all(r.name == "functrans" and r.levelno == logging.WARNING for r in caplog.records)
    return [r.getMessage() for r in caplog.records]


def test_each_trace_logs_the_function_and_on_a_retrace_what_changed(log_compiles, caplog):
    jitted = ft.jit(adam_step)
    a = np.ones(3, np.float32)
    assert logged(caplog, lambda: jitted(a, a, a, a, 1)) == [
        "jit of adam_step: tracing for the first time, with argument 0 (p): float32[3], "
        "argument 1 (g): float32[3], argument 2 (m): float32[3], argument 3 (v): "
        "float32[3], argument 4 (step): int64[] weak"]
    assert logged(caplog, lambda: jitted(a, a, a, a, 2)) == []  # the same signature
    assert logged(caplog, lambda: jitted(a, a, a, a, 2.0)) == [
        "jit of adam_step: retracing because argument 4 (step) changed from int64[] weak to "
        "float64[] weak"]
    assert logged(caplog, lambda: jitted(a, a, a, a, 2, lr=0.1)) == [
        "jit of adam_step: retracing because keyword argument 'lr' was added"]
    assert logged(caplog, lambda: jitted(np.ones(3), a, a, a, 1)) == [
        "jit of adam_step: retracing because argument 0 (p) changed from float32[3] to "
        "float64[3]"]


def test_retraces_name_static_arguments_and_changed_structures(log_compiles, caplog):
    def f(params, n, mode):
        return params["w"] * n

    jitted = ft.jit(f, static_argnums=2)
    a = np.ones(3)
    assert "static argument 2 (mode)='a'" in logged(caplog, lambda: jitted({"w": a}, 1, "a"))[0]
    assert logged(caplog, lambda: jitted({"w": a}, 1, "b")) == [
        "jit of f: retracing because static argument 2 (mode) changed from 'a' to 'b'"]
    assert logged(caplog, lambda: jitted({"w": a, "b": a}, 1, "b")) == [
        "jit of f: retracing because argument 0 (params) changed structure from "
        "PyTreeDef({'w': *}) to PyTreeDef({'b': *, 'w': *})"]
    assert logged(caplog, lambda: jitted({"w": np.ones(4)}, 1, "b")) == [  # the closest
        "jit of f: retracing because argument 0 (params)['w'] changed from float64[3] to "
        "float64[4]"]


def test_lower_logs_its_trace(log_compiles, caplog):
    assert logged(caplog, lambda: ft.jit(add_one).lower(1.0)) == [
        "jit of add_one: tracing for lower(), with argument 0 (x): float64[] weak"]


def test_a_full_cache_is_mentioned(log_compiles, cache_of_8, caplog):
    jitted = ft.jit(add_one)
    for n in range(1, 10):
        jitted(np.ones(n))
    assert "cache holds its limit of 8 signatures" in logged(caplog,
                                                             lambda: jitted(np.ones(1)))[0]


def test_settings_are_checked_when_set():
    with pytest.raises(TypeError, match="log_compiles must be True or False"):
        ft.config.update("log_compiles", 1)
    with pytest.raises(ValueError, match="jit_cache_size must be a positive int"):
        ft.config.update("jit_cache_size", 0)
    with pytest.raises(ValueError, match="jit_cache_size must be a positive int"):
        ft.config.jit_cache_size = 2.5
    with pytest.raises(AttributeError, match="no setting 'log_compile'"):
        ft.config.update("log_compile", True)
    assert ft.config.log_compiles is False and ft.config.jit_cache_size == 256


# ------------------------------------------------------------------ cache bound

def cached_entries_are_consistent(jitted):
    entries = list(jitted._cache.values())
    assert all(any(e is entry for entry in entries) for e in jitted._fast.values())
    assert sum(len(e.fast_keys) for e in entries) == len(jitted._fast)


def test_many_shapes_keep_the_cache_bounded_and_results_right(cache_of_8):
    counted = TraceCounter(lambda x: fnp.sum(x * 2.0))
    jitted = ft.jit(counted)
    for n in range(1, 51):
        assert jitted(np.ones(n)) == 2.0 * n
        assert jitted._cache_size() <= 8 and len(jitted._fast) <= 8
        cached_entries_are_consistent(jitted)
    assert counted.traces == 50


def test_an_evicted_signature_is_traced_again_and_still_right(cache_of_8):
    counted = TraceCounter(lambda x: x + 1.0)
    jitted = ft.jit(counted)
    for n in range(1, 10):  # 9 shapes: the first is dropped
        jitted(np.zeros(n))
    np.testing.assert_array_equal(jitted(np.zeros(1)), np.ones(1))
    assert counted.traces == 10
    cached_entries_are_consistent(jitted)


def test_a_signature_in_use_survives_while_others_come_and_go(cache_of_8):
    counted = TraceCounter(lambda x, s: x * s)
    jitted = ft.jit(counted)
    x = np.ones(3)
    for n in range(1, 40):
        jitted(x, 2)  # the hot path
        jitted(np.ones(n + 3), 2)
        jitted(x, s=3)  # the slow path (a keyword)
    assert counted.traces == 2 + 39
    cached_entries_are_consistent(jitted)


def test_a_smaller_limit_applies_at_the_next_trace(monkeypatch):
    jitted = ft.jit(add_one)
    for n in range(1, 21):
        jitted(np.ones(n))
    assert jitted._cache_size() == 20
    monkeypatch.setattr(ft.config, "jit_cache_size", 4)
    jitted(np.ones(21))
    assert jitted._cache_size() == 4 and len(jitted._fast) == 4
    cached_entries_are_consistent(jitted)
