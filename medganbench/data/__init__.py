"""The public data toolkit: one way in for every image a dataset plugin reads.

Owns: where a dataset's files are (:mod:`~medganbench.data.dataroot`); the limits every decoder
checks before it allocates (:mod:`~medganbench.data.images`); one volume reader for NIfTI,
MetaImage, NRRD and DICOM series (:mod:`~medganbench.data.reader` and :mod:`~medganbench.data.volume`, with
:mod:`~medganbench.data.nifti`, :mod:`~medganbench.data.itk`,
:mod:`~medganbench.data.dicom` and the ``dicom_*`` modules behind it: DICOM files read safely,
grouped into anonymous series and assembled into checked volumes); physical units,
windows and body masks (:mod:`~medganbench.data.intensity`); slices, masks and label maps cut
from volumes (:mod:`~medganbench.data.slicing`, :mod:`~medganbench.data.patients`); splits by
patient (:mod:`~medganbench.data.splits`); the content-keyed slice cache
(:mod:`~medganbench.data.cache`); serving slices through the dataset contract
(:mod:`~medganbench.data.serve`, :mod:`~medganbench.data.assemble`,
:mod:`~medganbench.data.native`); the thin descriptor a volume dataset is declared with
(:mod:`~medganbench.data.descriptor`, with :mod:`~medganbench.data.declare` for the ``root``
argument and the hook every dataset module declares); and the one 2-D image-file source
(:mod:`~medganbench.data.image_files`, :mod:`~medganbench.data.image_listing`,
:mod:`~medganbench.data.image_source`). docs/datasets.md and docs/plugins.md walk through it.

The names below are the toolkit's public API (``from medganbench.data import read_volume``);
each is imported from its module on first use, so importing this package is cheap.

May import: core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name → the module that defines it.
_EXPORTS: dict[str, str] = {
    # Finding the files
    "find_root": "dataroot",
    "locate_root": "dataroot",
    "env_var": "dataroot",
    "list_files": "files",
    "subfolders": "files",
    "relative": "files",
    "anonymous_id": "files",
    "files_fingerprint": "files",
    "fingerprint_extra": "files",
    "content_hash": "files",
    "outside_root": "files",
    # Reading
    "Volume": "volume",
    "read_volume": "reader",
    "is_volume_file": "volume",
    "VOLUME_SUFFIXES": "volume",
    "oversize": "images",
    "max_image_side": "images",
    "load_image": "image_files",
    "list_images": "image_files",
    "ImageRef": "image_files",
    "ImageFileError": "image_files",
    "list_dicom_files": "dicom",
    "assemble_series": "dicom",
    "DicomFileError": "dicom",
    "DataFileError": "problems",
    "InputProblems": "problems",
    # Units
    "CT_WINDOW": "intensity",
    "MR_WINDOW": "intensity",
    "ct_domain": "intensity",
    "mr_domain": "intensity",
    "domain_for": "intensity",
    "parse_window": "intensity",
    "percentile_normalise": "intensity",
    "body_mask": "intensity",
    # Slices, patients, splits, cache
    "square_slice": "slicing",
    "square_stack": "slicing",
    "Patient": "patients",
    "CutSettings": "patients",
    "cut_patient": "patients",
    "read_patients": "patients",
    "assign_splits": "splits",
    "split_params": "splits",
    "split_ratios": "splits",
    "cached": "cache",
    # Serving
    "DomainSlices": "serve",
    "SliceSplit": "serve",
    "SlicesDataset": "serve",
    "paired_dataset": "assemble",
    "single_dataset": "assemble",
    "unpaired_dataset": "assemble",
    # Declaring a dataset
    "VolumeDescriptor": "descriptor",
    "dataset_hook": "declare",
    "root_param": "declare",
    "dims_param": "declare",
    "FolderSettings": "image_listing",
    "FolderSource": "image_source",
    "load_folders": "image_source",
    "DISPLAY_UNITS": "image_source",
}

if TYPE_CHECKING:
    from medganbench.data.assemble import paired_dataset, single_dataset, unpaired_dataset
    from medganbench.data.cache import cached
    from medganbench.data.dataroot import env_var, find_root, locate_root
    from medganbench.data.declare import dataset_hook, dims_param, root_param
    from medganbench.data.descriptor import VolumeDescriptor
    from medganbench.data.dicom import DicomFileError, assemble_series, list_dicom_files
    from medganbench.data.files import (
        anonymous_id,
        content_hash,
        files_fingerprint,
        fingerprint_extra,
        list_files,
        outside_root,
        relative,
        subfolders,
    )
    from medganbench.data.image_files import ImageFileError, ImageRef, list_images, load_image
    from medganbench.data.image_listing import FolderSettings
    from medganbench.data.image_source import DISPLAY_UNITS, FolderSource, load_folders
    from medganbench.data.images import max_image_side, oversize
    from medganbench.data.intensity import (
        CT_WINDOW,
        MR_WINDOW,
        body_mask,
        ct_domain,
        domain_for,
        mr_domain,
        parse_window,
        percentile_normalise,
    )
    from medganbench.data.patients import CutSettings, Patient, cut_patient, read_patients
    from medganbench.data.problems import DataFileError, InputProblems
    from medganbench.data.reader import read_volume
    from medganbench.data.serve import DomainSlices, SlicesDataset, SliceSplit
    from medganbench.data.slicing import square_slice, square_stack
    from medganbench.data.splits import assign_splits, split_params, split_ratios
    from medganbench.data.volume import VOLUME_SUFFIXES, Volume, is_volume_file


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'medganbench.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"medganbench.data.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "CT_WINDOW",
    "CutSettings",
    "DISPLAY_UNITS",
    "DataFileError",
    "DicomFileError",
    "DomainSlices",
    "FolderSettings",
    "FolderSource",
    "ImageFileError",
    "ImageRef",
    "InputProblems",
    "MR_WINDOW",
    "Patient",
    "SliceSplit",
    "SlicesDataset",
    "VOLUME_SUFFIXES",
    "Volume",
    "VolumeDescriptor",
    "anonymous_id",
    "assemble_series",
    "assign_splits",
    "body_mask",
    "cached",
    "content_hash",
    "ct_domain",
    "cut_patient",
    "dataset_hook",
    "domain_for",
    "env_var",
    "files_fingerprint",
    "find_root",
    "fingerprint_extra",
    "is_volume_file",
    "list_dicom_files",
    "list_files",
    "list_images",
    "load_folders",
    "load_image",
    "locate_root",
    "max_image_side",
    "mr_domain",
    "outside_root",
    "oversize",
    "paired_dataset",
    "parse_window",
    "percentile_normalise",
    "read_patients",
    "read_volume",
    "relative",
    "root_param",
    "dims_param",
    "single_dataset",
    "split_params",
    "split_ratios",
    "square_slice",
    "square_stack",
    "subfolders",
    "unpaired_dataset",
]
