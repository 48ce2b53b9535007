"""SynDiff's eight networks (:mod:`medganbench_plugins.models.syndiff`), built from its arguments:
the two diffusive NCSN++ generators, the two non-diffusive ResNet generators, the two diffusive
discriminators and the two PatchGANs; and the image sizes they can serve."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medganbench.errors import UsageError
from medganbench_plugins.models.diffusion_base import parse_ints
from medganbench_plugins.nn.diffusion_discriminator import DiffusionDiscriminator
from medganbench_plugins.nn.discriminators import PatchDiscriminator
from medganbench_plugins.nn.generators import ResnetGenerator
from medganbench_plugins.nn.ncsnpp import NCSNpp


@dataclass(frozen=True)
class SynDiffNets:
    """The eight networks; ``*_ab`` map A to B, ``d_a``/``c_a`` judge domain A."""

    g_ab: NCSNpp
    g_ba: NCSNpp
    f_ab: ResnetGenerator
    f_ba: ResnetGenerator
    d_a: DiffusionDiscriminator
    d_b: DiffusionDiscriminator
    c_a: PatchDiscriminator
    c_b: PatchDiscriminator


def build_nets(args: Mapping[str, Any], size: int, ca: int, cb: int) -> SynDiffNets:
    """The networks for ``size`` px images of ``ca`` (A) and ``cb`` (B) channels.

    Raises:
        UsageError: an image size the networks cannot serve (under 32 px, or not divisible by
            2^(levels − 1) of ``ch_mult``), naming the fix.
    """
    if size < 32:
        raise UsageError(f"syndiff needs images of at least 32 px, got {size}.")
    ResnetGenerator.check_size(size)
    ch_mult = parse_ints(str(args["ch_mult"]), "ch_mult", "syndiff")
    if size % 2 ** (len(ch_mult) - 1):
        raise UsageError(
            f"syndiff: the generator's {len(ch_mult)} levels (ch_mult={args['ch_mult']}) "
            f"halve the image {len(ch_mult) - 1} times, which {size} px does not allow.",
            hint="Use an image size divisible by "
            f"{2 ** (len(ch_mult) - 1)}, or fewer ch_mult entries.",
        )

    def diffusive() -> NCSNpp:
        return NCSNpp(
            size,
            ca + cb,
            ca + cb,
            int(args["num_channels_dae"]),
            ch_mult,
            int(args["num_res_blocks"]),
            parse_ints(str(args["attn_resolutions"]), "attn_resolutions", "syndiff"),
            int(args["nz"]),
            int(args["z_emb_dim"]),
            int(args["n_mlp"]),
        )

    def judge(channels: int) -> DiffusionDiscriminator:
        return DiffusionDiscriminator(size, 2 * channels, int(args["ngf"]), int(args["t_emb_dim"]))

    def translator(cin: int, cout: int) -> ResnetGenerator:
        return ResnetGenerator(
            cin,
            cout,
            int(args["cycle_ngf"]),
            int(args["cycle_blocks"]),
            "instance",
            7,
        )

    ndf = int(args["cycle_ndf"])
    return SynDiffNets(
        diffusive(),
        diffusive(),
        translator(ca, cb),
        translator(cb, ca),
        judge(ca),
        judge(cb),
        PatchDiscriminator(ca, ndf, 3),
        PatchDiscriminator(cb, ndf, 3),
    )
