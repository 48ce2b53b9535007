"""A volume dataset as a thin descriptor: what it is called, what it reads, how to list its
patients — and nothing else.

A dataset plugin of patient volumes declares one :class:`VolumeDescriptor` and returns
``descriptor.spec()`` from its ``medganbench_datasets`` hook. The toolkit does the rest, the same
way for every dataset: finds the data root (:mod:`~medganbench.data.dataroot`), fingerprints
every byte of the files, reads each volume once (:func:`~medganbench.data.volume.read_volume`:
NIfTI, MetaImage, NRRD, DICOM series; hostile headers refused before decoding), cuts slices
with their masks and label maps, caches them under a content-hash key, splits by patient and
serves them with each slice's patient key, so every volume dataset gets per-patient evaluation
(and the paired ones native-grid evaluation with ``--eval-grid native``).

The arguments the toolkit reads, where the descriptor declares them (declare only those that
apply; each one declared enters the fingerprint): ``root`` (the data root; with
``location=True``), ``slice_axis`` (default :attr:`VolumeDescriptor.slice_axis`),
``percentile`` (MR normalisation, default 99.5), ``skip_empty`` (default true), ``dims`` (a
paired dataset's ``2`` slices or ``3`` volumes: :func:`~medganbench.data.declare.dims_param`,
:mod:`~medganbench.data.volume_items`), and the split
arguments of :func:`~medganbench.data.splits.split_params` (``val_fraction``,
``test_fraction``, ``seed``, ``strict``; required).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from medganbench.core.dataset import DatasetContext, DomainInfo
from medganbench.core.params import Param
from medganbench.core.specs import DatasetSpec
from medganbench.data.assemble import paired_dataset, single_dataset, unpaired_dataset
from medganbench.data.cache import cached
from medganbench.data.dataroot import find_root, locate_root
from medganbench.data.files import files_fingerprint, fingerprint_extra
from medganbench.data.intensity import check_percentile
from medganbench.data.native import native_reader
from medganbench.data.patients import CutSettings, Patient, read_patients
from medganbench.data.problems import InputProblems, warn_problems
from medganbench.data.serve import SlicesDataset
from medganbench.data.splits import split_ratios
from medganbench.data.volume_items import VolumesDataset
from medganbench.errors import DataError, UsageError

log = logging.getLogger(__name__)

#: How the domains of a dataset relate: two co-registered domains per patient ("paired"), one
#: domain served as A and B ("single"), or A and B from different patients ("unpaired").
Pairing = Literal["paired", "single", "unpaired"]
Args = Mapping[str, Any]
PAIRING_WORDS: dict[str, str] = {
    "paired": "paired",
    "single": "unpaired (single domain)",
    "unpaired": "unpaired",
}


@dataclass(frozen=True)
class VolumeDescriptor:
    """Everything that makes one volume dataset itself.

    Attributes:
        name: registry name.
        version: bump whenever the served slices or splits could change.
        summary: one line for ``medganbench list datasets``.
        params: every argument it takes (see the module docstring for those the toolkit reads).
        patients: ``patients(root, args, problems)`` → the
            :class:`~medganbench.data.patients.Patient` records under the data root (an image
            per domain key: ``"a"``/``"b"`` for paired and unpaired datasets, ``"a"`` alone for
            single-domain ones); files it cannot use go to ``problems``
            (:meth:`~medganbench.data.problems.InputProblems.add`).
        domains: ``domains(args)`` → domain key → its :class:`DomainInfo` (``"a"`` alone for a
            single-domain dataset).
        pairing: a :data:`Pairing`, or ``pairing(args)`` where an argument decides.
        instructions: how to obtain the data (shown when they are not found, and by
            ``medganbench datasets download``).
        looks_valid: ``looks_valid(root, args)``: whether a folder holds the dataset; default:
            ``patients`` finds at least one patient there.
        labels: names of the label-map classes, index by index (empty: no label maps).
        label_values: raw label-map value → class index, where the files' values are not the
            indices themselves (BraTS stores 0, 1, 2, 4).
        files: ``files(root, args)`` → every file the dataset reads, where listing patients is
            costly (DICOM trees: grouping needs every header): then patients are listed only
            when the slice cache misses, and the fingerprint uses this list.
        check: ``check(args)`` raises :class:`~medganbench.errors.UsageError` for arguments that
            do not go together.
        modality: e.g. ``"MR → CT"``, for the listing.
        size: the expected size in words, for the listing.
        slice_axis: the axis slices are taken across when there is no ``slice_axis`` argument.
        downloadable: whether ``medganbench datasets download`` applies (it then prints the
            instructions unless the files are found).
    """

    name: str
    version: str
    summary: str
    params: tuple[Param, ...]
    patients: Callable[[Path, Args, InputProblems], Sequence[Patient]]
    domains: Callable[[Args], Mapping[str, DomainInfo]]
    pairing: Pairing | Callable[[Args], Pairing] = "paired"
    instructions: str = ""
    looks_valid: Callable[[Path, Args], bool] | None = None
    labels: tuple[str, ...] = ()
    label_values: Mapping[int, int] | None = None
    files: Callable[[Path, Args], Sequence[Path]] | None = None
    check: Callable[[Args], None] | None = None
    modality: str = ""
    size: str = "your files"
    slice_axis: int = 2
    downloadable: bool = False
    pairing_words: str = field(default="")

    # ---------------------------------------------------------------------------------------
    # The spec

    def spec(self) -> DatasetSpec:
        """The :class:`DatasetSpec` to return from ``medganbench_datasets``."""
        fixed = None if callable(self.pairing) else self.pairing
        return DatasetSpec(
            name=self.name,
            summary=self.summary,
            version=self.version,
            factory=self.build,
            params=self.params,
            modality=self.modality,
            pairing=self.pairing_words or PAIRING_WORDS[fixed or "paired"],
            paired=(fixed == "paired") if fixed else self.is_paired,
            size=self.size,
            modalities=self.modalities,
            spatial_dims=self.dimensions if any(p.name == "dims" for p in self.params) else 2,
            locate=self.locate,
            download=self.download if self.downloadable else None,
        )

    def dimensions(self, args: Args) -> int:
        """2 (slices) or 3 (volumes) with these (resolved) arguments."""
        return int(args.get("dims", 2))

    def pairing_of(self, args: Args) -> Pairing:
        """The pairing with these (resolved) arguments."""
        return self.pairing(args) if callable(self.pairing) else self.pairing

    def is_paired(self, args: Args) -> bool:
        """Whether items are pairs of one anatomy with these arguments."""
        return self.pairing_of(args) == "paired"

    def modalities(self, args: Args) -> tuple[str, str]:
        """The modalities of domains A and B (the one domain twice when single)."""
        domains = self.domains(args)
        a = domains["a"].modality
        return a, domains["b"].modality if "b" in domains else a

    def _valid(self, args: Args) -> Callable[[Path], bool]:
        def valid(path: Path) -> bool:
            if self.looks_valid is not None:
                return self.looks_valid(path, args)
            try:
                return bool(self.patients(path, args, InputProblems(strict=False)))
            except (OSError, DataError):
                return False

        return valid

    def locate(self, args: Args, ctx: DatasetContext) -> Path | None:
        """The data root if the files are present on this machine, else ``None``."""
        return locate_root(self.name, ctx, self._valid(args), str(args.get("root", "")))

    def download(self, args: Args, ctx: DatasetContext, report: Callable[[str], None]) -> Path:
        """Never fetches (the data are behind their publisher's terms): the root if the files
        are here, else one message with the instructions.

        Raises:
            DataError: the files are not found.
        """
        root = self.locate(args, ctx)
        if root is not None:
            return root
        raise DataError(f"{self.name}: download the files by hand.", hint=self.instructions)

    # ---------------------------------------------------------------------------------------
    # Building

    def settings(self, args: Args, size: int) -> CutSettings:
        """How this dataset's volumes become slices, from its (resolved) arguments.

        Raises:
            UsageError: the percentile is out of range.
        """
        return CutSettings(
            size=size,
            axis=int(args.get("slice_axis", self.slice_axis)),
            percentile=check_percentile(float(args.get("percentile", 99.5)), self.name),
            skip_empty=bool(args.get("skip_empty", True)),
            label_values=self.label_values,
            classes=len(self.labels),
        )

    def build(self, args: Args, ctx: DatasetContext) -> SlicesDataset | VolumesDataset:
        """Build the dataset (the factory the spec points at).

        Raises:
            UsageError: the arguments do not go together.
            DataError: the data are not found (the message says where it looked and how to get
                them), a bad file or patient in strict mode, or no usable slice.
        """
        if self.check is not None:
            self.check(args)
        pairing = self.pairing_of(args)
        domains = dict(self.domains(args))
        ratios = split_ratios(float(args["val_fraction"]), float(args["test_fraction"]), self.name)
        settings = self.settings(args, int(ctx.image_size))
        root = find_root(
            self.name, ctx, self._valid(args), self.instructions, str(args.get("root", ""))
        )
        listed = _Listing(self, root, args, Path(ctx.cache_dir))
        fingerprint = files_fingerprint(
            listed.files(), root, fingerprint_extra(self.name, self.version, args, settings.size)
        )
        key = {"dataset": self.name, "root": str(root.resolve()), "fingerprint": fingerprint}
        strict = bool(args.get("strict", True))

        def payload(keys: str, side: Mapping[str, str]) -> tuple[dict[str, Any], bool]:
            """The slices of the patients with exactly the domains ``keys``, cached."""

            def read() -> dict[str, Any]:
                problems = InputProblems(strict)
                # Listed here when listing is costly: its problems are then cached too.
                found = listed.patients(problems if self.files is not None else None)
                patients = [p for p in found if set(p.images) == set(keys)]
                wanted = {k: domains[k] for k in keys}
                return read_patients(patients, wanted, settings, root, problems)

            return cached(Path(ctx.cache_dir) / "slices", {**key, **side}, read)

        seed, size, labels = int(args["seed"]), settings.size, self.labels
        if pairing == "unpaired":
            (pa, hit_a), (pb, hit_b) = payload("a", {"side": "a"}), payload("b", {"side": "b"})
            pair = (domains["a"], domains["b"])
            dataset = unpaired_dataset(
                (pa, pb), pair, ratios, seed, size, fingerprint, labels=labels,
                from_cache=hit_a and hit_b,
            )  # fmt: skip
        elif pairing == "single":
            pl, hit = payload("a", {})
            dataset = single_dataset(
                pl, domains["a"], ratios, seed, size, fingerprint, labels=labels, from_cache=hit
            )
        else:
            pl, hit = payload("ab", {})
            # Costly listings (``files`` given) are not kept for re-reading at evaluation.
            native = None if self.files else native_reader(listed.patients(), domains, settings)
            pair = (domains["a"], domains["b"])
            dataset = paired_dataset(
                pl, pair, ratios, seed, size, fingerprint, labels=labels, native=native,
                from_cache=hit,
            )  # fmt: skip
        dataset.problems[:0] = listed.problems.problems
        warn_problems(self.name, dataset.problems)
        if labels and not dataset.info.labels:
            log.info("%s: not every patient has a label map; no labels are served.", self.name)
        if self.dimensions(args) == 3:
            if pairing != "paired":
                raise UsageError(
                    f"{self.name}: dims=3 serves paired volumes; this dataset is {pairing}.",
                    hint="Leave dims at 2 for unpaired or single-domain data.",
                )
            return VolumesDataset(dataset, settings.axis)
        return dataset


class _Listing:
    """The descriptor's patients and files under one root, listed at most once."""

    def __init__(self, descriptor: VolumeDescriptor, root: Path, args: Args, cache: Path) -> None:
        self.descriptor, self.root, self.args, self.cache = descriptor, root, args, cache.resolve()
        self.problems = InputProblems(strict=bool(args.get("strict", True)))
        self._patients: list[Patient] | None = None

    def patients(self, problems: InputProblems | None = None) -> list[Patient]:
        """The patients (listed once); listing problems go to ``problems`` (default: the
        listing's own, which the dataset reports)."""
        if self._patients is None:
            listed = self.descriptor.patients(self.root, self.args, problems or self.problems)
            # The root lookup may name the cache directory itself: its files are never data.
            self._patients = [p for p in listed if not self._in_cache(p)]
            if not self._patients:
                raise DataError(f"{self.descriptor.name}: no patient found under {self.root}.")
        return self._patients

    def _in_cache(self, patient: Patient) -> bool:
        sources = [s for s in patient.images.values() if isinstance(s, Path)]
        return any(s.resolve().is_relative_to(self.cache) for s in sources)

    def files(self) -> list[Path]:
        if self.descriptor.files is not None:
            return list(self.descriptor.files(self.root, self.args))
        return [f for p in self.patients() for f in p.files()]


__all__ = ["PAIRING_WORDS", "Pairing", "VolumeDescriptor"]
