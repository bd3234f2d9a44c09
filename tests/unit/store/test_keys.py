"""Oracle-call keys: one key per (structure, oracle settings), safe as an ase.db value."""

from __future__ import annotations

import pytest
from ase.db.core import check

from qaware.store.keys import oracle_call_key


def test_key_is_deterministic_and_depends_on_both_hashes():
    key = oracle_call_key("a" * 32, "settings-1")
    assert key == oracle_call_key("a" * 32, "settings-1")
    assert key != oracle_call_key("b" * 32, "settings-1")
    assert key != oracle_call_key("a" * 32, "settings-2")
    # No ambiguity from concatenation: ("ab", "c") and ("a", "bc") differ.
    assert oracle_call_key("ab", "c") != oracle_call_key("a", "bc")


def test_key_is_never_read_as_a_number_by_ase():
    for i in range(200):  # ASE refuses string values such as "1234" or "12e5"
        key = oracle_call_key(str(i), str(10 * i))
        check({"okey": key})
        assert key.startswith("k")
        assert len(key) == 33


def test_empty_hashes_are_refused():
    with pytest.raises(ValueError, match="both hashes"):
        oracle_call_key("", "abc")
    with pytest.raises(ValueError, match="both hashes"):
        oracle_call_key("abc", "")
