"""Where batchform keeps its files and how the project configuration is loaded.

The project configuration is one YAML file, `batchform.yaml` at the repository root
(override with BATCHFORM_CONFIG). Mutable state (local stack data, terraform data
directories, journals) lives under BATCHFORM_HOME, by default `.batchform/` in the
repository, which git ignores.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent


def _find_repo_root() -> Path:
    """The repository root: the nearest parent holding batchform.yaml, else the checkout of this package."""
    env = os.environ.get("BATCHFORM_ROOT")
    if env:
        return Path(env).resolve()
    for parent in [Path.cwd(), *Path.cwd().parents]:
        if (parent / "batchform.yaml").is_file() and (parent / "terraform").is_dir():
            return parent
    # scripts/batchform/ -> repository root
    return PACKAGE_DIR.parent.parent


@dataclass(frozen=True)
class Paths:
    """Every location batchform reads or writes, derived from the repository root and BATCHFORM_HOME."""

    root: Path
    home: Path

    @property
    def config_file(self) -> Path:
        return Path(os.environ.get("BATCHFORM_CONFIG", self.root / "batchform.yaml"))

    @property
    def terraform_dir(self) -> Path:
        return self.root / "terraform"

    @property
    def modules_dir(self) -> Path:
        return self.root / "modules"

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def local_stack_dir(self) -> Path:
        return self.home / "local"

    def terraform_data_dir(self, account: str) -> Path:
        return self.home / "terraform" / account


def paths() -> Paths:
    root = _find_repo_root()
    home = Path(os.environ.get("BATCHFORM_HOME", root / ".batchform")).resolve()
    return Paths(root=root, home=home)


@cache
def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path.name}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: must be a mapping at the top level")
    return data


def project_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed project configuration (empty when the file does not exist)."""
    return _load_yaml((path or paths().config_file).resolve())


def reload() -> None:
    """Forget cached configuration (tests and long-running processes that edit it)."""
    _load_yaml.cache_clear()


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data` all at once: a reader, or a killed writer, never sees half a file.

    The data is on disk before the name points at it, and the name is on disk too by the time
    this returns: even a crash of the machine leaves the old file or the new one. A temporary
    file that a killed writer left next to `path` is removed by the next write of `path`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_writers_files(path)
    # The pid says whose it is; the random part keeps threads of one process apart.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        with open(tmp, "wb" if isinstance(data, bytes) else "w") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def _remove_dead_writers_files(path: Path) -> None:
    """Remove the temporary files of `path` whose writer (the pid in the name) no longer runs."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.([0-9]+)(?:\.[0-9a-f]+)?\.tmp")
    for name in os.listdir(path.parent):
        match = pattern.fullmatch(name)
        if match and not _running(int(match[1])):
            with contextlib.suppress(FileNotFoundError):
                (path.parent / name).unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable (the directory entry itself)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_keys(where: str, data: dict[str, Any], allowed: set[str]) -> None:
    """Refuse unknown keys, naming the first one: a typo must not be silently ignored."""
    for key in data:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            shown = key if isinstance(key, str) and key.isprintable() else repr(key)  # one line, always
            raise ConfigError(f"{where}.{shown}: unknown key (known: {known})")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing): other threads and processes wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_state(path: Path) -> dict[str, Any]:
    """A JSON state file's content, or {} when it is absent or half-written."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


# The account the local stack's emulator (moto) answers for when a request names no other.
EMULATOR_ACCOUNT_ID = "123456789012"


def _port(where: str, value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: must be a port number, got {value!r}") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"{where}: must be between 1 and 65535, got {port}")
    return port


@dataclass(frozen=True)
class LocalStackSettings:
    """Addresses and directories of the local stack.

    Sources, later wins: defaults, `local_stack:` in batchform.yaml, BATCHFORM_EMULATOR_PORT /
    BATCHFORM_REGISTRY_PORT / BATCHFORM_LOCAL_DIR, then the ports a running stack recorded.
    """

    data_dir: Path
    host: str = "127.0.0.1"
    emulator_port: int = 4566
    registry_port: int = 5000
    start_docker: bool = True

    @property
    def emulator_url(self) -> str:
        return f"http://{self.host}:{self.emulator_port}"

    @property
    def registry_address(self) -> str:
        return f"{self.host}:{self.registry_port}"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "stack.json"

    @property
    def registry_key_file(self) -> Path:
        return self.data_dir / "registry-auth.key"

    @classmethod
    def load(cls, config: dict[str, Any] | None = None, **overrides: Any) -> LocalStackSettings:
        config = project_config() if config is None else config
        section = config.get("local_stack") or {}
        if not isinstance(section, dict):
            raise ConfigError("local_stack: must be a mapping")
        check_keys(
            "local_stack", section, {"host", "emulator_port", "registry_port", "data_dir", "start_docker"}
        )
        data_dir = Path(
            os.environ.get("BATCHFORM_LOCAL_DIR") or section.get("data_dir") or paths().local_stack_dir
        )
        settings = cls(
            data_dir=data_dir.resolve(),
            host=str(section.get("host", "127.0.0.1")),
            emulator_port=_port("local_stack.emulator_port", section.get("emulator_port", 4566)),
            registry_port=_port("local_stack.registry_port", section.get("registry_port", 5000)),
            start_docker=bool(section.get("start_docker", True)),
        )
        if settings.host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError("local_stack.host: the local stack serves on loopback only (127.0.0.1)")
        env_ports = {
            "emulator_port": os.environ.get("BATCHFORM_EMULATOR_PORT"),
            "registry_port": os.environ.get("BATCHFORM_REGISTRY_PORT"),
        }
        settings = replace(settings, **{k: _port(k, v) for k, v in env_ports.items() if v})
        recorded = read_state(settings.state_file).get("settings", {})
        for key in ("emulator_port", "registry_port"):
            if key in recorded and key not in overrides and not env_ports[key]:
                settings = replace(settings, **{key: int(recorded[key])})
        clean = {k: v for k, v in overrides.items() if v is not None}
        if "data_dir" in clean:
            clean["data_dir"] = Path(clean["data_dir"]).resolve()
        return replace(settings, **clean)


def shown_path(path: Path) -> Path:
    """A path as a person types it: relative to the working directory when it is under it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
