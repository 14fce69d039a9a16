// The log's checks, run in the browser with its own SHA-256 and Ed25519 (SubtleCrypto):
// RFC 6962 leaf and node hashes, RFC 9162 inclusion (§2.1.3.2) and consistency
// (§2.1.4.2) proof verification, and C2SP signed-note checkpoints verified with the
// `vkey` shown on the page. Nothing here trusts what the server says about a result.
"use strict";

const DronedealLog = (() => {
  const LEAF = Uint8Array.of(0), NODE = Uint8Array.of(1);
  const ED25519 = 1;  // the signed-note algorithm byte of an Ed25519 key
  const utf8 = new TextEncoder();

  const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
  const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const hex = (bytes) => [...bytes].map((x) => x.toString(16).padStart(2, "0")).join("");

  // (sizes go past 2^32, where JavaScript's bitwise operators stop)
  function isPowerOfTwo(n) {
    while (n > 1 && n % 2 === 0) n /= 2;
    return n === 1;
  }

  async function sha256(...parts) {
    const size = parts.reduce((n, p) => n + p.length, 0);
    const joined = new Uint8Array(size);
    let at = 0;
    for (const p of parts) { joined.set(p, at); at += p.length; }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
  }

  // RFC 9162 §2.1.3.2: the root an inclusion path leads to, or null when it is malformed.
  async function rootFromPath(leafBytes, index, size, path) {
    let r = await sha256(LEAF, leafBytes);
    const leafHash = r;
    let fn = index, sn = size - 1;
    if (!(0 <= fn && fn <= sn)) return null;
    for (const p of path) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(NODE, p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await sha256(NODE, r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 ? { root: r, leafHash } : null;
  }

  // RFC 9162 §2.1.4.2: whether `path` proves that the tree of `first` leaves with root
  // `firstHash` is a prefix of the tree of `second` leaves with root `secondHash`.
  async function verifyConsistency(first, second, firstHash, secondHash, path) {
    if (!(Number.isSafeInteger(first) && Number.isSafeInteger(second))) return false;
    if (first < 1 || first > second) return false;
    if (first === second) return path.length === 0 && equal(firstHash, secondHash);
    if (path.length === 0) return false;
    const nodes = isPowerOfTwo(first) ? [firstHash, ...path] : [...path];
    let fn = first - 1, sn = second - 1;
    while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    let fr = nodes[0], sr = nodes[0];
    for (const c of nodes.slice(1)) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = await sha256(NODE, c, fr);
        sr = await sha256(NODE, c, sr);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        sr = await sha256(NODE, sr, c);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(fr, firstHash) && equal(sr, secondHash);
  }

  // A checkpoint note: origin, tree size and root (base64), the signed text and its
  // signature lines; null when it is not shaped like one.
  function parseNote(text) {
    const cut = text.indexOf("\n\n");
    if (cut < 0) return null;
    const body = text.slice(0, cut + 1);
    const lines = body.split("\n");
    if (lines.length < 4 || !/^[0-9]+$/.test(lines[1])) return null;
    const signatures = text.slice(cut + 2).split("\n").filter((l) => l !== "").map((line) => {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      return m ? { name: m[1], blob: m[2] } : null;
    });
    return { origin: lines[0], size: Number(lines[1]), root: lines[2], body, signatures };
  }

  // A C2SP verifier key `<name>+<8 hex key hash>+<base64 of 0x01 ‖ Ed25519 key>`.
  async function parseVkey(text) {
    // (the base64 key may itself hold "+")
    const parts = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)$/.exec(text.trim());
    if (parts === null) return null;
    const [, name, hash, key] = parts;
    const raw = unb64(key);
    if (raw.length !== 33 || raw[0] !== ED25519) return null;
    const id = (await sha256(utf8.encode(name + "\n"), raw)).slice(0, 4);
    return hex(id) === hash ? { name, id, key: raw.slice(1) } : null;
  }

  // Whether the note carries a valid signature by the verifier key `vkeyText`.
  async function verifyNote(noteText, vkeyText) {
    try {
      const note = parseNote(noteText);
      const vkey = await parseVkey(vkeyText);
      if (note === null || vkey === null) return false;
      const key = await crypto.subtle.importKey("raw", vkey.key, { name: "Ed25519" }, false,
                                                ["verify"]);
      for (const s of note.signatures) {
        if (s === null || s.name !== vkey.name) continue;
        const blob = unb64(s.blob);
        if (blob.length !== 68 || !equal(blob.slice(0, 4), vkey.id)) continue;
        if (await crypto.subtle.verify({ name: "Ed25519" }, key, blob.slice(4),
                                       utf8.encode(note.body))) return true;
      }
      return false;
    } catch (error) {
      return false;  // malformed base64, a key the browser refuses: not verified
    }
  }

  return { b64, unb64, equal, sha256, rootFromPath, verifyConsistency, parseNote, verifyNote };
})();
