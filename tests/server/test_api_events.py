"""GET /dlbench/api/events: a server-sent-events stream of run and job changes."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import pytest

from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.execution.submit import submit_notebook
from jupyter_dlbench.store import Workspace

EVENT = re.compile(rb"id: (\d+)\nevent: (\w+)\ndata: ([^\n]*)\n\n")


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["DlbenchServer"] = {"run_scheduler": False, "events_interval": 0.2}
    jp_server_config["ServerApp"]["tornado_settings"] = {"dlbench_events_heartbeat": 0.5}
    return jp_server_config


class Stream:
    """A raw HTTP connection reading the event stream, so the test can also hang up."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.head = b""
        self.data = b""

    @classmethod
    async def open(cls, http: Any, base_url: str, auth: dict[str, str]) -> Stream:
        port = http.get_http_port()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET {base_url}dlbench/api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: {auth['Authorization']}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        stream = cls(reader, writer)
        stream.head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        return stream

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        return [(kind.decode(), json.loads(data)) for _, kind, data in EVENT.findall(self.data)]

    async def until(self, predicate: Any, timeout: float = 20) -> list[tuple[str, Any]]:
        deadline = time.monotonic() + timeout
        while not predicate(self.events()):
            assert time.monotonic() < deadline, f"not seen in the stream: {self.data[-2000:]!r}"
            try:
                self.data += await asyncio.wait_for(self.reader.read(65536), 0.5)
            except asyncio.TimeoutError:
                pass
        return self.events()

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
def open_stream(http_server_client: Any, jp_base_url: str, jp_auth_header: dict[str, str],
                workspace_dir: Any) -> Any:
    opened: list[Stream] = []

    async def open_() -> Stream:
        opened.append(await Stream.open(http_server_client, jp_base_url, jp_auth_header))
        return opened[-1]

    yield open_
    for s in opened:
        s.close()


async def test_the_stream_says_hello_then_reports_runs_starting_and_finishing(
    open_stream: Any, workspace_dir: Any
) -> None:
    import jupyter_dlbench as dlb

    stream = await open_stream()
    assert stream.head.startswith(b"HTTP/1.1 200")
    assert b"text/event-stream" in stream.head
    events = await stream.until(lambda ev: ev and ev[0][0] == "hello")
    assert events[0][1] == {"workspace": str(workspace_dir)}
    await asyncio.sleep(0.5)  # the server's first look only takes stock
    run = dlb.init(name="watched")
    await stream.until(lambda ev: ("run", {"run_id": run.id, "status": "running"}) in ev)
    run.finish("failed")
    await stream.until(lambda ev: ("run", {"run_id": run.id, "status": "failed"}) in ev)


async def test_the_stream_reports_job_state_changes_and_heartbeats(
    open_stream: Any, make_notebook: Any, jp_root_dir: Any
) -> None:
    stream = await open_stream()
    await stream.until(lambda ev: ev and ev[0][0] == "hello")
    await asyncio.sleep(0.5)
    ws = Workspace.find()
    job = submit_notebook(ws, jp_root_dir / make_notebook("t.ipynb", "x = 1"), {})
    expect = {"job_id": job.job_id, "status": "queued", "run_id": None}
    await stream.until(lambda ev: ("job", expect) in ev)
    JobStore(ws).append(job.job_id, {"t": "cancelled", "error": "cancelled while queued"})
    expect = {"job_id": job.job_id, "status": "cancelled", "run_id": None}
    await stream.until(lambda ev: ("job", expect) in ev)
    ids = [int(i) for i, _, _ in EVENT.findall(stream.data)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    await stream.until(lambda ev: b": heartbeat\n\n" in stream.data)


async def test_the_server_stops_watching_when_the_client_hangs_up(
    http_server_client: Any, jp_base_url: str, jp_auth_header: dict[str, str],
    jp_serverapp: Any, workspace_dir: Any
) -> None:
    hub = jp_serverapp.web_app.settings["dlbench_events"]
    first = await Stream.open(http_server_client, jp_base_url, jp_auth_header)
    second = await Stream.open(http_server_client, jp_base_url, jp_auth_header)
    await first.until(lambda ev: bool(ev))
    await second.until(lambda ev: bool(ev))
    assert hub.listeners == 2
    first.close()
    second.close()
    deadline = time.monotonic() + 10
    while hub.listeners or hub._task is not None:
        assert time.monotonic() < deadline, "the server kept a stream of a gone client"
        await asyncio.sleep(0.1)


async def test_the_stream_reports_new_dataset_versions(
    open_stream: Any, tmp_path: Any
) -> None:
    import jupyter_dlbench as dlb

    stream = await open_stream()
    await stream.until(lambda ev: ev and ev[0][0] == "hello")
    await asyncio.sleep(0.5)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("1")
    dlb.log_dataset("digits", str(tmp_path / "d"))
    await stream.until(lambda ev: ("dataset", {"name": "digits", "version": "v1"}) in ev)
