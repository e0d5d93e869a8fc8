"""Small file helpers: atomic writes that honour the umask, checksums, writable folders.

Every result file (records, codes, leaderboards) is written to a temporary file in the target
folder and renamed into place, so nothing half-written is ever visible. ``tempfile.mkstemp``
creates files with mode 0600; they are given the mode an ordinary ``open()`` would (0666 minus
the process umask), so other users of a shared results folder can read them when the umask says
so.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from bench.errors import BenchError

_UMASK_LOCK = threading.Lock()
#: a plugin (method, dataset) name: it becomes a folder and file name in the results folder
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
#: one file or folder name built from such names (result keys): no separator, no leading dot
PART_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"


def current_umask() -> int:
    """The process umask (read from /proc when possible; never changes it for long)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file under the current umask."""
    return 0o666 & ~current_umask()


def atomic_write(path: Path, write: Callable[[Path], None], suffix: str = ".tmp") -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:  # name the file meant
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from exc
        raise
    return path


def no_space_line(exc: OSError) -> str:
    """The one line of a full disk (errno ENOSPC)."""
    where = f" writing {exc.filename}" if exc.filename else ""
    return (f"no space left on device{where}; free some space (or use another --results "
            "folder) and rerun the same command: finished results are kept, nothing "
            "half-written counts, and only the missing trials are computed")


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_private(path: Path, text: str, exclusive: bool = False) -> Path:
    """Write a secret (a token) into ``path``, readable by its owner only (mode 0600 from the
    moment it exists, whatever the umask); ``exclusive``: FileExistsError if it exists."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)
    return path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def writable_dir(path: Path, what: str = "results folder") -> Path:
    """``path`` resolved and created; a one-line BenchError when it cannot be written."""
    path = Path(path).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise BenchError(f"{what} {path} is not writable ({exc.strerror})") from None
    return path


def cannot_write(path: Path, exc: OSError, hint: str = "") -> BenchError:
    """The one-line error of a write that failed: ``cannot write PATH (read-only ...)``."""
    if exc.errno == errno.EROFS:
        why = "read-only file system"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = f"read-only for this user: {exc.strerror}"
    else:
        why = exc.strerror or type(exc).__name__
    return BenchError(f"cannot write {path} ({why}{'; ' + hint if hint else ''})")


def check_writable(folder: Path, hint: str = "") -> Path:
    """Probe that files can be written in ``folder`` (or, while it does not exist, in its
    nearest existing parent) with a temporary file, removed at once: nothing is left behind; a
    one-line BenchError (:func:`cannot_write`) when it cannot be written."""
    folder = Path(folder).resolve()
    existing = next((p for p in (folder, *folder.parents) if p.is_dir()), folder)
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise cannot_write(folder, exc, hint) from None
    return folder


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL ``sqlite:///ABS/PATH`` of a database file (MLflow's, Optuna's)."""
    return f"sqlite:///{Path(path).resolve().as_posix()}"


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL, else None."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(url.removeprefix("sqlite:///"))


def url_scheme(url: str) -> str:
    """The scheme of a server or database URL without its driver (``postgresql+psycopg://``
    -> ``postgresql``), lower case; "" when there is none."""
    return url.split(":", 1)[0].split("+", 1)[0].lower() if ":" in url else ""


def safe_part(text: object, what: str) -> str:
    """``text`` when it can be one file or folder name (:data:`PART_PATTERN`); else a one-line
    BenchError (a name read from a record or a plugin never becomes ``..`` or a path)."""
    if not isinstance(text, str) or not re.fullmatch(PART_PATTERN, text):
        raise BenchError(f"{what} {text!r} cannot be a file name (it must match {PART_PATTERN})")
    return text


def inside(root: Path, relative: object, what: str = "path") -> Path:
    """``root / relative`` with symlinks and ``..`` resolved, when that lies inside ``root``
    (resolved too); a one-line BenchError when it does not (an absolute path, ``..``, a
    symlink out of the folder) or is not a path at all. Every path read from a result record
    goes through here."""
    base = Path(root).resolve()
    if not isinstance(relative, str | os.PathLike) or not str(relative):
        raise BenchError(f"{what} {relative!r} is not a path inside {base}")
    try:
        path = (base / relative).resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        raise BenchError(f"{what} {str(relative)!r} cannot be resolved ({exc})") from None
    if path == base or not path.is_relative_to(base):
        raise BenchError(f"{what} {str(relative)!r} is outside {base}")
    return path
