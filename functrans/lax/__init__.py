"""``functrans.lax``: the primitive-level operations, under JAX's ``jax.lax`` names.

Unlike :mod:`functrans.numpy`, these do not broadcast or promote: operands of
an elementwise operation must have equal shapes and dtypes, as in ``jax.lax``.
"""

from functrans.higher_order.collectives import *  # noqa: F401,F403
from functrans.higher_order.control_flow import *  # noqa: F401,F403
from functrans.higher_order.lax_extras import *  # noqa: F401,F403
from functrans.higher_order.solves import *  # noqa: F401,F403
from functrans.lax import linalg  # noqa: F401  (functrans.lax.linalg, as jax.lax.linalg)
from functrans.primitives.bits import *  # noqa: F401,F403
from functrans.primitives.convolution import *  # noqa: F401,F403
from functrans.primitives.elementwise import *  # noqa: F401,F403
from functrans.primitives.fft import *  # noqa: F401,F403
from functrans.primitives.indexing import *  # noqa: F401,F403
from functrans.primitives.products import *  # noqa: F401,F403
from functrans.primitives.reductions import *  # noqa: F401,F403
from functrans.primitives.sort import *  # noqa: F401,F403
from functrans.primitives.special import *  # noqa: F401,F403
from functrans.primitives.structural import *  # noqa: F401,F403
