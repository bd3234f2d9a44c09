"""Tasks the executor tests ship to workers, and the fixtures that hand them out.

The functions below run in other processes. They are registered with cloudpickle *by value*,
so a worker does not need to import this conftest (which under ``--import-mode=importlib`` it
could not do when pytest is started from another directory).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from types import SimpleNamespace

import cloudpickle
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from qaware.errors import InvalidStructureError

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def emt_energy(atoms: Atoms) -> float:
    """EMT total energy (eV) of ``atoms``, computed wherever this runs."""
    atoms = atoms.copy()
    atoms.calc = EMT()
    return float(atoms.get_potential_energy())


def square_after(x: float, delay_s: float = 0.0) -> float:
    time.sleep(delay_s)
    return x * x


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def raise_invalid_structure(index: int) -> None:
    raise InvalidStructureError("atoms closer than 0.5 Å", source="pool.extxyz", index=index)


def exit_abruptly(code: int) -> None:
    os._exit(code)


def kill_self(sig: int = signal.SIGKILL) -> None:
    os.kill(os.getpid(), sig)


def worker_pid() -> int:
    return os.getpid()


def echo_kwargs(**kwargs: object) -> dict[str, object]:
    return dict(kwargs)


@pytest.fixture
def tasks() -> SimpleNamespace:
    return SimpleNamespace(
        emt_energy=emt_energy,
        square_after=square_after,
        raise_value_error=raise_value_error,
        raise_invalid_structure=raise_invalid_structure,
        exit_abruptly=exit_abruptly,
        kill_self=kill_self,
        worker_pid=worker_pid,
        echo_kwargs=echo_kwargs,
    )


@pytest.fixture
def copper() -> Atoms:
    """A rattled 4-atom fcc Cu cell (a = 3.6 Å): no symmetry makes the EMT energy special."""
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.positions += np.random.default_rng(7).normal(0.0, 0.05, atoms.positions.shape)
    return atoms
