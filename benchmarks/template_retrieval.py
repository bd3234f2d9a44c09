"""Template retrieval for crystal structure prediction, measured on the training split only.

    python benchmarks/template_retrieval.py            # ~10 min on one core

CSP from a template is only as good as the template: the diffusion model keeps the space group,
Wyckoff letters and species it is given (on perov-5 test, k = 1 with each target's *own*
template matches 95 %; with a training template drawn by the library's weights about half:
``benchmarks/results/generator.json``, section ``csp``). This asks whether a better retrieval
rule exists among simple ones, without the model and without the test split: leave-one-out on
perov-5 *val* (the split the generators train on). For crystal i the library is every val
crystal's template with i's own copy removed; a rule picks a template for i's composition, the
template's structure is built (its source crystal's anchors and lattice, i's elements) and
compared with crystal i (StructureMatcher, CSP tolerances, volume scaled).

Rules (weights w over the fitting templates of :meth:`TemplateLibrary.candidates`):

* ``count``: w = training count (the package's rule before this study). ``similar``: w =
  count · e^s, s = the training template's elements that keep their place for the target (a
  piece of CSPML's composition similarity; the package's rule since, for its ``_draw``).
* ``*_draw``: a template drawn with w — the probability that the draw gives crystal i's
  structure (exact: summed over structure classes).
* ``*_top_template``: the single heaviest template (weights summed per Wyckoff letters+species).
* ``*_top_class``: the heaviest *structure class*: templates whose structures match are one
  class (another origin or setting of the same group gives other letters for one structure).

Writes benchmarks/results/template_retrieval.json with provenance.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import RESULTS, Recorder
from qaware.errors import InvalidStructureError
from qaware.generator.templates import TemplateLibrary, assign_composition, shared_roles
from qaware.generator.wyckoff import WyckoffTemplate, template_from_structure
from qaware.structures import read_structures

VAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "perov_5" / "val.csv"


def fitting(lib: TemplateLibrary, own: WyckoffTemplate) -> list[tuple[WyckoffTemplate, int, int]]:
    """(fitted template, leave-one-out count, kept roles) of every library template that fits
    ``own``'s composition (own's copy removed from the counts)."""
    comp, key = own.composition(), own.key()
    out = []
    for template, count in zip(lib.templates, lib.counts, strict=True):
        count -= template.key() == key
        fitted = assign_composition(template, comp) if count > 0 else None
        if fitted is not None:
            out.append((fitted, count, shared_roles(template, comp)))
    exact = [row for row in out if row[0].n_atoms == own.n_atoms]
    return exact or out  # the package's rule: the target's own atom count when there are any


class Matcher:
    """StructureMatcher (CSP tolerances) on templates built as structures, cached per call."""

    def __init__(self) -> None:
        from pymatgen.analysis.structure_matcher import StructureMatcher

        self.sm = StructureMatcher(ltol=0.3, stol=0.5, angle_tol=10.0, scale=True)

    def structure(self, item):
        from pymatgen.io.ase import AseAtomsAdaptor

        atoms = item if not isinstance(item, WyckoffTemplate) else item.to_atoms()
        return AseAtomsAdaptor.get_structure(atoms)

    def same(self, a, b) -> bool:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return bool(self.sm.fit(a, b))
            except ValueError:
                return False


def classes(templates: list, weights: list[float], m: Matcher) -> list[tuple[list[int], float]]:
    """Indices grouped by matching structure, heaviest class first (members heaviest first)."""
    order = sorted(range(len(templates)), key=lambda i: -weights[i])
    structures = {i: m.structure(templates[i]) for i in order}
    groups: list[list[int]] = []
    for i in order:
        for g in groups:
            if m.same(structures[g[0]], structures[i]):
                g.append(i)
                break
        else:
            groups.append([i])
    return sorted(((g, sum(weights[i] for i in g)) for g in groups), key=lambda x: -x[1])


def score(crystal, own: WyckoffTemplate, lib: TemplateLibrary, m: Matcher) -> dict | None:
    """Each rule's hit (or hit probability) for one crystal; None when nothing else fits."""
    rows = fitting(lib, own)
    if not rows:
        return None
    target = m.structure(crystal)
    out = {}
    for rule in ("count", "similar"):
        total: dict[tuple, float] = {}
        first: dict[tuple, WyckoffTemplate] = {}
        for fitted, count, kept in rows:
            w = count * (np.exp(kept) if rule == "similar" else 1.0)
            total[fitted.key()] = total.get(fitted.key(), 0.0) + w
            first.setdefault(fitted.key(), fitted)
        keys = list(first)
        weights = [total[k] / sum(total.values()) for k in keys]
        grouped = classes([first[k] for k in keys], weights, m)
        hit = [m.same(m.structure(first[keys[g[0]]]), target) for g, _ in grouped]
        out[f"{rule}_draw"] = float(sum(w for (_, w), h in zip(grouped, hit, strict=True) if h))
        out[f"{rule}_top_class"] = float(hit[0])
        top = int(np.argmax(weights))
        out[f"{rule}_top_template"] = float(m.same(m.structure(first[keys[top]]), target))
        out[f"{rule}_n_classes"] = float(len(grouped))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=VAL)
    parser.add_argument("--n", type=int, default=600, help="crystals scored (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "template_retrieval.json")
    args = parser.parse_args(argv)
    rec = Recorder("template_retrieval", seeds={"subset": args.seed}, data_files=[args.data])

    crystals, own = [], []
    for atoms in read_structures(str(args.data)):
        try:
            own.append(template_from_structure(atoms))
            crystals.append(atoms)
        except InvalidStructureError:
            continue
    lib = TemplateLibrary.from_templates(own)
    m = Matcher()
    chosen = np.random.default_rng(args.seed).permutation(len(own))[: args.n or len(own)]
    rows = [r for i in chosen if (r := score(crystals[i], own[i], lib, m)) is not None]
    table = {
        rule: {
            "mean": float(np.mean([r[rule] for r in rows])),
            "stderr": float(np.std([r[rule] for r in rows]) / np.sqrt(len(rows))),
        }
        for rule in sorted(rows[0])
    }
    results = {
        "data": {"file": "../shared/data/perov_5/val.csv", "crystals_with_template": len(own),
                 "scored": len(rows), "skipped_nothing_else_fits": len(chosen) - len(rows)},
        "rules": table,
        "meaning": "share of val crystals (leave-one-out) whose structure the retrieved "
        "template gives, no model involved; *_draw: the probability that a draw gives it; "
        "*_n_classes: distinct structures among the fitting templates",
    }  # fmt: skip
    print(table)
    print("wrote", rec.write(args.out, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
