"""The concatenated descriptor vector: documented layout, keys, and refusal of bad input."""

from __future__ import annotations

import numpy as np
import pytest

from qaware.descriptors import (
    DESCRIPTOR_KEYS,
    DOS,
    ELF,
    GAP,
    RESPONSE,
    descriptor_layout,
    descriptor_vector,
    descriptor_vector_from_dict,
)


def test_layout_slices_recover_each_block():
    dos, elf = np.arange(100.0), np.full(20, 0.05)
    q = descriptor_vector(dos, 1.5, elf, 2.25)
    assert q.shape == (122,)
    layout = descriptor_layout(100, 20)
    np.testing.assert_array_equal(q[layout[DOS]], dos)
    assert q[layout[GAP]].tolist() == [1.5]
    np.testing.assert_array_equal(q[layout[ELF]], elf)
    assert q[layout[RESPONSE]].tolist() == [2.25]
    assert DESCRIPTOR_KEYS == ("dos", "gap", "elf", "response")


def test_from_dict_matches_and_names_missing_keys():
    d = {DOS: np.ones(4), GAP: np.array([0.0]), ELF: np.ones(2) / 2, RESPONSE: np.array([3.0])}
    np.testing.assert_array_equal(
        descriptor_vector_from_dict(d), descriptor_vector(np.ones(4), 0.0, np.ones(2) / 2, 3.0)
    )
    del d[RESPONSE]
    with pytest.raises(KeyError, match="response"):
        descriptor_vector_from_dict(d)


def test_non_scalar_gap_is_rejected():
    with pytest.raises(ValueError, match="scalar"):
        descriptor_vector(np.ones(3), np.array([1.0, 2.0]), np.ones(2), 1.0)
