"""Scenario 6: GET /dlbench/api/runs through a real Jupyter server (argv: HOME N REQUESTS).

Starts ``jupyter server`` with the extension on a workspace built by list_ours.py's setup,
then times REQUESTS sequential requests for the first page (the sidebar's request) and for
a page sorted by a metric. Latency is measured at the client, so it includes HTTP and JSON.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from _common import emit

home, n_runs, requests = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
token = secrets.token_hex(16)
root = tempfile.mkdtemp()
env = {**os.environ, "DLBENCH_HOME": home}
server = subprocess.Popen(
    [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
     f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
     "--DlbenchServer.run_scheduler=False"],
    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"


def get(path: str) -> dict:
    req = urllib.request.Request(base + path, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


try:
    deadline = time.time() + 120
    while True:
        try:
            get("/dlbench/api/health")
            break
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit("jupyter server did not start") from None
            time.sleep(0.3)
    first = get("/dlbench/api/runs?limit=1")  # warm: the first request folds journals
    assert first["total"] == n_runs, first.get("total")
    figures = {}
    for label, path in (("page", "/dlbench/api/runs?limit=200"),
                        ("sorted", "/dlbench/api/runs?limit=200&sort=-metrics.loss")):
        lat = []
        for _ in range(requests):
            t0 = time.perf_counter()
            get(path)
            lat.append(time.perf_counter() - t0)
        lat.sort()
        figures[f"{label}_p50_s"] = lat[len(lat) // 2]
        figures[f"{label}_p95_s"] = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
    emit(**figures)
finally:
    server.terminate()
    server.wait(timeout=30)
