"""``functrans.ad_checkpoint``: checkpointing and value names, as ``jax.ad_checkpoint``."""

from functrans.higher_order.checkpoint import (
    checkpoint,
    checkpoint_name,
    checkpoint_policies,
    remat,
)

__all__ = ["checkpoint", "checkpoint_name", "checkpoint_policies", "remat"]


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
