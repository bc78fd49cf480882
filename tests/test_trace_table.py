"""``functrans.trace_table``: every intermediate's value, dot and bar.

The numbers are checked against the course notes' hand derivations, against
``jvp``/``vjp`` of the whole function, and, for every intermediate's bar, against a
central finite difference of the output with respect to a perturbation of that
node alone (which is what the notes' adjoint is).
"""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax, nn
from functrans.core.ir import Literal
from functrans.learn import TraceRow, TraceTable


def z_of(u):
    v = u**2
    w = fnp.sin(v)
    x = fnp.log(v)
    y = w * x
    return fnp.exp(y)


def murray_by_hand(u: float) -> dict[str, tuple[float, float, float]]:
    """Name -> (value, dot with u̇ = 1, bar with z̄ = 1), as the notes derive them."""
    v = u**2
    w, x = np.sin(v), np.log(v)
    y = w * x
    z = np.exp(y)
    v_dot = 2 * u
    w_dot, x_dot = np.cos(v) * v_dot, v_dot / v
    y_dot = x * w_dot + w * x_dot
    y_bar = z
    w_bar, x_bar = y_bar * x, y_bar * w
    v_bar = w_bar * np.cos(v) + x_bar / v
    return {"u": (u, 1.0, v_bar * 2 * u), "v": (v, v_dot, v_bar), "w": (w, w_dot, w_bar),
            "x": (x, x_dot, x_bar), "y": (y, y_dot, y_bar), "z": (z, z * y_dot, 1.0)}


@pytest.mark.parametrize("u", [1.5, 0.7])
def test_the_notes_table(u):
    table = ft.trace_table(z_of, u, names="uvwxyz")
    assert [row.name for row in table] == list("uvwxyz")
    assert [row.equation for row in table] == ["input", "integer_pow[y=2] u", "sin v",
                                               "log v", "mul w x", "exp y"]
    for name, (value, dot, bar) in murray_by_hand(u).items():
        row = table[name]
        np.testing.assert_allclose([row.value, row.tangent, row.cotangent],
                                   [value, dot, bar], rtol=1e-14)
        assert row.aval == "f64[]"


def test_text_table():
    text = str(ft.trace_table(z_of, 1.5, names="uvwxyz"))
    lines = text.splitlines()
    assert lines[0].split() == ["computed", "as", "type", "value", "dot", "(tangent)", "bar",
                                "(cotangent)"]
    assert lines[2].split() == ["v", "integer_pow[y=2]", "u", "f64[]", "2.25", "3.0",
                                "-0.307463"]
    assert lines[6].split() == ["z", "exp", "y", "f64[]", "1.87942", "-0.922389", "1.0"]
    widths = {len(line.rstrip()) for line in lines}
    assert max(widths) == len(lines[0])       # numbers are right-aligned under the header


def _offset_output(table: TraceTable, flat_args: list, node, delta: float) -> float:
    """<cotangent seed = 1, output> with `delta` added to `node` once it is computed:
    plain NumPy evaluation of the table's jaxpr."""
    jaxpr = table.jaxpr.jaxpr
    env = dict(zip(jaxpr.constvars, table.jaxpr.consts))
    env.update(zip(jaxpr.invars, flat_args))
    if node in env:
        env[node] = env[node] + delta
    for eqn in jaxpr.eqns:
        ins = [a.val if type(a) is Literal else env[a] for a in eqn.invars]
        outs = eqn.primitive.impl(*ins, **eqn.params)
        outs = outs if eqn.primitive.multiple_results else [outs]
        for v, o in zip(eqn.outvars, outs):
            env[v] = o + delta if v is node else o
    return sum(float(np.sum(env[a] if type(a) is not Literal else a.val))
               for a in jaxpr.outvars)


def mlp_like(W, x):
    h = fnp.tanh(W @ x)
    return fnp.sum(h * h) + fnp.log(fnp.sum(fnp.exp(x)))


def kamper(x, y):
    return (x + nn.sigmoid(y)) / (x**2 + y)


def with_where(x):
    return fnp.sum(fnp.where(x > 0, x**3, fnp.sin(x)))


@pytest.mark.parametrize("f, args", [
    (mlp_like, (np.arange(6.0).reshape(2, 3) / 7, np.array([0.3, -0.2, 0.5]))),
    (kamper, (3.0, -4.0)),
    (with_where, (np.array([-0.5, 0.25, 1.0]),)),
], ids=["mlp", "kamper", "where"])
def test_every_bar_is_the_derivative_with_respect_to_that_node(f, args):
    table = ft.trace_table(f, *args)
    flat_args = [np.asarray(a, float) for a in args]
    for var, row in zip(table.variables, table):
        if row.cotangent is None:
            continue
        assert row.cotangent.shape == row.value.shape
        if row.value.size != 1:
            continue      # scalar nodes: one finite difference each
        h = 1e-6
        difference = (_offset_output(table, flat_args, var, h)
                      - _offset_output(table, flat_args, var, -h)) / (2 * h)
        np.testing.assert_allclose(row.cotangent, difference, rtol=1e-6, atol=1e-8,
                                   err_msg=f"bar of {row.name} = {row.equation}")


def test_inputs_and_output_agree_with_jvp_and_vjp():
    rng = np.random.default_rng(0)
    W, x = rng.normal(size=(2, 3)), rng.normal(size=3)
    W_dot, x_dot = rng.normal(size=(2, 3)), rng.normal(size=3)
    table = ft.trace_table(mlp_like, W, x, tangents=(W_dot, x_dot), cotangents=2.0)
    out, out_dot = ft.jvp(mlp_like, (W, x), (W_dot, x_dot))
    W_bar, x_bar = ft.vjp(mlp_like, W, x)[1](2.0)
    rows = list(table)
    np.testing.assert_allclose(rows[-1].value, out)
    np.testing.assert_allclose(rows[-1].tangent, out_dot, rtol=1e-12)
    np.testing.assert_allclose(rows[-1].cotangent, 2.0)
    np.testing.assert_allclose(rows[0].tangent, W_dot)
    np.testing.assert_allclose(rows[0].cotangent, W_bar, rtol=1e-12)
    np.testing.assert_allclose(rows[1].cotangent, x_bar, rtol=1e-12)


def test_tangents_are_linear_in_the_seed_and_sum_over_paths():
    """A dot is the sum over paths of products of local derivatives: here v feeds w and
    x, and y's dot adds both paths, x ẇ + w ẋ."""
    table = ft.trace_table(z_of, 1.5, names="uvwxyz", tangents=(2.0,))
    single = ft.trace_table(z_of, 1.5, names="uvwxyz")
    for a, b in zip(table, single):
        np.testing.assert_allclose(a.tangent, 2 * b.tangent, rtol=1e-15)
    w, x = table["w"], table["x"]
    np.testing.assert_allclose(table["y"].tangent,
                               x.value * w.tangent + w.value * x.tangent, rtol=1e-14)


def test_constants_integers_and_pytrees():
    W = np.arange(6.0).reshape(2, 3)

    def f(params, n):
        return {"out": fnp.sum(fnp.tanh(W @ params["x"]) * n), "n": n}

    params = {"x": np.array([0.1, 0.2, 0.3])}
    table = ft.trace_table(f, params, 2, cotangents={"out": 1.0, "n": np.zeros((), ft.float0)})
    constant, x, n = list(table)[:3]
    assert (constant.equation, x.equation, n.equation) == ("constant", "input", "input")
    np.testing.assert_allclose(constant.tangent, np.zeros((2, 3)))
    W_bar = ft.grad(lambda W: fnp.sum(fnp.tanh(W @ params["x"]) * 2))(W)
    np.testing.assert_allclose(constant.cotangent, W_bar, rtol=1e-12)
    assert n.tangent is None and n.cotangent is None and n.aval == "i64[]"


def test_float32_stays_float32():
    x = np.array([0.5, 1.5], np.float32)
    table = ft.trace_table(lambda x: fnp.sum(fnp.exp(fnp.sin(x) * 2.0)), x)
    for row in table:
        for value in (row.value, row.tangent, row.cotangent):
            assert np.asarray(value).dtype == np.float32, row


def test_several_outputs_need_matching_cotangents():
    def two(x):
        return fnp.sin(x), fnp.cos(x)

    table = ft.trace_table(two, 0.5, cotangents=(1.0, 0.0))
    np.testing.assert_allclose(table["a"].cotangent, np.cos(0.5))
    default = ft.trace_table(two, 0.5)              # z̄ = 1 for every output
    np.testing.assert_allclose(default["a"].cotangent, np.cos(0.5) - np.sin(0.5))
    with pytest.raises(TypeError, match="cotangents have 1 leaves.*2 outputs of types "
                                        "f64\\[\\], f64\\[\\]"):
        ft.trace_table(two, 0.5, cotangents=1.0)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="trace_table of z_of: tangents must be a tuple"):
        ft.trace_table(z_of, 1.5, tangents=1.0)
    with pytest.raises(TypeError, match="tangents have structure"):
        ft.trace_table(lambda a, b: a * b, 1.0, 2.0, tangents=((1.0, 1.0), 1.0))
    with pytest.raises(ValueError, match="7 names given for 6 variables"):
        ft.trace_table(z_of, 1.5, names="uvwxyzq")
    with pytest.raises(KeyError, match="no variable named 'q'; the variables are u, v"):
        ft.trace_table(z_of, 1.5, names="uvwxyz")["q"]


def test_to_dot_annotates_every_node():
    dot = ft.trace_table(z_of, 1.5, names={"a": "u", "b": "v"}).to_dot(title="z")
    assert 'label="v = integer_pow[y=2] u\\nf64[]\\nvalue 2.25\\ndot 3.0\\nbar -0.307463"' in dot
    assert 'label="f = exp e\\nf64[]\\nvalue 1.87942\\ndot -0.922389\\nbar 1.0"' in dot


def test_control_flow_is_one_row_per_top_level_result():
    def f(xs):
        total, _ = lax.scan(lambda c, x: (c + fnp.sin(x) * c, None), 1.0, xs)
        return total

    xs = np.array([0.1, 0.2, 0.3])
    table = ft.trace_table(f, xs)
    np.testing.assert_allclose(list(table)[-1].tangent, ft.jvp(f, (xs,), (np.ones(3),))[1])
    np.testing.assert_allclose(list(table)[0].cotangent, ft.grad(f)(xs), rtol=1e-12)
    assert any(row.equation.startswith("scan[") for row in table)


def test_rows_are_plain_data():
    row = ft.trace_table(z_of, 1.5)["c"]
    assert isinstance(row, TraceRow)
    assert (row.name, row.equation, row.aval) == ("c", "sin b", "f64[]")
    with pytest.raises(AttributeError):
        row.name = "w"   # frozen
