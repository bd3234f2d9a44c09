"""Reference data sets built by qaware's own oracles: spec, build (resumable), export.

``qaware build-dataset SPEC.yaml`` is :func:`build_dataset` on :func:`load_dataset_spec`'s
result. Recipes that generate a data set's structures live in :mod:`qaware.datasets.recipes`.
"""

from qaware.datasets.build import BuildSummary, build_dataset, collect_structures
from qaware.datasets.export import PairOutcome, dataset_frames, export_dataset, outcome_status
from qaware.datasets.load import (
    dataset_file,
    elemental_references,
    formation_energies,
    level_keys,
    level_status,
    read_dataset,
)
from qaware.datasets.spec import (
    DatasetOracle,
    DatasetSpec,
    Passed,
    StructureSource,
    Subset,
    level_key,
    load_dataset_spec,
    parse_dataset_spec,
)
from qaware.datasets.subset import describe_subsets, passed_structures, select_subset

__all__ = [
    "BuildSummary",
    "DatasetOracle",
    "DatasetSpec",
    "PairOutcome",
    "Passed",
    "StructureSource",
    "Subset",
    "build_dataset",
    "collect_structures",
    "dataset_file",
    "dataset_frames",
    "describe_subsets",
    "elemental_references",
    "export_dataset",
    "formation_energies",
    "level_key",
    "level_keys",
    "level_status",
    "load_dataset_spec",
    "outcome_status",
    "parse_dataset_spec",
    "passed_structures",
    "read_dataset",
    "select_subset",
]
