"""Jupyter Server settings for the Galata tests (never for real use: no token, no XSRF)."""

import os

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

configure_jupyter_server(c)
c.ServerApp.ip = "127.0.0.1"
# not galata's 8888: a developer's own `make lab` may hold it
c.ServerApp.port = int(os.environ.get("DLBENCH_UI_PORT", "8897"))
c.ServerApp.allow_root = True  # CI containers and the dev machines run as root
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
# keep `make test` readable: the tests' expected 400s and galata's 404s are warnings
c.Application.log_level = "ERROR"
