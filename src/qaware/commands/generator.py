"""``qaware`` sub-commands for the generator (registered on import by :mod:`qaware.cli`).

* ``qaware train-generator CONFIG``: train the crystal diffusion model. CONFIG is a YAML
  (:mod:`qaware.generator.run_config`) or directly a CDVAE CSV / extxyz file; options override.
* ``qaware generate --model M -n N [--composition F | --elements ...] [--spacegroup G]
  [--descriptors target.json|like.cif [--proxy P] --lam λ] -o OUT``: OUT.extxyz plus
  OUT.cif.zip (one CIF each).
"""

from __future__ import annotations

import time
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Annotated, Any

import typer

from qaware.cli import app
from qaware.errors import ConfigError

__all__ = ["generate", "read_descriptor_target", "train_generator", "write_samples"]

QUICKSTART = "quickstart"
"""``--model quickstart``: the checkpoint shipped in ``qaware/data/models``."""


@app.command("train-generator")
def train_generator(
    config: Annotated[
        Path, typer.Argument(help="train-generator YAML, or a CDVAE CSV / extxyz file.")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output directory (overrides config).")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Optimisation steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Structures per step.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    hidden: Annotated[int | None, typer.Option(help="Denoiser width.")] = None,
    layers: Annotated[int | None, typer.Option(help="Denoiser layers.")] = None,
    max_minutes: Annotated[float | None, typer.Option(help="Stop early after this.")] = None,
    descriptor_key: Annotated[
        list[str] | None,
        typer.Option(help="atoms.info key (CSV column) conditioning the model; repeatable."),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUTPUT/last.pt.")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda, cuda:N or auto (overrides config).")
    ] = None,
) -> None:
    """Train a symmetry-constrained crystal diffusion model; writes OUTPUT/model.pt, a
    resumable OUTPUT/last.pt every checkpoint_every steps, and OUTPUT/history.jsonl.

    Example: qaware train-generator ../shared/data/perov_5/val.csv -o runs/gen --steps 2000
    """
    from qaware._canonical import file_sha256
    from qaware.generator.run_config import GeneratorTrainSettings, load_train_generator_config
    from qaware.generator.train import train
    from qaware.structures import read_structures

    if config.suffix.lower() in (".yaml", ".yml"):
        settings = load_train_generator_config(config)
    else:
        settings = GeneratorTrainSettings(data=[config])
    updates: dict[str, Any] = {
        k: v
        for k, v in {
            "output": output,
            "steps": steps,
            "batch_size": batch_size,
            "seed": seed,
            "max_minutes": max_minutes,
            "descriptor_keys": descriptor_key or None,
            "device": device,
        }.items()
        if v is not None
    }
    model = settings.model.model_copy(
        update={k: v for k, v in {"hidden": hidden, "layers": layers}.items() if v is not None}
    )
    settings = settings.model_copy(update={**updates, "model": model})
    structures: list[Any] = []
    for path in settings.data:
        read = read_structures(path, on_error="skip")
        for problem in read.skipped[:10]:
            typer.echo(f"  skipped: {problem}", err=True)
        structures.extend(read)
    typer.echo(f"{len(structures)} structures from {len(settings.data)} file(s)")
    t0 = time.perf_counter()
    bundle, history = train(
        structures,
        settings.output,
        config=settings.train_config(progress=progress),
        model_config=settings.diffusion_config(),
        resume=resume,
    )
    path = settings.output / "model.pt"
    last = history[-1]["total"] if history else float("nan")
    typer.echo(
        f"trained {len(history)} steps in {time.perf_counter() - t0:.0f} s on "
        f"{bundle.meta['n_train']} templates (last loss {last:.3f})"
    )
    typer.echo(f"wrote {path} (sha256 {file_sha256(path)})")


def read_descriptor_target(path: Path, proxy: Path | None = None) -> list[float]:
    """q from ``path`` (:func:`qaware.descriptors.target.descriptor_target`): a JSON vector or
    descriptor dict, or a structure file described by the proxy checkpoint ``proxy``."""
    from qaware.descriptors.target import descriptor_target

    model = None
    if proxy is not None:
        from qaware.descriptors.proxy import DescriptorProxy

        model = DescriptorProxy.load(proxy)
    return [float(x) for x in descriptor_target(path, model)]


def write_samples(structures: list, out: Path) -> tuple[Path, Path]:
    """OUT.extxyz (all frames) and OUT.cif.zip (sample_00000.cif ...); returns both paths."""
    from ase.io import write

    out.parent.mkdir(parents=True, exist_ok=True)
    xyz = out.with_name(out.name + ".extxyz")
    cifs = out.with_name(out.name + ".cif.zip")
    write(xyz, structures, format="extxyz")
    with zipfile.ZipFile(cifs, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i, atoms in enumerate(structures):
            buf = BytesIO()  # ASE's CIF writer writes bytes
            clean = atoms.copy()
            clean.info = {}
            write(buf, clean, format="cif")
            zf.writestr(f"sample_{i:05d}.cif", buf.getvalue())
    return xyz, cifs


@app.command()
def generate(
    model: Annotated[
        str, typer.Option("--model", "-m", help="Generator checkpoint, or 'quickstart'.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Prefix: writes OUT.extxyz and OUT.cif.zip.")
    ],
    n: Annotated[int, typer.Option("-n", help="Number of structures.", min=1)] = 100,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    composition: Annotated[
        str | None, typer.Option(help="Exact cell composition, e.g. SrTiO3 (CSP).")
    ] = None,
    elements: Annotated[
        str | None, typer.Option(help="Allowed elements, comma separated (de novo).")
    ] = None,
    spacegroup: Annotated[int | None, typer.Option(help="Space group number 1-230.")] = None,
    descriptors: Annotated[
        Path | None,
        typer.Option(
            help="Target descriptors q (guidance): a JSON vector, or a structure file whose "
            "q the --proxy predicts ('more like these')."
        ),
    ] = None,
    proxy: Annotated[
        Path | None, typer.Option(help="Descriptor proxy checkpoint (for a structure target).")
    ] = None,
    lam: Annotated[
        float | None, typer.Option(help="Guidance weight λ (with --descriptors).")
    ] = None,
    nfe: Annotated[int, typer.Option(help="Network evaluations per structure.")] = 200,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")] = "cpu",
) -> None:
    """Sample crystals from a trained generator (symmetry kept by construction).

    Example: qaware generate --model quickstart -n 1000 --elements Sr,Ti,Fe,O -o samples
    """
    from qaware.generator.diffusion_generator import DiffusionGenerator

    path = Path(model)
    if model == QUICKSTART:
        from importlib.resources import files

        path = Path(str(files("qaware.data") / "models" / "generator_quickstart.pt"))
    if not path.is_file():
        raise ConfigError(f"--model: {path} not found")
    if lam is not None and descriptors is None:
        raise ConfigError("--lam: give --descriptors too (λ weighs the descriptor guidance)")
    conditions: dict[str, Any] = {}
    if composition:
        conditions["composition"] = composition
    if elements:
        conditions["elements"] = [e.strip() for e in elements.split(",") if e.strip()]
    if spacegroup is not None:
        conditions["space_group"] = spacegroup
    if descriptors is not None:
        conditions["descriptors"] = read_descriptor_target(descriptors, proxy)
        conditions["lam"] = 1.0 if lam is None else lam
    gen = DiffusionGenerator.load(path, nfe_budget=nfe, device=device, progress=True)
    t0 = time.perf_counter()
    try:
        structures = gen.sample(n, seed=seed, conditions=conditions)
    except ValueError as exc:  # e.g. no template fits the space group
        raise ConfigError(str(exc)) from None
    seconds = time.perf_counter() - t0
    xyz, cifs = write_samples(structures, output)
    typer.echo(f"generated {len(structures)} structures in {seconds:.1f} s")
    typer.echo(f"wrote {xyz} and {cifs}")
