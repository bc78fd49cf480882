"""What every benchmark script shares: BLAS pinned before NumPy loads, and a timer.

Import it first (``import harness``) and call ``restart_with_blas_threads()`` before
anything imports NumPy: BLAS reads its thread count when it loads.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: the peers on one core too: XLA's own thread pool, JAX on the CPU
_PEER_SETTINGS = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false", "JAX_PLATFORMS": "cpu"}
#: set on some machines for old OpenBLAS builds; they slow a current NumPy
_CORE_TYPE_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def restart_with_blas_threads(threads: int = 1) -> None:
    """Restart this script with BLAS (and the peers' pools) on `threads` threads and
    without the OpenBLAS core-type overrides, unless it already runs so."""
    env = dict(os.environ)
    changed = False
    for name in _CORE_TYPE_OVERRIDES:
        changed |= env.pop(name, None) is not None
    wanted = {**dict.fromkeys(_THREAD_VARIABLES, str(threads)), **_PEER_SETTINGS}
    for name, value in wanted.items():
        if env.get(name) != value:
            env[name] = value
            changed = True
    if changed:
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def seconds_per_call(fn: Callable[[], object], number: int) -> float:
    """Wall time of one call of `fn`, averaged over `number` calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number
