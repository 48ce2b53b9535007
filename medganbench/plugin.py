"""The public API for plugin authors: everything a plugin imports, from this one module.

::

    from medganbench.plugin import Model, ModelContext, ModelSpec, Param, TrainBatch, hookimpl

A plugin written against ``medganbench.plugin`` keeps working across releases. The promise,
under semantic versioning (``medganbench.__version__``; docs/plugins.md, "The public API and its
versioning promise"):

* a name in :data:`__all__` is removed, renamed, or changed incompatibly (a signature, a
  contract's rules) only in a new major version — while the major version is 0, in a new
  minor version, and only after it has been deprecated for at least one minor version;
* a deprecated name, or a public name that moved, keeps working from its old path with a
  :class:`DeprecationWarning` that names the new path, for at least one minor version
  (:mod:`medganbench.compat` lists the paths of 0.1 kept this way);
* new names, and new optional arguments, may come in any minor version.

Everything else under ``medganbench`` (``medganbench.core``, ``medganbench.run``, ...) is the
harness's own code and may change in any release; the contract kit for a plugin's tests,
:mod:`medganbench.testing`, is public under the same promise as this module.

This module only re-exports. The contracts a plugin implements are imported here directly
(they import torch, which every plugin needs anyway); the data toolkit
(:mod:`medganbench.data`), the executor contract, the tracker contract (its history records
come with pyarrow) and the weights manager are imported on first use, so ``import
medganbench.plugin`` costs little more than the contracts themselves.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import medganbench.data
from medganbench.core.dataset import (
    SPLITS,
    Dataset,
    DatasetContext,
    DatasetInfo,
    DomainInfo,
    DomainKey,
    Sample,
)
from medganbench.core.encoder import Encoder, EncoderContext
from medganbench.core.geometry import (
    PLANES,
    VolumeGeometry,
    display_slice,
    mid_slices,
    plane_slices,
)
from medganbench.core.hookspecs import hookimpl
from medganbench.core.metric import (
    EvalBatch,
    Metric,
    MetricContext,
    MetricReport,
    Needs,
    PairedMetric,
    TrainingTranslations,
)
from medganbench.core.model import Model, ModelContext, Task, TrainBatch
from medganbench.core.params import ArgValue, Param
from medganbench.core.specs import (
    DatasetSpec,
    EncoderSpec,
    ExecutorSpec,
    MetricSpec,
    ModelSpec,
    ReportedResult,
    Source,
    TrackerSpec,
    WeightsSpec,
)
from medganbench.core.volumes import (
    SLICE_KEY,
    VOLUME_KEY,
    NativeSlices,
    NativeSource,
    VolumeSource,
    slice_key,
    volume_key,
)
from medganbench.errors import (
    DataError,
    MedganbenchError,
    PluginError,
    RunError,
    UnknownNameError,
    UsageError,
)
from medganbench.progress import Phase, phase

if TYPE_CHECKING:
    from medganbench.core.history import HistoryRecord
    from medganbench.core.tracker import Tracker, TrackerContext
    from medganbench.data import (
        CT_WINDOW,
        DISPLAY_UNITS,
        MR_WINDOW,
        VOLUME_SUFFIXES,
        CutSettings,
        DataFileError,
        DicomFileError,
        DomainSlices,
        FolderSettings,
        FolderSource,
        ImageFileError,
        ImageRef,
        InputProblems,
        Patient,
        SlicesDataset,
        SliceSplit,
        Volume,
        VolumeDescriptor,
        anonymous_id,
        assemble_series,
        assign_splits,
        body_mask,
        cached,
        content_hash,
        ct_domain,
        cut_patient,
        dataset_hook,
        dims_param,
        domain_for,
        env_var,
        files_fingerprint,
        find_root,
        fingerprint_extra,
        is_volume_file,
        list_dicom_files,
        list_files,
        list_images,
        load_folders,
        load_image,
        locate_root,
        max_image_side,
        mr_domain,
        outside_root,
        oversize,
        paired_dataset,
        parse_window,
        percentile_normalise,
        read_patients,
        read_volume,
        relative,
        root_param,
        single_dataset,
        split_params,
        split_ratios,
        square_slice,
        square_stack,
        subfolders,
        unpaired_dataset,
    )
    from medganbench.sweep.executor import Executor, TrialEvent, TrialOutcome, TrialRequest
    from medganbench.sweep.trial import run_trial
    from medganbench.weights.sources import (
        HubSource,
        PackageIndexSource,
        UrlSource,
        WeightsError,
        WeightsUnavailableError,
    )
    from medganbench.weights.store import ResolvedWeights, Tensors, load_tensors, resolve_weights

#: Names imported on first use, and the module each comes from: the executor contract pulls in
#: the run and leaderboard code (pyarrow), the tracker contract the history record (whose
#: module holds the history file's Arrow schema), the weights manager its sources, and the
#: toolkit is itself lazy (``medganbench.data``).
_LAZY: dict[str, str] = {
    **dict.fromkeys(medganbench.data.__all__, "medganbench.data"),
    **dict.fromkeys(
        ("Executor", "TrialEvent", "TrialOutcome", "TrialRequest"), "medganbench.sweep.executor"
    ),
    "run_trial": "medganbench.sweep.trial",
    **dict.fromkeys(("Tracker", "TrackerContext"), "medganbench.core.tracker"),
    "HistoryRecord": "medganbench.core.history",
    **dict.fromkeys(
        ("HubSource", "PackageIndexSource", "UrlSource", "WeightsError", "WeightsUnavailableError"),
        "medganbench.weights.sources",
    ),
    **dict.fromkeys(
        ("ResolvedWeights", "Tensors", "load_tensors", "resolve_weights"),
        "medganbench.weights.store",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'medganbench.plugin' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    # Hooks
    "hookimpl",
    # Progress of long work
    "Phase",
    "phase",
    # Specs: what a hook returns
    "DatasetSpec",
    "EncoderSpec",
    "ExecutorSpec",
    "MetricSpec",
    "ModelSpec",
    "ReportedResult",
    "TrackerSpec",
    "WeightsSpec",
    # Weights: where an artifact's file comes from, and using it
    "HubSource",
    "PackageIndexSource",
    "ResolvedWeights",
    "Source",
    "Tensors",
    "UrlSource",
    "load_tensors",
    "resolve_weights",
    # Parameters
    "ArgValue",
    "Param",
    # The dataset contract
    "SPLITS",
    "Dataset",
    "DatasetContext",
    "DatasetInfo",
    "DomainInfo",
    "DomainKey",
    "Sample",
    # Datasets whose slices come from volumes
    "SLICE_KEY",
    "VOLUME_KEY",
    "NativeSlices",
    "NativeSource",
    "VolumeSource",
    "slice_key",
    "volume_key",
    # Volume tasks: the geometry of 3-D items and their planes
    "PLANES",
    "VolumeGeometry",
    "display_slice",
    "mid_slices",
    "plane_slices",
    # The model contract
    "Model",
    "ModelContext",
    "Task",
    "TrainBatch",
    # The metric contract
    "EvalBatch",
    "Metric",
    "MetricContext",
    "MetricReport",
    "Needs",
    "PairedMetric",
    "TrainingTranslations",
    # The encoder contract
    "Encoder",
    "EncoderContext",
    # The executor contract
    "Executor",
    "TrialEvent",
    "TrialOutcome",
    "TrialRequest",
    "run_trial",
    # The tracker contract
    "HistoryRecord",
    "Tracker",
    "TrackerContext",
    # Errors
    "DataError",
    "MedganbenchError",
    "PluginError",
    "RunError",
    "UnknownNameError",
    "UsageError",
    "WeightsError",
    "WeightsUnavailableError",
    # The data toolkit (medganbench.data): finding files
    "anonymous_id",
    "content_hash",
    "env_var",
    "files_fingerprint",
    "find_root",
    "fingerprint_extra",
    "list_files",
    "locate_root",
    "outside_root",
    "relative",
    "subfolders",
    # reading images and volumes
    "DataFileError",
    "DicomFileError",
    "ImageFileError",
    "ImageRef",
    "InputProblems",
    "VOLUME_SUFFIXES",
    "Volume",
    "assemble_series",
    "is_volume_file",
    "list_dicom_files",
    "list_images",
    "load_image",
    "max_image_side",
    "oversize",
    "read_volume",
    # units and windows
    "CT_WINDOW",
    "MR_WINDOW",
    "body_mask",
    "ct_domain",
    "domain_for",
    "mr_domain",
    "parse_window",
    "percentile_normalise",
    # slices, patients, splits and the cache
    "CutSettings",
    "Patient",
    "assign_splits",
    "cached",
    "cut_patient",
    "read_patients",
    "split_params",
    "split_ratios",
    "square_slice",
    "square_stack",
    # serving items
    "DomainSlices",
    "SliceSplit",
    "SlicesDataset",
    "paired_dataset",
    "single_dataset",
    "unpaired_dataset",
    # declaring a dataset
    "DISPLAY_UNITS",
    "FolderSettings",
    "FolderSource",
    "VolumeDescriptor",
    "dataset_hook",
    "dims_param",
    "load_folders",
    "root_param",
]
