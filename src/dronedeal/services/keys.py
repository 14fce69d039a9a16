"""The checkpoint signing key: an Ed25519 key pair on disk and the note name beside it.

The private key is a PEM PKCS#8 file readable by its owner only (mode 0600); beside it
`<key file>.json` holds the note name (the checkpoint origin) and, for people, the vkey.
A key is never overwritten: `create_key` refuses an existing file, since every
checkpoint ever published names it. The path is `--key`, else env `DRONEDEAL_KEY`, else
`./.dronedeal/signing.key`; the name is env `DRONEDEAL_LOG_ORIGIN`, else
`dronedeal.local/log`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dronedeal.core import note

DEFAULT_KEY_PATH = Path(".dronedeal") / "signing.key"
DEFAULT_ORIGIN = "dronedeal.local/log"


def default_key_path() -> Path:
    """env `DRONEDEAL_KEY`, else `./.dronedeal/signing.key`."""
    return Path(os.environ.get("DRONEDEAL_KEY") or DEFAULT_KEY_PATH)


def key_path(explicit: str | Path | None = None) -> Path:
    """`explicit` (the `--key` option) if given, else the default path."""
    return Path(explicit) if explicit else default_key_path()


def default_origin() -> str:
    """The note name and checkpoint origin: env `DRONEDEAL_LOG_ORIGIN`, else
    `dronedeal.local/log`."""
    return os.environ.get("DRONEDEAL_LOG_ORIGIN") or DEFAULT_ORIGIN


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


@dataclass(frozen=True)
class Signer:
    """A named Ed25519 signing key (a `core.note.NoteSigner`)."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def verifier(self) -> note.VerifierKey:
        return note.VerifierKey(self.name, self.public_key)

    def vkey(self) -> str:
        """The C2SP verifier key text an auditor needs: `<name>+<hash>+<key>`."""
        return str(self.verifier())


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is an Ed25519 signature of `message` by `public_key`."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _write_new(path: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def create_key(path: str | Path | None = None, name: str | None = None) -> Signer:
    """Make a new key pair at `path` for note name `name`; refuse to overwrite."""
    path = key_path(path)
    name = name or default_origin()
    if not note.is_valid_name(name):
        raise ValueError(f"{name!r} cannot name a signing key: use no spaces and no '+'")
    for existing in (path, _sidecar(path)):
        if existing.exists():
            raise FileExistsError(f"{existing} exists; a signing key is never overwritten")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    signer = Signer(name, Ed25519PrivateKey.generate())
    pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    _write_new(path, pem, 0o600)
    meta = {"name": name, "vkey": signer.vkey()}
    _write_new(_sidecar(path), (json.dumps(meta, indent=2) + "\n").encode(), 0o644)
    return signer


def load_signer(path: str | Path | None = None) -> Signer:
    """The key pair at `path` with its note name."""
    path = key_path(path)
    if not path.exists():
        raise FileNotFoundError(f"no signing key at {path}: run `dronedeal init` first")
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    try:
        meta = json.loads(_sidecar(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{_sidecar(path)} is missing: it names the key (the checkpoint origin)") from None
    signer = Signer(str(meta["name"]), private)
    if meta.get("vkey") not in (None, signer.vkey()):
        raise ValueError(f"{_sidecar(path)} describes another key than {path}")
    return signer
