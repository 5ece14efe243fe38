"""What the demo fleet's errors say, and when its functions deploy: so `opsview errors`, the new-error-type
alert and the deploy markers have something true to show without a cloud.

Every error a demo sample counts gets a message: each function draws from its runtime's everyday failures
(connection refused, a KeyError on varying keys, throttled AWS calls, ...), and the troubled ones from their
own (payments-webhook's KeyErrors during its spikes, report-generator's timeouts and out-of-memory kills,
search-indexer's deadlines and memory limit, ...). The counts of a minute's signatures add up to the
sample's `errors`, so a view's "errors" and its "top errors" agree.

A few functions deploy on a schedule; each payments-webhook and search-indexer release brings a failure of
its own (a new error type an hour after the deploy, gone with the next release). Like the samples, all of it
is a pure function of (seed, function, minute, occurrence).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from opsview.error_records import ErrorObservation, EventDetail, EventKind, FunctionEvent
from opsview.schema import FunctionKey, Sample, from_epoch

_MASK = (1 << 64) - 1
_EXACT_LIMIT = 40  # errors of one minute drawn one by one; above, shared out in proportion

Render = Callable[[int], str]
"""A message from a 64-bit draw (which varies ids, keys, addresses per occurrence)."""


def _mix(value: int) -> int:
    """splitmix64's finaliser: the demo's counter-based hash (as `demo._hash`, one value at a time)."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def _draw(*parts: int) -> int:
    out = 0
    for part in parts:
        out = _mix(out ^ (part & _MASK))
    return out


def _uuid(x: int) -> str:
    h = f"{_mix(x):016x}{_mix(x + 1):016x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _pick(x: int, options: Sequence[str]) -> str:
    return options[x % len(options)]


@dataclass(frozen=True, slots=True)
class Failure:
    error_type: str | None
    render: Render
    weight: float


_KEYS = ("charge_id", "customer", "amount_captured", "currency", "metadata", "payment_intent", "livemode")
_FIELDS = ("total", "items", "customerId", "shippingAddress", "currency")

_RUNTIME_FAILURES: dict[str, tuple[Failure, ...]] = {
    "python3.12": (
        Failure("ConnectionRefusedError", lambda x: "[Errno 111] Connection refused", 3),
        Failure("KeyError", lambda x: f"'{_pick(x, _KEYS)}'", 2),
        Failure("botocore.exceptions.ClientError", lambda x: (
            "An error occurred (ThrottlingException) when calling the PutItem operation "
            f"(reached max retries: {x % 3 + 2}): Rate exceeded"), 1),
    ),
    "nodejs20.x": (
        Failure("Error", lambda x: f"connect ECONNREFUSED 10.0.{x % 8}.{x % 200 + 10}:6379", 3),
        Failure("TypeError", lambda x: f"Cannot read properties of undefined (reading '{_pick(x, _FIELDS)}')", 2),
    ),
    "go1.x": (
        Failure(None, lambda x: f"dial tcp 10.0.{x % 8}.{x % 200 + 10}:5432: connect: connection refused", 3),
        Failure("panic", lambda x: "runtime error: invalid memory address or nil pointer dereference", 1),
    ),
    "provided.al2023": (
        Failure("Runtime.ExitError", lambda x: f"RequestId: {_uuid(x)} Error: Runtime exited with error: exit status 2",
                3),
        Failure("Runtime.ExitError", lambda x: (
            f"RequestId: {_uuid(x)} Error: Runtime exited with error: signal: segmentation fault"), 1),
    ),
    "java21": (
        Failure("java.net.SocketTimeoutException", lambda x: f"Read timed out after {x % 4000 + 1000} ms", 3),
        Failure("java.lang.IllegalStateException", lambda x: f"Connection pool exhausted (max {x % 3 * 10 + 20})", 1),
    ),
    "dotnet8": (
        Failure("System.TimeoutException", lambda x: "The operation has timed out.", 2),
        Failure("Microsoft.Data.SqlClient.SqlException", lambda x: (
            "A network-related or instance-specific error occurred while establishing a connection to SQL Server. "
            f"(provider: TCP Provider, error: {x % 2 + 35} - An internal exception was caught)"), 2),
    ),
}

# name -> failures of its own, and when they take over: "always", or "spike" (payments-webhook's 30 of 90 min)
_TROUBLE: dict[str, tuple[str, tuple[Failure, ...]]] = {
    "payments-webhook": ("spike", (
        Failure("KeyError", lambda x: f"'{_pick(x, _KEYS)}'", 6),
        Failure("stripe.error.APIConnectionError", lambda x: (
            "Unexpected error communicating with Stripe. If this problem persists, let us know at "
            f"support@stripe.com. (Request req_{_mix(x):x})"), 2),
    )),
    "report-generator": ("always", (
        Failure(None, lambda x: f"Task timed out after {30 + (x % 7) / 100:.2f} seconds", 9),
        Failure("Runtime.OutOfMemory", lambda x: (
            f"RequestId: {_uuid(x)} Error: Runtime exited with error: signal: killed"), 1),
    )),
    "search-indexer": ("always", (
        Failure("google.api_core.exceptions.DeadlineExceeded", lambda x: "504 Deadline Exceeded", 3),
        Failure(None, lambda x: (
            f"Memory limit of 1024 MiB exceeded with {1025 + x % 90} MiB used. Consider increasing the memory "
            "limit, see https://cloud.google.com/run/docs/configuring/memory-limits"), 1),
    )),
    "orders-func/ProcessOrder": ("always", (
        Failure("System.InvalidOperationException", lambda x: (
            "Timeout expired. The timeout period elapsed prior to obtaining a connection from the pool. This may "
            "have occurred because all pooled connections were in use and max pool size was reached."), 2),
        Failure("Microsoft.Azure.ServiceBus.ServerBusyException", lambda x: (
            "The request was terminated because the entity is being throttled. Error code : 50009. "
            f"TrackingId:{_uuid(x)}_G{x % 30}, SystemTracker:orders-bus:Queue:orders"), 1),
    )),
}

_HANDLERS = ("handle_refund", "capture_charge", "apply_coupon", "sync_invoice", "record_payout", "verify_signature",
             "update_customer", "settle_dispute", "price_in_currency", "send_receipt")
_ARGS = ("reason", "currency", "idempotency_key", "amount", "customer")


def _payments_release(number: int) -> Failure | None:
    """Four releases in five bring a bug of their own: a different handler each time, so a new signature."""
    if number % 5 == 4:
        return None
    handler = _HANDLERS[number // 2 % len(_HANDLERS)]
    if number % 2:
        return Failure("TypeError", lambda x: (
            f"{handler}() missing 1 required positional argument: '{_pick(x, _ARGS)}'"), 1)
    return Failure("TypeError", lambda x: f"{handler}() got an unexpected keyword argument '{_pick(x, _ARGS)}'", 1)


def _indexer_release(number: int) -> Failure | None:
    if number % 2:
        return None
    index = ("products", "categories", "reviews", "suggestions")[number // 2 % 4]
    return Failure("elasticsearch.exceptions.NotFoundError", lambda x: (
        f"NotFoundError(404, 'index_not_found_exception', 'no such index [{index}_v{number % 9 + 2}]')"), 1)


# name -> (minutes between deploys, the failure release N brings, if any)
_RELEASES: dict[str, tuple[int, Callable[[int], Failure | None]]] = {
    "payments-webhook": (120, _payments_release),
    "checkout-api": (360, lambda number: None),
    "search-indexer": (150, _indexer_release),
    "orders-func/ProcessOrder": (480, lambda number: None),
}
_REGRESSION_SHARE = 0.3  # of a minute's errors after a release that brought a failure


def _release(name: str, seed: int, index: int, minute: int) -> tuple[int, int, Failure | None] | None:
    """(release number, its first minute, the failure it brought) live at `minute`, for functions that deploy."""
    plan = _RELEASES.get(name)
    if plan is None:
        return None
    period, brings = plan
    offset = _draw(seed, index, 0xDE9) % period
    number = (minute - offset) // period
    return number, number * period + offset, brings(number)


def deploys(key: FunctionKey, index: int, seed: int, start_min: int, end_min: int) -> list[FunctionEvent]:
    """The deploys of one demo function in minutes [start_min, end_min)."""
    first = _release(key.name, seed, index, start_min)
    if first is None:
        return []
    out = []
    period = _RELEASES[key.name][0]
    number, at, _ = first
    if at < start_min:
        number, at = number + 1, at + period
    while at < end_min:
        second = _draw(seed, index, number, 7) % 50 + 5
        out.append(FunctionEvent(key, from_epoch(at * 60 + second), EventKind.DEPLOY, _detail(key, number, seed)))
        number, at = number + 1, at + period
    return out


def _detail(key: FunctionKey, number: int, seed: int) -> EventDetail:
    version = number % 900 + 100
    if key.provider == "aws":
        sha = base64.b64encode(_draw(seed, number).to_bytes(8, "big") * 4).decode()
        return EventDetail(version=str(version), code_sha=sha)
    if key.provider == "gcp":
        suffix = f"{_draw(seed, number, 3):x}"[:3]
        return EventDetail(revision=f"{key.name}-{version:05d}-{suffix}", reason="DEPLOYMENT_ROLLOUT")
    return EventDetail(version=f"1.{version // 100}.{version % 100}")


def _failures(
    key: FunctionKey, runtime: str, minute: int, seed: int, index: int, busy: bool
) -> list[tuple[Failure, float]]:
    """The failures (and weights) a minute's errors are drawn from. A quiet function fails one way (with a
    handful of errors an hour, a second way would first show hours in: "new" without anything changing)."""
    everyday = _RUNTIME_FAILURES.get(runtime, _RUNTIME_FAILURES["python3.12"])
    base = [(f, f.weight) for f in (everyday if busy else everyday[:1])]
    trouble = _TROUBLE.get(key.name)
    if trouble is not None:
        when, own = trouble
        if when == "always":
            base = [(f, f.weight) for f in own]
        elif minute % 90 < 30:
            base = [(f, f.weight * 10) for f in own] + base
    release = _release(key.name, seed, index, minute)
    if release is not None and release[2] is not None:
        total = sum(w for _, w in base)
        base.append((release[2], total * _REGRESSION_SHARE / (1 - _REGRESSION_SHARE)))
    return base


def observations(
    samples: Iterable[Sample], runtime: str, index: int, seed: int, errors_per_min: float
) -> list[ErrorObservation]:
    """One function's error observations for its samples: each minute's `errors` shared out over signatures.
    `errors_per_min` is the function's everyday error rate (a busy function fails in more ways)."""
    busy = errors_per_min >= 0.2
    out: list[ErrorObservation] = []
    for sample in samples:
        errors = sample.errors or 0
        if errors <= 0:
            continue
        minute = int(sample.start.timestamp()) // 60
        failures = _failures(sample.key, runtime, minute, seed, index, busy)
        weights = [w for _, w in failures]
        total = sum(weights)
        counts = [0] * len(failures)
        latest = [0] * len(failures)  # the draw of each failure's latest occurrence: its sample
        if errors <= _EXACT_LIMIT:
            for i in range(errors):
                x = _draw(seed, index, minute, i)
                point = (x >> 11) * (1.0 / (1 << 53)) * total
                j = 0
                while j < len(weights) - 1 and point >= weights[j]:
                    point -= weights[j]
                    j += 1
                counts[j] += 1
                latest[j] = x
        else:  # a busy minute: shares in proportion, the remainder to the heaviest
            for j, weight in enumerate(weights):
                counts[j] = int(errors * weight / total)
                latest[j] = _draw(seed, index, minute, j)
            counts[weights.index(max(weights))] += errors - sum(counts)
        for j, n in enumerate(counts):
            if not n:
                continue
            failure, x = failures[j][0], latest[j]
            message = failure.render(x)
            kind = failure.error_type
            out.append(ErrorObservation.of(
                sample.key, sample.start + timedelta(seconds=x % 60), kind, message, count=n,
                sample=f"{kind}: {message}" if kind else message, sample_id=_uuid(x ^ 0x5EED),
            ))
    return out
