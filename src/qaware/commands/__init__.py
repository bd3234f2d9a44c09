"""Sub-commands of ``qaware`` grouped by topic; importing a module registers its commands on
:data:`qaware.cli.app` (kept out of cli.py so that each stays one concept and short)."""
