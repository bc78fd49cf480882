"""Hypothesis strategies for gradient tests, and a property check in one call.

    from hypothesis import given
    from functrans.test_util import check_grads
    from functrans.test_util import strategies as fst

    @given(fst.spd_matrices(3))
    def test_logdet_gradient(a):
        check_grads(lambda a: fnp.linalg.slogdet(a)[1], (a,), order=2)

    def test_logdet_transformations():          # jvp, vjp, jit, vmap, float32, at once
        fst.check_transformations(lambda a: fnp.linalg.slogdet(a)[1], fst.spd_matrices(3))

Arrays are drawn by shape and dtype (``arrays``, ``pytrees``) on the domains
derivatives are usually checked on: bounded, positive, away from kinks (``avoid=``),
symmetric positive definite, orthogonal, well-conditioned, on the simplex, of unit
norm. Every strategy shrinks towards a simple example (zeros, the identity, the
uniform distribution), so a failure is reported on the simplest input that shows it.

Hypothesis is a test-time dependency of functrans: this module needs it
(``pip install hypothesis``, or the ``test`` extra); the rest of
``functrans.test_util`` does not. Neither JAX nor NumPy has such a module; MyGrad
ships Hypothesis strategies of the same kind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from functrans import dtypes
from functrans.api.jit import jit
from functrans.test_util import Tolerance, check_close, check_jvp, check_vjp
from functrans.transforms.autodiff import vjp
from functrans.transforms.jvp import jvp
from functrans.transforms.vmap import vmap
from functrans.tree_util import tree_flatten, tree_map, tree_unflatten

try:
    import hypothesis.extra.numpy as hnp
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from hypothesis.strategies import SearchStrategy
except ImportError as missing:
    raise ImportError(
        "functrans.test_util.strategies needs Hypothesis, a test-time dependency of "
        "functrans: pip install hypothesis (or pip install 'functrans[test]'). The "
        "checks of functrans.test_util (check_grads ...) work without it.") from missing

__all__ = ["float_dtypes", "shapes", "arrays", "positive_arrays", "pytrees", "spd_matrices",
           "orthogonal_matrices", "well_conditioned_matrices", "simplex", "unit_vectors",
           "check_transformations", "CHECKS"]


def __dir__() -> list[str]:
    return sorted(__all__)


DTypeLike = Any                     # a NumPy dtype, a type such as np.float32, or a name
ShapeLike = int | Sequence[int]

#: the checks ``check_transformations`` runs by default, in order
CHECKS = ("jvp", "vjp", "jit", "vmap", "float32")

# Rounding-level tolerances for comparing two evaluations of the same function (jit
# and vmap against eager): they may order floating-point operations differently.
_ROUNDING = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-4,
             np.dtype(np.float64): 1e-10}


# ------------------------------------------------------------------ arrays

def float_dtypes() -> SearchStrategy[np.dtype]:
    """float32 or float64 (shrinking to float32)."""
    return st.sampled_from([np.dtype(np.float32), np.dtype(np.float64)])


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
           ) -> SearchStrategy[tuple[int, ...]]:
    """Array shapes, small by default (sides 1 to 4, at most three axes)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def arrays(shape: ShapeLike | SearchStrategy[tuple[int, ...]],
           dtype: DTypeLike | SearchStrategy[np.dtype] = np.float64, *,
           min_value: float = -3.0, max_value: float = 3.0, avoid: Sequence[float] = (),
           margin: float = 0.1) -> SearchStrategy[np.ndarray]:
    """Arrays of `shape` and `dtype` (either may be a strategy) with finite elements in
    ``[min_value, max_value]``, at least `margin` away from every point of `avoid`
    (the kinks of ``abs``, ``relu``, ``where``..., where a derivative jumps).

    Complex dtypes draw real and imaginary parts from that range; integer dtypes draw
    integers in it; booleans ignore it.
    """
    _check_bounds("arrays", min_value, max_value)
    if margin < 0:
        raise ValueError(f"arrays: margin must be >= 0, got {margin}")
    _allowed_intervals(min_value, max_value, tuple(avoid), margin)    # fail here, not later
    shape_strategy = shape if isinstance(shape, SearchStrategy) else st.just(
        _shape("arrays", shape))
    return st.tuples(_dtype_strategy("arrays", dtype), shape_strategy).flatmap(
        lambda pair: hnp.arrays(pair[0], pair[1], elements=_elements(
            pair[0], min_value, max_value, tuple(avoid), margin)))


def positive_arrays(shape: ShapeLike | SearchStrategy[tuple[int, ...]],
                    dtype: DTypeLike | SearchStrategy[np.dtype] = np.float64, *,
                    min_value: float = 0.1, max_value: float = 10.0
                    ) -> SearchStrategy[np.ndarray]:
    """Arrays with elements in ``[min_value, max_value]`` (away from 0, where ``log``,
    ``sqrt`` and division have no derivative)."""
    if min_value <= 0:
        raise ValueError(f"positive_arrays: min_value must be > 0, got {min_value}")
    return arrays(shape, dtype, min_value=min_value, max_value=max_value)


def pytrees(template: Any, **options: Any) -> SearchStrategy[Any]:
    """Pytrees shaped like `template`, whose leaves are strategies or arrays.

    Each leaf with a ``shape`` and a ``dtype`` (an array, an ``ft.ShapeDtypeStruct``)
    becomes ``arrays(leaf.shape, leaf.dtype, **options)``; a leaf that is a strategy is
    used as it is::

        pytrees({"W": np.zeros((2, 3)), "b": fst.positive_arrays(2)})
    """
    leaves, treedef = tree_flatten(template, is_leaf=lambda x: isinstance(x, SearchStrategy))
    strategies = [_leaf_strategy(leaf, options) for leaf in leaves]
    return st.tuples(*strategies).map(lambda drawn: tree_unflatten(treedef, list(drawn)))


def _leaf_strategy(leaf: Any, options: dict[str, Any]) -> SearchStrategy[Any]:
    if isinstance(leaf, SearchStrategy):
        return leaf
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return arrays(tuple(leaf.shape), leaf.dtype, **options)
    raise TypeError(f"pytrees: a leaf of the template must be a strategy or have a shape "
                    f"and a dtype (an array, an ft.ShapeDtypeStruct); got "
                    f"{type(leaf).__name__} {leaf!r}")


# ------------------------------------------------------------------ matrices and domains

def spd_matrices(n: int, dtype: DTypeLike | SearchStrategy[np.dtype] = np.float64, *,
                 min_eigenvalue: float = 0.5, max_entry: float = 1.0
                 ) -> SearchStrategy[np.ndarray]:
    """Symmetric positive definite n x n matrices ``B Bᵀ + min_eigenvalue I``, B with
    entries in ``[-max_entry, max_entry]``: eigenvalues between `min_eigenvalue` and
    ``min_eigenvalue + n² max_entry²``, so the condition number is bounded. Exactly
    symmetric; shrinks towards ``min_eigenvalue I``."""
    _check_size("spd_matrices", n)
    if min_eigenvalue <= 0 or max_entry < 0:
        raise ValueError(f"spd_matrices: min_eigenvalue must be > 0 and max_entry >= 0, "
                         f"got {min_eigenvalue} and {max_entry}")
    factors = arrays((n, n), np.float64, min_value=-max_entry, max_value=max_entry)
    return st.tuples(_dtype_strategy("spd_matrices", dtype), factors).map(
        lambda pair: _spd(pair[1], min_eigenvalue, pair[0]))


def _spd(factor: np.ndarray, min_eigenvalue: float, dtype: np.dtype) -> np.ndarray:
    a = (factor @ factor.T + min_eigenvalue * np.eye(len(factor))).astype(dtype)
    return (a + a.T) / 2      # exactly symmetric: BLAS may sum (i, j) and (j, i) apart


def orthogonal_matrices(n: int, dtype: DTypeLike | SearchStrategy[np.dtype] = np.float64
                        ) -> SearchStrategy[np.ndarray]:
    """n x n orthogonal matrices (rotations and reflections), as products of Givens
    rotations; shrinks towards the identity."""
    _check_size("orthogonal_matrices", n)
    angles = st.lists(_angle(), min_size=n * (n - 1) // 2, max_size=n * (n - 1) // 2)
    return st.tuples(_dtype_strategy("orthogonal_matrices", dtype), angles, st.booleans()
                     ).map(lambda drawn: _orthogonal(n, *drawn))


def _angle() -> SearchStrategy[float]:
    return st.floats(-math.pi, math.pi, allow_nan=False, allow_infinity=False)


def _orthogonal(n: int, dtype: np.dtype, angles: list[float], reflect: bool) -> np.ndarray:
    q = np.eye(n)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    for (i, j), theta in zip(pairs, angles):
        c, s = math.cos(theta), math.sin(theta)
        rows = q[[i, j]]
        q[i], q[j] = c * rows[0] - s * rows[1], s * rows[0] + c * rows[1]
    if reflect:
        q[0] = -q[0]
    return q.astype(dtype)


def well_conditioned_matrices(n: int, m: int | None = None,
                              dtype: DTypeLike | SearchStrategy[np.dtype] = np.float64, *,
                              condition: float = 10.0) -> SearchStrategy[np.ndarray]:
    """n x m matrices (square by default) ``U diag(s) Vᵀ`` with U, V orthogonal and
    singular values s in ``[1, condition]``; shrinks towards the identity."""
    m = n if m is None else m
    _check_size("well_conditioned_matrices", n)
    _check_size("well_conditioned_matrices", m)
    if not condition >= 1:
        raise ValueError(f"well_conditioned_matrices: condition must be >= 1, got "
                         f"{condition}")
    singular = arrays(min(n, m), np.float64, min_value=1.0, max_value=condition)
    return st.tuples(_dtype_strategy("well_conditioned_matrices", dtype),
                     orthogonal_matrices(n), singular, orthogonal_matrices(m)).map(
        lambda drawn: _from_svd(n, m, *drawn))


def _from_svd(n: int, m: int, dtype: np.dtype, u: np.ndarray, s: np.ndarray,
              v: np.ndarray) -> np.ndarray:
    k = min(n, m)
    return ((u[:, :k] * s) @ v[:, :k].T).astype(dtype)


def simplex(n: int, dtype: DTypeLike | SearchStrategy[np.dtype] = np.float64, *,
            min_weight: float = 0.01) -> SearchStrategy[np.ndarray]:
    """Points of the probability simplex: n positive entries summing to 1, each at
    least ``min_weight / n`` (away from the faces, where ``log`` has no derivative);
    shrinks towards the uniform distribution."""
    _check_size("simplex", n)
    if not 0 < min_weight <= 1:
        raise ValueError(f"simplex: min_weight must be in (0, 1], got {min_weight}")
    weights = arrays(n, np.float64, min_value=min_weight, max_value=1.0)
    return st.tuples(_dtype_strategy("simplex", dtype), weights).map(
        lambda pair: (pair[1] / pair[1].sum()).astype(pair[0]))


def unit_vectors(n: int, dtype: DTypeLike | SearchStrategy[np.dtype] = np.float64
                 ) -> SearchStrategy[np.ndarray]:
    """Vectors of n entries and Euclidean norm 1, from hyperspherical angles; shrinks
    towards the first basis vector."""
    _check_size("unit_vectors", n)
    angles = st.lists(_angle(), min_size=n - 1, max_size=n - 1)
    return st.tuples(_dtype_strategy("unit_vectors", dtype), angles, st.booleans()).map(
        lambda drawn: _unit_vector(n, *drawn))


def _unit_vector(n: int, dtype: np.dtype, angles: list[float], flip: bool) -> np.ndarray:
    x = np.ones(n)
    for i, phi in enumerate(angles):
        x[i] *= math.cos(phi)
        x[i + 1:] *= math.sin(phi)
    x = -x if flip else x
    return (x / np.linalg.norm(x)).astype(dtype)


# ------------------------------------------------------------------ elements

def _elements(dtype: np.dtype, lo: float, hi: float, avoid: tuple[float, ...], margin: float
              ) -> SearchStrategy[Any]:
    if np.issubdtype(dtype, np.complexfloating):
        part = _real_elements(np.dtype(np.finfo(dtype).dtype), lo, hi, avoid, margin)
        return st.tuples(part, part).map(lambda p: complex(p[0], p[1]))
    if np.issubdtype(dtype, np.floating):
        return _real_elements(dtype, lo, hi, avoid, margin)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return st.integers(max(math.ceil(lo), info.min), min(math.floor(hi), info.max))
    return hnp.from_dtype(dtype)


def _real_elements(dtype: np.dtype, lo: float, hi: float, avoid: tuple[float, ...],
                   margin: float) -> SearchStrategy[float]:
    """Floats of `dtype` in [lo, hi] at least `margin` from every kink: a union of
    intervals, so no example is ever rejected."""
    width = 8 * dtype.itemsize
    pieces = []
    for a, b in _allowed_intervals(lo, hi, avoid, margin):
        a, b = _representable(a, b, dtype)
        if a <= b:
            pieces.append(st.floats(a, b, width=width, allow_nan=False,
                                    allow_infinity=False, allow_subnormal=False))
    if not pieces:
        raise ValueError(f"arrays: no {dtype} value lies in [{lo}, {hi}] at least {margin} "
                         f"away from {list(avoid)}: widen the range or reduce the margin")
    return st.one_of(*pieces)


def _allowed_intervals(lo: float, hi: float, avoid: tuple[float, ...], margin: float
                       ) -> list[tuple[float, float]]:
    """[lo, hi] with the open interval (k - margin, k + margin) around each kink cut out."""
    edges = [lo]
    for k in sorted(avoid):
        edges += [k - margin, k + margin]
    edges.append(hi)
    intervals = [(max(a, lo), min(b, hi)) for a, b in zip(edges[::2], edges[1::2])]
    intervals = [(a, b) for a, b in intervals if a <= b]
    if not intervals:
        raise ValueError(f"arrays: no value lies in [{lo}, {hi}] at least {margin} away "
                         f"from {list(avoid)}: widen the range or reduce the margin")
    return intervals


def _representable(a: float, b: float, dtype: np.dtype) -> tuple[float, float]:
    """[a, b] shrunk to bounds exactly representable in `dtype` (Hypothesis requires it)."""
    lo, hi = dtype.type(a), dtype.type(b)
    if float(lo) < a:
        lo = np.nextafter(lo, dtype.type(np.inf))
    if float(hi) > b:
        hi = np.nextafter(hi, dtype.type(-np.inf))
    return float(lo), float(hi)


# ------------------------------------------------------------------ argument checks

def _dtype_strategy(fname: str, dtype: Any) -> SearchStrategy[np.dtype]:
    if isinstance(dtype, SearchStrategy):
        return dtype
    try:
        return st.just(np.dtype(dtype))
    except TypeError as e:
        raise TypeError(f"{fname}: dtype must be a NumPy dtype (np.float32, 'float64'...) "
                        f"or a strategy of dtypes (fst.float_dtypes()), got {dtype!r}") from e


def _shape(fname: str, shape: Any) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise ValueError(f"{fname}: shape must be a tuple of non-negative ints (or a "
                         f"strategy of shapes, fst.shapes()), got {shape!r}")
    return tuple(int(n) for n in shape)


def _check_size(fname: str, n: Any) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{fname}: the size must be a positive int, got {n!r}")


def _check_bounds(fname: str, lo: float, hi: float) -> None:
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"{fname}: need finite min_value <= max_value, got {lo} and {hi}")


# ------------------------------------------------------------------ the property check

def check_transformations(f: Callable[..., Any], *arg_strategies: SearchStrategy[Any],
                          checks: Sequence[str] = CHECKS, max_examples: int | None = None,
                          atol: Tolerance = None, rtol: Tolerance = None,
                          eps: float | None = None) -> None:
    """Check `f` on examples drawn from `arg_strategies` (one per argument):

    * ``"jvp"``: ``jvp(f)`` against a central finite difference (``check_jvp``);
    * ``"vjp"``: ``vjp(f)`` against the JVP and finite differences by the
      dot-product test (``check_vjp``);
    * ``"jit"``: ``jit(f)`` equals ``f``, to rounding;
    * ``"vmap"``: ``vmap(f)`` over two stacked examples equals ``f`` on each;
    * ``"float32"``: with the arguments cast to float32, ``f``'s floating outputs,
      tangents and cotangents are float32.

    A failure raises ``AssertionError`` naming the check and the counterexample
    Hypothesis shrank it to (printed exactly: ``np.array(...)`` of every argument),
    with the check's own message. `max_examples` defaults to the loaded Hypothesis
    profile's; `atol`, `rtol` and `eps` go to the derivative checks. Call it from a
    plain test function, not from inside another ``@given``.
    """
    unknown = [c for c in checks if c not in CHECKS]
    if unknown or isinstance(checks, str):
        raise ValueError(f"check_transformations: checks must be a sequence of names from "
                         f"{CHECKS}, got {checks!r}")
    if not arg_strategies or not all(isinstance(s, SearchStrategy) for s in arg_strategies):
        raise TypeError("check_transformations: give one Hypothesis strategy per argument "
                        "of f, e.g. check_transformations(f, fst.spd_matrices(3))")
    name = getattr(f, "__name__", type(f).__name__)
    tolerances = (atol, rtol, eps)
    failure: dict[str, Any] = {}
    options = {} if max_examples is None else {"max_examples": max_examples}

    # No "explain" phase: it re-runs the function many times to say which parts of a
    # counterexample matter, and the shrunk example already says what we report.
    @settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow],
              phases=[p for p in Phase if p is not Phase.explain], **options)
    @given(st.tuples(*arg_strategies), st.tuples(*arg_strategies))
    def property_holds(args: tuple, other: tuple) -> None:
        for check in checks:
            try:
                _CHECK[check](f, args, other, tolerances)
            except Exception as e:
                # Hypothesis runs the shrunk example last: this keeps it
                failure.update(check=check, args=args, other=other, error=e)
                raise

    try:
        property_holds()
    except Exception as e:
        if not failure:
            raise
        raise AssertionError(_failure_message(name, failure)) from e


def _failure_message(name: str, failure: dict[str, Any]) -> str:
    lines = [f"check_transformations of {name}: the {failure['check']!r} check fails.",
             "Counterexample, shrunk by Hypothesis:"]
    lines += [f"  argument {i} = {_exact_repr(a)}" for i, a in enumerate(failure["args"])]
    if failure["check"] == "vmap":
        lines.append("  batched with the example")
        lines += [f"  argument {i} = {_exact_repr(a)}" for i, a in enumerate(failure["other"])]
    error = failure["error"]
    kind = "" if isinstance(error, AssertionError) else f"{type(error).__name__}: "
    lines.append(f"{kind}{error}")
    return "\n".join(lines)


def _exact_repr(x: Any) -> str:
    """The value as code that rebuilds it exactly."""
    with np.printoptions(floatmode="unique", threshold=10_000):
        return repr(x)


# One function per check: (f, args, other example, (atol, rtol, eps)) -> None or raise.

def _check_jvp(f: Callable[..., Any], args: tuple, other: tuple, tol: tuple) -> None:
    atol, rtol, eps = tol
    check_jvp(f, partial(jvp, f), args, atol=atol, rtol=rtol, eps=eps)


def _check_vjp(f: Callable[..., Any], args: tuple, other: tuple, tol: tuple) -> None:
    atol, rtol, eps = tol
    check_vjp(f, partial(vjp, f), args, atol=atol, rtol=rtol, eps=eps)


def _check_jit(f: Callable[..., Any], args: tuple, other: tuple, tol: tuple) -> None:
    atol, rtol, _ = tol
    check_close(jit(f)(*args), f(*args), atol if atol is not None else _ROUNDING,
                rtol if rtol is not None else _ROUNDING, "jit(f)(*args) vs f(*args)")


def _check_vmap(f: Callable[..., Any], args: tuple, other: tuple, tol: tuple) -> None:
    atol, rtol, _ = tol
    if _shapes_of(other) != _shapes_of(args):
        other = args    # examples of different shapes cannot be stacked
    batched = tree_map(lambda a, b: np.stack([np.asarray(a), np.asarray(b)]), args, other)
    looped = tree_map(lambda a, b: np.stack([np.asarray(a), np.asarray(b)]),
                      f(*args), f(*other))
    check_close(vmap(f)(*batched), looped, atol if atol is not None else _ROUNDING,
                rtol if rtol is not None else _ROUNDING,
                "vmap(f) over two stacked examples vs f on each")


def _check_float32(f: Callable[..., Any], args: tuple, other: tuple, tol: tuple) -> None:
    args32 = tree_map(_to_single, args)
    out = f(*args32)
    _assert_single(out, "f's output")
    tangents = tree_map(lambda x: np.ones_like(x) if _floating(x) else
                        np.zeros(np.shape(x), dtypes.float0), args32)
    _, tangent_out = jvp(f, args32, tangents)
    _assert_single(tangent_out, "the output tangent of jvp(f)")
    out, backprop = vjp(f, *args32)
    _assert_single(backprop(tree_map(np.ones_like, out)), "the cotangents of vjp(f)")


def _to_single(x: Any) -> Any:
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.complexfloating):
        return x.astype(np.complex64)
    return x.astype(np.float32) if np.issubdtype(x.dtype, np.floating) else x


def _floating(x: Any) -> bool:
    return dtypes.is_float(np.asarray(x).dtype)


def _assert_single(tree: Any, what: str) -> None:
    wide = [np.asarray(x).dtype for x in tree_flatten(tree)[0]
            if _floating(x) and np.asarray(x).dtype.itemsize > (
                8 if np.issubdtype(np.asarray(x).dtype, np.complexfloating) else 4)]
    if wide:
        raise AssertionError(
            f"float32 in, {wide[0]} out: with every argument cast to float32, {what} has "
            f"dtype {wide[0]}. functrans keeps float32 (values and derivatives) unless "
            "something float64 is mixed in: a float64 constant (np.array(...) defaults to "
            "float64), or a NumPy call on a float64 array")


def _shapes_of(tree: Any) -> tuple[Any, list[tuple[tuple[int, ...], np.dtype]]]:
    leaves, treedef = tree_flatten(tree)
    return treedef, [(np.shape(x), np.asarray(x).dtype) for x in leaves]


_CHECK = {"jvp": _check_jvp, "vjp": _check_vjp, "jit": _check_jit, "vmap": _check_vmap,
          "float32": _check_float32}
