"""Each function's zip, extracted once per code hash into a directory that lives as long as
the sandbox process (Lambda's /var/task)."""

import io
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path

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
