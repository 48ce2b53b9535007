"""ComponentSpec.build: the one way a component is made."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from medganbench.core.metric import EvalBatch, Metric, Needs
from medganbench.core.params import Param
from medganbench.core.specs import ExecutorSpec, MetricSpec, ModelSpec
from medganbench.errors import PluginError, UnknownNameError, UsageError


class _Count(Metric):
    needs = Needs.PAIRED
    higher_is_better = True

    def reset(self) -> None:
        self.n = 0

    def update(self, batch: EvalBatch) -> None:
        self.n += 1

    def compute(self) -> float:
        return float(self.n)


def _not_a_metric(args: Mapping[str, Any], ctx: Any = None) -> object:
    return object()


SPEC = MetricSpec("count", "counts batches", "1", _Count, params=(Param("scale", 1.0),))


def test_build_resolves_arguments_and_fills_defaults() -> None:
    metric = SPEC.build({"scale": "2.5"})
    assert isinstance(metric, _Count)
    assert metric.args == {"scale": 2.5}
    assert SPEC.build({}).args == {"scale": 1.0}


def test_build_accepts_an_import_string_factory() -> None:
    spec = MetricSpec("psnr-ref", "x", "1", "medganbench_plugins.metrics.paired:PSNR")
    assert type(spec.build({})).__name__ == "PSNR"


def test_build_refuses_an_undeclared_argument_naming_the_component() -> None:
    with pytest.raises(UnknownNameError, match="metric 'count' has no argument 'sclae'"):
        SPEC.build({"sclae": 2})


def test_build_refuses_a_bad_value() -> None:
    with pytest.raises(UsageError, match="scale"):
        SPEC.build({"scale": "big"})


def test_build_refuses_a_result_that_breaks_the_contract() -> None:
    spec = MetricSpec("liar", "builds something else", "1", _not_a_metric)
    with pytest.raises(
        PluginError, match=r"metric 'liar' built a object.*medganbench\.core\.metric\.Metric"
    ):
        spec.build({})


def test_each_kind_names_its_contract() -> None:
    assert ModelSpec.contract == "medganbench.core.model:Model"
    assert MetricSpec.contract == "medganbench.core.metric:Metric"
    assert ExecutorSpec.contract == "medganbench.sweep.executor:Executor"


def test_a_factory_that_is_neither_a_reference_nor_callable_is_refused() -> None:
    with pytest.raises(PluginError, match="neither"):
        ModelSpec("bad", "x", "1", 42)  # type: ignore[arg-type]
