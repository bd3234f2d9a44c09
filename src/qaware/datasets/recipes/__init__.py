"""Structure-generation recipes of the project's data sets (deterministic, seeded, no files).

A recipe is a function ``structures(seed=...) -> list[ase.Atoms]`` that a data-set spec names as
``recipe: "qaware.datasets.recipes.<module>:structures"``; the structures are the data set's
inputs, rebuilt identically on every call.
"""
