"""A local server speaking the Cloud Logging v2 REST `entries:list` shape, for the real client.

Understands what opsview sends: `resourceNames`, `filter` (only its `timestamp` bounds, which it
requires, and `resource.labels.function_name|service_name="X"` equality), `pageSize` and
`pageToken`. Failures (e.g. 429 RESOURCE_EXHAUSTED) can be queued per project. Used by the
integration tests and by bench/gcp.py.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import time
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_LOWER = re.compile(r'timestamp>="([^"]+)"')
_UPPER = re.compile(r'timestamp<"([^"]+)"')
_NAME = re.compile(r'resource\.labels\.(?:function_name|service_name)="([^"]+)"')


def _epoch(text: str) -> float:
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


class _Project:
    def __init__(self, entries: list[dict[str, Any]]) -> None:
        rows = []
        for entry in entries:
            at = 0.0
            for stamp in (entry.get("timestamp"), entry.get("receiveTimestamp")):
                try:
                    at = _epoch(stamp)
                    break
                except (TypeError, ValueError):  # a garbled test entry still sorts by when it arrived
                    continue
            labels = (entry.get("resource") or {}).get("labels") or {}
            name = labels.get("function_name") or labels.get("service_name") or ""
            rows.append((at, name, json.dumps(entry, separators=(",", ":"))))
        rows.sort(key=lambda r: r[0])
        self.times = [r[0] for r in rows]
        self.rows = rows


class FakeLoggingApi:
    def __init__(self, entries: dict[str, list[dict[str, Any]]], latency_s: float = 0.0) -> None:
        self.projects = {project: _Project(items) for project, items in entries.items()}
        self.latency_s = latency_s
        self.failures: dict[str, deque[int]] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def fail_next(self, project: str, *codes: int) -> None:
        self.failures.setdefault(project, deque()).extend(codes)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeLoggingApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
                return

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload = api.handle(self.path, body)
                data = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @staticmethod
    def _error(code: int, status: str, message: str) -> tuple[int, str]:
        return code, json.dumps({"error": {"code": code, "message": message, "status": status}})

    def handle(self, path: str, body: dict[str, Any]) -> tuple[int, str]:
        if self.latency_s:
            time.sleep(self.latency_s)
        with self._lock:
            self.requests.append(body)
        if path.split("?")[0] != "/v2/entries:list":
            return self._error(404, "NOT_FOUND", f"no such method {path}")
        names = body.get("resourceNames") or []
        project = names[0].split("/", 1)[1] if names and names[0].startswith("projects/") else ""
        with self._lock:
            queued = self.failures.get(project)
            code = queued.popleft() if queued else None
        if code == 429:
            return self._error(429, "RESOURCE_EXHAUSTED",
                               "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'")
        if code is not None:
            return self._error(code, "PERMISSION_DENIED" if code == 403 else "UNAVAILABLE", f"injected {code}")
        if project not in self.projects:
            return self._error(403, "PERMISSION_DENIED", f"Permission denied on project {project}")
        filter_ = body.get("filter") or ""
        lower, upper = _LOWER.search(filter_), _UPPER.search(filter_)
        if not lower or not upper:
            return self._error(400, "INVALID_ARGUMENT", "opsview must bound every filter by timestamp")
        data = self.projects[project]
        first = bisect.bisect_left(data.times, _epoch(lower[1]))
        last = bisect.bisect_left(data.times, _epoch(upper[1]))
        rows = data.rows[first:last]
        wanted = _NAME.search(filter_)
        if wanted:
            rows = [r for r in rows if r[1] == wanted[1]]
        offset = int(body.get("pageToken") or 0)
        size = min(int(body.get("pageSize") or 50), 1000)
        page = rows[offset:offset + size]
        text = '{"entries":[' + ",".join(r[2] for r in page) + "]"
        if offset + size < len(rows):
            text += f',"nextPageToken":"{offset + size}"'
        return 200, text + "}"


# --- LogEntry builders in the shapes Cloud Logging returns ----------------------------------------


def gen1_line(project: str, region: str, function: str, ts: str, text: str) -> dict[str, Any]:
    return {
        "insertId": f"{function}-{ts}",
        "labels": {"execution_id": "j22o0ucdhpop"},
        "logName": f"projects/{project}/logs/cloudfunctions.googleapis.com%2Fcloud-functions",
        "receiveTimestamp": ts,
        "resource": {"type": "cloud_function",
                     "labels": {"function_name": function, "project_id": project, "region": region}},
        "severity": "DEBUG",
        "textPayload": text,
        "timestamp": ts,
    }


def gen2_request(project: str, region: str, function: str, ts: str, status: int, latency: str) -> dict[str, Any]:
    return {
        "httpRequest": {"latency": latency, "requestMethod": "POST", "status": status,
                        "requestUrl": f"https://{function}-abc-uc.a.run.app/"},
        "insertId": f"{function}-{ts}-{status}",
        "labels": {"goog-managed-by": "cloudfunctions", "instanceId": "00bf4bf02d"},
        "logName": f"projects/{project}/logs/run.googleapis.com%2Frequests",
        "receiveTimestamp": ts,
        "resource": {"type": "cloud_run_revision",
                     "labels": {"configuration_name": function, "location": region, "project_id": project,
                                "revision_name": f"{function}-00001-abc", "service_name": function}},
        "severity": "ERROR" if status >= 500 else "INFO",
        "timestamp": ts,
    }


def gen2_start(project: str, region: str, function: str, ts: str, reason: str) -> dict[str, Any]:
    entry = gen2_request(project, region, function, ts, 200, "0s")
    del entry["httpRequest"]
    entry["logName"] = f"projects/{project}/logs/run.googleapis.com%2Fvarlog%2Fsystem"
    entry["textPayload"] = f"Starting new instance. Reason: {reason} - Instance started due to configured scaling."
    entry["insertId"] = f"{function}-{ts}-start"
    return entry
