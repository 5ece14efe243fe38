"""Function names are data on every page (issue 16 item 13), in real Chromium: the Functions grid rendered names
through dash-ag-grid's markdown renderer, so `![t](http://host/beacon)` became a live <img> that fetched the URL
and `phish](https://evil.example/login)[` a link to a foreign site. A local beacon server counts what the browser
asks of it (nothing, ever), and every request the page makes is recorded."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hostile import RICH_MARKUP, markdown_html

from opsview.config import Config
from opsview.schema import FunctionInfo, FunctionKey, Sample, floor_time, utcnow
from opsview.store import SQLiteStore
from opsview.web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


class Beacon:
    """A local HTTP server a hostile name points at; any request to it is a leak."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        beacon = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                beacon.hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def beacon() -> Iterator[Beacon]:
    server = Beacon()
    yield server
    server.close()


@pytest.fixture(scope="module")
def names(beacon: Beacon) -> tuple[str, ...]:
    return (*markdown_html(beacon.host), *RICH_MARKUP)


@pytest.fixture(scope="module")
def hostile_live(tmp_path_factory: pytest.TempPathFactory, names: tuple[str, ...],
                 serve: Callable[[Any], Any]) -> Iterator[Any]:
    store = SQLiteStore(tmp_path_factory.mktemp("hostile-web") / "opsview.db")
    now = floor_time(utcnow(), 60)
    keys = [FunctionKey("aws", "111111111111", "us-east-1", name) for name in names]
    store.upsert_functions(FunctionInfo(k, runtime="python3.12", memory_mb=128) for k in keys)
    # Failing and slow in opposite orders, so the top-10 lists (most errors, slowest p99) hold every name.
    store.write_samples(Sample(key=k, start=now - timedelta(minutes=m), invocations=1000, errors=100 - i,
                               duration_p99_ms=100.0 + i) for m in range(1, 30) for i, k in enumerate(keys))
    yield serve(create_app(store, Config()))
    store.close()


@pytest.fixture
def watched(page: Any) -> tuple[Any, list[str], list[str]]:
    """The page, every URL it requested, and every dialog a script opened."""
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return page, requests, dialogs


def _no_leak(requests: list[str], dialogs: list[str], beacon: Beacon, origin: str) -> None:
    foreign = [u for u in requests if not u.startswith(origin + "/")]
    assert foreign == []  # not the beacon, not evil.example, not a javascript: URL
    assert beacon.hits == []
    assert dialogs == []  # no script ran


def test_the_grid_shows_hostile_names_as_text_and_links_only_to_their_pages(
    watched: tuple[Any, list[str], list[str]], hostile_live: Any, beacon: Beacon, names: tuple[str, ...],
    artifacts_dir: Path,
) -> None:
    page, requests, dialogs = watched
    beacon.hits.clear()
    page.goto(hostile_live.url + "/functions")
    page.wait_for_function(f"() => document.querySelectorAll('#functions-grid .ag-row').length === {len(names)}")
    shown = page.locator("#functions-grid .ag-row [col-id='function']").all_inner_texts()
    assert sorted(shown) == sorted(names)  # each name exactly as it is, markup and all
    assert page.locator("#functions-grid img, #functions-grid script").count() == 0
    hrefs = page.locator("#functions-grid a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert len(hrefs) == len(names)
    assert all(h.startswith("/function/aws%2F111111111111%2Fus-east-1%2F") for h in hrefs), hrefs
    page.screenshot(path=str(artifacts_dir / "web-functions-hostile.png"), full_page=True)

    # The quick filter reads the name, not markup around it.
    page.fill("#functions-search", "phish](")
    page.wait_for_function("() => document.querySelectorAll('#functions-grid .ag-row').length === 1")
    page.locator("#functions-grid a", has_text="phish](https://evil.example/login)[").click()
    page.wait_for_url(re.compile(re.escape("/function/" + quote("aws/111111111111/us-east-1/phish](", safe=""))))
    page.wait_for_selector("#function-counts .main-svg")
    assert page.inner_text("#function-title").endswith("phish](https://evil.example/login)[")
    _no_leak(requests, dialogs, beacon, hostile_live.url)


def test_the_overview_and_the_function_page_show_hostile_names_as_text(
    watched: tuple[Any, list[str], list[str]], hostile_live: Any, beacon: Beacon, names: tuple[str, ...],
) -> None:
    page, requests, dialogs = watched
    beacon.hits.clear()
    page.goto(hostile_live.url + "/")
    page.wait_for_selector("#overview-invocations .main-svg")
    page.wait_for_selector(".top-box a")
    top = page.locator(".top-grid").inner_text()
    for name in names:
        assert name in top, name
    assert page.locator(".top-grid img, .top-grid script").count() == 0
    for name in names[:4]:
        page.goto(hostile_live.url + "/function/" + quote(f"aws/111111111111/us-east-1/{name}", safe=""))
        page.wait_for_selector("#function-counts .main-svg")
        assert page.inner_text("#function-title").endswith(name)
    _no_leak(requests, dialogs, beacon, hostile_live.url)
