"""Shared test configuration: the Hypothesis profiles."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# fast: the default for developers; ci: derandomized, more examples; long: `make test-long`.
settings.register_profile("fast", max_examples=60, deadline=None)
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "fast")
)
