"""Property tests for what users hand to qaware: structure files and run configurations.

Structure readers: any valid structure written to CIF, extxyz or CDVAE CSV reads back the same
(species in order, cell, fractional positions mod 1); random bytes and random edits of a valid
file either parse into structures that pass every check or raise
:class:`~qaware.errors.InvalidStructureError` naming the file, never any other exception.
Config loader: random documents built from the schema's own section and key names, with
random values, either validate or raise :class:`~qaware.errors.ConfigError` naming the key path
(or the YAML line), never a bare pydantic or YAML exception. Examples are bounded so the file
runs in about ten seconds.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import pytest
import yaml
from ase import Atoms
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from qaware.config import QawareConfig
from qaware.config_io import _model_of, parse_config
from qaware.errors import ConfigError, InvalidStructureError
from qaware.structures import read_structures, write_structures
from qaware.structures.checks import find_problems

SCALE = float(os.environ.get("QAWARE_PROPERTY_SCALE", "1"))  # e.g. 50 for a long local hunt


def examples(n: int) -> settings:
    """``n`` examples (times $QAWARE_PROPERTY_SCALE), no deadline: a few seconds per test."""
    return settings(
        max_examples=max(1, int(n * SCALE)),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


FAST = examples(25)

# ------------------------------------------------------------------------------------------
# structures

ELEMENTS = st.integers(1, 94)  # every element pymatgen and ASE both name


@st.composite
def crystals(draw: st.DrawFn) -> Atoms:
    """A valid periodic cell: 1-6 atoms, lengths 3-9 Å, angles 70-110°, atoms >= 0.5 Å apart."""
    n = draw(st.integers(1, 6))
    lengths = draw(st.lists(st.floats(3.0, 9.0), min_size=3, max_size=3))
    angles = draw(st.lists(st.floats(70.0, 110.0), min_size=3, max_size=3))
    frac = draw(st.lists(st.tuples(*[st.floats(0.0, 0.999)] * 3), min_size=n, max_size=n))
    numbers = draw(st.lists(ELEMENTS, min_size=n, max_size=n))
    atoms = Atoms(numbers=numbers, cell=[*lengths, *angles], pbc=True)
    assume(atoms.cell.volume > 10.0)  # the three angles can still make a flat cell
    atoms.set_scaled_positions(np.array(frac))
    assume(not find_problems(atoms))
    return atoms


@st.composite
def molecules(draw: st.DrawFn) -> Atoms:
    """A valid non-periodic structure: 1-6 atoms in a 6 Å box, >= 0.5 Å apart."""
    n = draw(st.integers(1, 6))
    pos = draw(st.lists(st.tuples(*[st.floats(-3.0, 3.0)] * 3), min_size=n, max_size=n))
    atoms = Atoms(numbers=draw(st.lists(ELEMENTS, min_size=n, max_size=n)), positions=pos)
    assume(not find_problems(atoms))
    return atoms


def assert_same(a: Atoms, b: Atoms, tol: float = 1e-5) -> None:
    assert a.get_chemical_symbols() == b.get_chemical_symbols()
    assert np.array_equal(a.pbc, b.pbc)
    if a.pbc.any():
        np.testing.assert_allclose(a.cell.cellpar(), b.cell.cellpar(), atol=tol)
        d = a.get_scaled_positions(wrap=False) - b.get_scaled_positions(wrap=False)
        np.testing.assert_allclose(d - np.rint(d), 0.0, atol=tol)
    else:
        np.testing.assert_allclose(a.positions, b.positions, atol=tol)


@FAST
@given(
    structures=st.lists(crystals(), min_size=1, max_size=3),
    suffix=st.sampled_from([".cif", ".extxyz", ".csv"]),
)
def test_valid_crystals_round_trip_through_every_format(structures, suffix):
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / f"s{suffix}"
        write_structures(structures, path)
        back = read_structures(path)
    assert len(back) == len(structures) and back.skipped == []
    for a, b in zip(structures, back, strict=True):
        assert_same(a, b)


@FAST
@given(structures=st.lists(molecules(), min_size=1, max_size=3))
def test_valid_molecules_round_trip_through_extxyz(structures):
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.extxyz"
        write_structures(structures, path)
        back = read_structures(path)
    for a, b in zip(structures, back, strict=True):
        assert_same(a, b)


def read_or_refuse(data: bytes, suffix: str) -> None:
    """Read ``data`` as a file: every structure returned passes the checks, or the error is an
    InvalidStructureError that names the file. Any other exception fails the test."""
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data)
        for on_error in ("raise", "skip"):
            refused: InvalidStructureError | None = None
            try:
                batch = read_structures(path, on_error=on_error)  # type: ignore[arg-type]
            except InvalidStructureError as exc:
                refused = exc
            if refused is not None:
                assert refused.source == str(path) and str(refused).startswith(str(path))
                continue
            for atoms in batch:
                assert not find_problems(atoms), "a returned structure fails the checks"
            for err in batch.skipped:
                assert err.source == str(path) and err.index is not None


SUFFIXES = st.sampled_from([".cif", ".extxyz", ".csv"])


@FAST
@given(data=st.binary(max_size=400), suffix=SUFFIXES)
def test_random_bytes_parse_or_raise_invalid_structure(data, suffix):
    read_or_refuse(data, suffix)


def _valid_text(suffix: str) -> str:
    sto = Atoms(
        "SrTiO3",
        scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        cell=[3.905] * 3,
        pbc=True,
    )
    water = Atoms("OH2", positions=[[0, 0, 0.119], [0, 0.763, -0.477], [0, -0.763, -0.477]])
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / f"v{suffix}"
        write_structures([sto, sto] if suffix != ".extxyz" else [sto, water], path)
        return path.read_text()


VALID = {s: _valid_text(s) for s in (".cif", ".extxyz", ".csv")}
JUNK = st.text(
    alphabet=st.sampled_from(list("0123456789.-+eE ,;:'\"\n\t_#[]{}=aXnNq")), max_size=12
)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, str]:
    """A valid file with 1-3 random edits: delete, insert, replace a span, drop or repeat a line."""
    suffix = draw(SUFFIXES)
    text = VALID[suffix]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["delete", "insert", "replace", "line", "truncate"]))
        at = draw(st.integers(0, max(len(text) - 1, 0)))
        span = draw(st.integers(1, 30))
        if kind == "delete":
            text = text[:at] + text[at + span :]
        elif kind == "insert":
            text = text[:at] + draw(JUNK) + text[at:]
        elif kind == "replace":
            text = text[:at] + draw(JUNK) + text[at + span :]
        elif kind == "truncate":
            text = text[:at]
        else:
            lines = text.splitlines(keepends=True) or [""]
            k = draw(st.integers(0, len(lines) - 1))
            lines[k : k + 1] = draw(st.sampled_from([[], [lines[k], lines[k]]]))
            text = "".join(lines)
    return suffix, text


@examples(60)
@given(case=mutations())
def test_edited_valid_files_parse_or_raise_invalid_structure(case):
    suffix, text = case
    read_or_refuse(text.encode("utf-8"), suffix)


# ------------------------------------------------------------------------------------------
# configuration

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["PBE", "CCSD(T)", "local", "dask", "qaware", "signed", "pyscf", "1e3"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _keys(model: type) -> list[str]:
    return list(model.model_fields)


DEFAULTS = QawareConfig().model_dump(mode="json")


def _value_for(section: str, key: str) -> st.SearchStrategy:
    """Random values, often near the default (so that a good share of documents validate)."""
    default = DEFAULTS.get(section)
    default = default.get(key) if isinstance(default, dict) else None
    if isinstance(default, bool) or default is None:
        return VALUES
    if isinstance(default, int | float):
        near = st.integers(-2, 2 * int(default) + 2)
        return st.one_of(st.just(default), near, VALUES)
    return st.one_of(st.just(default), VALUES)


@st.composite
def config_documents(draw: st.DrawFn) -> dict:
    """A YAML document made of the schema's own section/key names (plus a few unknown ones)."""
    doc: dict = {}
    sections = draw(st.lists(st.sampled_from([*_keys(QawareConfig), "campain"]), max_size=4))
    for section in sections:
        field = QawareConfig.model_fields.get(section)
        sub = _model_of(field.annotation) if field is not None else None
        if sub is None or (draw(st.booleans()) and draw(st.booleans())):
            doc[section] = draw(VALUES)  # a wrong shape now and then
            continue
        keys = draw(st.lists(st.sampled_from([*_keys(sub), "typo_key"]), max_size=4))
        body = {key: draw(_value_for(section, key)) for key in keys}
        doc[section] = [body] if section in ("fidelities", "oracles") else body
    return doc


PROBLEM = re.compile(r"random\.yaml:\d+ (?P<path>[A-Za-z_]\w*)(\.\S+)?: \S")


@examples(80)
@given(doc=config_documents())
@example(doc={"fidelities": []})  # found by this test: the ladder's error named no key
@example(doc={"fidelities": [{"name": "x", "kind": "stand-in"}]})
@example(doc={"run": {":": None}})  # found by this test: printed as "run.::"
def test_random_configs_validate_or_raise_config_error_with_the_key_path(doc):
    text = yaml.safe_dump(doc, sort_keys=False)
    try:
        config = parse_config(text, source="random.yaml")
    except ConfigError as exc:
        config, message = None, str(exc)
    if config is None:  # each problem: "random.yaml:<line> <key path>: <what>", path in doc
        lines = message.splitlines()
        problems = lines[1:] if len(lines) > 1 else lines
        assert len(lines) == 1 or lines[0].startswith("random.yaml: "), message
        for line in problems:
            found = PROBLEM.match(line.strip())
            assert found, line
            assert found["path"] in doc, line
        return
    assert isinstance(config, QawareConfig)
    # what validated dumps and loads back to the same configuration
    again = parse_config(yaml.safe_dump(config.model_dump(mode="json")), source="again.yaml")
    assert again == config


@examples(60)
@given(at=st.integers(0, 10_000), junk=JUNK, cut=st.integers(0, 40))
def test_edited_template_validates_or_raises_config_error(at, junk, cut):
    from qaware.config_io import config_template

    text = config_template()
    at %= len(text)
    edited = text[:at] + junk + text[at + cut :]
    message = ""
    try:
        parse_config(edited, source="edited.yaml")
    except ConfigError as exc:
        message = str(exc)
    assert not message or message.startswith("edited.yaml"), message


def test_the_properties_are_not_vacuous(tmp_path: Path) -> None:
    """The unedited inputs read and validate; one wrong type fails with its key path."""
    for suffix, text in VALID.items():
        path = tmp_path / f"valid{suffix}"
        path.write_text(text)
        assert len(read_structures(path)) == 2
    assert parse_config(yaml.safe_dump({"campaign": {"budget": 3}})).campaign.budget == 3
    with pytest.raises(ConfigError, match=r"^b\.yaml:2 campaign\.budget: "):
        parse_config(yaml.safe_dump({"campaign": {"budget": "x"}}), source="b.yaml")
