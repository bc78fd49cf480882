"""Devices, as JAX names them: ``devices``, ``device_put``, ``default_backend`` ...

functrans computes where its inputs live (see docs/backends.md): NumPy arrays on the
CPU, CuPy arrays on their GPU. A device is therefore a place an array can be put,
not a compilation target: ``device_put(x, devices("gpu")[0])`` makes CuPy arrays,
``device_put(x)`` or a CPU device NumPy arrays. The default backend is always the
CPU (NumPy), even where a GPU is present: differs from JAX, which prefers the GPU.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from functrans.core.backend import foreign_backend
from functrans.tree_util import tree_map

__all__ = ["Device", "devices", "local_devices", "device_count", "local_device_count",
           "default_backend", "device_put", "device_get"]

_GPU_NAMES = ("gpu", "cuda")


class Device:
    """A CPU or a GPU: ``platform`` is ``"cpu"`` or ``"gpu"``, ``id`` its index."""

    __slots__ = ("platform", "id")

    def __init__(self, platform: str, id: int = 0):
        self.platform = platform
        self.id = id

    @property
    def device_kind(self) -> str:
        return "cpu" if self.platform == "cpu" else _cupy().cuda.runtime.getDeviceProperties(
            self.id)["name"].decode()

    def __repr__(self) -> str:
        return f"CpuDevice(id={self.id})" if self.platform == "cpu" else \
            f"CudaDevice(id={self.id})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Device) and other.platform == self.platform
                and other.id == self.id)

    def __hash__(self) -> int:
        return hash((self.platform, self.id))


def default_backend() -> str:
    """``"cpu"``: NumPy is the default array library (JAX prefers a GPU when present)."""
    return "cpu"


def devices(backend: str | None = None) -> list[Device]:
    """The devices of `backend` (``"cpu"``, or ``"gpu"``/``"cuda"`` for CuPy's GPUs;
    None: the default backend's), as ``jax.devices``."""
    platform = backend or default_backend()
    if platform == "cpu":
        return [Device("cpu", 0)]
    if platform in _GPU_NAMES:
        count = _gpu_count()
        if count:
            return [Device("gpu", i) for i in range(count)]
        raise RuntimeError(f"Unknown backend: '{platform}' requested, but no GPU is present "
                           "(functrans uses GPUs through CuPy: pip install "
                           "'functrans[cupy]' on a machine with an NVIDIA GPU)")
    raise RuntimeError(f"Unknown backend {platform!r}: functrans knows 'cpu' and 'gpu' "
                       "(or 'cuda')")


def local_devices(backend: str | None = None) -> list[Device]:
    """``devices(backend)``: everything is local (one process)."""
    return devices(backend)


def device_count(backend: str | None = None) -> int:
    """How many devices `backend` has (``len(devices(backend))``)."""
    return len(devices(backend))


def local_device_count(backend: str | None = None) -> int:
    """``device_count(backend)``: everything is local (one process)."""
    return len(devices(backend))


def device_put(x: Any, device: Device | None = None) -> Any:
    """Every array leaf of pytree `x` as a new array on `device`: NumPy arrays for a CPU
    device, CuPy arrays for a GPU one; with no device, arrays stay in their library
    (NumPy for Python scalars and lists). Results never share memory with `x`."""
    if device is not None and not isinstance(device, Device):
        raise TypeError(f"device_put: device must be a functrans Device (from "
                        f"functrans.devices()), got {type(device).__name__}")
    if device is not None and device.platform != "cpu":
        return tree_map(lambda leaf: _to_gpu(leaf, device.id), x)
    if device is None:
        return tree_map(_copy_in_place, x)
    return tree_map(_to_numpy, x)


def device_get(x: Any) -> Any:
    """Every array leaf of pytree `x` as a NumPy array (as ``jax.device_get``)."""
    return tree_map(_to_numpy, x)


def _copy_in_place(leaf: Any) -> Any:
    if foreign_backend(leaf) is not None:
        return leaf.copy() if hasattr(leaf, "copy") else leaf.clone()
    return np.array(leaf, copy=True)


def _to_numpy(leaf: Any) -> Any:
    backend = foreign_backend(leaf)
    if backend is None:
        return np.array(leaf, copy=True)
    if backend.name == "cupy":
        return _cupy().asnumpy(leaf)
    if backend.name == "torch":
        return leaf.detach().cpu().numpy().copy()
    return np.asarray(leaf)  # Dask: computes


def _to_gpu(leaf: Any, device_id: int) -> Any:
    cupy = _cupy()
    with cupy.cuda.Device(device_id):
        return cupy.array(leaf, copy=True)


def _gpu_count() -> int:
    try:
        return int(_cupy().cuda.runtime.getDeviceCount())
    except Exception:  # noqa: BLE001 - no CuPy, no driver, no device: no GPU
        return 0


def _cupy() -> Any:
    # imported only when asked for: importing CuPy looks for CUDA
    return importlib.import_module("cupy")
