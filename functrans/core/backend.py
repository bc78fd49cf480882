"""Array backends: which array library a call's values belong to, and evaluating a
primitive on that library's arrays.

NumPy is the default backend and costs nothing: NumPy arrays, NumPy scalars and
Python scalars are recognised by their type alone (:data:`NUMPY_TYPES`), and their
primitives run the NumPy implementations as always. Any other array (Dask, CuPy,
PyTorch, or any library implementing the Python Array API standard) is recognised
through ``array_api_compat`` (an optional dependency: without it, only NumPy
exists), and gets a :class:`Backend`: the library's Array API namespace ``xp`` plus
the few extensions that library needs, each in its own module
(:mod:`functrans.core.backend_dask`, :mod:`~functrans.core.backend_torch`,
:mod:`~functrans.core.backend_cupy`).

How a primitive is evaluated on a backend (:meth:`Backend.evaluate`): NumPy
operands (constants of a rule, of a jaxpr) are moved into the library, the shape
rule gives the result's aval, and the first of these computes it:

1. the backend's own rule for the primitive (``torch.special.erf`` for ``erf``);
2. an elementwise primitive that is a NumPy ufunc (``Primitive.ufunc``): the Array API
   function of the same meaning, looked up by name in ``xp`` (``np.arcsin`` ->
   ``xp.asin``);
3. an implementation written against the Array API: a keyword-only ``xp``
   parameter (``def _impl(x, *, axes, xp=np)``), unless it is marked
   ``prefer_fallback`` (a sort, a factorisation, a convolution's per-tap adds: work a
   lazy library would schedule as many small tasks) and the backend has a general
   fallback (rule 5), which then runs the NumPy implementation instead;
4. a higher-order primitive (its parameters hold jaxprs): its implementation, which
   evaluates the jaxprs on the same arrays;
5. the backend's general fallback (Dask: the NumPy implementation run lazily, block
   by block for elementwise primitives, as one block otherwise);
6. otherwise a TypeError naming the primitive and the backend.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans.core import backend_cupy, backend_dask, backend_torch
from functrans.core.avals import ShapedArray, get_aval

try:  # optional: without it, NumPy is the only backend
    import array_api_compat
except ImportError:  # pragma: no cover - exercised where array-api-compat is absent
    array_api_compat = None

__all__ = ["Backend", "NUMPY_TYPES", "backend_of", "foreign_backend", "is_numpy_value",
           "BackendError"]

#: what the NumPy backend evaluates: arrays, NumPy scalars and Python scalars, by type
NUMPY_TYPES = frozenset([np.ndarray, bool, int, float, complex]
                        + [np.dtype(c).type for c in "?bBhHiIlLqQefdgFDG"])


class BackendError(TypeError):
    """A primitive has no implementation for an array library, or a call mixes two."""


#: Array API names of the NumPy ufuncs elementwise primitives declare, where they differ
ARRAY_API_NAMES = {
    "absolute": "abs", "power": "pow", "conjugate": "conj",
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arctan2": "atan2",
    "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh",
    "invert": "bitwise_invert", "left_shift": "bitwise_left_shift",
    "right_shift": "bitwise_right_shift",
}

#: the backend of each library seen so far, by array type (detection costs once per type)
_by_type: dict[type, Backend] = {}
#: functrans' own array types (tracers speak the Array API through functrans.numpy)
_functrans_types: set[type] = set()
#: the backend of each Array API namespace, by the namespace's module name
_by_namespace: dict[str, Backend] = {}

#: per-library extensions, by the name of the library's Array API namespace
_EXTENSION_MODULES = {
    "array_api_compat.dask.array": backend_dask,
    "array_api_compat.torch": backend_torch,
    "array_api_compat.cupy": backend_cupy,
}


def is_numpy_value(x: Any) -> bool:
    """Whether NumPy evaluates `x` (a NumPy array or scalar, or a Python scalar)."""
    return type(x) in NUMPY_TYPES or isinstance(x, (np.ndarray, np.generic))


def foreign_backend(x: Any) -> Backend | None:
    """The backend of `x` when it is an array of a library other than NumPy, else None
    (NumPy values, Python scalars, tracers and non-arrays)."""
    t = type(x)
    backend = _by_type.get(t)
    if backend is not None:
        return backend
    if (t in NUMPY_TYPES or t in _functrans_types or array_api_compat is None
            or isinstance(x, (np.ndarray, np.generic)) or not array_api_compat.is_array_api_obj(x)):
        return None
    xp = array_api_compat.array_namespace(x)
    if xp.__name__.partition(".")[0] == "functrans":  # a tracer (functrans.numpy's arrays)
        _functrans_types.add(t)
        return None
    backend = _backend_of_namespace(xp)
    _by_type[t] = backend
    return backend


def backend_of(values: Sequence[Any]) -> Backend | None:
    """The one non-NumPy backend among `values`, or None when all are NumPy values.

    Raises BackendError when two different libraries' arrays meet: functrans moves
    NumPy values into another library, never one library's arrays into another."""
    found: Backend | None = None
    for x in values:
        if type(x) in NUMPY_TYPES:
            continue
        backend = foreign_backend(x)
        if backend is None or backend is found:
            continue
        if found is not None:
            raise BackendError(
                f"arrays of two libraries meet in one call: {found.name} "
                f"({type_name(found, values)}) and {backend.name} ({type(x).__name__}); "
                "convert one of them explicitly (functrans moves only NumPy values into "
                "another library)")
        found = backend
    return found


def type_name(backend: Backend, values: Sequence[Any]) -> str:
    return next(type(x).__name__ for x in values if foreign_backend(x) is backend)


def _backend_of_namespace(xp: Any) -> Backend:
    backend = _by_namespace.get(xp.__name__)
    if backend is None:
        module = _EXTENSION_MODULES.get(xp.__name__)
        backend = _by_namespace[xp.__name__] = Backend(xp, module)
    return backend


def _takes_xp(fn: Any) -> bool:
    try:
        parameter = inspect.signature(fn).parameters.get("xp")
    except (TypeError, ValueError):  # builtins, ufuncs
        return False
    return parameter is not None and parameter.kind is inspect.Parameter.KEYWORD_ONLY


def _has_jaxpr_params(params: dict) -> bool:
    return any(type(v).__name__ == "ClosedJaxpr" or (
        type(v) is tuple and v and type(v[0]).__name__ == "ClosedJaxpr")
        for v in params.values())


def _numpy_ufunc(primitive: Any, avals: Sequence[ShapedArray], out: Any) -> Any:
    """The NumPy ufunc that computes `primitive` (before the cast to the shape rule's
    dtype): its implementation's, or the one it declares for these operands' dtypes."""
    ufunc = getattr(primitive.impl, "numpy_ufunc", None)
    if ufunc is not None:
        return ufunc
    declared = primitive.ufunc
    if declared is not None and all(a.dtype == out.dtype for a in avals) \
            and out.dtype.kind in declared.kinds:
        return declared.ufunc
    return None


# An implementation on a backend: (operands, params, out avals) -> result(s)
Implementation = Callable[[list[Any], dict, Any], Any]


class Backend:
    """An array library functrans evaluates with: its Array API namespace ``xp`` and its
    extensions (a module with ``NAME``, ``RULES`` and optionally ``fallback``,
    ``from_numpy``)."""

    def __init__(self, xp: Any, extensions: Any = None):
        adapt = getattr(extensions, "namespace", None)
        self.xp = xp if adapt is None else adapt(xp)
        self.extensions = extensions
        self.name: str = getattr(extensions, "NAME", xp.__name__.removeprefix(
            "array_api_compat."))
        self.rules: dict[str, Callable[..., Any]] = getattr(extensions, "RULES", {})
        #: primitive -> implementation on this backend, resolved once
        self._implementations: dict[Any, Implementation] = {}
        #: NumPy constants already moved into this library (by id, kept alive with them)
        self._moved: dict[int, tuple[Any, Any]] = {}

    def __repr__(self) -> str:
        return f"<backend {self.name}>"

    # -- dtypes and values
    def dtype(self, dtype: np.dtype) -> Any:
        """The library's dtype for a NumPy dtype."""
        dtype = np.dtype(dtype)
        name = "bool" if dtype == np.bool_ else dtype.name
        try:
            return getattr(self.xp, name)
        except AttributeError:
            raise BackendError(f"{self.name} has no dtype {dtype.name}") from None

    def owns(self, x: Any) -> bool:
        return foreign_backend(x) is self

    def from_numpy(self, x: Any, aval: ShapedArray | None = None) -> Any:
        """A NumPy value (array, scalar, Python scalar) as an array of this library, of
        the dtype functrans gives it; a copy, so nothing aliases the caller's array."""
        # contiguous: torch refuses negative strides (a NumPy rev's view)
        array = np.asarray(x, None if aval is None else aval.dtype)
        if any(stride == 0 and n > 1 for stride, n in zip(array.strides, array.shape)):
            # a broadcast (a rule's filled constant): move the values, not the copies
            return self._broadcast_from_numpy(array)
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        convert = getattr(self.extensions, "from_numpy", None)
        if convert is not None:
            return convert(self.xp, array)
        return self.xp.asarray(array, copy=True)

    def _broadcast_from_numpy(self, array: np.ndarray) -> Any:
        distinct = array[tuple(slice(0, 1) if stride == 0 else slice(None)
                               for stride in array.strides)].copy()
        return self.xp.broadcast_to(self.from_numpy(distinct), array.shape)

    def constant(self, x: Any) -> Any:
        """`x` (a NumPy constant of a jaxpr or rule) moved into this library, once."""
        if self.owns(x):
            return x
        if type(x) is not np.ndarray:
            return self.from_numpy(x, get_aval(x))
        hit = self._moved.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        moved = self.from_numpy(x)
        if len(self._moved) > 4096:  # a bound, not a policy: constants are few and small
            self._moved.clear()
        self._moved[id(x)] = (x, moved)
        return moved

    def cast(self, x: Any, aval: ShapedArray) -> Any:
        """`x` as an array of this library with exactly `aval`'s dtype."""
        if not self.owns(x):
            return self.from_numpy(x, aval)
        if get_aval(x).dtype != aval.dtype:
            return self.xp.astype(x, self.dtype(aval.dtype))
        return x

    # -- evaluation
    def evaluate(self, primitive: Any, args: Sequence[Any], params: dict) -> Any:
        """`primitive` applied to `args` (arrays of this library, NumPy values) on this
        backend; the result is of this library."""
        if _has_jaxpr_params(params):  # higher-order: its jaxprs evaluate on these arrays
            operands = [self.constant(a) for a in args]
            return primitive.impl(*operands, **params)
        avals = [get_aval(a) for a in args]
        out = primitive.abstract_eval(*avals, **params)
        operands = [self.constant(a) for a in args]
        try:
            result = self.implementation(primitive, avals, out)(operands, params, out)
        except (NotImplementedError, RuntimeError) as e:  # torch: "not implemented for"
            if isinstance(e, RuntimeError) and "not implemented" not in str(e):
                raise
            raise BackendError(f"'{primitive.name}' on {self.name} arrays "
                               f"({', '.join(a.str_short() for a in avals)}): {self.name} "
                               f"does not implement it for these dtypes ({e})") from e
        if primitive.multiple_results:
            return [self.cast(r, a) for r, a in zip(result, out, strict=True)]
        return self.cast(result, out)

    def implementation(self, primitive: Any, avals: Sequence[ShapedArray], out: Any
                       ) -> Implementation:
        ufunc = _numpy_ufunc(primitive, avals, out)
        if ufunc is not None and primitive.name not in self.rules:
            fn = self._array_api_function(ufunc.__name__)
            if fn is not None:
                return lambda operands, params, out: fn(*operands)
        impl = self._implementations.get(primitive)
        if impl is None:
            impl = self._implementations[primitive] = self._resolve(primitive)
        return impl

    def _array_api_function(self, ufunc_name: str) -> Callable[..., Any] | None:
        return getattr(self.xp, ARRAY_API_NAMES.get(ufunc_name, ufunc_name), None)

    def _resolve(self, primitive: Any) -> Implementation:
        rule = self.rules.get(primitive.name)
        if rule is not None:
            xp = self.xp
            return lambda operands, params, out: rule(xp, *operands, **params)
        impl = getattr(primitive.impl, "array_api_impl", primitive.impl)
        fallback = getattr(self.extensions, "fallback", None)
        if _takes_xp(impl) and not (fallback is not None
                                    and getattr(impl, "prefer_fallback", False)):
            xp = self.xp
            return lambda operands, params, out: impl(*operands, xp=xp, **params)
        if fallback is not None:
            numpy_impl = getattr(primitive.impl, "numpy_impl", primitive.impl)
            elementwise = getattr(primitive.impl, "elementwise", False)
            return lambda operands, params, out: fallback(
                self.xp, numpy_impl, operands, params, out, elementwise)
        return self._unsupported(primitive)

    def _unsupported(self, primitive: Any) -> Implementation:
        def unsupported(operands: list[Any], params: dict, out: Any) -> Any:
            raise BackendError(
                f"'{primitive.name}' has no implementation for {self.name} arrays: it has no "
                f"Array API equivalent and no {self.name} rule (see docs/backends.md for "
                "what each backend lacks); convert its operands to NumPy explicitly, or use "
                "a backend that has it")
        return unsupported

    def bound(self, primitive: Any, avals: Sequence[ShapedArray], out: Any, params: dict
              ) -> Callable[..., Any]:
        """A function of the operands alone evaluating `primitive` with `params` on this
        backend, for generated code (resolved once, when the code is generated)."""
        if _has_jaxpr_params(params):
            impl = primitive.impl
            return lambda *operands: impl(*operands, **params)
        if not avals:  # no operands (iota): a constant, computed by NumPy and moved once
            value = primitive.impl(**params)
            moved = [self.from_numpy(v) for v in value] if primitive.multiple_results \
                else self.from_numpy(value)
            return lambda: moved
        fn = self.implementation(primitive, avals, out)
        cast = self.cast
        if primitive.multiple_results:
            return lambda *operands: [cast(r, a) for r, a in zip(
                fn(list(operands), params, out), out, strict=True)]
        return lambda *operands: cast(fn(list(operands), params, out), out)


def evaluate(primitive: Any, args: Sequence[Any], params: dict) -> Any:
    """Evaluate `primitive` on the backend of its operands (some are foreign arrays)."""
    backend = backend_of(args)
    if backend is None:  # pragma: no cover - callers check for a foreign operand first
        return primitive.impl(*args, **params)
    return backend.evaluate(primitive, args, params)
