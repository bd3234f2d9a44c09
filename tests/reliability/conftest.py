"""Fixtures of the crash harness: campaign inputs trained once, reference runs, a fresh
PostgreSQL schema per test."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crash_harness import Setup, prepare, run_uninterrupted

POSTGRES_URL_ENV = "QAWARE_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Setup], tuple[Path, Path]]:
    """``reference(setup) -> (template, ref)``: inputs for ``setup``'s campaign size (validator
    trained once per size) and an uninterrupted run of it on SQLite + the local executor."""
    made: dict[tuple[int, int], tuple[Path, Path]] = {}

    def get(setup: Setup) -> tuple[Path, Path]:
        size = (setup.budget, setup.cycles)
        if size not in made:
            root = tmp_path_factory.mktemp(f"ref-{size[0]}-{size[1]}")
            template = root / "inputs"
            prepare(template, Setup(budget=size[0], cycles=size[1]))
            ref = root / "ref"
            prepare(ref, Setup(budget=size[0], cycles=size[1]), template=template)
            run_uninterrupted(ref)
            made[size] = (template, ref)
        return made[size]

    return get


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL schema (search_path in the URL), dropped afterwards; skips
    without ``QAWARE_TEST_POSTGRES_URL`` (``export QAWARE_TEST_POSTGRES_URL="$(scripts/
    start_postgres.sh)"``)."""
    base = os.environ.get(POSTGRES_URL_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_URL_ENV} is not set (run scripts/start_postgres.sh to get one)")
    import psycopg2

    schema = f"qaware_kills_{uuid.uuid4().hex[:12]}"
    con = psycopg2.connect(base)
    with con, con.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    con.close()
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    con = psycopg2.connect(base)
    with con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
    con.close()
