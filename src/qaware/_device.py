"""Which torch device a model runs on: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"``.

One resolver for every model of the package (validator, generator), so a config's ``device``
key means the same everywhere and a GPU asked for on a machine without one fails at once with
the reason, not deep inside the first batch.
"""

from __future__ import annotations

import torch

from qaware.errors import ConfigError

__all__ = ["resolve_device"]


def resolve_device(name: str | torch.device) -> torch.device:
    """``"auto"``: the first CUDA GPU if torch sees one, else the CPU; anything else must be a
    device torch knows and can use here. Raises ConfigError naming the device and the reason."""
    if isinstance(name, torch.device):
        device = name
    elif name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except (RuntimeError, TypeError) as exc:
            raise ConfigError(
                f"device {name!r}: not a torch device (use 'cpu', 'cuda', 'cuda:N' or 'auto')"
            ) from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {str(device)!r}: torch {torch.__version__} sees no CUDA GPU here "
                "(a CPU build, or no driver); use 'cpu' or 'auto'"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {str(device)!r}: only {torch.cuda.device_count()} CUDA GPU(s) visible"
            )
    elif device.type != "cpu":
        raise ConfigError(f"device {str(device)!r}: only 'cpu' and 'cuda' devices are supported")
    return device
