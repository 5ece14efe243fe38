"""Error-signature extraction speed and memory on a Lambda log of N lines; prints one JSON object.

The log is what a Lambda function writes to CloudWatch Logs: START / an INFO line / END / REPORT per
invocation, and for 20 % of invocations an error as the runtimes print it - Python's `[ERROR] Type: message`,
Node's `ERROR Invoke Error {"errorType": ..., "errorMessage": ...}`, `Task timed out after N seconds`,
`Runtime exited with error: signal: killed` - with request ids, user ids, addresses and durations that vary
per occurrence (a KeyError on ~100k distinct keys, so the normalisation cache fills and stays at its bound).

ours:  a substring test picks the few lines that can be errors; those go through `opsview.signatures`
       (`split_error` for the type, `signature` with its bounded LRU cache of normalised messages).
ours_without_cache: the same, each message normalised afresh: what the cache is worth.
naive: a regular expression searched on every line, and every error message normalised afresh (the same
       rules, no cache), as a per-line script would.

Both count occurrences per signature; the bench checks that they agree. Each run is its own process so its
peak RSS is its own: ours runs on N/5 and N lines to show that memory does not grow with the log. The line
scanning around the rule is the bench's own (the AWS reader's error extraction is issue 17 part 2); the rule
and its cache are the product's.

Default: 1,000,000 lines, 3 rounds of (ours, naive). Times on a shared machine are indicative only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_KEYS = ("user", "cart", "order", "sku")


def generate_log(path: Path, lines: int) -> int:
    """Write about `lines` lines; returns how many error lines it wrote."""
    errors = 0
    with path.open("w") as out:
        i = written = 0
        while written < lines:
            rid = f"{(i * 2654435761) % 2**32:08x}-ee49-4{i % 4096:03x}-a5b6-{i * 7919 % 2**48:012x}"
            ts = f"2024-05-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"
            out.write(f"START RequestId: {rid} Version: $LATEST\n"
                      f"{ts}\t{rid}\tINFO\tprocessed order {i} in {i % 90} ms\n")
            written += 2
            kind = (i * 40503) % 100
            if kind < 20:
                errors += 1
                written += 1
                if kind < 10:  # a KeyError on one of ~100k keys: the cache fills and stays at its bound
                    key = f"{_KEYS[i % 4]}_{(i * 48271) % 100_003}"
                    out.write(f"{ts}\t{rid}\tERROR\t[ERROR] KeyError: '{key}'\n")
                elif kind < 14:
                    out.write(f'{ts}\t{rid}\tERROR\tInvoke Error \t{{"errorType":"Error","errorMessage":"connect '
                              f'ECONNREFUSED 10.0.{i % 8}.{i % 250}:6379","stack":["Error: connect ECONNREFUSED",'
                              f'"    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)"]}}\n')
                elif kind < 17:
                    out.write(f"{ts} {rid} Task timed out after 30.0{i % 3} seconds\n")
                elif kind < 19:
                    out.write(f"{ts}\t{rid}\tERROR\t[ERROR] ConnectionRefusedError: [Errno 111] Connection refused\n")
                else:
                    out.write(f"RequestId: {rid} Error: Runtime exited with error: signal: killed\n")
            out.write(f"END RequestId: {rid}\n"
                      f"REPORT RequestId: {rid}\tDuration: {10 + (i * 7919) % 900}.{i % 100:02d} ms\t"
                      f"Billed Duration: {11 + (i * 7919) % 900} ms\tMemory Size: 512 MB\tMax Memory Used: "
                      f"{60 + i % 40} MB\n")
            written += 2
            i += 1
    return errors


# --- ours: substring prefilter, then the product's rule with its cache -------------------------------------


def _run_ours(path: str, *, cached: bool = True) -> dict[str, Any]:
    from opsview import signatures

    if not cached:
        signatures._normalize = signatures._normalize.__wrapped__  # type: ignore[assignment]
    signature, split_error = signatures.signature, signatures.split_error
    began, cpu = time.perf_counter(), time.process_time()
    counts: Counter[str] = Counter()
    lines = 0
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            lines += 1
            if "ERROR" not in line and "Task timed out" not in line and "Runtime exited" not in line:
                continue
            kind, message = _extract(line, split_error)
            counts[signature(kind, message)] += 1
    return {"lines": lines, "seconds": time.perf_counter() - began, "cpu_seconds": time.process_time() - cpu,
            "signatures": dict(counts),
            "cache_entries": signatures._normalize.cache_info().currsize if cached else 0}


def _extract(line: str, split_error: Any) -> tuple[str | None, str]:
    """(type, message) of one error line, as a reader would take it apart."""
    parts = line.rstrip("\n").split("\t", 4)
    if len(parts) >= 4 and parts[2] == "ERROR":
        body = parts[3] if len(parts) == 4 else parts[4]
        if body.startswith("{"):
            record = json.loads(body)
            return record.get("errorType"), record.get("errorMessage", "")
        return split_error(body.removeprefix("[ERROR] "))  # type: ignore[no-any-return]
    if "Task timed out" in line:
        return None, line.split(" ", 2)[2].strip()
    return "Runtime.ExitError", line.split(" Error: ", 1)[1].strip()


# --- naive: a regex on every line, every message normalised afresh -----------------------------------------

_NAIVE = re.compile(
    r"\tERROR\t(?:\[ERROR\] (?P<ptype>[\w.]+): (?P<pmsg>.*)|Invoke Error \t(?P<json>\{.*\}))$"
    r"|^\S+ \S+ (?P<timeout>Task timed out after .*)$"
    r"|^RequestId: \S+ Error: (?P<exit>Runtime exited with error: .*)$"
)


def _run_naive(path: str) -> dict[str, Any]:
    from opsview import signatures

    normalize = signatures._normalize.__wrapped__  # the same rules without the cache
    began, cpu = time.perf_counter(), time.process_time()
    counts: Counter[str] = Counter()
    lines = 0
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            lines += 1
            match = _NAIVE.search(line.rstrip("\n"))
            if match is None:
                continue
            if match["ptype"]:
                kind, message = match["ptype"], match["pmsg"]
            elif match["json"]:
                record = json.loads(match["json"])
                kind, message = record["errorType"], record["errorMessage"]
            elif match["timeout"]:
                kind, message = None, match["timeout"]
            else:
                kind, message = "Runtime.ExitError", match["exit"]
            text = normalize(message[:1024])
            if kind and text.startswith(kind + ":"):
                text = text[len(kind) + 1:].lstrip()
            counts[f"{kind}: {text}" if kind and text else kind or text] += 1
    return {"lines": lines, "seconds": time.perf_counter() - began, "cpu_seconds": time.process_time() - cpu,
            "signatures": dict(counts)}


def _child(kind: str, path: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", kind, path], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def bench(lines: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp) / "small.log", Path(tmp) / "big.log"
        generate_log(small, lines // 5)
        error_lines = generate_log(big, lines)
        ours_small = _child("ours", str(small))
        rounds = [(_child("ours", str(big)), _child("naive", str(big))) for _ in range(repeat)]
        uncached = [_child("uncached", str(big)) for _ in range(repeat)]
        size_mb = big.stat().st_size / 1e6
    assert all(u["signatures"] == rounds[0][0]["signatures"] for u in uncached)
    for ours, naive in rounds:
        assert ours["signatures"] == naive["signatures"], "ours and the naive script disagree"
        assert sum(ours["signatures"].values()) == error_lines
    ours_runs, naive_runs = [r[0] for r in rounds], [r[1] for r in rounds]
    ours, naive = _median(ours_runs), _median(naive_runs)
    top = sorted(ours["signatures"].items(), key=lambda item: -item[1])
    return {
        "lines": ours["lines"],
        "file_mb": round(size_mb, 1),
        "error_lines": error_lines,
        "signatures": len(top),
        "top_signatures": dict(top[:5]),
        "runs": repeat,
        "ours": {
            "lines_per_s": round(ours["lines"] / ours["seconds"]), "seconds": round(ours["seconds"], 2),
            "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in ours_runs), 2),
            "error_lines_per_s": round(error_lines / ours["seconds"]),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in ours_runs),
            "peak_rss_mb_at_one_fifth_size": ours_small["peak_rss_mb"],
            "cache_entries": ours["cache_entries"],
            "cache_entries_at_one_fifth_size": ours_small["cache_entries"],
        },
        "ours_without_cache": {
            "seconds": round(_median(uncached)["seconds"], 2),
            "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in uncached), 2),
        },
        "naive_regex_no_cache": {
            "lines_per_s": round(naive["lines"] / naive["seconds"]), "seconds": round(naive["seconds"], 2),
            "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in naive_runs), 2),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in naive_runs),
        },
        "speed_ratio": round(statistics.median(n["seconds"] / o["seconds"] for o, n in rounds), 2),
        "speed_ratio_per_run": [round(n["seconds"] / o["seconds"], 2) for o, n in rounds],
        "cpu_ratio": round(statistics.median(n["cpu_seconds"] / o["cpu_seconds"] for o, n in rounds), 2),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the generated log")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of (ours, naive); medians are reported")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path = args.child
        data = _run_naive(path) if kind == "naive" else _run_ours(path, cached=kind == "ours")
        data["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(data))
        return
    print(json.dumps(bench(args.lines, max(1, args.repeat)), indent=2))


if __name__ == "__main__":
    main()
