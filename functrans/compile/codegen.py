"""Code generation: a closed jaxpr becomes the source of one Python function that
calls NumPy directly, one line per equation.

* An elementwise primitive that declares its NumPy ufunc (``Primitive.ufunc``)
  becomes a call of it (``np.sin(v3)``), and a primitive with a rule in
  :data:`CODEGEN_RULES` a NumPy expression (``np.matmul(v1.T, v2)``); any other
  primitive (control flow, custom rules, scatters) calls its own ``impl``, bound as
  a global of the module.
* Elementwise NumPy ufuncs write into an operand buffer that dies at that line
  (``np.tanh(v4, out=v4)``) when the generated code itself allocated it and no
  view of it can exist: a long chain reuses one buffer.
* Variables are deleted right after their last use, so memory held by residuals
  is released as the backward pass consumes them.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans.core.avals import ShapedArray
from functrans.core.backend import ARRAY_API_NAMES, Backend
from functrans.core.ir import Atom, ClosedJaxpr, JaxprEqn, Literal, Var
from functrans.primitives import elementwise as ew
from functrans.primitives import products as prod
from functrans.primitives import reductions as red
from functrans.primitives import structural as st

__all__ = ["generate", "CompiledJaxpr", "CODEGEN_RULES"]


class _Emitter:
    """State of one code generation: global names and the buffers that may be reused."""

    def __init__(self, backend: Backend | None = None) -> None:
        self.globals: dict[str, Any] = {"np": np}
        self._ids: dict[int, str] = {}
        #: the array library the code is for: None for NumPy, whose code keeps its fast
        #: spellings (ufunc reductions, out= buffers); another library's code calls its
        #: Array API namespace, the global ``xp``
        self.backend = backend
        self.ns = "np"
        if backend is not None:
            self.globals["xp"] = backend.xp
            self.ns = "xp"

    def glob(self, value: Any, prefix: str) -> str:
        """A global name bound to `value` (one name per distinct object)."""
        name = self._ids.get(id(value))
        if name is None:
            name = f"{prefix}{len(self.globals)}"
            self._ids[id(value)] = name
            self.globals[name] = value
        return name


# A rule: (operand expressions, equation, emitter) -> expression string, or None to
# fall back to the primitive's impl.
CodegenRule = Callable[[list[str], JaxprEqn, _Emitter], "str | None"]

CODEGEN_RULES: dict[Any, CodegenRule] = {}

#: comparisons: a ufunc with a bool result (no reuse of the operands' buffers)
_COMPARISONS = {ew.eq_p: "equal", ew.ne_p: "not_equal", ew.lt_p: "less",
                ew.le_p: "less_equal", ew.gt_p: "greater", ew.ge_p: "greater_equal"}


#: arithmetic written with Python operators when no output buffer is given: the same
#: ufunc underneath, without the attribute look-up and call (what matters for scalars)
_OPERATORS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}


def _calls_ufunc(eqn: JaxprEqn, invars: Sequence[Atom]) -> bool:
    """Whether `eqn` is its primitive's ufunc: operands of the result's dtype, of a
    kind for which the ufunc keeps it."""
    equivalent = eqn.primitive.ufunc
    if equivalent is None:
        return False
    out = eqn.outvars[0].aval.dtype
    return out.kind in equivalent.kinds and all(a.aval.dtype == out for a in invars)


def _ufunc_expr(eqn: JaxprEqn, invars: list[Atom], args: list[str], out: str | None,
                em: _Emitter) -> str | None:
    if not _calls_ufunc(eqn, invars):
        return None
    name = eqn.primitive.ufunc.ufunc.__name__  # np.<name> is the ufunc itself
    if em.backend is not None:
        return _array_api_call(name, args, em)
    if out:
        return f"np.{name}({', '.join(args)}, out={out})"
    if name in _OPERATORS:
        return f"{args[0]} {_OPERATORS[name]} {args[1]}"
    if name == "negative":
        return f"-{args[0]}"
    return f"np.{name}({', '.join(args)})"


def _array_api_call(ufunc_name: str, args: list[str], em: _Emitter) -> str | None:
    """The Array API function of another library for a NumPy ufunc, or None."""
    name = ARRAY_API_NAMES.get(ufunc_name, ufunc_name)
    if not hasattr(em.backend.xp, name):
        return None
    if ufunc_name in _OPERATORS:
        return f"{args[0]} {_OPERATORS[ufunc_name]} {args[1]}"
    return f"xp.{name}({', '.join(args)})"


def _comparison(args: list[str], eqn: JaxprEqn, em: _Emitter) -> str | None:
    return f"{em.ns}.{_COMPARISONS[eqn.primitive]}({', '.join(args)})"


for _prim in _COMPARISONS:
    CODEGEN_RULES[_prim] = _comparison


def _dtype_name(em: _Emitter, dtype: Any) -> str:
    return em.glob(np.dtype(dtype), "dt")


def _convert(args: list[str], eqn: JaxprEqn, em: _Emitter) -> str | None:
    dtype = eqn.params["new_dtype"]
    if em.backend is not None:
        return f"xp.astype({args[0]}, {em.glob(em.backend.dtype(dtype), 'dt')})"
    return f"np.asarray({args[0]}).astype({_dtype_name(em, dtype)}, copy=False)"


def _broadcast_in_dim(args: list[str], eqn: JaxprEqn, em: _Emitter) -> str | None:
    shape = tuple(eqn.params["shape"])
    dims = eqn.params["broadcast_dimensions"]
    in_shape = eqn.invars[0].aval.shape
    x = args[0]
    ns = em.ns
    # an array's own reshape costs a fifth of np.reshape's (a NumPy array: its shape
    # is not empty); other libraries through their namespace
    def reshape(to: tuple[int, ...]) -> str:
        return f"{x}.reshape({to})" if ns == "np" and in_shape else f"{ns}.reshape({x}, {to})"

    if int(np.prod(in_shape, dtype=np.int64)) == int(np.prod(shape, dtype=np.int64)):
        return reshape(shape)  # only axes of size 1 added: a view
    trailing = tuple(dims) == tuple(range(len(shape) - len(in_shape), len(shape)))
    if in_shape and not trailing:  # else broadcasting aligns the trailing axes itself
        expanded = [1] * len(shape)
        for size, d in zip(in_shape, dims):
            expanded[d] = size
        x = reshape(tuple(expanded))
    if ns == "np" and 0 < math.prod(shape) <= st.FILL_BROADCASTS_UP_TO:
        dtype = _dtype_name(em, eqn.outvars[0].aval.dtype)
        return f"{em.glob(st.fill_broadcast, 'fill_broadcast')}({x}, {shape}, {dtype})"
    return f"{ns}.broadcast_to({x}, {shape})"


def _reshape_to_output(args: list[str], eqn: JaxprEqn, em: _Emitter) -> str | None:
    shape = tuple(eqn.outvars[0].aval.shape)
    if em.ns == "np" and eqn.invars[0].aval.shape:  # an array's own reshape: see above
        return f"{args[0]}.reshape({shape})"
    return f"{em.ns}.reshape({args[0]}, {shape})"


def _slice(args: list[str], eqn: JaxprEqn, em: _Emitter) -> str | None:
    """``x[start:limit:stride, ...]``: a view, as the primitive's implementation gives."""
    shape = eqn.invars[0].aval.shape
    if not shape:
        return None
    starts, limits = eqn.params["start_indices"], eqn.params["limit_indices"]
    strides = eqn.params["strides"] or (1,) * len(shape)
    parts = [":" if (start, limit, stride) == (0, size, 1) else
             f"{start}:{limit}" + (f":{stride}" if stride != 1 else "")
             for start, limit, stride, size in zip(starts, limits, strides, shape)]
    while parts and parts[-1] == ":":
        parts.pop()
    return f"{args[0]}[{', '.join(parts)}]" if parts else args[0]


def _transpose(args: list[str], eqn: JaxprEqn, em: _Emitter) -> str | None:
    perm = tuple(eqn.params["permutation"])
    if perm == (1, 0):
        return f"{args[0]}.T"
    if em.backend is not None:
        return f"xp.permute_dims({args[0]}, {perm})"
    return f"np.transpose({args[0]}, {perm})"


def _reduce_sum(args: list[str], eqn: JaxprEqn, em: _Emitter) -> str | None:
    if eqn.invars[0].aval.dtype.kind not in "fc":  # integers: keep the impl (no upcast)
        return None
    if em.backend is not None:
        return f"xp.sum({args[0]}, axis={tuple(eqn.params['axes'])})"
    return f"np.add.reduce({args[0]}, axis={tuple(eqn.params['axes'])})"


def _reduce_chooser(ufunc: str) -> CodegenRule:
    def rule(args: list[str], eqn: JaxprEqn, em: _Emitter) -> str | None:
        aval = eqn.invars[0].aval
        if aval.dtype.kind not in "iuf" or any(aval.shape[a] == 0 for a in eqn.params["axes"]):
            return None
        if em.backend is not None:
            return f"xp.{ufunc[:3]}({args[0]}, axis={tuple(eqn.params['axes'])})"
        return f"np.{ufunc}.reduce({args[0]}, axis={tuple(eqn.params['axes'])})"
    return rule


def _select_n(args: list[str], eqn: JaxprEqn, em: _Emitter) -> str | None:
    which = eqn.invars[0]
    if which.aval.dtype != np.bool_ or len(args) != 3:
        return None
    return f"{em.ns}.where({args[0]}, {args[2]}, {args[1]})"


def _matmul_operand(name: str, ndim: int, nb: int, contract: tuple, batch: tuple,
                    is_lhs: bool, ns: str = "np") -> str | None:
    """The view of an operand NumPy's matmul contracts correctly, or None."""
    if tuple(batch) != tuple(range(nb)) or len(contract) != 1:
        return None
    rest = ndim - nb
    (c,) = contract
    if rest == 1:  # a vector: matmul treats it as such only without batch axes
        return name if nb == 0 else None
    if rest != 2:
        return None
    last = ndim - 1
    contract_last = c == last
    if contract_last == is_lhs:  # lhs (m, k) / rhs (k, n): as is
        return name
    if ndim == 2:
        return f"{name}.T"
    return f"np.swapaxes({name}, -1, -2)" if ns == "np" else f"xp.matrix_transpose({name})"


def _dot_general(args: list[str], eqn: JaxprEqn, em: _Emitter) -> str | None:
    """Matrix products as np.matmul on (transposed) views: BLAS gets the transpose
    flag and nothing is copied; leading batch axes stay one batched call."""
    lhs, rhs = eqn.invars
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    pref = eqn.params.get("preferred_element_type")
    if lhs.aval.dtype != rhs.aval.dtype or (pref is not None and pref != lhs.aval.dtype):
        return None
    if em.backend is not None and lhs.aval.dtype.kind not in "fc":
        return None  # libraries' integer matmuls may widen: the backend's impl casts
    nb = len(lb)
    a = _matmul_operand(args[0], lhs.aval.ndim, nb, lc, lb, True, em.ns)
    b = _matmul_operand(args[1], rhs.aval.ndim, nb, rc, rb, False, em.ns)
    if a is not None and b is not None:
        return f"{em.ns}.matmul({a}, {b})"
    if nb:
        return None
    return _flattened_matmul(args, eqn, em.ns)


def _contract_block(ndim: int, contract: tuple) -> str | None:
    """Where an operand's contracting axes sit, if as one ascending block."""
    if list(contract) != sorted(contract):
        return None
    n = len(contract)
    if tuple(contract) == tuple(range(ndim - n, ndim)):
        return "last"
    if tuple(contract) == tuple(range(n)):
        return "first"
    return None


def _flattened_matmul(args: list[str], eqn: JaxprEqn, ns: str = "np") -> str | None:
    """Several free or contracting axes, each group contiguous: one (m, k) @ (k, n)
    product on reshaped (transposed) views."""
    lhs, rhs = eqn.invars
    (lc, rc), _ = eqn.params["dimension_numbers"]
    lpos = _contract_block(lhs.aval.ndim, lc)
    rpos = _contract_block(rhs.aval.ndim, rc)
    if lpos is None or rpos is None:
        return None
    k = int(np.prod([lhs.aval.shape[d] for d in lc], dtype=np.int64))
    m = int(np.prod(lhs.aval.shape, dtype=np.int64)) // max(k, 1) if k else \
        int(np.prod([s for d, s in enumerate(lhs.aval.shape) if d not in lc], dtype=np.int64))
    n = int(np.prod([s for d, s in enumerate(rhs.aval.shape) if d not in rc], dtype=np.int64))
    a = _as_matrix(args[0], lhs.aval.shape, (m, k) if lpos == "last" else (k, m),
                   lpos == "first", ns)
    b = _as_matrix(args[1], rhs.aval.shape, (k, n) if rpos == "first" else (n, k),
                   rpos == "last", ns)
    out_shape = tuple(eqn.outvars[0].aval.shape)
    product = f"{ns}.matmul({a}, {b})"
    return product if out_shape == (m, n) else f"{ns}.reshape({product}, {out_shape})"


def _as_matrix(name: str, shape: tuple, matrix: tuple, transposed: bool, ns: str = "np"
               ) -> str:
    view = name if tuple(shape) == matrix else f"{ns}.reshape({name}, {matrix})"
    return f"{view}.T" if transposed else view


def _identity(args: list[str], eqn: JaxprEqn, em: _Emitter) -> str | None:
    return args[0]


CODEGEN_RULES.update({
    ew.convert_element_type_p: _convert,
    ew.stop_gradient_p: _identity,
    ew.select_n_p: _select_n,
    st.broadcast_in_dim_p: _broadcast_in_dim,
    st.reshape_p: _reshape_to_output,
    st.squeeze_p: _reshape_to_output,
    st.expand_dims_p: _reshape_to_output,
    st.transpose_p: _transpose,
    st.slice_p: _slice,
    red.reduce_sum_p: _reduce_sum,
    red.reduce_max_p: _reduce_chooser("maximum"),
    red.reduce_min_p: _reduce_chooser("minimum"),
    prod.dot_general_p: _dot_general,
})


# ------------------------------------------------------------------ liveness

def _last_uses(program: list[tuple[JaxprEqn, list[Atom]]], outvars: Sequence[Atom]
               ) -> dict[Var, int]:
    """Index of the last equation reading each variable (len(program) for outputs)."""
    last: dict[Var, int] = {}
    for i, (_, invars) in enumerate(program):
        for a in invars:
            if type(a) is Var:
                last[a] = i
    for a in outvars:
        if type(a) is Var:
            last[a] = len(program)
    return last


# ------------------------------------------------------------------ implicit broadcasting

def _numpy_broadcasts(eqn: JaxprEqn) -> bool:
    """Whether the generated code for `eqn` is a NumPy call that broadcasts its
    operands (a ufunc, np.where), rather than the primitive's impl."""
    prim = eqn.primitive
    if prim in _COMPARISONS:
        return True
    if prim is ew.select_n_p:
        return eqn.invars[0].aval.dtype == np.bool_ and len(eqn.invars) == 3
    return _calls_ufunc(eqn, eqn.invars)



class _Absorbed:
    """Broadcasts NumPy's own broadcasting makes unnecessary: ``source[(i, k)]`` is
    the atom to read instead of operand k of equation i; ``skipped`` holds the
    broadcast equations no longer read at all."""

    def __init__(self) -> None:
        self.source: dict[tuple[int, int], Atom] = {}
        self.skipped: set[JaxprEqn] = set()


def _numpy_broadcastable(eqn: JaxprEqn) -> bool:
    """A broadcast_in_dim NumPy would do implicitly (operand axes aligned right)."""
    if eqn.primitive is not st.broadcast_in_dim_p:
        return False
    in_shape = eqn.invars[0].aval.shape
    out_rank = len(eqn.params["shape"])
    return tuple(eqn.params["broadcast_dimensions"]) == tuple(
        range(out_rank - len(in_shape), out_rank))


def _splat_consts(closed: ClosedJaxpr) -> dict[Var, Atom]:
    """Constants holding one repeated value (ones, zeros of a cotangent), as literals."""
    splats: dict[Var, Atom] = {}
    for v, c in zip(closed.jaxpr.constvars, closed.consts):
        if type(c) is np.ndarray and 1 < c.size <= SPLAT_LIMIT and v.aval.shape == c.shape:
            if c.dtype.kind not in "biufc":
                continue
            first = c.flat[0]
            if np.all(c == first):  # never true for nan
                splats[v] = Literal(first, ShapedArray((), c.dtype))
    return splats


#: constants larger than this are not scanned for a repeated value
SPLAT_LIMIT = 1 << 20


def _absorbable_broadcasts(closed: ClosedJaxpr) -> _Absorbed:
    """Let elementwise ufuncs read a broadcast's operand (or a constant's repeated
    value) directly when another of their operands already has the full shape."""
    jaxpr = closed.jaxpr
    source: dict[Var, Atom] = {e.outvars[0]: e.invars[0] for e in jaxpr.eqns
                               if _numpy_broadcastable(e)}
    producers = {e.outvars[0]: e for e in jaxpr.eqns if e.outvars and e.outvars[0] in source}
    source.update(_splat_consts(closed))
    result = _Absorbed()
    if not source:
        return result
    materialized: set[Var] = {a for a in jaxpr.outvars if type(a) is Var}
    for i, eqn in enumerate(jaxpr.eqns):
        reads = [k for k, a in enumerate(eqn.invars) if type(a) is Var and a in source]
        if not reads:
            continue
        out_shape = eqn.outvars[0].aval.shape if eqn.outvars else None
        full = any(type(a) is Var and a not in source and a.aval.shape == out_shape
                   for a in eqn.invars)
        if full and _numpy_broadcasts(eqn):
            for k in reads:
                result.source[(i, k)] = source[eqn.invars[k]]
        else:
            materialized.update(eqn.invars[k] for k in reads)
    result.skipped = {e for v, e in producers.items() if v not in materialized}
    return result


# ------------------------------------------------------------------ generation

class CompiledJaxpr:
    """A jaxpr compiled to a Python function; ``source`` is the generated code."""

    __slots__ = ("fn", "source", "name", "binds", "fresh_outputs", "__weakref__")

    def __init__(self, fn: Callable[..., list[Any]], source: str, name: str, binds: bool,
                 fresh_outputs: Sequence[bool] = ()):
        self.fn = fn
        self.source = source
        self.name = name
        #: whether the code calls a primitive's impl, which may bind other primitives
        self.binds = binds
        #: per output: a new, writable array, or a NumPy scalar (no conversion needed)
        self.fresh_outputs = tuple(fresh_outputs)

    def __call__(self, *args: Any) -> list[Any]:
        return self.fn(*args)

    def as_text(self) -> str:
        return self.source


#: rules whose result is a new array that never aliases an operand
_NO_ALIAS = frozenset([*_COMPARISONS, prod.dot_general_p, red.reduce_sum_p, red.reduce_max_p,
                       red.reduce_min_p, ew.select_n_p])


def _literal_expr(em: _Emitter, lit: Literal) -> str:
    value = np.asarray(lit.val, lit.aval.dtype)[()]
    if em.backend is not None:  # a 0-d array of the library (its scalars promote alike)
        return em.glob(em.backend.from_numpy(value), "k")
    return em.glob(value, "k")


def generate(closed: ClosedJaxpr, name: str = "jitted", copy_outputs: bool = True,
             backend: Backend | None = None) -> CompiledJaxpr:
    """Generate, compile and return the Python function evaluating `closed`.

    With `copy_outputs` false, outputs may be inputs, constants or views of them, or
    repeat each other (for callers that never hand results out nor write into them,
    such as the eager tape's per-primitive rules). With a `backend` (another array
    library than NumPy, :mod:`functrans.core.backend`), the code calls that library's
    Array API namespace ``xp``; the constants are moved into the library once, here."""
    jaxpr = closed.jaxpr
    em = _Emitter(backend)
    names: dict[Var, str] = {}
    for i, v in enumerate(jaxpr.invars):
        names[v] = f"a{i}"
    for v, c in zip(jaxpr.constvars, closed.consts):
        names[v] = em.glob(c if backend is None else backend.constant(c), "c")

    def atom(a: Atom) -> str:
        return _literal_expr(em, a) if type(a) is Literal else names[a]

    absorbed = _absorbable_broadcasts(closed)
    program = [(eqn, [absorbed.source.get((i, k), a) for k, a in enumerate(eqn.invars)])
               for i, eqn in enumerate(jaxpr.eqns) if eqn not in absorbed.skipped]
    last = _last_uses(program, jaxpr.outvars)
    owned: set[Var] = set()  # buffers this code allocated; no view of them exists
    lines: list[str] = []
    if backend is not None:  # NumPy and Python arguments taken into the library
        take = em.glob(backend.constant, "take")
        lines.extend(f"{names[v]} = {take}({names[v]})" for v in jaxpr.invars)
    for v in jaxpr.invars:  # a Python scalar argument: a NumPy scalar, so that
        if backend is None and v.aval.weak_type and v.aval.shape == ():  # operators keep
            lines.append(f"{names[v]} = {em.glob(v.aval.dtype.type, 'dt')}({names[v]})")
    # Local names are recycled once their value is dead: the function keeps as few
    # locals as values live at once (CPython compiles that much faster).
    free_names: list[str] = []
    counter = 0
    fresh_vars: set[Var] = set()
    for i, (eqn, invars) in enumerate(program):
        args = [atom(a) for a in invars]
        expr, fresh = _expression(eqn, invars, args, em, owned, last, i)
        dying = [a for a in dict.fromkeys(invars)
                 if type(a) is Var and last.get(a) == i and names[a][0] == "v"]
        free_names.extend(names[a] for a in dying)
        outs = []
        for v in eqn.outvars:
            if free_names:
                names[v] = free_names.pop()
            else:
                names[v] = f"v{counter}"
                counter += 1
            outs.append(names[v])
        lhs = ", ".join(outs) if outs else "_"
        if eqn.primitive.multiple_results and len(outs) == 1:
            lhs += ","
        lines.append(f"{lhs} = {expr}")
        if fresh:
            if eqn.outvars[0].aval.shape != ():
                owned.update(eqn.outvars)
            if eqn.outvars[0].aval.shape != () or eqn.primitive.ufunc is not None:
                fresh_vars.update(eqn.outvars)  # a ufunc's rank-0 result: a NumPy scalar
        else:  # any operand may now be aliased by the result: never write into it
            owned.difference_update(a for a in invars if type(a) is Var)
        unused = [v for v in eqn.outvars if v not in last]  # results nobody reads
        free_names.extend(names[v] for v in unused)
        reused = set(outs)
        dead = [names[a] for a in dying + unused
                if a.aval.shape != () and names[a] not in reused]
        if dead:
            lines.append(f"del {', '.join(dead)}")
    outs = ", ".join(_owned_outputs(jaxpr.outvars, atom, fresh_vars, em) if copy_outputs
                     else map(atom, jaxpr.outvars))
    params = ", ".join(f"a{i}" for i in range(len(jaxpr.invars)))
    body = "\n".join("    " + line for line in lines)
    fname = _function_name(name, em.globals)
    source = f"def {fname}({params}):\n{body}\n    return [{outs}]\n" if lines else \
        f"def {fname}({params}):\n    return [{outs}]\n"
    namespace = dict(em.globals)
    exec(compile(source, f"<functrans jit of {name}>", "exec"), namespace)
    binds = any("_impl" in k for k in em.globals)
    fresh_outputs = [backend is not None or a.aval.shape != () or (
        type(a) is Var and a in fresh_vars) for a in jaxpr.outvars]
    return CompiledJaxpr(namespace[fname], source, name, binds, fresh_outputs)


def _owned_outputs(outvars: Sequence[Atom], atom: Callable[[Atom], str],
                   fresh_vars: set[Var], em: _Emitter) -> list[str]:
    """The returned expressions: every array result is a buffer of its own.

    An output that is an input, a constant (kept by the jit cache), a view of
    either, or an output already returned (CSE merges equal results) is copied,
    so that a caller modifying a result in place changes nothing else. Rank-0
    results become NumPy scalars, which cannot be modified."""
    exprs, returned = [], set()
    for a in outvars:
        expr = atom(a)
        if a.aval.shape != () and (type(a) is not Var or a not in fresh_vars
                                   or a in returned):
            expr = f"{expr}.copy()" if em.backend is None else f"xp.asarray({expr}, copy=True)"
        returned.add(a)
        exprs.append(expr)
    return exprs


def _function_name(name: str, taken: dict[str, Any]) -> str:
    """A Python identifier for the generated function, free in its namespace."""
    ident = _identifier(name)
    if keyword.iskeyword(ident):
        ident += "_"
    while ident in taken:  # a function named like a generated global (k2, np)
        ident += "_"
    return ident


def _identifier(name: str) -> str:
    ident = "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_"
                    for ch in name) or "jitted"
    return ident if not ident[0].isdigit() else "_" + ident


def _expression(eqn: JaxprEqn, invars: list[Atom], args: list[str], em: _Emitter,
                owned: set[Var], last: dict[Var, int], i: int) -> tuple[str, bool]:
    """The right-hand side for `eqn`, and whether it is a fresh, unaliased buffer."""
    prim = eqn.primitive
    if prim.ufunc is not None:
        out = eqn.outvars[0]
        reusable = None
        if out.aval.shape != ():
            for a, name in zip(invars, args):
                if (type(a) is Var and a in owned and last.get(a) == i
                        and a.aval.shape == out.aval.shape and a.aval.dtype == out.aval.dtype):
                    reusable = name
                    break
        if em.backend is not None:  # no out= buffers in the Array API
            reusable = None
        expr = _ufunc_expr(eqn, invars, args, reusable, em)
        if expr is not None:
            return expr, True
    rule = CODEGEN_RULES.get(prim)
    if rule is not None:
        expr = rule(args, eqn, em)
        if expr is not None:
            return expr, prim in _NO_ALIAS
    if em.backend is not None:  # the backend's implementation, resolved once, here
        bound = em.backend.bound(prim, [a.aval for a in invars], _out_avals(eqn), eqn.params)
        return f"{em.glob(bound, f'{_identifier(prim.name)}_impl')}({', '.join(args)})", False
    impl = em.glob(prim.impl, f"{_identifier(prim.name)}_impl")
    call = ", ".join(args)
    if eqn.params:
        params = em.glob(eqn.params, "p")
        call = f"{call}, **{params}" if call else f"**{params}"
    return f"{impl}({call})", False


def _out_avals(eqn: JaxprEqn) -> Any:
    avals = [v.aval for v in eqn.outvars]
    return avals if eqn.primitive.multiple_results else avals[0]
