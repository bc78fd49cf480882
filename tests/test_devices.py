"""Devices as JAX names them: one CPU (NumPy), CuPy's GPUs where present."""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft


def test_the_cpu_is_the_default_and_only_device_without_a_gpu() -> None:
    assert ft.default_backend() == "cpu"
    assert ft.devices() == ft.devices("cpu") == ft.local_devices() == [ft.devices()[0]]
    assert repr(ft.devices()[0]) == "CpuDevice(id=0)"
    assert ft.device_count("cpu") == ft.local_device_count() == 1


def test_device_put_copies_every_leaf_and_keeps_the_structure() -> None:
    tree = {"w": np.arange(6.0).reshape(2, 3), "b": [np.float32(1.5), 2.0]}
    for device in (None, ft.devices()[0]):
        put = ft.device_put(tree, device)
        assert set(put) == {"w", "b"} and len(put["b"]) == 2
        np.testing.assert_array_equal(put["w"], tree["w"])
        assert not np.shares_memory(put["w"], tree["w"])
        assert put["b"][0].dtype == np.float32
        put["w"][0, 0] = 99.0
        assert tree["w"][0, 0] == 0.0
    np.testing.assert_array_equal(ft.device_get(tree)["w"], tree["w"])


def test_device_put_results_work_with_every_transformation() -> None:
    x = ft.device_put(np.linspace(0.0, 1.0, 5))
    np.testing.assert_allclose(ft.jit(ft.grad(lambda v: (v ** 2).sum()))(x), 2 * x)


def test_unknown_backends_and_devices_are_refused() -> None:
    with pytest.raises(RuntimeError, match="Unknown backend 'tpu'"):
        ft.devices("tpu")
    with pytest.raises(TypeError, match="device must be a functrans Device"):
        ft.device_put(np.ones(2), "cpu")


def test_gpu_devices_need_a_gpu() -> None:
    try:
        gpus = ft.devices("gpu")
    except RuntimeError as e:
        assert "no GPU is present" in str(e)
        return
    cupy = pytest.importorskip("cupy")  # a GPU machine: arrays move there and back
    x = np.arange(4.0)
    on_gpu = ft.device_put(x, gpus[0])
    assert isinstance(on_gpu, cupy.ndarray)
    np.testing.assert_array_equal(ft.device_get(on_gpu), x)


def test_other_libraries_arrays_stay_in_their_library() -> None:
    torch = pytest.importorskip("torch")
    t = torch.arange(3.0)
    put = ft.device_put(t)
    assert isinstance(put, torch.Tensor) and put.data_ptr() != t.data_ptr()
    np.testing.assert_array_equal(ft.device_get(t), np.arange(3.0))
