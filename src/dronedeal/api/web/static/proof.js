// Inclusion proof viewer: fetch the proof of a leaf and verify it here (merkle.js:
// RFC 6962 hashes, RFC 9162 §2.1.3.2) against the root hash of the signed checkpoint
// shown on the page. Trust nothing the server says about the result.
"use strict";

document.getElementById("prove").addEventListener("submit", async (event) => {
  event.preventDefault();
  const log = DronedealLog;
  const form = event.currentTarget;
  const verdict = document.getElementById("verdict");
  const out = document.getElementById("proof");
  verdict.textContent = "…";
  verdict.className = "";
  delete verdict.dataset.verified;
  const leaf = Number(new FormData(form).get("leaf"));
  const response = await fetch(`/audit/proof?leaf=${leaf}`, { credentials: "same-origin" });
  const proof = await response.json();
  out.textContent = JSON.stringify(proof, null, 2);
  if (!response.ok) { verdict.textContent = proof.detail; verdict.className = "bad"; return; }
  let ok = false;
  try {
    const got = await log.rootFromPath(new TextEncoder().encode(proof.leaf), proof.leaf_index,
                                       proof.tree_size, proof.path.map(log.unb64));
    const shown = document.getElementById("checkpoint");
    const cp = shown ? log.parseNote(shown.textContent) : null;
    ok = got !== null && log.b64(got.leafHash) === proof.leaf_hash
      && log.b64(got.root) === proof.root_hash
      && (cp === null || cp.size !== proof.tree_size || cp.root === proof.root_hash);
  } catch (error) {
    ok = false;  // a malformed proof
  }
  verdict.textContent = ok ? form.dataset.ok : form.dataset.bad;
  verdict.className = ok ? "ok" : "bad";
  verdict.dataset.verified = ok ? "true" : "false";
});
