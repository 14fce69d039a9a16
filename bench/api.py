"""Benchmark the REST API (SPEC §11: `GET` position, load from a second process,
≥ 1,000 req/s with p99 ≤ 50 ms, on 1M units).

    uv run python bench/api.py [--scale large] [--seconds 20] [--connections 16]
    uv run python bench/api.py --db sqlite:///dronedeal.db --key .dronedeal/signing.key

Without `--db` it builds the demo of `--scale` in a temporary folder (large: 1.2M
serials; the import takes a minute or two). It makes an auditor token, starts
`dronedeal serve` as its own process, asks for the position once (the uncached figure:
every import grows the log, and a grown log recomputes it), then loads the same URL
from a second process with `wrk` (Debian's package) for `--seconds`. Prints JSON lines.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchkit import emit

AGREEMENT = "ua-us-2025"
AS_OF = "2026-09-30"


def dronedeal(db: str, key: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", "from dronedeal.cli.main import main; main()",
            "--db", db, "--key", str(key), *args]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str, token: str) -> float:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
    return time.perf_counter() - start


def wait_until_up(url: str, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", help="a database that already holds the demo")
    parser.add_argument("--key", type=Path, help="its signing key (with --db)")
    parser.add_argument("--scale", choices=("small", "large"), default="large")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print("bench/api.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        db, key = args.db, args.key or work / "signing.key"
        if db is None:
            db = f"sqlite:///{work / 'api.db'}"
            start = time.perf_counter()
            subprocess.run(dronedeal(db, key, "demo", "--scale", args.scale, "--out",
                                     str(work / "pack"), "--format", "json"),
                           check=True, stdout=subprocess.DEVNULL)
            emit(bench="api.setup", scale=args.scale, demo_seconds=round(
                time.perf_counter() - start, 1))
        made = subprocess.run(dronedeal(db, key, "users", "add", "--name",
                                        f"bench-{time.time_ns()}", "--role", "auditor"),
                              check=True, capture_output=True, text=True)
        token = made.stdout.strip().splitlines()[-1]
        port = free_port()
        server = subprocess.Popen(dronedeal(db, key, "serve", "--port", str(port)),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/openapi.json")
            url = f"{base}/api/v1/agreements/{AGREEMENT}/position?as_of={AS_OF}"
            first = get(url, token)
            again = get(url, token)
            result = subprocess.run(
                [wrk, "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
                 "-H", f"Authorization: Bearer {token}", url],
                check=True, capture_output=True, text=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    out = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = milliseconds(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p50 = milliseconds(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    emit(bench="api.position", db=db.split(":", 1)[0], seconds=args.seconds,
         connections=args.connections, first_request_ms=round(first * 1000, 1),
         cached_request_ms=round(again * 1000, 1), requests_per_s=round(rate),
         p50_ms=round(p50, 2), p99_ms=round(p99, 2),
         non_2xx=int(errors.group(1)) if errors else 0,
         target_requests_per_s=1000, target_p99_ms=50)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
