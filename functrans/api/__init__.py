"""Public entry points that are more than a thin layer over one floor (``jit``)."""
