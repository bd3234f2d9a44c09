"""Novelty and uniqueness: the cached-reduction matcher gives pymatgen's own answers."""

from __future__ import annotations

import pickle
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.build import bulk

from qaware.campaign.novelty import KnownStructures, Reduced, is_unique, matches

PEROV = Path(__file__).resolve().parents[3] / "data" / "perov_standin" / "perov_standin.extxyz.gz"


def test_matches_novelty_and_uniqueness():
    cu = bulk("Cu", "fcc", a=3.61)
    cu_super = cu.repeat((2, 1, 1))
    cu_super.positions += 0.01
    al = bulk("Al", "fcc", a=4.05)
    assert matches(cu, cu_super)
    assert not matches(cu, al)
    known = KnownStructures()
    known.extend([cu])
    assert len(known) == 1
    assert not known.is_novel(cu_super)
    assert known.is_novel(al)
    assert is_unique(al, [cu]) and not is_unique(cu_super, [al, cu])
    h2o = Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    moved = h2o.copy()
    moved.translate([1.0, 2.0, 3.0])
    assert matches(h2o, moved)  # molecules compare by their distances
    bent = h2o.copy()
    bent.positions[2] = [0.0, 1.2, 0.0]
    assert not matches(h2o, bent)


def _variants(atoms: Atoms, rng: np.random.Generator) -> list[Atoms]:
    """Copies near and far from ``atoms``: rattled, strained, a supercell, a swapped site."""
    out = []
    for amp in (0.05, 0.3, 0.8):
        v = atoms.copy()
        v.positions += rng.normal(scale=amp, size=v.positions.shape)
        out.append(v)
    v = atoms.copy()
    v.set_cell(v.cell @ (np.eye(3) + rng.normal(scale=0.15, size=(3, 3))), scale_atoms=True)
    out.append(v)
    sup = atoms.repeat((1, 1, 2))
    sup.positions += rng.normal(scale=0.02, size=sup.positions.shape)
    out.append(sup)
    swapped = atoms.copy()
    z = swapped.numbers.copy()
    swapped.numbers = z[rng.permutation(len(z))]
    out.append(swapped)
    return out


def test_cached_reduction_gives_pymatgen_structurematcher_answers():
    """Each pair is judged as a plain StructureMatcher(stol 0.5, ltol 0.3, angle_tol 10).fit
    judges it, for matches and non-matches alike (rattled, strained, supercells, swaps)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.io.ase import AseAtomsAdaptor

    rng = np.random.default_rng(7)
    base = ase.io.read(PEROV, index=":12")
    pairs = [(a, v) for a in base for v in _variants(a, rng)]
    pairs += [(base[i], base[j]) for i in range(len(base)) for j in range(i + 1, len(base))]
    matcher = StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10)
    conv = AseAtomsAdaptor.get_structure
    plain = [bool(matcher.fit(conv(a), conv(b))) for a, b in pairs]
    fast = [matches(a, b) for a, b in pairs]
    assert fast == plain
    assert 10 <= sum(plain) <= len(plain) - 10  # both answers are exercised


def test_known_structures_pickle_with_their_reductions():
    cu = bulk("Cu", "fcc", a=3.61)
    known = KnownStructures([cu])
    assert not known.is_novel(cu.repeat(2))  # reduces the known Cu once
    back = pickle.loads(pickle.dumps(known))
    assert len(back) == 1 and back._by_formula["Cu"][0]._structure is not None
    assert not back.is_novel(cu) and back.is_novel(bulk("Cu", "bcc", a=2.87))


def test_reduced_structures_with_other_site_counts_never_match():
    nacl = bulk("NaCl", "rocksalt", a=5.64)
    frac = [[0, 0, 0], [0.5, 0.1, 0], [0, 0.5, 0.2], [0.3, 0.5, 0.5]]
    four = Atoms("Na2Cl2", cell=np.eye(3) * 4.0, pbc=True, scaled_positions=frac)
    assert len(Reduced(nacl).structure) == 2 and len(Reduced(four).structure) == 4
    assert not matches(nacl, four)
