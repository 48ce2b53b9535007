"""Feature encoders (their contract is the kit's, in tests/test_contracts.py): the loaders and converters on
checkpoint files timm itself writes (random init, in each publisher's file format), ``fd`` with
the Inception encoder against ``fid``'s own computation, caching, and the run identity.

No test downloads anything: the real DINOv2, RadDINO and SwAV weights are not reachable from the
machines these tests were written on (see docs/metrics.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from medganbench.core.encoder import EncoderContext
from medganbench.core.metric import EvalBatch, MetricContext
from medganbench.errors import UnknownNameError, UsageError
from medganbench.run.spec import RunSpec, resolve_run
from medganbench.weights.sources import WeightsError, WeightsUnavailableError
from medganbench.weights.store import cached, install_from_file, resolve_weights
from medganbench_plugins.metrics.distribution import FD, FID
from medganbench_plugins.metrics.encoders import DINOV2_VITB14, DINOV2_VITS14
from medganbench_plugins.metrics.inception import FID_INCEPTION, quantise
from medganbench_plugins.metrics.inception_net import InceptionFeatures
from medganbench_plugins.metrics.timm_encoders import (
    DinoV2Small,
    SwavResNet50,
    convert_raddino,
    convert_swav,
    read_timm,
    to_input,
)
from tests.encoder_weights import random_tensors as _random_tensors
from tests.encoder_weights import random_timm as _random_timm

WINDOW = (0.0, 1.0)


def _images(n: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """uint8 RGB images with some structure (a blurred random field)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.avg_pool2d(torch.rand(n, 1, size, size, generator=g), 3, 1, 1)
    return quantise(x, WINDOW)


def test_dinov2_loads_a_timm_written_hub_file_as_timm_itself_does(tmp_path: Path) -> None:
    # The hub file is timm's 518 px state dict in safetensors; we run at 224 px, so the position
    # embeddings must be resampled exactly as timm's own pretrained loading resamples them.
    path = tmp_path / "model.safetensors"
    save_file(_random_timm(DinoV2Small, img_size=518), str(path))
    ours = DinoV2Small({}, EncoderContext(tensors=read_timm(path)))
    timms = timm.create_model(
        "vit_small_patch14_dinov2.lvd142m",
        pretrained=True,
        pretrained_cfg_overlay={"file": str(path)},
        img_size=224,
        num_classes=0,
    ).eval()
    images = _images(2)
    with torch.no_grad():
        expected = timms(to_input(images, 224, ours.mean, ours.std))
    torch.testing.assert_close(ours.embed(images), expected, rtol=0, atol=1e-6)
    assert ours.dim == 384


def test_timm_reader_refuses_a_pickle(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    torch.save({"cls_token": torch.zeros(1)}, path)
    with pytest.raises(WeightsError, match="not a safetensors"):
        read_timm(path)


#: transformers' Dinov2Model names (RadDINO's hub layout), written out independently here.
def _to_transformers_layout(timm_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {
        "embeddings.cls_token": timm_state["cls_token"],
        "embeddings.mask_token": torch.zeros(1, timm_state["cls_token"].shape[-1]),
        "embeddings.position_embeddings": timm_state["pos_embed"],
        "embeddings.patch_embeddings.projection.weight": timm_state["patch_embed.proj.weight"],
        "embeddings.patch_embeddings.projection.bias": timm_state["patch_embed.proj.bias"],
        "layernorm.weight": timm_state["norm.weight"],
        "layernorm.bias": timm_state["norm.bias"],
    }
    for i in range(12):
        b, h = f"blocks.{i}.", f"encoder.layer.{i}."
        for kind in ("weight", "bias"):
            q, k, v = timm_state[f"{b}attn.qkv.{kind}"].chunk(3)
            out |= {
                f"{h}attention.attention.query.{kind}": q,
                f"{h}attention.attention.key.{kind}": k,
            }
            out[f"{h}attention.attention.value.{kind}"] = v
            out[f"{h}attention.output.dense.{kind}"] = timm_state[f"{b}attn.proj.{kind}"]
            for n in ("norm1", "norm2", "mlp.fc1", "mlp.fc2"):
                out[f"{h}{n}.{kind}"] = timm_state[f"{b}{n}.{kind}"]
        out[f"{h}layer_scale1.lambda1"] = timm_state[f"{b}ls1.gamma"]
        out[f"{h}layer_scale2.lambda1"] = timm_state[f"{b}ls2.gamma"]
    return {k: v.clone().contiguous() for k, v in out.items()}


def test_raddino_converter_maps_the_transformers_layout_onto_timm(tmp_path: Path) -> None:
    from medganbench_plugins.metrics.timm_encoders import RadDino

    original = _random_tensors(RadDino, img_size=518)
    path = tmp_path / "model.safetensors"
    save_file(_to_transformers_layout(original), str(path))
    converted = convert_raddino(path)
    assert converted.keys() == original.keys()
    assert all(torch.equal(converted[k], original[k]) for k in original)


def test_swav_converter_reads_the_release_format(tmp_path: Path) -> None:
    # The release file: torch.save of the DataParallel state dict, with the training heads.
    trunk = _random_timm(SwavResNet50)
    release = {f"module.{k}": v for k, v in trunk.items()}
    release["module.projection_head.0.weight"] = torch.zeros(2048, 2048)
    release["module.prototypes.weight"] = torch.zeros(3000, 128)
    path = tmp_path / "swav_800ep_pretrain.pth.tar"
    torch.save(release, path)
    encoder = SwavResNet50({}, EncoderContext(tensors=convert_swav(path)))
    assert encoder.embed(_images(1)).shape == (1, 2048)


def _batch(pred: torch.Tensor, target: torch.Tensor) -> EvalBatch:
    mask = torch.ones(pred.shape[0], 1, *pred.shape[2:], dtype=torch.bool)
    return EvalBatch(pred, target, mask, WINDOW, paired=False, domain="b")


def _float_images(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.avg_pool2d(torch.rand(n, 1, 32, 32, generator=g), 3, 1, 1)


@pytest.mark.slow
def test_fd_with_the_inception_encoder_is_fid_exactly(registries) -> None:
    # The same scoring function, and bit-identical features to fid's own extractor: fd's value
    # is then fid's (checking it through two 2048×2048 matrix square roots would cost minutes).
    assert FD._score is FID._score
    ctx = MetricContext(encoders={e.spec.name: e.spec for e in registries.encoders.entries()})
    images = quantise(_float_images(3, 1), WINDOW)
    fid_features = InceptionFeatures(resolve_weights(FID_INCEPTION), torch.device("cpu"))(images)
    assert torch.equal(FD({"encoder": "inception"}, ctx)._extract(images), fid_features)


@pytest.fixture
def private_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A weights cache of this test's own, so random files never reach the shared one."""
    monkeypatch.setenv("MEDGANBENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    return tmp_path


def test_a_hand_installed_file_without_a_pin_is_used_unverified(private_weights: Path) -> None:
    path = private_weights / "vits14.safetensors"
    save_file(_random_timm(DinoV2Small, img_size=518), str(path))
    installed = install_from_file(DINOV2_VITS14, path)
    assert not installed.verified and cached(DINOV2_VITS14) is not None
    assert not cached(DINOV2_VITS14).verified  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="not vit_base_patch14_dinov2 weights"):
        install_from_file(DINOV2_VITB14, path)  # a ViT-S file offered as the ViT-B
    pickled = private_weights / "other.pt"
    torch.save({"x": torch.zeros(1)}, pickled)
    with pytest.raises(UsageError, match="not usable"):
        install_from_file(DINOV2_VITS14, pickled)


@pytest.mark.slow
def test_dinov2_features_are_cached_per_encoder_and_weights(private_weights: Path) -> None:
    path = private_weights / "vits14.safetensors"
    save_file(_random_timm(DinoV2Small, img_size=518), str(path))
    sha = install_from_file(DINOV2_VITS14, path).sha256
    ctx = MetricContext(
        cache_dir=private_weights / "features", dataset="d", dataset_fingerprint="f"
    )
    for expected in ("miss", "hit"):
        fd = FD({"encoder": "dinov2-vits14"}, ctx)
        fd.update(_batch(_float_images(3, 2), _float_images(3, 1)))
        fd.compute()
        report = fd.report()
        assert report.details["real_features_cache"] == expected
        assert report.weights == {"dinov2-vits14": sha}
        assert report.details["weights_unverified"] is True and report.details["n_real"] == 3


def test_without_a_route_to_the_weights_the_message_lists_every_route(
    private_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsUnavailableError) as caught:
        resolve_weights(DINOV2_VITS14)
    text = f"{caught.value.message}\n{caught.value.hint}"
    assert (
        "huggingface.co/timm/vit_small_patch14_dinov2.lvd142m/resolve/main/model.safetensors"
        in text
    )
    assert "medganbench weights install dinov2-vits14 --from FILE" in text
    assert "MEDGANBENCH_WEIGHTS_DINOV2_VITS14" in text


def test_the_encoder_and_its_version_enter_the_run_id(registries) -> None:
    base = RunSpec(model="identity", metrics=("kid",))
    plain = resolve_run(base, registries)
    assert "encoders" not in plain.identity() and plain.metric_args["kid"] == {}
    explicit = resolve_run(
        RunSpec(model="identity", metrics=("kid",), metric_args={"kid": {"encoder": "inception"}}),
        registries,
    )
    assert explicit.run_id == plain.run_id  # the default encoder leaves old run ids alone
    dino = resolve_run(
        RunSpec(
            model="identity", metrics=("kid",), metric_args={"kid": {"encoder": "dinov2-vits14"}}
        ),
        registries,
    )
    assert dino.run_id != plain.run_id and dino.identity()["encoders"] == {"dinov2-vits14": "1"}


def test_an_unknown_encoder_is_refused_before_anything_is_built(registries) -> None:
    spec = RunSpec(model="identity", metrics=("fd",), metric_args={"fd": {"encoder": "dinov3"}})
    with pytest.raises(UnknownNameError, match="dinov3"):
        resolve_run(spec, registries)


def test_list_metrics_details_shows_the_encoders_and_their_weights(private_weights: Path) -> None:
    from click.testing import CliRunner

    from medganbench.cli import main

    path = private_weights / "vits14.safetensors"
    save_file(_random_timm(DinoV2Small, img_size=518), str(path))
    install_from_file(DINOV2_VITS14, path)
    result = CliRunner().invoke(main, ["list", "metrics", "--details"])
    assert result.exit_code == 0, result.output
    rows = {
        line.split("│")[1].strip(): line
        for line in result.output.splitlines()
        if line.count("│") > 5
    }
    assert "dinov2-vits14: installed, sha256" in rows["dinov2-vits14"]
    assert "(no pinned" in rows["dinov2-vits14"]  # the table wraps "hash: unverified)"
    assert "raddino: not installed" in rows["raddino"]
    assert "encoder=dinov2-vits14" in rows["fd"]


class _FakeHub:
    """huggingface_hub's two calls, answering from a local file and a recorded sha256."""

    def __init__(self, payload: bytes, recorded: str) -> None:
        self.payload, self.recorded = payload, recorded

    def hf_hub_download(self, repo_id: str, filename: str, revision: str, local_dir: str) -> str:
        path = Path(local_dir) / filename
        path.write_bytes(self.payload)
        return str(path)

    def paths_info(self, *args: object, **kwargs: object) -> list[object]:
        from types import SimpleNamespace

        return [SimpleNamespace(lfs=SimpleNamespace(sha256=self.recorded))]


@pytest.mark.parametrize("matches", [True, False])
def test_a_hub_file_is_used_only_if_it_matches_the_hubs_sha256(
    private_weights: Path, monkeypatch: pytest.MonkeyPatch, matches: bool
) -> None:
    import hashlib

    import huggingface_hub

    path = private_weights / "vits14.safetensors"
    save_file(_random_timm(DinoV2Small, img_size=518), str(path))
    payload = path.read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    hub = _FakeHub(payload, digest if matches else "0" * 64)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hub.hf_hub_download)
    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", hub.paths_info)
    if matches:
        got = resolve_weights(DINOV2_VITS14)
        assert got.sha256 == digest and not got.verified  # no pin of ours: used unverified
        assert "matched the hub's LFS record" in got.source
    else:
        with pytest.raises(WeightsUnavailableError, match="differs from the hub's record"):
            resolve_weights(DINOV2_VITS14)
