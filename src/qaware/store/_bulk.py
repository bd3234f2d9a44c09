"""Connection-level helpers of the store: one commit per transaction, fewer round trips.

ASE writes a row as seven statements (the ``systems`` row, its id, then species, keys and the
text/number key-value pairs), and the store looked each new structure hash up with one more
select. On PostgreSQL every statement is a round trip to the server, and on a busy machine a
round trip costs milliseconds, so adding 10,000 rows made ~80,000 of them (~680 rows/s idle,
~150 rows/s on a loaded 2-core machine: hours for 10^6 rows). Here the hashes of a whole batch
are looked up with a few ``IN (...)`` queries on ASE's own key-value table, and the per-row
inserts ASE issues are held back and sent at the end as one multi-row insert per table. On
PostgreSQL the ``systems`` rows are held back too: their ids are reserved from ASE's sequence
in one query and handed to ASE when it asks for the last id. ASE still builds every row (same
schema, same values); only the sending is batched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from qaware.store import keys as kv

__all__ = ["DeferredCommit", "buffered_inserts", "cached_table_names", "existing_ids"]

_HELD_BACK: Final[tuple[str, ...]] = (
    "INSERT INTO species ",
    "INSERT INTO keys ",
    "INSERT INTO text_key_values ",
    "INSERT INTO number_key_values ",
)
"""Inserts that only reference a ``systems`` row already written: safe to send later."""
_SYSTEMS_INSERT: Final[str] = "INSERT INTO systems VALUES (DEFAULT, "  # PostgreSQL's form
_LAST_ID: Final[str] = "SELECT last_value FROM systems_id_seq"
_CHUNK: Final[int] = 2_000  # rows per multi-row insert
_LOOKUP_CHUNK: Final[int] = 500  # hashes per IN (...) query

_EXISTING_SQL: Final[str] = f"""
SELECT h.value, MIN(h.id) FROM text_key_values h
JOIN text_key_values cam ON cam.id = h.id AND cam.key = '{kv.CAMPAIGN}' AND cam.value = ?
JOIN text_key_values knd ON knd.id = h.id AND knd.key = '{kv.KIND}' AND knd.value = ?
WHERE h.key = '{kv.STRUCTURE_HASH}' AND h.value IN ({{marks}}) GROUP BY h.value
"""


def existing_ids(db: Any, campaign: str, kind: str, hashes: Sequence[str]) -> dict[str, int]:
    """``{hash: smallest row id}`` of ``campaign``'s rows of ``kind`` among ``hashes``.

    db: an ase.db SQLite or PostgreSQL database inside a store transaction (both keep ASE's
    ``text_key_values`` table, indexed on (key, value) and id by the store).
    """
    found: dict[str, int] = {}
    unique = [kv.stored_hash(h) for h in dict.fromkeys(hashes)]
    with db.managed_connection() as con:
        cur = con.cursor()
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            cur.execute(_EXISTING_SQL.format(marks=", ".join("?" * len(chunk))),
                        (campaign, kind, *chunk))  # fmt: skip
            found.update({kv.read_hash(h): int(i) for h, i in cur.fetchall()})
    return found


class DeferredCommit:
    """A DB-API connection whose ``commit()`` (ASE's, every 5,000 changes) does nothing."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def commit(self) -> None:  # CampaignStore._transaction commits once, at the end
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


@contextmanager
def cached_table_names(db: Any) -> Iterator[None]:
    """Ask ``db`` for its external table names once for a whole block.

    ASE asks with one query per row it reads (a round trip per row on PostgreSQL: reading 10^4
    candidates took 26 s on a loaded machine). The store never creates external tables, so the
    answer at the start of a transaction holds to its end.
    """
    names = list(db._get_external_table_names())
    db._get_external_table_names = lambda db_con=None: list(names)
    try:
        yield
    finally:
        del db._get_external_table_names


@contextmanager
def buffered_inserts(db: Any, *, reserve_ids: int = 0) -> Iterator[None]:
    """Hold back ASE's per-row inserts on ``db`` and send them, one multi-row insert per table,
    when the block ends without error.

    Only for blocks that write rows and read none of those tables until the end (held-back rows
    are invisible to queries in between). ``db.connection`` must be the store's open transaction
    connection; it is restored on exit. reserve_ids: on PostgreSQL, how many ``systems`` rows
    the block will write (their ids are taken from the sequence now, so those inserts can wait
    too); 0 sends each ``systems`` insert at once (SQLite: in-process, nothing to gain).
    """
    con = db.connection
    held = _HoldingConnection(con)
    if reserve_ids:
        held.reserve(reserve_ids)
    db.connection = held
    try:
        yield
        held.flush()
    finally:
        db.connection = con


class _HoldingConnection:
    """A DB-API connection whose cursors keep the held-back inserts for :meth:`flush`."""

    def __init__(self, con: Any) -> None:
        self._con = con
        self.pending: dict[str, list[tuple[Any, ...]]] = {}
        self.systems: list[tuple[Any, ...]] = []  # (id, *values) of held-back systems rows
        self.ids: list[int] = []  # reserved, not yet used (PostgreSQL)

    def reserve(self, n: int) -> None:
        cur = self._con.cursor()
        cur.execute(f"SELECT nextval('systems_id_seq') FROM generate_series(1, {int(n)})")
        self.ids = sorted(int(r[0]) for r in cur.fetchall())[::-1]  # pop() gives the smallest

    def cursor(self) -> _HoldingCursor:
        return _HoldingCursor(self._con.cursor(), self)

    def flush(self) -> None:
        cur = self._con.cursor()
        if self.systems:  # first: the other tables' rows reference these ids
            from psycopg2.extras import execute_values

            raw = cur.cur  # ase_db_backends' wrapper would look for DEFAULT in the statement
            for start in range(0, len(self.systems), _CHUNK):
                chunk = self.systems[start : start + _CHUNK]
                execute_values(raw, "INSERT INTO systems VALUES %s", chunk, page_size=_CHUNK)
            self.systems.clear()
        for sql, rows in self.pending.items():
            for start in range(0, len(rows), _CHUNK):
                cur.executemany(sql, rows[start : start + _CHUNK])
        self.pending.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class _HoldingCursor:
    def __init__(self, cur: Any, held: _HoldingConnection) -> None:
        self._cur, self._held = cur, held
        self._answer: tuple[int] | None = None

    def execute(self, sql: str, *args: Any) -> None:
        held = self._held
        if held.ids and sql.startswith(_SYSTEMS_INSERT):
            held.systems.append((held.ids.pop(), *args[0]))
            return
        if held.systems and sql.strip() == _LAST_ID:
            self._answer = (held.systems[-1][0],)
            return
        self._answer = None
        self._cur.execute(sql, *args)

    def fetchone(self) -> Any:
        return self._answer if self._answer is not None else self._cur.fetchone()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if sql.startswith(_HELD_BACK):
            self._held.pending.setdefault(sql, []).extend(tuple(r) for r in rows)
        else:
            self._cur.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)
