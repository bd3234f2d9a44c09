"""The campaign store: candidates and oracle calls as rows of an ase.db (SQLite or PostgreSQL).

Rows are told apart by ``kind`` (schema in :mod:`.keys`): **candidate** rows (structure, cycle,
status, hash unique per campaign, score fields) and **call** rows (one per oracle-call key, with
the full OracleResult in the row's data and an ok result's energy/forces/stress also as a
SinglePointCalculator, so ``ase db campaign.db`` shows them).

**Only the driver process writes** (from one thread: a store object is not thread-safe);
workers hand results back to it; no locking beyond the database's own. Every public method is
one transaction, committed before it returns. Single-row lookups select by one indexed key and
filter in Python: a selection on several keys makes SQLite materialise each key's id list.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ase import Atoms
from ase.db.core import check as ase_check_keys

from qaware.errors import InvalidStructureError, MissingDependencyError, StoreError
from qaware.faults import crash_point
from qaware.oracles.result import OracleResult
from qaware.protocols import CandidateRecord
from qaware.store import keys as kv
from qaware.store._bulk import (
    DeferredCommit,
    buffered_inserts,
    cached_table_names,
    existing_ids,
)
from qaware.store.keys import CallRecord
from qaware.store.states import CallStatus, CandidateStatus, check_transition
from qaware.structures.hashing import structure_hash

__all__ = ["CallRecord", "CampaignStore"]


class CampaignStore:
    """Persistent state of one campaign in an ase.db (implements :class:`qaware.Store`).

    url:      path of an SQLite file (created if missing), or ``postgresql://user@host:port/db``
              (needs the ``postgres`` extra; put the password in ~/.pgpass, not in the URL).
    campaign: name of this campaign's rows; several campaigns may share one database.
    """

    def __init__(self, url: str | Path, *, campaign: str = "default") -> None:
        self.url, self.campaign, self._closed = str(url), campaign, False
        self._raw: Any = None  # the open DB-API connection, made on first use
        self._pid = os.getpid()
        self.is_postgres = self.url.startswith(("postgresql://", "postgres://"))
        try:
            ase_check_keys({kv.CAMPAIGN: campaign})
        except ValueError as err:
            raise StoreError(f"bad campaign name {campaign!r}: {err}") from None
        self._db = _connect(self.url, self.is_postgres)
        try:
            with self._transaction() as db, db.managed_connection() as con:
                cur = con.cursor()
                for sql in kv.SQL_INDEXES + (kv.POSTGRES_INDEXES if self.is_postgres else ()):
                    cur.execute(sql)
        except Exception as err:
            raise StoreError(f"cannot open campaign store {self}: {err}") from err

    def __repr__(self) -> str:
        safe = re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", self.url)  # hide a password
        return f"CampaignStore({safe!r}, campaign={self.campaign!r})"

    def __enter__(self) -> CampaignStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection and block further use."""
        self._closed = True
        if self._raw is not None:
            self._raw, raw = None, self._raw
            raw.close()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """One transaction on the store's connection: committed at exit, discarded on error (ASE's
        ``with db:`` connects per block, commits every 5,000 changes, can't roll back on PG)."""
        if self._closed:
            raise StoreError(f"{self} is closed")
        if self._raw is None or self._pid != os.getpid():  # never share one across a fork
            self._raw, self._pid = self._db._connect(), os.getpid()
        db, raw = self._db, self._raw
        db.connection, db.change_count = DeferredCommit(raw), 0
        try:
            with cached_table_names(db):  # ASE asks once per row read otherwise
                yield db
            if db.change_count:  # rows written, not yet committed: a kill here must lose them
                crash_point("write")
            raw.commit()
        except BaseException as err:
            self._raw = None
            raw.close()  # discards the transaction; the next call reconnects
            if isinstance(err, ValueError):  # ase.db refused a key or value
                raise StoreError(f"{self}: {err}") from err
            raise
        finally:
            db.connection = None

    def _mine(self, row: Any, kind: str) -> bool:
        return row.get(kv.KIND) == kind and row.get(kv.CAMPAIGN) == self.campaign

    def _by_key(self, db: Any, key: str, value: str, kind: str, **options: Any) -> list[Any]:
        """This campaign's rows of ``kind`` with ``key == value`` (one-key indexed select)."""
        return [r for r in db.select(**{key: value}, **options) if self._mine(r, kind)]

    def _rows(self, db: Any, sel: dict[str, Any]) -> list[Any]:
        """Rows matching ``sel``, selected in SQL on its most selective key only: ASE on SQLite
        reads every row's id per key (1.4 s for 10 selected rows among 10^5 candidates)."""
        key = next(k for k in (kv.STATUS, kv.LEVEL, kv.CYCLE, kv.KIND) if k in sel)
        return [
            r for r in db.select(**{key: sel[key]}) if all(r.get(k) == v for k, v in sel.items())
        ]

    def _selection(self, kind: str, **more: Any) -> dict[str, Any]:
        sel = {kv.KIND: kind, kv.CAMPAIGN: self.campaign}
        sel.update({k: v for k, v in more.items() if v is not None})
        return sel

    # ---- candidates -------------------------------------------------------------------------
    def add_candidates(
        self,
        structures: Sequence[Atoms],
        *,
        cycle: int,
        origin: str = "",
        hashes: Sequence[str] | None = None,
    ) -> list[int]:
        """Store new candidates (status ``generated``) and return one row id per structure.

        A structure whose hash this campaign already holds (or that repeats within the batch)
        gets the existing id and no new row. All new rows are written in one transaction.
        hashes: ``structure_hash`` of each structure when the caller has them already (the
        screening step does); trusted as given. None computes them here (~6 ms per 5-atom cell).
        """
        if int(cycle) != cycle or cycle < 0:
            raise StoreError(f"cycle must be a non-negative integer, got {cycle!r}")
        if hashes is None:
            hashes = [_hash(atoms, i) for i, atoms in enumerate(structures)]
        elif len(hashes) != len(structures):
            raise StoreError(f"{len(hashes)} hashes for {len(structures)} structures")
        with self._transaction() as db:  # batched sends: _bulk.py says why
            ids = existing_ids(db, self.campaign, kv.KIND_CANDIDATE, hashes)
            new = len(set(hashes) - set(ids)) if self.is_postgres else 0
            with buffered_inserts(db, reserve_ids=new):
                for h, atoms in zip(hashes, structures, strict=True):
                    if h not in ids:
                        kvp = self._selection(kv.KIND_CANDIDATE, cycle=int(cycle))
                        kvp[kv.STATUS] = str(CandidateStatus.GENERATED)
                        kvp[kv.STRUCTURE_HASH] = kv.stored_hash(h)
                        kvp[kv.ORIGIN] = origin
                        ids[h] = db.write(_bare(atoms), key_value_pairs=kvp)
        return [ids[h] for h in hashes]

    def set_status(
        self,
        ids: Sequence[int],
        status: str,
        *,
        fields: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Move candidates ``ids`` to ``status``, adding ``fields`` (key-value pairs) and ``data``.

        All transitions are checked first: one illegal edge raises StateTransitionError and no
        row changes. ``fields``: indexed scalars, e.g. ``{"D_signed": 0.31, "e_form_PBE": -1.2}``;
        ``data`` is merged into the row's data (arrays, nested things).
        """
        kvp = kv.check_fields(fields or {})
        with self._transaction() as db:
            rows = [self._candidate_row(db, i) for i in dict.fromkeys(int(i) for i in ids)]
            new = [check_transition(r.status, status, candidate=r.id) for r in rows]
            for row, new_status in zip(rows, new, strict=True):
                db.update(row.id, data=data and dict(data), **kvp, status=str(new_status))

    def update_candidates(
        self, ids: Sequence[int], status: str | None, fields: Sequence[Mapping[str, Any]]
    ) -> None:
        """One ``fields`` mapping per id in one transaction, moving the rows to ``status`` (None:
        keep it). Every transition and field is checked before any row changes."""
        if len(fields) != len(ids):
            raise StoreError(f"update_candidates: {len(fields)} field sets for {len(ids)} ids")
        if len(set(int(i) for i in ids)) != len(ids):
            raise StoreError("update_candidates: repeated candidate id")
        checked = [kv.check_fields(f) for f in fields]
        with self._transaction() as db:
            rows = [self._candidate_row(db, int(i)) for i in ids]
            new = [r.status if status is None else check_transition(r.status, status,
                   candidate=r.id) for r in rows]  # fmt: skip
            for row, new_status, kvp in zip(rows, new, checked, strict=True):
                db.update(row.id, **kvp, status=str(new_status))

    def annotate_candidates(self, ids: Sequence[int], fields: Sequence[Mapping[str, Any]]) -> None:
        """:meth:`update_candidates` without a status change."""
        self.update_candidates(ids, None, fields)

    def get(self, candidate_id: int) -> CandidateRecord:
        """The candidate row ``candidate_id`` of this campaign (StoreError if there is none)."""
        with self._transaction() as db:
            return kv.candidate_record(self._candidate_row(db, candidate_id))

    def candidate_elements(self) -> tuple[frozenset[str], bool]:
        """(chemical symbols, whether every structure is periodic) over this campaign's
        candidates, read from the rows' numbers and pbc only: building every candidate's Atoms
        to learn this took 300 s and 4 GB at 10^6 rows."""
        columns = ["id", "numbers", "pbc", "key_value_pairs"]
        with self._transaction() as db:
            rows = self._by_key(db, kv.KIND, kv.KIND_CANDIDATE, kv.KIND_CANDIDATE,
                                columns=columns, include_data=False)  # fmt: skip
        return kv.elements_and_periodicity(rows)

    def candidates(
        self, *, status: str | None = None, cycle: int | None = None
    ) -> Iterator[CandidateRecord]:
        """This campaign's candidates, oldest first, optionally of one status and/or cycle.

        The rows are read in one go, so the caller may write to the store while iterating.
        """
        sel = self._selection(kv.KIND_CANDIDATE, status=_status(status), cycle=cycle)
        with self._transaction() as db:
            rows = self._rows(db, sel)
        for row in sorted(rows, key=lambda r: r.id):
            yield kv.candidate_record(row)

    def count(self, *, status: str | None = None, cycle: int | None = None) -> int:
        """Number of this campaign's candidates, optionally of one status and/or cycle."""
        sel = self._selection(kv.KIND_CANDIDATE, status=_status(status), cycle=cycle)
        with self._transaction() as db:
            return int(db.count(**sel))

    def summary(self) -> dict[int, dict[str, int]]:
        """``{cycle: {status: count}}`` over every status (zeros included), cycles in order.

        Counted in SQL on ASE's key-value tables (both backends keep them): reading 100k rows
        through ``select`` takes seconds.
        """
        with self._transaction() as db, db.managed_connection() as con:
            cur = con.cursor()
            cur.execute(kv.SUMMARY_SQL, (self.campaign, kv.KIND_CANDIDATE))
            counts = Counter({(int(c), str(s)): int(n) for c, s, n in cur.fetchall()})
        cycles = sorted({c for c, _ in counts})
        return {c: {str(s): counts[c, str(s)] for s in CandidateStatus} for c in cycles}

    def _candidate_row(self, db: Any, candidate_id: int) -> Any:
        row = next(iter(db.select(id=int(candidate_id))), None)
        if row is None or not self._mine(row, kv.KIND_CANDIDATE):
            raise StoreError(f"{self}: no candidate row with id {candidate_id}")
        return row

    # ---- oracle calls -----------------------------------------------------------------------
    def begin_call(
        self,
        candidate_id: int | None,
        atoms: Atoms,
        *,
        oracle_key: str,
        level: str,
        handle: str = "",
    ) -> int:
        """Record that the call ``oracle_key`` was handed to an executor; return the call row id.

        ``handle`` is the executor's job id, kept to re-attach after a restart. A key that is
        already submitted or failed is resubmitted on the same row (``attempt`` + 1); a ``done``
        key raises StoreError: its result is truth and is never recomputed.
        """
        shash = structure_hash(atoms) if candidate_id is None else ""
        with self._transaction() as db:
            if candidate_id is not None:  # the call serves that row: use its hash
                shash = kv.read_hash(self._candidate_row(db, candidate_id).shash)
            rows = self._by_key(db, kv.ORACLE_KEY, oracle_key, kv.KIND_CALL)
            if rows:
                row = rows[0]
                if row.status == CallStatus.DONE:
                    raise StoreError(f"{self}: oracle call {oracle_key} is done: never recompute")
                kvp = {kv.STATUS: str(CallStatus.SUBMITTED), kv.ATTEMPT: int(row.attempt) + 1}
                db.update(row.id, data={kv.DATA_HANDLE: handle}, **kvp)
                return int(row.id)
            kvp = self._call_kvp(oracle_key, level, candidate_id, shash)
            kvp.update({kv.STATUS: str(CallStatus.SUBMITTED), kv.ATTEMPT: 1})
            return db.write(_bare(atoms), key_value_pairs=kvp, data={kv.DATA_HANDLE: handle})

    def set_call_handle(self, call_id: int, handle: str) -> None:
        """Attach the executor's job id to a submitted call (known only after the submit that
        :meth:`begin_call` must precede), so a restarted driver can re-attach to the job."""
        with self._transaction() as db:
            row = db.get(id=int(call_id))
            if not self._mine(row, kv.KIND_CALL):
                raise StoreError(f"{self}: row {call_id} is not an oracle call of this campaign")
            db.update(row.id, data={kv.DATA_HANDLE: str(handle)})

    def record_result(
        self, candidate_id: int | None, oracle_key: str, result: OracleResult
    ) -> None:
        """Store ``result`` on the call row ``oracle_key`` (created from the candidate if absent).

        Status becomes ``done`` if ``result.ok``, else ``failed``; a result for a failed call is
        a new attempt. Refused: a ``done`` key, another level, or a settings hash whose key for
        the row's structure is not ``oracle_key``.
        """
        status = CallStatus.DONE if result.ok else CallStatus.FAILED
        with self._transaction() as db:
            rows = self._by_key(db, kv.ORACLE_KEY, oracle_key, kv.KIND_CALL)
            if rows:
                row = rows[0]
                if row.status == CallStatus.DONE:
                    raise StoreError(f"{self}: oracle call {oracle_key} (row {row.id}) is done")
                shash, level, call_id = kv.read_hash(row.shash), row.level, int(row.id)
                attempt = int(row.attempt) + (row.status == CallStatus.FAILED)
                atoms = row.toatoms()
            else:
                if candidate_id is None:
                    raise StoreError(
                        f"{self}: no call row {oracle_key} and no candidate to make one from"
                    )
                cand = self._candidate_row(db, candidate_id)
                shash, level, call_id, attempt = kv.read_hash(cand.shash), result.level, None, 1
                atoms = cand.toatoms()
            if result.level != level:
                raise StoreError(f"{self}: call {oracle_key} is '{level}', not '{result.level}'")
            settings = result.settings_hash
            if settings and kv.oracle_call_key(shash, settings) != oracle_key:
                raise StoreError(f"{self}: {oracle_key} is not the key of {shash} + {settings}")
            atoms = kv.call_atoms(atoms, result, oracle_key)
            kvp = self._call_kvp(oracle_key, level, candidate_id, shash)
            kvp.update({kv.STATUS: str(status), kv.ATTEMPT: attempt})
            data = {kv.DATA_RESULT: result.to_dict()}
            if call_id is None:
                db.write(atoms, key_value_pairs=kvp, data={**data, kv.DATA_HANDLE: ""})
            else:
                db.update(call_id, atoms=atoms, data=data, **kvp)

    def find_result(self, oracle_key: str) -> OracleResult | None:
        """The stored result of ``oracle_key`` if that call is ``done`` (a failure is no truth)."""
        with self._transaction() as db:
            rows = self._by_key(db, kv.ORACLE_KEY, oracle_key, kv.KIND_CALL)
        done = [r for r in rows if r.status == CallStatus.DONE]
        return OracleResult.from_dict(done[0].data[kv.DATA_RESULT]) if done else None

    def calls(self, *, status: str | None = None, level: str | None = None) -> Iterator[CallRecord]:
        """This campaign's oracle-call rows, oldest first, optionally of one status and/or level."""
        status = None if status is None else str(CallStatus(status))
        with self._transaction() as db:
            rows = self._rows(db, self._selection(kv.KIND_CALL, status=status, level=level))
        for row in sorted(rows, key=lambda r: r.id):
            yield kv.call_record(row)

    def _call_kvp(
        self, oracle_key: str, level: str, candidate_id: int | None, shash: str
    ) -> dict[str, Any]:
        kvp = self._selection(kv.KIND_CALL)
        kvp.update({kv.ORACLE_KEY: oracle_key, kv.LEVEL: level})
        kvp[kv.STRUCTURE_HASH] = kv.stored_hash(shash)
        if candidate_id is not None:
            kvp[kv.CANDIDATE_ID] = int(candidate_id)
        return kvp


def _connect(url: str, postgres: bool) -> Any:
    """An ase.db handle: PostgreSQL for a URL, else an SQLite file (no lock file: one writer)."""
    import ase.db

    if postgres:
        for module, package in (("ase_db_backends", "ase-db-backends"), ("psycopg2", "psycopg2")):
            if importlib.util.find_spec(module) is None:
                raise MissingDependencyError(package, "postgres", "A PostgreSQL campaign store")
        return ase.db.connect(url, type="postgresql")
    path = Path(url).expanduser()
    if not path.parent.is_dir():
        raise StoreError(f"{path}: directory {path.parent} does not exist")
    return ase.db.connect(str(path), type="db", use_lock_file=False)


def _bare(atoms: Atoms) -> Atoms:  # rows hold structures; Atoms.copy() drops the calculator
    return atoms if atoms.calc is None else atoms.copy()


def _hash(atoms: Atoms, index: int) -> str:
    try:
        return structure_hash(atoms)
    except InvalidStructureError as err:
        raise err.located(source="add_candidates", index=index) from err


def _status(status: str | None) -> str | None:
    return None if status is None else str(CandidateStatus(status))
