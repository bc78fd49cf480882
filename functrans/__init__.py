"""functrans: JAX-style function transformations for NumPy.

    import functrans as ft
    import functrans.numpy as fnp

    ft.grad(lambda u: fnp.exp(fnp.sin(u**2) * fnp.log(u**2)))(1.5)
"""

from functrans import (  # noqa: E402  (numpy attaches the operators to tracers)
                              ad_checkpoint,
                              debug,
                              example_libraries,
                              flatten_util,
                              lax,
                              nn,
                              numpy,
                              random,
                              scipy,
                              tree,
                              tree_util,
)
from functrans.api.devices import (
    default_backend,
    device_count,
    device_get,
    device_put,
    devices,
    local_device_count,
    local_devices,
)
from functrans.api.jit import disable_jit, jit
from functrans.config import config
from functrans.core.ir import ClosedJaxpr, Jaxpr
from functrans.core.trace import Tracer
from functrans.dtypes import float0
from functrans.errors import (
                              ConcretizationTypeError,
                              TracerArrayConversionError,
                              TracerBoolConversionError,
                              TracerIntegerConversionError,
                              UnexpectedTracerError,
)
from functrans.higher_order.callbacks import block_until_ready, pure_callback
from functrans.higher_order.checkpoint import checkpoint, checkpoint_policies, remat
from functrans.higher_order.custom_derivatives import custom_jvp, custom_vjp
from functrans.lax import stop_gradient  # noqa: E402
from functrans.learn import trace_table
from functrans.transforms.autodiff import grad, linear_transpose, value_and_grad, vjp
from functrans.transforms.closure_convert import closure_convert
from functrans.transforms.jacobians import hessian, jacfwd, jacobian, jacrev
from functrans.transforms.jvp import jvp
from functrans.transforms.linearize import linearize
from functrans.transforms.staging import ShapeDtypeStruct, eval_shape, make_jaxpr
from functrans.transforms.vmap import vmap

__version__ = "0.1.0"

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "linearize", "linear_transpose", "jit",
           "disable_jit",
           "custom_jvp", "custom_vjp", "checkpoint", "remat", "checkpoint_policies",
           "vmap", "jacfwd", "jacrev", "jacobian", "hessian", "make_jaxpr", "stop_gradient",
           "eval_shape", "ShapeDtypeStruct", "trace_table",
           "tree_util", "config", "lax", "numpy", "nn", "scipy", "ad_checkpoint", "Tracer",
           "Jaxpr",
           "random", "example_libraries", "tree", "flatten_util", "debug", "pure_callback",
           "block_until_ready", "closure_convert",
           "devices", "local_devices", "device_count", "local_device_count",
           "default_backend", "device_put", "device_get",
           "ClosedJaxpr", "float0",
           "ConcretizationTypeError", "TracerArrayConversionError", "TracerBoolConversionError",
           "TracerIntegerConversionError", "UnexpectedTracerError"]
