"""Schema of a campaign database: key names, rules for user fields, indexes, row records.

Every row carries ``kind`` (what the row is) and ``campaign`` (which run it belongs to, so that
several campaigns can share one PostgreSQL database). Key-value pairs are indexed, so they are
what selections use; bulky things (oracle results, handles, predictions) go into a row's
``data``. ASE refuses keys that are chemical symbols (``U``, ``S``...) and string values that
read as numbers, so per-level scores use names such as ``D_signed`` or ``e_form_PBE``.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from ase import Atoms

from qaware.errors import StoreError
from qaware.oracles.result import OracleResult
from qaware.protocols import CandidateRecord
from qaware.store.states import CallStatus

__all__ = [
    "ATTEMPT",
    "CAMPAIGN",
    "CANDIDATE_ID",
    "CYCLE",
    "DATA_HANDLE",
    "DATA_RESULT",
    "KIND",
    "KIND_CALL",
    "KIND_CANDIDATE",
    "LEVEL",
    "ORACLE_KEY",
    "ORIGIN",
    "POSTGRES_INDEXES",
    "RESERVED",
    "SQL_INDEXES",
    "STATUS",
    "STRUCTURE_HASH",
    "CallRecord",
    "call_atoms",
    "call_record",
    "candidate_record",
    "check_fields",
    "elements_and_periodicity",
    "oracle_call_key",
    "read_hash",
    "stored_hash",
]

# ---- on every row -------------------------------------------------------------------------
KIND: Final[str] = "kind"  # str: KIND_CANDIDATE | KIND_CALL
CAMPAIGN: Final[str] = "campaign"  # str: campaign name (a run directory's id)
STATUS: Final[str] = "status"  # str: CandidateStatus (candidates) or CallStatus (calls)
STRUCTURE_HASH: Final[str] = "shash"  # str: qaware.structures.hashing.structure_hash(atoms)

KIND_CANDIDATE: Final[str] = "candidate"
KIND_CALL: Final[str] = "call"

# ---- candidate rows -----------------------------------------------------------------------
CYCLE: Final[str] = "cycle"  # int: cycle in which the candidate was first generated
ORIGIN: Final[str] = "origin"  # str: who proposed it ("generator", "seed", a file name...)

# ---- oracle-call rows (and optionally candidate rows) -------------------------------------
ORACLE_KEY: Final[str] = "okey"  # str: oracle_call_key(structure hash, settings hash)
LEVEL: Final[str] = "level"  # str: fidelity name the call labels ("CCSD(T)", "PBE"...)
ATTEMPT: Final[str] = "attempt"  # int: 1 for the first submission, +1 per retry
CANDIDATE_ID: Final[str] = "cid"  # int: id of the candidate row the call serves (absent: none)

# ---- row data (not indexed) ---------------------------------------------------------------
DATA_RESULT: Final[str] = "result"  # OracleResult.to_dict() of the latest attempt
DATA_HANDLE: Final[str] = "handle"  # executor job id, for re-attaching after a restart

RESERVED: Final[frozenset[str]] = frozenset(
    {KIND, CAMPAIGN, STATUS, STRUCTURE_HASH, CYCLE, CANDIDATE_ID, ATTEMPT, "atoms", "delete_keys"}
)
"""Keys the store manages (and names of ase.db ``update()`` arguments): not for user fields."""

SQL_INDEXES: Final[tuple[str, ...]] = (
    # ASE indexes only `key` of its key-value tables: add (key, value) for selections, and `id`,
    # without which every ASE update (it deletes a row's pairs by id) scans the whole table.
    "CREATE INDEX IF NOT EXISTS qaware_text_kv ON text_key_values(key, value)",
    "CREATE INDEX IF NOT EXISTS qaware_number_kv ON number_key_values(key, value)",
    "CREATE INDEX IF NOT EXISTS qaware_text_id ON text_key_values(id)",
    "CREATE INDEX IF NOT EXISTS qaware_number_id ON number_key_values(id)",
    "CREATE INDEX IF NOT EXISTS qaware_keys_id ON keys(id)",
    "CREATE INDEX IF NOT EXISTS qaware_species_id ON species(id)",
)
"""Extra indexes for both backends (PostgreSQL keeps these tables too)."""

POSTGRES_INDEXES: Final[tuple[str, ...]] = tuple(
    f"CREATE INDEX IF NOT EXISTS qaware_kvp_{key} ON systems ((key_value_pairs {op} '{key}'))"
    for key, op in (
        (STRUCTURE_HASH, "->>"),
        (ORACLE_KEY, "->>"),
        (STATUS, "->>"),
        (CAMPAIGN, "->>"),
        (CYCLE, "->"),
    )
)
"""ASE selects on PostgreSQL with ``key_value_pairs ->> 'key' = value``: index those forms."""

SUMMARY_SQL: Final[str] = f"""
SELECT cyc.value, st.value, COUNT(*) FROM text_key_values st
JOIN number_key_values cyc ON cyc.id = st.id AND cyc.key = '{CYCLE}'
JOIN text_key_values cam ON cam.id = st.id AND cam.key = '{CAMPAIGN}' AND cam.value = ?
JOIN text_key_values knd ON knd.id = st.id AND knd.key = '{KIND}' AND knd.value = ?
WHERE st.key = '{STATUS}' GROUP BY cyc.value, st.value
"""
"""(cycle, status, count) of one campaign's rows of one kind; parameters (campaign, kind)."""


@dataclass
class CallRecord:
    """One oracle-call row. ``result`` is the latest attempt's outcome (None while submitted)."""

    id: int
    oracle_key: str
    level: str
    status: CallStatus
    attempt: int
    candidate_id: int | None
    structure_hash: str
    handle: str
    atoms: Atoms
    result: OracleResult | None


NUMERIC_HASH_PREFIX: Final[str] = "num:"
"""Marks a stored structure hash that would read as a number (see :func:`stored_hash`)."""


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def stored_hash(structure_hash: str) -> str:
    """The ``shash`` value stored for ``structure_hash``: the hash itself, or ``num:`` + the
    hash when it reads as a number (all digits with at most one ``e``: about 1 in 700,000 hex
    digests), which ASE refuses as a string value. :func:`read_hash` undoes it."""
    return NUMERIC_HASH_PREFIX + structure_hash if _numeric(structure_hash) else structure_hash


def read_hash(value: Any) -> str:
    """The structure hash behind a stored ``shash`` value (see :func:`stored_hash`)."""
    text = str(value)
    rest = text[len(NUMERIC_HASH_PREFIX) :]
    return rest if text.startswith(NUMERIC_HASH_PREFIX) and _numeric(rest) else text


def oracle_call_key(structure_hash: str, settings_hash: str) -> str:
    """Key of one oracle call: sha256 of the structure hash and the oracle's settings hash.

    Two calls with the same key would compute the same thing, so a ``done`` key is never
    recomputed. Returns 32 hex characters prefixed with ``k`` (ASE refuses string values
    that read as numbers, which an all-digit hex digest could).
    """
    if not structure_hash or not settings_hash:
        raise ValueError(
            f"oracle_call_key needs both hashes, got structure_hash={structure_hash!r}, "
            f"settings_hash={settings_hash!r}"
        )
    digest = hashlib.sha256(f"{structure_hash}|{settings_hash}".encode()).hexdigest()
    return "k" + digest[:32]


def check_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """User key-value pairs as plain Python scalars; StoreError naming a bad key or value.

    Allowed: bool, str, int and finite floats (numpy scalars are converted), under names that
    ase.db accepts and that are not :data:`RESERVED`.
    """
    from ase.db.core import check

    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key in RESERVED:
            raise StoreError(f"field '{key}' is managed by the store and cannot be set")
        if isinstance(value, bool | np.bool_):
            out[key] = bool(value)
        elif isinstance(value, str):
            out[key] = value
        elif isinstance(value, numbers.Integral):
            out[key] = int(value)
        elif isinstance(value, numbers.Real) and math.isfinite(float(value)):
            out[key] = float(value)
        else:
            raise StoreError(
                f"field '{key}': {value!r} is not a finite number or string (put it in data)"
            )
    try:
        check(dict(out))
    except ValueError as err:
        raise StoreError(f"fields {sorted(out)}: {err} (ase.db refuses it)") from None
    return out


def candidate_record(row: Any) -> CandidateRecord:
    """A candidate row of ase.db (an ``AtomsRow``) as the record the Store protocol returns."""
    kvp = dict(row.key_value_pairs)
    return CandidateRecord(
        id=int(row.id),
        atoms=row.toatoms(),
        status=str(kvp[STATUS]),
        cycle=int(kvp[CYCLE]),
        structure_hash=read_hash(kvp[STRUCTURE_HASH]),
        key_value_pairs=kvp,
        data=dict(row.get("data") or {}),
    )


def call_record(row: Any) -> CallRecord:
    """An oracle-call row of ase.db (an ``AtomsRow``) as a :class:`CallRecord`."""
    kvp, data = row.key_value_pairs, dict(row.get("data") or {})
    result = data.get(DATA_RESULT)
    cid = kvp.get(CANDIDATE_ID)
    return CallRecord(
        id=int(row.id),
        oracle_key=str(kvp[ORACLE_KEY]),
        level=str(kvp[LEVEL]),
        status=CallStatus(kvp[STATUS]),
        attempt=int(kvp[ATTEMPT]),
        candidate_id=None if cid is None else int(cid),
        structure_hash=read_hash(kvp[STRUCTURE_HASH]),
        handle=str(data.get(DATA_HANDLE, "")),
        atoms=row.toatoms(),
        result=None if result is None else OracleResult.from_dict(result),
    )


def elements_and_periodicity(rows: Iterable[Any]) -> tuple[frozenset[str], bool]:
    """(chemical symbols, whether every row's structure is periodic) of ase.db rows."""
    from ase.data import chemical_symbols

    rows = list(rows)
    species = {int(z) for row in rows for z in row.numbers}
    periodic = all(bool(row.pbc.all()) for row in rows)
    return frozenset(chemical_symbols[z] for z in species), periodic


def call_atoms(atoms: Atoms, result: OracleResult, oracle_key: str) -> Atoms:
    """A call row's structure: ``atoms`` with an ok result's energy/forces/stress as a
    SinglePointCalculator (so ``ase db`` shows them)."""
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = atoms.copy()
    if not result.ok:
        return atoms
    props = {"energy": result.energy, "forces": result.forces, "stress": result.stress}
    if result.forces is not None and result.forces.shape != (len(atoms), 3):
        shape = result.forces.shape
        raise StoreError(f"oracle call {oracle_key}: forces {shape} for {len(atoms)} atoms")
    props = {name: value for name, value in props.items() if value is not None}
    atoms.calc = SinglePointCalculator(atoms, **props)
    return atoms
