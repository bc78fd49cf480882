"""Numerical checks of derivatives, as ``jax.test_util``.

``check_grads(f, args, order)`` checks the forward mode (``check_jvp``: the JVP
in a random direction against a central finite difference) and the reverse
mode (``check_vjp``: the VJP against the JVP by the dot-product test
``<v, J u> = <J^T v, u>``, and against finite differences), then, for
``order > 1``, repeats on the derivative functions themselves: the JVP seen as
a function of ``(primals, tangents)`` and the map ``x -> vjp(f, x)(f(x))``.

Finite differences are computed in the arguments' own dtype, so float32
arguments get a larger step and looser default tolerances. A failed check
raises ``AssertionError`` naming the mode, the dtype and both values.

The checks differentiate with respect to every argument, so ``args`` is a
tuple (or list) of arguments whose leaves are all floating or complex: an
integer argument would be held fixed and its derivative silently left
unchecked, so the checks raise ``TypeError`` for it instead (close over an
argument that should stay fixed).

The small vector-space helpers (``rand_like``, ``inner_prod``, ``tree_add``,
``tree_sub``, ``tree_scale``) treat a pytree of arrays as one vector; integer
and boolean leaves are not part of the space (their tangents are ``float0``).

``functrans.test_util.strategies`` (imported on its own, as it needs Hypothesis)
holds Hypothesis strategies for arrays on the domains derivatives are checked on
(positive, SPD, orthogonal, simplex ...) and ``check_transformations``, which checks
a function's derivatives, ``jit`` and ``vmap`` on the examples they draw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from functrans import dtypes, errors, jvp, vjp
from functrans.tree_util import keystr, tree_flatten, tree_flatten_with_path, tree_leaves, tree_map

__all__ = ["check_grads", "check_jvp", "check_vjp", "check_close", "numerical_jvp",
           "rand_like", "inner_prod", "tree_add", "tree_sub", "tree_scale",
           "default_tolerance", "default_eps"]


def __dir__() -> list[str]:
    return sorted(__all__)

Tolerance = float | Mapping[Any, float] | None

# Central differences have truncation error ~eps**2 and rounding error
# ~ulp/eps; these steps balance the two for each precision.
_DEFAULT_EPS = {np.dtype(np.float16): 3e-2, np.dtype(np.float32): 3e-3,
                np.dtype(np.float64): 1e-5}
_DEFAULT_TOL = {np.dtype(np.float16): 5e-2, np.dtype(np.float32): 1e-2,
                np.dtype(np.float64): 1e-5}


def _real_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.finfo(dtype).dtype)


def default_tolerance(dtype: Any) -> float:
    """The default atol/rtol of the checks for values of `dtype`."""
    return _DEFAULT_TOL.get(_real_dtype(np.dtype(dtype)), 1e-5)


def default_eps(dtype: Any) -> float:
    """The default finite-difference step for arguments of `dtype`."""
    return _DEFAULT_EPS.get(_real_dtype(np.dtype(dtype)), 1e-5)


# ------------------------------------------------------------------ vector space

def _dtype_of(x: Any) -> np.dtype:
    return np.asarray(x).dtype


def _is_vector_leaf(x: Any) -> bool:
    return dtypes.is_float(_dtype_of(x))


def rand_like(rng: np.random.Generator, tree: Any) -> Any:
    """A standard-normal pytree shaped like `tree`; ``float0`` zeros for integer leaves."""
    def leaf(x: Any) -> Any:
        x = np.asarray(x)
        if not dtypes.is_float(x.dtype):
            return np.zeros(x.shape, dtypes.float0)
        value = rng.standard_normal(x.shape)
        if np.issubdtype(x.dtype, np.complexfloating):
            value = value + 1j * rng.standard_normal(x.shape)
        return np.asarray(value, x.dtype)
    return tree_map(leaf, tree)


def _paired_leaves(xs: Any, ys: Any, what: str) -> list[tuple[np.ndarray, np.ndarray]]:
    x_leaves, x_tree = tree_flatten(xs)
    y_leaves, y_tree = tree_flatten(ys)
    if x_tree != y_tree:
        raise AssertionError(f"{what}: pytree structures differ: {x_tree} vs {y_tree}")
    return [(np.asarray(x), np.asarray(y)) for x, y in zip(x_leaves, y_leaves, strict=True)
            if _is_vector_leaf(x) and _is_vector_leaf(y)]


def inner_prod(xs: Any, ys: Any) -> float:
    """Real inner product ``Re sum(conj(x) * y)`` over the float leaves, in float64."""
    total = 0.0
    for x, y in _paired_leaves(xs, ys, "inner_prod"):
        x = x.astype(np.result_type(x.dtype, np.float64))
        y = y.astype(np.result_type(y.dtype, np.float64))
        total += float(np.real(np.vdot(x.ravel(), y.ravel())))
    return total


def _inner_prod_scale(xs: Any, ys: Any) -> float:
    """``sum |x| |y|``: the size of the terms of the inner product, which bounds the
    rounding error of a sum that cancels."""
    return float(sum(np.sum(np.abs(x.astype(np.complex128)) * np.abs(y.astype(np.complex128)))
                     for x, y in _paired_leaves(xs, ys, "inner_prod")))


def tree_add(xs: Any, ys: Any) -> Any:
    return tree_map(lambda x, y: np.add(x, y) if _is_vector_leaf(x) else x, xs, ys)


def tree_sub(xs: Any, ys: Any) -> Any:
    return tree_map(lambda x, y: np.subtract(x, y) if _is_vector_leaf(x) else x, xs, ys)


def tree_scale(alpha: float, xs: Any) -> Any:
    """``alpha * xs`` over the float leaves, keeping each leaf's dtype."""
    def leaf(x: Any) -> Any:
        x = np.asarray(x)
        return np.asarray(alpha * x, x.dtype) if dtypes.is_float(x.dtype) else x
    return tree_map(leaf, xs)


def _conj(xs: Any) -> Any:
    return tree_map(lambda x: np.conj(x) if _is_vector_leaf(x) else x, xs)


# ------------------------------------------------------------------ tolerances

def _tolerance(tol: Tolerance, dtype: np.dtype) -> float:
    if tol is None:
        return default_tolerance(dtype)
    if isinstance(tol, Mapping):
        for key, value in tol.items():
            if np.dtype(key) == dtype:
                return float(value)
        return default_tolerance(dtype)
    return float(tol)


def _least_precise(leaves: Sequence[Any]) -> np.dtype:
    floats = [_dtype_of(x) for x in leaves if _is_vector_leaf(x)]
    if not floats:
        return np.dtype(np.float64)
    return max(floats, key=lambda d: np.finfo(d).eps)


def _eps_for(eps: float | None, args: Any) -> float:
    return eps if eps is not None else default_eps(_least_precise(tree_leaves(args)))


# ------------------------------------------------------------------ comparisons

def check_close(actual: Any, expected: Any, atol: Tolerance = None, rtol: Tolerance = None,
                err_msg: str = "") -> None:
    """Assert two pytrees match: float leaves within tolerance (set by the less
    precise dtype of each pair), other leaves exactly; shapes always."""
    a_leaves, a_tree = tree_flatten(actual)
    e_leaves, e_tree = tree_flatten(expected)
    if a_tree != e_tree:
        raise AssertionError(f"{err_msg}: output structures differ: computed {a_tree}, "
                             f"expected {e_tree}")
    for i, (a, e) in enumerate(zip(a_leaves, e_leaves, strict=True)):
        a, e = np.asarray(a), np.asarray(e)
        where = f"{err_msg} (leaf {i})" if len(a_leaves) > 1 else err_msg
        if a.shape != e.shape:
            raise AssertionError(f"{where}: shapes differ: computed {a.shape} ({a.dtype}), "
                                 f"expected {e.shape} ({e.dtype})")
        if a.dtype == dtypes.float0 or e.dtype == dtypes.float0:
            continue
        if not (dtypes.is_float(a.dtype) or dtypes.is_float(e.dtype)):
            np.testing.assert_array_equal(a, e, err_msg=f"{where}: values differ "
                                                        f"(dtype {a.dtype})")
            continue
        dtype = _least_precise([a, e])
        at, rt = _tolerance(atol, dtype), _tolerance(rtol, dtype)
        np.testing.assert_allclose(
            a, e, rtol=rt, atol=at,
            err_msg=f"{where}: values differ (dtype {dtype}, atol={at:g}, rtol={rt:g})")


def _check_scalars_close(computed: float, expected: float, scale: float, dtype: np.dtype,
                         atol: Tolerance, rtol: Tolerance, err_msg: str) -> None:
    at, rt = _tolerance(atol, dtype), _tolerance(rtol, dtype)
    allowed = at + rt * max(abs(computed), abs(expected), scale)
    if not abs(computed - expected) <= allowed:
        raise AssertionError(
            f"{err_msg}: inner products differ (dtype {dtype}, atol={at:g}, rtol={rt:g})\n"
            f"  computed: {computed!r}\n  expected: {expected!r}\n"
            f"  difference {abs(computed - expected):.3g} > allowed {allowed:.3g} "
            f"(size of the summed terms {scale:.3g})")


def _check_tangent_dtypes(primals: Any, tangents: Any, err_msg: str, what: str) -> None:
    """Each tangent/cotangent has its primal's shape and tangent dtype."""
    p_leaves, p_tree = tree_flatten(primals)
    t_leaves, t_tree = tree_flatten(tangents)
    if p_tree != t_tree:
        raise AssertionError(f"{err_msg}: the {what}s have structure {t_tree}, expected "
                             f"{p_tree}")
    for i, (p, t) in enumerate(zip(p_leaves, t_leaves, strict=True)):
        p, t = np.asarray(p), np.asarray(t)
        expected = dtypes.tangent_dtype(p.dtype)
        if t.shape != p.shape or t.dtype != expected:
            raise AssertionError(
                f"{err_msg}: {what} {i} has dtype {t.dtype} and shape {t.shape}; its primal "
                f"has dtype {p.dtype} and shape {p.shape}, so the {what} should have dtype "
                f"{expected} and shape {p.shape}")


# ------------------------------------------------------------------ finite differences

def numerical_jvp(f: Callable[..., Any], args: Sequence[Any], tangents: Sequence[Any],
                  eps: float | None = None) -> Any:
    """Central difference ``(f(x + eps t) - f(x - eps t)) / (2 eps)``, in the dtypes
    of `args` and of the outputs. Integer arguments stay fixed; integer outputs get
    ``float0`` tangents."""
    eps = _eps_for(eps, args)

    def shifted(sign: float) -> Any:
        def leaf(x: Any, t: Any) -> Any:
            if not _is_vector_leaf(x):
                return x
            x = np.asarray(x)
            return np.asarray(x + sign * eps * np.asarray(t, x.dtype), x.dtype)
        return f(*tree_map(leaf, tuple(args), tuple(tangents)))

    def difference(hi: Any, lo: Any) -> Any:
        hi, lo = np.asarray(hi), np.asarray(lo)
        if not dtypes.is_float(hi.dtype):
            return np.zeros(hi.shape, dtypes.float0)
        return np.asarray((hi - lo) / (2 * eps), hi.dtype)

    return tree_map(difference, shifted(1.0), shifted(-1.0))


# ------------------------------------------------------------------ argument validation

def _checked_args(args: Any, fname: str, call: str) -> tuple:
    """`args` as a tuple, after making sure every argument can be differentiated:
    the checks perturb every argument, and an integer one would be held fixed,
    its derivative silently unchecked. `call` shows a correct call of `fname`."""
    if not isinstance(args, (tuple, list)):
        raise TypeError(
            f"{fname}: args must be a tuple or list of the arguments of f, e.g. {call} for "
            f"a function of one argument x; got a {type(args).__name__}"
            f"{_shape_note(args)}")
    if not tree_leaves(args):
        raise TypeError(f"{fname}: args {args!r} hold no arrays, so there is no derivative "
                        "to check")
    for index, arg in enumerate(args):
        for path, leaf in tree_flatten_with_path(arg)[0]:
            if not _is_vector_leaf(leaf):
                raise _not_float_error(fname, index, path, leaf)
    return tuple(args)


def _not_float_error(fname: str, index: int, path: tuple, leaf: Any) -> TypeError:
    where = f"argument {index}" + (f" (at {keystr(path)})" if path else "")
    return TypeError(
        f"{fname}: {where} {_describe(leaf)}, but {fname} needs floating (or complex) "
        "inputs: it checks the derivative with respect to every argument. Cast it "
        "(x.astype(float), or float(n) for a Python int), or close over an argument that "
        "stays fixed: pass lambda x: f(x, n) and (x,) instead of f and (x, n)")


def _shape_note(args: Any) -> str:
    shape = getattr(args, "shape", None)
    return f" of shape {shape}" if shape is not None else ""


def _describe(leaf: Any) -> str:
    if isinstance(leaf, (bool, int, float, complex)):
        return f"is a Python {type(leaf).__name__}"
    return f"has dtype {_dtype_of(leaf)}"


# ------------------------------------------------------------------ the checks

def check_jvp(f: Callable[..., Any], f_jvp: Callable[..., Any], args: Sequence[Any],
              atol: Tolerance = None, rtol: Tolerance = None, eps: float | None = None,
              err_msg: str = "") -> None:
    """Check ``f_jvp(primals, tangents)`` (e.g. ``partial(jvp, f)``) against
    ``f`` and a central finite difference, in a random tangent direction."""
    args = _checked_args(args, "check_jvp", "check_jvp(f, f_jvp, (x,))")
    what = err_msg or "JVP"
    tangent = rand_like(np.random.default_rng(0), args)
    out, tangent_out = f_jvp(args, tangent)
    check_close(out, f(*args), atol, rtol, f"{what}: primal output")
    _check_tangent_dtypes(out, tangent_out, what, "output tangent")
    expected = numerical_jvp(f, args, tangent, eps)
    check_close(tangent_out, expected, atol, rtol,
                f"{what}: tangent output vs central finite difference")


def check_vjp(f: Callable[..., Any], f_vjp: Callable[..., Any], args: Sequence[Any],
              atol: Tolerance = None, rtol: Tolerance = None, eps: float | None = None,
              err_msg: str = "") -> None:
    """Check ``f_vjp(*args) -> (out, vjp_fun)`` (e.g. ``partial(vjp, f)``) by the
    dot-product test ``<v, J u> = <J^T v, u>`` for random u, v, with ``J u`` from
    the JVP of `f` and from a finite difference."""
    args = _checked_args(args, "check_vjp", "check_vjp(f, f_vjp, (x,))")
    what = err_msg or "VJP"
    rng = np.random.default_rng(1)
    out, vjp_fun = f_vjp(*args)
    check_close(out, f(*args), atol, rtol, f"{what}: primal output")
    tangent = rand_like(rng, args)
    cotangent = rand_like(rng, out)
    cotangent_in = _conj(vjp_fun(_conj(cotangent)))
    _check_tangent_dtypes(args, tuple(cotangent_in), what, "input cotangent")
    transposed = inner_prod(tangent, tuple(cotangent_in))
    transposed_scale = _inner_prod_scale(tangent, tuple(cotangent_in))
    dtype = _least_precise(tree_leaves((args, out)))
    references = [("central finite difference", numerical_jvp(f, args, tangent, eps))]
    try:
        references.append(("JVP", jvp(f, args, tangent)[1]))
    except errors.ForwardModeUnsupportedError:
        pass  # a custom_vjp function: reverse mode is all it defines
    for name, tangent_out in references:
        forward = inner_prod(cotangent, tangent_out)
        scale = max(transposed_scale, _inner_prod_scale(cotangent, tangent_out))
        _check_scalars_close(transposed, forward, scale, dtype, atol, rtol,
                             f"{what}: dot-product test <J^T v, u> (computed) vs "
                             f"<v, J u> by {name} (expected)")


def check_grads(f: Callable[..., Any], args: Sequence[Any], order: int,
                modes: Sequence[str] = ("fwd", "rev"), atol: Tolerance = None,
                rtol: Tolerance = None, eps: float | None = None) -> None:
    """Check the derivatives of `f` at `args` up to `order`, as
    ``jax.test_util.check_grads``.

    ``modes`` holds ``"fwd"`` (``check_jvp``, recursing on the JVP as a function
    of ``(primals, tangents)``) and/or ``"rev"`` (``check_vjp``, recursing on
    ``x -> vjp(f, x)(f(x))``). `atol`/`rtol` are a number or a ``{dtype: tol}``
    dict; `eps` is the finite-difference step (default from the argument dtype).
    `args` is a tuple or list of arguments, all floating or complex.
    """
    args = _checked_args(args, "check_grads", "check_grads(f, (x,), order=1)")
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
        raise ValueError(f"check_grads: order must be an integer >= 1, got {order!r}")
    if isinstance(modes, str):
        modes = (modes,)
    unknown = [m for m in modes if m not in ("fwd", "rev")]
    if unknown or not modes:
        raise ValueError(f"check_grads: modes must be a non-empty subset of ('fwd', 'rev'), "
                         f"got {tuple(modes)!r}")
    check_jvp_ = partial(check_jvp, atol=atol, rtol=rtol, eps=eps)
    check_vjp_ = partial(check_vjp, atol=atol, rtol=rtol, eps=eps)

    def check(f: Callable[..., Any], args: tuple, order: int, context: str) -> None:
        if "fwd" in modes:
            what = f"JVP of {context}" if context else "JVP"
            check_jvp_(f, partial(jvp, f), args, err_msg=what)
            if order > 1:
                check(partial(jvp, f), (args, args), order - 1, what)
        if "rev" in modes:
            what = f"VJP of {context}" if context else "VJP"
            check_vjp_(f, partial(vjp, f), args, err_msg=what)
            if order > 1:
                check(_vjp_of_output(f), args, order - 1, what)

    check(f, args, int(order), "")


def _vjp_of_output(f: Callable[..., Any]) -> Callable[..., Any]:
    """``x -> vjp(f, x)(f(x))``: a function of the primals only, whose derivative
    involves the transposes of the JVP rules."""
    def f_vjp(*args: Any) -> Any:
        out, vjp_fun = vjp(f, *args)
        return vjp_fun(out)
    return f_vjp
