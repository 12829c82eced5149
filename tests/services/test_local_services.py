"""``local_services()``: owning, reusing, killing its owner, ports, external URLs and failures."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evoforum.errors import ServiceStartFailed, ServiceUnavailable
from evoforum.services import local_services
from tests.services._helpers import alive, children_of, cli, record, wait_dead

pytestmark = pytest.mark.services

OWNER = textwrap.dedent(
    """
    import asyncio, sys
    from evoforum.services import local_services

    async def main():
        async with local_services(sys.argv[1], only=["nats", "postgres"]) as urls:
            print(urls.model_dump_json(), flush=True)
            await asyncio.sleep(600)

    asyncio.run(main())
    """
)


def test_a_killed_owner_takes_its_services_along_and_the_next_up_is_clean(tmp_path: Path) -> None:
    state = tmp_path / "state"
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(state)], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        assert owner.stdout is not None
        urls = json.loads(owner.stdout.readline())
        assert urls["nats"].startswith("nats://127.0.0.1:")
        nats, postgres = record(state, "nats"), record(state, "postgres")
        workers = children_of(postgres["pid"])
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert wait_dead([nats["pid"], postgres["pid"], *workers]) == []

    again = cli(state, "up", "--only", "nats", "--only", "postgres")
    try:
        assert again.returncode == 0, again.stderr
        assert [line.split()[1] for line in again.stdout.splitlines()] == ["started", "started"]
    finally:
        assert cli(state, "down").returncode == 0


async def test_services_found_running_are_reused_and_left_running(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert cli(state, "up", "--only", "nats").returncode == 0
    pid = record(state, "nats")["pid"]
    try:
        async with local_services(state, only=["nats"]) as urls:
            assert urls.nats == f"nats://127.0.0.1:{record(state, 'nats')['port']}"
            assert record(state, "nats")["pid"] == pid
        assert alive(pid)
    finally:
        cli(state, "down")
    assert wait_dead([pid], limit=5) == []


async def test_started_services_stop_when_the_block_ends(tmp_path: Path) -> None:
    async with local_services(tmp_path / "state", only=["nats"]):
        pid = record(tmp_path / "state", "nats")["pid"]
        assert alive(pid)
    assert not alive(pid)
    assert not (tmp_path / "state" / "run" / "nats.json").exists()


async def test_two_state_folders_never_share_a_port(tmp_path: Path) -> None:
    async with (
        local_services(tmp_path / "a", only=["nats", "postgres"]) as a,
        local_services(tmp_path / "b", only=["nats", "postgres"]) as b,
    ):
        ports = {url.rsplit(":", 1)[1].split("/")[0] for url in (a.nats, a.postgres, b.nats, b.postgres)}
        assert len(ports) == 4


async def test_a_recorded_port_taken_by_another_program_is_replaced(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with local_services(state, only=["nats"]) as first:
        assert first.nats is not None
    taken = int(first.nats.rsplit(":", 1)[1])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        async with local_services(state, only=["nats"]) as second:
            assert second.nats is not None
            assert second.nats != first.nats


async def test_an_unreachable_external_url_is_service_unavailable(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ServiceUnavailable, match=f"127.0.0.1:{port}"):
        async with local_services(
            tmp_path / "state", only=["postgres"], postgres=f"postgresql://x@127.0.0.1:{port}/db"
        ):
            pass


async def test_a_failed_start_raises_with_the_tail_of_its_log(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with local_services(state, only=["postgres"]):
        pass
    (state / "postgres" / "data" / "PG_VERSION").write_text("9\n")  # a cluster of another version
    with pytest.raises(ServiceStartFailed) as caught:
        async with local_services(state, only=["postgres"]):
            pass
    assert "incompatible" in str(caught.value)
    assert caught.value.details["service"] == "postgres"
    assert caught.value.details["log"].endswith("postgres.log")


async def test_an_external_url_is_used_instead_of_starting_a_server(tmp_path: Path) -> None:
    async with local_services(tmp_path / "a", only=["nats"]) as elsewhere:
        assert elsewhere.nats is not None
        async with local_services(tmp_path / "b", only=["nats"], nats=elsewhere.nats) as urls:
            assert urls.nats == elsewhere.nats
            assert not (tmp_path / "b" / "run" / "nats.json").exists()
