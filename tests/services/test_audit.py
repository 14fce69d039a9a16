"""The stored log: appends in batches, proofs equal to the in-memory tree's, signed and
consistent checkpoints, tamper detection, concurrent appenders, and `dronedeal audit`."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from tests.verifying import verified
from typer.testing import CliRunner

from dronedeal.cli.audit import audit_app
from dronedeal.core import merkle, note
from dronedeal.core.canonical import canonical_json
from dronedeal.services import audit, keys
from dronedeal.store import log

#: batch sizes that cross tile boundaries (256 nodes) at several levels
BATCHES = (1, 2, 253, 1, 300, 700, 3, 1024, 17)


def leaf(i: int, kind: str = "shipment") -> tuple[str, str]:
    return kind, canonical_json({"kind": kind, "id": f"s-{i:05d}", "quantity": i % 7,
                                 "amount": f"{i}.50", "note": "Київ ✓"})


@pytest.fixture
def signer(tmp_path: Path) -> keys.Signer:
    return keys.create_key(tmp_path / "keys" / "signing.key", "dronedeal.test/log")


@pytest.fixture(autouse=True)
def log_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests append synthetic leaves with no ledger or event rows behind them: they
    test the log alone, without the derived kinds the store modules register
    process-wide (importing `dronedeal.store` has registered them already)."""
    monkeypatch.setattr(log, "_DERIVED", {})


def append(engine: Engine, leaves: Sequence[tuple[str, str]],
           signer: keys.Signer) -> audit.AppendResult:
    with Session(engine) as session, session.begin():
        return audit.append_leaves(session, leaves, signer)


@pytest.fixture
def filled(engine: Engine, signer: keys.Signer) -> tuple[merkle.MemoryTree, list[int]]:
    """The log filled in BATCHES; the in-memory tree of the same leaves; checkpoint sizes."""
    tree = merkle.MemoryTree()
    sizes = []
    count = 0
    for batch in BATCHES:
        leaves = [leaf(i) for i in range(count, count + batch)]
        result = append(engine, leaves, signer)
        tree.append(b"".join(merkle.leaf_hashes(t.encode() for _, t in leaves)))
        assert (result.first_index, result.tree_size) == (count, count + batch)
        assert result.root == tree.root()
        count += batch
        sizes.append(count)
    return tree, sizes


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def unb64(text_: str) -> bytes:
    return base64.b64decode(text_, validate=True)


# -- appending and proving ----------------------------------------------------------


def test_store_proofs_equal_the_in_memory_tree(
        engine: Engine, filled: tuple[merkle.MemoryTree, list[int]]) -> None:
    tree, sizes = filled
    total = sizes[-1]
    probes = [(0, 1), (0, total), (total - 1, total), (255, 256), (256, 257), (511, 1000),
              (1000, 1283), *((i * 97 % s, s) for i, s in enumerate(sizes * 3, 1))]
    with Session(engine) as session:
        for index, size in probes:
            proof = audit.inclusion_proof(session, index, size)
            assert list(proof) == ["leaf_index", "tree_size", "leaf", "leaf_hash", "root_hash",
                                   "path"]
            assert proof["leaf"] == leaf(index)[1]
            assert proof["path"] == [b64(h) for h in merkle.inclusion_proof(tree, index, size)]
            assert unb64(proof["root_hash"]) == tree.root(size)
            assert merkle.verify_inclusion(merkle.leaf_hash(proof["leaf"].encode()), index,
                                           size, [unb64(p) for p in proof["path"]],
                                           unb64(proof["root_hash"]))
        latest = audit.inclusion_proof(session, 5)
        assert latest["tree_size"] == total
        for size in (sizes[0], sizes[2], total):  # a sample: the same proofs, in a few reads
            picks = [i * 131 % size for i in range(40)] + [size - 1, 0, 0]
            assert audit.inclusion_proofs(session, picks, size) == [
                audit.inclusion_proof(session, index, size) for index in picks]
        assert audit.inclusion_proofs(session, [5]) == [latest]
        with pytest.raises(audit.OutOfRangeError, match=f"leaf {total} is not in"):
            audit.inclusion_proofs(session, [0, total], total)
        for old in (0, 1, 2, 3, 256, 257, *sizes):
            for new in (old, *(s for s in sizes if s > old)):
                proof = audit.consistency_proof(session, old, new)
                assert list(proof) == ["from_size", "to_size", "from_root", "to_root", "proof"]
                assert proof["proof"] == [b64(h) for h in
                                          merkle.consistency_proof(tree, old, new)]
                assert merkle.verify_consistency(old, new, unb64(proof["from_root"]),
                                                 unb64(proof["to_root"]),
                                                 [unb64(p) for p in proof["proof"]])


def test_each_batch_signs_one_consistent_checkpoint(
        engine: Engine, signer: keys.Signer,
        filled: tuple[merkle.MemoryTree, list[int]]) -> None:
    tree, sizes = filled
    key = note.parse_vkey(signer.vkey())
    with Session(engine) as session:
        assert log.checkpoint_count(session) == len(BATCHES)
        previous = None
        for size in sizes:
            signed = audit.checkpoint(session, size)
            checkpoint = note.open_checkpoint(signed, key, keys.ed25519_verify)
            assert checkpoint == note.Checkpoint("dronedeal.test/log", size, tree.root(size))
            if previous is not None:
                proof = audit.consistency_proof(session, previous.size, size)
                assert merkle.verify_consistency(previous.size, size, previous.root,
                                                 checkpoint.root,
                                                 [unb64(p) for p in proof["proof"]])
            previous = checkpoint
        assert audit.checkpoint(session) == audit.checkpoint(session, sizes[-1])
        report = audit.verify(session, signer.vkey())
        assert report.ok, report.problem
        assert (report.tree_size, report.checkpoints_checked, report.root) == \
            (sizes[-1], len(sizes), tree.root())
        assert audit.verify(session, signer.public_key).ok


def test_an_empty_batch_changes_nothing(engine: Engine, signer: keys.Signer) -> None:
    empty = append(engine, [], signer)
    assert (empty.first_index, empty.tree_size, empty.root, empty.checkpoint) == \
        (0, 0, merkle.EMPTY_ROOT, None)
    first = append(engine, [leaf(0), leaf(1)], signer)
    again = append(engine, [], signer)
    assert (again.tree_size, again.root, again.checkpoint) == (2, first.root, None)
    with Session(engine) as session:
        assert log.checkpoint_count(session) == 1


def test_requests_outside_the_log_are_refused(engine: Engine, signer: keys.Signer) -> None:
    with Session(engine) as session:
        with pytest.raises(audit.NoCheckpointError):
            audit.checkpoint(session)
        with pytest.raises(audit.NoCheckpointError):
            audit.inclusion_proof(session, 0)
        assert list(audit.entries(session)) == []
    append(engine, [leaf(i) for i in range(10)], signer)
    with Session(engine) as session:
        for index, size in ((10, None), (-1, None), (5, 5), (0, 11), (0, 0)):
            with pytest.raises(audit.OutOfRangeError):
                audit.inclusion_proof(session, index, size)
        with pytest.raises(audit.OutOfRangeError):
            audit.consistency_proof(session, 6, 5)
        with pytest.raises(audit.OutOfRangeError):
            audit.consistency_proof(session, 5, 11)
        with pytest.raises(audit.NoCheckpointError):
            audit.checkpoint(session, 5)
        with pytest.raises(audit.OutOfRangeError):
            audit.entries(session, 3, 11)
        assert audit.inclusion_proof(session, 4, 7)["tree_size"] == 7  # unsigned size: ok
    with pytest.raises(ValueError, match="kind"):
        append(engine, [("k" * 33, "{}")], signer)


def test_entries_stream_the_leaves(engine: Engine, signer: keys.Signer) -> None:
    leaves = [leaf(i, "transfer" if i % 3 else "shipment") for i in range(5000)]
    append(engine, leaves, signer)
    with Session(engine) as session:
        got = list(audit.entries(session))
        assert got == [{"index": i, "leaf": t} for i, (_, t) in enumerate(leaves)]
        assert list(audit.entries(session, 4095, 4098)) == got[4095:4098]
        assert list(audit.entries(session, 7, 7)) == []


def test_a_rolled_back_append_leaves_no_trace(engine: Engine, signer: keys.Signer) -> None:
    append(engine, [leaf(i) for i in range(300)], signer)
    with Session(engine) as session:
        session.begin()
        audit.append_leaves(session, [leaf(i, "ghost") for i in range(300, 700)], signer)
        assert audit.inclusion_proof(session, 299)["tree_size"] == 700
        session.rollback()
    real = [leaf(i, "real") for i in range(300, 700)]
    append(engine, real, signer)
    tree = merkle.MemoryTree(merkle.leaf_hashes(
        t.encode() for _, t in [*(leaf(i) for i in range(300)), *real]))
    with Session(engine) as session:
        for index in (0, 299, 300, 511, 699):
            proof = audit.inclusion_proof(session, index)
            assert proof["path"] == [b64(h) for h in merkle.inclusion_proof(tree, index, 700)]
        assert audit.verify(session, signer.vkey()).ok


def test_concurrent_appenders_queue(db_url: str, engine: Engine, signer: keys.Signer) -> None:
    from dronedeal.store.db import make_engine

    results: list[audit.AppendResult] = []
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        own = make_engine(db_url)
        try:
            for batch in range(6):
                leaves = [leaf(1000 * number + 10 * batch + i, f"w{number}") for i in range(37)]
                results.append(append(own, leaves, signer))
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            own.dispose()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    spans = sorted((r.first_index, r.tree_size) for r in results)
    assert spans == [(37 * i, 37 * (i + 1)) for i in range(18)]
    with Session(engine) as session:
        report = audit.verify(session, signer.vkey())
        assert report.ok, report.problem
        assert report.checkpoints_checked == 18


# -- tampering ----------------------------------------------------------------------


def tamper(engine: Engine, sql: str, **params: Any) -> None:
    with engine.begin() as connection:
        assert connection.execute(text(sql), params).rowcount == 1


def verify_report(engine: Engine, signer: keys.Signer) -> audit.VerifyReport:
    return verified(engine, signer.vkey())


def test_a_changed_leaf_text_is_named(engine: Engine, signer: keys.Signer,
                                      filled: tuple[merkle.MemoryTree, list[int]]) -> None:
    tamper(engine, "UPDATE log_leaf SET leaf = :leaf WHERE idx = 777",
           leaf=leaf(777)[1].replace("7.50", "9.50"))
    report = verify_report(engine, signer)
    assert not report.ok
    assert report.first_bad_leaf == 777
    assert "leaf 777" in (report.problem or "")


def test_a_changed_leaf_is_named_by_its_level_zero_tile(
        engine: Engine, signer: keys.Signer, filled: tuple[merkle.MemoryTree, list[int]]) -> None:
    forged = leaf(300)[1].replace("0.50", "1.50")
    tamper(engine, "UPDATE log_leaf SET leaf = :leaf WHERE idx = 300", leaf=forged)
    report = verify_report(engine, signer)
    assert report.first_bad_leaf == 300
    assert "tile" in (report.problem or "") or "leaf 300" in (report.problem or "")


def test_a_rewritten_tree_is_caught_by_the_signatures(
        engine: Engine, signer: keys.Signer, filled: tuple[merkle.MemoryTree, list[int]]) -> None:
    """Rewriting a leaf with its hash and every tile leaves only the signed roots."""
    tree, sizes = filled
    forged = leaf(1500)[1].replace("0.50", "1.50")
    hashes = [tree.node(0, i) for i in range(sizes[-1])]
    hashes[1500] = merkle.leaf_hash(forged.encode())
    forged_tree = merkle.MemoryTree(hashes)
    with engine.begin() as connection:
        connection.execute(text("UPDATE log_leaf SET leaf = :leaf WHERE idx = 1500"),
                           {"leaf": forged})
        connection.execute(text("DELETE FROM merkle_tile"))
        rows = []
        for level in range(sizes[-1].bit_length()):
            nodes = b"".join(forged_tree.node(level, i) for i in range(sizes[-1] >> level))
            rows += [{"level": level, "tile": t // log.TILE_BYTES,
                      "hashes": nodes[t : t + log.TILE_BYTES]}
                     for t in range(0, len(nodes), log.TILE_BYTES)]
        connection.execute(text("INSERT INTO merkle_tile (level, tile_index, hashes) "
                                "VALUES (:level, :tile, :hashes)"), rows)
    report = verify_report(engine, signer)
    first_after = next(s for s in sizes if s > 1500)
    assert report.bad_checkpoint == first_after
    assert report.first_bad_leaf is None


def test_a_changed_node_is_named(engine: Engine, signer: keys.Signer,
                                 filled: tuple[merkle.MemoryTree, list[int]]) -> None:
    tamper(engine, "UPDATE merkle_tile SET hashes = :hashes WHERE level = 3 AND tile_index = 0",
           hashes=bytes(32) * 256)
    report = verify_report(engine, signer)
    assert report.bad_node == (3, 0)
    assert report.first_bad_leaf is None


def test_a_changed_checkpoint_is_named(engine: Engine, signer: keys.Signer,
                                       filled: tuple[merkle.MemoryTree, list[int]]) -> None:
    _, sizes = filled
    with Session(engine) as session:
        signed = audit.checkpoint(session, sizes[3])
    body, _, signature = signed.partition("\n\n")
    tamper(engine, "UPDATE checkpoint SET note = :note WHERE tree_size = :size",
           note=body.replace(str(sizes[3]), str(sizes[3] + 1)) + "\n\n" + signature,
           size=sizes[3])
    report = verify_report(engine, signer)
    assert report.bad_checkpoint == sizes[3]
    assert report.first_bad_leaf is None


def test_a_deleted_leaf_is_named(engine: Engine, signer: keys.Signer,
                                 filled: tuple[merkle.MemoryTree, list[int]]) -> None:
    _, sizes = filled
    tamper(engine, "DELETE FROM log_leaf WHERE idx = 42")
    assert verify_report(engine, signer).first_bad_leaf == 42
    tamper(engine, "UPDATE log_leaf SET idx = 42 WHERE idx = :last", last=sizes[-1] - 1)
    report = verify_report(engine, signer)
    assert report.first_bad_leaf == 42  # leaf 42 now holds another leaf's text


def test_a_truncated_log_is_named(engine: Engine, signer: keys.Signer,
                                  filled: tuple[merkle.MemoryTree, list[int]]) -> None:
    _, sizes = filled
    tamper(engine, "DELETE FROM log_leaf WHERE idx = :last", last=sizes[-1] - 1)
    report = verify_report(engine, signer)
    assert report.first_bad_leaf == sizes[-1] - 1


def test_another_key_fails_every_checkpoint(
        engine: Engine, tmp_path: Path, filled: tuple[merkle.MemoryTree, list[int]]) -> None:
    _, sizes = filled
    stranger = keys.create_key(tmp_path / "other.key", "dronedeal.test/log")
    report = verified(engine, stranger.vkey())
    assert report.bad_checkpoint == sizes[0]
    assert "no signature" in (report.problem or "")


# -- keys ---------------------------------------------------------------------------


def test_keys_are_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k" / "signing.key"
    created = keys.create_key(path, "dronedeal.test/log")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    loaded = keys.load_signer(path)
    assert loaded.vkey() == created.vkey()
    assert loaded.vkey().startswith("dronedeal.test/log+")
    assert note.parse_vkey(loaded.vkey()).public_key == loaded.public_key
    assert keys.ed25519_verify(loaded.public_key, b"m", loaded.sign(b"m"))
    assert not keys.ed25519_verify(loaded.public_key, b"n", loaded.sign(b"m"))
    with pytest.raises(FileExistsError):
        keys.create_key(path, "dronedeal.test/log")
    with pytest.raises(ValueError, match="no spaces"):
        keys.create_key(tmp_path / "x.key", "bad name")
    with pytest.raises(FileNotFoundError, match="dronedeal init"):
        keys.load_signer(tmp_path / "missing.key")


def test_key_defaults_follow_the_environment(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.delenv("DRONEDEAL_KEY", raising=False)
    monkeypatch.delenv("DRONEDEAL_LOG_ORIGIN", raising=False)
    assert keys.key_path() == Path(".dronedeal/signing.key")
    assert keys.default_origin() == "dronedeal.local/log"
    monkeypatch.setenv("DRONEDEAL_KEY", str(tmp_path / "env.key"))
    monkeypatch.setenv("DRONEDEAL_LOG_ORIGIN", "audit.example.org/drones")
    assert keys.key_path() == tmp_path / "env.key"
    assert keys.key_path(tmp_path / "flag.key") == tmp_path / "flag.key"
    assert keys.create_key().name == "audit.example.org/drones"
    assert (tmp_path / "env.key").exists()


# -- the command line ---------------------------------------------------------------


def cli(db_url: str, key: Path) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def options(ctx: typer.Context) -> None:
        ctx.obj = {"db": db_url, "key": key}

    app.add_typer(audit_app, name="audit")
    return app


def test_the_audit_commands(db_url: str, engine: Engine, tmp_path: Path,
                            signer: keys.Signer,
                            filled: tuple[merkle.MemoryTree, list[int]]) -> None:
    tree, sizes = filled
    app = cli(db_url, tmp_path / "keys" / "signing.key")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, ["audit", *args])
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    vkey = run("pubkey").stdout.strip()
    assert vkey == signer.vkey()
    signed = run("checkpoint").stdout
    key = note.parse_vkey(vkey)
    assert note.open_checkpoint(signed, key, keys.ed25519_verify).size == sizes[-1]
    with Session(engine) as session:
        assert run("checkpoint", "--size", str(sizes[2])).stdout == \
            audit.checkpoint(session, sizes[2])
    proof = json.loads(run("prove", "--leaf", "41").stdout)
    assert proof["leaf_index"] == 41
    assert proof["tree_size"] == sizes[-1]
    assert merkle.verify_inclusion(merkle.leaf_hash(proof["leaf"].encode()), 41, sizes[-1],
                                   [unb64(p) for p in proof["path"]], tree.root())
    several = [json.loads(line) for line in run(
        "prove", "--leaf", "41", "--leaf", "7", "--size", str(sizes[2])).stdout.splitlines()]
    assert [(p["leaf_index"], p["tree_size"]) for p in several] == [(41, sizes[2]), (7, sizes[2])]
    sample = [json.loads(line) for line in run("prove", "--sample", "25").stdout.splitlines()]
    assert len({p["leaf_index"] for p in sample}) == 25
    for drawn in sample:
        assert merkle.verify_inclusion(merkle.leaf_hash(drawn["leaf"].encode()),
                                       drawn["leaf_index"], sizes[-1],
                                       [unb64(p) for p in drawn["path"]], tree.root())
    assert "--leaf N" in run("prove", code=2).stderr
    assert "more leaves" in run("prove", "--sample", str(sizes[-1] + 1), code=2).stderr
    proof = json.loads(run("consistency", "--from", str(sizes[1]), "--to",
                           str(sizes[-1])).stdout)
    assert proof["from_root"] == b64(tree.root(sizes[1]))
    lines = run("entries", "--from", "2", "--to", "5").stdout.splitlines()
    assert [json.loads(line) for line in lines] == \
        [{"index": i, "leaf": leaf(i)[1]} for i in range(2, 5)]
    assert "ok: " in run("verify").stdout
    assert "ok: " in run("verify", "--vkey", vkey).stdout
    assert f"leaf {sizes[-1]} is not in the tree" in \
        run("prove", "--leaf", str(sizes[-1]), code=2).stderr
    run("checkpoint", "--size", "5", code=2)
    run("consistency", "--from", "9", "--to", "3", code=2)
    run("verify", "--vkey", "not-a-key", code=2)
    tamper(engine, "UPDATE log_leaf SET leaf = :leaf WHERE idx = 37", leaf="{}")
    failed = run("verify", code=1)
    assert "first bad leaf: 37" in failed.stderr


def test_the_commands_explain_a_missing_log_or_key(tmp_path: Path) -> None:
    runner = CliRunner()
    app = cli(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "none.key")
    result = runner.invoke(app, ["audit", "checkpoint"])
    assert result.exit_code == 2
    assert "dronedeal init" in result.stderr
    result = runner.invoke(app, ["audit", "pubkey"])
    assert result.exit_code == 2
    assert "dronedeal init" in result.stderr
    assert not os.path.exists(tmp_path / "none.key")


def test_derived_leaves_keep_no_text_and_read_back_rendered(
        engine: Engine, signer: keys.Signer) -> None:
    """A kind registered as derived is stored without its text, whatever runs of it a
    batch holds, and every reader gets the text back from its renderer."""
    rows: dict[int, str] = {}  # the derived kind's "table": leaf index -> its text

    def render(_session: Session, first: int, last: int) -> dict[int, str]:
        return {index: text for index, text in rows.items() if first <= index <= last}

    log.register_derived_kind("row", render, table="row_table")
    batch = [leaf(0, "party"), leaf(1, "row"), leaf(2, "row"), leaf(3, "party"),
             leaf(4, "row"), leaf(5, "other"), leaf(6, "row")]
    rows.update((index, text) for index, (kind, text) in enumerate(batch) if kind == "row")
    append(engine, batch, signer)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT idx, kind, leaf IS NULL, last_idx "
                                         "FROM log_leaf ORDER BY idx")).all()
    # a run of derived leaves is one row, however long
    assert [tuple(row) for row in stored] == [
        (0, "party", False, None), (1, "row", True, 2), (3, "party", False, None),
        (4, "row", True, 4), (5, "other", False, None), (6, "row", True, 6)]
    with Session(engine) as session:
        assert [entry["leaf"] for entry in audit.entries(session)] == [t for _, t in batch]
        assert audit.inclusion_proof(session, 4)["leaf"] == batch[4][1]
        assert audit.verify(session, signer.vkey()).ok
    del rows[2]
    report = verify_report(engine, signer)
    assert (report.first_bad_leaf, report.problem) == (2, "leaf 2 (row): no row_table row "
                                                          "holds it")
