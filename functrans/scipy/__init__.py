"""``functrans.scipy``: the ``jax.scipy`` functions functrans provides."""

from functrans.scipy import integrate, linalg, signal, special, stats

__all__ = ["integrate", "linalg", "signal", "special", "stats"]
