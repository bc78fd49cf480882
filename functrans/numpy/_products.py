"""Products: dot, matmul, inner, outer, vdot, tensordot and einsum, each one
``dot_general`` (einsum: one per pair of operands) after dtype promotion."""

from __future__ import annotations

import builtins
import functools
import string
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from functrans.numpy import _reductions, _ufuncs
from functrans.numpy._lax import lax
from functrans.numpy._shape import diagonal
from functrans.numpy._util import (
    Array,
    as_array,
    asarray_arg,
    broadcast_shapes,
    broadcast_to_shape,
    canonicalize_axis,
    cast,
    dtype_of,
    promote_dtypes,
    same_dtype_arrays,
    same_dtype_shapes,
    shape_of,
    size_of,
    static_int,
)
from functrans.transforms.tape import one_entry


def _operands(fname: str, *args: Any) -> list[Array]:
    if same_dtype_arrays(args):  # the common case: nothing to convert
        return list(args)
    arrays = [as_array(asarray_arg(a, fname, f"{i}")) for i, a in enumerate(args)]
    first = dtype_of(arrays[0])
    if all(type(a) is np.ndarray and a.dtype == first for a in arrays):
        return arrays
    return promote_dtypes(*arrays)


def _shape(x: Array) -> tuple[int, ...]:
    return shape_of(x)


def _dot_general(x: Array, y: Array, contract: tuple[Sequence[int], Sequence[int]],
                 batch: tuple[Sequence[int], Sequence[int]] = ((), ())) -> Array:
    """dot_general of two operands of one dtype, whose axes `contract` and `batch` are
    non-negative Python ints (checked by the caller): the dimension numbers as tuples
    are what lax.dot_general would bind."""
    dims = ((tuple(contract[0]), tuple(contract[1])), (tuple(batch[0]), tuple(batch[1])))
    return lax.dot_general_p.bind(x, y, dimension_numbers=dims, precision=None,
                                  preferred_element_type=None)


#: the dimension numbers of products of operands of ranks (1 or 2, 1 or 2): a's last
#: axis contracted with b's first gives NumPy's layout directly
_VECTOR_MATRIX_DIMS = {(na, nb): (((na - 1,), (0,)), ((), ())) for na in (1, 2) for nb in (1, 2)}


def _vector_matrix_product(a: Any, b: Any) -> Array | None:
    """The common case of matmul and dot, which agree on it: vectors and matrices of
    one dtype whose contracted sizes agree. Their general paths would bind this
    dot_general; it is bound with nothing to convert or normalise. None for
    anything else (the general paths decide, or explain the error)."""
    shapes = same_dtype_shapes(a, b)
    if shapes is None:
        return None
    sa, sb = shapes
    dims = _VECTOR_MATRIX_DIMS.get((len(sa), len(sb)))
    if dims is None or sa[-1] != sb[0]:
        return None
    return lax.dot_general_p.bind(a, b, dimension_numbers=dims, precision=None,
                                  preferred_element_type=None)


def _check_core(fname: str, x_shape: tuple[int, ...], x_axis: int, y_shape: tuple[int, ...],
                y_axis: int) -> None:
    if x_shape[x_axis] != y_shape[y_axis]:
        raise ValueError(f"functrans.numpy.{fname}: shapes {x_shape} and {y_shape} not aligned: "
                         f"{x_shape[x_axis]} (dim {x_axis}) != {y_shape[y_axis]} (dim {y_axis})")


# (static_scalars: these make a Python scalar operand a strongly-typed array, so
# keyed by type, as a weakly-typed value, it would change their result's dtype)
@one_entry(2, static_scalars=True)
def dot(a: Any, b: Any) -> Array:
    """NumPy's dot: contract the last axis of `a` with the second-to-last of `b`
    (the only one, for 1-D `b`); scalars multiply."""
    product = _vector_matrix_product(a, b)
    if product is not None:
        return product
    a, b = _operands("dot", a, b)
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        return _ufuncs.multiply(a, b)
    lc, rc = len(sa) - 1, builtins.max(len(sb) - 2, 0)
    _check_core("dot", sa, lc, sb, rc)
    return _dot_general(a, b, ((lc,), (rc,)))


@one_entry(2, static_scalars=True)
def matmul(a: Any, b: Any) -> Array:
    """Matrix product with NumPy's rules: stacks of matrices broadcast over the
    leading axes; a 1-D operand is a vector (its axis is dropped)."""
    product = _vector_matrix_product(a, b)
    if product is not None:
        return product
    a, b = _operands("matmul", a, b)
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        raise ValueError(f"functrans.numpy.matmul: input operand {0 if not sa else 1} does not "
                         "have enough dimensions (scalars: use multiply or *)")
    na, nb = len(sa), len(sb)
    rc = 0 if nb == 1 else nb - 2
    if sa[-1] != sb[rc]:
        raise ValueError(f"functrans.numpy.matmul: shapes {sa} and {sb} have a mismatch in the "
                         f"contracted dimension ({sa[-1]} is different from {sb[rc]})")
    if na == 1 or nb <= 2:
        # no batch axes on one side: a plain contraction gives NumPy's layout
        # directly (a's leading axes, then b's free axes)
        return lax.dot_general(a, b, (((na - 1,), (rc,)), ((), ())))
    if na == 2:
        out = _dot_general(a, b, ((1,), (nb - 2,)))  # (n, *batch_b, m)
        return lax.transpose(out, tuple(range(1, nb - 1)) + (0, nb - 1))
    batch = broadcast_shapes("matmul", sa[:-2], sb[:-2])
    a = broadcast_to_shape(a, batch + sa[-2:])
    b = broadcast_to_shape(b, batch + sb[-2:])
    k = len(batch)
    return _dot_general(a, b, ((k + 1,), (k,)), (tuple(range(k)), tuple(range(k))))


@one_entry(2, static_scalars=True)
def vdot(a: Any, b: Any) -> Array:
    """Dot product of the flattened arrays (conjugating `a`)."""
    a, b = _operands("vdot", a, b)
    a = lax.reshape(_ufuncs.conjugate(a), (size_of(a),))
    b = lax.reshape(b, (size_of(b),))
    _check_core("vdot", _shape(a), 0, _shape(b), 0)
    return _dot_general(a, b, ((0,), (0,)))


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Array:
    """Vector dot product along `axis`, broadcasting the other axes (conjugating x1)."""
    x1, x2 = _operands("vecdot", x1, x2)
    return _reductions.sum(_ufuncs.multiply(_ufuncs.conjugate(x1), x2), axis=axis)


@one_entry(2, static_scalars=True)
def inner(a: Any, b: Any) -> Array:
    """Contract the last axes of `a` and `b`."""
    a, b = _operands("inner", a, b)
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        return _ufuncs.multiply(a, b)
    _check_core("inner", sa, len(sa) - 1, sb, len(sb) - 1)
    return _dot_general(a, b, ((len(sa) - 1,), (len(sb) - 1,)))


@one_entry(2, static_scalars=True)
def outer(a: Any, b: Any) -> Array:
    """``a.ravel()[:, None] * b.ravel()[None, :]``."""
    a, b = _operands("outer", a, b)
    a = lax.reshape(a, (size_of(a), 1))
    b = lax.reshape(b, (1, size_of(b)))
    return _ufuncs.multiply(a, b)


@one_entry(2, static_scalars=True)
def tensordot(a: Any, b: Any, axes: Any = 2) -> Array:
    """Contract `axes` of `a` with `axes` of `b`: an int N (the last N of `a`
    with the first N of `b`) or a pair of axis sequences."""
    a, b = _operands("tensordot", a, b)
    sa, sb = _shape(a), _shape(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > builtins.min(len(sa), len(sb)):
            raise ValueError(f"functrans.numpy.tensordot: axes={n} is out of range for shapes "
                             f"{sa} and {sb}")
        axes_a, axes_b = list(range(len(sa) - n, len(sa))), list(range(n))
    else:
        try:
            axes_a, axes_b = axes
        except (TypeError, ValueError):
            raise TypeError("functrans.numpy.tensordot: axes must be an int or a pair of axis "
                            f"sequences, got {axes!r}") from None
        axes_a = [axes_a] if isinstance(axes_a, (int, np.integer)) else list(axes_a)
        axes_b = [axes_b] if isinstance(axes_b, (int, np.integer)) else list(axes_b)
        if len(axes_a) != len(axes_b):
            raise ValueError(f"functrans.numpy.tensordot: {len(axes_a)} axes of a but "
                             f"{len(axes_b)} axes of b")
    axes_a = [canonicalize_axis(ax, len(sa), "tensordot") for ax in axes_a]
    axes_b = [canonicalize_axis(ax, len(sb), "tensordot") for ax in axes_b]
    for i, j in zip(axes_a, axes_b, strict=True):
        if sa[i] != sb[j]:
            raise ValueError(f"functrans.numpy.tensordot: shape mismatch for sum: axis {i} of "
                             f"{sa} has size {sa[i]}, axis {j} of {sb} has size {sb[j]}")
    return _dot_general(a, b, (axes_a, axes_b))


# ------------------------------------------------------------------ einsum
#
# An einsum is planned once per (subscripts, operand shapes, optimize): the parsed
# subscripts, the contraction order, and what each step does (broadcast a size-1
# axis, take a diagonal, sum out labels, contract a pair, permute the result). A
# call then runs its plan, binding the primitives the steps name: a repeated einsum
# costs about its binds, on arrays and on tracers alike. The plan depends on shapes
# only (every label has one size), so it holds no operand and no dtype.

_ELLIPSIS_LABELS = [chr(c) for c in range(0x3B1, 0x3B1 + 25)]  # Greek: never user labels


class _EinsumStep(NamedTuple):
    #: computes the step's value from those of `inputs`
    apply: Callable[..., Array]
    #: indices into the values: the operands, then the earlier steps' results in order
    inputs: tuple[int, ...]


class _EinsumPlan(NamedTuple):
    steps: tuple[_EinsumStep, ...]
    #: the index of the result among the values
    result: int


#: a term of the sum: the index of its value, and the label of each of its axes
_Term = tuple[int, str]


@one_entry(16, static_scalars=True)
def einsum(subscripts: Any, *operands: Any, optimize: Any = "greedy", precision: Any = None,
           preferred_element_type: Any = None) -> Array:
    """Einstein summation, as ``numpy.einsum``: ``einsum('ij,jk->ik', a, b)``.

    Repeated labels within an operand take diagonals; operands are contracted
    pairwise with dot_general, in the order ``numpy.einsum_path`` finds
    (``optimize=False``: left to right). The plan of a call is remembered per
    subscripts, operand shapes and `optimize`, so repeating an einsum costs about
    the primitives it binds. `precision` is accepted for JAX compatibility and has
    no effect (evaluation is NumPy's)."""
    if not isinstance(subscripts, str):
        subscripts, operands = _from_sublists(subscripts, operands)
    arrays = _operands("einsum", *operands) if operands else []
    if not arrays:
        raise ValueError("functrans.numpy.einsum: at least one operand is required")
    plan = _einsum_plan(subscripts, tuple([_shape(x) for x in arrays]), optimize)
    values = list(arrays)
    for step in plan.steps:
        values.append(step.apply(*[values[i] for i in step.inputs]))
    result = values[plan.result]
    if preferred_element_type is not None:
        result = cast(result, np.dtype(preferred_element_type))
    return result


#: plan key -> plan; cleared when full (programs use few distinct einsums)
_einsum_plans: dict[Any, _EinsumPlan] = {}
_EINSUM_PLANS_KEPT = 256


def _einsum_plan(subscripts: str, shapes: tuple[tuple[int, ...], ...], optimize: Any
                 ) -> _EinsumPlan:
    """The plan of an einsum, remembered. A call that raises is not remembered, so
    it raises again, with the same message."""
    key = _plan_key(subscripts, shapes, optimize)
    plan = None if key is None else _einsum_plans.get(key)
    if plan is None:
        plan = _make_plan(subscripts, shapes, optimize)
        if key is not None:
            if len(_einsum_plans) >= _EINSUM_PLANS_KEPT:
                _einsum_plans.clear()
            _einsum_plans[key] = plan
    return plan


def _plan_key(subscripts: str, shapes: tuple[tuple[int, ...], ...], optimize: Any) -> Any:
    """What a plan depends on, hashable; None when `optimize` is not (then the plan is
    made afresh). The type of `optimize` is part of it: ``0 == False`` but
    ``optimize=0`` is an error where ``optimize=False`` is not."""
    if type(optimize) is list:  # an einsum_path's path, as NumPy returns it
        optimize = tuple(tuple(s) if type(s) is list else s for s in optimize)
    key = (subscripts, shapes, type(optimize), optimize)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _make_plan(subscripts: str, shapes: tuple[tuple[int, ...], ...], optimize: Any
               ) -> _EinsumPlan:
    inputs, output = _parse_subscripts(subscripts, list(shapes))
    sizes = _label_sizes(inputs, shapes)
    plan = _PlanBuilder(len(shapes))
    terms = []
    for i, (shape, labels) in enumerate(zip(shapes, inputs, strict=True)):
        target = tuple(sizes[c] for c in labels)
        slot = i if target == shape else plan.add(
            functools.partial(broadcast_to_shape, shape=target), i)
        terms.append(_simplify_term(plan, (slot, labels), output, inputs[:i] + inputs[i + 1:]))
    for step in _contraction_path([labels for _, labels in terms], sizes, output, optimize):
        picked = [terms[i] for i in step]
        terms = [t for i, t in enumerate(terms) if i not in step]
        combined = picked[0]
        for k, other in enumerate(picked[1:], start=1):
            rest = [t[1] for t in picked[k + 1:]] + [t[1] for t in terms]
            combined = _contract_pair(plan, combined, other, output, rest)
        terms.append(combined)
    (term,) = terms
    slot, labels = _sum_out(plan, term, set(output))
    permutation = tuple(labels.index(c) for c in output)
    if permutation != tuple(range(len(permutation))):  # (lax.transpose skips the identity)
        slot = plan.add(functools.partial(lax.transpose_p.bind, permutation=permutation), slot)
    return _EinsumPlan(tuple(plan.steps), slot)


class _PlanBuilder:
    """The steps of a plan, recorded in order as terms are simplified and contracted."""

    def __init__(self, n_operands: int):
        self.n_operands = n_operands
        self.steps: list[_EinsumStep] = []

    def add(self, apply: Callable[..., Array], *inputs: int) -> int:
        """Record a step; returns the index its value will have."""
        self.steps.append(_EinsumStep(apply, inputs))
        return self.n_operands + len(self.steps) - 1


def _from_sublists(first: Any, rest: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """NumPy's interleaved form einsum(a, [0, 1], b, [1, 2], [0, 2])."""
    args = (first,) + tuple(rest)
    operands = args[0::2]
    sublists = list(args[1::2])
    output = None
    if len(args) % 2 == 1:
        output = args[-1]
        operands = operands[:-1]

    def to_str(sub: Any) -> str:
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            else:
                idx = static_int(s, "einsum", "a sublist entry")
                if not 0 <= idx < 52:
                    raise ValueError(f"functrans.numpy.einsum: sublist labels must be in "
                                     f"[0, 52), got {idx}")
                out.append(string.ascii_letters[idx])
        return "".join(out)

    spec = ",".join(to_str(s) for s in sublists)
    if output is not None:
        spec += "->" + to_str(output)
    return spec, operands


def _parse_subscripts(subscripts: str, shapes: list[tuple[int, ...]]
                      ) -> tuple[list[str], str]:
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"functrans.numpy.einsum: {subscripts!r} names {len(inputs)} operands "
                         f"but {len(shapes)} were given")
    for term in inputs + [rhs]:
        bad = [c for c in term.replace("...", "") if c not in string.ascii_letters]
        if bad:
            raise ValueError(f"functrans.numpy.einsum: invalid subscript {bad[0]!r} in "
                             f"{subscripts!r}; use letters, ',', '->' and '...'")
    n_ellipsis = 0
    expanded = []
    for term, shape in zip(inputs, shapes, strict=True):
        if "..." in term:
            k = len(shape) - (len(term) - 3)
            if k < 0:
                raise ValueError(f"functrans.numpy.einsum: operand of shape {shape} has fewer "
                                 f"dimensions than subscripts {term!r}")
            n_ellipsis = builtins.max(n_ellipsis, k)
            term = term.replace("...", "".join(_ELLIPSIS_LABELS[25 - k:]) if k else "")
        if len(term) != len(shape):
            raise ValueError(f"functrans.numpy.einsum: subscripts {term!r} do not match an "
                             f"operand of shape {shape} ({len(shape)} dimensions)")
        expanded.append(term)
    ellipsis = "".join(_ELLIPSIS_LABELS[25 - n_ellipsis:]) if n_ellipsis else ""
    if arrow:
        output = rhs.replace("...", ellipsis)
    else:
        counts = {c: "".join(expanded).count(c) for c in set("".join(expanded))}
        output = ellipsis + "".join(sorted(c for c, n in counts.items()
                                           if n == 1 and c not in ellipsis))
    for c in output:
        if output.count(c) > 1:
            raise ValueError(f"functrans.numpy.einsum: output subscript {c!r} appears more than "
                             "once")
        if not builtins.any(c in term for term in expanded):
            raise ValueError(f"functrans.numpy.einsum: output subscript {c!r} does not appear "
                             "in any input")
    return expanded, output


def _label_sizes(inputs: list[str], shapes: tuple[tuple[int, ...], ...]) -> dict[str, int]:
    """The size of each label, checked to be one size in every operand where it is not
    1 (size-1 axes broadcast to it)."""
    sizes: dict[str, int] = {}
    for labels, shape in zip(inputs, shapes, strict=True):
        for c, d in zip(labels, shape, strict=True):
            if d != 1 and sizes.get(c, 1) not in (1, d):
                raise ValueError(f"functrans.numpy.einsum: size of label {c!r} is {d} in one "
                                 f"operand and {sizes[c]} in another")
            if d != 1 or c not in sizes:
                sizes[c] = d
    return sizes


def _simplify_term(plan: _PlanBuilder, term: _Term, output: str, others: list[str]) -> _Term:
    """Diagonals for repeated labels; sum labels used nowhere else."""
    slot, labels = term
    while len(set(labels)) != len(labels):
        c = next(c for c in labels if labels.count(c) > 1)
        i = labels.index(c)
        j = labels.index(c, i + 1)
        slot = plan.add(functools.partial(diagonal, offset=0, axis1=i, axis2=j), slot)
        labels = "".join(ch for k, ch in enumerate(labels) if k not in (i, j)) + c
    keep = set(output).union(*others) if others else set(output)
    return _sum_out(plan, (slot, labels), keep)


def _sum_out(plan: _PlanBuilder, term: _Term, keep: set[str]) -> _Term:
    slot, labels = term
    axes = tuple(i for i, c in enumerate(labels) if c not in keep)
    if not axes:
        return term
    # sorted non-negative axes: what lax.reduce_sum would bind
    slot = plan.add(functools.partial(lax.reduce_sum_p.bind, axes=axes), slot)
    return slot, "".join(c for c in labels if c in keep)


def _contract_pair(plan: _PlanBuilder, left: _Term, right: _Term, output: str,
                   rest: list[str]) -> _Term:
    keep = set(output).union(*rest) if rest else set(output)
    x, lx = _sum_out(plan, left, keep | set(right[1]))
    y, ly = _sum_out(plan, right, keep | set(lx))
    shared = [c for c in lx if c in ly]
    batch = [c for c in shared if c in keep]
    contract = [c for c in shared if c not in keep]
    dims = ((tuple(lx.index(c) for c in contract), tuple(ly.index(c) for c in contract)),
            (tuple(lx.index(c) for c in batch), tuple(ly.index(c) for c in batch)))
    # canonical dimension numbers, no precision: what lax.dot_general would bind
    product = functools.partial(lax.dot_general_p.bind, dimension_numbers=dims, precision=None,
                                preferred_element_type=None)
    labels = ("".join(batch) + "".join(c for c in lx if c not in shared)
              + "".join(c for c in ly if c not in shared))
    return plan.add(product, x, y), labels


def _contraction_path(term_labels: list[str], sizes: dict[str, int], output: str,
                      optimize: Any) -> list[tuple[int, ...]]:
    """Which terms to contract at each step (indices into the shrinking list)."""
    n = len(term_labels)
    if n == 1:
        return []
    if isinstance(optimize, (list, tuple)) and optimize and optimize[0] == "einsum_path":
        return [tuple(step) for step in optimize[1:]]
    if optimize is False or optimize is None or n == 2:
        return [tuple(range(n))]  # left to right
    strategy = "greedy" if optimize in (True, "auto", "greedy") else optimize
    if strategy not in ("greedy", "optimal"):
        raise ValueError(f"functrans.numpy.einsum: optimize must be True, False, 'greedy', "
                         f"'optimal' or an einsum_path, got {optimize!r}")
    # numpy.einsum_path knows only ASCII letters: rename (ellipsis labels are Greek)
    used = sorted(set("".join(term_labels) + output))
    rename = str.maketrans(dict(zip(used, string.ascii_letters, strict=False)))
    spec = ",".join(term_labels).translate(rename) + "->" + output.translate(rename)
    # the path depends on the sizes alone: stand-ins of any dtype, allocating nothing
    stand_ins = [np.broadcast_to(np.zeros(()), tuple(sizes[c] for c in labels))
                 for labels in term_labels]
    path, _ = np.einsum_path(spec, *stand_ins, optimize=strategy)
    return [tuple(step) for step in path[1:]]
