"""Library settings, as ``jax.config``: ``functrans.config.update(name, value)``."""

from __future__ import annotations

from typing import Any


class Config:
    """Settings (set with ``update(name, value)`` or as attributes):

    * ``check_jaxprs``: type-check every jaxpr functrans stages out (jit,
      make_jaxpr, linearize, and the jaxprs of higher-order primitives' rules).
      Off by default for speed; the test suite turns it on.
    * ``log_compiles``: log (logger ``"functrans"``, level WARNING, as JAX's
      ``jax_log_compiles``) each time ``jit`` traces a function, and on a retrace
      which argument or static argument differs from the closest signature traced
      before. Off by default.
    * ``jit_cache_size``: how many signatures each jitted function keeps traced and
      compiled; beyond it the least recently used one is dropped (and traced again
      if it comes back). Default 256.
    * ``disable_jit``: ``jit`` calls the function directly, without tracing it (for
      debugging with print and pdb); usually set with ``functrans.disable_jit()``.
    * ``eager_tape``: ``grad``, ``value_and_grad`` and ``vjp`` called outside every
      transformation record a tape of per-primitive backward functions, derived
      once from the JVP and transpose rules and compiled (see
      :mod:`functrans.transforms.tape`), instead of a linear jaxpr. On by default;
      off gives the general path, which every nested transformation uses.
    """

    def __init__(self) -> None:
        self.check_jaxprs = False
        self.log_compiles = False
        self.jit_cache_size = 256
        self.disable_jit = False
        self.eager_tape = True

    def update(self, name: str, value: Any) -> None:
        if not hasattr(self, name) or name.startswith("_"):
            raise AttributeError(f"functrans.config has no setting {name!r}; settings: "
                                 f"{sorted(k for k in vars(self) if not k.startswith('_'))}")
        setattr(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        check = _CHECKS.get(name)
        if check is not None:
            check(name, value)
        object.__setattr__(self, name, value)


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"functrans.config.{name} must be True or False, got {value!r}")


def _check_cache_size(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"functrans.config.{name} must be a positive int (signatures kept "
                         f"per jitted function), got {value!r}")


# validated on every assignment, attribute or update(), so that a typo fails where it is made
_CHECKS = {"check_jaxprs": _check_bool, "log_compiles": _check_bool, "disable_jit": _check_bool,
           "eager_tape": _check_bool, "jit_cache_size": _check_cache_size}

config = Config()
