"""Elemental references taken from a labelled data set itself, and the frames a validator with
given references can serve (``references: {from_tags: [...]}`` of ``qaware train-validator``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from ase import Atoms

from qaware.errors import ConfigError
from qaware.thermo.references import ElementalReferences

__all__ = ["frames_with_references", "references_from_frames"]


def references_from_frames(
    frames: Sequence[Atoms], levels: Sequence[str], tags: Sequence[str]
) -> dict[str, ElementalReferences]:
    """``{level: ElementalReferences}`` from the data's own single-element frames tagged with one
    of ``tags`` (a data set's element cells or isolated atoms, labelled at every level with the
    same settings as the rest): μ_i = E/N of element i's frame with an ok result at that level.

    Raises ConfigError naming the level when no such frame has an ok result there.
    """
    from qaware.datasets import elemental_references
    from qaware.datasets.spec import level_key

    out = {}
    for level in levels:
        refs = elemental_references(frames, level_key(level), list(tags))
        if not refs.mu:
            raise ConfigError(
                f"references.from_tags {list(tags)}: no single-element frame with an ok "
                f"{level!r} energy (info key energy_{level_key(level)})"
            )
        out[level] = replace(refs, level=level)
    return out


def frames_with_references(
    frames: Sequence[Atoms], references: Mapping[str, ElementalReferences]
) -> tuple[list[Atoms], dict[str, list[str]]]:
    """The frames whose every element has a reference at every level (a validator predicts
    formation energies at every level, so it can serve no other element), and for each element
    left out the levels that lack it. Check this before training: the held-out report and every
    prediction would fail on such a frame after the training time was spent."""
    missing: dict[str, list[str]] = {}
    for atoms in frames:
        for element in set(atoms.get_chemical_symbols()) - set(missing):
            lacking = [lv for lv, refs in references.items() if element not in refs.mu]
            if lacking:
                missing[element] = lacking
    kept = [a for a in frames if not set(a.get_chemical_symbols()) & set(missing)]
    return kept, dict(sorted(missing.items()))
