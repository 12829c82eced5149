"""The sandbox against good and hostile candidates, in real subprocesses."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from evoforum.errors import CodeRejected, ConfigError, NotSerializable, SandboxFailure, Timeout
from evoforum.hashing import digest
from evoforum.sandbox import Sandbox, SandboxLimits, SandboxResult
from evoforum.sandbox._reaper import leftovers

FAST = SandboxLimits(
    cpu_s=2, memory_mb=256, wall_s=3.0, file_mb=4, disk_mb=8, nproc=16, max_output_bytes=65536
)
ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(FAST)


def exists(path: str) -> bool:
    return Path(path).exists()


def command_lines() -> list[str]:
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return lines


def assert_nothing_left(result: SandboxResult) -> None:
    assert result.pid is not None
    uid = result.isolation.user if result.isolation else None
    assert leftovers(uid, result.pid) == []


async def test_a_good_function_returns_its_value_and_output(sandbox: Sandbox) -> None:
    source = "def main(x, *, times):\n    print('working')\n    return {'y': x * times, 'z': [1, None]}\n"
    result = await sandbox.call(source, "main", args=[21], kwargs={"times": 2})
    assert result.ok, result
    assert result.reason == "ok"
    assert result.value == {"y": 42, "z": [1, None]}
    assert result.stdout == "working\n"
    assert result.returncode == 0
    assert result.raise_for_failure() == result.value
    assert_nothing_left(result)


async def test_the_working_folder_is_private_and_removed_afterwards(sandbox: Sandbox) -> None:
    source = "import os\ndef main():\n    open('note.txt', 'w').write('x')\n    return os.getcwd()\n"
    result = await sandbox.call(source)
    assert result.ok, result
    assert isinstance(result.value, str)
    assert not exists(result.value)


async def test_helper_files_a_module_entry_and_script_mode(sandbox: Sandbox) -> None:
    files = {"pkg/__init__.py": "", "pkg/util.py": "def double(v):\n    return 2 * v\n"}
    result = await sandbox.call(None, "pkg.util:double", args=[4], files=files)
    assert result.value == 8, result
    script = await sandbox.call("print(sum(range(10)))\n", None)
    assert script.ok
    assert script.stdout == "45\n"
    assert script.value is None


async def test_code_that_does_not_compile_is_rejected_without_running(sandbox: Sandbox) -> None:
    result = await sandbox.call("def main(:\n", "main")
    assert result.reason == "rejected"
    assert result.pid is None
    with pytest.raises(CodeRejected):
        result.raise_for_failure()


def test_arguments_that_are_not_json_are_refused_before_anything_runs() -> None:
    with pytest.raises(NotSerializable):
        Sandbox(FAST).call_sync("def main(x):\n    return x\n", args=[object()])
    with pytest.raises(NotSerializable, match="finite"):
        Sandbox(FAST).call_sync("def main(x):\n    return x\n", kwargs={"x": float("nan")})


def test_bad_file_names_and_secret_env_names_are_refused() -> None:
    with pytest.raises(CodeRejected, match="relative path"):
        Sandbox(FAST).call_sync("x = 1", None, files={"../escape.py": ""})
    with pytest.raises(ConfigError, match="MY_TOKEN"):
        Sandbox(FAST, env={"MY_TOKEN": "t"})


async def test_an_exception_and_a_non_json_value_are_failures_with_the_error(sandbox: Sandbox) -> None:
    raised = await sandbox.call("def main():\n    raise ValueError('bad idea')\n")
    assert raised.reason == "exception"
    assert raised.error == "ValueError: bad idea"
    assert raised.traceback is not None
    assert "bad idea" in raised.traceback
    with pytest.raises(SandboxFailure) as caught:
        raised.raise_for_failure()
    assert caught.value.reason == "exception"
    unserializable = await sandbox.call("def main():\n    return {1, 2}\n")
    assert unserializable.reason == "exception"
    assert "not JSON" in (unserializable.error or "")


async def test_an_endless_sleeper_times_out_with_its_whole_group_killed(sandbox: Sandbox) -> None:
    source = (
        "import subprocess, time\n"
        "def main():\n"
        "    subprocess.Popen(['sleep', '60'])\n"
        "    while True:\n"
        "        time.sleep(0.1)\n"
    )
    result = await sandbox.call(source)
    assert result.reason == "timeout"
    assert result.signal == 9
    assert_nothing_left(result)
    with pytest.raises(Timeout):
        result.raise_for_failure()


async def test_a_cpu_burner_hits_the_cpu_limit() -> None:
    burner = Sandbox(FAST.model_copy(update={"cpu_s": 1, "wall_s": 8.0}))
    result = await burner.call("def main():\n    while True:\n        pass\n")
    assert result.reason == "cpu", result
    assert_nothing_left(result)


async def test_a_memory_bomb_hits_the_memory_limit() -> None:
    small = Sandbox(FAST.model_copy(update={"memory_mb": 128, "wall_s": 15.0}))
    result = await small.call(
        "def main():\n    hog = []\n    while True:\n        hog.append(bytearray(1 << 24))\n"
    )
    assert result.reason == "memory", result
    big = await small.call("def main():\n    return len(bytearray(1 << 30))\n")
    assert big.reason == "memory"


async def test_a_fork_bomb_is_bounded_and_leaves_no_process_behind(sandbox: Sandbox) -> None:
    source = (
        "import os, time\n"
        "def main():\n"
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except OSError:\n"
        "            time.sleep(0.01)\n"
    )
    result = await sandbox.call(source)
    assert not result.ok
    assert result.reason == "timeout"
    assert_nothing_left(result)


async def test_an_escaped_daemon_is_found_and_killed(sandbox: Sandbox) -> None:
    source = (
        "import os, time\n"
        "def main():\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "        os._exit(0)\n"
        "    time.sleep(0.2)\n"
        "    return 'done'\n"
    )
    result = await sandbox.call(source)
    assert result.value == "done"
    if result.isolation is None or result.isolation.user is None:
        pytest.skip("without a user id of its own a daemon that left the session cannot be traced")
    assert result.leftovers >= 1
    assert_nothing_left(result)


@pytest.mark.parametrize(
    ("body", "reason"),
    [("import sys\n    sys.exit(3)", "exit"), ("import os\n    os._exit(0)", "exit")],
    ids=["sys.exit", "os._exit"],
)
async def test_exiting_without_a_result_is_a_failure(sandbox: Sandbox, body: str, reason: str) -> None:
    result = await sandbox.call(f"def main():\n    {body}\n")
    assert result.reason == reason
    assert not result.ok
    assert result.value is None


async def test_a_segfault_is_a_crash(sandbox: Sandbox) -> None:
    result = await sandbox.call("import ctypes\ndef main():\n    return ctypes.string_at(0)\n")
    assert result.reason == "crashed"
    assert result.signal == 11


async def test_writes_outside_the_folder_fail(sandbox: Sandbox, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "pwned.txt"
    source = (
        "def main(path):\n"
        "    try:\n"
        "        open(path, 'w').write('pwned')\n"
        "    except OSError as error:\n"
        "        return type(error).__name__\n"
        "    return 'written'\n"
    )
    result = await sandbox.call(source, args=[str(target)])
    isolation = result.isolation
    if isolation is None or (isolation.user is None and not isolation.filesystem):
        pytest.skip("the child kept its user and the shared file system (parent not root)")
    assert result.value in ("PermissionError", "FileNotFoundError"), result
    assert not exists(str(target))
    if isolation.user is not None:
        system = f"/etc/evoforum-sandbox-test-{os.getpid()}"
        assert (await sandbox.call(source, args=[system])).value == "PermissionError"
        assert not exists(system)
        home = await sandbox.call(source, args=["../pwned.txt"])
        assert home.value == "PermissionError"


async def test_shared_temporary_folders_are_private(sandbox: Sandbox) -> None:
    name = f"evoforum-sandbox-test-{os.getpid()}"
    result = await sandbox.call(f"def main():\n    open('/tmp/{name}', 'w').write('x')\n    return 1\n")
    if result.isolation is None or not result.isolation.filesystem:
        pytest.skip("no private mount namespace on this machine")
    assert result.ok, result
    assert not exists(f"/tmp/{name}")


async def test_the_environment_holds_no_secret(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-not-for-candidates")
    result = await sandbox.call("import os\ndef main():\n    return dict(os.environ)\n")
    assert isinstance(result.value, dict), result
    assert "FAKE_API_KEY" not in result.value
    assert "sk-not-for-candidates" not in str(result.value)
    assert not any(word in name for name in result.value for word in ("KEY", "TOKEN", "SECRET"))
    assert result.value["PYTHONHASHSEED"] == "0"


async def test_a_flood_of_output_is_cut_and_the_child_killed(sandbox: Sandbox) -> None:
    for stream in ("stdout", "stderr"):
        source = f"import sys\ndef main():\n    while True:\n        sys.{stream}.write('x' * 65536)\n"
        result = await sandbox.call(source)
        assert result.reason == "output_limit"
        assert result.truncated
        assert len(getattr(result, stream)) == FAST.max_output_bytes
        assert_nothing_left(result)


async def test_a_result_larger_than_the_limit_is_refused(sandbox: Sandbox) -> None:
    result = await sandbox.call("def main():\n    return 'x' * 100_000\n")
    assert not result.ok
    assert result.reason == "error"


async def test_files_planted_as_the_old_result_files_are_ignored(sandbox: Sandbox, tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"status": "ok", "value": "the parent\'s secret"}')
    secret.chmod(0o600)
    link = f"import os\ndef main():\n    os.symlink({str(secret)!r}, '_result.json')\n    os._exit(0)\n"
    linked = await sandbox.call(link)
    assert linked.reason == "exit"
    assert linked.value is None
    fifo = await sandbox.call("import os\ndef main():\n    os.mkfifo('_result.json')\n    os._exit(0)\n")
    assert fifo.reason == "exit"


async def test_filling_the_working_folder_stops_at_its_size(sandbox: Sandbox) -> None:
    source = (
        "import os\n"
        "def main():\n"
        "    written = 0\n"
        "    try:\n"
        "        for i in range(1000):\n"
        "            with open(f'f{i}', 'wb') as handle:\n"
        "                handle.write(bytes(1 << 20))\n"
        "            written += 1\n"
        "    except OSError as error:\n"
        "        return [written, error.errno]\n"
        "    return [written, 0]\n"
    )
    result = await sandbox.call(source)
    if result.isolation is None or not result.isolation.folder:
        pytest.skip("the working folder is not a tmpfs of its own here")
    assert isinstance(result.value, list), result
    written, errno = result.value
    assert errno == 28  # ENOSPC: the folder's tmpfs is full
    assert FAST.disk_mb - 2 <= written <= FAST.disk_mb  # its own files take a little room


async def test_cancelling_a_call_kills_its_processes(sandbox: Sandbox) -> None:
    marker = f"30.{os.getpid()}{id(sandbox) % 99991}"
    source = f"import subprocess, time\ndef main():\n    subprocess.Popen(['sleep', '{marker}'])\n    time.sleep(30)\n"
    call = asyncio.ensure_future(sandbox.call(source))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if [cmd for cmd in command_lines() if marker in cmd]:
            break
    else:
        pytest.fail("the candidate's child process never started")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert not [cmd for cmd in command_lines() if marker in cmd]


async def test_the_network_is_unreachable_when_isolated(sandbox: Sandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    source = (
        "import socket\n"
        "def main(port):\n"
        "    try:\n"
        "        socket.create_connection(('127.0.0.1', port), timeout=1).close()\n"
        "    except OSError as error:\n"
        "        return 'blocked: ' + type(error).__name__\n"
        "    return 'connected'\n"
    )
    try:
        result = await sandbox.call(source, args=[port])
        allowed = await Sandbox(FAST.model_copy(update={"network": True})).call(source, args=[port])
    finally:
        server.close()
    assert allowed.value == "connected"
    if result.isolation is None or not result.isolation.network:
        pytest.skip("this machine does not allow an empty network namespace (needs root)")
    assert isinstance(result.value, str)
    assert result.value.startswith("blocked"), result


async def test_unix_socket_files_are_out_of_reach_without_network(sandbox: Sandbox) -> None:
    source = (
        "import socket\n"
        "def main():\n"
        "    left, right = socket.socketpair()\n"
        "    left.sendall(b'pair works')\n"
        "    heard = right.recv(16).decode()\n"
        "    try:\n"
        "        socket.socket(socket.AF_UNIX).connect('/run/some-service.sock')\n"
        "    except OSError as error:\n"
        "        return [heard, type(error).__name__]\n"
        "    return [heard, 'connected']\n"
    )
    result = await sandbox.call(source)
    if result.isolation is None or not result.isolation.unix_sockets_denied:
        pytest.skip("no seccomp filter on this machine")
    assert result.value == ["pair works", "PermissionError"], result


async def test_the_process_limit_is_enforced_for_an_own_user() -> None:
    limited = Sandbox(FAST.model_copy(update={"nproc": 4}))
    source = (
        "import os, time\n"
        "def main():\n"
        "    started = 0\n"
        "    for _ in range(10):\n"
        "        try:\n"
        "            if os.fork() == 0:\n"
        "                time.sleep(5)\n"
        "                os._exit(0)\n"
        "            started += 1\n"
        "        except OSError:\n"
        "            break\n"
        "    return started\n"
    )
    result = await limited.call(source)
    if result.isolation is None or result.isolation.user is None:
        pytest.skip("RLIMIT_NPROC is not enforced for root")
    assert result.value == 3
    assert result.leftovers == 3
    assert_nothing_left(result)


async def test_concurrent_calls_each_get_their_own_user(sandbox: Sandbox) -> None:
    source = "import os\ndef main(i):\n    return [i, os.getuid()]\n"
    results = await asyncio.gather(*(sandbox.call(source, args=[i]) for i in range(8)))
    assert [r.value[0] for r in results if isinstance(r.value, list)] == list(range(8))
    if ROOT:
        assert len({r.value[1] for r in results if isinstance(r.value, list)}) == 8


async def test_hostile_neighbours_do_not_disturb_good_calls(sandbox: Sandbox) -> None:
    bomb = "import os, time\ndef main():\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            time.sleep(0.01)\n"
    flood = "import sys\ndef main():\n    while True:\n        sys.stdout.write('x' * 65536)\n"
    good = "import time\ndef main(i):\n    time.sleep(0.5)\n    return i\n"
    hostile = [sandbox.call(bomb), sandbox.call(bomb), sandbox.call(flood)]
    patient = Sandbox(FAST.model_copy(update={"wall_s": 20.0}))
    results = await asyncio.gather(*hostile, *(patient.call(good, args=[i]) for i in range(6)))
    assert [r.reason for r in results[:3]] == ["timeout", "timeout", "output_limit"]
    assert [r.value for r in results[3:]] == list(range(6)), results[3:]
    for result in results:
        assert_nothing_left(result)


async def test_the_public_api_can_be_made_importable() -> None:
    source = "from evoforum.hashing import digest\ndef main(v):\n    return digest(v, domain='test')\n"
    plain = await Sandbox(FAST).call(source, args=[[1, 2]])
    assert plain.reason == "exception"
    assert "ModuleNotFoundError" in (plain.error or "")
    roomy = FAST.model_copy(update={"memory_mb": 1024, "wall_s": 20.0, "cpu_s": 10})
    result = await Sandbox(roomy, evoforum_importable=True).call(source, args=[[1, 2]])
    assert result.value == digest([1, 2], domain="test"), result


def test_the_sync_wrapper_runs_outside_an_event_loop() -> None:
    result = Sandbox(FAST).call_sync("def main():\n    return 'sync'\n")
    assert result.value == "sync"


async def test_without_an_own_user_the_session_is_still_killed() -> None:
    plain = Sandbox(FAST.model_copy(update={"wall_s": 1.0, "network": True}), drop_user=False)
    ok = await plain.call("def main():\n    return 'plain'\n")
    assert ok.value == "plain"
    assert ok.isolation is not None
    assert ok.isolation.user is None
    assert not ok.isolation.network
    source = (
        "import subprocess, time\ndef main():\n    subprocess.Popen(['sleep', '60'])\n    time.sleep(60)\n"
    )
    result = await plain.call(source)
    assert result.reason == "timeout"
    assert leftovers(None, result.pid or 0) == []


def test_the_sandbox_is_the_genomes_code_runner() -> None:
    from evoforum.genome.runnable import CodeRunner

    sandbox = Sandbox(FAST)
    assert isinstance(sandbox, CodeRunner)
    assert sandbox.run("def double(x):\n    return 2 * x\n", "double", [21], {}) == 42
    with pytest.raises(SandboxFailure):
        sandbox.run("def boom():\n    raise ValueError('no')\n", "boom", [], {})


def test_the_child_imports_the_standard_library_alone() -> None:
    import ast
    import sys

    from evoforum.sandbox import _launch

    tree = ast.parse(_launch.CHILD.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)
