"""NumPy's own functions on traced arrays: the NEP 13 and NEP 18 protocols.

A tracer defines ``__array_ufunc__`` and ``__array_function__``, so NumPy hands
it every ufunc call (``np.sin(x)``, ``np.add.reduce(x)``, ``ndarray * x``) and
every public function (``np.dot``, ``np.concatenate``, ``np.linalg.norm``) that
receives one. This module routes each call to the ``functrans.numpy`` function of
the same name, which records primitives exactly as calling it directly would, so
unmodified NumPy code differentiates, vectorises and compiles.

The routing is by name, looked up when a call arrives (a ufunc's on its first
call, then remembered), so functions added to
``functrans.numpy`` (and its ``linalg`` and ``fft`` modules) are picked up
without editing this file:

* a ufunc call ``np.<name>(...)`` goes to ``fnp.<name>``;
* ``reduce``, ``accumulate`` and ``reduceat`` go through the tables
  :data:`REDUCTIONS` and :data:`ACCUMULATIONS`; ``outer`` broadcasts; ``at``
  (an in-place update) raises, naming ``x.at[idx]``;
* a function ``numpy.X``, ``numpy.linalg.X`` or ``numpy.fft.X`` goes to
  ``fnp.X``, ``fnp.linalg.X`` or ``fnp.fft.X`` (:data:`FUNCTION_NAMESPACES`), except
  the few in :data:`FUNCTION_ALIASES` (``np.astype`` ...), computed under another name.

Anything else, and anything that would write into an array (``out=``,
``np.copyto``), raises :class:`~functrans.errors.TracerArrayConversionError`
(a ``TypeError``) naming the NumPy function and what to write instead.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans import errors
from functrans.core.trace import Tracer
from functrans.numpy._composites import cross
from functrans.numpy._indexing import take
from functrans.numpy._lax import lax
from functrans.numpy._reductions import cumprod, cumsum
from functrans.numpy._shape import reshape, stack
from functrans.numpy._util import (
    canonicalize_axis,
    cast,
    concrete,
    ndim_of,
    operand,
    shape_of,
)

# ------------------------------------------------------------------ the tables

#: ``ufunc.reduce`` by ufunc name: the functrans.numpy reduction computing it
REDUCTIONS: dict[str, str] = {
    "add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min",
    "fmax": "nanmax", "fmin": "nanmin", "logical_and": "all", "logical_or": "any",
}


def _lax_accumulation(name: str) -> Callable[..., Any]:
    """``ufunc.accumulate`` through ``functrans.lax.<name>`` (cummax, cummin ...),
    which takes one array and one non-negative axis."""
    def accumulate(a: Any, axis: Any = 0, dtype: Any = None) -> Any:
        x = operand(a, f"lax.{name}", "a")
        if dtype is not None:
            x = cast(x, np.dtype(dtype))
        return getattr(lax, name)(x, canonicalize_axis(axis, ndim_of(x), f"lax.{name}"))
    accumulate.__name__ = accumulate.__qualname__ = name
    return accumulate


#: ``ufunc.accumulate`` by ufunc name: (where the function lives, the function)
ACCUMULATIONS: dict[str, tuple[str, Callable[..., Any]]] = {
    "add": ("functrans.numpy.cumsum", cumsum),
    "multiply": ("functrans.numpy.cumprod", cumprod),
    "maximum": ("functrans.lax.cummax", _lax_accumulation("cummax")),
    "minimum": ("functrans.lax.cummin", _lax_accumulation("cummin")),
    "logaddexp": ("functrans.lax.cumlogsumexp", _lax_accumulation("cumlogsumexp")),
}

#: NumPy's module of a function -> the attribute path of its functrans.numpy counterpart
FUNCTION_NAMESPACES: dict[str, str] = {"numpy": "", "numpy.linalg": "linalg",
                                       "numpy.fft": "fft"}


def _astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    """``np.astype(x, dtype)``: `x` converted to `dtype`."""
    return cast(operand(x, "astype", "x"), np.dtype(dtype))


def _can_cast(from_: Any, to: Any, casting: str = "safe") -> bool:
    """``np.can_cast`` of a traced value: decided by its dtype, as for an array."""
    return bool(np.can_cast(from_.dtype if isinstance(from_, Tracer) else from_, to, casting))


def _linalg_cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """``np.linalg.cross``: the cross product of 3-vectors along `axis`."""
    return cross(x1, x2, axis=axis)


#: NumPy functions computed by something other than the functrans.numpy function of
#: their name, by NumPy's qualified name: (what computes it, the function)
FUNCTION_ALIASES: dict[str, tuple[str, Callable[..., Any]]] = {
    "numpy.astype": ("x.astype(dtype)", _astype),
    "numpy.can_cast": ("numpy.can_cast(x.dtype, ...)", _can_cast),
    "numpy.linalg.cross": ("functrans.numpy.cross", _linalg_cross),
}


#: NumPy functions that write into an argument, and the functional way to say it
IN_PLACE_FUNCTIONS: dict[str, str] = {
    "copyto": "dst = fnp.where(mask, src, dst), or dst.at[idx].set(src)",
    "put": "a = a.at[ind].set(v) (on a flattened a: a.ravel().at[ind].set(v))",
    "place": "a = fnp.where(mask, vals, a)",
    "putmask": "a = fnp.where(mask, values, a)",
    "put_along_axis": "arr = arr.at[indices].set(values) with full index arrays",
    "fill_diagonal": "a = a.at[i, i].set(val) with i = fnp.arange(n)",
}

#: NumPy functions functrans.numpy lacks but a close alternative covers
ALTERNATIVES: dict[str, str] = {
    "rollaxis": "functrans.numpy.moveaxis",
    "nancumsum": "functrans.numpy.cumsum(functrans.numpy.where(fnp.isnan(x), 0, x))",
}


def ufunc_target(ufunc: np.ufunc) -> Callable[..., Any] | None:
    """The functrans.numpy function computing `ufunc`, or None (also for the ufuncs of
    other libraries, such as scipy.special's, whose names mean something else)."""
    if not is_numpy_ufunc(ufunc):
        return None
    return _callable(getattr(fnp, ufunc.__name__, None))


def is_numpy_ufunc(ufunc: np.ufunc) -> bool:
    return getattr(np, ufunc.__name__, None) is ufunc


def function_target(func: Callable[..., Any]) -> Callable[..., Any] | None:
    """The functrans function computing the NumPy function `func`, or None."""
    alias = FUNCTION_ALIASES.get(numpy_name(func))
    if alias is not None:
        return alias[1]
    namespace = _namespace(getattr(func, "__module__", None))
    if namespace is None:
        return None
    target = _callable(getattr(namespace, func.__name__, None))
    # functrans.numpy re-exports a few of NumPy's own (can_cast): those would come
    # straight back here
    return None if target is func else target


def _namespace(numpy_module: str | None) -> Any:
    """functrans.numpy (or its linalg/fft module) for a NumPy module name; None when
    there is no counterpart, or it is not part of functrans.numpy (yet)."""
    path = FUNCTION_NAMESPACES.get(numpy_module or "")
    if path is None:
        return None
    return getattr(fnp, path, None) if path else fnp


def _callable(target: Any) -> Callable[..., Any] | None:
    # functrans.numpy also holds dtypes and classes (fnp.float32, fnp.ndarray)
    if callable(target) and not isinstance(target, type):
        return target
    return None


def functrans_name(func: Callable[..., Any]) -> str:
    """``functrans.numpy.linalg.norm`` for ``numpy.linalg.norm``."""
    path = FUNCTION_NAMESPACES.get(getattr(func, "__module__", ""), "")
    return "functrans.numpy." + (f"{path}." if path else "") + func.__name__


def numpy_name(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', 'numpy')}.{func.__name__}"


# ------------------------------------------------------------------ __array_ufunc__

def array_ufunc(tracer: Tracer, ufunc: np.ufunc, method: str, *inputs: Any,
                **kwargs: Any) -> Any:
    """NEP 13: ``np.<ufunc>`` and its methods on a traced array."""
    if _has_foreign_operand(inputs):
        return NotImplemented
    if method == "__call__" and not kwargs:  # the common case: np.sin(x), ndarray * x
        target = _ufunc_targets.get(ufunc) or _ufunc_target_or_raise(tracer, ufunc, method)
        return target(*inputs)
    outs = kwargs.pop("out", None)
    if outs is not None and any(o is not None for o in outs):
        raise _error(_in_place_ufunc_message(tracer, ufunc, method))
    return _UFUNC_METHODS[method](tracer, ufunc, inputs, kwargs)


def _has_foreign_operand(values: Any) -> bool:
    """True when another array library's value takes part: it may know the call
    (NEP 13 etiquette: then it gets its turn)."""
    for v in values:  # (a loop, not any(): this runs on every ufunc call on a tracer)
        if type(v) is np.ndarray or isinstance(v, (Tracer, np.ndarray, np.generic)):
            continue
        if hasattr(type(v), "__array_ufunc__"):
            return True
    return False


# keywords of a ufunc call that change nothing for a result without `out`
_NEUTRAL_KEYWORDS = {"casting": "same_kind", "order": "K", "subok": True, "signature": None}


def _ufunc_call(tracer: Tracer, ufunc: np.ufunc, inputs: tuple, kwargs: dict) -> Any:
    target = _ufunc_target_or_raise(tracer, ufunc, "__call__")
    inputs = _with_dtype(inputs, kwargs.pop("dtype", None), ufunc.__name__)
    _check_neutral(tracer, ufunc, "__call__", kwargs)
    return target(*inputs)


def _with_dtype(inputs: tuple, dtype: Any, name: str) -> tuple:
    """The operands converted to `dtype`, the type NumPy computes in when given one."""
    if dtype is None:
        return inputs
    dtype = np.dtype(dtype)
    return tuple(cast(operand(x, name, f"{i}"), dtype) for i, x in enumerate(inputs))


def _check_neutral(tracer: Tracer, ufunc: np.ufunc, method: str, kwargs: dict) -> None:
    for key, value in kwargs.items():
        if key in _NEUTRAL_KEYWORDS and _is_same(value, _NEUTRAL_KEYWORDS[key]):
            continue
        if key == "where" and value is True:
            continue
        hint = ("compute the full result and select with "
                "functrans.numpy.where(mask, result, other)" if key == "where" else
                "drop it, or call the functrans.numpy function directly")
        raise _error(f"{_ufunc_name(ufunc, method)} was called on a traced value "
                     f"({tracer.describe()}) with {key}={_short(value)}, which functrans "
                     f"does not support there: {hint}.")


def _is_same(value: Any, default: Any) -> bool:
    return value is default or (isinstance(value, str) and value == default)


def _ufunc_reduce(tracer: Tracer, ufunc: np.ufunc, inputs: tuple, kwargs: dict) -> Any:
    name, reduction = _reduction(tracer, ufunc, "reduce")
    (array,) = inputs
    kwargs.setdefault("axis", 0)  # ufunc.reduce reduces axis 0 unless told
    array = _with_dtype_if_unsupported(reduction, array, kwargs, ufunc)
    return _call_with(reduction, tracer, (array,), kwargs,
                      lambda: (_ufunc_name(ufunc, "reduce"), f"functrans.numpy.{name}"))


def _reduction(tracer: Tracer, ufunc: np.ufunc, method: str
               ) -> tuple[str, Callable[..., Any]]:
    """The name and the function of the functrans.numpy reduction computing `ufunc`."""
    name = REDUCTIONS.get(ufunc.__name__)
    if name is None:
        raise _error(_unsupported_method_message(tracer, ufunc, method))
    return name, getattr(fnp, name)


def _with_dtype_if_unsupported(target: Callable[..., Any], array: Any, kwargs: dict,
                               ufunc: np.ufunc) -> Any:
    """max/min/all/any take no dtype: convert the operand instead, as NumPy does."""
    if "dtype" in kwargs and "dtype" not in _parameters(target):
        (array,) = _with_dtype((array,), kwargs.pop("dtype"), ufunc.__name__)
    return array


def _ufunc_accumulate(tracer: Tracer, ufunc: np.ufunc, inputs: tuple, kwargs: dict) -> Any:
    entry = ACCUMULATIONS.get(ufunc.__name__)
    if entry is None:
        raise _error(_unsupported_method_message(tracer, ufunc, "accumulate"))
    (array,) = inputs
    kwargs.setdefault("axis", 0)  # as for reduce
    return _call_with(entry[1], tracer, (array,), kwargs,
                      lambda: (_ufunc_name(ufunc, "accumulate"), entry[0]))


def _ufunc_reduceat(tracer: Tracer, ufunc: np.ufunc, inputs: tuple, kwargs: dict) -> Any:
    """Segment reductions: ``out[i]`` reduces ``a[indices[i]:indices[i+1]]`` along
    `axis`, or is ``a[indices[i]]`` where the next index is not larger (NumPy's
    rule). The indices must be concrete: they fix the result's shape."""
    _, reduction = _reduction(tracer, ufunc, "reduceat")
    name = _ufunc_name(ufunc, "reduceat")
    array, indices = inputs
    axis = kwargs.pop("axis", 0)
    (array,) = _with_dtype((operand(array, name, "array"),), kwargs.pop("dtype", None), name)
    _check_neutral(tracer, ufunc, "reduceat", kwargs)
    starts = [int(i) for i in np.asarray(concrete(indices, name, "the indices")).reshape(-1)]
    axis = canonicalize_axis(axis, ndim_of(array), name)
    length = shape_of(array)[axis]
    if any(not 0 <= i < length for i in starts):
        raise IndexError(f"{name}: the indices {starts} must lie in [0, {length}), the "
                         f"length of axis {axis}")
    segments = []
    for start, stop in zip(starts, starts[1:] + [length]):
        if start < stop:
            window = (slice(None),) * axis + (slice(start, stop),)
            segments.append(reduction(array[window], axis=axis))
        else:
            segments.append(take(array, start, axis=axis))
    return stack(segments, axis=axis)


def _ufunc_outer(tracer: Tracer, ufunc: np.ufunc, inputs: tuple, kwargs: dict) -> Any:
    """``ufunc.outer(a, b)``: `a` gets one new trailing axis per axis of `b`, then
    the ufunc broadcasts."""
    target = _ufunc_target_or_raise(tracer, ufunc, "outer")
    if ufunc.nin != 2:
        raise ValueError(f"{_ufunc_name(ufunc, 'outer')}: outer product only supported "
                         "for binary functions")
    name = _ufunc_name(ufunc, "outer")
    a, b = (operand(x, name, label) for x, label in zip(inputs, ("A", "B")))
    a, b = _with_dtype((a, b), kwargs.pop("dtype", None), name)
    _check_neutral(tracer, ufunc, "outer", kwargs)
    expanded = reshape(a, shape_of(a) + (1,) * ndim_of(b))
    return target(expanded, b)


def _ufunc_at(tracer: Tracer, ufunc: np.ufunc, inputs: tuple, kwargs: dict) -> Any:
    update = {"add": ".add(b)", "subtract": ".add(-b)", "multiply": ".multiply(b)",
              "maximum": ".max(b)", "minimum": ".min(b)"}.get(
                  ufunc.__name__, f".set(fnp.{ufunc.__name__}(a[indices], b))")
    raise _error(f"{_ufunc_name(ufunc, 'at')} was called on a traced value "
                 f"({tracer.describe()}). It updates its first argument in place, which "
                 "functrans arrays do not allow (arrays are values, and a NumPy array cannot "
                 f"hold a traced value): write a = a.at[indices]{update}, which returns the "
                 "updated array (fnp.at(a)[indices] when a is a NumPy array).")


_UFUNC_METHODS: dict[str, Callable[[Tracer, np.ufunc, tuple, dict], Any]] = {
    "__call__": _ufunc_call, "reduce": _ufunc_reduce, "accumulate": _ufunc_accumulate,
    "reduceat": _ufunc_reduceat, "outer": _ufunc_outer, "at": _ufunc_at,
}


# the ufuncs met so far, and their functrans.numpy functions (a cache of ufunc_target)
_ufunc_targets: dict[np.ufunc, Callable[..., Any]] = {}


def _ufunc_target_or_raise(tracer: Tracer, ufunc: np.ufunc, method: str
                           ) -> Callable[..., Any]:
    target = ufunc_target(ufunc)
    if target is not None:
        _ufunc_targets[ufunc] = target
        return target
    problem = f"{_ufunc_name(ufunc, method)} was called on a traced value ({tracer.describe()}). "
    if not is_numpy_ufunc(ufunc):
        raise _error(problem + "It is not one of NumPy's ufuncs (scipy.special's functions "
                     "are ufuncs too), so functrans cannot compute it: use its functrans "
                     "counterpart (functrans.scipy.special for SciPy's special functions), "
                     "or give the function a derivative with functrans.custom_jvp.")
    raise _error(problem + "NumPy cannot compute on traced values, and functrans.numpy has "
                 f"no counterpart of numpy.{ufunc.__name__} yet: compose it from "
                 "functrans.numpy functions, or compute it outside the transformation.")


def _ufunc_name(ufunc: np.ufunc, method: str) -> str:
    """``numpy.add.reduce``; the ufunc alone for another library's ufunc."""
    name = f"numpy.{ufunc.__name__}" if is_numpy_ufunc(ufunc) else f"the ufunc {ufunc.__name__}"
    return name + ("" if method == "__call__" else f".{method}")


def _unsupported_method_message(tracer: Tracer, ufunc: np.ufunc, method: str) -> str:
    reductions = ", ".join(f"{u}.reduce" for u in REDUCTIONS)
    accumulations = ", ".join(f"{u}.accumulate" for u in ACCUMULATIONS)
    return (f"{_ufunc_name(ufunc, method)} was called on a traced value "
            f"({tracer.describe()}); functrans computes the ufunc methods {reductions} "
            f"(and reduceat), and {accumulations}, but not this one: compose it from "
            "functrans.numpy functions (functrans.lax.reduce_* and cum* for other "
            "reductions).")


def _in_place_ufunc_message(tracer: Tracer, ufunc: np.ufunc, method: str) -> str:
    return (f"{_ufunc_name(ufunc, method)} was called with out= on a traced value "
            f"({tracer.describe()}). It would write into an existing array: NumPy cannot "
            "store a traced value in a NumPy array (out=, or an in-place operator such as "
            "`a += x` on a NumPy array `a`), and traced arrays are immutable. Write "
            "`a = a + x` instead (functrans arrays are values), and for element updates "
            "`a = a.at[idx].set(v)` (or .add, .multiply, .min, .max).")


# ------------------------------------------------------------------ __array_function__

def array_function(tracer: Tracer, func: Callable[..., Any], types: tuple[type, ...],
                   args: tuple, kwargs: dict) -> Any:
    """NEP 18: a NumPy function (``np.dot``, ``np.linalg.norm`` ...) called with a
    traced array among its array arguments."""
    if not all(issubclass(t, (Tracer, np.ndarray)) for t in types):
        return NotImplemented  # another array library takes part: let it answer
    name = func.__name__
    if kwargs.get("out") is not None or name in IN_PLACE_FUNCTIONS:
        raise _error(_in_place_function_message(tracer, func))
    target = function_target(func)
    if target is None:
        raise _error(_unsupported_function_message(tracer, func))
    if "out" in kwargs:  # out=None, spelled out
        kwargs = {k: v for k, v in kwargs.items() if k != "out"}
    return _call_with(target, tracer, args, kwargs,
                      lambda: (numpy_name(func), function_route(func) or ""))


def _call_with(target: Callable[..., Any], tracer: Tracer, args: tuple, kwargs: dict,
               names: Callable[[], tuple[str, str]]) -> Any:
    """``target(*args, **kwargs)``; arguments its signature does not take are
    reported as such, naming (``names()``: the NumPy function, its functrans
    counterpart) what they were meant for."""
    try:
        return target(*args, **kwargs)
    except TypeError as error:
        problem = _binding_problem(target, args, kwargs)
        if problem is None:
            raise
        numpy_function, target_name = names()
        raise _error(f"{numpy_function} was called on a traced value ({tracer.describe()}) "
                     f"and computed with {target_name}, which does not take these "
                     f"arguments ({problem}). Its signature is {_signature_text(target)}."
                     ) from error


def _binding_problem(target: Callable[..., Any], args: tuple, kwargs: dict) -> str | None:
    try:
        inspect.signature(target).bind(*args, **kwargs)
    except TypeError as mismatch:
        return str(mismatch)
    except ValueError:  # no signature to check against
        return None
    return None


@functools.cache
def _parameters(target: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(target).parameters)


def _signature_text(target: Callable[..., Any]) -> str:
    try:
        return f"{target.__name__}{inspect.signature(target)}"
    except ValueError:
        return target.__name__


def _in_place_function_message(tracer: Tracer, func: Callable[..., Any]) -> str:
    instead = IN_PLACE_FUNCTIONS.get(func.__name__, "use the returned array: `a = f(...)`")
    return (f"{numpy_name(func)} was called on a traced value ({tracer.describe()}) to write "
            "into an existing array (out=, or a function that updates its argument in "
            "place). Traced arrays are immutable and NumPy arrays cannot hold traced "
            f"values: compute the updated array instead, {instead}.")


def _unsupported_function_message(tracer: Tracer, func: Callable[..., Any]) -> str:
    problem = f"{numpy_name(func)} was called on a traced value ({tracer.describe()}). "
    alternative = ALTERNATIVES.get(func.__name__)
    if alternative is not None and func.__module__ == "numpy":
        return problem + (f"functrans.numpy has no {func.__name__}; use {alternative} "
                          "instead.")
    if _namespace(func.__module__) is None:
        return problem + ("NumPy cannot compute on traced values, and functions of "
                          f"{func.__module__} have no functrans counterpart: compute it "
                          "with functrans.numpy functions, or outside the transformation.")
    return problem + ("NumPy cannot compute on traced values, and functrans has no "
                      f"{functrans_name(func)} yet: compose it from functrans.numpy "
                      "functions, or compute it outside the transformation.")


# ------------------------------------------------------------------ errors

def _error(message: str) -> errors.TracerArrayConversionError:
    """A TracerArrayConversionError with a message naming the NumPy function."""
    return errors.TracerArrayConversionError("", message)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 40 else text[:37] + "..."


# ------------------------------------------------------------------ coverage, for the docs

def numpy_ufuncs() -> list[np.ufunc]:
    """Every ufunc in NumPy's namespace, by name."""
    found = {v.__name__: v for v in vars(np).values() if isinstance(v, np.ufunc)}
    return [found[name] for name in sorted(found)]


def numpy_functions() -> dict[str, list[tuple[str, Callable[..., Any]]]]:
    """The public NumPy functions that dispatch through ``__array_function__``, as
    (name in the module, function), by NumPy module (numpy, numpy.linalg, numpy.fft).
    A function can have two names (``concat`` is ``concatenate``)."""
    dispatcher = type(np.concatenate)
    out: dict[str, list[tuple[str, Callable[..., Any]]]] = {}
    for module_name in FUNCTION_NAMESPACES:
        module = np if module_name == "numpy" else getattr(np, module_name.split(".")[1])
        out[module_name] = sorted(
            (k, v) for k, v in vars(module).items()
            if isinstance(v, dispatcher) and not k.startswith("_")
            and getattr(v, "__module__", None) == module_name)
    return out


def function_route(func: Callable[..., Any]) -> str | None:
    """What computes the NumPy function `func` on tracers (a qualified name), or None."""
    alias = FUNCTION_ALIASES.get(numpy_name(func))
    if alias is not None:
        return alias[0]
    return functrans_name(func) if function_target(func) is not None else None
