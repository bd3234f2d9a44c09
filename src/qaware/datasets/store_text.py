"""An SQLite store as text files that git stores as deltas: a committed snapshot grows the
repository by what changed since the last one, not by the whole store again.

A gzipped database is a new opaque blob every time (Track X: ~2 MB per snapshot, which would
fill the ~50 MB repository budget after a dozen snapshots); the same store as sorted text lines
costs ~2 MB once and then only its new rows (a few kB per result).

Layout of the folder written by :func:`dump_store`:

* ``schema.sql``: the ``CREATE`` statements of the tables and indexes, in the database's order.
* ``<table>.<block>.jsonl``: one JSON array per row, ordered by rowid, in blocks of
  :data:`IDS_PER_FILE` values of the table's ``id`` column (ASE's ``systems`` and the key
  tables that point at it; the rowid for a table without ``id``). A new result appends to the
  last block; updating an old row rewrites a line of its own block. The first element is the
  rowid; floats are written with Python's round-trip ``repr``, blobs as ``{"b64": ...}``.
* ``sqlite_sequence.jsonl``: the AUTOINCREMENT counters.

:func:`load_store` rebuilds a database whose every table holds the same rows with the same
rowids; :func:`dump_store` checks that before it returns.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["IDS_PER_FILE", "dump_store", "load_store", "same_rows"]

IDS_PER_FILE = 400  # Track X: ~1.5 MB per block of the systems table
_SCHEMA, _SEQUENCE = "schema.sql", "sqlite_sequence.jsonl"


def _tables(con: sqlite3.Connection) -> list[str]:
    rows = con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY rowid"
    )
    return [name for (name,) in rows]


def _integer_key(con: sqlite3.Connection, table: str) -> bool:
    """Whether ``table`` has an INTEGER PRIMARY KEY (then it *is* the rowid, stored with the
    row's columns)."""
    info = con.execute(f'PRAGMA table_info("{table}")').fetchall()
    keys = [row for row in info if row[5]]
    return len(keys) == 1 and keys[0][2].upper() == "INTEGER"


def _select(con: sqlite3.Connection, table: str) -> Iterator[tuple[Any, ...]]:
    """(rowid, *columns) of every row, in rowid order."""
    yield from con.execute(f'SELECT rowid, * FROM "{table}" ORDER BY rowid')


def _encode(value: Any) -> Any:
    return {"b64": base64.b64encode(value).decode()} if isinstance(value, bytes) else value


def _decode(value: Any) -> Any:
    return base64.b64decode(value["b64"]) if isinstance(value, dict) else value


def same_rows(a: sqlite3.Connection, b: sqlite3.Connection) -> bool:
    """Whether every table of ``a`` and ``b`` holds the same rows with the same rowids."""
    if _tables(a) != _tables(b) or _sequence(a) != _sequence(b):
        return False
    return all(list(_select(a, t)) == list(_select(b, t)) for t in _tables(a))


def _sequence(con: sqlite3.Connection) -> list[tuple[str, int]]:
    """The AUTOINCREMENT counters (empty when no table uses AUTOINCREMENT)."""
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        return con.execute("SELECT name, seq FROM sqlite_sequence ORDER BY name").fetchall()
    return []


def dump_store(db: str | Path, folder: str | Path) -> Path:
    """Write SQLite database ``db`` as text into ``folder`` (created; must not exist), then
    check that :func:`load_store` gives back the same rows. Same database, same bytes."""
    db, folder = Path(db), Path(folder)
    folder.mkdir(parents=True)
    with sqlite3.connect(db) as con:
        schema = con.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "ORDER BY rowid"
        ).fetchall()
        (folder / _SCHEMA).write_text("".join(f"{sql};\n" for (sql,) in schema))
        for table in _tables(con):
            names = [row[1] for row in con.execute(f'PRAGMA table_info("{table}")')]
            at = 1 + names.index("id") if "id" in names else 0  # the block key in the row
            blocks: dict[int, list[str]] = {}
            for row in _select(con, table):
                line = json.dumps([_encode(v) for v in row], separators=(",", ":"))
                blocks.setdefault(int(row[at] or 0) // IDS_PER_FILE, []).append(line + "\n")
            for block, lines in blocks.items():
                (folder / f"{table}.{block:04d}.jsonl").write_text("".join(lines))
        sequence = _sequence(con)
        if sequence:
            (folder / _SEQUENCE).write_text("".join(json.dumps(list(r)) + "\n" for r in sequence))
    check = folder.with_name(folder.name + ".check.db")
    check.unlink(missing_ok=True)
    try:
        load_store(folder, check)
        with sqlite3.connect(db) as a, sqlite3.connect(check) as b:
            if not same_rows(a, b):
                raise RuntimeError(f"{folder}: the text copy of {db} does not load back equal")
    finally:
        check.unlink(missing_ok=True)
    return folder


def load_store(folder: str | Path, db: str | Path) -> Path:
    """Rebuild the SQLite database ``db`` (must not exist) from a :func:`dump_store` folder."""
    folder, db = Path(folder), Path(db)
    if not (folder / _SCHEMA).is_file():
        raise FileNotFoundError(f"{folder}: no {_SCHEMA}: not a store dumped as text")
    if db.exists():
        raise FileExistsError(f"{db} exists: a store is never overwritten")
    con = sqlite3.connect(db)
    try:
        con.executescript((folder / _SCHEMA).read_text())
        for table in _tables(con):
            # with an INTEGER PRIMARY KEY the key column carries the rowid; else set it apart
            skip = 1 if _integer_key(con, table) else 0
            names = [f'"{row[1]}"' for row in con.execute(f'PRAGMA table_info("{table}")')]
            names = names if skip else ["rowid", *names]
            marks = ", ".join("?" * len(names))
            insert = f'INSERT INTO "{table}" ({", ".join(names)}) VALUES ({marks})'
            for path in sorted(folder.glob(f"{table}.[0-9][0-9][0-9][0-9].jsonl")):
                with open(path) as lines:
                    rows = ([_decode(v) for v in json.loads(line)[skip:]] for line in lines)
                    try:
                        con.executemany(insert, rows)
                    except (ValueError, sqlite3.Error) as exc:  # JSONDecodeError is a ValueError
                        exc.add_note(f"while loading {path}")
                        raise
        if (folder / _SEQUENCE).is_file():
            con.execute("DELETE FROM sqlite_sequence")
            with open(folder / _SEQUENCE) as lines:
                con.executemany(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                    (json.loads(line) for line in lines),
                )
        con.commit()
    except BaseException:
        con.close()
        db.unlink(missing_ok=True)
        raise
    con.close()
    return db
