"""Generator files from elsewhere are hostile: each way they can be wrong is one message, and
nothing of a refused file is used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from medganbench.core.manager import Registries
from medganbench.errors import GeneratorFileError
from medganbench.run.generator_files import GENERATOR_CONFIG, GENERATOR_WEIGHTS, read_generator
from medganbench.trained.generator import load_generator
from tests.cli_runner import cli_in_process
from tests.trained.builders import write_folder

TINY = {"ngf": 8, "ndf": 8}


@pytest.fixture
def folder(tmp_path: Path, registries: Registries) -> Path:
    write_folder(tmp_path / "gen", registries, "dcgan", TINY)
    return tmp_path / "gen"


def _edit_config(folder: Path, **fields: object) -> None:
    path = folder / GENERATOR_CONFIG
    data = json.loads(path.read_text())
    data.update(fields)
    path.write_text(json.dumps(data))


def test_a_loaded_generator_samples_as_the_model_it_was_saved_from(
    folder: Path, registries: Registries
) -> None:
    from tests.trained.builders import INFO, build

    model = build(registries, "dcgan", TINY)
    model.eval_mode()
    with torch.no_grad():
        expected = INFO.b.from_unit(model.sample(3, torch.Generator().manual_seed(5)))
    loaded = load_generator(folder, registries, "cpu")
    assert torch.equal(loaded.sample(3, seed=5), expected)


def test_a_changed_weights_byte_is_refused_by_its_hash(
    folder: Path, registries: Registries
) -> None:
    path = folder / GENERATOR_WEIGHTS
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(GeneratorFileError, match="SHA-256"):
        load_generator(folder, registries, "cpu")


def test_weights_of_other_shapes_are_refused_even_with_a_matching_hash(
    tmp_path: Path, folder: Path, registries: Registries
) -> None:
    # A consistent forgery: the weights and their hash and tensor list are a wider network's,
    # the arguments still say ngf=8.
    write_folder(tmp_path / "wide", registries, "dcgan", {"ngf": 16, "ndf": 8})
    (folder / GENERATOR_WEIGHTS).write_bytes((tmp_path / "wide" / GENERATOR_WEIGHTS).read_bytes())
    wide = json.loads((tmp_path / "wide" / GENERATOR_CONFIG).read_text())
    _edit_config(folder, weights_sha256=wide["weights_sha256"], tensors=wide["tensors"])
    with pytest.raises(GeneratorFileError, match="does not fit the model's 'generator' network"):
        load_generator(folder, registries, "cpu")


def test_tensors_other_than_the_config_lists_are_refused(folder: Path) -> None:
    data = json.loads((folder / GENERATOR_CONFIG).read_text())
    name = next(iter(data["tensors"]))
    data["tensors"][name] = [1, 2, 3]
    (folder / GENERATOR_CONFIG).write_text(json.dumps(data))
    with pytest.raises(GeneratorFileError, match="other shapes"):
        read_generator(folder)


def test_an_unknown_model_is_refused(folder: Path, registries: Registries) -> None:
    _edit_config(folder, model="no-such-gan")
    with pytest.raises(GeneratorFileError, match="not installed here"):
        load_generator(folder, registries, "cpu")


def test_another_model_version_is_refused(folder: Path, registries: Registries) -> None:
    _edit_config(folder, model_version="999")
    with pytest.raises(GeneratorFileError, match="version 999"):
        load_generator(folder, registries, "cpu")


def test_model_arguments_the_model_refuses_are_refused(
    folder: Path, registries: Registries
) -> None:
    _edit_config(folder, model_args={"ngf": "lots"})
    with pytest.raises(GeneratorFileError, match="model arguments are refused"):
        load_generator(folder, registries, "cpu")


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.weight", "generator/../x.weight", "generator", ".weight"]
)
def test_tensor_names_that_are_not_module_dot_key_are_refused(folder: Path, name: str) -> None:
    _edit_config(folder, tensors={name: [1]})
    with pytest.raises(GeneratorFileError, match="is not <module>.<key>"):
        read_generator(folder)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"format": 2}, "layout 2"),
        ({"image_size": True}, "'image_size' is not int"),
        ({"weights_sha256": "x" * 64}, "64 hex digits"),
        ({"task": "segment"}, "task 'segment'"),
        ({"slice_axis": 3}, "slice_axis"),
        ({"dataset_info": {"a": 1}}, "malformed"),
    ],
)
def test_a_malformed_config_is_refused(
    folder: Path, fields: dict[str, object], message: str
) -> None:
    _edit_config(folder, **fields)
    with pytest.raises(GeneratorFileError, match=message):
        read_generator(folder)


def test_a_config_that_is_not_json_or_too_large_is_refused(folder: Path) -> None:
    (folder / GENERATOR_CONFIG).write_text("{not json")
    with pytest.raises(GeneratorFileError, match="is not JSON"):
        read_generator(folder)
    (folder / GENERATOR_CONFIG).write_bytes(b" " * (2 << 20))
    with pytest.raises(GeneratorFileError, match="over the 1,048,576-byte limit"):
        read_generator(folder)


def test_linked_weights_are_refused(folder: Path, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere.safetensors"
    (folder / GENERATOR_WEIGHTS).rename(real)
    (folder / GENERATOR_WEIGHTS).symlink_to(real)
    with pytest.raises(GeneratorFileError, match="not a plain file"):
        read_generator(folder)


def test_the_command_line_refuses_with_one_message_and_no_traceback(
    folder: Path, tmp_path: Path
) -> None:
    _edit_config(folder, model_version="999")
    done = cli_in_process("generate", str(folder), "--n", "2", "--out", "o", cwd=tmp_path)
    assert done.returncode == 1
    assert "version 999" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


def test_a_folder_without_a_generator_says_what_it_needs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = cli_in_process("translate", "empty", "--input", "empty", "--out", "o", cwd=tmp_path)
    assert done.returncode == 1
    assert "holds no generator.json" in done.stderr
