"""Wyckoff templates: reproduce real structures, keep their space group for any anchors."""

from __future__ import annotations

import numpy as np
import pytest
import spglib
import torch
from ase import Atoms
from pymatgen.analysis.structure_matcher import StructureMatcher

from qaware.errors import InvalidStructureError
from qaware.generator.lattice import family_bias, family_mask, lattice_to_coefficients
from qaware.generator.wyckoff import (
    WyckoffTemplate,
    centring_matrix,
    orbit_operations,
    project_anchor,
    template_from_structure,
)
from qaware.structures import to_pymatgen


def _space_group(atoms: Atoms, symprec: float) -> int:
    cell = (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers)
    return spglib.get_symmetry_dataset(cell, symprec=symprec).number


@pytest.mark.parametrize("name", ["perov", "carbon"])
def test_template_reproduces_the_structure(name: str, request: pytest.FixtureRequest) -> None:
    structures = request.getfixturevalue(name)
    templates = request.getfixturevalue(f"{name}_templates")
    matcher = StructureMatcher()
    for atoms, template in zip(structures, templates, strict=True):
        rebuilt = template.to_atoms()
        assert rebuilt.get_chemical_formula(empirical=True) == atoms.get_chemical_formula(
            empirical=True
        )
        rms = matcher.get_rms_dist(to_pymatgen(rebuilt), to_pymatgen(atoms))
        assert rms is not None and rms[0] < 0.01, f"{atoms.info['index']}: {rms}"
        assert _space_group(rebuilt, 1e-4) == template.space_group


@pytest.mark.parametrize("name", ["perov_templates", "carbon_templates"])
def test_any_anchor_values_keep_the_space_group(name: str, request: pytest.FixtureRequest) -> None:
    rng = np.random.default_rng(0)
    for template in request.getfixturevalue(name):
        for _ in range(3):
            anchors = np.array([o.xyz for o in template.orbits])
            anchors = anchors + rng.uniform(-0.04, 0.04, size=anchors.shape)
            atoms = template.to_atoms(anchors=anchors)
            assert _space_group(atoms, 1e-3) == template.space_group, template.source


def test_template_lattice_has_the_family_form(carbon_templates, perov_templates) -> None:
    for template in carbon_templates + perov_templates:
        k = lattice_to_coefficients(torch.tensor(template.lattice))
        fixed = ~family_mask(template.family)
        assert torch.allclose(k[fixed], family_bias(template.family)[fixed], atol=1e-6)


def test_primitive_orbits_divide_by_the_centring_order() -> None:
    for group, letter in [(12, "i"), (227, "a"), (166, "h"), (139, "e"), (38, "a"), (221, "c")]:
        ops = orbit_operations(group, letter)
        order = round(1 / abs(np.linalg.det(centring_matrix(group))))
        assert len(ops.rotations) * order == ops.multiplicity, (group, letter)


def test_projection_puts_an_anchor_on_its_wyckoff_position() -> None:
    rng = np.random.default_rng(1)
    for group, letter in [(191, "i"), (12, "i"), (166, "h"), (221, "a"), (1, "a")]:
        ops = orbit_operations(group, letter)
        xyz = rng.random(3)
        projected = project_anchor(group, letter, xyz)
        assert np.allclose(project_anchor(group, letter, projected), projected)
        d = projected[ops.free] - xyz[ops.free]
        assert np.allclose(d - np.round(d), 0)
        assert np.allclose(ops.sites(projected), ops.sites(xyz))


def test_species_and_keys() -> None:
    template = WyckoffTemplate(221, ())
    with pytest.raises(ValueError, match="species"):
        template.with_species([8])
    t = template_from_structure(
        Atoms(
            "SrTiO3",
            scaled_positions=[[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
            cell=np.eye(3) * 3.9,
            pbc=True,
        )
    )
    assert t.space_group == 221 and t.n_atoms == 5
    assert t.composition() == {38: 1, 22: 1, 8: 3}
    assert t.key(with_species=False) == (221, (("a", 0), ("b", 0), ("c", 0)))
    assert t.with_species([8, 8, 8]).composition() == {8: 5}


def test_a_molecule_has_no_template() -> None:
    with pytest.raises(InvalidStructureError, match="Wyckoff"):
        template_from_structure(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]]))
