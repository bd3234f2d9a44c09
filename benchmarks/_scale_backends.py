"""Where benchmarks/scale.py keeps the store of one size on each backend (an SQLite file under
the workdir, or a PostgreSQL schema): its URL, dropping it, and reading its row ids and size;
split from the script to keep it short."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote


def _sqlite_path(workdir: Path, size: int) -> Path:
    return workdir / f"qaware_scale_{size}.db"


def _pg_schema(size: int) -> str:
    return f"qaware_scale_{size}"


def _pg(base: str, sql: str, *params: Any) -> Any:
    import psycopg2

    con = psycopg2.connect(base)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone() if cur.description else None
    finally:
        con.close()


def _store_url(backend: str, size: int, workdir: Path, pg_base: str | None) -> str:
    if backend == "sqlite":
        return str(_sqlite_path(workdir, size))
    assert pg_base, "PostgreSQL needs --postgres-url"
    sep = "&" if "?" in pg_base else "?"
    return f"{pg_base}{sep}options={quote(f'-csearch_path={_pg_schema(size)}')}"


def _drop(backend: str, size: int, workdir: Path, pg_base: str | None) -> None:
    if backend == "sqlite":
        _sqlite_path(workdir, size).unlink(missing_ok=True)
    else:
        _pg(pg_base, f"DROP SCHEMA IF EXISTS {_pg_schema(size)} CASCADE")  # type: ignore[arg-type]


def _row_ids(backend: str, size: int, workdir: Path, pg_base: str | None) -> list[int]:
    """Ids of every row, ascending (before the history only candidate rows exist)."""
    sql = "SELECT id FROM {}systems ORDER BY id"
    if backend == "sqlite":
        import sqlite3

        con = sqlite3.connect(_sqlite_path(workdir, size))
        try:
            return [int(r[0]) for r in con.execute(sql.format(""))]
        finally:
            con.close()
    import psycopg2

    con = psycopg2.connect(pg_base)
    try:
        with con.cursor() as cur:
            cur.execute(sql.format(f"{_pg_schema(size)}."))
            return [int(r[0]) for r in cur.fetchall()]
    finally:
        con.close()


def _db_bytes(backend: str, size: int, workdir: Path, pg_base: str | None) -> int:
    if backend == "sqlite":
        return _sqlite_path(workdir, size).stat().st_size
    sql = ("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
           "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'")  # fmt: skip
    return int(_pg(pg_base, sql, _pg_schema(size))[0] or 0)  # type: ignore[arg-type,index]
