"""The run spec ``medganbench run`` builds from its options (also ``score``'s metric arguments)."""

from __future__ import annotations

from medganbench import defaults
from medganbench.core.manager import Registries
from medganbench.core.params import parse_key_values
from medganbench.errors import UsageError
from medganbench.run.budget import Budget
from medganbench.run.spec import RunSpec, default_image_size, default_metrics


def spec_from_options(
    registries: Registries,
    model: str,
    *,
    dataset: str = defaults.DATASET,
    budget: str = defaults.BUDGET,
    image_size: int | None = None,
    seed: int = 0,
    metrics: str | None = None,
    model_args: tuple[str, ...] = (),
    dataset_args: tuple[str, ...] = (),
    metric_args: tuple[str, ...] = (),
    precision: str = defaults.PRECISION,
    channels_last: bool = True,
    allow_unverified_weights: bool = False,
    eval_grid: str = "image_size",
    select: str = "final",
    eval_every: int | None = None,
    devices: int = 1,
) -> RunSpec:
    """The spec ``medganbench run`` builds from its options (each default is the option's).

    Raises:
        UsageError: a malformed ``K=V`` argument or budget.
        UnknownNameError: an unknown model (when the metrics default from it).
    """
    parsed_dataset_args = parse_key_values(dataset_args, "--dataset-arg")
    chosen = (
        default_metrics(registries, model, dataset, parsed_dataset_args)
        if metrics is None
        else tuple(m.strip() for m in metrics.split(",") if m.strip())
    )
    return RunSpec(
        model=model,
        dataset=dataset,
        model_args=parse_key_values(model_args, "--model-arg"),
        dataset_args=parsed_dataset_args,
        metric_args=parse_metric_args(metric_args),
        image_size=default_image_size(registries, dataset) if image_size is None else image_size,
        metrics=chosen,
        budget=Budget.parse(budget),
        seed=seed,
        precision=precision,
        channels_last=channels_last,
        allow_unverified_weights=allow_unverified_weights,
        eval_grid=eval_grid,
        select=select,
        eval_every=eval_every,
        devices=devices,
    )


def parse_metric_args(items: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``("lpips.net=vgg", ...)`` → ``{"lpips": {"net": "vgg"}}``."""
    out: dict[str, dict[str, str]] = {}
    for key, value in parse_key_values(items, "--metric-arg").items():
        metric, dot, arg = key.partition(".")
        if not dot or not metric or not arg:
            raise UsageError(
                f"--metric-arg {key}={value} does not name its metric.",
                hint="Write METRIC.KEY=VALUE, e.g. --metric-arg lpips.net=vgg",
            )
        out.setdefault(metric, {})[arg] = value
    return out
