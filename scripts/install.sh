#!/usr/bin/env bash
# Install qaware into the current Python (3.11) on a fresh machine.
#   bash scripts/install.sh            # the package and what the quick start needs (extra: quickstart)
#   bash scripts/install.sh dev        # plus everything the test suite needs (extras: dev)
#   bash scripts/install.sh dev,gpaw   # any comma-separated extras of pyproject.toml
# torch==2.13.0 is installed first on purpose: it is the CPU build that lies on this kind of
# machine's disk; a bare `torch` requirement with nothing installed pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-quickstart}"
pip_quiet=(--quiet --disable-pip-version-check --no-input)
python -m pip install "${pip_quiet[@]}" "torch==2.13.0"
if [[ ",${extras}," == *",gpaw,"* ]]; then
  # GPAW builds from source: Debian's compiler, libxc and OpenBLAS first; its C++ sources
  # need g++ as the compiler (gcc alone fails on <algorithm>).
  bash scripts/install_system.sh gpaw
  export CC=g++
fi
if [[ -n "${extras}" ]]; then
  python -m pip install "${pip_quiet[@]}" -e ".[${extras}]"
else
  python -m pip install "${pip_quiet[@]}" -e .
fi
python -c "import qaware, torch; print(f'qaware {qaware.__version__} installed (torch {torch.__version__})')"
