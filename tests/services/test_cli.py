"""``evoforum services up|down|status|destroy`` run as a separate process, as users run it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import asyncpg
import pytest

from tests.services._helpers import alive, children_of, cli, record, wait_dead

pytestmark = pytest.mark.services


def test_up_is_idempotent_and_down_leaves_no_process(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = cli(state, "up", "--only", "nats", "--only", "postgres")
    assert first.returncode == 0, first.stderr
    assert [line.split()[:2] for line in first.stdout.splitlines()] == [
        ["nats", "started"],
        ["postgres", "started"],
    ]
    nats, postgres = record(state, "nats"), record(state, "postgres")
    postgres_workers = children_of(postgres["pid"])
    assert postgres_workers, "PostgreSQL runs its background workers"

    second = cli(state, "up", "--only", "nats", "--only", "postgres")
    assert second.returncode == 0, second.stderr
    assert [line.split()[1] for line in second.stdout.splitlines()] == ["running", "running"]
    assert first.stdout.split()[2::3] == second.stdout.split()[2::3]  # same URLs, so same ports
    assert (record(state, "nats")["pid"], record(state, "postgres")["pid"]) == (nats["pid"], postgres["pid"])

    down = cli(state, "down")
    assert down.returncode == 0, down.stderr
    assert wait_dead([nats["pid"], postgres["pid"], *postgres_workers], limit=5) == []
    assert not (state / "run" / "nats.json").exists()


async def test_rows_survive_down_and_up(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert cli(state, "up", "--only", "postgres").returncode == 0
    url = cli(state, "status", "--only", "postgres").stdout.split()[2]
    connection = await asyncpg.connect(url)
    await connection.execute("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')")
    await connection.close()
    assert cli(state, "down").returncode == 0
    assert cli(state, "up", "--only", "postgres").returncode == 0
    try:
        connection = await asyncpg.connect(url)
        assert await connection.fetchval("SELECT body FROM notes") == "kept"
        await connection.close()
    finally:
        assert cli(state, "down").returncode == 0


def test_status_prints_one_line_per_service_with_url_and_health(tmp_path: Path) -> None:
    state = tmp_path / "state"
    before = cli(state, "status")
    assert before.returncode == 3
    assert [line.split()[:2] for line in before.stdout.splitlines()] == [
        ["nats", "stopped"],
        ["postgres", "stopped"],
        ["llm", "stopped"],
    ]
    assert cli(state, "up", "--only", "nats").returncode == 0
    try:
        status = cli(state, "status")
        lines = {line.split()[0]: line.split() for line in status.stdout.splitlines()}
        assert status.returncode == 3  # postgres and llm are not running
        assert lines["nats"][1] == "running"
        assert lines["nats"][2].startswith("nats://127.0.0.1:")
        assert lines["llm"][1] == "stopped"
        assert cli(state, "status", "--only", "nats").returncode == 0
    finally:
        cli(state, "down")


def test_an_unknown_service_name_exits_2_with_one_line(tmp_path: Path) -> None:
    result = cli(tmp_path / "state", "up", "--only", "redis")
    assert result.returncode == 2
    assert "redis" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "state").exists()


def test_an_external_url_is_checked_not_started(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    env = {**os.environ, "EVOFORUM_NATS_URL": f"nats://127.0.0.1:{dead_port}"}
    status = cli(tmp_path / "state", "status", "--only", "nats", env=env)
    assert status.returncode == 3
    assert status.stdout.split()[:3] == ["nats", "unhealthy", f"nats://127.0.0.1:{dead_port}"]
    up = cli(tmp_path / "state", "up", "--only", "nats", env=env)
    assert up.returncode == 1
    assert "ServiceUnavailable" in up.stderr
    assert not (tmp_path / "state" / "run" / "nats.json").exists()


def test_a_killed_server_is_restarted_by_the_next_up(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert cli(state, "up", "--only", "nats", "--only", "postgres").returncode == 0
    old = [record(state, "nats")["pid"], record(state, "postgres")["pid"]]
    for pid in old:
        os.kill(pid, 9)
    assert wait_dead(old) == []
    assert (state / "postgres" / "data" / "postmaster.pid").exists()  # left behind by the kill
    again = cli(state, "up", "--only", "nats", "--only", "postgres")
    try:
        assert again.returncode == 0, again.stderr
        assert [line.split()[1] for line in again.stdout.splitlines()] == ["started", "started"]
        new = [record(state, "nats")["pid"], record(state, "postgres")["pid"]]
        assert all(alive(pid) for pid in new)
        assert set(new).isdisjoint(old)
    finally:
        cli(state, "down")


def test_destroy_deletes_the_data_but_not_foreign_files(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "notes.txt").write_text("mine")
    assert cli(state, "up", "--only", "nats").returncode == 0
    pid = record(state, "nats")["pid"]
    result = cli(state, "destroy")
    assert result.returncode == 0, result.stderr
    assert wait_dead([pid], limit=5) == []
    assert sorted(path.name for path in state.iterdir()) == ["notes.txt"]


def test_down_never_kills_a_process_that_merely_reuses_a_recorded_pid(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "run").mkdir(parents=True)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        stat = Path(f"/proc/{bystander.pid}/stat").read_text()
        started = int(stat[stat.rfind(")") + 2 :].split()[19])
        fake = {"pid": bystander.pid, "start": started, "argv": ["/usr/bin/nats-server"], "port": 1}
        (state / "run" / "nats.json").write_text(json.dumps(fake))
        stale = {**fake, "start": started + 1, "argv": ["/usr/bin/sleep"]}
        (state / "run" / "postgres.json").write_text(json.dumps(stale))
        result = cli(state, "down")
        assert result.returncode == 0, result.stderr
        assert bystander.poll() is None
        assert not (state / "run" / "nats.json").exists()
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.llm
def test_a_killed_model_server_is_reported_and_restarted_by_the_next_up(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = cli(state, "up", "--only", "llm")
    assert first.returncode == 0, first.stderr
    old = record(state, "llm")["pid"]
    try:
        os.kill(old, 9)
        assert wait_dead([old]) == []
        status = cli(state, "status", "--only", "llm")
        assert status.returncode == 3
        assert status.stdout.split()[:2] == ["llm", "stopped"]
        again = cli(state, "up", "--only", "llm")
        assert again.returncode == 0, again.stderr
        assert again.stdout.split()[:3] == ["llm", "started", first.stdout.split()[2]]  # same URL
        assert alive(record(state, "llm")["pid"])
    finally:
        cli(state, "down")
