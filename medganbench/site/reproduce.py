"""The one-line "reproduce this row" command of a run, checked against the row's run id."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medganbench import defaults
from medganbench.core.manager import Registries
from medganbench.errors import MedganbenchError
from medganbench.run.budget import Budget
from medganbench.run.spec import PRECISIONS, RunSpec, resolve_run
from medganbench.site.locations import location_names, without_locations


@dataclass(frozen=True)
class Reproduction:
    """A command and whether it was checked to give the row's run id.

    Attributes:
        command: ``medganbench run ...`` as one shell line.
        checked: the command's spec resolves, with the components installed here, to the
            row's run id.
    """

    command: str
    checked: bool


def _arg_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _non_default(args: Mapping[str, Any], params: Sequence[Any] | None) -> dict[str, Any]:
    """The arguments that differ from their declared defaults (all of them if unknown here)."""
    if params is None:
        return dict(args)
    defaults = {p.name: p.default for p in params}
    return {k: v for k, v in args.items() if k not in defaults or defaults[k] != v}


def reproduce(
    rows: Sequence[Mapping[str, Any]],
    spec_json: Mapping[str, Any] | None,
    registries: Registries | None,
) -> Reproduction:
    """The command that re-runs the run of ``rows`` (all rows of one run id).

    Arguments equal to a component's default are left out when the component is installed here
    (the run id is computed from resolved arguments, so the command gives the same id). The
    requested precision / channels-last settings come from the run's ``spec.json`` when it is there;
    otherwise the combination that reproduces the run id is searched for. ``--eval-grid native``
    is added for a run that asked for it (:func:`eval_grid`).
    """
    first = rows[0]
    if first.get("track") == "external":
        return external_command(rows, registries)
    model_args = json.loads(first["model_args"])
    # Where the data were is never part of a published command (nor of the run id).
    private = location_names(first["dataset"], registries)
    dataset_args = without_locations(json.loads(first["dataset_args"]), private)
    # Runs recorded before --eval-grid passed it as a dataset argument; the option says it now
    # (such a run's id cannot be reproduced: the command is left unchecked).
    dataset_args.pop("eval_grid", None)
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    # A metric's volume rows hold the same arguments as its slice rows (eval_unit and eval_grid
    # are columns of their own).
    metric_args = {r["metric"]: json.loads(r["metric_args"]) for r in rows}
    budget = Budget(
        steps=first["budget_steps"], kimg=first["budget_kimg"], seconds=first["budget_seconds"]
    )

    def params(kind: str, name: str) -> Sequence[Any] | None:
        if registries is None:
            return None
        registry = getattr(registries, kind)
        return registry.get(name).params if name in registry else None

    shown_model = _non_default(model_args, params("models", first["model"]))
    shown_dataset = _non_default(dataset_args, params("datasets", first["dataset"]))
    shown_metric = {m: _non_default(a, params("metrics", m)) for m, a in metric_args.items()}
    settings: list[tuple[str, bool]]
    if spec_json is not None and "precision" in spec_json:
        settings = [(str(spec_json["precision"]), bool(spec_json["channels_last"]))]
    else:
        settings = [(p, cl) for p in PRECISIONS for cl in (True, False)]

    # A run that accepted unverified weights says so in its spec (and its id).
    unverified = bool(spec_json.get("allow_unverified_weights", False)) if spec_json else False
    grid = eval_grid(rows, spec_json)
    chosen, checked = settings[0], False
    if registries is not None:
        for precision, channels_last in settings:
            spec = RunSpec(
                model=first["model"],
                dataset=first["dataset"],
                model_args=model_args,
                dataset_args=dataset_args,
                image_size=first["image_size"],
                metrics=tuple(metrics),
                metric_args={m: a for m, a in metric_args.items() if a},
                budget=budget,
                seed=first["seed"],
                eval_split=first["eval_split"],
                precision=precision,
                channels_last=channels_last,
                allow_unverified_weights=unverified,
                eval_grid=grid,
            )
            try:
                run_id = resolve_run(spec, registries).run_id
            except MedganbenchError:
                break  # a component or argument is unknown here: the command cannot be checked
            if run_id == first["run_id"]:
                chosen, checked = (precision, channels_last), True
                break

    words = ["medganbench", "run", "--model", first["model"], "--dataset", first["dataset"],
             "--budget", str(budget), "--image-size", str(first["image_size"]),
             "--seed", str(first["seed"]), "--metrics", ",".join(metrics)]  # fmt: skip
    words += [f"--model-arg={k}={_arg_text(v)}" for k, v in shown_model.items()]
    words += [f"--dataset-arg={k}={_arg_text(v)}" for k, v in shown_dataset.items()]
    words += [
        f"--metric-arg={m}.{k}={_arg_text(v)}"
        for m, a in shown_metric.items()
        for k, v in a.items()
    ]
    if chosen[0] != defaults.PRECISION:
        words += ["--precision", chosen[0]]
    if not chosen[1]:
        words.append("--no-channels-last")
    if unverified:
        words.append("--allow-unverified-weights")
    if grid != "image_size":
        words += ["--eval-grid", grid]
    return Reproduction(" ".join(shlex.quote(w) for w in words), checked)


def eval_grid(rows: Sequence[Mapping[str, Any]], spec_json: Mapping[str, Any] | None) -> str:
    """The ``--eval-grid`` a run asked for: ``"native"`` where its ``spec.json`` says so or one
    of its rows was scored on the native grid, else ``"image_size"``."""
    if spec_json is not None and spec_json.get("eval_grid") == "native":
        return "native"
    return "native" if any(r["eval_grid"] == "native" for r in rows) else "image_size"


def external_command(
    rows: Sequence[Mapping[str, Any]], registries: Registries | None = None
) -> Reproduction:
    """The ``medganbench score`` command that scores the same outputs again (``OUTPUTS`` stands
    for the folder that held them: the run id hashes their values, so the same files give the
    same id)."""
    first = rows[0]
    model_args = json.loads(first["model_args"])
    metric_args = {r["metric"]: json.loads(r["metric_args"]) for r in rows}
    words = ["medganbench", "score", "--dataset", first["dataset"], "--outputs", "OUTPUTS",
             "--name", first["model"], "--model-version", first["model_version"],
             "--direction", str(model_args.get("direction", first["direction"])),
             "--task", str(model_args.get("task", "translate")),
             "--image-size", str(first["image_size"]), "--split", first["eval_split"],
             "--metrics", ",".join(dict.fromkeys(r["metric"] for r in rows))]  # fmt: skip
    private = location_names(first["dataset"], registries)
    dataset_args = without_locations(json.loads(first["dataset_args"]), private)
    words += [f"--dataset-arg={k}={_arg_text(v)}" for k, v in dataset_args.items()]
    words += [
        f"--metric-arg={m}.{k}={_arg_text(v)}" for m, a in metric_args.items() for k, v in a.items()
    ]
    if any(r["eval_grid"] == "native" for r in rows):
        words += ["--eval-grid", "native"]
    return Reproduction(" ".join(shlex.quote(w) for w in words), False)
