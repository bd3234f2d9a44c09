"""The validator package: public API, and importing qaware does not pull it (or torch) in."""

from __future__ import annotations

import subprocess
import sys


def test_public_api_exports_exist():
    import qaware.validator as v

    for name in v.__all__:
        assert hasattr(v, name), name


def test_importing_qaware_does_not_import_the_validator():
    code = "import sys, qaware; print('qaware.validator' in sys.modules, 'e3nn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
