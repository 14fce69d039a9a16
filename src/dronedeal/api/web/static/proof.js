// Inclusion proof viewer: fetch the proof of a leaf and verify it here, with the
// browser's own SHA-256 (RFC 6962 / RFC 9162 §2.1.3.2), against the root hash of the
// signed checkpoint shown on the page. Trust nothing the server says about the result.
"use strict";

const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

async function sha256(...parts) {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const joined = new Uint8Array(size);
  let at = 0;
  for (const p of parts) { joined.set(p, at); at += p.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
}

const LEAF = Uint8Array.of(0), NODE = Uint8Array.of(1);

async function rootFromPath(leafBytes, index, size, path) {
  let r = await sha256(LEAF, leafBytes);
  const leafHash = r;
  let fn = index, sn = size - 1;
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

function checkpointRoot() {
  const note = document.getElementById("checkpoint");
  if (!note) return null;
  const lines = note.textContent.split("\n");
  return { size: Number(lines[1]), root: lines[2] };
}

document.getElementById("prove").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const verdict = document.getElementById("verdict");
  const out = document.getElementById("proof");
  verdict.textContent = "…";
  verdict.className = "";
  const leaf = Number(new FormData(form).get("leaf"));
  const response = await fetch(`/audit/proof?leaf=${leaf}`, { credentials: "same-origin" });
  const proof = await response.json();
  out.textContent = JSON.stringify(proof, null, 2);
  if (!response.ok) { verdict.textContent = proof.detail; verdict.className = "bad"; return; }
  const leafBytes = new TextEncoder().encode(proof.leaf);
  const got = await rootFromPath(leafBytes, proof.leaf_index, proof.tree_size,
                                 proof.path.map(unb64));
  const cp = checkpointRoot();
  const ok = got !== null && b64(got.leafHash) === proof.leaf_hash
    && b64(got.root) === proof.root_hash
    && (cp === null || cp.size !== proof.tree_size || cp.root === proof.root_hash);
  verdict.textContent = ok ? form.dataset.ok : form.dataset.bad;
  verdict.className = ok ? "ok" : "bad";
  verdict.dataset.verified = ok ? "true" : "false";
});
