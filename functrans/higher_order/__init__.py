"""Higher-order primitives: primitives whose parameters are closed jaxprs.

``jit``, the control flow of ``functrans.lax`` (``cond``/``switch``, ``scan``,
``while_loop``), ``custom_jvp``/``custom_vjp`` and ``checkpoint`` live here, above
the interpreters they use: their rules transform their jaxprs with the shared
toolkit of :mod:`.jaxpr_transforms` and bind themselves again.
"""
