"""Benchmark the REST API (SPEC §11: `GET` position, load from a second process,
≥ 1,000 req/s with p99 ≤ 50 ms, on 1M units).

    uv run python bench/api.py [--scale large] [--seconds 20] [--connections 16]
                               [--workers 1 2]
    uv run python bench/api.py --db sqlite:///dronedeal.db --key .dronedeal/signing.key

Without `--db` it builds the demo of `--scale` in a temporary folder (large: 1.2M
serials; the import takes a minute or two). It makes an auditor token, then for each
`--workers` count starts `dronedeal serve --workers N` as its own process, asks for the
position once (the uncached figure: every import grows the log, and a grown log
recomputes it), warms every worker, and loads the same URL from a second process with
`wrk` (Debian's package) for `--seconds`.

The floor, measured in the same run with the same worker count, connections and
seconds, is uvicorn serving a bare ASGI app that answers a body of the position's size
without any work (`floor_app` below): what the HTTP server alone manages on this
machine right now. Prints JSON lines: `api.floor` and `api.position` per worker count.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchkit import emit

AGREEMENT = "ua-us-2025"
AS_OF = "2026-09-30"
HERE = Path(__file__).resolve().parent
#: a warm answer is faster than this; a worker still computing the report is not
WARM_S = 0.25


def dronedeal(db: str, key: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", "from dronedeal.cli.main import main; main()",
            "--db", db, "--key", str(key), *args]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str, token: str | None = None) -> tuple[float, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        body: bytes = response.read()
    return time.perf_counter() - start, body


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


def warm(url: str, token: str, workers: int) -> None:
    """Ask concurrently until a whole round answers fast: each new connection goes to
    whichever worker accepts it, so every worker gets to compute and cache the report."""
    width, fast = 4 * workers, 0
    with ThreadPoolExecutor(width) as pool:
        for _ in range(50):
            times = [s for s, _ in pool.map(lambda _: get(url, token), range(width))]
            fast = fast + 1 if max(times) < WARM_S else 0
            if fast == 3:  # three rounds in a row: no worker left out by chance
                return
    raise RuntimeError(f"{url} never answered within {WARM_S} s on every worker")


def milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def load(wrk: str, url: str, token: str | None, args: argparse.Namespace) -> dict[str, Any]:
    """`wrk` on `url`: requests per second, p50 and p99 in ms, answers that were not 2xx."""
    auth = ["-H", f"Authorization: Bearer {token}"] if token else []
    out = subprocess.run([wrk, "-t1", f"-c{args.connections}", f"-d{args.seconds}s",
                          "--latency", *auth, url],
                         check=True, capture_output=True, text=True).stdout
    try:
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        p99 = milliseconds(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
        p50 = milliseconds(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    except (AttributeError, KeyError):
        raise RuntimeError(f"cannot read wrk's output:\n{out}") from None
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_s": round(rate), "p50_ms": round(p50, 2), "p99_ms": round(p99, 2),
            "non_2xx": int(errors.group(1)) if errors else 0}


@contextmanager
def running(command: list[str], up_url: str, env: dict[str, str] | None = None
            ) -> Iterator[None]:
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=env)
    try:
        wait_until_up(up_url)
        yield
    finally:
        server.terminate()
        server.wait(timeout=30)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_FLOOR_BODY = b"0" * int(os.environ.get("DRONEDEAL_BENCH_FLOOR_BYTES", "0") or 0)


async def floor_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The floor: an ASGI app that answers every request with a fixed body, doing
    nothing else (uvicorn imports it from this file)."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(_FLOOR_BODY)).encode())]})
    await send({"type": "http.response.body", "body": _FLOOR_BODY})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", help="a database that already holds the demo")
    parser.add_argument("--key", type=Path, help="its signing key (with --db)")
    parser.add_argument("--scale", choices=("small", "large"), default="large")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="worker counts of `dronedeal serve` to measure, each in turn")
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
        for workers in args.workers:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            url = f"{base}/api/v1/agreements/{AGREEMENT}/position?as_of={AS_OF}"
            serve = dronedeal(db, key, "serve", "--port", str(port), "--workers", str(workers))
            with running(serve, f"{base}/openapi.json"):
                first, body = get(url, token)
                again, _ = get(url, token)
                warm(url, token, workers)
                figures = load(wrk, url, token, args)
            floor_env = {**os.environ, "DRONEDEAL_BENCH_FLOOR_BYTES": str(len(body))}
            floor_port = free_port()
            floor_url = f"http://127.0.0.1:{floor_port}/"
            with running([sys.executable, "-m", "uvicorn", "--app-dir", str(HERE),
                          "--port", str(floor_port), "--workers", str(workers),
                          "--no-access-log", "--log-level", "warning", "api:floor_app"],
                         floor_url, env=floor_env):
                floor = load(wrk, floor_url, None, args)
            emit(bench="api.floor", workers=workers, seconds=args.seconds,
                 connections=args.connections, body_bytes=len(body), **floor)
            emit(bench="api.position", db=db.split(":", 1)[0], workers=workers,
                 seconds=args.seconds, connections=args.connections,
                 first_request_ms=round(first * 1000, 1),
                 cached_request_ms=round(again * 1000, 1), **figures,
                 share_of_floor=round(figures["requests_per_s"]
                                      / max(floor["requests_per_s"], 1), 2),
                 target_requests_per_s=1000, target_p99_ms=50)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
