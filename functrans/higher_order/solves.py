"""Linear solves and roots with implicit derivatives: ``custom_linear_solve`` and
``custom_root``, as in ``jax.lax``.

``custom_linear_solve(matvec, b, solve)`` binds one higher-order primitive,
``custom_linear_solve``, holding four closed jaxprs: ``matvec`` (x -> A x), its
transpose ``vecmat``, ``solve`` (b -> A⁻¹ b) and ``transpose_solve`` (b -> A⁻ᵀ b).
The values they close over that are traced by an enclosing transformation
(closure conversion) are the primitive's leading operands, in that order,
followed by the leaves of ``b``. The primitive *is* the linear map A⁻¹:

* ``impl`` runs the solve jaxpr (whatever algorithm the user wrote; it is never
  differentiated);
* ``jvp``: from A x = b, ∂x = A⁻¹ (∂b - ∂A x), one more solve; ∂A x is the
  tangent of ``matvec`` with respect to the values it closes over, at x;
* ``transpose``: the cotangent of b is A⁻ᵀ x̄, the same primitive with the roles
  of matvec/vecmat and solve/transpose_solve swapped;
* ``batch``: the four jaxprs batched consistently (a vector batched in one of
  them is batched in all), found by a fixed point.

``custom_root(f, x0, solve, tangent_solve)`` runs ``solve(f, x0)`` and
differentiates the root x*(θ) of f(θ, x) = 0 by the implicit function theorem:
∂x* = -(∂ₓf)⁻¹ ∂_θ f, the inverse applied by ``custom_linear_solve`` with
``tangent_solve``, so reverse mode needs no transposable ``tangent_solve``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans.compile import evaluate_jaxpr
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.ir import ClosedJaxpr, Jaxpr, dce_jaxpr, eval_jaxpr
from functrans.core.primitive import Primitive
from functrans.core.trace import Tracer
from functrans.core.zeros import UndefinedPrimal, Zero
from functrans.higher_order.call import batch_size
from functrans.higher_order.custom_derivatives import SymbolicZero, custom_jvp
from functrans.higher_order.jaxpr_transforms import batch_jaxpr, jvp_jaxpr, remembered
from functrans.primitives.elementwise import convert_element_type, neg
from functrans.primitives.rules import move_bdim
from functrans.primitives.tangent_space import add_tangents, instantiate_zeros
from functrans.transforms.api_util import check_leaf, fun_name
from functrans.transforms.autodiff import linear_transpose
from functrans.transforms.closure_convert import TracedClosure, trace_closure
from functrans.transforms.jvp import jvp_flat
from functrans.transforms.linearize import linearize
from functrans.tree_util import PyTreeDef, tree_flatten, tree_structure, tree_unflatten

__all__ = ["custom_linear_solve", "custom_root", "custom_linear_solve_p"]

#: positions of the four jaxprs (and their groups of constants)
_MATVEC, _VECMAT, _SOLVE, _TRANSPOSE_SOLVE = range(4)


# ================================================================== tracing the user functions

class _VectorFunction:
    """A user function of one vector shaped like ``b`` (a pytree), checked to return a
    vector of the same structure, shapes and dtypes (plus an ``aux`` pytree when
    `has_aux`); flat leaves out, so it can be traced."""

    def __init__(self, fun: Callable[[Any], Any], name: str, where: str,
                 tree: PyTreeDef, avals: Sequence[ShapedArray], has_aux: bool):
        self.fun = fun
        self.__name__ = name
        self.where = where
        self.vector = "initial_guess" if where == "custom_root" else "b"
        self.tree = tree
        self.avals = list(avals)
        self.has_aux = has_aux
        self.aux_tree: PyTreeDef | None = None

    def __call__(self, x: Any) -> list[Any]:
        out = self.fun(x)
        aux: Any = ()
        if self.has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(f"{self.where}: {self.__name__} with has_aux=True must return "
                                f"a pair (solution, aux); got {type(out).__name__}")
            out, aux = out
        leaves, tree = tree_flatten(out)
        if tree != self.tree:
            raise TypeError(f"{self.where}: {self.__name__} must return a value with the "
                            f"structure of {self.vector}, {self.tree}; got {tree}")
        leaves = [self._conform(x, a, i) for i, (x, a) in enumerate(zip(leaves, self.avals))]
        aux_leaves, self.aux_tree = tree_flatten(aux)
        for leaf in aux_leaves:
            check_leaf(leaf, f"{self.where}: {self.__name__}", "an aux output")
        return leaves + aux_leaves

    def _conform(self, x: Any, aval: ShapedArray, i: int) -> Any:
        check_leaf(x, f"{self.where}: {self.__name__}", "an output")
        x_aval = get_aval(x)
        vector = self.vector
        if x_aval.shape != aval.shape:
            raise ValueError(
                f"{self.where}: leaf {i} of the output of {self.__name__} has shape "
                f"{x_aval.shape}, but the matching leaf of {vector} has shape {aval.shape}; "
                f"{self.__name__} must map vectors shaped like {vector} to vectors shaped "
                f"like {vector} (a square linear system)")
        if x_aval.dtype != aval.dtype:
            if x_aval.weak_type:
                return convert_element_type(x, aval.dtype)
            raise TypeError(
                f"{self.where}: leaf {i} of the output of {self.__name__} has dtype "
                f"{x_aval.dtype}, but the matching leaf of {vector} has dtype {aval.dtype} "
                f"(shape {aval.shape}); give both the same dtype, e.g. cast {vector} or the "
                f"arrays {self.__name__} closes over with .astype({x_aval.dtype})")
        return x


def _flat_vector(tree: Any, where: str, what: str) -> tuple[list[Any], PyTreeDef,
                                                           list[ShapedArray]]:
    """The leaves of a vector argument as arrays (Python scalars converted), its
    structure and its (strongly typed) avals."""
    leaves, treedef = tree_flatten(tree)
    for leaf in leaves:
        check_leaf(leaf, where, what)
    avals = [get_aval(x).strip_weak_type() for x in leaves]
    leaves = [x if isinstance(x, Tracer) else np.asarray(x, a.dtype)
              for x, a in zip(leaves, avals)]
    return leaves, treedef, avals


def _trace_vector_function(fun: Callable[[Any], Any], name: str, where: str,
                           tree: PyTreeDef, avals: Sequence[ShapedArray],
                           has_aux: bool = False) -> tuple[TracedClosure, PyTreeDef | None]:
    """`fun` traced at the vector's avals, its closed-over tracers hoisted; and the
    structure of its aux output."""
    checked = _VectorFunction(fun, name, where, tree, avals, has_aux)
    traced = trace_closure(checked, tree_structure((tree_unflatten(tree, avals),)), avals,
                           where)
    return traced, checked.aux_tree


# ================================================================== the primitive

custom_linear_solve_p = Primitive("custom_linear_solve", multiple_results=True)


def _split(args: Sequence[Any], const_lengths: Sequence[int]
           ) -> tuple[list[list[Any]], list[Any]]:
    """Operands (or their tangents, dims...) split into the four groups of constants
    and the leaves of b."""
    groups, start = [], 0
    for n in const_lengths:
        groups.append(list(args[start:start + n]))
        start += n
    return groups, list(args[start:])


def _transposed(jaxprs: tuple, const_lengths: tuple[int, ...], groups: list[list[Any]]
                ) -> tuple[tuple, tuple[int, ...], list[Any]]:
    """The parameters and constants of A⁻ᵀ: matvec/vecmat and solve/transpose_solve
    swap roles."""
    order = (_VECMAT, _MATVEC, _TRANSPOSE_SOLVE, _SOLVE)
    return (tuple(jaxprs[i] for i in order), tuple(const_lengths[i] for i in order),
            [c for i in order for c in groups[i]])


def _custom_linear_solve_impl(*args: Any, jaxprs: tuple, const_lengths: tuple[int, ...]
                              ) -> list[Any]:
    groups, b = _split(args, const_lengths)
    return evaluate_jaxpr(jaxprs[_SOLVE], groups[_SOLVE] + b, "custom_linear_solve")


def _custom_linear_solve_abstract_eval(*avals: ShapedArray, jaxprs: tuple,
                                       const_lengths: tuple[int, ...]) -> list[ShapedArray]:
    groups, b_avals = _split(avals, const_lengths)
    for which, closed, consts in zip(("matvec", "vecmat", "solve", "transpose_solve"), jaxprs,
                                     groups):
        if closed is None:
            continue
        expected = list(closed.in_avals)
        got = list(consts) + list(b_avals)
        if len(expected) != len(got) or any(
                e.shape != g.shape or e.dtype != g.dtype for e, g in zip(expected, got)):
            raise TypeError(
                f"custom_linear_solve: the {which} jaxpr takes "
                f"({', '.join(a.str_short() for a in expected)}), but the operands are "
                f"({', '.join(a.str_short() for a in got)})")
    return [a.strip_weak_type() for a in jaxprs[_SOLVE].out_avals]


def _tangent_jaxpr(closed: ClosedJaxpr, nonzeros: tuple[bool, ...]
                   ) -> tuple[ClosedJaxpr, list[bool]]:
    """The JVP of `closed` reduced to its tangent outputs (the primal outputs, already
    known, are not recomputed)."""
    def build() -> tuple[ClosedJaxpr, list[bool]]:
        jvp_closed, out_nonzeros = jvp_jaxpr(closed, nonzeros)
        j = jvp_closed.jaxpr
        n_out = len(closed.out_avals)
        tangents_only = dce_jaxpr(Jaxpr(j.constvars, j.invars, j.outvars[n_out:], j.eqns))
        return ClosedJaxpr(tangents_only, jvp_closed.consts), out_nonzeros

    jaxpr, out_nonzeros = remembered(closed, ("solve_tangent", nonzeros), build)
    return jaxpr, list(out_nonzeros)


def _matvec_tangent(matvec: ClosedJaxpr, consts: list[Any], const_tangents: list[Any],
                    x: list[Any]) -> list[Any]:
    """∂A x: the tangent of matvec(x) with respect to the values it closes over."""
    nonzeros = tuple([type(t) is not Zero for t in const_tangents] + [False] * len(x))
    closed, out_nonzeros = _tangent_jaxpr(matvec, nonzeros)
    outs = iter(eval_jaxpr(closed.jaxpr, closed.consts, *consts, *x,
                           *[t for t in const_tangents if type(t) is not Zero]))
    return [next(outs) if nz else Zero(a.to_tangent_aval())
            for a, nz in zip(matvec.out_avals, out_nonzeros)]


def _custom_linear_solve_jvp(primals, tangents, *, jaxprs, const_lengths):
    # A x = b  =>  ∂A x + A ∂x = ∂b  =>  ∂x = A⁻¹ (∂b - ∂A x)
    x = custom_linear_solve_p.bind(*primals, jaxprs=jaxprs, const_lengths=const_lengths)
    groups, b = _split(primals, const_lengths)
    group_tangents, b_tangents = _split(tangents, const_lengths)
    num_b = len(b)
    rhs = list(b_tangents)
    matvec_tangents = group_tangents[_MATVEC]
    if any(type(t) is not Zero for t in matvec_tangents):
        product = _matvec_tangent(jaxprs[_MATVEC], groups[_MATVEC], matvec_tangents,
                                  list(x[:num_b]))
        rhs = [add_tangents(t, p if type(p) is Zero else neg(p)) for t, p in zip(rhs, product)]
    aux_tangents = [Zero(a.to_tangent_aval()) for a in jaxprs[_SOLVE].out_avals[num_b:]]
    if all(type(t) is Zero for t in rhs):
        return x, [Zero(get_aval(v).to_tangent_aval()) for v in x[:num_b]] + aux_tangents
    consts = [c for g in groups for c in g]
    x_tangent = custom_linear_solve_p.bind(*consts, *[instantiate_zeros(t) for t in rhs],
                                           jaxprs=jaxprs, const_lengths=const_lengths)
    return x, list(x_tangent[:num_b]) + aux_tangents


def _custom_linear_solve_transpose(cts, *args, jaxprs, const_lengths):
    if jaxprs[_TRANSPOSE_SOLVE] is None:
        raise TypeError("custom_linear_solve: reverse-mode differentiation (grad, vjp, "
                        "jacrev) needs the transposed solve: pass transpose_solve=, or "
                        "symmetric=True when the matrix is symmetric")
    groups, b = _split(args, const_lengths)
    if any(isinstance(c, UndefinedPrimal) for g in groups for c in g):
        raise TypeError("custom_linear_solve: cannot transpose with respect to the values "
                        "matvec or solve close over; it is linear in b only")
    num_b = len(b)
    if any(type(ct) is not Zero for ct in cts[num_b:]):
        raise TypeError("custom_linear_solve: the aux outputs of solve (has_aux=True) are "
                        "not differentiable; take derivatives of the solution only")
    t_jaxprs, t_lengths, t_consts = _transposed(jaxprs, const_lengths, groups)
    x_cts = [instantiate_zeros(ct) for ct in cts[:num_b]]
    b_cts = custom_linear_solve_p.bind(*t_consts, *x_cts, jaxprs=t_jaxprs,
                                       const_lengths=t_lengths)
    return [None] * sum(const_lengths) + [
        ct if isinstance(v, UndefinedPrimal) else None for ct, v in zip(b_cts[:num_b], b)]


def _custom_linear_solve_batch(args, dims, *, jaxprs, const_lengths):
    size = batch_size(args, dims)
    groups, b = _split(args, const_lengths)
    group_dims, b_dims = _split(dims, const_lengths)
    num_b = len(b)
    group_batched = [[d is not None for d in ds] for ds in group_dims]
    # Every jaxpr maps a vector to a vector of the same structure: a leaf batched in
    # one input or output must be batched in all of them. Grow the set to a fixed point.
    batched = [d is not None for d in b_dims]
    while True:
        grown = list(batched)
        for closed, consts_batched in zip(jaxprs, group_batched):
            if closed is not None:
                _, out_batched = _batch(closed, consts_batched, batched, size, num_b)
                grown = [g or o for g, o in zip(grown, out_batched[:num_b])]
        if grown == batched:
            break
        batched = grown
    new_jaxprs, solve_out_batched = [], None
    for i, (closed, consts_batched) in enumerate(zip(jaxprs, group_batched)):
        if closed is None:
            new_jaxprs.append(None)
            continue
        new, out_batched = _batch(closed, consts_batched, batched, size, num_b)
        new_jaxprs.append(new)
        if i == _SOLVE:
            solve_out_batched = out_batched
    consts = [move_bdim(c, d, 0, size) if d is not None else c
              for g, ds in zip(groups, group_dims) for c, d in zip(g, ds)]
    b = [move_bdim(x, d, 0, size) if now else x for x, d, now in zip(b, b_dims, batched)]
    outs = custom_linear_solve_p.bind(*consts, *b, jaxprs=tuple(new_jaxprs),
                                      const_lengths=const_lengths)
    return outs, [0 if bat else None for bat in solve_out_batched]


def _batch(closed: ClosedJaxpr, consts_batched: list[bool], vector_batched: list[bool],
           size: int, num_b: int) -> tuple[ClosedJaxpr, list[bool]]:
    """`closed` batched at axis 0 of its batched inputs, with the vector outputs
    batched exactly where `vector_batched` says (aux outputs where they come out)."""
    in_dims = [0 if b else None for b in consts_batched + vector_batched]
    num_aux = len(closed.out_avals) - num_b
    new, out_dims = batch_jaxpr(closed, in_dims, size, vector_batched + [False] * num_aux)
    return new, [d is not None for d in out_dims]


custom_linear_solve_p.impl = _custom_linear_solve_impl
custom_linear_solve_p.abstract_eval = _custom_linear_solve_abstract_eval
custom_linear_solve_p.jvp = _custom_linear_solve_jvp
custom_linear_solve_p.transpose = _custom_linear_solve_transpose
custom_linear_solve_p.batch = _custom_linear_solve_batch


# ================================================================== custom_linear_solve

def _transpose_of(matvec: Callable[[Any], Any], b: Any) -> Callable[[Any], Any]:
    """x -> Aᵀ x for the linear ``matvec`` (x -> A x), by transposing its jaxpr."""
    transpose = linear_transpose(matvec, b)

    def vecmat(x: Any) -> Any:
        (y,) = transpose(x)
        return y

    return vecmat


def custom_linear_solve(matvec: Callable[[Any], Any], b: Any,
                        solve: Callable[[Callable[[Any], Any], Any], Any],
                        transpose_solve: Callable[[Callable[[Any], Any], Any], Any] | None = None,
                        symmetric: bool = False, has_aux: bool = False) -> Any:
    """The solution x of the linear system ``matvec(x) == b``, with implicit
    derivatives, as ``jax.lax.custom_linear_solve``.

    Args:
      matvec: the linear map x -> A x, on pytrees shaped like `b`. It may close over
        arrays (the matrix); derivatives with respect to them are right.
      b: the right-hand side, a pytree of arrays.
      solve: ``solve(matvec, b) -> x`` with ``matvec(x) == b``; any algorithm (a
        direct factorisation, conjugate gradients, a ``while_loop``). It is never
        differentiated: derivatives treat it as the linear map A⁻¹.
      transpose_solve: ``transpose_solve(vecmat, b) -> x`` with ``vecmat(x) == b``,
        where ``vecmat`` is the transpose of `matvec`; needed for reverse mode (grad).
      symmetric: A is symmetric: `solve` serves as `transpose_solve` too.
      has_aux: `solve` (and `transpose_solve`) return ``(x, aux)``; aux is returned
        as well, with zero derivatives.

    Returns:
      x (``(x, aux)`` with `has_aux`), with the structure of `b`.

    ``jvp`` solves once more: ∂x = A⁻¹ (∂b - ∂A x); reverse mode applies A⁻ᵀ with
    `transpose_solve`. The functions are traced once, at the shapes and dtypes of
    `b`, so they must use functrans operations (``functrans.numpy``), not NumPy.
    The outputs of `matvec` and `solve` must have `b`'s structure, shapes and dtypes.
    """
    where = "custom_linear_solve"
    if transpose_solve is None and symmetric:
        transpose_solve = solve
    b_flat, b_tree, b_avals = _flat_vector(b, where, "a leaf of b")

    matvec_traced, _ = _trace_vector_function(matvec, "matvec", where, b_tree, b_avals)
    solve_traced, aux_tree = _trace_vector_function(
        lambda v: solve(matvec, v), f"solve ({fun_name(solve)})", where, b_tree, b_avals,
        has_aux)
    traced: list[TracedClosure | None] = [matvec_traced, None, solve_traced, None]
    if transpose_solve is not None:
        if symmetric:
            vecmat = matvec
            traced[_VECMAT] = matvec_traced
        else:
            vecmat = _transpose_of(matvec, tree_unflatten(b_tree, b_flat))
            traced[_VECMAT], _ = _trace_vector_function(vecmat, "the transpose of matvec",
                                                        where, b_tree, b_avals)
        traced[_TRANSPOSE_SOLVE], _ = _trace_vector_function(
            lambda v: transpose_solve(vecmat, v), f"transpose_solve ({fun_name(transpose_solve)})",
            where, b_tree, b_avals, has_aux)

    jaxprs = tuple(None if t is None else t.closed for t in traced)
    const_lengths = tuple(0 if t is None else len(t.consts) for t in traced)
    consts = [c for t in traced if t is not None for c in t.consts]
    out = custom_linear_solve_p.bind(*consts, *b_flat, jaxprs=jaxprs,
                                     const_lengths=const_lengths)
    x = tree_unflatten(b_tree, out[:len(b_flat)])
    if has_aux:
        return x, tree_unflatten(aux_tree, out[len(b_flat):])
    return x


# ================================================================== custom_root

def custom_root(f: Callable[[Any], Any], initial_guess: Any,
                solve: Callable[[Callable[[Any], Any], Any], Any],
                tangent_solve: Callable[[Callable[[Any], Any], Any], Any],
                has_aux: bool = False) -> Any:
    """A root of ``f`` (``f(x) == 0``) found by `solve`, differentiated implicitly,
    as ``jax.lax.custom_root``.

    Args:
      f: the function whose root is sought, mapping pytrees shaped like
        `initial_guess` to pytrees of the same shape. Values it closes over (the
        parameters θ of the problem) get derivatives.
      initial_guess: the starting point, a pytree of arrays.
      solve: ``solve(f, initial_guess) -> root`` (``(root, aux)`` with `has_aux`):
        any algorithm (Newton's method in a ``while_loop``, bisection, a Python loop
        when called on concrete values). It is never differentiated.
      tangent_solve: ``tangent_solve(g, y) -> x`` solving the linear system
        ``g(x) == y``, where ``g`` is the derivative of `f` at the root, e.g.
        ``lambda g, y: y / g(1.0)`` for a scalar root, or a dense solve of the
        Jacobian ``jacfwd(g)(y)``.
      has_aux: `solve` returns ``(root, aux)``; aux gets zero derivatives.

    The derivative of the root x*(θ) follows from f(θ, x*(θ)) = 0 (implicit
    function theorem): ∂x* = -(∂ₓf)⁻¹ ∂_θ f, with (∂ₓf)⁻¹ applied by
    `tangent_solve` inside :func:`custom_linear_solve`. Reverse mode applies
    `tangent_solve` to the transposed derivative, so `tangent_solve` need not be
    linear-transposable itself (JAX requires that). The derivative with respect
    to `initial_guess` is zero.
    """
    where = "custom_root"
    guess_flat, guess_tree, guess_avals = _flat_vector(initial_guess, where,
                                                      "a leaf of initial_guess")
    f_traced, _ = _trace_vector_function(f, fun_name(f), where, guess_tree, guess_avals)
    f_closed = f_traced.closed

    def f_of(params: Sequence[Any], x: Any) -> Any:
        """f with the values it closes over as explicit `params`."""
        flat_x, x_tree = tree_flatten(x)
        if x_tree != guess_tree:
            raise TypeError(f"{where}: f must be called with a value of the structure of "
                            f"initial_guess, {guess_tree}; got {x_tree}")
        out = eval_jaxpr(f_closed.jaxpr, f_closed.consts, *params, *flat_x)
        return tree_unflatten(guess_tree, out)

    def run_solve(params: tuple, guess: Any) -> Any:
        solver = _VectorFunction(lambda x: solve(lambda v: f_of(params, v), x),
                                 f"solve ({fun_name(solve)})", where, guess_tree, guess_avals,
                                 has_aux)
        flat = solver(guess)
        root = tree_unflatten(guess_tree, flat[:len(guess_flat)])
        if has_aux:
            return root, tree_unflatten(solver.aux_tree, flat[len(guess_flat):])
        return root

    def root_jvp(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
        params, guess = primals
        param_tangents, _ = tangents
        out = root_of(params, guess)
        root = out[0] if has_aux else out
        root_tangent = _implicit_tangent(f_of, params, param_tangents, root, tangent_solve)
        if has_aux:
            aux_tangent = tree_unflatten(
                tree_structure(out[1]),
                [SymbolicZero(get_aval(a).to_tangent_aval()) for a in tree_flatten(out[1])[0]])
            return out, (root_tangent, aux_tangent)
        return out, root_tangent

    root_of = custom_jvp(run_solve)
    root_of.defjvp(root_jvp, symbolic_zeros=True)
    return root_of(tuple(f_traced.consts), tree_unflatten(guess_tree, guess_flat))


def _implicit_tangent(f_of: Callable[[Sequence[Any], Any], Any], params: Sequence[Any],
                      param_tangents: Sequence[Any], root: Any,
                      tangent_solve: Callable[[Callable[[Any], Any], Any], Any]) -> Any:
    """∂x* = -(∂ₓf)⁻¹ ∂_θ f at the root: the tangent of the root for the tangents of
    the parameters f closes over."""
    root_flat, root_tree = tree_flatten(root)
    tangents = [Zero(get_aval(p).to_tangent_aval()) if type(t) is SymbolicZero else t
                for p, t in zip(params, param_tangents)]
    if all(type(t) is Zero for t in tangents):
        return tree_unflatten(root_tree, [SymbolicZero(get_aval(x).to_tangent_aval())
                                          for x in root_flat])
    _, rhs = jvp_flat(lambda *ps: tree_flatten(f_of(ps, root))[0], list(params), tangents)
    if all(type(t) is Zero for t in rhs):
        return tree_unflatten(root_tree, [SymbolicZero(t.aval) for t in rhs])
    rhs_tree = tree_unflatten(root_tree, [instantiate_zeros(t) for t in rhs])
    _, f_jvp = linearize(lambda x: f_of(params, x), root)
    solution = custom_linear_solve(
        f_jvp, rhs_tree, solve=lambda g, y: tangent_solve(g, y),
        transpose_solve=lambda g, y: tangent_solve(g, y))
    return tree_unflatten(root_tree, [neg(t) for t in tree_flatten(solution)[0]])
