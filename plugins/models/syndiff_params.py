"""The arguments of ``syndiff`` (:mod:`medganbench_plugins.models.syndiff`): every knob of the
authors' published training command, with its published default (the script's default where the
command does not set it)."""

from __future__ import annotations

from medganbench.core.params import Param
from medganbench_plugins.models.limits import MAX_DEPTH, MAX_TIMESTEPS, MAX_WIDTH

#: How the learning rates change over the budget: the authors' cosine decay, or none.
LR_SCHEDULES: tuple[str, ...] = ("cosine", "constant")


def syndiff_params() -> tuple[Param, ...]:
    """``syndiff``'s declared arguments."""
    return (
        Param(
            "num_channels_dae",
            64,
            "base width of the NCSN++ generators",
            minimum=1,
            maximum=MAX_WIDTH,
        ),
        Param(
            "ch_mult",
            "1,1,2,2,4,4",
            "generator width multiplier per level (the image size must be divisible by 2^(levels-1))",
        ),
        Param(
            "num_res_blocks",
            2,
            "generator residual blocks per level",
            minimum=1,
            maximum=MAX_DEPTH,
        ),
        Param(
            "attn_resolutions",
            "16",
            "generator resolutions (px) with self-attention, comma-separated",
        ),
        Param(
            "nz",
            100,
            "latent dimension of the diffusive generators",
            minimum=1,
            maximum=MAX_WIDTH,
        ),
        Param("z_emb_dim", 256, "width of the latent embedding", minimum=1, maximum=MAX_WIDTH),
        Param(
            "n_mlp",
            3,
            "dense layers of the latent mapping after the first",
            minimum=0,
            maximum=MAX_DEPTH,
        ),
        Param(
            "ngf",
            64,
            "base width of the diffusive discriminators",
            minimum=1,
            maximum=MAX_WIDTH,
        ),
        Param(
            "t_emb_dim",
            256,
            "time-embedding width of the diffusive discriminators",
            minimum=2,
            maximum=MAX_WIDTH,
        ),
        Param(
            "cycle_ngf",
            64,
            "width of the non-diffusive ResNet generators",
            minimum=1,
            maximum=MAX_WIDTH,
        ),
        Param(
            "cycle_ndf",
            64,
            "width of the non-diffusive PatchGANs",
            minimum=1,
            maximum=MAX_WIDTH,
        ),
        Param(
            "cycle_blocks",
            6,
            "residual blocks of the non-diffusive generators",
            minimum=0,
            maximum=MAX_DEPTH,
        ),
        Param(
            "num_timesteps",
            4,
            "diffusion steps T (generator evaluations per translated image)",
            minimum=1,
            maximum=MAX_TIMESTEPS,
        ),
        Param("beta_min", 0.1, "beta_min of the VP SDE", minimum=0.0),
        Param("beta_max", 20.0, "beta_max of the VP SDE", minimum=0.0),
        Param("batch_size", 1, "images per domain per step", minimum=1),
        Param("lr_g", 1.6e-4, "Adam learning rate of the generators", minimum=0.0),
        Param("lr_d", 1e-4, "Adam learning rate of the discriminators", minimum=0.0),
        Param("beta1", 0.5, "Adam's beta1", minimum=0.0),
        Param("beta2", 0.9, "Adam's beta2", minimum=0.0),
        Param(
            "lr_schedule",
            "cosine",
            "cosine decay to lr_min over the budget, or constant",
            choices=LR_SCHEDULES,
        ),
        Param("lr_min", 1e-5, "learning rate at the end of the cosine decay", minimum=0.0),
        Param("use_ema", True, "translate with the moving average of the diffusive generators"),
        Param("ema_decay", 0.999, "decay of the moving average", minimum=0.0),
        Param(
            "r1_gamma",
            1.0,
            "R1 penalty weight on real inputs of the diffusive discriminators",
            minimum=0.0,
        ),
        Param("lazy_reg", 10, "apply the R1 penalty every lazy_reg steps", minimum=1),
        Param(
            "lambda_l1_loss",
            0.5,
            "weight of the diffusive and cycle L1 losses",
            minimum=0.0,
        ),
        Param(
            "direction",
            "a2b",
            "primary direction (the sample grid and first rows)",
            choices=("a2b", "b2a"),
        ),
        Param("eval_both", True, "also evaluate the reverse direction, as separate rows"),
        Param(
            "eval_cycle",
            True,
            "also score the round trips A→B→A and B→A→B against their inputs",
        ),
    )
