"""Pretrained universal potentials as fast stand-in oracles: SevenNet-MF-0 and CHGNet.

A stand-in imitates a level of theory; its level name says which data it imitates and which code
produced it (DESIGN.md §3). Names follow the *training labels*, checked here on MgO, SrTiO3, NiO,
MnO and LiF:

* ``SevenNet-MF-0`` modal ``PBE`` — trained on MPtrj, the Materials Project GGA/GGA+U relaxations
  (PBE, with Hubbard U on Co, Cr, Fe, Mn, Mo, Ni, V, W in oxides and fluorides), **raw** total
  energies: level ``GGA+U@SevenNet-MF-0`` (plain PBE only for systems without those elements).
* ``SevenNet-MF-0`` modal ``R2SCAN`` — MP r2SCAN (no U, no corrections): ``r2SCAN@SevenNet-MF-0``.
* ``CHGNet`` ``0.3.0`` (default) — MPtrj energies *with the MP2020 compatibility corrections*
  (−0.687 eV per oxide O, −2.541 eV per Ni with U, ...): its MgO energy is the SevenNet PBE-modal
  energy minus 0.69 eV, NiO minus 3.15 eV. Level ``GGA+U(MP2020)@CHGNet``; never apply the MP2020
  corrections to these energies a second time.
* ``CHGNet`` ``r2scan`` — CHGNet 0.3.0 fine-tuned on MP r2SCAN: ``r2SCAN@CHGNet``.

Weights come only from files inside the installed wheels (nothing is downloaded); their sha256
is part of the settings hash, with the package name and version. The device and thread count
are not: they change results only at float32 round-off. The spec is a frozen, picklable
dataclass; each worker process loads a model once, on its first call, and keeps it.

Only fully periodic structures are accepted (``pbc`` all True): both models were trained on bulk
crystals only, and CHGNet's graph needs a lattice. Molecules and slabs give ``ok=False``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import io
import time
import warnings
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any, Final, Literal, get_args

import numpy as np
from ase import Atoms

from qaware._canonical import file_sha256
from qaware.errors import ConfigError, MissingDependencyError, OracleError
from qaware.oracles.base import settings_hash, timed_call
from qaware.oracles.result import OracleResult

__all__ = [
    "REASON_NOT_PERIODIC",
    "REASON_UNSUPPORTED_ELEMENT",
    "PretrainedModel",
    "PretrainedOracle",
]

PretrainedModel = Literal["SevenNet-MF-0", "CHGNet"]

REASON_NOT_PERIODIC: Final[str] = "not_periodic"
REASON_UNSUPPORTED_ELEMENT: Final[str] = "unsupported_element"
_CHGNET_MAX_Z: Final[int] = 94  # CHGNet's atom embedding has rows for Z = 1..94


@dataclass(frozen=True)
class _Variant:
    """One set of weights: the package that ships it, the file inside that package (relative to
    the package directory), the package's own name for it, and the theory its labels came from."""

    package: str
    weights: str
    native_name: str
    theory: str


_VARIANTS: Final[dict[str, dict[str, _Variant]]] = {
    "SevenNet-MF-0": {
        "PBE": _Variant(
            "sevenn",
            "pretrained_potentials/SevenNet_MF_0/checkpoint_sevennet_mf_0.pth",
            "PBE",
            "GGA+U",
        ),
        "R2SCAN": _Variant(
            "sevenn",
            "pretrained_potentials/SevenNet_MF_0/checkpoint_sevennet_mf_0.pth",
            "R2SCAN",
            "r2SCAN",
        ),
    },
    "CHGNet": {
        "0.3.0": _Variant(
            "chgnet",
            "pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar",
            "0.3.0",
            "GGA+U(MP2020)",
        ),
        "r2scan": _Variant(
            "chgnet",
            "pretrained/r2scan/chgnet_r2scan_transfer_learning_e15f36s161m23.pth.tar",
            "r2scan",
            "r2SCAN",
        ),
    },
}
_DEFAULT_MODAL: Final[dict[str, str]] = {"SevenNet-MF-0": "PBE", "CHGNet": "0.3.0"}


@dataclass(frozen=True)
class PretrainedOracle:
    """A pretrained potential as an oracle spec (settings only; the model loads lazily).

    model:   ``"SevenNet-MF-0"`` or ``"CHGNet"``.
    modal:   the package's own name for the head/weights, case-insensitive: SevenNet-MF-0
             ``"PBE"`` (default) or ``"R2SCAN"``; CHGNet ``"0.3.0"`` (default) or ``"r2scan"``.
    device:  torch device string (``"cpu"``, ``"cuda"``).
    threads: torch intra-op threads during a call (restored afterwards).

    ``compute`` returns energy (eV), forces ((n, 3) eV/Å) and stress ((6,) Voigt xx, yy, zz,
    yz, xz, xy in eV/Å^3, ASE sign: positive = tensile).
    """

    model: PretrainedModel = "SevenNet-MF-0"
    modal: str | None = None
    device: str = "cpu"
    threads: int = 1

    def __post_init__(self) -> None:
        if self.model not in _VARIANTS:
            raise ConfigError(
                f"pretrained oracle: model {self.model!r} is not one of "
                f"{list(get_args(PretrainedModel))}"
            )
        wanted = _DEFAULT_MODAL[self.model] if self.modal is None else str(self.modal)
        names = {name.lower(): name for name in _VARIANTS[self.model]}
        if wanted.lower() not in names:
            raise ConfigError(
                f"pretrained oracle {self.model}: modal {wanted!r} is not one of "
                f"{list(names.values())}"
            )
        object.__setattr__(self, "modal", names[wanted.lower()])
        if int(self.threads) < 1:
            raise ConfigError(f"pretrained oracle: threads must be >= 1, got {self.threads}")

    @property
    def _variant(self) -> _Variant:
        return _VARIANTS[self.model][str(self.modal)]

    @property
    def level(self) -> str:
        """``theory@code``: ``GGA+U@SevenNet-MF-0``, ``r2SCAN@SevenNet-MF-0``,
        ``GGA+U(MP2020)@CHGNet``, ``r2SCAN@CHGNet`` (see the module docstring for why)."""
        return f"{self._variant.theory}@{self.model}"

    @property
    def code(self) -> str:
        """The Python package that runs the model (``sevenn`` or ``chgnet``)."""
        return self._variant.package

    @property
    def code_version(self) -> str:
        """Installed version of :attr:`code`; raises MissingDependencyError when absent."""
        _package_dir(self.code)
        return importlib.metadata.version(self.code)

    @property
    def weights_path(self) -> Path:
        """The weights file inside the installed wheel; OracleError when it is not there."""
        variant = self._variant
        path = _package_dir(variant.package) / variant.weights
        if not path.is_file():
            raise OracleError(
                f"pretrained oracle {self.level}: weights file {variant.weights} is not inside "
                f"the installed {variant.package} {importlib.metadata.version(variant.package)} "
                f"({path}); qaware loads weights only from the wheel, never from the network"
            )
        return path

    def settings(self) -> dict[str, Any]:
        """Everything that changes the answer: code, version, model, modal, weights checksum."""
        path = self.weights_path
        return {
            "code": self.code,
            "code_version": self.code_version,
            "model": self.model,
            "modal": self.modal,
            "weights_file": self._variant.weights,
            "weights_sha256": _sha256(str(path)),
        }

    def settings_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`settings` (64 hex characters)."""
        return settings_hash(self.settings())

    def compute(self, atoms: Atoms) -> OracleResult:
        """Energy, forces and stress of ``atoms`` (not modified); never raises for a bad
        structure or a model failure. A missing package raises MissingDependencyError (a setup
        error, not a failed calculation)."""
        version, digest = self.code_version, self.settings_hash()
        return timed_call(
            partial(self._evaluate, version=version, digest=digest),
            atoms,
            level=self.level,
            code=self.code,
            code_version=version,
            settings_hash=digest,
        )

    def _evaluate(self, atoms: Atoms, *, version: str, digest: str) -> OracleResult:
        def failure(reason: str) -> OracleResult:
            return OracleResult.failure(
                self.level, reason, code=self.code, code_version=version, settings_hash=digest
            )

        if not np.all(atoms.pbc):
            return failure(
                f"{REASON_NOT_PERIODIC}: periodic structures only, pbc={atoms.pbc.tolist()} "
                f"({self.model} was trained on bulk crystals)"
            )
        import torch

        start = time.perf_counter()
        fresh = (self.model, self.modal, self.device) not in _CALCULATORS
        calc = _calculator(self.model, str(self.modal), self.device, str(self.weights_path))
        load_s = time.perf_counter() - start if fresh else 0.0
        bad = _unsupported(self.model, calc, atoms)
        if bad:
            return failure(f"{REASON_UNSUPPORTED_ELEMENT}: {bad} unknown to {self.model}")
        work = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
        previous = torch.get_num_threads()
        torch.set_num_threads(int(self.threads))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # CHGNet's requires_grad notice
                calc.calculate(
                    work, ["energy", "forces", "stress"], ["positions", "numbers", "cell", "pbc"]
                )
        finally:
            torch.set_num_threads(previous)
        stress = np.asarray(calc.results["stress"], dtype=float)
        if stress.shape == (3, 3):
            from ase.stress import full_3x3_to_voigt_6_stress

            stress = full_3x3_to_voigt_6_stress(stress)
        return OracleResult(
            ok=True,
            level=self.level,
            energy=float(calc.results["energy"]),
            forces=np.asarray(calc.results["forces"], dtype=float),
            stress=stress,
            diagnostics={
                "device": self.device,
                "threads": int(self.threads),
                "model_load_s": load_s,
            },
            code=self.code,
            code_version=version,
            settings_hash=digest,
        )


# ------------------------------------------------------------------------------------------
# per-process state: located packages, weight checksums, loaded models


def _package_dir(package: str) -> Path:
    """Directory of an installed package, found without importing it (no torch at hash time)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(package, "pretrained", f"the {package} pretrained oracle")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def _sha256(path: str) -> str:
    """sha256 of a weights file, computed once per process."""
    return file_sha256(path)


_CALCULATORS: dict[tuple[str, str, str], Any] = {}


def _calculator(model: str, modal: str, device: str, weights: str) -> Any:
    """The ASE calculator for (model, modal, device), built on first use in this process."""
    key = (model, modal, device)
    if key not in _CALCULATORS:
        calc: Any
        if model == "SevenNet-MF-0":
            from sevenn.calculator import SevenNetCalculator

            network = _sevennet_network(weights, device)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "no tensor product accelerator"
                calc = SevenNetCalculator(
                    network, file_type="model_instance", modal=modal, device=device
                )
        else:
            from chgnet.model import CHGNet
            from chgnet.model.dynamics import CHGNetCalculator

            # As CHGNet.load(model_name) does, but from the file whose checksum we hash.
            with contextlib.redirect_stdout(io.StringIO()):  # it prints its size and device
                network = CHGNet.from_file(weights, mlp_out_bias=False, version=modal)
                calc = CHGNetCalculator(network, use_device=device, on_isolated_atoms="error")
        _CALCULATORS[key] = calc
    return _CALCULATORS[key]


@cache
def _sevennet_network(weights: str, device: str) -> Any:
    """The SevenNet network of a checkpoint, shared by its modals (one load per process and
    device: the calculator moves it to its device in place)."""
    from sevenn.util import load_checkpoint

    return load_checkpoint(weights).build_model()


def _unsupported(model: str, calc: Any, atoms: Atoms) -> str:
    """Chemical symbols in ``atoms`` that the model has no embedding for ('' when none)."""
    known = (
        (lambda z: z in calc.type_map)
        if model == "SevenNet-MF-0"
        else (lambda z: 1 <= z <= _CHGNET_MAX_Z)
    )
    bad = sorted(
        {
            (int(z), s)
            for z, s in zip(atoms.numbers, atoms.get_chemical_symbols(), strict=True)
            if not known(int(z))
        }
    )
    return ", ".join(f"{s} (Z={z})" for z, s in bad)
