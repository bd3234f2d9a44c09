"""Oracles: real calculations (PySCF, GPAW, ASE calculators), pretrained stand-ins, replays."""
