"""Template retrieval for crystal structure prediction, measured on the training split only.

    python benchmarks/template_retrieval.py            # ~5 min on one core

CSP from a template is only as good as the template: the diffusion model keeps the space group
and Wyckoff letters it is given. This measures how often a retrieval rule hands a crystal its
own template, leave-one-out on perov-5 *val* (the split the generators train on; the test split
is not read): the library is built from every val crystal, and for crystal i the count of its
own template is lowered by one (its own copy removed) before retrieving for its composition.

Rules (:class:`qaware.generator.templates.TemplateLibrary`):

* ``frequency_draw``: a template drawn by training count (the rule before this study);
  reported as the probability that the draw is the crystal's own.
* ``most_frequent``: the most frequent fitting template.
* ``similarity_draw`` / ``similarity_rank1``: weights count·e^s, s = elements of the training
  template that keep their place (``shared_roles``); a draw, and the first of ``ranked()``
  (what ``DiffusionGenerator.predict`` uses for candidate 1).
* ``*_top20``: the crystal's template is among the first 20 distinct ranked ones (k = 20).

Writes benchmarks/results/template_retrieval.json with provenance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import RESULTS, Recorder
from qaware.errors import InvalidStructureError
from qaware.generator.templates import TemplateLibrary
from qaware.generator.wyckoff import WyckoffTemplate, template_from_structure
from qaware.structures import read_structures

VAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "perov_5" / "val.csv"


def without_one(lib: TemplateLibrary, template: WyckoffTemplate) -> TemplateLibrary:
    """``lib`` with one count of ``template`` removed (the entry dropped at zero)."""
    key = template.key()
    templates, counts = [], []
    for t, c in zip(lib.templates, lib.counts, strict=True):
        c = c - 1 if t.key() == key else c
        if c > 0:
            templates.append(t)
            counts.append(c)
    return TemplateLibrary(templates, counts)


def retrieve(lib: TemplateLibrary, own: WyckoffTemplate) -> dict[str, float] | None:
    """Each rule's hit (or hit probability) for one crystal; None when nothing else fits."""
    comp = own.composition()
    key = own.key()
    row: dict[str, float] = {}
    for name, similarity in (("frequency", False), ("similarity", True)):
        chosen, weights = lib.candidates(composition=comp, similarity=similarity)
        if not chosen:
            return None
        ranked = lib.ranked(composition=comp, similarity=similarity)
        row[f"{name}_draw"] = float(sum(w for t, w in zip(chosen, weights) if t.key() == key))
        row[f"{name}_rank1"] = float(ranked[0].key() == key)
        row[f"{name}_top20"] = float(key in {t.key() for t in ranked[:20]})
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=VAL)
    parser.add_argument("--n", type=int, default=1500, help="crystals scored (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "template_retrieval.json")
    args = parser.parse_args(argv)
    rec = Recorder("template_retrieval", seeds={"subset": args.seed}, data_files=[args.data])

    own: list[WyckoffTemplate] = []
    for atoms in read_structures(str(args.data)):
        try:
            own.append(template_from_structure(atoms))
        except InvalidStructureError:
            continue
    lib = TemplateLibrary.from_templates(own)
    rng = np.random.default_rng(args.seed)
    chosen = rng.permutation(len(own))[: args.n or len(own)]
    rows = [r for i in chosen if (r := retrieve(without_one(lib, own[i]), own[i])) is not None]
    rules = sorted(rows[0])
    table = {
        rule: {
            "mean": float(np.mean([r[rule] for r in rows])),
            "stderr": float(np.std([r[rule] for r in rows]) / np.sqrt(len(rows))),
        }
        for rule in rules
    }
    table["most_frequent"] = table.pop("frequency_rank1")
    results = {
        "data": {"file": "../shared/data/perov_5/val.csv", "crystals_with_template": len(own),
                 "distinct_templates": len(lib), "scored": len(rows),
                 "skipped_nothing_else_fits": len(chosen) - len(rows)},
        "rules": table,
        "meaning": "share of crystals whose own template (space group, Wyckoff letters, "
        "species per orbit) is retrieved for their composition, leave-one-out; *_draw: the "
        "probability of drawing it",
    }  # fmt: skip
    print(table)
    print("wrote", rec.write(args.out, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
