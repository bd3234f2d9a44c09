#!/usr/bin/env bash
# Install everything the test suite needs and run it (this is what CI runs, see .ci/run).
#   bash scripts/test.sh             # the whole suite, slow and oracle tests included
#   bash scripts/test.sh -m "not slow"   # extra arguments go to pytest
#   QAWARE_TEST_WORKERS=1 bash scripts/test.sh   # one pytest process (default: 2, pytest-xdist)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_system.sh postgres chromium
bash scripts/install.sh dev,gpaw
QAWARE_TEST_POSTGRES_URL="$(bash scripts/start_postgres.sh)"
export QAWARE_TEST_POSTGRES_URL
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" QAWARE_NO_PROGRESS=1 QAWARE_REQUIRE_BROWSER=1
# Two pytest-xdist workers on the 2-core CI machine: the slow tests are mostly subprocesses
# waiting on each other (campaigns, kills, Chromium), so two at once halve the wall time.
python -m pytest -p no:cacheprovider -n "${QAWARE_TEST_WORKERS:-2}" --dist worksteal "$@"
