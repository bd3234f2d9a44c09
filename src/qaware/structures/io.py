"""Read and write files of structures: CIF (multi-block), extended XYZ, CDVAE CSV.

``read_structures`` parses, then validates every structure (:func:`validate_structure`), so
nothing broken gets past the door (DESIGN.md §6). Each item is a CIF block, an extxyz frame or
a CSV data row; its 0-based position is the ``index`` of any error and ``atoms.info["index"]``.
Problems with the whole file (missing, empty, binary, unknown extension, no ``cif`` column)
always raise; problems with one item raise (``on_error="raise"``) or are collected in
``StructureBatch.skipped`` (``on_error="skip"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

from ase import Atoms

from qaware.errors import InvalidStructureError
from qaware.structures.cdvae_csv import iter_cdvae_csv_text, write_cdvae_csv
from qaware.structures.checks import DEFAULT_MIN_DISTANCE, validate_structure
from qaware.structures.cif import iter_cif_text, structures_to_cif
from qaware.structures.extxyz import iter_extxyz_text, write_extxyz

__all__ = ["FORMATS", "StructureBatch", "infer_format", "read_structures", "write_structures"]

Format = Literal["cif", "extxyz", "csv"]
FORMATS: dict[str, Format] = {".cif": "cif", ".extxyz": "extxyz", ".xyz": "extxyz", ".csv": "csv"}


@dataclass
class StructureBatch(Sequence[Atoms]):
    """Structures read from one file, plus the items that were skipped and why.

    atoms:   the good structures, in file order (``info["source"]``, ``info["index"]`` set).
    skipped: one InvalidStructureError per bad item (``.index`` is its row/frame/block).
    source:  the file name the structures came from.
    """

    atoms: list[Atoms]
    skipped: list[InvalidStructureError] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.atoms)

    @overload
    def __getitem__(self, item: int) -> Atoms: ...
    @overload
    def __getitem__(self, item: slice) -> list[Atoms]: ...
    def __getitem__(self, item: int | slice) -> Atoms | list[Atoms]:
        return self.atoms[item]

    def __iter__(self) -> Iterator[Atoms]:
        return iter(self.atoms)


def infer_format(path: str | Path, format: str | None = None) -> Format:
    """The format named by ``format`` or by the file extension (.cif, .extxyz/.xyz, .csv)."""
    if format is not None:
        if format not in FORMATS.values():
            raise InvalidStructureError(
                f"unknown format {format!r}; choose one of cif, extxyz, csv", source=str(path)
            )
        return format  # type: ignore[return-value]
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidStructureError(
            f"cannot tell the format from the extension {suffix or '(none)'!r}; use one of "
            f"{', '.join(FORMATS)} or pass format='cif' | 'extxyz' | 'csv'",
            source=str(path),
        )
    return FORMATS[suffix]


def read_structures(
    path: str | Path,
    *,
    format: str | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    min_distance: float = DEFAULT_MIN_DISTANCE,
    max_atoms: int | None = None,
) -> StructureBatch:
    """Read and validate every structure in ``path``.

    Raises InvalidStructureError naming the file, the item (row/frame/block), the atom and the
    problem, for the first bad item (``on_error="raise"``) or for a file-level problem.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    source = str(path)
    path = Path(path)
    fmt = infer_format(path, format)
    text = _read_text(path, source)
    batch = StructureBatch(atoms=[], skipped=[], source=source)
    try:
        for index, item in enumerate(_READERS[fmt](text)):
            if isinstance(item, InvalidStructureError):
                problem = item
            else:
                try:
                    validate_structure(item, min_distance=min_distance, max_atoms=max_atoms)
                except InvalidStructureError as exc:
                    problem = _with_block_name(exc, item)
                else:
                    item.info["source"] = source
                    item.info["index"] = index
                    batch.atoms.append(item)
                    continue
            located = problem.located(source=source, index=index, unit=_UNITS[fmt])
            if on_error == "raise":
                raise located from None
            batch.skipped.append(located)
    except InvalidStructureError as exc:
        if exc.source is not None:
            raise
        raise exc.located(source=source) from None
    if not batch.atoms and not batch.skipped:
        raise InvalidStructureError(f"no structures found in this {fmt} file", source=source)
    return batch


def write_structures(
    structures: Iterable[Atoms], path: str | Path, *, format: str | None = None
) -> None:
    """Write ``structures`` to ``path`` (format from ``format`` or the extension).

    cif: one block per structure (periodic only); extxyz: info, arrays and calculator results
    kept; csv: CDVAE columns (index, material_id, cif) plus scalar info columns.
    """
    fmt = infer_format(path, format)
    items = list(structures)
    if fmt in ("cif", "csv"):  # both store CIF text: periodic structures only
        for k, atoms in enumerate(items):
            if not all(atoms.pbc):
                raise InvalidStructureError(
                    f"{fmt} needs periodic structures (pbc all True), got pbc "
                    f"{[bool(p) for p in atoms.pbc]}; write molecules to extxyz",
                    source=str(path),
                    index=k,
                    field="pbc",
                )
    if fmt == "cif":
        text = structures_to_cif(items)
        Path(path).write_text(text)
    elif fmt == "extxyz":
        write_extxyz(items, path)
    else:
        write_cdvae_csv(items, path)


def _with_block_name(exc: InvalidStructureError, atoms: Atoms) -> InvalidStructureError:
    """Put a CIF block's name in front of a validation problem, as the parse errors have it."""
    block = atoms.info.get("cif_block")
    if block is None:
        return exc
    return InvalidStructureError(
        f"block 'data_{block}': {exc.problem}", atom=exc.atom, field=exc.field
    )


def _read_text(path: Path, source: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidStructureError("file not found", source=source) from None
    except OSError as exc:
        raise InvalidStructureError(f"file could not be read: {exc}", source=source) from exc
    if not raw.strip():
        raise InvalidStructureError("file is empty", source=source)
    if b"\x00" in raw[:8192]:
        raise InvalidStructureError("file is binary, not text", source=source)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidStructureError(
            f"file is not UTF-8 text (bad byte at offset {exc.start})", source=source
        ) from None


_READERS: dict[Format, Callable[[str], Iterator[Atoms | InvalidStructureError]]] = {
    "cif": iter_cif_text,
    "extxyz": iter_extxyz_text,
    "csv": iter_cdvae_csv_text,
}

_UNITS: dict[Format, str] = {"cif": "block", "extxyz": "frame", "csv": "row"}
"""What an item of each format is called in error messages."""
