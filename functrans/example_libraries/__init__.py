"""``functrans.example_libraries``: JAX's small example libraries
(``jax.example_libraries``), on functrans.

* :mod:`functrans.example_libraries.optimizers`: ``(init_fun, update_fun,
  get_params)`` triples for SGD, momentum, Adam and friends, and step-size
  schedules.
"""

from functrans.example_libraries import optimizers

__all__ = ["optimizers"]
