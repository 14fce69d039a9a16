"""C2SP signed notes and tlog checkpoints, with the cryptography passed in.

A checkpoint body is `<origin>\\n<tree size>\\n<base64 root hash>\\n` (C2SP
tlog-checkpoint). A signed note is the body, a blank line, then signature lines
`— <name> <base64(key hash ‖ signature)>\\n` (C2SP signed-note); the signature covers the
body, i.e. the text up to and including the newline before the blank line. An Ed25519
key (algorithm 0x01) is named by `<name>+<8 hex key hash>+<base64(0x01 ‖ public key)>`,
the key hash being the first 4 bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key).

Invariants: names are non-empty and hold neither whitespace nor "+"; note text is
UTF-8 without control characters other than newline; base64 is standard, padded and
canonical (one encoding per value); sizes are decimal without leading zeros. A note
opens only if a signature by the given key verifies and none by that key fails.
Signing takes a callable (or the finished signature) and verifying a callable, so this
module needs no crypto library.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import Protocol

ALG_ED25519 = 0x01
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
KEY_HASH_SIZE = 4
SIGNATURE_PREFIX = "— "
#: a note with more signature lines is refused unread, as the Go reference does
MAX_SIGNATURES = 100
ROOT_HASH_SIZE = 32

#: verify(public_key, message, signature) -> whether the Ed25519 signature is valid
VerifyFn = Callable[[bytes, bytes, bytes], bool]


class NoteError(ValueError):
    """A note, checkpoint or key that is malformed or does not verify."""


class NoteSigner(Protocol):
    """A named Ed25519 key that can sign note text."""

    @property
    def name(self) -> str: ...

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


def is_valid_name(name: str) -> bool:
    """A key name: non-empty, no whitespace, no "+" (C2SP signed-note)."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name) \
        and _is_note_text(name)


def _is_note_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(c) < 0x20 and c != "\n" for c in text)


def _b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise NoteError(f"{what} is not valid base64: {error}") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def key_hash(name: str, public_key: bytes) -> bytes:
    """First 4 bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key)."""
    if not is_valid_name(name):
        raise NoteError(f"{name!r} is not a valid key name (no spaces, no '+')")
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise NoteError("an Ed25519 public key is 32 bytes")
    digest = sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return digest[:KEY_HASH_SIZE]


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A named Ed25519 public key; `str()` gives its vkey text."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        key_hash(self.name, self.public_key)  # validates name and key size

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.public_key)

    def __str__(self) -> str:
        return vkey(self.name, self.public_key)


def vkey(name: str, public_key: bytes) -> str:
    """`<name>+<8 hex key hash>+<base64(0x01 ‖ public key)>`."""
    return f"{name}+{key_hash(name, public_key).hex()}+" \
        f"{_b64(bytes([ALG_ED25519]) + public_key)}"


def parse_vkey(text: str) -> VerifierKey:
    """The key named by vkey `text`; its key hash must match."""
    name, _, rest = text.strip().partition("+")
    hash_hex, _, key_b64 = rest.partition("+")
    if not is_valid_name(name) or len(hash_hex) != 2 * KEY_HASH_SIZE or not key_b64:
        raise NoteError(f"{text!r} is not a verifier key <name>+<hash>+<key>")
    try:
        claimed = bytes.fromhex(hash_hex)
    except ValueError:
        raise NoteError(f"key hash {hash_hex!r} is not hexadecimal") from None
    raw = _b64decode(key_b64, "verifier key")
    if len(raw) != 1 + PUBLIC_KEY_SIZE or raw[0] != ALG_ED25519:
        raise NoteError("only Ed25519 verifier keys (algorithm 0x01, 32 bytes) are known")
    key = VerifierKey(name, raw[1:])
    if key.key_hash != claimed:
        raise NoteError(f"key hash {hash_hex} does not match name {name!r} and the key")
    return key


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tlog checkpoint: the log's origin, a tree size and its root hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or not _is_note_text(self.origin) or "\n" in self.origin:
            raise NoteError(f"origin {self.origin!r} is not one line of text")
        if not 0 <= self.size < 1 << 64:
            raise NoteError(f"tree size {self.size} is out of range")
        if len(self.root) != ROOT_HASH_SIZE:
            raise NoteError("a root hash is 32 bytes")
        for line in self.extensions:
            if not line or "\n" in line or not _is_note_text(line):
                raise NoteError(f"checkpoint extension line {line!r} is not one line of text")

    def body(self) -> str:
        """The note text: origin, size, base64 root, extension lines, each ending in \\n."""
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(body: str) -> Checkpoint:
    """The checkpoint in a note's text (as returned by `open_note`)."""
    if not body.endswith("\n"):
        raise NoteError("a checkpoint ends with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has an origin, a tree size and a root hash line")
    origin, size_text, root_text, *extensions = lines
    if not size_text.isascii() or not size_text.isdigit() or \
            (size_text.startswith("0") and size_text != "0"):
        raise NoteError(f"tree size {size_text!r} is not a decimal without leading zeros")
    return Checkpoint(origin, int(size_text), _b64decode(root_text, "root hash"),
                      tuple(extensions))


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: the key's name, its 4-byte key hash and the signature."""

    name: str
    key_hash: bytes
    signature: bytes

    def line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {_b64(self.key_hash + self.signature)}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A signed note split into its text and signature lines (nothing verified yet)."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __str__(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def sign_note(text: str, signer: NoteSigner | None = None, *, name: str | None = None,
              public_key: bytes | None = None,
              signature: bytes | Callable[[bytes], bytes] | None = None) -> str:
    """`text` signed as a C2SP note: with a `signer`, or with `name`, `public_key` and
    the signature (bytes made elsewhere, or a callable that signs the UTF-8 text)."""
    if signer is not None:
        name, public_key, signature = signer.name, signer.public_key, signer.sign
    if name is None or public_key is None or signature is None:
        raise TypeError("sign_note needs a signer, or name, public_key and signature")
    if not text.endswith("\n") or not _is_note_text(text):
        raise NoteError("note text is UTF-8 without control characters and ends in \\n")
    message = text.encode()
    raw = signature(message) if callable(signature) else signature
    if len(raw) != SIGNATURE_SIZE:
        raise NoteError("an Ed25519 signature is 64 bytes")
    return str(Note(text, (NoteSignature(name, key_hash(name, public_key), raw),)))


def parse_note(note: str) -> Note:
    """Split a signed note into text and signature lines, checking only the syntax."""
    if not _is_note_text(note):
        raise NoteError("a note is UTF-8 text without control characters but newlines")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("a note's text and signatures are separated by a blank line")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("a note ends with signature lines, each ending in \\n")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a note carries at most {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"signature line {line!r} does not start with an em dash")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not is_valid_name(name) or not encoded:
            raise NoteError(f"signature line {line!r} is not '— <name> <signature>'")
        raw = _b64decode(encoded, f"signature of {name}")
        if len(raw) <= KEY_HASH_SIZE:
            raise NoteError(f"signature of {name} is too short")
        signatures.append(NoteSignature(name, raw[:KEY_HASH_SIZE], raw[KEY_HASH_SIZE:]))
    return Note(text, tuple(signatures))


def open_note(note: str, key: VerifierKey, verify: VerifyFn) -> str:
    """The text of `note` if it carries a valid signature by `key`; else NoteError.

    Signatures by other keys are ignored, as C2SP asks; a signature line that names
    `key` (name and key hash) but does not verify refuses the whole note.
    """
    parsed = parse_note(note)
    message = parsed.text.encode()
    expected = key.key_hash
    verified = False
    for sig in parsed.signatures:
        if sig.name != key.name or sig.key_hash != expected:
            continue
        if len(sig.signature) != SIGNATURE_SIZE or \
                not verify(key.public_key, message, sig.signature):
            raise NoteError(f"the signature by {key.name}+{expected.hex()} does not verify")
        verified = True
    if not verified:
        raise NoteError(f"the note carries no signature by {key.name}+{expected.hex()}")
    return parsed.text


def open_checkpoint(note: str, key: VerifierKey, verify: VerifyFn) -> Checkpoint:
    """The checkpoint in `note`, verified against `key`."""
    return parse_checkpoint(open_note(note, key, verify))
