"""Misbehaving oracles for the process-isolation tests (imported by the spawned child).

Not a test module: ``test_base.py`` puts this folder on ``sys.path`` so that a child started
with the *spawn* method can unpickle these classes by their module name.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ase import Atoms

from qaware.oracles.result import OracleResult


@dataclass(frozen=True)
class _Fake:
    level: str = "fake"

    def settings_hash(self) -> str:
        return "0" * 64


@dataclass(frozen=True)
class EchoOracle(_Fake):
    """Energy = number of atoms (eV), forces zero; reports the pid it ran in."""

    def compute(self, atoms: Atoms) -> OracleResult:
        return OracleResult(
            ok=True,
            level=self.level,
            energy=float(len(atoms)),
            forces=[[0.0, 0.0, 0.0]] * len(atoms),
            settings_hash=self.settings_hash(),
            diagnostics={"pid": os.getpid(), "pgid": os.getpgid(0)},
        )


@dataclass(frozen=True)
class SleepOracle(_Fake):
    """Hangs for ``seconds``; with ``grandchild_pidfile`` it first starts a sleeping
    grandchild process and writes its pid there (to check the whole group is killed); with
    ``pidfile`` it writes its own pid there first."""

    seconds: float = 60.0
    grandchild_pidfile: str = ""
    pidfile: str = ""

    def compute(self, atoms: Atoms) -> OracleResult:
        if self.pidfile:
            Path(self.pidfile).write_text(str(os.getpid()))
        if self.grandchild_pidfile:
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
            with open(self.grandchild_pidfile, "w") as fh:
                fh.write(str(child.pid))
        time.sleep(self.seconds)
        return OracleResult(ok=True, level=self.level, energy=0.0)


@dataclass(frozen=True)
class DyingOracle(_Fake):
    """Kills its own process with ``signal_number``, or exits with ``exit_code``."""

    signal_number: int = 0
    exit_code: int = 0

    def compute(self, atoms: Atoms) -> OracleResult:
        if self.signal_number:
            os.kill(os.getpid(), self.signal_number)
            time.sleep(10)
        os._exit(self.exit_code)


@dataclass(frozen=True)
class RaisingOracle(_Fake):
    """Breaks the protocol by raising."""

    def compute(self, atoms: Atoms) -> OracleResult:
        raise ValueError("bad input")
