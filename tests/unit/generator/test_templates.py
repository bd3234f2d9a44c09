"""Template library: frequencies, composition fitting by rank, serialisation."""

from __future__ import annotations

import numpy as np
import pytest

from qaware.generator.templates import TemplateLibrary, assign_composition, composition_of


def test_library_counts_templates_and_samples_by_frequency(perov_templates) -> None:
    lib = TemplateLibrary.from_templates(perov_templates * 3 + perov_templates[:1])
    assert len(lib) == len({t.key() for t in perov_templates})
    assert sum(lib.counts) == 3 * len(perov_templates) + 1
    rng = np.random.default_rng(0)
    blank = TemplateLibrary.from_templates(
        [t.with_species([0] * len(t.orbits)) for t in perov_templates]
    )
    # without species the 20 perovskites collapse onto their three Wyckoff patterns
    assert sorted(t.space_group for t in blank.templates) == [25, 99, 221]
    draws = blank.sample(3000, rng)
    share = {sg: np.mean([t.space_group == sg for t in draws]) for sg in (25, 99, 221)}
    expected = {
        t.space_group: c / sum(blank.counts)
        for t, c in zip(blank.templates, blank.counts, strict=True)
    }
    for sg in share:
        assert share[sg] == pytest.approx(expected[sg], abs=0.03)


def test_composition_is_assigned_by_count_and_electronegativity(perov_templates) -> None:
    cubic = next(t for t in perov_templates if t.space_group == 221)
    fitted = assign_composition(cubic, {38: 1, 22: 1, 8: 3})  # SrTiO3
    assert fitted is not None and fitted.composition() == {38: 1, 22: 1, 8: 3}
    source = cubic.composition()
    # the less electronegative single cation takes the source's less electronegative one's site
    from qaware.generator.templates import electronegativity

    singles = sorted((z for z in source if source[z] == 1), key=electronegativity)
    for orbit, new in zip(cubic.orbits, fitted.orbits, strict=True):
        if orbit.species == singles[0]:
            assert new.species == 38
    assert assign_composition(cubic, {38: 2, 8: 3}) is None
    assert assign_composition(cubic, {38: 2, 22: 2, 8: 6}) is not None  # a supercell count fits
    assert assign_composition(cubic, {38: 1, 22: 1, 8: 2}) is None


def test_sampling_for_a_composition_or_group_and_errors(perov_templates, carbon_templates) -> None:
    lib = TemplateLibrary.from_templates(perov_templates + carbon_templates)
    rng = np.random.default_rng(1)
    for t in lib.sample(20, rng, composition={6: 8}):
        assert t.composition() in ({6: 8}, {6: 4}, {6: 2}, {6: 1})
    for t in lib.sample(5, rng, space_group=12, max_atoms=6):
        assert t.space_group == 12 and t.n_atoms <= 6
    with pytest.raises(ValueError, match="no training template fits"):
        lib.sample(1, rng, composition={6: 7})


def test_round_trip_through_plain_dicts(carbon_templates) -> None:
    lib = TemplateLibrary.from_templates(carbon_templates)
    back = TemplateLibrary.from_dict(lib.to_dict())
    assert back.counts == lib.counts
    for a, b in zip(lib.templates, back.templates, strict=True):
        assert a == b
        assert np.allclose(a.to_atoms().positions, b.to_atoms().positions)
    assert composition_of([8, 8, 22]) == {8: 2, 22: 1}


def test_one_element_targets_draw_templates_of_their_own_atom_count(carbon_templates) -> None:
    lib = TemplateLibrary.from_templates(carbon_templates)
    sizes = [t.n_atoms for t in carbon_templates]
    assert sizes.count(6) > 3 * sizes.count(12) > 0  # frequency alone would pick C6 for C12
    rng = np.random.default_rng(2)
    assert {t.n_atoms for t in lib.sample(50, rng, composition={6: 12})} == {12}
    assert {t.composition()[6] for t in lib.sample(20, rng, composition={6: 6})} == {6}
    # no 16-atom cell in the library: primitive cells whose multiple is 16 stand in
    assert {t.n_atoms for t in lib.sample(50, rng, composition={6: 16})} <= {8, 4}


def test_role_mapping_and_shared_roles_count_elements_kept_in_place(perov_templates) -> None:
    from qaware.generator.templates import role_mapping, shared_roles

    batio3 = {56: 1, 22: 1, 8: 3}
    assert role_mapping({38: 1, 22: 1, 8: 3}, batio3) == {38: 56, 22: 22, 8: 8}
    assert role_mapping({38: 1, 8: 1}, batio3) is None
    cubic = next(t for t in perov_templates if t.space_group == 221)
    fitted = assign_composition(cubic, batio3)
    assert fitted is not None
    assert shared_roles(fitted, batio3) == 3  # a template of the target itself keeps all three
    assert shared_roles(cubic, {6: 8}) == 0  # does not fit
    assert shared_roles(fitted, {3: 1, 41: 1, 9: 3}) == 0  # LiNbF3: nothing in common


def test_candidate_weights_are_counts_times_e_to_the_shared_roles(perov_templates) -> None:
    cubic = next(t for t in perov_templates if t.space_group == 221)
    tetragonal = next(t for t in perov_templates if t.space_group == 99)
    target = {38: 1, 22: 1, 8: 3}
    own = assign_composition(cubic, target)  # keeps 3 roles
    stranger = assign_composition(cubic, {56: 1, 40: 1, 8: 3})  # keeps O only
    tetra = assign_composition(tetragonal, {56: 1, 40: 1, 8: 3})  # keeps O only, counted twice
    assert own is not None and stranger is not None and tetra is not None
    lib = TemplateLibrary.from_templates([own, stranger, tetra, tetra])
    chosen, weights = lib.candidates(composition=target)
    assert all(t.composition() == target for t in chosen)
    by_group = {sg: weights[[t.space_group == sg for t in chosen]].sum() for sg in (221, 99)}
    e = np.e
    assert by_group[221] == pytest.approx((e**3 + e) / (e**3 + e + 2 * e))
    assert by_group[99] == pytest.approx(2 * e / (e**3 + e + 2 * e))
    # without a composition the weights stay the plain counts
    _, plain = lib.candidates()
    assert sorted(plain) == pytest.approx([0.25, 0.25, 0.5])
