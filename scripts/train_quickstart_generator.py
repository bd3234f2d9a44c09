"""Train the quick-start generator shipped as ``qaware/data/models/generator_quickstart.pt``.

Data: perov-5 ``val.csv`` (CDVAE packaging; 3,787 ABX3 cells). The perov-5 *train* split is not
in ../shared/data, so the quick-start model sees only the validation split; its test split stays
held out for the match-rate check.

The model is conditioned on the descriptor vector q (122 values, :mod:`qaware.descriptors`):

* without ``--proxy`` every training structure gets q = NaN, so the condition is always dropped
  and the model learns the unconditional score (the null embedding); its condition layer is
  in place, with q's scale still unfitted, for a later fine-tune;
* with ``--proxy P`` each training structure is described by the descriptor proxy's prediction
  (the oracle-computed q exist for only a few dozen perov-5 cells), q's scale is fitted on them
  and the condition is dropped with the model's ``cond_dropout`` (classifier-free guidance);
* ``--init CKPT`` starts from a checkpoint (``--proxy`` then fine-tunes the condition layer and
  the network for ``--steps`` steps; see :func:`qaware.generator.fine_tune.fine_tune`).

Deterministic for a given seed and step count on one thread; ``--max-minutes`` only stops early.

    OMP_NUM_THREADS=1 python scripts/train_quickstart_generator.py
    OMP_NUM_THREADS=1 python scripts/train_quickstart_generator.py --evaluate-only
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "perov_5"
MODELS = REPO / "src" / "qaware" / "data" / "models"
Q_KEY = "q"
Q_DIM = 122


def _descriptors(structures: list, proxy: Path | None) -> None:
    """Put q in ``atoms.info[Q_KEY]``: the proxy's prediction, or NaN (no condition)."""
    if proxy is None:
        for atoms in structures:
            atoms.info[Q_KEY] = np.full(Q_DIM, np.nan)
        return
    from qaware.descriptors.proxy import DescriptorProxy

    q = DescriptorProxy.load(proxy).predict(structures)
    for atoms, row in zip(structures, q, strict=True):
        atoms.info[Q_KEY] = row


def evaluate(model_path: Path, n: int, seed: int) -> dict:
    """CSP match rate (k=1) on the first ``n`` perov-5 test cells, and the validity of ``n``
    de novo samples, with the default 200-evaluation sampler."""
    from qaware.generator import DiffusionGenerator
    from qaware.metrics.generation import csp_match, validity
    from qaware.structures import read_structures

    gen = DiffusionGenerator.load(model_path)
    test = list(read_structures(DATA / "test.csv"))[:n]
    comps = [
        {int(z): int(c) for z, c in zip(*np.unique(a.numbers, return_counts=True), strict=True)}
        for a in test
    ]
    t0 = time.perf_counter()
    pred = gen.predict(comps, seed=seed, k=1)[0]
    t_csp = time.perf_counter() - t0
    csp = csp_match([pred], test)
    t0 = time.perf_counter()
    samples = gen.sample(n, seed=seed)
    t_dng = time.perf_counter() - t0
    valid = [validity(a) for a in samples]
    return {
        "n": n,
        "seed": seed,
        "csp_match_rate_k1": csp.match_rate,
        "csp_rmse_k1": csp.rmse,
        "dng_structural_validity": float(np.mean([v[0] for v in valid])),
        "dng_compositional_validity": float(np.mean([v[1] for v in valid])),
        "csp_seconds": round(t_csp, 1),
        "dng_seconds": round(t_dng, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA / "val.csv")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "quickstart_generator")
    parser.add_argument("--out", type=Path, default=MODELS / "generator_quickstart.pt")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--proxy", type=Path, default=None)
    parser.add_argument("--init", type=Path, default=None)
    parser.add_argument("--evaluate", type=int, default=200, help="0: skip the evaluation")
    parser.add_argument("--evaluate-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    warnings.filterwarnings("ignore")

    from qaware._canonical import file_sha256
    from qaware.generator import DiffusionConfig, DiffusionGenerator, TrainConfig, train
    from qaware.generator.checkpoint import save_bundle
    from qaware.structures import read_structures

    if not args.evaluate_only:
        structures = list(read_structures(args.data, on_error="skip"))
        _descriptors(structures, args.proxy)
        t0 = time.perf_counter()
        if args.init is None:
            config = TrainConfig(
                steps=args.steps,
                batch_size=args.batch_size,
                seed=args.seed,
                checkpoint_every=250,
                descriptor_keys=(Q_KEY,),
                max_seconds=None if args.max_minutes is None else 60 * args.max_minutes,
            )
            bundle, history = train(
                structures, args.work, config=config, model_config=DiffusionConfig(), resume=True
            )
            summary = {"steps": len(history), "loss_last_100": _tail(history)}
        else:
            gen = DiffusionGenerator.load(args.init)
            summary = gen.fine_tune(
                structures,
                steps=args.steps,
                seed=args.seed,
                batch_size=args.batch_size,
                lr=3e-4,
                max_seconds=None if args.max_minutes is None else 60 * args.max_minutes,
                refit_descriptor_scale=True,
                add_templates=False,
            )
            bundle = gen.bundle
        bundle.meta.update(
            data=str(args.data.name),
            proxy=None if args.proxy is None else args.proxy.name,
            proxy_sha256=None if args.proxy is None else file_sha256(args.proxy),
            init=None if args.init is None else args.init.name,
            seed=args.seed,
            train_seconds=round(time.perf_counter() - t0, 1),
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        save_bundle(bundle, args.out)
        print(json.dumps({"training": summary}, indent=1))
    if args.evaluate:
        print(json.dumps({"evaluation": evaluate(args.out, args.evaluate, args.seed)}, indent=1))


def _tail(history: list[dict]) -> float | None:
    if not history:
        return None
    return float(np.mean([h["total"] for h in history[-100:]]))


if __name__ == "__main__":
    main()
