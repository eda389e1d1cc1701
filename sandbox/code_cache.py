"""Each function's zip, extracted once per code hash into a directory that lives as long as
the sandbox process (Lambda's /var/task); a function's layers, extracted in order into one
directory per list of layers (Lambda's /opt); and the runtime's own packages (what Lambda's
Python runtime has besides the standard library: boto3 and its dependencies, and AWS's runtime
interface client), linked from the host's into one directory, so a function imports nothing
else of the host's."""

import hashlib
import importlib.metadata
import io
import os
import re
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path

# The distributions in Lambda's Python runtimes, with their dependencies.
RUNTIME_DISTRIBUTIONS = ("boto3", "awslambdaric")

_lock = threading.RLock()
_root: Path | None = None


def sandbox_root() -> Path:
    """A private temporary directory for this sandbox process, removed by ``cleanup()``."""
    global _root
    with _lock:
        if _root is None:
            _root = Path(tempfile.mkdtemp(prefix="lambda-sandbox-"))
        return _root


def task_root(code_digest: str, code_bytes: bytes) -> Path:
    target = sandbox_root() / "code" / code_digest
    if target.is_dir():
        return target
    with _lock:
        if target.is_dir():
            return target
        # Extract beside the target and rename, so a half-written tree is never used.
        partial = Path(tempfile.mkdtemp(dir=sandbox_root(), prefix="extract-"))
        with zipfile.ZipFile(io.BytesIO(code_bytes)) as archive:
            archive.extractall(partial)
            _restore_modes(archive, partial)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(partial, target)
        return target


def layers_root(layers: list[tuple[str, bytes]]) -> Path | None:
    """The function's /opt: its layers ``[(digest, zip bytes)]`` extracted in order, a later
    layer's file replacing an earlier one's, as Lambda does. None without layers."""
    if not layers:
        return None
    name = hashlib.sha256("\n".join(digest for digest, _ in layers).encode()).hexdigest()
    target = sandbox_root() / "opt" / name
    if target.is_dir():
        return target
    with _lock:
        if target.is_dir():
            return target
        partial = Path(tempfile.mkdtemp(dir=sandbox_root(), prefix="extract-"))
        for _, code_bytes in layers:
            with zipfile.ZipFile(io.BytesIO(code_bytes)) as archive:
                archive.extractall(partial)
                _restore_modes(archive, partial)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(partial, target)
        return target


def empty_dir() -> Path:
    """An empty directory: /opt for a function without layers."""
    target = sandbox_root() / "empty"
    target.mkdir(exist_ok=True)
    return target


def runtime_site_packages() -> Path:
    """A directory holding links to the runtime's own packages (``RUNTIME_DISTRIBUTIONS`` and
    what they require) and their metadata, taken from the host's installation."""
    target = sandbox_root() / "runtime-site-packages"
    with _lock:
        if target.is_dir():
            return target
        partial = Path(tempfile.mkdtemp(dir=sandbox_root(), prefix="runtime-"))
        for distribution in _with_requirements(RUNTIME_DISTRIBUTIONS):
            for entry in _top_level_entries(distribution):
                link = partial / entry.name
                if not link.exists():
                    link.symlink_to(entry)
        os.rename(partial, target)
        return target


def _with_requirements(names) -> list[importlib.metadata.Distribution]:
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        distribution = importlib.metadata.distribution(name)
        found[key] = distribution
        for requirement in distribution.requires or []:
            if "extra ==" not in requirement:
                pending.append(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0])
    return list(found.values())


def _top_level_entries(distribution: importlib.metadata.Distribution) -> set[Path]:
    """The top-level modules, packages and ``.dist-info`` directory a distribution installed."""
    entries = set()
    for file in distribution.files or []:
        first = file.parts[0]
        if first in ("..", "bin", "__pycache__") or first.endswith(".data"):
            continue
        entries.add(Path(distribution.locate_file(first)).resolve())
    return entries


def _restore_modes(archive: zipfile.ZipFile, root: Path) -> None:
    # extractall() drops Unix permissions; a custom runtime's bootstrap must stay executable.
    for info in archive.infolist():
        mode = (info.external_attr >> 16) & 0o777
        if mode and not info.is_dir():
            os.chmod(root / info.filename, mode | 0o400)


def new_tmp_dir() -> Path:
    """An execution environment's TMPDIR, its own as Lambda's /tmp is (removed with it)."""
    parent = sandbox_root() / "tmp"
    parent.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(dir=parent, prefix="env-"))


def cleanup() -> None:
    global _root
    with _lock:
        if _root is not None:
            shutil.rmtree(_root, ignore_errors=True)
            _root = None
