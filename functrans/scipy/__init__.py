"""``functrans.scipy``: the ``jax.scipy`` functions functrans provides."""

from functrans.scipy import special

__all__ = ["special"]
