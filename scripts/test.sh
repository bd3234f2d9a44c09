#!/usr/bin/env bash
# Install everything the test suite needs and run it (this is what CI runs, see .ci/run).
#   bash scripts/test.sh             # the whole suite, slow and oracle tests included
#   bash scripts/test.sh -m "not slow"   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_system.sh postgres chromium
bash scripts/install.sh dev,gpaw
QAWARE_TEST_POSTGRES_URL="$(bash scripts/start_postgres.sh)"
export QAWARE_TEST_POSTGRES_URL
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" QAWARE_NO_PROGRESS=1 QAWARE_REQUIRE_BROWSER=1
python -m pytest -p no:cacheprovider "$@"
