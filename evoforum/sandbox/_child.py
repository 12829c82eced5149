"""The program a sandboxed call runs: isolate itself, then import and call the candidate.

Run as a script (``python -S -s -P -B _child.py``) in the call's working folder, never
imported by the parent, and written against the standard library alone so it starts fast. It reads
``_call.json`` from its folder while it is still privileged and before any candidate code runs,
then, in this order:

1. leaves the network (a new, empty network namespace: no interface is up, not even loopback);
2. gets private mount and IPC namespaces where the world-writable ``/tmp``, ``/var/tmp``, ``/dev/shm``
   and ``/run/lock`` are fresh, small tmpfs mounts, where a folder others may not search (such as
   a home folder holding the interpreter) is replaced by an empty one holding only the needed
   subfolders, and where its working folder is a tmpfs of its own (the parent's files copied
   in), so what the candidate writes is bounded and vanishes with it;
3. sets the resource limits (CPU, address space, file size, processes), ``no_new_privs`` and,
   without network, a seccomp filter refusing new AF_UNIX sockets (socket files of services);
4. drops to the call's own unprivileged user and group;
5. sends what it applied as one JSON line on the result pipe (its number is in ``_call.json``),
   imports the candidate, calls the entry point and sends the outcome (status, value or error)
   as a second line.

Every step that the operating system refuses is skipped and recorded; the parent decides from the
record what was enforced. To start fast it avoids the ``json``, ``signal`` and ``typing`` modules
(they pull in ``re`` and ``enum``) and uses the C parts of ``json`` directly.
"""

from __future__ import annotations

import os
import stat
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 2, 4, 4096, 8192, 16384, 1 << 18
CLONE_NEWIPC = 0x08000000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 38, 22
SECCOMP_ARCH = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}
"""Per machine: the seccomp ABI tag and the number of the ``socket`` system call."""
TMP_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
TRACEBACK_CHARS = 8000


class _Libc:
    """The few libc calls the standard library of Python 3.11 lacks."""

    def __init__(self) -> None:
        import ctypes

        self._ctypes = ctypes
        self._lib = ctypes.CDLL(None, use_errno=True)

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            errno = self._ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def unshare(self, flags: int) -> None:
        self._check(self._lib.unshare(flags), "unshare")

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None
    ) -> None:
        def enc(text: str | None) -> bytes | None:
            return None if text is None else text.encode()

        result = self._lib.mount(
            enc(source), enc(target), enc(fstype), self._ctypes.c_ulong(flags), enc(data)
        )
        self._check(result, f"mount {target}")

    def no_new_privs(self) -> None:
        self._check(self._lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")

    def deny_unix_sockets(self) -> bool:
        """A seccomp filter: ``socket(AF_UNIX, ...)`` fails with EPERM, other ABIs fail entirely.

        Socket files (a database's, a container runtime's) are reachable from any network
        namespace; without a socket of that family they cannot be connected to.
        ``socketpair`` (asyncio, multiprocessing pipes) keeps working.
        """
        native = SECCOMP_ARCH.get(os.uname().machine)
        if native is None:
            return False
        audit_arch, nr_socket = native
        import ctypes as c

        class Instruction(c.Structure):
            _fields_ = (("code", c.c_ushort), ("jt", c.c_ubyte), ("jf", c.c_ubyte), ("k", c.c_uint))

        class Program(c.Structure):
            _fields_ = (("len", c.c_ushort), ("filter", c.POINTER(Instruction)))

        load, equal, at_least, give = 0x20, 0x15, 0x35, 0x06
        deny, allow = 0x00050000 | 1, 0x7FFF0000  # SECCOMP_RET_ERRNO | EPERM, SECCOMP_RET_ALLOW
        code = [
            (load, 0, 0, 4),  # the ABI
            (equal, 0, 5, audit_arch),  # another ABI (i386 on x86_64): deny
            (load, 0, 0, 0),  # the system call number
            (at_least, 3, 0, 0x40000000),  # the x32 ABI: deny
            (equal, 0, 3, nr_socket),  # not socket(): allow
            (load, 0, 0, 16),  # its first argument, the family
            (equal, 0, 1, 1),  # AF_UNIX: deny, else allow
            (give, 0, 0, deny),
            (give, 0, 0, allow),
        ]
        instructions = (Instruction * len(code))(*(Instruction(*row) for row in code))
        program = Program(len(code), instructions)
        self._check(self._lib.prctl(PR_SET_SECCOMP, 2, c.byref(program), 0, 0), "seccomp")
        return True


def _unsearchable(path: str) -> str | None:
    """The first proper ancestor of ``path`` (below ``/``) that other users may not search."""
    parts = path.strip("/").split("/")
    for depth in range(1, len(parts)):
        folder = "/" + "/".join(parts[:depth])
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return folder
    return None


def _tmpfs(libc: _Libc, target: str, mode: str, size: int) -> None:
    libc.mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode}")


def _open_up(libc: _Libc, needed: list[str], stash: str, size: int) -> bool:
    """Make every needed path searchable; False when one stays hidden from other users.

    A folder others may not search is covered by an empty tmpfs (its other contents become
    invisible) into which only the needed subfolders are bound back.
    """
    hidden: dict[str, set[str]] = {}
    for path in needed:
        folder = _unsearchable(path)
        if folder is not None:
            hidden.setdefault(folder, set()).add(path[len(folder) + 1 :].split("/")[0])
    count = 0
    for folder, children in hidden.items():
        holds = []
        for child in sorted(children):
            hold = os.path.join(stash, str(count))
            count += 1
            os.mkdir(hold, 0o700)
            libc.mount(os.path.join(folder, child), hold, None, MS_BIND | MS_REC, None)
            holds.append((hold, os.path.join(folder, child)))
        _tmpfs(libc, folder, "0755", size)
        for hold, target in holds:
            os.mkdir(target, 0o755)
            libc.mount(hold, target, None, MS_MOVE, None)
    return all(_unsearchable(path) is None for path in needed)


def _private_tmp(libc: _Libc, needed: list[str], size: int) -> bool:
    """Fresh tmpfs on each shared temporary folder; the working folder is bound back in place."""
    here = os.getcwd()
    done = True
    for folder in TMP_FOLDERS:
        if not os.path.isdir(folder):
            continue
        if any(p == folder or p.startswith(folder + "/") for p in needed):
            done = False  # the interpreter or a package lives there: it stays shared
            continue
        inside = here.startswith(folder + "/")
        _tmpfs(libc, folder, "1777", size)
        if inside:
            os.makedirs(here, mode=0o755, exist_ok=True)
            libc.mount("/proc/self/cwd", here, None, MS_BIND, None)
    os.chdir(here)
    return done


def _own_folder(libc: _Libc, uid: int, size: int) -> None:
    """Put the working folder on a tmpfs of its own (bounded, gone with the namespace)."""
    here = os.getcwd()
    files: dict[str, bytes] = {}
    for folder, _, names in os.walk("."):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                files[path] = handle.read()
    libc.mount("tmpfs", here, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0700,uid={uid},gid={uid}")
    os.chdir(here)
    for path, data in files.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)


def _isolate(call: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "network": False,
        "filesystem": False,
        "folder": False,
        "user": None,
        "no_new_privs": False,
        "unix_sockets_denied": False,
    }
    uid = call["uid"]
    if os.geteuid() == 0 and (uid is not None or not call["network"]):
        libc = _Libc()
        if not call["network"]:
            try:
                libc.unshare(CLONE_NEWNET)
                facts["network"] = True
            except OSError as error:
                facts["network_error"] = str(error)
        searchable = all(_unsearchable(path) is None for path in call["needed"])
        if uid is not None:
            try:
                libc.unshare(CLONE_NEWNS | CLONE_NEWIPC)
                libc.mount(None, "/", None, MS_REC | MS_PRIVATE, None)
                searchable = _open_up(libc, call["needed"], call["stash"], 1 << 20)
                disk = call["limits"]["disk_bytes"]
                facts["filesystem"] = _private_tmp(libc, call["needed"], disk)
                _own_folder(libc, uid, disk)
                facts["folder"] = True
            except OSError as error:
                facts["filesystem_error"] = str(error)
        _limit(call["limits"])
        try:
            libc.no_new_privs()
            facts["no_new_privs"] = True
            if not call["network"]:
                facts["unix_sockets_denied"] = libc.deny_unix_sockets()
        except OSError as error:
            facts["seccomp_error"] = str(error)
        if uid is not None and searchable:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            facts["user"] = uid
    else:
        _limit(call["limits"])
    return facts


def _limit(limits: dict[str, int]) -> None:
    import resource

    def cap(which: int, soft: int, hard: int) -> None:
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            resource.setrlimit(which, (soft, soft))

    cap(resource.RLIMIT_CPU, limits["cpu_s"], limits["cpu_s"] + 1)
    cap(resource.RLIMIT_AS, limits["memory_bytes"], limits["memory_bytes"])
    cap(resource.RLIMIT_FSIZE, limits["file_bytes"], limits["file_bytes"])
    cap(resource.RLIMIT_NPROC, limits["nproc"], limits["nproc"])
    cap(resource.RLIMIT_CORE, 0, 0)


class _Strict:
    """What the C scanner of ``json`` reads from its decoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: ClassVar[dict[str, Any]] = {}

    def parse_constant(self, name: str) -> Any:
        raise ValueError(f"{name} is not JSON")


def _loads(text: str) -> Any:
    import _json

    return _json.make_scanner(_Strict())(text, 0)[0]  # type: ignore[arg-type]


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(value: Any) -> str:
    import _json

    encode = _json.make_encoder(
        {}, _not_json, _json.encode_basestring_ascii, None, ":", ",", False, False, False
    )
    return "".join(encode(value, 0))


def _send(fd: int, record: dict[str, Any]) -> None:
    """One JSON line to the parent's result pipe."""
    try:
        text = _dumps(record)
    except Exception as error:
        text = _dumps(
            {"status": "exception", "error": f"the result is not JSON: {_describe(error)['error']}"}
        )
    data = memoryview((text + "\n").encode())
    while data:
        data = data[os.write(fd, data) :]


def _call(call: dict[str, Any]) -> Any:
    entry = call["entry"]
    if entry is None:
        import runpy

        runpy.run_path("candidate.py", run_name="__main__")
        return None
    module_name, _, function_name = entry.rpartition(":")
    module_name = module_name or "candidate"
    __import__(module_name)
    target: Any = sys.modules[module_name]
    for part in function_name.split("."):
        target = getattr(target, part)
    return target(*call["args"], **call["kwargs"])


def _describe(error: BaseException) -> dict[str, Any]:
    """The record of a raised error; its ``__str__`` and traceback may themselves misbehave."""
    name = type(error).__name__
    try:
        record = {"status": "exception", "error": f"{name}: {error}"[:2000]}
    except BaseException:
        record = {"status": "exception", "error": f"{name}: (its message failed to render)"}
    try:
        import traceback

        record["traceback"] = "".join(traceback.format_exception(error))[-TRACEBACK_CHARS:]
    except BaseException:
        pass
    return record


def main() -> None:
    with open("_call.json", encoding="utf-8") as handle:
        call = _loads(handle.read())
    fd = call["result_fd"]
    os.set_inheritable(fd, False)
    facts = _isolate(call)
    import _signal  # type: ignore[import-not-found]

    _signal.signal(_signal.SIGXFSZ, _signal.SIG_IGN)
    sys.path[:0] = ["."]
    sys.path.extend(call["extra_path"])
    _send(fd, facts)
    record: dict[str, Any]
    try:
        record = {"status": "ok", "value": _call(call)}
    except MemoryError:
        record = {"status": "memory", "error": "MemoryError"}
    except SystemExit as error:
        record = {"status": "exit", "error": f"SystemExit({error.code!r})"}
    except BaseException as error:
        record = _describe(error)
    try:
        _send(fd, record)
    except MemoryError:
        _send(fd, {"status": "memory", "error": "MemoryError"})
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - contextlib would cost the child an import
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


if __name__ == "__main__":
    main()
