"""One directory per campaign: everything needed to audit, resume and report a run.

Layout (DESIGN.md §4)::

    run/
      qaware_run.json    marker: qaware version, run-dir format version, campaign, store URL
      config.yaml        the resolved configuration
      config.sha256      sha256 of the configuration's canonical JSON (sorted keys)
      environment.json   Python, package versions, host, git commit
      campaign.db        the ase.db store (absent when the store is a PostgreSQL URL)
      events.jsonl       append-only audit trail (:class:`~qaware.store.events.EventLog`)
      cycles/cycle_0003/<name>.extxyz
      models/<name> and models/<name>.sha256

The marker is written last, so a directory without it is not a (complete) run directory. Files
are written to a temporary name and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from ase import Atoms

from qaware._canonical import canonical_sha256, file_sha256
from qaware.errors import ConfigError, RunDirectoryError, StoreError
from qaware.store.ase_store import CampaignStore
from qaware.store.environment import environment_info
from qaware.store.events import EventLog

__all__ = ["FORMAT_VERSION", "MARKER", "RunDirectory", "config_hash"]

FORMAT_VERSION = 1
"""Version of this layout; a directory written by a newer format is refused."""
MARKER = "qaware_run.json"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of ``config`` (sorted keys): formatting does not count."""
    return canonical_sha256(_plain(config))


class RunDirectory:
    """A campaign's run directory. Build one with :meth:`create`, reopen it with :meth:`open`."""

    def __init__(self, path: Path, marker: dict[str, Any]) -> None:
        self.path = path
        self.marker = marker
        self.events = EventLog(path / "events.jsonl")

    # ---- creating and opening ---------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | Path,
        config: Mapping[str, Any],
        *,
        store_url: str | None = None,
        campaign: str | None = None,
    ) -> RunDirectory:
        """Make a new run directory at ``path`` (absent or empty) for the resolved ``config``.

        store_url: a ``postgresql://`` URL for the store; None keeps ``campaign.db`` inside.
        campaign:  row name in the store; default: directory name + a random suffix, unique in
                   a database that several runs share.
        """
        from qaware import __version__

        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunDirectoryError(f"{path}: exists and is not an empty directory")
        plain = _plain(config)
        path.mkdir(parents=True, exist_ok=True)
        marker = {
            "format_version": FORMAT_VERSION,
            "qaware_version": __version__,
            "created": datetime.now(UTC).isoformat(),
            "campaign": campaign or f"{path.resolve().name}-{uuid.uuid4().hex[:8]}",
            "store_url": store_url,
        }
        run = cls(path, marker)
        with run.store():  # fail first (directory still empty for a URL) on a bad URL or name
            pass
        for sub in ("cycles", "models"):
            (path / sub).mkdir(exist_ok=True)
        _atomic_write(path / "config.yaml", yaml.safe_dump(plain, sort_keys=False).encode())
        _atomic_write(path / "config.sha256", (config_hash(plain) + "\n").encode())
        env = json.dumps(environment_info(), indent=2) + "\n"
        _atomic_write(path / "environment.json", env.encode())
        (path / "events.jsonl").touch()
        _atomic_write(path / MARKER, (json.dumps(marker, indent=2) + "\n").encode())
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDirectory:
        """Reopen an existing run directory, refusing one from a newer format version."""
        path = Path(path)
        try:
            marker = json.loads((path / MARKER).read_text())
        except FileNotFoundError:
            raise RunDirectoryError(f"{path}: not a qaware run directory (no {MARKER})") from None
        except (OSError, json.JSONDecodeError) as err:
            raise RunDirectoryError(f"{path / MARKER}: unreadable: {err}") from None
        if not isinstance(marker, dict):
            raise RunDirectoryError(f"{path / MARKER}: unreadable: not a JSON object")
        version = marker.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise RunDirectoryError(
                f"{path / MARKER}: field 'format_version' is {version!r} (written by qaware "
                f"{marker.get('qaware_version', '?')}); this qaware "
                f"{_own_version()} reads run-directory formats up to {FORMAT_VERSION}: "
                "upgrade qaware, or start a new run directory"
            )
        for name in ("config.yaml", "config.sha256", "cycles", "models"):
            if not (path / name).exists():
                raise RunDirectoryError(f"{path}: incomplete run directory, {name} is missing")
        return cls(path, marker)

    # ---- configuration ----------------------------------------------------------------------
    @property
    def campaign(self) -> str:
        return str(self.marker["campaign"])

    @property
    def config_hash(self) -> str:
        """The hash recorded when the run was created."""
        return (self.path / "config.sha256").read_text().split()[0]

    def load_config(self) -> dict[str, Any]:
        """The resolved configuration as recorded in ``config.yaml``."""
        return yaml.safe_load((self.path / "config.yaml").read_text()) or {}

    def config_changed(self, new_config: Mapping[str, Any]) -> bool:
        """Whether ``new_config`` differs from the recorded one (resume refuses unless forced)."""
        return config_hash(new_config) != self.config_hash

    # ---- store, structures, models ----------------------------------------------------------
    def store(self) -> CampaignStore:
        """Open the campaign store: the recorded URL, else ``campaign.db`` in the directory."""
        url = self.marker.get("store_url") or self.path / "campaign.db"
        return CampaignStore(url, campaign=self.campaign)

    @classmethod
    def reused_store(cls, path: str | Path, option: str) -> CampaignStore:
        """The store of the run directory ``path``, opened to copy its finished calls
        (``store.reuse``, ``--reuse``); ConfigError naming ``option`` and the path."""
        try:
            return cls.open(path).store()
        except (RunDirectoryError, StoreError) as err:  # both messages name the path
            raise ConfigError(f"{option}: {err}") from None

    def cycle_dir(self, cycle: int) -> Path:
        """``cycles/cycle_0003`` for cycle 3 (created if missing)."""
        if int(cycle) != cycle or cycle < 0:
            raise RunDirectoryError(f"cycle must be a non-negative integer, got {cycle!r}")
        out = self.path / "cycles" / f"cycle_{int(cycle):04d}"
        out.mkdir(parents=True, exist_ok=True)
        return out

    def write_cycle_structures(self, cycle: int, name: str, atoms_list: Sequence[Atoms]) -> Path:
        """Write ``atoms_list`` to ``cycles/cycle_NNNN/<name>.extxyz`` and return its path."""
        import ase.io

        out = self.cycle_dir(cycle) / f"{_check_name(name)}.extxyz"
        tmp = out.with_name(out.name + ".tmp")
        if atoms_list:
            ase.io.write(tmp, list(atoms_list), format="extxyz")
        else:
            tmp.write_bytes(b"")
        _fsync_replace(tmp, out)
        return out

    def save_model(self, name: str, source: str | Path | bytes) -> str:
        """Copy a model file (or bytes) to ``models/<name>``; write and return its sha256.

        The sidecar ``models/<name>.sha256`` reads ``<hex>  <name>``, as ``sha256sum`` writes.
        """
        out = self.path / "models" / _check_name(name)
        tmp = out.with_name(out.name + ".tmp")
        if isinstance(source, bytes):
            tmp.write_bytes(source)
        else:
            shutil.copyfile(source, tmp)
        digest = file_sha256(tmp)
        _fsync_replace(tmp, out)
        _atomic_write(out.with_name(out.name + ".sha256"), f"{digest}  {out.name}\n".encode())
        return digest

    def model_path(self, name: str) -> Path:
        """Path of a saved model after checking it against its sha256 sidecar."""
        out = self.path / "models" / _check_name(name)
        try:
            expected = out.with_name(out.name + ".sha256").read_text().split()[0]
        except FileNotFoundError:
            raise RunDirectoryError(f"{out}: no saved model (or no .sha256 beside it)") from None
        if not out.exists() or file_sha256(out) != expected:
            raise RunDirectoryError(f"{out}: missing or does not match its recorded sha256")
        return out


def _own_version() -> str:
    from qaware import __version__

    return str(__version__)


def _plain(config: Mapping[str, Any]) -> Any:
    """JSON-plain copy (tuples become lists, paths and other objects strings)."""
    return json.loads(json.dumps(dict(config), default=str))


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise RunDirectoryError(f"bad file name {name!r}: use letters, digits, '_', '.', '-'")
    return name


def _atomic_write(path: Path, content: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(content)
    _fsync_replace(tmp, path)


def _fsync_replace(tmp: Path, path: Path) -> None:
    """Flush ``tmp`` to disk, then rename it over ``path`` (atomic on POSIX)."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
