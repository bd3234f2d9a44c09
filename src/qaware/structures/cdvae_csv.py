"""CDVAE-format CSV <-> ase.Atoms: an unnamed index column, ``material_id``, ``cif``, properties.

This is the format of perov_5, carbon_24, mp_20 and mpts_52 (one CIF text per row). Property
columns go into ``atoms.info``: numbers become int or float, identifiers (``material_id``,
``formula``) stay strings, empty cells are left out. The unnamed first column is kept as
``info["csv_index"]``. A row is one item: its error names the 0-based data row (``index``), the
CSV line it starts on and the column (``field``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ase import Atoms

from qaware.errors import InvalidStructureError
from qaware.structures.cif import atoms_to_cif, parse_cif

__all__ = [
    "CIF_COLUMN",
    "IDENTIFIER_KEYS",
    "INDEX_INFO_KEY",
    "iter_cdvae_csv_text",
    "write_cdvae_csv",
]

CIF_COLUMN = "cif"
INDEX_INFO_KEY = "csv_index"  # info key of the unnamed first (index) column
_FIELD_LIMIT = 1 << 26  # characters in one CSV cell
IDENTIFIER_KEYS = frozenset({"material_id", "formula"})  # info keys that stay strings
_READER_KEYS = frozenset({"source", "index", "cif_block", INDEX_INFO_KEY})


def parse_value(text: str) -> int | float | str:
    """'3' -> 3, '2.5' / 'nan' -> float, anything else stays a string."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def iter_cdvae_csv_text(text: str) -> Iterator[Atoms | InvalidStructureError]:
    """Yield one Atoms per data row, or that row's InvalidStructureError (index = data row).

    Raises InvalidStructureError (file level, no index) when the header has no ``cif`` column.
    """
    if csv.field_size_limit() < _FIELD_LIMIT:  # a CIF of a large cell exceeds csv's 128 kB
        csv.field_size_limit(_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidStructureError("CSV file has no header line") from None
    except csv.Error as exc:
        raise InvalidStructureError(f"CSV header could not be read: {exc}") from exc
    if CIF_COLUMN not in header:
        raise InvalidStructureError(
            f"CSV has no '{CIF_COLUMN}' column (columns: {', '.join(map(repr, header))})",
            field=CIF_COLUMN,
        )
    cif_at = header.index(CIF_COLUMN)
    row = 0
    while True:
        line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield InvalidStructureError(f"CSV line {line}: {exc}", index=row)
            return
        if not fields:  # blank line
            continue
        yield _row_to_atoms(header, fields, cif_at, row, line)
        row += 1


def _row_to_atoms(
    header: list[str], fields: list[str], cif_at: int, row: int, line: int
) -> Atoms | InvalidStructureError:
    if len(fields) != len(header):
        missing = header[len(fields) :]
        detail = f" (no value for {', '.join(map(repr, missing))})" if missing else ""
        return InvalidStructureError(
            f"CSV line {line}: row has {len(fields)} fields but the header has "
            f"{len(header)}{detail}",
            index=row,
            field=missing[0] if missing else None,
        )
    cif_text = fields[cif_at]
    if not cif_text.strip():
        return InvalidStructureError(
            f"CSV line {line}: the cif cell is empty", index=row, field=CIF_COLUMN
        )
    try:
        atoms = parse_cif(cif_text)
    except InvalidStructureError as exc:
        return InvalidStructureError(
            f"CSV line {line}: {exc.problem}", index=row, atom=exc.atom, field=CIF_COLUMN
        )
    for name, value in zip(header, fields, strict=True):
        if name == CIF_COLUMN or value == "":
            continue
        key = name if name else INDEX_INFO_KEY
        atoms.info[key] = value if key in IDENTIFIER_KEYS else parse_value(value)
    return atoms


def write_cdvae_csv(structures: Sequence[Atoms], path: str | Path) -> None:
    """Write a CDVAE CSV: index column, ``material_id``, ``cif``, then scalar info columns.

    The index column takes ``info["csv_index"]`` where present (else the row number);
    ``material_id`` defaults to the row number. Info keys set by the readers (source, index,
    cif_block) are not written; non-scalar info values are skipped.
    """
    columns: dict[str, None] = {}
    for atoms in structures:
        for key, value in atoms.info.items():
            if key not in _READER_KEYS and key != "material_id" and _is_scalar(value):
                columns.setdefault(str(key), None)
    extra = list(columns)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", "material_id", CIF_COLUMN, *extra])
        for k, atoms in enumerate(structures):
            info = atoms.info
            cells: list[Any] = [
                info.get(INDEX_INFO_KEY, k),
                info.get("material_id", k),
                atoms_to_cif(atoms),
            ]
            cells += [_cell(info.get(name)) for name in extra]
            writer.writerow(cells)


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool) or (
        hasattr(value, "item") and getattr(value, "ndim", 1) == 0
    )


def _cell(value: object) -> object:
    if value is None or not _is_scalar(value):
        return ""
    return value.item() if hasattr(value, "item") else value
