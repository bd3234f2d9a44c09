"""Every model loader turns a file that is not its checkpoint into one ConfigError naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from qaware.errors import ConfigError


def _loaders():
    from qaware.descriptors.proxy import DescriptorProxy
    from qaware.generator import DiffusionGenerator
    from qaware.validator import MFValidator

    return {
        "generator checkpoint": DiffusionGenerator.load,
        "MF-ENNP checkpoint": MFValidator.load,
        "descriptor proxy": DescriptorProxy.load,
    }


@pytest.mark.parametrize("what", ["generator checkpoint", "MF-ENNP checkpoint", "descriptor proxy"])
@pytest.mark.parametrize("content", [b"", b"junk", b"PK\x03\x04" + b"\x00" * 40])
def test_a_file_that_is_no_checkpoint_is_a_config_error(
    tmp_path: Path, what: str, content: bytes
) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(content)  # empty, text, a truncated zip (torch.save's container)
    with pytest.raises(ConfigError, match=f"model.pt: cannot read {what}"):
        _loaders()[what](path)
