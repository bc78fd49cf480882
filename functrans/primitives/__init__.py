"""First-order primitives, by family, each declared with its rules beside it.

Declarations point down this list: a family may use the rule helpers and the
families above it when it is imported. Rules that need a family further down
(a transpose that builds a broadcast, a JVP that needs a select) reach it at
call time through this package, ``primitives.structural.full(...)``: by then
every family below has been imported here.
"""

from functrans.primitives import (  # noqa: F401, I001  (the order is the dependency order)
    rules,
    tangent_space,
    elementwise,
    special,
    structural,
    sort,
    reductions,
    indexing,
    products,
    linalg,
    convolution,
    bits,
    fft,
)
