"""A local server speaking the Cloud Logging v2 REST `entries:list` shape, for opsview's REST reader.

Documented behaviour it implements (https://cloud.google.com/logging/docs/reference/v2/rest/v2/entries/list):
- POST /v2/entries:list with `resourceNames`, `filter`, `orderBy`, `pageSize` (at most 1000; default 50) and
  `pageToken`; answers `{"entries": [...], "nextPageToken": "..."}`.
- `filter` in the Logging query language (https://cloud.google.com/logging/docs/view/logging-query-language),
  evaluated by `filter_eval` on every entry: so an unlabelled Cloud Run service is not returned by a filter that
  asks for `labels."goog-managed-by"="cloudfunctions"`. opsview must bound every filter by `timestamp` (the fake
  refuses one without: the client library would otherwise add its own 24-hour restriction).
- Quota: `entries.list` allows `quota_per_minute` (60) calls a minute per **quota project**
  (https://cloud.google.com/logging/quotas), and the quota project is the caller's: the `x-goog-user-project`
  header, else the credentials' own project (`caller_project` here), never the project read
  (https://cloud.google.com/docs/quotas/quota-project). Past it: 429 RESOURCE_EXHAUSTED.
- Errors in Google's JSON error shape; failures can be queued per project (`fail_next`).
Used by the integration tests and by bench/gcp.py.
"""

from __future__ import annotations

import bisect
import importlib.util
import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _load_filter_eval() -> Any:
    name = "opsview_tests_gcp_filter_eval"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("filter_eval.py"))
        assert spec
        assert spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


filter_eval = _load_filter_eval()

_LOWER = re.compile(r'timestamp>="([^"]+)"')
_UPPER = re.compile(r'timestamp<"([^"]+)"')
CALLER_PROJECT = "opsview-caller"
"""The project of the fake's caller identity (a service account's project): the default quota project."""


def _epoch(text: str) -> float:
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def _resolver(entry: dict[str, Any], at: float) -> Callable[[tuple[str, ...]], Any]:
    def resolve(path: tuple[str, ...]) -> Any:
        if path == ("timestamp",):
            return datetime.fromtimestamp(at, UTC)
        value: Any = entry
        for part in path:
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value if isinstance(value, (str, int, float)) else None

    return resolve


def _named(tree: Any) -> str | None:
    """The function or service name a filter's top-level AND pins with `=`, if any (an index shortcut)."""
    parts = tree.args if isinstance(tree, filter_eval.BoolOp) and tree.op == "AND" else (tree,)
    for part in parts:
        if (isinstance(part, filter_eval.Cmp) and part.op == "="
                and part.path in (("resource", "labels", "function_name"), ("resource", "labels", "service_name"))):
            return str(part.value)
    return None


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
            rows.append((at, entry, json.dumps(entry, separators=(",", ":"))))
        rows.sort(key=lambda r: r[0])
        self.times = [r[0] for r in rows]
        self.rows = rows
        self.by_name: dict[str, list[int]] = {}
        for row in rows:
            labels = (row[1].get("resource") or {}).get("labels") or {}
            name = labels.get("function_name") or labels.get("service_name")
            if isinstance(name, str):
                self.by_name.setdefault(name, []).append(id(row))
        self._matches: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def matching(self, filter_: str, lower: float, upper: float) -> list[str]:
        with self._lock:  # pages of one listing share their filter: evaluate it once
            cached = self._matches.get(filter_)
            if cached is None:
                tree = filter_eval.parse(filter_)
                first = bisect.bisect_left(self.times, lower)
                last = bisect.bisect_left(self.times, upper)
                rows = self.rows[first:last]
                named = _named(tree)
                if named is not None:  # a filter on one function's name (the naive baseline): use the index
                    wanted = set(self.by_name.get(named, ()))
                    rows = [r for r in rows if id(r) in wanted]
                cached = [text for at, entry, text in rows if filter_eval.evaluate(tree, _resolver(entry, at))]
                self._matches[filter_] = cached
            return cached


class FakeLoggingApi:
    def __init__(
        self,
        entries: dict[str, list[dict[str, Any]]],
        latency_s: float = 0.0,
        *,
        quota_per_minute: int | None = 60,
        clock: Callable[[], float] = time.monotonic,
        caller_project: str = CALLER_PROJECT,
    ) -> None:
        self.projects = {project: _Project(items) for project, items in entries.items()}
        self.latency_s = latency_s
        self.quota_per_minute = quota_per_minute
        self.clock = clock
        self.caller_project = caller_project
        self.failures: dict[str, deque[int]] = {}
        self.requests: list[dict[str, Any]] = []
        self.quota_projects: list[str] = []
        """The quota project charged for each request, in order."""
        self.refused: list[str] = []
        """Quota projects of the requests refused for quota."""
        self._charged: dict[str, deque[float]] = {}
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
                status, payload = api.handle(self.path, body, self.headers.get("x-goog-user-project"))
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

    def _charge(self, quota_project: str) -> bool:
        """Count one call against the quota project's minute; False = over quota."""
        with self._lock:
            self.quota_projects.append(quota_project)
            if self.quota_per_minute is None:
                return True
            now = self.clock()
            stamps = self._charged.setdefault(quota_project, deque())
            while stamps and now - stamps[0] >= 60.0:
                stamps.popleft()
            if len(stamps) >= self.quota_per_minute:
                self.refused.append(quota_project)
                return False
            stamps.append(now)
            return True

    def handle(self, path: str, body: dict[str, Any], user_project: str | None = None) -> tuple[int, str]:
        if self.latency_s:
            time.sleep(self.latency_s)
        with self._lock:
            self.requests.append(body)
        if path.split("?")[0] != "/v2/entries:list":
            return self._error(404, "NOT_FOUND", f"no such method {path}")
        quota_project = user_project or self.caller_project
        if not self._charge(quota_project):
            return self._error(429, "RESOURCE_EXHAUSTED",
                               "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per "
                               f"minute' of service 'logging.googleapis.com' for consumer 'project:{quota_project}'")
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
        try:
            rows = self.projects[project].matching(filter_, _epoch(lower[1]), _epoch(upper[1]))
        except filter_eval.FilterError as exc:
            return self._error(400, "INVALID_ARGUMENT", f"unparseable filter: {exc}")
        offset = int(body.get("pageToken") or 0)
        size = min(int(body.get("pageSize") or 50), 1000)
        page = rows[offset:offset + size]
        text = '{"entries":[' + ",".join(page) + "]"
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


def gen2_request(project: str, region: str, function: str, ts: str, status: int, latency: str,
                 *, labelled: bool = True, revision: str | None = None) -> dict[str, Any]:
    """A Cloud Run request log; `labelled=False`: a service Cloud Run alone manages (no goog-managed-by label)."""
    entry = {
        "httpRequest": {"latency": latency, "requestMethod": "POST", "status": status,
                        "requestUrl": f"https://{function}-abc-uc.a.run.app/"},
        "insertId": f"{function}-{ts}-{status}",
        "labels": {"goog-managed-by": "cloudfunctions", "instanceId": "00bf4bf02d"},
        "logName": f"projects/{project}/logs/run.googleapis.com%2Frequests",
        "receiveTimestamp": ts,
        "resource": {"type": "cloud_run_revision",
                     "labels": {"configuration_name": function, "location": region, "project_id": project,
                                "revision_name": revision or f"{function}-00001-abc", "service_name": function}},
        "severity": "ERROR" if status >= 500 else "INFO",
        "timestamp": ts,
    }
    if not labelled:
        del entry["labels"]["goog-managed-by"]
    return entry


def gen2_start(project: str, region: str, function: str, ts: str, reason: str, *,
               labelled: bool = True, revision: str | None = None) -> dict[str, Any]:
    entry = gen2_request(project, region, function, ts, 200, "0s", labelled=labelled, revision=revision)
    del entry["httpRequest"]
    entry["logName"] = f"projects/{project}/logs/run.googleapis.com%2Fvarlog%2Fsystem"
    entry["textPayload"] = f"Starting new instance. Reason: {reason} - Instance started due to configured scaling."
    entry["insertId"] = f"{function}-{ts}-start"
    return entry


def gen2_log(project: str, region: str, function: str, ts: str, text: str, severity: str = "ERROR", *,
             stream: str = "stderr", revision: str | None = None) -> dict[str, Any]:
    """A line a gen2 function (or Cloud Run's system log, `stream="varlog%2Fsystem"`) wrote, at `severity`."""
    entry = gen2_request(project, region, function, ts, 200, "0s", revision=revision)
    del entry["httpRequest"]
    entry["logName"] = f"projects/{project}/logs/run.googleapis.com%2F{stream}"
    entry["textPayload"] = text
    entry["severity"] = severity
    entry["trace"] = f"projects/{project}/traces/{abs(hash((function, ts))) % 10**12:032x}"
    entry["insertId"] = f"{function}-{ts}-{stream}"
    return entry


def gen1_log(project: str, region: str, function: str, ts: str, text: str, severity: str = "ERROR",
             execution_id: str = "j22o0ucdhpop") -> dict[str, Any]:
    """A line a gen1 function wrote to stderr (console.error, an uncaught exception) at `severity`."""
    entry = gen1_line(project, region, function, ts, text)
    entry["severity"] = severity
    entry["labels"] = {"execution_id": execution_id}
    entry["insertId"] = f"{function}-{ts}-{execution_id}-log"
    return entry
