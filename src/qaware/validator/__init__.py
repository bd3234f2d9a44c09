"""MF-ENNP: the multi-fidelity equivariant potential that scores candidates (DESIGN.md §4).

Needs the ``validator`` extra (e3nn); importing :mod:`qaware` itself never imports this package.
"""
