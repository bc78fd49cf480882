"""``r_`` and ``c_``: NumPy's index-expression concatenators, as ``jnp.r_``/``jnp.c_``.

``r_[pieces]`` concatenates its pieces along the first axis; ``c_[pieces]``
along the last, after making each piece at least 2-D with 1-D pieces as
columns. A piece is an array (traced or not), a scalar, or a slice
``start:stop:step`` standing for ``arange(start, stop, step)`` (with a complex
step ``n*1j``: ``linspace(start, stop, n)``, end included). A leading string
sets the concatenation: ``'axis'``, ``'axis,ndmin'`` or ``'axis,ndmin,trans1d'``
(where in the raised shape the axes of a lower-dimensional piece go), or
``'r'``/``'c'`` for a 2-D row or column result (NumPy returns ``np.matrix``
there; functrans, like JAX, a 2-D array).

Slice bounds build the index arrays, so they must be concrete (Python or NumPy
numbers); the pieces themselves may be traced. As in NumPy, scalar pieces do not
raise the dtype of the array pieces (``r_[float32_array, 1.0]`` is float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans.numpy._util import Array, cast, concrete, ndim_of, result_type

__all__ = ["r_", "c_"]


class _Directive:
    """How the pieces are concatenated: axis, minimum rank, where a piece's own axes
    go when it is raised (``trans1d``, -1: at the end), and the 2-D result shape
    ('r', 'c' or None)."""

    def __init__(self, axis: int, ndmin: int, trans1d: int, matrix: str | None = None):
        self.axis = axis
        self.ndmin = ndmin
        self.trans1d = trans1d
        self.matrix = matrix

    def parsed(self, text: str, name: str) -> _Directive:
        """This directive updated by a leading string, as NumPy reads it."""
        if text in ("r", "c"):
            return _Directive(self.axis, self.ndmin, self.trans1d, text)
        fields = text.split(",")
        try:
            numbers = [int(f) for f in fields[:3]]
        except ValueError:
            raise ValueError(f"functrans.numpy.{name}: unknown special directive {text!r}; "
                             "expected 'r', 'c', 'axis', 'axis,ndmin' or "
                             "'axis,ndmin,trans1d' with integers") from None
        axis, ndmin, trans1d = numbers + [self.ndmin, self.trans1d][len(numbers) - 1:]
        return _Directive(axis, ndmin, trans1d, self.matrix)


class _AxisConcatenator:
    def __init__(self, name: str, directive: _Directive):
        self.name = name
        self.directive = directive

    def __getitem__(self, key: Any) -> Array:
        items = list(key) if isinstance(key, tuple) else [key]
        directive = self.directive
        if items and isinstance(items[0], str):
            directive = directive.parsed(items.pop(0), self.name)
        pieces, dtype_sources = [], []
        for item in items:
            piece, dtype_source = self._piece(item, directive)
            pieces.append(piece)
            dtype_sources.append(dtype_source)
        if not pieces:
            return np.zeros((0,), np.float64)
        dtype = result_type(*dtype_sources)
        result = fnp.concatenate([cast(p, dtype) for p in pieces], axis=directive.axis)
        if directive.matrix is not None and ndim_of(result) == 1:
            result = fnp.expand_dims(result, 0 if directive.matrix == "r" else 1)
        return result

    def _piece(self, item: Any, directive: _Directive) -> tuple[Array, Any]:
        """The piece, raised to the minimum rank, and what its dtype counts as
        (a scalar counts as a weak value, an array by its dtype)."""
        if isinstance(item, str):
            raise ValueError(f"functrans.numpy.{self.name}: a string directive ({item!r}) "
                             "must come first in the index expression")
        if isinstance(item, slice):
            grid = self._grid(item)
            if directive.ndmin > 1:
                grid = np.array(grid, ndmin=directive.ndmin)
                if directive.trans1d != -1:
                    grid = np.swapaxes(grid, -1, directive.trans1d)
            return grid, grid
        if isinstance(item, (bool, int, float, complex, np.generic)):
            return np.array(item, ndmin=directive.ndmin), item
        piece = fnp.asarray(item)
        return self._raised(piece, directive), np.empty((0,), fnp.result_type(piece))

    def _grid(self, s: slice) -> np.ndarray:
        what = f"a slice bound of {self.name} (slices build index arrays)"
        start = concrete(s.start, self.name, what)
        stop = concrete(s.stop, self.name, what)
        step = concrete(s.step, self.name, what)
        start = 0 if start is None else start
        step = 1 if step is None else step
        if stop is None:
            raise ValueError(f"functrans.numpy.{self.name}: the slice {s} has no stop; "
                             "write start:stop or start:stop:step")
        if isinstance(step, (complex, np.complexfloating)):
            return np.linspace(start, stop, int(abs(step)))
        return np.arange(start, stop, step)

    @staticmethod
    def _raised(piece: Array, directive: _Directive) -> Array:
        """`piece` with leading unit axes up to ``ndmin``, its own axes then moved to
        the position ``trans1d`` says (NumPy's rule)."""
        ndim = ndim_of(piece)
        missing = directive.ndmin - ndim
        if missing <= 0:
            return piece
        piece = fnp.reshape(piece, (1,) * missing + tuple(fnp.shape(piece)))
        if directive.trans1d == -1:
            return piece
        k1 = directive.trans1d
        k1 = k1 + missing + 1 if k1 < 0 else k1
        axes = list(range(directive.ndmin))
        return fnp.transpose(piece, axes[:k1] + axes[missing:] + axes[k1:missing])

    def __len__(self) -> int:
        return 0


class RClass(_AxisConcatenator):
    """``r_[...]``: concatenation along the first axis, as ``jnp.r_``."""

    def __init__(self) -> None:
        super().__init__("r_", _Directive(axis=0, ndmin=1, trans1d=-1))


class CClass(_AxisConcatenator):
    """``c_[...]``: concatenation along the last axis with 1-D pieces as columns, as
    ``jnp.c_``."""

    def __init__(self) -> None:
        super().__init__("c_", _Directive(axis=-1, ndmin=2, trans1d=0))


r_ = RClass()
c_ = CClass()
