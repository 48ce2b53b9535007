"""What the benchmarks share: whether this session measures, or only checks that they run."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def measuring(request: pytest.FixtureRequest) -> bool:
    """``--benchmark-enable`` was given: measure at the recorded sizes. Otherwise the suite runs
    each benchmark once as a check of its result (the project's pytest options disable
    benchmarking), and a benchmark may shrink its input to keep the suite fast."""
    return not request.config.getoption("benchmark_disable")
