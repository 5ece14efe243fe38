"""The per-project filter, the quota limiter/backoff, and minute buckets for GCP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsview.collectors.gcp.buckets import BucketAccumulator
from opsview.collectors.gcp.entries import Generation, InstanceStart, Invocation
from opsview.collectors.gcp.filter import build_filter, glob_to_re2
from opsview.collectors.gcp.quota import CallLimiter, with_backoff

T0 = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)


def test_filter_always_bounds_time_and_selects_only_counted_entries() -> None:
    text = build_filter(T0, T0 + timedelta(minutes=5))
    assert text.startswith('timestamp>="2024-01-01T08:00:00Z" AND timestamp<"2024-01-01T08:05:00Z" AND ')
    assert 'resource.type="cloud_function" AND textPayload:"finished with status"' in text
    assert 'textPayload:"Starting new instance"' in text
    with pytest.raises(ValueError, match="naive"):
        build_filter(datetime(2024, 1, 1), T0)  # noqa: DTZ001 - the point of the test


def test_filter_pushes_regions_and_plain_globs_down() -> None:
    text = build_filter(T0, T0 + timedelta(minutes=1), ["us-central1", "europe-west1"], ["pay*", "cart.v?"])
    assert '(resource.labels.region="us-central1" OR resource.labels.region="europe-west1")' in text
    assert 'resource.labels.function_name=~"^(pay.*|cart[.]v.)$"' in text
    # a character class stays client-side (fnmatch semantics), so the filter names nobody
    assert "=~" not in build_filter(T0, T0 + timedelta(minutes=1), include=["fn-[ab]"])
    assert glob_to_re2("a b") == "a[ ]b"


def test_limiter_is_a_sliding_window() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limiter = CallLimiter(3, 60.0, clock=lambda: now[0], sleep=sleep)
    for at in (0.0, 10.0, 20.0):
        now[0] = at
        limiter.acquire()
    now[0] = 30.0
    limiter.acquire()  # the call at t=0 leaves the window at t=60
    assert slept == [30.0]
    assert now[0] == 60.0


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
