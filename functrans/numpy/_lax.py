"""The lax-level functions the NumPy layer is built on."""

from functrans import lax  # noqa: F401
