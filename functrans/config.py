"""Library settings, as ``jax.config``: ``functrans.config.update(name, value)``."""

from __future__ import annotations

from typing import Any


class Config:
    """Settings. ``check_jaxprs``: type-check every jaxpr functrans stages out
    (jit, make_jaxpr, linearize, and the jaxprs of higher-order primitives'
    rules). Off by default for speed; the test suite turns it on."""

    def __init__(self) -> None:
        self.check_jaxprs = False

    def update(self, name: str, value: Any) -> None:
        if not hasattr(self, name) or name.startswith("_"):
            raise AttributeError(f"functrans.config has no setting {name!r}; settings: "
                                 f"{sorted(k for k in vars(self) if not k.startswith('_'))}")
        setattr(self, name, value)


config = Config()
