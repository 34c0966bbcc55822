"""A run's report as a page the UI can frame without trusting it.

The report is one HTML file with BokehJS and the charts' scripts inline. Served from the
JupyterLab origin, a script in it could read the user's cookies and XSRF token and drive the
whole server, so the answer carries a Content-Security-Policy that

- allows exactly the inline ``<script>`` blocks of the page (their SHA-256 hashes) and
  nothing else: no script from elsewhere, no ``javascript:`` URL, no event-handler attribute
  (a run named ``<img src=x onerror=alert(1)>`` that slipped past escaping stays inert);
- sandboxes the document (``sandbox allow-scripts``, no ``allow-same-origin``): even the
  allowed scripts run in an opaque origin, with no access to cookies, storage or the parent;
- allows no network at all (``default-src 'none'``), inline styles and data: images only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from jupyter_dlbench.store import Workspace

from .base import NotAvailable

_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
FORMATS = ("html", "md")


def _reports() -> Any:
    try:
        from jupyter_dlbench import reports
    except ImportError as e:
        raise NotAvailable(f"reports are not available in this installation ({e})") from None
    return reports


def run_report(ws: Workspace, ref: str, fmt: str) -> str:
    return _reports().run_report(ref, format=fmt, workspace=ws)


def content_security_policy(html: str) -> str:
    hashes = sorted({
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode() + "'"
        for attrs, body in _SCRIPT.findall(html) if "src=" not in attrs.lower()
    })
    return "; ".join([
        "default-src 'none'",
        f"script-src {' '.join(hashes) if hashes else chr(39) + 'none' + chr(39)}",
        "style-src 'unsafe-inline'",
        "img-src data: blob:",
        "font-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
        "sandbox allow-scripts",
    ])
