"""(T) only where it can be truth: a CCSD that already fails a gate is gated whatever (T) gives,
so the oracle skips (T) there (``gated_triples=False``) without changing any verdict or hash."""

from __future__ import annotations

import pytest
from ase import Atoms

from qaware.oracles._pyscf_steps import TRIPLES_SKIPPED, ccsd_t
from qaware.oracles.gates import GateSettings
from qaware.oracles.pyscf_molecular import PySCFOracle


def _water() -> Atoms:
    return Atoms("OH2", positions=[[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]])


@pytest.mark.oracle
def test_ccsd_t_asks_before_the_triples():
    from pyscf import gto, scf

    mf = scf.RHF(gto.M(atom="H 0 0 0; H 0 0 0.74; H 0 0 2.0; H 0 0 2.74", basis="6-31g"))
    mf.verbose = 0
    mf.kernel()
    seen = []

    def no(ccsd):
        seen.append(dict(ccsd))
        return False

    skipped = ccsd_t(mf, False, 1e-8, 50, triples=no)
    full = ccsd_t(mf, False, 1e-8, 50)
    assert skipped[TRIPLES_SKIPPED] is True and "e_t" not in skipped
    assert TRIPLES_SKIPPED not in full and full["e_t"] < 0
    assert skipped["e_corr"] == pytest.approx(full["e_corr"], abs=1e-8)
    assert seen[0]["ccsd_converged"] is True and "t1" in seen[0]  # it saw the diagnostics


@pytest.mark.oracle
def test_a_gated_ccsd_gets_no_triples_but_the_same_verdict_and_key():
    strict = GateSettings(t1_max_closed_shell=1e-6)  # any water fails it
    default = PySCFOracle(method="CCSD(T)", basis="sto-3g", gates=strict)
    inspect = PySCFOracle(method="CCSD(T)", basis="sto-3g", gates=strict, gated_triples=True)
    assert default.settings_hash() == inspect.settings_hash()  # the same call, cached once
    skipped, kept = default.compute(_water()), inspect.compute(_water())
    assert not skipped.ok and not kept.ok
    assert skipped.reason == kept.reason and skipped.reason.startswith("multireference: T1=")
    assert skipped.diagnostics["gates_failed"] == kept.diagnostics["gates_failed"]
    assert skipped.energy is None and skipped.diagnostics[TRIPLES_SKIPPED] is True
    assert kept.energy is not None and "e_t" in kept.diagnostics
    assert skipped.diagnostics["e_corr"] == pytest.approx(kept.diagnostics["e_corr"], abs=1e-6)


@pytest.mark.oracle
def test_a_passing_ccsd_still_gets_its_triples():
    result = PySCFOracle(method="CCSD(T)", basis="sto-3g").compute(_water())
    assert result.ok and result.diagnostics["e_t"] < 0
    assert TRIPLES_SKIPPED not in result.diagnostics
    parts = sum(result.diagnostics[k] for k in ("e_scf", "e_corr", "e_t"))
    assert result.energy == pytest.approx(parts)
