"""Property test: structure_hash is invariant under random rigid motions and relabelling."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from qaware.structures import structure_hash

motions = st.tuples(
    st.integers(0, 39),  # which fixture structure (0-19 perov, 20-39 carbon)
    st.integers(0, 2**32 - 1),  # rotation seed
    st.lists(st.floats(-20, 20, allow_nan=False), min_size=3, max_size=3),  # translation, Å
    st.randoms(use_true_random=False),  # permutation
    st.booleans(),  # wrap into the cell afterwards
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(motion=motions)
def test_hash_invariant_under_rotation_translation_permutation(motion, perov, carbon):
    which, seed, shift, rnd, wrap = motion
    atoms = (perov + carbon)[which]
    moved = atoms.copy()
    R = Rotation.random(random_state=seed).as_matrix()
    moved.set_cell(moved.cell[:] @ R.T, scale_atoms=True)
    moved.translate(np.asarray(shift))
    if wrap:
        moved.wrap()
    order = list(range(len(moved)))
    rnd.shuffle(order)
    assert structure_hash(moved[order]) == structure_hash(atoms)
