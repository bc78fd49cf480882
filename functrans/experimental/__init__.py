"""``functrans.experimental``: APIs that follow ``jax.experimental``.

Import the modules explicitly, as in JAX::

    from functrans.experimental.ode import odeint
"""
