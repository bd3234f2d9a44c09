"""Extended XYZ (ASE's dialect) <-> ase.Atoms, frame by frame.

The file is cut into frames here (count line, comment line, that many atom lines) and each frame
is handed to ``ase.io.extxyz``, so a broken frame is one bad item whose error names the frame
(``index``, 0-based) and the rest still read. A count line that is not an integer, or a file
that ends inside a frame, leaves nothing after it that can be trusted: it ends the file.
Identifiers (``material_id``, ``formula``) are read back as strings, whatever they look
like. Writing keeps ``atoms.info``, per-atom arrays (forces, ...) and calculator results.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from ase import Atoms

from qaware.errors import InvalidStructureError
from qaware.structures.cdvae_csv import IDENTIFIER_KEYS

__all__ = ["iter_extxyz_text", "read_extxyz_file", "write_extxyz"]


def iter_extxyz_text(text: str) -> Iterator[Atoms | InvalidStructureError]:
    """Yield one Atoms per frame, or that frame's InvalidStructureError (index = frame)."""
    from ase.io.extxyz import read_extxyz

    lines = text.splitlines()
    pos, frame = 0, 0
    while pos < len(lines):
        if not lines[pos].strip():  # blank lines between or after frames
            pos += 1
            continue
        head = lines[pos].strip()
        try:
            natoms = int(head.split()[0])
            if natoms < 0:
                raise ValueError(head)
        except ValueError:
            yield InvalidStructureError(
                f"line {pos + 1} should give the number of atoms of the frame, found {head[:40]!r}",
                index=frame,
            )
            return
        end = pos + 2 + natoms
        if end > len(lines):
            got = max(len(lines) - pos - 2, 0)
            yield InvalidStructureError(
                f"file is truncated: frame declares {natoms} atoms but only {got} atom lines "
                f"follow (line {pos + 1})",
                index=frame,
            )
            return
        chunk = "\n".join(lines[pos:end]) + "\n"
        try:
            atoms = next(read_extxyz(io.StringIO(chunk), index=0))
        except Exception as exc:
            yield _frame_error(exc, lines[pos + 2 : end], pos, frame)
        else:
            for key in IDENTIFIER_KEYS & atoms.info.keys():  # ASE reads material_id=18517 as int
                atoms.info[key] = str(atoms.info[key])
            yield atoms
        pos, frame = end, frame + 1


def _frame_error(
    exc: Exception, atom_lines: list[str], pos: int, frame: int
) -> InvalidStructureError:
    """Name the atom line with an unknown element symbol, else pass ASE's complaint on."""
    from ase.data import chemical_symbols

    if isinstance(exc, KeyError):
        for k, line in enumerate(atom_lines):
            symbol = line.split()[0] if line.split() else ""
            if symbol not in chemical_symbols[1:]:
                return InvalidStructureError(
                    f"unknown element symbol {symbol!r} on line {pos + 3 + k}", index=frame, atom=k
                )
    problem = " ".join(str(exc).split()) or type(exc).__name__
    return InvalidStructureError(
        f"frame starting at line {pos + 1} could not be parsed: {problem}", index=frame
    )


def read_extxyz_file(path: str | Path) -> list[Atoms]:
    """Every frame of an extxyz file, plain or compressed (``.gz``, ``.bz2``, ``.xz``).

    The same frames as ``ase.io.read(path, ":", format="extxyz")``, but the file is decompressed
    into memory first: ASE's reader seeks back to each frame, and every backward seek in a gzip
    stream decompresses it again from the start, so a 2,235-frame ``.extxyz.gz`` took 30 s
    instead of 1 s (time quadratic in the number of frames). Errors are ASE's.
    """
    from ase.io.extxyz import read_extxyz
    from ase.io.formats import open_with_compression

    with open_with_compression(str(path), "r") as handle:
        text = handle.read()
    return list(read_extxyz(io.StringIO(text), index=slice(None)))


def write_extxyz(structures: Sequence[Atoms], path: str | Path) -> None:
    """Write all frames to ``path`` (info, arrays and calculator results kept)."""
    from ase.io import write

    write(str(path), list(structures), format="extxyz")
