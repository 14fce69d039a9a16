"""C2SP signed notes and checkpoints, against the Go reference's published vector."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dronedeal.core import note

# golang.org/x/mod/sumdb/note: the documented example key and note
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_NOTE = GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1F" \
    "FYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")


class GoSigner:
    """The Go example's key, through `cryptography`."""

    def __init__(self) -> None:
        seed = base64.b64decode(GO_SKEY.split("+", 4)[4])
        assert seed[0] == note.ALG_ED25519
        self.private = Ed25519PrivateKey.from_private_bytes(seed[1:])
        self.name = "PeterNeumann"
        self.public_key = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def test_signing_reproduces_the_go_reference_note() -> None:
    signer = GoSigner()
    assert note.vkey(signer.name, signer.public_key) == GO_VKEY
    assert note.key_hash(signer.name, signer.public_key).hex() == "c74f20a3"
    assert note.sign_note(GO_TEXT, signer) == GO_NOTE
    signature = signer.sign(GO_TEXT.encode())
    assert note.sign_note(GO_TEXT, name=signer.name, public_key=signer.public_key,
                          signature=signature) == GO_NOTE


def test_the_go_reference_note_opens() -> None:
    key = note.parse_vkey(GO_VKEY)
    assert key.name == "PeterNeumann"
    assert str(key) == GO_VKEY
    assert note.open_note(GO_NOTE, key, ed25519_verify) == GO_TEXT
    line = GO_NOTE.splitlines()[-1]
    assert line.startswith("\u2014 PeterNeumann ")
    raw = base64.b64decode(line.split(" ")[2])
    assert raw[:4] == key.key_hash
    assert len(raw) == 4 + 64
    Ed25519PublicKey.from_public_bytes(key.public_key).verify(raw[4:], GO_TEXT.encode())


def test_checkpoint_text_format() -> None:
    body = note.Checkpoint("dronedeal.test/log", 8, ROOT).body()
    assert body == "dronedeal.test/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    signed = note.sign_note(body, GoSigner())
    assert signed.startswith(body + "\n\u2014 PeterNeumann ")
    assert signed.endswith("\n")
    checkpoint = note.open_checkpoint(signed, note.parse_vkey(GO_VKEY), ed25519_verify)
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == \
        ("dronedeal.test/log", 8, ROOT)
    assert note.parse_checkpoint("o\n0\n" + base64.b64encode(ROOT).decode() + "\next\n") \
        .extensions == ("ext",)


@pytest.mark.parametrize("body", [
    "o\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",  # leading zero
    "o\n-8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",  # sign
    "o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=\n",  # non-canonical base64
    "o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg\n",  # no padding
    "o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQw==\n",  # 31 bytes
    "o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",  # no final newline
    "o\n8\n",  # no root
    "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",  # no origin
    "o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n",  # empty extension line
])
def test_malformed_checkpoints_are_refused(body: str) -> None:
    with pytest.raises(note.NoteError):
        note.parse_checkpoint(body)


def _other_signer() -> tuple[note.VerifierKey, Ed25519PrivateKey]:
    private = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    return note.VerifierKey("EnochRoot", public), private


@pytest.mark.parametrize("tamper", [
    lambda n: n.replace("cryptography", "cryptographY"),  # the text
    lambda n: n.replace("x08go/", "x08go+"),  # the signature
    lambda n: n.replace("PeterNeumann", "PeterNeumanm"),  # the key name
    lambda n: n.replace("x08go/ZJ", "x08gp/ZJ"),  # the key hash
    lambda n: n.replace("problem is.\n\n", "problem is.\n"),  # no blank line
    lambda n: n.replace("problem,\n", "problem,\r\n"),  # a control character
    lambda n: n.rstrip("\n"),  # no final newline
    lambda n: n.replace("\u2014 ", "- "),  # not an em dash
])
def test_tampered_notes_fail(tamper: object) -> None:
    assert callable(tamper)
    tampered = tamper(GO_NOTE)
    assert tampered != GO_NOTE
    with pytest.raises(note.NoteError):
        note.open_note(tampered, note.parse_vkey(GO_VKEY), ed25519_verify)


def test_signatures_by_other_keys_are_ignored_but_a_bad_one_by_ours_refuses() -> None:
    key = note.parse_vkey(GO_VKEY)
    other, other_private = _other_signer()
    cosigned = GO_NOTE + note.NoteSignature(
        other.name, other.key_hash, other_private.sign(GO_TEXT.encode())).line()
    assert note.open_note(cosigned, key, ed25519_verify) == GO_TEXT
    assert note.open_note(cosigned, other, ed25519_verify) == GO_TEXT
    only_other = GO_TEXT + "\n" + cosigned.splitlines(keepends=True)[-1]
    with pytest.raises(note.NoteError, match="no signature by PeterNeumann"):
        note.open_note(only_other, key, ed25519_verify)
    forged = GO_NOTE + note.NoteSignature(key.name, key.key_hash, bytes(64)).line()
    with pytest.raises(note.NoteError, match="does not verify"):
        note.open_note(forged, key, ed25519_verify)
    crowded = GO_NOTE + only_other.split("\n\n")[1] * note.MAX_SIGNATURES
    with pytest.raises(note.NoteError, match="at most"):
        note.parse_note(crowded)


@pytest.mark.parametrize("vkey", [
    GO_VKEY.replace("c74f20a3", "c74f20a4"),  # hash does not match
    GO_VKEY.replace("kmqq", "kmqr"),  # another key, same claimed hash
    GO_VKEY.replace("+ARpc", "+Apc"),  # key not base64 of 33 bytes
    GO_VKEY.replace("+ARpc", "+AhWc"),  # algorithm 0x02
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space
    "PeterNeumann+c74f20a3",
    "",
])
def test_bad_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(note.NoteError):
        note.parse_vkey(vkey)


def test_key_names_are_checked() -> None:
    assert note.is_valid_name("dronedeal.local/log")
    for bad in ("", "a b", "a+b", "a\tb", "a\u00a0b"):
        assert not note.is_valid_name(bad)
    with pytest.raises(note.NoteError):
        note.sign_note("text\n", name="a b", public_key=bytes(32), signature=bytes(64))
    with pytest.raises(note.NoteError):
        note.sign_note("no newline", GoSigner())
