"""store_text: a SQLite store as diff-friendly text that loads back row for row, bit for bit."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from qaware.datasets.store_text import IDS_PER_FILE, dump_store, load_store, same_rows

SCHEMA = """
CREATE TABLE systems (id INTEGER PRIMARY KEY AUTOINCREMENT, energy REAL, data BLOB, note TEXT);
CREATE TABLE keys (key TEXT, value REAL, id INTEGER);
CREATE TABLE information (name TEXT, value TEXT);
CREATE INDEX keys_id ON keys (id);
"""


def _store(path: Path, n: int) -> Path:
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    for i in range(n):
        energy = [0.1 + 0.2, -1e-300, 1 / 3, math.nan, None][i % 5]
        con.execute(
            "INSERT INTO systems (energy, data, note) VALUES (?, ?, ?)",
            (energy, bytes(range(i % 256)) or None, f'row {i} ünïcode\n"q"'),
        )
        con.execute("INSERT INTO keys VALUES (?, ?, ?)", ("k", float(i) / 7, i + 1))
    con.execute("INSERT INTO information VALUES ('version', '10')")
    con.commit()
    con.close()
    return path


def _rows(db: Path, table: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(f"SELECT rowid, * FROM {table} ORDER BY rowid").fetchall()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_round_trip_keeps_every_row_rowid_float_and_blob(tmp_path):
    db = _store(tmp_path / "a.db", 2 * IDS_PER_FILE + 5)
    with sqlite3.connect(db) as con:  # gaps in the rowids and a deleted last row
        con.execute("DELETE FROM systems WHERE id IN (3, 4, ?)", (2 * IDS_PER_FILE + 5,))
        con.execute("DELETE FROM keys WHERE rowid = 2")
    text = dump_store(db, tmp_path / "text")
    back = load_store(text, tmp_path / "b.db")
    for table in ("systems", "keys", "information"):
        a, b = _rows(db, table), _rows(back, table)
        assert len(a) == len(b) and a, table
        for x, y in zip(a, b, strict=True):  # NaN != NaN: compare representations
            assert repr(x) == repr(y), table
    with sqlite3.connect(db) as a, sqlite3.connect(back) as b:
        assert same_rows(a, b)
        assert (
            a.execute("SELECT seq FROM sqlite_sequence").fetchall()
            == b.execute("SELECT seq FROM sqlite_sequence").fetchall()
        )  # AUTOINCREMENT goes on after the deleted last row, not over it
        (index,) = b.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchone()
        assert index == "keys_id"


def test_same_store_same_bytes_and_a_new_row_touches_only_the_last_block(tmp_path):
    db = _store(tmp_path / "a.db", 2 * IDS_PER_FILE + 5)
    first = _files(dump_store(db, tmp_path / "one"))
    assert _files(dump_store(db, tmp_path / "two")) == first
    assert "systems.0002.jsonl" in first and len(first) >= 7
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO systems (energy) VALUES (1.5)")
        con.execute("INSERT INTO keys VALUES ('k', 2.0, ?)", (2 * IDS_PER_FILE + 6,))
    changed = _files(dump_store(db, tmp_path / "three"))
    differ = {name for name in changed if changed[name] != first.get(name)}
    assert differ == {"systems.0002.jsonl", "keys.0002.jsonl", "sqlite_sequence.jsonl"}


def test_refuses_to_overwrite_and_cleans_up_a_failed_load(tmp_path):
    db = _store(tmp_path / "a.db", 3)
    text = dump_store(db, tmp_path / "text")
    with pytest.raises(FileExistsError, match="never overwritten"):
        load_store(text, db)
    with pytest.raises(FileExistsError):
        dump_store(db, text)  # an existing folder is not mixed into
    (text / "systems.0000.jsonl").write_text('[1, 1, 0.5, null, "a"]\n[1, 1, 2.0, null, "dup"]\n')
    with pytest.raises(sqlite3.IntegrityError) as failed:  # the same id twice
        load_store(text, tmp_path / "broken.db")
    assert "systems.0000.jsonl" in "".join(failed.value.__notes__)
    assert not (tmp_path / "broken.db").exists()
    with pytest.raises(FileNotFoundError, match=r"schema\.sql"):
        load_store(tmp_path, tmp_path / "c.db")
