"""The model contracts: build, declarations, one step, outputs, determinism, state, export,
the networks shared by devices, resume.

The model is built with seed 0 on the probe dataset (:mod:`medganbench.testing.support`),
trained one step and asked for outputs; a twin built with the same seed must produce the same
losses and outputs bit for bit; a third copy built with another seed must, once it loads the
first one's state (written and read back as a checkpoint is), produce the same outputs, and
so must a copy that loads only the first one's inference weights (as an export holds them); and
after one more step on both, the same state. That last promise is what makes a resumed run end
exactly where an uninterrupted one does.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from safetensors.torch import load as load_safetensors

from medganbench.core.model import Model, ModelContext, Task, TrainBatch
from medganbench.errors import GeneratorFileError
from medganbench.run.batch_plan import BATCH_SCALINGS
from medganbench.run.generator_files import encode_weights, inference_state, load_inference_state
from medganbench.testing.report import Contract, ContractViolation, NotApplicable, Probe, expect
from medganbench.testing.support import (
    IMAGE_SIZE,
    check_declaration,
    differences,
    loaded,
    probe_dataset,
    saved,
    seed_everything,
    train_batch,
)

#: Images per batch in every model check (a model's own batch size is not used: it is a
#: training choice, and two images show per-image bugs just as well).
BATCH = 2
#: Seeds drawn before the first and second training step and before sampling.
STEP_SEEDS = (11, 12)
SAMPLE_SEED = 13
_MISSING_STATE = (
    "(is some state, e.g. optimiser state, left out of state_dict or not restored by "
    "load_state_dict?)"
)


def _make(probe: Probe, seed: int) -> Model:
    dataset = probe_dataset(probe)
    seed_everything(seed)
    ctx = ModelContext(IMAGE_SIZE, dataset.info, torch.device("cpu"), seed)
    model: Model = probe.spec.build(probe.args, ctx)
    return model


def _batch(probe: Probe, step: int) -> TrainBatch:
    return train_batch(probe_dataset(probe), BATCH, offset=BATCH * step)


def _step(model: Model, probe: Probe, step: int) -> dict[str, float]:
    """One training step as the runner does it; its losses as floats."""
    model.train_mode()
    model.set_progress(step / 4)
    seed_everything(STEP_SEEDS[step])
    losses = model.train_step(_batch(probe, step))
    found: dict[str, float] = {}
    for key, value in losses.items():
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else None
        expect(
            isinstance(value, float) or shape == (),
            f"loss {key!r} is a {type(value).__name__}"
            + (f" of shape {shape}" if shape else "")
            + ", expected a float or a 0-dim tensor",
        )
        found[str(key)] = float(value)
        expect(math.isfinite(found[str(key)]), f"loss {key!r} is {found[str(key)]} at step {step}")
    return found


def _outputs(model: Model, probe: Probe) -> torch.Tensor:
    """What evaluation asks of the model, on the first batch: translations or samples."""
    model.eval_mode()
    batch = _batch(probe, 0)
    with torch.no_grad():
        if model.task is Task.TRANSLATE:
            source = batch.a if model.direction == "a2b" else batch.b
            return model.translate(source)
        return model.sample(BATCH, torch.Generator().manual_seed(SAMPLE_SEED))


def _build(probe: Probe) -> str:
    model = _make(probe, seed=0)
    probe.made["model"] = model
    return f"{type(model).__name__} built at {IMAGE_SIZE} px"


def _declares(probe: Probe) -> str:
    detail = check_declaration(probe)
    model: Model = probe.made["model"]
    expect(isinstance(model.task, Task), f"task is {model.task!r}, not a Task")
    expect(
        isinstance(model.batch_size, int) and model.batch_size >= 1,
        f"batch_size is {model.batch_size!r}, expected an int >= 1",
    )
    expect(model.direction in ("a2b", "b2a"), f"direction is {model.direction!r}")
    allowed = {"a2b", "b2a"} | ({"a2b2a", "b2a2b"} if model.cycle_consistent else set())
    wrong = [d for d in model.eval_directions if d not in allowed]
    expect(model.eval_directions and not wrong, f"eval_directions has {wrong or 'nothing'}")
    count = model.parameter_count()
    expect(isinstance(count, int) and count >= 0, f"parameter_count() is {count!r}")
    expect(
        model.learned or count == 0,
        f"learned is false but parameter_count() is {count:,}: a model with learned "
        "parameters trains in the run's precision",
    )
    return f"{detail}; task {model.task.value}, {count:,} parameters"


def _train_step(probe: Probe) -> str:
    model: Model = probe.made["model"]
    losses = _step(model, probe, 0)
    probe.made["losses"] = losses
    # The checkpoint a run would write now, before evaluation touches the model.
    probe.made["state"] = saved(model.state_dict())
    found = ", ".join(f"{k}={v:.4g}" for k, v in sorted(losses.items()))
    return f"finite losses {found}" if found else "no losses (a non-learned model)"


def _output(probe: Probe) -> str:
    model: Model = probe.made["model"]
    out = _outputs(model, probe)
    probe.made["out"] = out
    batch = _batch(probe, 0)
    target = batch.b if model.direction == "a2b" or model.task is Task.SAMPLE else batch.a
    want = tuple(target.shape)
    expect(isinstance(out, torch.Tensor), f"returned a {type(out).__name__}, not a tensor")
    expect(tuple(out.shape) == want, f"shape {tuple(out.shape)}, expected {want}")
    expect(out.dtype == torch.float32, f"dtype {out.dtype}, expected torch.float32")
    expect(torch.isfinite(out).all(), "outputs hold NaN or infinity")
    low, high = float(out.min()), float(out.max())
    expect(low >= -1.0 and high <= 1.0, f"values in [{low:.4g}, {high:.4g}], outside [-1, 1]")
    return f"float32 {want} in [{low:.3f}, {high:.3f}]"


def _determinism(probe: Probe) -> str:
    twin = _make(probe, seed=0)
    losses = _step(twin, probe, 0)
    expect(
        losses == probe.made["losses"],
        f"the same seed gave losses {losses} and {probe.made['losses']}",
    )
    found = differences(_outputs(twin, probe), probe.made["out"], "outputs")
    expect(not found, "the same seed gave other outputs: " + "; ".join(found[:3]))
    return "same seed, same losses and outputs bit for bit"


def _state_round_trip(probe: Probe) -> str:
    fresh = _make(probe, seed=1)
    fresh.load_state_dict(loaded(probe.made["state"]))
    found = differences(_outputs(fresh, probe), probe.made["out"], "outputs")
    expect(
        not found,
        "a model built with another seed gives other outputs after load_state_dict: "
        + "; ".join(found[:3]),
    )
    probe.made["fresh"] = fresh
    return "a copy built with another seed gives the same outputs after load_state_dict"


def _export_round_trip(probe: Probe) -> str:
    model: Model = probe.made["model"]
    try:
        state = inference_state(model)
    except NotImplementedError:
        raise NotApplicable(
            "inference_modules() is not declared: generate, translate and export refuse "
            "this model (declare it to hand back what it trained)"
        ) from None
    data, _ = encode_weights(state)

    def load(fresh: Model) -> None:
        try:
            load_inference_state(fresh, load_safetensors(data), "the exported weights")
        except GeneratorFileError as exc:
            raise ContractViolation(exc.message) from None

    _expect_outputs_after(
        probe,
        load,
        "loading only the inference_modules() weights (does translate/sample use a network or "
        "buffer not listed there?)",
    )
    return f"{len(state)} tensors through safetensors restore the outputs bit for bit"


def _expect_outputs_after(probe: Probe, load: Callable[[Model], None], what: str) -> None:
    """A copy built with another seed, given weights by ``load``, must give the first model's
    outputs bit for bit; ``what`` says, in the violation, what it was given."""
    fresh = _make(probe, seed=1)
    load(fresh)
    found = differences(_outputs(fresh, probe), probe.made["out"], "outputs")
    expect(
        not found,
        f"a copy built with another seed gives other outputs after {what}: " + "; ".join(found[:3]),
    )


def _trained_modules(probe: Probe) -> str:
    model: Model = probe.made["model"]
    scaling = type(model).batch_scaling
    expect(
        scaling in BATCH_SCALINGS,
        f"batch_scaling is {scaling!r}, not one of {', '.join(BATCH_SCALINGS)}",
    )
    try:
        modules = model.trained_modules()
    except NotImplementedError:
        raise NotApplicable(
            "trained_modules() is not declared: the model trains on one device only "
            "(declare it to train one run on several devices)"
        ) from None
    # Every parameter, trainable now or not: GAN steps switch a discriminator's off and on.
    params = {id(p): p for m in modules.values() for p in m.parameters()}
    counted = sum(p.numel() for p in params.values())
    expect(
        counted >= model.parameter_count(),
        f"trained_modules() hold {counted} parameters, parameter_count() says "
        f"{model.parameter_count()}: gradients of the others would not be averaged over devices",
    )

    def load(fresh: Model) -> None:
        fresh_modules = fresh.trained_modules()
        for name, module in modules.items():
            fresh_modules[name].load_state_dict(module.state_dict())

    _expect_outputs_after(
        probe,
        load,
        "taking only the trained_modules() weights (a trained network left out would differ "
        "between devices)",
    )
    return f"{len(modules)} modules hold every trained parameter ({counted}) and the outputs"


def _exact_resume(probe: Probe) -> str:
    model: Model = probe.made["model"]
    fresh: Model = probe.made["fresh"]
    losses = [_step(m, probe, 1) for m in (model, fresh)]
    expect(
        losses[0] == losses[1],
        f"the next step gives losses {losses[1]} after a restore, {losses[0]} without one "
        f"{_MISSING_STATE}",
    )
    # The states themselves: state-round-trip already showed they survive a checkpoint.
    found = differences(fresh.state_dict(), model.state_dict())
    expect(
        not found,
        "after one more step the restored copy's state differs: "
        + "; ".join(found[:3])
        + f" {_MISSING_STATE}",
    )
    return "one more step after a restore gives the same losses and state"


CONTRACTS: tuple[Contract, ...] = (
    Contract("build", "the factory builds a Model at 32 px on the probe dataset", _build),
    Contract(
        "declares",
        "a version, parameters with help and valid defaults, task, batch size, directions",
        _declares,
        ("build",),
    ),
    Contract(
        "train-step", "train_step returns finite float or 0-dim losses", _train_step, ("build",)
    ),
    Contract(
        "output",
        "translate/sample returns float32 images of the target's shape, finite, in [-1, 1]",
        _output,
        ("train-step",),
    ),
    Contract(
        "determinism", "the same seed gives the same losses and outputs", _determinism, ("output",)
    ),
    Contract(
        "state-round-trip",
        "state_dict survives a checkpoint (weights_only) and restores the outputs",
        _state_round_trip,
        ("output",),
    ),
    Contract(
        "export-round-trip",
        "inference_modules() weights alone, through safetensors, restore the outputs",
        _export_round_trip,
        ("output",),
    ),
    Contract(
        "trained-modules",
        "trained_modules() hold every trained parameter and what the outputs depend on",
        _trained_modules,
        ("output",),
    ),
    Contract(
        "exact-resume",
        "a restored model continues exactly as the original does",
        _exact_resume,
        ("state-round-trip",),
    ),
)

__all__ = ["CONTRACTS"]
