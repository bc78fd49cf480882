"""Array backends (functrans.core.backend): the same functions and transformations on
Dask and PyTorch (CPU) arrays as on NumPy arrays, results of the caller's library.

The rule-check table runs on both libraries too (``test_backend`` in
tests/test_primitive_rules.py); this file checks the boundaries: how the library is
chosen, mixing, laziness, jit's code and cache, and the transformations end to end.
CuPy's tests at the end run only where CuPy and a GPU are present
(``benchmarks/gpu.py`` runs them on a GPU machine).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.core import backend as backend_module
from functrans.core.backend import BackendError, backend_of

da = pytest.importorskip("dask.array")
torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")


def _dask(x: np.ndarray, chunk: int = 2) -> Any:
    return da.from_array(x, chunks=(chunk,) + x.shape[1:])


def _torch(x: np.ndarray) -> Any:
    return torch.from_numpy(np.array(x))


LIBRARIES: dict[str, tuple[Callable[[np.ndarray], Any], Callable[[Any], np.ndarray], type]] = {
    "dask": (_dask, lambda x: np.asarray(x.compute()), da.Array),
    "torch": (_torch, lambda x: x.numpy(), torch.Tensor),
}


def _mlp_loss(params: dict, x: Any, y: Any) -> Any:
    hidden = fnp.tanh(x @ params["w1"] + params["b1"])
    logits = hidden @ params["w2"]
    return fnp.mean((logits[:, 0] - y) ** 2)


def _mlp_data(rng: np.random.Generator, dtype: Any = np.float64) -> tuple[dict, Any, Any]:
    params = {"w1": rng.standard_normal((3, 5)).astype(dtype) * 0.5,
              "b1": rng.standard_normal(5).astype(dtype) * 0.1,
              "w2": rng.standard_normal((5, 1)).astype(dtype) * 0.5}
    return params, rng.standard_normal((8, 3)).astype(dtype), rng.standard_normal(8).astype(dtype)


# ------------------------------------------------------------------ choosing the backend

def test_numpy_values_have_no_backend() -> None:
    assert backend_of([np.ones(3), 1.0, np.float32(2), 3, True]) is None


@pytest.mark.parametrize("library", LIBRARIES)
def test_backend_is_found_once_per_type(library: str) -> None:
    to_library, _, _ = LIBRARIES[library]
    first = backend_of([np.ones(2), to_library(np.ones(2))])
    assert first is not None and first.name == library
    assert backend_of([to_library(np.zeros(3))]) is first


def test_two_libraries_in_one_call_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"dask .*torch|torch .*dask"):
        fnp.add(_dask(np.ones(4)), _torch(np.ones(4)))
    with pytest.raises(BackendError, match="two libraries"):
        ft.jit(lambda a, b: a + b)(_dask(np.ones(4)), _torch(np.ones(4)))


def test_missing_rule_names_the_primitive_and_the_backend() -> None:
    x = _torch(np.arange(6, dtype=np.int32).reshape(2, 3))
    with pytest.raises(BackendError,
                       match="'population_count' has no implementation for torch"):
        lax.population_count(x)


# ------------------------------------------------------------------ what the table does not reach
# Array API implementations of linear algebra and indexing (the table checks their values
# on valid inputs): failures, repeated positions and bad indices behave as on NumPy.

def test_torch_cholesky_is_nan_where_not_positive_definite() -> None:
    good = np.array([[4.0, 1.0], [1.0, 3.0]])
    stack = np.stack([good, -good])   # the second is negative definite
    expected = ft.lax.linalg.cholesky(stack)
    got = ft.lax.linalg.cholesky(_torch(stack)).numpy()
    assert np.isnan(got[1]).all() and np.isnan(expected[1]).all()
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)


def test_torch_scatters_combine_repeated_positions_as_numpy(
        rng: np.random.Generator) -> None:
    operand = rng.standard_normal((4, 3))
    indices = np.array([[1], [3], [1], [-1]])   # position 1 twice, 3 twice (as -1)
    updates = rng.standard_normal((4, 3))
    for scatter in (lax.scatter, lax.scatter_add):
        expected = scatter(operand, indices, updates, (0,))
        got = scatter(_torch(operand), indices, _torch(updates), (0,))
        assert isinstance(got, torch.Tensor)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_torch_gather_out_of_bounds_is_an_index_error() -> None:
    with pytest.raises(IndexError, match="gather: .* out of bounds for axis 0 of size 3"):
        lax.gather(_torch(np.arange(6.0).reshape(3, 2)), np.array([[3]]), (0,))


# ------------------------------------------------------------------ eager evaluation

@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eager_results_match_numpy(library: str, dtype: Any, rng: np.random.Generator) -> None:
    to_library, to_numpy, array_type = LIBRARIES[library]
    x = rng.standard_normal((4, 3)).astype(dtype)
    w = rng.standard_normal((3, 2)).astype(dtype)

    def f(x: Any, w: Any) -> Any:
        h = fnp.maximum(fnp.matmul(x, w), 0.0) + fnp.sin(x[:, :2]) * 2
        return fnp.concatenate([fnp.sum(h, axis=0), fnp.max(h.T, axis=1)]) / 3

    out = f(to_library(x), w)  # a NumPy operand is moved into the library
    assert isinstance(out, array_type)
    got = to_numpy(out)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, f(x, w), rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_dask_stays_lazy_and_keeps_batch_chunks(rng: np.random.Generator) -> None:
    x = rng.standard_normal((8, 3))
    dx = _dask(x, chunk=2)
    out = fnp.tanh(dx @ fnp.ones((3, 4))) * 2.0
    assert isinstance(out, da.Array)
    assert out.chunks[0] == (2, 2, 2, 2)  # elementwise and matmul keep the batch chunks
    total = fnp.sum(out)  # a reduction over the batch: Dask's tree reduction
    assert isinstance(total, da.Array)
    np.testing.assert_allclose(total.compute(), np.sum(np.tanh(x @ np.ones((3, 4))) * 2.0))


def test_dask_fallback_runs_numpy_impl_lazily_by_blocks(rng: np.random.Generator) -> None:
    x = rng.uniform(0.5, 2.0, (6, 2))
    out = ft.scipy.special.gammaln(_dask(x))  # no Array API equivalent: NumPy per block
    assert isinstance(out, da.Array) and out.chunks[0] == (2, 2, 2)
    np.testing.assert_allclose(out.compute(), ft.scipy.special.gammaln(x), rtol=1e-12)


def test_torch_special_functions_use_torch_special(rng: np.random.Generator) -> None:
    x = rng.uniform(0.5, 2.0, (5,))
    for fn in (lax.erf, lax.lgamma, lax.digamma, lax.erf_inv):
        arg = x / 3 if fn is lax.erf_inv else x
        out = fn(_torch(arg))
        assert isinstance(out, torch.Tensor)
        np.testing.assert_allclose(out.numpy(), fn(arg), rtol=1e-10)


# ------------------------------------------------------------------ jit

@pytest.mark.parametrize("library", LIBRARIES)
def test_jit_runs_library_code_and_caches_it_per_backend(library: str,
                                                         rng: np.random.Generator) -> None:
    to_library, to_numpy, array_type = LIBRARIES[library]
    params, x, y = _mlp_data(rng)
    step = ft.jit(ft.grad(_mlp_loss))
    expected = step(params, x, y)
    grads = step(params, to_library(x), to_library(y))
    assert step._cache_size() == 1  # one trace: the jaxpr is the library's too
    for key in params:
        assert isinstance(grads[key], array_type)
        np.testing.assert_allclose(to_numpy(grads[key]), expected[key], rtol=1e-12)
    source = ft.jit(_mlp_loss).lower(params, x, y).compile().as_text()
    assert "np.matmul" in source  # the NumPy code is unchanged by other libraries


def test_jit_code_for_a_library_calls_its_namespace(rng: np.random.Generator) -> None:
    from functrans.compile.runtime import compile_jaxpr

    params, x, y = _mlp_data(rng)
    closed = ft.jit(_mlp_loss).lower(params, x, y).jaxpr
    backend = backend_of([_torch(x)])
    source = compile_jaxpr(closed, "loss", backend).as_text()
    assert "xp.matmul" in source and "xp.tanh" in source and "xp.sum" in source
    assert "np." not in source and "out=" not in source and ".reduce(" not in source


def test_jit_constants_are_moved_once(rng: np.random.Generator) -> None:
    table = rng.standard_normal((4, 3))
    f = ft.jit(lambda x: x * table)
    x = _torch(rng.standard_normal((4, 3)))
    first, second = f(x), f(x)
    np.testing.assert_allclose(second.numpy(), x.numpy() * table)
    backend = backend_of([x])
    assert sum(1 for moved in backend._moved.values() if moved[0] is table) <= 1
    first[0, 0] = 123.0  # results are the caller's: nothing else changes
    np.testing.assert_allclose(f(x).numpy(), x.numpy() * table)


# ------------------------------------------------------------------ transformations

@pytest.mark.parametrize("library", LIBRARIES)
def test_grad_matches_numpy(library: str, rng: np.random.Generator) -> None:
    to_library, to_numpy, array_type = LIBRARIES[library]
    params, x, y = _mlp_data(rng, np.float32)
    expected = ft.grad(_mlp_loss)(params, x, y)
    got = ft.grad(_mlp_loss)(ft.tree_util.tree_map(to_library, params), to_library(x),
                             to_library(y))
    for key in params:
        assert isinstance(got[key], array_type)
        assert to_numpy(got[key]).dtype == np.float32
        np.testing.assert_allclose(to_numpy(got[key]), expected[key], rtol=1e-4, atol=1e-6)


def test_per_example_gradients_over_dask_chunks(rng: np.random.Generator) -> None:
    params, x, y = _mlp_data(rng)

    def example_loss(params: dict, xi: Any, yi: Any) -> Any:
        return _mlp_loss(params, xi[None, :], yi[None])

    per_example = ft.vmap(ft.grad(example_loss), in_axes=(None, 0, 0))
    expected = per_example(params, x, y)
    got = per_example(params, _dask(x), _dask(y))
    assert isinstance(got["w1"], da.Array)
    assert got["w1"].chunks[0] == (2, 2, 2, 2)  # the batch chunks survive vmap
    for key in params:
        np.testing.assert_allclose(got[key].compute(), expected[key], rtol=1e-12)


@pytest.mark.parametrize("library", LIBRARIES)
def test_jvp_and_control_flow(library: str, rng: np.random.Generator) -> None:
    to_library, to_numpy, array_type = LIBRARIES[library]
    x = rng.standard_normal(4)

    def f(x: Any) -> Any:
        y = lax.fori_loop(0, 3, lambda i, c: fnp.sin(c) + 0.5 * c, x)
        z = lax.cond(True, lambda v: v * 2.0, lambda v: v - 1.0, y)
        return lax.scan(lambda c, v: (c + v, c * v), 0.0, z)

    expected = ft.jvp(f, (x,), (np.ones(4),))
    got = ft.jvp(f, (to_library(x),), (to_library(np.ones(4)),))
    for g, e in zip(ft.tree_util.tree_leaves(got), ft.tree_util.tree_leaves(expected)):
        assert isinstance(g, array_type)
        np.testing.assert_allclose(to_numpy(g), e, rtol=1e-12)


# ------------------------------------------------------------------ Dask: one task per chunk

def _chunk_tasks(arrays: list[Any]) -> tuple[int, int]:
    """(all tasks, functrans chunk tasks) of the graph computing `arrays`."""
    graph: dict = {}
    for a in arrays:
        graph.update(dict(a.__dask_graph__()))
    chunk = [k for k in graph if type(k) is tuple and len(k) == 2
             and str(k[0]).startswith("functrans-chunk-")]
    return len(graph), len(chunk)


@pytest.mark.parametrize("chunk", [2, 1])
def test_jitted_grad_over_dask_chunks_is_one_task_per_chunk(chunk: int,
                                                             rng: np.random.Generator) -> None:
    params, x, y = _mlp_data(rng)
    step = ft.jit(ft.grad(_mlp_loss))
    expected = step(params, x, y)
    grads = step(params, _dask(x, chunk), _dask(y, chunk))
    chunks = len(x) // chunk
    total, per_chunk = _chunk_tasks(list(grads.values()))
    assert per_chunk == chunks  # the whole chunk's forward and backward pass: one task
    # the blocks of x and y, the chunk tasks, a tree of sums, the parameters, the code
    # and one task per gradient: O(chunks) (Dask's functions, one per equation: ~40 each)
    assert total <= 3 * chunks + chunks // 2 + 2 * len(params) + 4
    for key in params:
        assert isinstance(grads[key], da.Array)  # lazy: nothing computed yet
        assert grads[key].numblocks == (1,) * grads[key].ndim
        np.testing.assert_allclose(grads[key].compute(), expected[key], rtol=1e-12)


def test_jitted_code_over_dask_chunks_keeps_rows_and_finishes_with_dask(
        rng: np.random.Generator) -> None:
    """Per-row results stay chunked like the rows; what needs all rows at once (the
    log of a completed sum, a cumulative sum) runs after the chunk tasks, with Dask."""
    w = rng.standard_normal((3, 2))
    x = rng.standard_normal((7, 3))  # uneven chunks: 3, 3, 1

    def f(w: Any, x: Any) -> Any:
        rows = fnp.tanh(x @ w) * 2.0 + fnp.ones((7, 2))
        total = fnp.sum(rows ** 2) / 7.0
        return rows, fnp.log(total), fnp.cumsum(rows[:, 0]), fnp.max(rows, axis=0)

    expected = f(w, x)
    got = ft.jit(f)(w, da.from_array(x, chunks=(3, 3)))
    assert got[0].chunks == ((3, 3, 1), (2,))
    assert _chunk_tasks(list(got))[1] == 3
    for g, e in zip(got, expected):
        assert isinstance(g, da.Array)
        np.testing.assert_allclose(g.compute(), e, rtol=1e-12)


def test_chunk_plan_places_sums_over_the_batch_as_partial(rng: np.random.Generator) -> None:
    from functrans.compile.chunked import PARTIAL, plan

    params, x, y = _mlp_data(rng)
    closed = ft.make_jaxpr(ft.grad(_mlp_loss))(params, x, y)
    in_axes = [None] * len(ft.tree_util.tree_leaves(params)) + [0, 0]
    chunked = plan(closed, in_axes)
    assert chunked is not None and not chunked.outer_eqns
    assert [chunked.placed[v] for v in closed.jaxpr.outvars] == [PARTIAL] * 3
    assert plan(closed, [None] * len(in_axes)) is None  # nothing chunked: no plan
    code = chunked.code(2)  # NumPy code for two rows: the batch axis rebuilt
    assert "np.matmul" in code.source and "xp." not in code.source


def test_dask_arrays_chunked_along_two_axes_use_dask_functions(rng: np.random.Generator
                                                               ) -> None:
    w = rng.standard_normal((4, 2))
    x = rng.standard_normal((6, 4))
    f = ft.jit(ft.grad(lambda w, x: fnp.mean(fnp.sin(x @ w))))
    got = f(w, da.from_array(x, chunks=(3, 2)))
    assert _chunk_tasks([got])[1] == 0
    np.testing.assert_allclose(got.compute(), f(w, x), rtol=1e-12)


def test_module_exposes_backend_table() -> None:
    assert {"dask", "torch", "cupy"} <= {m.NAME for m in
                                         backend_module._EXTENSION_MODULES.values()}


# ------------------------------------------------------------------ CuPy (GPU machines)

def _cupy() -> Any:
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CuPy installed without a usable GPU
        pytest.skip(f"no CUDA device: {e}")
    return cupy


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cupy_grad_and_jit_match_numpy(dtype: Any, rng: np.random.Generator) -> None:
    cupy = _cupy()
    params, x, y = _mlp_data(rng, dtype)
    expected = ft.grad(_mlp_loss)(params, x, y)
    on_gpu = ft.tree_util.tree_map(cupy.asarray, (params, x, y))
    for fn in (ft.grad(_mlp_loss), ft.jit(ft.grad(_mlp_loss))):
        got = fn(*on_gpu)
        for key in params:
            assert isinstance(got[key], cupy.ndarray) and got[key].dtype == dtype
            np.testing.assert_allclose(cupy.asnumpy(got[key]), expected[key],
                                       rtol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("fn", [
    lambda x: ft.lax.linalg.cholesky(x @ x.T + 4 * fnp.eye(4)),
    lambda x: ft.lax.linalg.qr(x)[1],
    lambda x: ft.lax.linalg.eigh(x + x.T)[1],
    lambda x: ft.lax.linalg.svd(x, compute_uv=False),
    lambda x: ft.lax.linalg.lu(x)[0],
    lambda x: ft.lax.linalg.triangular_solve(x + 4 * fnp.eye(4), x, left_side=True,
                                             lower=True),
    lambda x: lax.sort((x, -x), dimension=1, num_keys=1)[1],
    lambda x: lax.top_k(x, 2)[0],
    lambda x: lax.scatter_add(x, np.array([[1], [1]]), x[:2], (0,)),
    lambda x: lax.gather(x, np.array([[2], [0]]), (0,)),
    lambda x: fnp.fft.rfft(x, axis=-1),
    lambda x: fnp.cumsum(x, axis=1),
    lambda x: lax.complex(x, x),
    lambda x: lax.conv_general_dilated(x[None, None], x[None, None, :2, :2], (1, 1),
                                       "SAME"),
], ids=["cholesky", "qr", "eigh", "svd", "lu", "triangular_solve", "sort", "top_k",
        "scatter_add", "gather", "rfft", "cumsum", "complex", "conv"])
def test_cupy_linalg_sort_indexing_fft_conv_match_numpy(
        fn: Callable[[Any], Any], rng: np.random.Generator) -> None:
    cupy = _cupy()
    x = rng.standard_normal((4, 4))
    expected = fn(x)
    for f in (fn, ft.jit(fn)):
        got = f(cupy.asarray(x))
        assert isinstance(got, cupy.ndarray) and got.dtype == expected.dtype
        np.testing.assert_allclose(cupy.asnumpy(got), expected, rtol=1e-8, atol=1e-10)


def test_cupy_control_flow_and_special_functions(rng: np.random.Generator) -> None:
    cupy = _cupy()
    x = rng.uniform(0.5, 2.0, 6)

    def f(x: Any) -> Any:
        y = lax.fori_loop(0, 3, lambda i, c: fnp.sin(c) + lax.lgamma(c), x)
        return fnp.sum(lax.erf(y * 0.1))

    np.testing.assert_allclose(cupy.asnumpy(ft.grad(f)(cupy.asarray(x))), ft.grad(f)(x),
                               rtol=1e-10)
