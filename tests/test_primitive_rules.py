"""The rule-check table: every ``Row`` of ``tests/rules/table_*.py`` through the same checks.

Tables are discovered by name, so a new ``table_<family>.py`` with a ``ROWS``
list needs no change here. Per row and dtype (ids read ``<table>.<row>-<dtype>``):

* ``test_jvp_vs_finite_differences``: the JVP in a random direction against a
  central difference computed in float64 (float32 rows compare loosely);
* ``test_vjp_vs_jvp``: the dot-product test ``<v, J u> = <J^T v, u>``;
* ``test_zero_derivative``: rows marked not differentiable have zero tangents
  and cotangents;
* ``test_linearity``: for ``linear`` rows, the function and its transpose are linear
  and the transpose does not depend on the primal point;
* ``test_vmap_vs_loop`` / ``test_jit_vs_eager``: batching and staging agree with
  plain evaluation;
* ``test_dtypes``: the NumPy impl returns what the shape rule promises, float
  precision is kept, tangents and cotangents have their primals' dtypes;
* ``test_second_order``: ``check_grads`` of order 2 on ``sum(f(x) * w)`` (float64).

The ``check_*`` functions raise ``AssertionError``; the meta-tests at the end feed
them deliberately wrong rules to show that each one can fail.
"""

from __future__ import annotations

import importlib
import pkgutil
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import tests.rules as rules_package
from functrans import dtypes, lax
from functrans.api.jit import jit
from functrans.config import config
from functrans.test_util import check_grads, default_eps, inner_prod, numerical_jvp, rand_like
from functrans.transforms.autodiff import vjp
from functrans.transforms.jvp import jvp
from functrans.transforms.staging import make_jaxpr
from functrans.transforms.vmap import vmap
from functrans.tree_util import tree_flatten, tree_leaves, tree_map
from tests.rules import Row

BATCH_SIZE = 3
LINEAR_SCALE = 0.75  # exactly representable, so a*y rounds the same in every dtype


# ------------------------------------------------------------------ the table

def _load_tables() -> tuple[list[tuple[str, Row]], list[tuple[str, str]]]:
    """``(table, row)`` for every row, and ``(table, error)`` for tables that fail
    to import (reported as failing tests rather than hiding the other tables)."""
    rows: list[tuple[str, Row]] = []
    broken: list[tuple[str, str]] = []
    modules = sorted(m.name for m in pkgutil.iter_modules(rules_package.__path__))
    for name in modules:
        if not name.startswith("table_"):
            continue
        table = name.removeprefix("table_")
        try:
            module = importlib.import_module(f"{rules_package.__name__}.{name}")
            rows.extend((table, row) for row in module.ROWS)
        except Exception as e:  # any import error becomes a failing test
            broken.append((table, f"{type(e).__name__}: {e}"))
    return rows, broken


ROWS, BROKEN_TABLES = _load_tables()


def _short(dtype: Any) -> str:
    return dtypes.short_name(np.dtype(dtype))


def _row_labels() -> list[str]:
    seen: dict[str, int] = {}
    labels = []
    for table, row in ROWS:
        label = f"{table}.{row.name}"
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return labels


def _is_inexact(dtype: Any) -> bool:
    return dtypes.is_float(np.dtype(dtype))


def _params(keep: Callable[[Row, Any], bool]) -> list[Any]:
    params = []
    for (_, row), label in zip(ROWS, _row_labels(), strict=True):
        for dtype in row.dtypes:
            if keep(row, dtype):
                params.append(pytest.param(row, dtype, id=f"{label}-{_short(dtype)}"))
    return params


# ------------------------------------------------------------------ cases

def _rng(row: Row, dtype: Any, sample: int = 0) -> np.random.Generator:
    # crc32, not hash(): the same values in every process and run
    return np.random.default_rng([zlib.crc32(row.name.encode()), np.dtype(dtype).num, sample])


def _sample(row: Row, dtype: Any, sample: int = 0) -> tuple:
    return tuple(row.args(_rng(row, dtype, sample), dtype))


def _is_float_value(x: Any) -> bool:
    return dtypes.is_float(np.asarray(x).dtype)


class Case:
    """One row at one dtype: its arguments, which of them are differentiated, and
    the function of the differentiated arguments alone."""

    def __init__(self, row: Row, dtype: Any, sample: int = 0):
        self.row = row
        self.dtype = np.dtype(dtype)
        self.args = _sample(row, dtype, sample)
        self.diff = self._diff_argnums()
        self.primals = tuple(self.args[i] for i in self.diff)
        self.f = self.partial(self.args)

    def _diff_argnums(self) -> tuple[int, ...]:
        if self.row.diff_argnums is None:
            return tuple(i for i, a in enumerate(self.args) if _is_float_value(a))
        for i in self.row.diff_argnums:
            if not _is_float_value(self.args[i]):
                raise ValueError(f"row {self.row.name}: diff_argnums names argument {i}, "
                                 f"of dtype {np.asarray(self.args[i]).dtype}; only float "
                                 "arguments can be differentiated")
        return tuple(self.row.diff_argnums)

    def partial(self, args: tuple) -> Callable[..., Any]:
        """``row.fun`` as a function of the differentiated arguments, the others fixed."""
        fun, diff = self.row.fun, self.diff

        def f(*diff_args: Any) -> Any:
            full = list(args)
            for i, a in zip(diff, diff_args, strict=True):
                full[i] = a
            return fun(*full)
        f.__name__ = self.row.name
        return f

    def rng(self, salt: int) -> np.random.Generator:
        return _rng(self.row, self.dtype, 1000 + salt)

    def require_float_args(self) -> None:
        if not self.diff:
            pytest.skip(f"{self.row.name} has no float arguments at {self.dtype}")


def _to_float64(x: Any) -> Any:
    x = np.asarray(x)
    if not dtypes.is_float(x.dtype):
        return x
    return x.astype(np.complex128 if np.iscomplexobj(x) else np.float64)


# ------------------------------------------------------------------ tolerances

def _loosest(dtype: np.dtype, floor64: float, floor32: float, floor16: float) -> float:
    bits = np.finfo(dtype).bits if dtypes.is_float(dtype) else 64
    return {64: floor64, 32: floor32}.get(bits, floor16)


def _fd_tolerances(row: Row, dtype: np.dtype) -> tuple[float, float]:
    """(rtol, atol) of a JVP against float64 finite differences."""
    floor = _loosest(dtype, 0.0, 2e-3, 3e-2)
    return max(row.rtol, floor), max(row.atol, floor)


def _rounding_tolerance(dtype: np.dtype) -> float:
    """Two evaluations of the same exact quantity differ only by rounding."""
    return _loosest(dtype, 1e-9, 1e-4, 1e-2)


def _leaf_pairs(actual: Any, expected: Any, what: str) -> Iterator[tuple[int, Any, Any]]:
    a_leaves, a_tree = tree_flatten(actual)
    e_leaves, e_tree = tree_flatten(expected)
    if a_tree != e_tree:
        raise AssertionError(f"{what}: output structures differ: computed {a_tree}, "
                             f"expected {e_tree}")
    for i, (a, e) in enumerate(zip(a_leaves, e_leaves, strict=True)):
        yield i, np.asarray(a), np.asarray(e)


def assert_close(actual: Any, expected: Any, *, rtol: float, atol: float, what: str,
                 exact_dtypes: bool = False) -> None:
    """Float leaves within ``atol * max(1, max|expected|) + rtol * |expected|``;
    other leaves equal; shapes (and with `exact_dtypes`, dtypes) identical."""
    for i, a, e in _leaf_pairs(actual, expected, what):
        where = f"{what}, output {i}"
        if a.shape != e.shape or (exact_dtypes and a.dtype != e.dtype):
            raise AssertionError(f"{where}: computed shape {a.shape} dtype {a.dtype}, "
                                 f"expected shape {e.shape} dtype {e.dtype}")
        if dtypes.float0 in (a.dtype, e.dtype):
            continue
        if not (dtypes.is_float(a.dtype) or dtypes.is_float(e.dtype)):
            np.testing.assert_array_equal(a, e, err_msg=f"{where} (dtype {a.dtype})")
            continue
        scale = max(1.0, float(np.max(np.abs(e), initial=0.0)))
        np.testing.assert_allclose(
            a, e, rtol=rtol, atol=atol * scale, equal_nan=True,
            err_msg=f"{where}: computed dtype {a.dtype}, expected dtype {e.dtype}, "
                    f"rtol={rtol:g}, atol={atol:g} x {scale:.3g}")


def _terms_scale(xs: Any, ys: Any) -> float:
    """``sum |x| |y|`` over float leaves: how large the summed terms of <x, y> are."""
    total = 0.0
    for x, y in zip(tree_leaves(xs), tree_leaves(ys), strict=True):
        if _is_float_value(x) and _is_float_value(y):
            total += float(np.sum(np.abs(_to_float64(x)) * np.abs(_to_float64(y))))
    return total


def _assert_inner_products_close(computed: float, expected: float, scale: float, tol: float,
                                 what: str) -> None:
    allowed = tol * max(scale, abs(expected), 1e-30)
    if not abs(computed - expected) <= allowed:
        raise AssertionError(f"{what}\n  <J^T v, u> (VJP) = {computed!r}\n  <v, J u> (JVP) = "
                             f"{expected!r}\n  difference {abs(computed - expected):.3g} > "
                             f"allowed {allowed:.3g} (relative tolerance {tol:g} of the size "
                             f"of the summed terms, {scale:.3g})")


# ------------------------------------------------------------------ the checks

def _finite_difference(case: Case, tangent: tuple) -> Any:
    """Central difference in float64; in the row's dtype only if the row's function
    cannot run in float64."""
    if case.dtype.kind == "c" or np.finfo(case.dtype).bits < 64:
        args64 = tuple(_to_float64(a) for a in case.args)
        try:
            f64 = case.partial(args64)
            return numerical_jvp(f64, [args64[i] for i in case.diff],
                                 [_to_float64(t) for t in tangent], eps=case.row.eps)
        except (TypeError, ValueError):
            pass  # the row's function is tied to its dtype
        eps = max(case.row.eps, default_eps(case.dtype))
        return numerical_jvp(case.f, case.primals, tangent, eps=eps)
    return numerical_jvp(case.f, case.primals, tangent, eps=case.row.eps)


def check_jvp_vs_finite_differences(row: Row, dtype: Any) -> None:
    case = Case(row, dtype)
    case.require_float_args()
    tangent = rand_like(case.rng(0), case.primals)
    _, tangent_out = jvp(case.f, case.primals, tangent)
    expected = _finite_difference(case, tangent)
    rtol, atol = _fd_tolerances(row, case.dtype)
    assert_close(tangent_out, expected, rtol=rtol, atol=atol,
                 what=f"{row.name} [{case.dtype}]: JVP (computed) vs float64 central "
                      f"difference with eps={row.eps:g} (expected)")


@contextmanager
def reverse_mode(mode: str) -> Iterator[None]:
    """Reverse mode by the eager tape (``"tape"``: each primitive's rule derived,
    after a first call that sees each signature once) or by transposing a linear
    jaxpr (``"jaxpr"``, the general path every nested transformation takes)."""
    saved = config.eager_tape
    config.update("eager_tape", mode == "tape")
    try:
        yield
    finally:
        config.update("eager_tape", saved)


def _vjp(case: Case, mode: str, *primals: Any) -> tuple[Any, Any]:
    with reverse_mode(mode):
        if mode != "tape":
            return vjp(case.f, *primals)
        vjp(case.f, *primals)  # the second application of a signature derives its rule
        out, f_vjp = vjp(case.f, *primals)

    def f_vjp_walked_and_fused(cotangent: Any) -> Any:
        """The tape's backward pass both ways: a structure's first transposition walks
        the entries, a later one runs their fused backward function (when the
        structure allows one): the two must agree, and the fused result is checked."""
        walked = f_vjp(cotangent)
        fused = f_vjp(cotangent)
        tol = _rounding_tolerance(case.dtype)
        assert_close(fused, walked, rtol=tol, atol=tol,
                     what=f"{case.row.name} [{case.dtype}]: the tape's fused backward "
                          "function (computed) vs its walk (expected)")
        return fused
    return out, f_vjp_walked_and_fused


def check_vjp_vs_jvp(row: Row, dtype: Any, mode: str = "tape") -> None:
    case = Case(row, dtype)
    case.require_float_args()
    rng = case.rng(1)
    tangent = rand_like(rng, case.primals)
    out, tangent_out = jvp(case.f, case.primals, tangent)
    cotangent = rand_like(rng, out)
    _, f_vjp = _vjp(case, mode, *case.primals)
    cotangent_in = tuple(f_vjp(cotangent))
    forward = inner_prod(cotangent, tangent_out)
    transposed = inner_prod(cotangent_in, tangent)
    scale = max(_terms_scale(cotangent, tangent_out), _terms_scale(cotangent_in, tangent))
    tol = max(_rounding_tolerance(case.dtype), row.rtol)
    _assert_inner_products_close(transposed, forward, scale, tol,
                                 f"{row.name} [{case.dtype}]: VJP vs JVP dot-product test")


def check_zero_derivative(row: Row, dtype: Any, mode: str = "tape") -> None:
    case = Case(row, dtype)
    case.require_float_args()
    rng = case.rng(2)
    out, tangent_out = jvp(case.f, case.primals, rand_like(rng, case.primals))
    _, f_vjp = _vjp(case, mode, *case.primals)
    cotangent_in = f_vjp(rand_like(rng, out))
    for what, values in (("tangent", tangent_out), ("cotangent", cotangent_in)):
        for i, leaf in enumerate(tree_leaves(values)):
            leaf = np.asarray(leaf)
            if leaf.dtype != dtypes.float0 and np.any(leaf != 0):
                raise AssertionError(f"{row.name} [{case.dtype}]: the row is marked not "
                                     f"differentiable but {what} {i} is nonzero: {leaf}")


def check_linearity(row: Row, dtype: Any, mode: str = "tape") -> None:
    case = Case(row, dtype)
    case.require_float_args()
    rng = case.rng(3)
    a = LINEAR_SCALE
    tol = _rounding_tolerance(case.dtype)
    x, y = case.primals, rand_like(rng, case.primals)
    x_plus_ay = tree_map(lambda u, v: np.asarray(u + a * v, np.asarray(u).dtype), x, y)
    combined = tree_map(lambda u, v: u + a * v, case.f(*x), case.f(*y))
    assert_close(case.f(*x_plus_ay), combined, rtol=tol, atol=tol,
                 what=f"{row.name} [{case.dtype}]: f(x + a y) (computed) vs f(x) + a f(y) "
                      f"(expected) in arguments {case.diff}; the row is marked linear "
                      "(a bilinear primitive must set diff_argnums to one side)")
    out, f_vjp = _vjp(case, mode, *x)
    ct1, ct2 = rand_like(rng, out), rand_like(rng, out)
    ct_sum = tree_map(lambda u, v: np.asarray(u + a * v, u.dtype), ct1, ct2)
    expected = tree_map(lambda u, v: u + a * v, f_vjp(ct1), f_vjp(ct2))
    assert_close(f_vjp(ct_sum), expected, rtol=tol, atol=tol,
                 what=f"{row.name} [{case.dtype}]: transpose(ct1 + a ct2) (computed) vs "
                      "transpose(ct1) + a transpose(ct2) (expected)")
    _, f_vjp_at_y = _vjp(case, mode, *y)
    assert_close(f_vjp_at_y(ct1), f_vjp(ct1), rtol=tol, atol=tol,
                 what=f"{row.name} [{case.dtype}]: the transpose of a linear function "
                      "depends on the primal point")


def _batch_variants(args: tuple) -> list[tuple[int | None, ...]]:
    n = len(args)
    variants = [tuple(0 if j == i else None for j in range(n)) for i in range(n)]
    if n > 1:
        variants.append((0,) * n)
    ranked = [i for i, a in enumerate(args) if np.ndim(a) >= 1]
    if ranked:
        variants.append(tuple(1 if j == ranked[0] else None for j in range(n)))
    return variants


def check_vmap_vs_loop(row: Row, dtype: Any) -> None:
    samples = [_sample(row, dtype, b) for b in range(BATCH_SIZE)]
    if not samples[0]:
        pytest.skip(f"{row.name} takes no arguments to map over")
    tol = _rounding_tolerance(np.dtype(dtype))
    for in_axes in _batch_variants(samples[0]):
        def args_of(b: int) -> list[Any]:
            return [samples[b][i] if ax is not None else samples[0][i]
                    for i, ax in enumerate(in_axes)]
        batched = [np.stack([np.asarray(s[i]) for s in samples], axis=ax) if ax is not None
                   else samples[0][i] for i, ax in enumerate(in_axes)]
        looped = [row.fun(*args_of(b)) for b in range(BATCH_SIZE)]
        expected = tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *looped)
        actual = vmap(row.fun, in_axes=in_axes)(*batched)
        assert_close(actual, expected, rtol=tol, atol=tol, exact_dtypes=True,
                     what=f"{row.name} [{np.dtype(dtype)}]: vmap with in_axes={in_axes} "
                          f"(computed) vs a loop over a batch of {BATCH_SIZE} (expected)")


def check_jit_vs_eager(row: Row, dtype: Any) -> None:
    args = _sample(row, dtype)
    tol = _rounding_tolerance(np.dtype(dtype))
    assert_close(jit(row.fun)(*args), row.fun(*args), rtol=tol, atol=tol, exact_dtypes=True,
                 what=f"{row.name} [{np.dtype(dtype)}]: jit(f) (computed) vs f (expected)")


def _asks_for_a_dtype(closed: Any) -> bool:
    """Whether some equation was given a dtype explicitly (``convert_element_type``'s
    ``new_dtype``, ``dot_general``'s ``preferred_element_type``): then a change of
    precision is requested, not silent."""
    return any(isinstance(value, np.dtype) for eqn in closed.jaxpr.eqns
               for value in eqn.params.values())


def _check_same_avals(values: Any, references: Any, what: str) -> None:
    for i, v, r in _leaf_pairs(values, references, what):
        expected_dtype = dtypes.tangent_dtype(r.dtype)
        if v.shape != r.shape or v.dtype != expected_dtype:
            raise AssertionError(f"{what} {i} has dtype {v.dtype} and shape {v.shape}; it "
                                 f"pairs with a value of dtype {r.dtype} and shape {r.shape}, "
                                 f"so it should have dtype {expected_dtype}")


def check_dtypes(row: Row, dtype: Any) -> None:
    case = Case(row, dtype)
    label = f"{row.name} [{case.dtype}]"
    out = row.fun(*case.args)
    closed = make_jaxpr(row.fun)(*case.args)
    leaves = [np.asarray(x) for x in tree_leaves(out)]
    if len(leaves) != len(closed.out_avals):
        raise AssertionError(f"{label}: {len(leaves)} outputs but the jaxpr has "
                             f"{len(closed.out_avals)}")
    for i, (leaf, aval) in enumerate(zip(leaves, closed.out_avals, strict=True)):
        if leaf.shape != aval.shape or leaf.dtype != aval.dtype:
            raise AssertionError(f"{label}: output {i}: the NumPy impl returns dtype "
                                 f"{leaf.dtype} shape {leaf.shape} but the shape rule promises "
                                 f"{aval.str_short()}")
        if (_is_inexact(case.dtype) and dtypes.is_float(leaf.dtype)
                and np.finfo(leaf.dtype).bits != np.finfo(case.dtype).bits
                and not _asks_for_a_dtype(closed)):
            raise AssertionError(f"{label}: output {i} has dtype {leaf.dtype} for {case.dtype} "
                                 "inputs: float precision must be kept (no silent casts)")
    if not case.diff:
        return
    rng = case.rng(4)
    out, tangent_out = jvp(case.f, case.primals, rand_like(rng, case.primals))
    _check_same_avals(tangent_out, out, f"{label}: output tangent")
    _, f_vjp = vjp(case.f, *case.primals)
    _check_same_avals(tuple(f_vjp(rand_like(rng, out))), case.primals,
                      f"{label}: input cotangent")


def check_second_order(row: Row, dtype: Any = np.float64) -> None:
    case = Case(row, dtype)
    case.require_float_args()
    weights = [w for w in tree_leaves(rand_like(case.rng(5), case.f(*case.primals)))
               if w.dtype != dtypes.float0]
    if not weights:
        pytest.skip(f"{row.name} has no float outputs")

    def scalarised(*primals: Any) -> Any:
        total = None
        outs = [o for o in tree_leaves(case.f(*primals)) if dtypes.is_float(o.dtype)]
        for o, w in zip(outs, weights, strict=True):
            term = lax.reduce_sum(lax.mul(o, w), tuple(range(np.ndim(w))))
            total = term if total is None else lax.add(total, term)
        return total

    try:
        check_grads(scalarised, case.primals, order=2, atol=row.atol, rtol=row.rtol,
                    eps=row.eps)
    except AssertionError as e:
        raise AssertionError(f"{row.name} [{case.dtype}]: check_grads(sum(f(x) * w), "
                             f"order=2) failed: {e}") from None


# ------------------------------------------------------------------ the tests

def _differentiable(row: Row, dtype: Any) -> bool:
    return row.differentiable and _is_inexact(dtype)


@pytest.mark.parametrize("table, error", BROKEN_TABLES or [pytest.param(None, None, marks=[
    pytest.mark.skip(reason="every table imports")])])
def test_table_imports(table: str, error: str) -> None:
    pytest.fail(f"tests/rules/table_{table}.py failed to import: {error}")


@pytest.mark.parametrize("row, dtype", _params(_differentiable))
def test_jvp_vs_finite_differences(row: Row, dtype: Any) -> None:
    check_jvp_vs_finite_differences(row, dtype)


REVERSE_MODES = ["tape", "jaxpr"]


@pytest.mark.parametrize("mode", REVERSE_MODES)
@pytest.mark.parametrize("row, dtype", _params(_differentiable))
def test_vjp_vs_jvp(row: Row, dtype: Any, mode: str) -> None:
    check_vjp_vs_jvp(row, dtype, mode)


@pytest.mark.parametrize("mode", REVERSE_MODES)
@pytest.mark.parametrize("row, dtype", _params(
    lambda row, dtype: not row.differentiable and _is_inexact(dtype)))
def test_zero_derivative(row: Row, dtype: Any, mode: str) -> None:
    check_zero_derivative(row, dtype, mode)


@pytest.mark.parametrize("mode", REVERSE_MODES)
@pytest.mark.parametrize("row, dtype", _params(
    lambda row, dtype: row.linear and _is_inexact(dtype)))
def test_linearity(row: Row, dtype: Any, mode: str) -> None:
    check_linearity(row, dtype, mode)


@pytest.mark.parametrize("row, dtype", _params(lambda row, dtype: row.batch))
def test_vmap_vs_loop(row: Row, dtype: Any) -> None:
    check_vmap_vs_loop(row, dtype)


@pytest.mark.parametrize("row, dtype", _params(lambda row, dtype: True))
def test_jit_vs_eager(row: Row, dtype: Any) -> None:
    check_jit_vs_eager(row, dtype)


@pytest.mark.parametrize("row, dtype", _params(lambda row, dtype: True))
def test_dtypes(row: Row, dtype: Any) -> None:
    check_dtypes(row, dtype)


@pytest.mark.parametrize("row, dtype", _params(
    lambda row, dtype: row.differentiable and np.dtype(dtype) == np.float64))
def test_second_order(row: Row, dtype: Any) -> None:
    check_second_order(row, dtype)


# ------------------------------------------------------------------ other array libraries
# The same rows evaluated on Dask and PyTorch (CPU) arrays (functrans.core.backend):
# same values as NumPy, same dtypes, results of that library; eager and under jit by
# default, reverse mode too in the slow run.

BACKEND_LIBRARIES = ("dask", "torch")


def backend_array(library: str, x: Any) -> Any:
    """A NumPy value as an array of `library` (Dask: two chunks along the first axis)."""
    x = np.asarray(x)
    if x.dtype == dtypes.float0:
        return x  # the cotangent of an integer output: float0 stays NumPy, as in JAX
    if library == "dask":
        da = pytest.importorskip("dask.array")
        return da.from_array(x, chunks=tuple(max(1, -(-n // 2)) if i == 0 else n
                                             for i, n in enumerate(x.shape)))
    torch = pytest.importorskip("torch")
    return torch.from_numpy(np.array(x, order="C"))


def backend_to_numpy(library: str, x: Any) -> np.ndarray:
    """A result of `library` as NumPy, checking it is of that library."""
    module = type(x).__module__.split(".")[0]
    if module != library:
        raise AssertionError(f"a result is a {type(x).__module__}.{type(x).__name__}, not "
                             f"an array of {library}")
    return np.asarray(x.compute() if library == "dask" else x.numpy())


def _on_backend(library: str, args: tuple) -> tuple:
    return tuple(backend_array(library, a) if isinstance(a, (np.ndarray, np.generic))
                 else a for a in args)


def _assert_backend_matches(library: str, actual: Any, expected: Any, dtype: Any,
                            what: str) -> None:
    converted = tree_map(lambda x: backend_to_numpy(library, x), actual)
    tol = _rounding_tolerance(np.dtype(dtype)) * 10
    assert_close(converted, expected, rtol=tol, atol=tol, exact_dtypes=True, what=what)


def check_backend(row: Row, dtype: Any, library: str, reverse: bool = False) -> None:
    """`row` on `library`'s arrays against NumPy: eager, jit, and (with `reverse`) vjp."""
    from functrans.core.backend import BackendError

    case = Case(row, dtype)
    arrays = _on_backend(library, case.args)
    label = f"{row.name} [{case.dtype}] on {library}"
    try:
        _assert_backend_matches(library, row.fun(*arrays), row.fun(*case.args), dtype,
                                f"{label}: eager (computed) vs NumPy (expected)")
        _assert_backend_matches(library, jit(row.fun)(*arrays), row.fun(*case.args), dtype,
                                f"{label}: jit (computed) vs NumPy (expected)")
        if reverse and case.diff and row.differentiable and _is_inexact(dtype):
            out, f_vjp = vjp(case.f, *case.primals)
            cotangent = rand_like(case.rng(6), out)
            expected = f_vjp(cotangent)
            primals = _on_backend(library, case.primals)
            _, b_vjp = vjp(case.partial(arrays), *primals)
            cotangent_in = b_vjp(tree_map(lambda c: backend_array(library, c), cotangent))
            _assert_backend_matches(library, cotangent_in, expected, dtype,
                                    f"{label}: vjp (computed) vs NumPy (expected)")
    except BackendError as e:
        pytest.skip(f"{label}: {e}")


@pytest.mark.parametrize("library", BACKEND_LIBRARIES)
@pytest.mark.parametrize("row, dtype", _params(lambda row, dtype: row.backends))
def test_backend(row: Row, dtype: Any, library: str) -> None:
    check_backend(row, dtype, library)


@pytest.mark.slow
@pytest.mark.parametrize("library", BACKEND_LIBRARIES)
@pytest.mark.parametrize("row, dtype", _params(
    lambda row, dtype: row.backends and _differentiable(row, dtype)))
def test_backend_reverse_mode(row: Row, dtype: Any, library: str) -> None:
    if library == "dask" and row.name == "eig_left_vectors":
        pytest.xfail("on Dask, eig's left-vector cotangent is wrong (values, or a complex "
                     "block reaching `complex` as its real operand) depending on "
                     "PYTHONHASHSEED, even with the synchronous scheduler; each primitive's "
                     "lazy result alone matches NumPy and computing every result eagerly "
                     "gives the exact cotangent, so the lazy graph itself goes wrong "
                     "(cause not found)")
    check_backend(row, dtype, library, reverse=True)


def test_table_is_not_empty() -> None:
    assert ROWS, "no rows found in tests/rules/table_*.py"


# ------------------------------------------------------------------ meta-tests
# Throwaway primitives with one deliberate mistake each: every check above must
# reject the mistake it is meant to catch, and accept the corrected primitive.

def _normal_args(*shapes: tuple[int, ...]) -> Callable[[np.random.Generator, Any], tuple]:
    return lambda rng, dtype: tuple(rng.standard_normal(s).astype(dtype) for s in shapes)


def _elementwise(name: str, impl: Callable[..., Any]) -> Any:
    """Built by hand (not with the library's helpers, which may fix up dtypes) so
    that a bad impl stays bad."""
    from functrans.core.avals import ShapedArray
    from functrans.core.primitive import Primitive
    from functrans.primitives.rules import defvectorized

    p = Primitive(name)
    p.impl = impl
    p.abstract_eval = lambda x: ShapedArray(x.shape, x.dtype)
    defvectorized(p)
    return p


def _sin_with_jvp(name: str, derivative: Callable[[Any], Any], impl: Any = np.sin) -> Any:
    from functrans.primitives.rules import defjvp

    p = _elementwise(name, impl)
    defjvp(p, lambda t, x: lax.mul(t, derivative(x)))
    return p


def _double_with_transpose(name: str, transpose: Callable[[Any], Any]) -> Any:
    from functrans.primitives.rules import deflinear

    p = _elementwise(name, lambda x: x + x)
    deflinear(p, lambda ct, x: [transpose(ct)])
    return p


def _flip_last_with_batch(name: str, correct: bool) -> Any:
    """Reverses the last axis. The wrong batching rule puts the batch axis last,
    so the batch gets reversed instead."""
    from functrans.core.avals import ShapedArray
    from functrans.core.primitive import Primitive
    from functrans.primitives.rules import bdim_at_front

    p = Primitive(name)
    p.impl = lambda x: np.flip(x, axis=-1)
    p.abstract_eval = lambda x: ShapedArray(x.shape, x.dtype)

    def batch(args: Any, dims: Any) -> Any:
        (x,), (d,) = args, dims
        if correct:
            return p.bind(bdim_at_front(x, d, x.shape[d])), 0
        x = lax.moveaxis(x, d, x.ndim - 1)
        return p.bind(x), x.ndim - 1
    p.batch = batch
    return p


def _differs_when_traced(x: Any) -> Any:
    return lax.sin(x) if isinstance(x, np.ndarray) else lax.cos(x)


def _meta_cases() -> tuple[list[Any], list[Any]]:
    from functrans.primitives.rules import defjvp

    args = _normal_args((2, 3))
    wrong_jvp = _sin_with_jvp("wrong_jvp_sin", lax.sin)
    right_jvp = _sin_with_jvp("right_jvp_sin", lax.cos)
    upcast_impl = _sin_with_jvp("upcast_impl_sin", lax.cos,
                                impl=lambda x: np.sin(x.astype(np.float64)))
    upcast_tangent = _elementwise("upcast_tangent_sin", np.sin)
    defjvp(upcast_tangent,
           lambda t, x: lax.convert_element_type(lax.mul(t, lax.cos(x)), np.float64))
    wrong_t = _double_with_transpose("wrong_transpose_double",
                                     lambda ct: lax.add(ct, lax.add(ct, ct)))
    nonlinear_t = _double_with_transpose("nonlinear_transpose_double",
                                         lambda ct: lax.add(ct, lax.mul(ct, ct)))
    right_t = _double_with_transpose("right_transpose_double", lambda ct: lax.add(ct, ct))
    wrong_batch = _flip_last_with_batch("wrong_batch_flip", correct=False)
    right_batch = _flip_last_with_batch("right_batch_flip", correct=True)

    def row(name: str, fun: Callable[..., Any], **kw: Any) -> Row:
        return Row(name, fun, args, **kw)

    f32, f64 = np.float32, np.float64
    bad = [
        (row("wrong_jvp", wrong_jvp.bind), check_jvp_vs_finite_differences, f64),
        (row("wrong_jvp", wrong_jvp.bind), check_jvp_vs_finite_differences, f32),
        (row("wrong_jvp", wrong_jvp.bind), check_second_order, f64),
        (row("wrong_transpose", wrong_t.bind, linear=True), check_vjp_vs_jvp, f64),
        (row("wrong_transpose", wrong_t.bind, linear=True), check_vjp_vs_jvp, f32),
        (row("wrong_transpose", wrong_t.bind, linear=True), check_second_order, f64),
        (row("nonlinear_transpose", nonlinear_t.bind, linear=True), check_linearity, f64),
        (row("sin_marked_linear", lax.sin, linear=True), check_linearity, f64),
        (row("sin_marked_nondiff", lax.sin, differentiable=False), check_zero_derivative,
         f64),
        (row("wrong_batch", wrong_batch.bind), check_vmap_vs_loop, f64),
        (row("upcast_impl", upcast_impl.bind), check_dtypes, f32),
        (row("differs_when_traced", _differs_when_traced), check_jit_vs_eager, f64),
        (row("upcast_tangent", upcast_tangent.bind), check_dtypes, f32),
    ]
    good = [
        (row("right_jvp", right_jvp.bind), check, dtype)
        for check in (check_jvp_vs_finite_differences, check_vjp_vs_jvp, check_dtypes,
                      check_jit_vs_eager, check_vmap_vs_loop) for dtype in (f32, f64)
    ] + [
        (row("right_jvp", right_jvp.bind), check_second_order, f64),
        (row("right_transpose", right_t.bind, linear=True), check_linearity, f32),
        (row("right_transpose", right_t.bind, linear=True), check_vjp_vs_jvp, f64),
        (row("right_transpose", right_t.bind, linear=True), check_second_order, f64),
        (row("floor_nondiff", lax.floor, differentiable=False), check_zero_derivative, f64),
        (row("right_batch", right_batch.bind), check_vmap_vs_loop, f64),
    ]
    return bad, good


def _meta_params(cases: list[Any]) -> list[Any]:
    return [pytest.param(row, check, dtype,
                         id=f"{row.name}-{check.__name__.removeprefix('check_')}-{_short(dtype)}")
            for row, check, dtype in cases]


META_BAD, META_GOOD = _meta_cases()


@pytest.mark.parametrize("row, check, dtype", _meta_params(META_BAD))
def test_check_rejects_wrong_rule(row: Row, check: Callable[..., None], dtype: Any) -> None:
    with pytest.raises(AssertionError):
        check(row, dtype)


@pytest.mark.parametrize("row, check, dtype", _meta_params(META_GOOD))
def test_check_accepts_right_rule(row: Row, check: Callable[..., None], dtype: Any) -> None:
    check(row, dtype)
