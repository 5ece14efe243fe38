"""The per-project filter, the quota limiter/backoff, and minute buckets for GCP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from pydantic import ValidationError

from opsview.collectors.gcp import collector as gcp_collector
from opsview.collectors.gcp.buckets import BucketAccumulator
from opsview.collectors.gcp.entries import Generation, InstanceStart, Invocation
from opsview.collectors.gcp.filter import NameRules, build_filter, glob_to_re2, service_spelling
from opsview.collectors.gcp.quota import CallLimiter, with_backoff
from opsview.config import parse_config
from opsview.config.sources import GcpSource

T0 = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)


def test_filter_always_bounds_time_and_selects_only_counted_entries() -> None:
    text = build_filter(T0, T0 + timedelta(minutes=5))
    assert text.startswith('timestamp>="2024-01-01T08:00:00Z" AND timestamp<"2024-01-01T08:05:00Z" AND ')
    assert 'resource.type="cloud_function" AND textPayload:"finished with status"' in text
    assert 'textPayload:"Starting new instance"' in text
    with pytest.raises(ValueError, match="naive"):
        build_filter(datetime(2024, 1, 1), T0)  # noqa: DTZ001 - the point of the test


def test_filter_pushes_regions_and_globs_down() -> None:
    text = build_filter(T0, T0 + timedelta(minutes=1), ["us-central1", "europe-west1"], ["pay*", "cart.v?"])
    assert '(resource.labels.region="us-central1" OR resource.labels.region="europe-west1")' in text
    assert 'resource.labels.function_name=~"^(pay.*|cart[.]v.)$"' in text
    assert 'resource.labels.function_name=~"^(fn-[ab])$"' in build_filter(T0, T0 + timedelta(minutes=1),
                                                                       include=["fn-[ab]"])
    assert glob_to_re2("a b") == "a[ ]b"
    assert glob_to_re2("fn-[!x_]?") == "fn-[^x_]."
    with pytest.raises(ValueError, match="unclosed"):
        glob_to_re2("odd[")
    with pytest.raises(ValueError, match="character class"):
        glob_to_re2("fn-[.]")


@pytest.mark.parametrize("glob", ["fn-[ab]*", "[!z]x?", "a*b", "Process_Order", "[a-c]z"])
def test_globs_select_what_fnmatch_selects(glob: str) -> None:
    names = ["fn-a1", "fn-c", "ax", "zx1", "axe", "ab", "a-b", "Process_Order", "x[", "bz", "dz", "process-order"]
    pattern = re.compile("^(" + glob_to_re2(glob) + ")$")
    assert [n for n in names if pattern.match(n)] == [n for n in names if fnmatchcase(n, glob)]


def test_gen2_names_match_in_the_function_spelling_and_the_service_spelling() -> None:
    rules = NameRules.of(["Process_Order*"], ["*_DLQ"])
    assert rules.admits("process-order", gen2=True)
    assert rules.admits("Process_Order", gen2=False)
    assert not rules.admits("process-order", gen2=False)  # gen1 keeps its real name
    assert not rules.admits("process-order-dlq", gen2=True)
    assert service_spelling("Process_Order") == "process-order"


def test_limiter_is_a_sliding_window() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limiter = CallLimiter(3, 60.0, clock=lambda: now[0], sleep=sleep)
    for at in (0.0, 10.0, 20.0):
        now[0] = at
        with limiter.slot():
            pass
    now[0] = 30.0
    limiter.acquire()  # the call at t=0 leaves the window at t=60
    assert slept == [30.0]
    assert now[0] == 60.0


def test_limiter_stamps_a_call_when_it_finishes() -> None:
    # the service counts a call when it arrives; a call that took 50 s must not free its place 50 s early
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limiter = CallLimiter(1, 60.0, clock=lambda: now[0], sleep=sleep)
    with limiter.slot():
        now[0] = 50.0  # in flight for 50 s
    limiter.acquire()
    assert slept == [60.0]
    assert now[0] == 110.0


class _RefusedError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"{code} refused")
        self.code = code


def test_backoff_retries_429_and_5xx_but_not_403() -> None:
    answers: list[object] = [_RefusedError(429), _RefusedError(503), "page"]
    waits: list[float] = []

    def call() -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    limiter = CallLimiter(100)
    assert with_backoff(call, limiter=limiter, retries=5, base_s=0.5, sleep=waits.append) == "page"
    assert waits == [0.5, 1.0]
    answers[:] = [_RefusedError(403)]
    with pytest.raises(_RefusedError):
        with_backoff(call, limiter=limiter, retries=5, base_s=0.5, sleep=waits.append)


def inv(gen: Generation, second: int, ms: float | None, *, error: bool = False, throttled: bool = False) -> Invocation:
    return Invocation("p", "r", f"f-{gen}", gen, T0 + timedelta(seconds=second), ms, "200", error, None, throttled)


def test_buckets_keep_gen1_cold_starts_and_throttles_unknown() -> None:
    acc = BucketAccumulator()
    acc.add_all([
        inv(Generation.GEN1, 1, 100.0), inv(Generation.GEN1, 2, 300.0, error=True), inv(Generation.GEN1, 61, 50.0),
        inv(Generation.GEN2, 1, 10.0), inv(Generation.GEN2, 2, None, throttled=True),
        InstanceStart("p", "r", "f-gen2", T0, "AUTOSCALING"), InstanceStart("p", "r", "f-gen2", T0, "MIN_INSTANCE"),
    ])
    samples = {(s.key.name, s.start): s for s in acc.samples()}
    g1 = samples[("f-gen1", T0)]
    assert (g1.invocations, g1.errors, g1.throttles, g1.cold_starts) == (2, 1, None, None)
    # nearest rank: p50 of two values is the smaller, p99 the larger (never a value between them)
    assert (g1.duration_avg_ms, g1.duration_p50_ms, g1.duration_p99_ms, g1.duration_max_ms) == (
        200.0, 100.0, 300.0, 300.0)
    assert samples[("f-gen1", T0 + timedelta(minutes=1))].invocations == 1
    g2 = samples[("f-gen2", T0)]
    assert (g2.invocations, g2.errors, g2.throttles, g2.cold_starts) == (1, 0, 1, 1)
    assert dict(acc.starts[g2.key].other) == {"MIN_INSTANCE": 1}
    assert {i.key.name: i.labels["generation"] for i in acc.functions()} == {"f-gen1": "gen1", "f-gen2": "gen2"}


def test_the_collector_uses_no_private_sdk_interface() -> None:
    # issue 14 item 12: `client._connection.api_request` broke silently on SDK upgrades; only public APIs now
    package = Path(gcp_collector.__file__).parent
    for path in package.glob("*.py"):
        text = path.read_text()
        assert "_connection" not in text, path.name
        assert "api_request" not in text, path.name


def test_services_config_takes_only_globs_of_cloud_run_names() -> None:
    assert GcpSource(project_id="p", services=["resize-*", "Process_Order"]).services == ["resize-*", "Process_Order"]
    with pytest.raises(ValidationError, match="services"):
        GcpSource(project_id="p", services=["web/app"])


def test_config_example_documents_every_gcp_key_and_parses() -> None:
    text = (Path(__file__).resolve().parents[3] / "config.example.toml").read_text()
    block = []
    for line in text[text.index("# [[sources.gcp]]"):].splitlines():
        if not line.startswith("#"):
            break
        block.append(line[2:] if line.startswith("# ") else line[1:])
    toml = "\n".join(block)
    assert set(re.findall(r"^(\w+) =", toml, re.MULTILINE)) >= set(GcpSource.model_fields) - {"type"}
    config = parse_config(toml, Path("config.example.toml"))
    (source,) = config.sources.gcp
    assert source.mode == "metrics"
    assert source.services == []
    assert source.quota_project == "ops-tools"
