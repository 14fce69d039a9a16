// The log only grows: verify here that the signed checkpoint shown on the page is
// signed by the key shown, and that an earlier tree (size m) is a prefix of it — the
// consistency proof from the app's API checked with RFC 9162 §2.1.4.2 (merkle.js)
// against the roots of the two checkpoints (the earlier one's signature checked too).
"use strict";

(() => {
  const log = DronedealLog;
  const latestText = document.getElementById("checkpoint").textContent;
  const vkeyNode = document.getElementById("vkey");
  const vkey = vkeyNode ? vkeyNode.textContent : "";
  const form = document.getElementById("consistency");

  function show(node, ok, text) {
    node.textContent = text;
    node.className = ok ? "ok" : "bad";
    node.dataset.verified = ok ? "true" : "false";
  }

  async function checkSignature() {
    const node = document.getElementById("signature-verdict");
    const ok = vkey !== "" && await log.verifyNote(latestText, vkey);
    show(node, ok, ok ? node.dataset.ok : node.dataset.bad);
  }

  async function prove(event) {
    event.preventDefault();
    const verdict = document.getElementById("consistency-verdict");
    const earlierOut = document.getElementById("earlier-checkpoint");
    const proofOut = document.getElementById("consistency-proof");
    verdict.textContent = "…";
    verdict.className = "";
    delete verdict.dataset.verified;
    earlierOut.textContent = "";
    proofOut.textContent = "";
    const latest = log.parseNote(latestText);
    const first = Number(new FormData(form).get("from"));
    const fail = (why) => show(verdict, false, `${form.dataset.bad} ${why}`);
    try {
      const response = await fetch(
        `/api/v1/audit/proofs/consistency?from=${first}&to=${latest.size}`);
      const proof = await response.json();
      proofOut.textContent = JSON.stringify(proof, null, 2);
      if (!response.ok) { fail(proof.detail || ""); return; }
      // the earlier root: its signed checkpoint's when one was signed at that size
      const earlier = await fetch(`/api/v1/audit/checkpoint?size=${first}`);
      let firstRoot = proof.from_root, signed = false;
      if (earlier.ok) {
        const text = await earlier.text();
        earlierOut.textContent = text;
        const note = log.parseNote(text);
        if (note === null || note.size !== first || !(await log.verifyNote(text, vkey))) {
          fail(form.dataset.badEarlier);
          return;
        }
        firstRoot = note.root;
        signed = true;
      }
      const ok = proof.from_size === first && proof.to_size === latest.size
        && proof.from_root === firstRoot && proof.to_root === latest.root
        && await log.verifyConsistency(first, latest.size, log.unb64(firstRoot),
                                       log.unb64(latest.root), proof.proof.map(log.unb64));
      if (!ok) { fail(""); return; }
      show(verdict, true, signed ? form.dataset.ok : form.dataset.okUnsigned);
    } catch (error) {
      fail("");  // a malformed answer
    }
  }

  checkSignature();
  form.addEventListener("submit", prove);
})();
