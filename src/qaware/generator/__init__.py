"""Crystal generators: symmetry-constrained periodic diffusion (DiffCSP++-style) and baselines.

Importing this package loads torch but neither pyxtal nor pymatgen (they load when a template
is built or a baseline samples).

- :class:`DiffusionGenerator` — the trained model behind the StructureGenerator protocol;
  :func:`train` makes one from a CDVAE CSV or extxyz file; :func:`fine_tune` (or
  ``DiffusionGenerator.fine_tune``) adapts it to a few structures, e.g. a campaign's hits.
- :class:`RandomSymmetricGenerator` (pyxtal) and :class:`SubstitutionGenerator` (GNoME-style)
  — the baselines.
- Building blocks: Wyckoff templates (:func:`template_from_structure`), the template library,
  the lattice parametrisation, the wrapped normal, the denoiser and the sampler.
"""

from qaware.generator.checkpoint import GeneratorBundle, load_bundle, save_bundle
from qaware.generator.conditions import CONDITION_KEYS, GenerationConditions, parse_conditions
from qaware.generator.denoiser import CSPDenoiser, DenoiserConfig
from qaware.generator.diffusion import CrystalDiffusion, DiffusionConfig
from qaware.generator.diffusion_generator import DiffusionGenerator
from qaware.generator.fine_tune import fine_tune, fixed_noise_loss
from qaware.generator.lattice import (
    coefficients_to_lattice,
    crystal_family,
    lattice_to_coefficients,
)
from qaware.generator.random_symmetric import RandomSymmetricGenerator, random_symmetric_crystal
from qaware.generator.run_config import GeneratorTrainSettings, load_train_generator_config
from qaware.generator.sampler import SamplerConfig, SamplingResult, sample
from qaware.generator.substitution import SubstitutionGenerator, similar_elements
from qaware.generator.templates import TemplateLibrary, assign_composition
from qaware.generator.train import TrainConfig, train
from qaware.generator.wrapped_normal import SigmaSchedule, wrapped_normal_score
from qaware.generator.wyckoff import (
    Orbit,
    WyckoffTemplate,
    symmetry_error,
    template_from_structure,
)

__all__ = [
    "CONDITION_KEYS",
    "CSPDenoiser",
    "CrystalDiffusion",
    "DenoiserConfig",
    "DiffusionConfig",
    "DiffusionGenerator",
    "GenerationConditions",
    "GeneratorBundle",
    "GeneratorTrainSettings",
    "Orbit",
    "RandomSymmetricGenerator",
    "SamplerConfig",
    "SamplingResult",
    "SigmaSchedule",
    "SubstitutionGenerator",
    "TemplateLibrary",
    "TrainConfig",
    "WyckoffTemplate",
    "assign_composition",
    "coefficients_to_lattice",
    "crystal_family",
    "fine_tune",
    "fixed_noise_loss",
    "lattice_to_coefficients",
    "load_bundle",
    "load_train_generator_config",
    "parse_conditions",
    "random_symmetric_crystal",
    "sample",
    "save_bundle",
    "similar_elements",
    "symmetry_error",
    "template_from_structure",
    "train",
    "wrapped_normal_score",
]
