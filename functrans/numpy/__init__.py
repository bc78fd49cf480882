"""``functrans.numpy``: the ``jax.numpy`` API over functrans primitives."""
