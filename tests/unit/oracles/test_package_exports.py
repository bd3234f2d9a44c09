"""qaware.oracles re-exports every oracle lazily: the import itself loads no backend."""

from __future__ import annotations

import subprocess
import sys

import pytest

import qaware.oracles as oracles


@pytest.mark.parametrize("name", oracles.__all__)
def test_every_exported_name_resolves(name):
    assert getattr(oracles, name) is not None


def test_importing_the_package_loads_no_backend():
    code = (
        "import sys, qaware, qaware.oracles;"
        "print(sorted(m for m in ('pyscf','gpaw','sevenn','chgnet','torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
