"""The model card an export carries (``README.md``, with a Hub-style front matter).

It states what a reader of the weights needs and nothing it cannot back: the model and its
arguments, the data it was trained on (dataset, version, arguments, fingerprint, domains with
units and windows), the budget and what was used of it, the scores from the leaderboard rows of
the run with each metric's convention (and, for per-patient rows, a 95 % bootstrap interval over
the patients), the intended use, the limits, and the licence the exporter chose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from medganbench.core.dataset import direction_label
from medganbench.leaderboard.seeds import bootstrap_ci
from medganbench.run.generator_files import GENERATOR_CONFIG, GENERATOR_WEIGHTS, GeneratorConfig

#: The licence an export states when the exporter names none.
UNSTATED_LICENSE = "other"


def _cell(text: object) -> str:
    """A Markdown table cell: pipes and line breaks of foreign text cannot break the table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _interval(details: str) -> str:
    try:
        patients = json.loads(details).get("patients") if details else None
    except (ValueError, AttributeError):
        patients = None
    if not isinstance(patients, dict) or len(patients) < 2:
        return "—"
    values = [float(v) for v in patients.values() if isinstance(v, (int, float))]
    if len(values) < 2:
        return "—"
    low, high = bootstrap_ci(values)
    return f"[{low:.4g}, {high:.4g}] ({len(values)} patients)"


def model_card(
    config: GeneratorConfig, rows: Sequence[Mapping[str, Any]], license: str, board: str
) -> str:
    """The card's Markdown text.

    Args:
        config: the generator's config.
        rows: the run's leaderboard rows (dicts of the leaderboard's columns); may be empty.
        license: an SPDX identifier, or ``"other"``.
        board: where the rows were looked for (said when there are none).
    """
    info = config.dataset_info
    a, b = info.a.name, info.b.name
    first = rows[0] if rows else {}
    lines = [
        "---",
        f"license: {license}",
        "library_name: medganbench",
        "tags:",
        "- medical-imaging",
        "- medganbench",
        f"- {config.model}",
        "---",
        "",
        f"# {config.model} trained on {config.dataset} (run {config.run_id})",
        "",
        f"A {'translation' if config.task == 'translate' else 'sampling'} model trained by "
        f"medganbench {config.medganbench_version} under a fixed budget. Load it with "
        "`medganbench.api.load_generator(FOLDER)`, or use it with `medganbench generate` / "
        "`medganbench translate FOLDER ...`; every load checks the weights' SHA-256.",
        "",
        "## Model",
        "",
        f"- model: `{config.model}` version {config.model_version}",
        f"- arguments: `{json.dumps(config.model_args, sort_keys=True)}`",
        f"- directions: {', '.join(direction_label(d, a, b) for d in config.directions)}",
        f"- image size: {config.image_size} px; precision: {config.precision}",
        f"- weights: `{GENERATOR_WEIGHTS}` (safetensors), SHA-256 `{config.weights_sha256}`; "
        f"`{GENERATOR_CONFIG}` rebuilds the network",
        f"- tensors: {len(config.tensors)}; parameters: "
        + (f"{first['parameters']:,} (trained model, all networks)" if first else "see the run"),
        "",
        "## Data",
        "",
        f"- dataset: `{config.dataset}` version {config.dataset_version}, arguments "
        f"`{json.dumps(config.dataset_args, sort_keys=True)}`, fingerprint "
        f"`{config.dataset_fingerprint}`",
        f"- domain A: {info.a.name} ({info.a.modality}), {info.a.units}, window {list(info.a.window)}",
        f"- domain B: {info.b.name} ({info.b.modality}), {info.b.units}, window {list(info.b.window)}",
        f"- pairing: {'paired' if info.paired else 'unpaired'}; volumes are cut across axis "
        f"{config.slice_axis}, MR normalised per volume to its {config.percentile}th percentile",
        "",
        "## Budget",
        "",
        f"- seed {config.seed}; steps done: {config.steps_done}; these weights are from step "
        f"{config.selected_step} ({config.protocol})",
    ]
    if first:
        limits = [
            f"{first['budget_steps']} steps" if first.get("budget_steps") is not None else None,
            f"{first['budget_kimg']} kimg" if first.get("budget_kimg") is not None else None,
            f"{first['budget_seconds']} s" if first.get("budget_seconds") is not None else None,
        ]
        lines += [
            f"- budget: {', '.join(x for x in limits if x) or 'none'}; trained for "
            f"{first['train_seconds']:.1f} s on {first['device']}, {first['kimg_done']:.3f} kimg",
        ]
    lines += ["", "## Scores", ""]
    if rows:
        lines += [
            f"From the leaderboard ({board}), split `{first['eval_split']}`. Each metric's "
            "convention is stated beside it; per-patient rows give a 95 % percentile bootstrap "
            "interval of the mean over patients.",
            "",
            "| direction | metric | unit | value | 95 % interval | convention |",
            "|---|---|---|---:|---|---|",
        ]
        for row in rows:
            arrow = "↑" if row["higher_is_better"] else "↓"
            unit = row["eval_unit"] + (
                "" if row["eval_grid"] == "image_size" else f" ({row['eval_grid']})"
            )
            lines.append(
                f"| {_cell(direction_label(row['direction'], a, b))} | {_cell(row['metric'])} {arrow} "
                f"| {_cell(unit)} | {row['value']:.4f} | {_interval(row['metric_details'])} "
                f"| {_cell(row['metric_convention'])} |"
            )
    else:
        lines.append(f"No leaderboard rows of run {config.run_id} were found in {board}.")
    lines += [
        "",
        "## Intended use",
        "",
        "Research: comparing image-synthesis models under equal budgets, and studying synthetic "
        "data. Not a medical device: its images must not be used for diagnosis or treatment.",
        "",
        "## Limits",
        "",
        f"- Trained on `{config.dataset}` only, at {config.image_size} px: other scanners, "
        "protocols, anatomies or resolutions are outside what it has seen, and the scores above "
        "do not carry over to them.",
        "- The budget is the benchmark's, not a converged training; scores are from one seed.",
        "- Outputs are clipped to the target window "
        f"{list(info.b.window if config.directions[0].endswith('b') else info.a.window)}.",
        "",
        "## Licence",
        "",
        (
            f"`{license}`."
            if license != UNSTATED_LICENSE
            else "Not stated by the exporter (`other`): ask them before reusing the weights. The "
            "training data's own terms apply too."
        ),
        "",
    ]
    return "\n".join(lines)


__all__ = ["UNSTATED_LICENSE", "model_card"]
