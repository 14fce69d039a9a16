"""The event import under SIGKILL and under a concurrent import, as real processes.

`dronedeal import` runs as a subprocess against the database under test (SQLite or
PostgreSQL, as `DRONEDEAL_TEST_DB` says): killed with SIGKILL half-way through a
200k-row manifest it leaves the store exactly as before and `audit verify` passes;
two imports started together never ship more than an order holds, never draw a
license beyond its cap, never ship a serial twice, and the loser exits 1 with a
sentence naming the row.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from tests.dbdump import dump
from tests.packs import MINIMAL_PACK, write_pack

from dronedeal.services import keys
from dronedeal.services.importer import import_pack
from dronedeal.services.licenses import remaining
from dronedeal.store import events, log

DRONEDEAL = str(Path(sys.executable).with_name("dronedeal"))
SHIP_HEADER = "serial,product_id,lot_id,order_id,license_id,shipped_on\n"
BIG = 400_000
#: the minimal pack with an order and a license large enough for the big manifest
MASTER = {
    **MINIMAL_PACK,
    "orders.csv": MINIMAL_PACK["orders.csv"].replace(
        "ord-0001,ua-us-2025,drones-to-us,us-dod,ua-mfr-001,prd-0001,1000,",
        "ord-0001,ua-us-2025,drones-to-us,us-dod,ua-mfr-001,prd-0001,1000,")
    + f"ord-0003,ua-us-2025,drones-to-us,us-dod,ua-mfr-001,prd-0001,{BIG},4200.00,USD,"
      "2026-12-31\n",
    "licenses.csv": MINIMAL_PACK["licenses.csv"]
    + f"lic-0003,UA,ua-mfr-001,us-dod,prd-0001,{BIG},{BIG * 4200}.00,USD,2025-09-01,"
      "2026-12-31\n",
}


def cli(db_url: str, key: Path, *args: str) -> list[str]:
    return [DRONEDEAL, "--db", db_url, "--key", str(key), *args]


@pytest.fixture
def store(engine: Engine, db_url: str, tmp_path: Path) -> tuple[Engine, str, Path]:
    """The master data imported; (engine, url, signing key path)."""
    key = tmp_path / "signing.key"
    keys.create_key(key, "dronedeal.test/log")
    with Session(engine) as session, session.begin():
        import_pack(session, write_pack(tmp_path / "master", MASTER), keys.load_signer(key))
    return engine, db_url, key


def manifest(folder: Path, rows: int, *, start: int = 1, order: str = "ord-0003",
             license_id: str = "lic-0003", lot_size: int = 250) -> Path:
    folder.mkdir(parents=True)
    with (folder / "shipments.csv").open("w", encoding="utf-8") as out:
        out.write(SHIP_HEADER)
        out.writelines(
            f"VZ7-2025-{n:07d},prd-0001,{order}-L{(n - start) // lot_size:05d},{order},"
            f"{license_id},2025-10-{1 + (n - start) // 10_000 % 28:02d}\n"
            for n in range(start, start + rows))
    return folder


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processes_naming(text: str) -> list[int]:
    """Process ids whose command line names `text` (Linux `/proc`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if text.encode() in command:
            found.append(int(entry.name))
    return found


def test_sigkill_mid_import_leaves_the_store_as_before(
    store: tuple[Engine, str, Path], tmp_path: Path
) -> None:
    engine, url, key = store
    pack = manifest(tmp_path / "big", BIG)
    before = dump(engine)
    with Session(engine) as session:
        size = log.tree_size(session)
    process = subprocess.Popen(cli(url, key, "import", str(pack)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # into the batches, far from the end: the manifest reader has been forked (the
    # shipments are being read) and the import has worked a little more since. Its own
    # CPU says little about how far it is, as the reader and, on PostgreSQL, the server
    # do much of the work.
    deadline = time.monotonic() + 120
    while process.poll() is None and len(processes_naming(str(pack))) < 2:
        assert time.monotonic() < deadline, "the import never got going"
        time.sleep(0.02)
    reading = cpu_seconds(process.pid)
    while process.poll() is None and cpu_seconds(process.pid) < reading + 0.3:
        assert time.monotonic() < deadline, "the import never got going"
        time.sleep(0.02)
    assert process.poll() is None, "the import finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    # the manifest reader it forked ends too, by itself: nothing is left running
    deadline = time.monotonic() + 30
    while (left := processes_naming(str(pack))):
        assert time.monotonic() < deadline, f"still running after the kill: {left}"
        time.sleep(0.1)
    assert dump(engine) == before
    with Session(engine) as session:
        assert log.tree_size(session) == size
    verify = subprocess.run(cli(url, key, "audit", "verify"), capture_output=True, text=True,
                            timeout=300, check=False)
    assert verify.returncode == 0, verify.stderr
    # and the same pack then lands whole
    done = subprocess.run(cli(url, key, "import", str(pack)), capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(events.SHIPMENT)) == BIG


def test_concurrent_imports_never_overdraw_nor_ship_a_serial_twice(
    store: tuple[Engine, str, Path], tmp_path: Path
) -> None:
    engine, url, key = store
    # ord-0001 is for 1000 units: either pack fits, both do not
    first = manifest(tmp_path / "a", 600, order="ord-0001", license_id="lic-0001")
    second = manifest(tmp_path / "b", 600, start=601, order="ord-0001", license_id="lic-0001")
    # the same serials as the first pack in other lots: a serial ships once
    again = manifest(tmp_path / "c", 300, order="ord-0001", license_id="lic-0001",
                     lot_size=50)
    processes = [subprocess.Popen(cli(url, key, "import", str(pack)), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for pack in (first, second, again)]
    outcomes = []
    for process in processes:
        _out, err = process.communicate(timeout=300)
        outcomes.append((process.returncode, err))
    codes = [code for code, _ in outcomes]
    assert codes.count(0) >= 1, outcomes
    assert set(codes) <= {0, 1}, outcomes
    for code, stderr in outcomes:
        if code == 1:
            assert "shipments.csv:" in stderr
            assert ("order ord-0001 is for 1000 units" in stderr
                    or "was shipped before with other content" in stderr), stderr
    with Session(engine) as session:
        shipped = session.scalar(select(func.count()).select_from(events.SHIPMENT).where(
            events.SHIPMENT.c.order_id == "ord-0001"))
        serials = session.scalar(select(func.count(func.distinct(events.SHIPMENT.c.serial))))
        (lic,) = [r for r in remaining(session, product_id="prd-0001")
                  if r.license_id == "lic-0001"]
    assert shipped is not None
    assert shipped <= 1000
    assert serials == shipped
    assert lic.drawn_quantity == shipped
    landed = {pack.name for pack, (code, _) in zip((first, second, again), outcomes,
                                                    strict=True) if code == 0}
    assert shipped == sum({"a": 600, "b": 600, "c": 300}[name] for name in landed)
    assert not {"a", "c"} <= landed
    assert not {"a", "b"} <= landed
