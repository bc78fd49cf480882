"""Shared test settings: hypothesis profiles and seeded random generators.

Hypothesis profiles (select with ``HYPOTHESIS_PROFILE=<name>``; ``ci`` is the
default when the ``CI`` environment variable is set):

* ``default``: at most 25 examples per property, no deadline (tracing and the
  first call of a transformation are slow and uneven).
* ``ci``: as ``default`` but derandomized (the same examples on every run) and
  without the example database, so a CI failure reproduces locally.
* ``dev``: 10 examples, for quick local iterations.
* ``thorough``: 200 examples, for an occasional deep run.
"""

from __future__ import annotations

import os
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import functrans as ft

# Every jaxpr staged during the tests goes through the type checker.
ft.config.update("check_jaxprs", True)

settings.register_profile("default", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=10, deadline=None)
settings.register_profile("thorough", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE",
                                     "ci" if os.environ.get("CI") else "default"))


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A seed fixed per test (from its node id), the same in every run and process."""
    return zlib.crc32(request.node.nodeid.encode())


@pytest.fixture
def rng(seed: int) -> np.random.Generator:
    """A NumPy generator seeded per test."""
    return np.random.default_rng(seed)
