"""The three generators behind the StructureGenerator protocol, and their conditions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import spglib
from ase import Atoms

from qaware.errors import ConfigError
from qaware.generator.conditions import parse_conditions
from qaware.generator.diffusion_generator import DiffusionGenerator
from qaware.generator.random_symmetric import RandomSymmetricGenerator
from qaware.generator.sampler import SamplerConfig
from qaware.generator.substitution import SubstitutionGenerator, similar_elements
from qaware.generator.templates import composition_of
from qaware.protocols import StructureGenerator
from qaware.testing import check_generator

SRTIO3 = {38: 1, 22: 1, 8: 3}


@pytest.fixture(scope="module")
def diffusion(tiny_bundle) -> DiffusionGenerator:
    return DiffusionGenerator(tiny_bundle, sampler=SamplerConfig(n_steps=8), batch_size=3)


def test_every_generator_passes_the_protocol_check(diffusion, perov) -> None:
    generators = [
        diffusion,
        RandomSymmetricGenerator([SRTIO3, {6: 4}]),
        SubstitutionGenerator(perov),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for generator in generators:
            assert isinstance(generator, StructureGenerator)
            check_generator(generator, n=5, seed=2)


def test_fixed_composition_is_exact_for_every_generator(diffusion, perov) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for generator in (
            diffusion,
            RandomSymmetricGenerator([{6: 4}]),
            SubstitutionGenerator(perov),
        ):
            for atoms in generator.sample(4, seed=0, conditions={"composition": "SrTiO3"}):
                assert composition_of(atoms) == SRTIO3, type(generator).__name__


def test_diffusion_csp_on_an_unseen_pattern_falls_back_to_random_templates(diffusion) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = diffusion.sample(2, seed=0, conditions={"composition": "Na2Cl2"})
    assert all(composition_of(a) == {11: 2, 17: 2} for a in samples)


def test_diffusion_elements_space_group_and_descriptors(diffusion) -> None:
    samples = diffusion.sample(
        4, seed=1, conditions={"elements": ["Sr", "Ti", "O"], "space_group": 99}
    )
    for atoms in samples:
        assert set(atoms.get_chemical_symbols()) <= {"Sr", "Ti", "O"}
        assert atoms.info["space_group"] == 99
    guided = diffusion.sample(2, seed=1, conditions={"descriptors": [2.0, 0.5], "lam": 2.0})
    assert guided[0].info["nfe"] == 2 * 2 * 8 and guided[0].info["lam"] == 2.0
    with pytest.raises(ConfigError, match="expected 2 values"):
        diffusion.sample(1, seed=0, conditions={"descriptors": [1.0]})


def test_default_step_count_keeps_the_evaluation_budget(tiny_bundle) -> None:
    generator = DiffusionGenerator(tiny_bundle)
    assert generator.sampler_config(guided=False).evaluations(guided=False) == 200
    assert generator.sampler_config(guided=True).evaluations(guided=True) == 200


def test_random_symmetric_crystals_have_the_requested_group() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = RandomSymmetricGenerator([SRTIO3]).sample(
            3, seed=0, conditions={"space_group": 221}
        )
    for atoms in samples:
        cell = (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers)
        assert spglib.get_symmetry_dataset(cell, symprec=0.1).number == 221


def test_substitution_uses_similar_elements_and_respects_the_element_set(perov) -> None:
    assert 20 in similar_elements(38) and 56 in similar_elements(38)  # Sr -> Ca, Ba
    assert 8 not in similar_elements(38)
    generator = SubstitutionGenerator(perov)
    for atoms in generator.sample(6, seed=3):
        ref = next(p for p in perov if p.info["material_id"] == atoms.info["reference"])
        assert atoms.get_chemical_formula() != ref.get_chemical_formula()
        assert len(atoms) == len(ref)
        changed = {a: b for a, b in zip(ref.numbers, atoms.numbers, strict=True) if a != b}
        assert all(b in similar_elements(int(a)) for a, b in changed.items())
    srtio3 = Atoms(
        "SrTiO3",
        scaled_positions=[[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        cell=np.eye(3) * 3.905,
        pbc=True,
    )
    allowed = {"Sr", "Ba", "Ca", "Ti", "Zr", "Hf", "O"}
    samples = SubstitutionGenerator([srtio3]).sample(
        8, seed=4, conditions={"elements": sorted(allowed)}
    )
    assert all(set(a.get_chemical_symbols()) <= allowed for a in samples)
    bigger = [a for a in samples if "Ba" in a.get_chemical_symbols()]
    assert all(a.get_volume() > srtio3.get_volume() for a in bigger)
    with pytest.raises(ValueError, match="no reference"):
        SubstitutionGenerator([srtio3]).sample(1, seed=0, conditions={"elements": ["Na", "Cl"]})


def test_conditions_are_checked_with_the_key_named() -> None:
    assert parse_conditions({"composition": "SrTiO3"}).composition == SRTIO3
    assert parse_conditions({"composition": {"O": 3, 38: 1, "Ti": 1}}).composition == SRTIO3
    for bad, key in [
        ({"colour": "red"}, "colour"),
        ({"composition": "Xx2"}, "composition"),
        ({"composition": {"O": 0}}, "composition"),
        ({"elements": ["Qq"]}, "elements"),
        ({"space_group": 231}, "space_group"),
        ({"descriptors": [np.nan]}, "descriptors"),
        ({"max_atoms": 0}, "max_atoms"),
        ({"templates": []}, "templates"),
    ]:
        with pytest.raises(ConfigError, match=f"conditions.{key}"):
            parse_conditions(bad)


def test_batched_prediction_gives_k_candidates_of_each_composition(diffusion) -> None:
    compositions = [SRTIO3, {6: 8}, {56: 1, 22: 1, 8: 3}]
    result = diffusion.predict(compositions, seed=0, k=2)
    assert len(result) == 2 and all(len(row) == 3 for row in result)
    for row in result:
        for atoms, comp in zip(row, compositions, strict=True):
            assert composition_of(atoms) == comp
    again = diffusion.predict(compositions, seed=0, k=2)
    assert np.array_equal(again[1][2].positions, result[1][2].positions)


def test_carbon_prediction_has_the_target_atom_count(diffusion) -> None:
    # the tiny model's library has eleven 6-atom carbon cells and two 12-atom ones; batches
    # are formed per atom count (batch_size 3 here), results come back in request order
    targets = [{6: 12}, {6: 6}, {6: 12}, {6: 8}, {6: 6}]
    groups = {t.space_group for t in diffusion.bundle.library.templates}
    result = diffusion.predict(targets, seed=3, k=2)
    for row in result:
        assert [composition_of(a) for a in row] == targets
        assert all(a.info["space_group"] in groups for a in row)
    again = diffusion.predict(targets, seed=3, k=2)
    assert np.array_equal(again[1][3].positions, result[1][3].positions)
