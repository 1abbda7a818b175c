/* The inspector's page: send a photo (shrunk in the browser when large), show the verdict and why,
   the designs to check with Confirm/Reject, and the other closest designs folded away. */
"use strict";

(() => {
  const t = LG.t;
  const form = document.getElementById("inspect-form");
  const input = document.getElementById("photo");
  const drop = document.getElementById("drop");
  const preview = document.getElementById("preview");
  const errorBox = document.getElementById("inspect-error");
  const photoNote = document.getElementById("photo-note");
  const button = document.getElementById("inspect-button");
  const result = document.getElementById("result");
  const MAX_SIDE = 2048;
  const MAX_BYTES = 4_000_000;
  const REVIEWS = { pending: t("pending"), confirmed: t("confirmed"), rejected: t("rejected") };
  let photo = null;
  let preparing = Promise.resolve();

  /* A new photo or an error takes the old result off the screen, so that it cannot be misread. */
  function clearResult() {
    result.hidden = true;
    document.getElementById("matches").replaceChildren();
    document.getElementById("other-matches").replaceChildren();
  }

  /* Shrink a large photo to MAX_SIDE pixels (JPEG), upright as the camera's EXIF orientation says.
     A file the browser cannot decode is sent as it is: the service says what is wrong with it. */
  async function shrink(file) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch (ignored) {
      return { file, note: "" };
    }
    const side = Math.max(bitmap.width, bitmap.height);
    const before = `${bitmap.width}×${bitmap.height}`;
    if (side <= MAX_SIDE && file.size <= MAX_BYTES) {
      bitmap.close();
      return { file, note: "" };
    }
    const scale = Math.min(1, MAX_SIDE / side);
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
    const name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
    const note = t("The photo was reduced from {before} to {after} pixels before sending.", {
      before, after: `${canvas.width}×${canvas.height}`,
    });
    return { file: new File([blob], name, { type: "image/jpeg" }), note };
  }

  async function choose(file) {
    clearResult();
    LG.showError(errorBox, null);
    photoNote.hidden = true;
    preview.hidden = !file.type.startsWith("image/");
    if (!preview.hidden) preview.src = URL.createObjectURL(file);
    document.getElementById("drop-text").textContent = t("{name} — drop another to replace", { name: file.name });
    photo = null;
    /* Shrinking takes a moment for a large photo: a press of Inspect meanwhile waits for it. */
    preparing = shrink(file).then((shrunk) => {
      photo = shrunk.file;
      photoNote.textContent = shrunk.note;
      photoNote.hidden = !shrunk.note;
    });
    await preparing;
  }

  input.addEventListener("change", () => input.files[0] && choose(input.files[0]));
  ["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((name) => drop.addEventListener(name, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files[0]) choose(event.dataTransfer.files[0]);
  });

  const demoButton = document.getElementById("demo-photo");
  if (demoButton) {
    demoButton.addEventListener("click", async () => {
      const design = Math.floor(Math.random() * 4);
      const response = await fetch(`/api/v1/demo/photo?design=${design}&seed=${Date.now() % 1000}`);
      const blob = await response.blob();
      await choose(new File([blob], `demo-photo-${design + 1}.jpg`, { type: "image/jpeg" }));
      form.requestSubmit();
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    LG.showError(errorBox, null);
    clearResult();
    await preparing;
    if (!photo) return LG.showError(errorBox, new Error(t("Choose or drop a photo first.")));
    const body = new FormData();
    body.append("image", photo, photo.name);
    for (const name of ["shipment_ref", "note", "destination"]) {
      if (form.elements[name].value.trim()) body.append(name, form.elements[name].value.trim());
    }
    button.disabled = true;
    button.textContent = t("Inspecting…");
    try {
      const inspection = await LG.json("inspections", { method: "POST", body });
      await show(inspection);
      loadHistory();
    } catch (error) {
      clearResult();
      LG.showError(errorBox, error);
    } finally {
      button.disabled = false;
      button.textContent = t("Inspect");
    }
  });

  function reviewActions(inspection) {
    return (match) => {
      const status = LG.el("span", { class: "review " + match.review }, REVIEWS[match.review]);
      const review = async (value) => {
        try {
          const updated = await LG.json(`inspections/${inspection.id}/matches/${match.rank}`, {
            method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ review: value }),
          });
          const now = updated.matches.find((m) => m.rank === match.rank);
          status.textContent = REVIEWS[now.review];
          status.className = "review " + now.review;
        } catch (error) {
          LG.showError(errorBox, error);
        }
      };
      return LG.el("div", { class: "match-actions" },
        status,
        LG.el("button", { type: "button", class: "small", onclick: () => review("confirmed") }, t("Confirm")),
        LG.el("button", { type: "button", class: "small", onclick: () => review("rejected") }, t("Reject")),
        LG.el("button", {
          type: "button", class: "small link",
          onclick: () => LG.download(match.evidence_url, `evidence-${inspection.id}-${match.rank}.png`),
        }, t("Evidence picture")));
    };
  }

  async function show(inspection) {
    LGR.verdictBox(document.getElementById("verdict"), inspection);
    document.getElementById("verdict-why").textContent = inspection.reason;
    document.getElementById("result-meta").textContent = t("Inspection #{id} · {when} · by {who}", {
      id: inspection.id, when: LG.when(inspection.created_at), who: inspection.inspector,
    });
    const candidates = LGR.atReview(inspection);
    const others = inspection.matches.filter((m) => !candidates.includes(m));
    const best = inspection.verdict === "no_match" ? null : candidates[0];
    const bestFigure = document.getElementById("best-figure");
    bestFigure.hidden = !best;
    document.getElementById("candidates").hidden = !candidates.length;
    document.getElementById("others").hidden = !others.length;
    document.getElementById("others").open = false;
    document.getElementById("matches").replaceChildren(
      ...candidates.map((m) => LGR.matchCard(inspection, m, reviewActions(inspection))));
    document.getElementById("other-matches").replaceChildren(...others.map((m) => LGR.matchCard(inspection, m, null)));
    document.getElementById("case-link").href = `/inspections/${inspection.id}`;
    document.getElementById("best-caption").textContent = best
      ? `${LGR.designName(best)} · ${best.owner || ""} · ${best.score_text} · ${best.legal_text}` : "";
    result.hidden = false;
    await LG.showImage(document.getElementById("query-image"), inspection.photo_url);
    if (best) await LG.showImage(document.getElementById("best-image"), best.image_url);
    result.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  async function loadHistory() {
    const body = document.querySelector("#history tbody");
    const identity = LG.identity();
    if (!identity || !["inspector", "admin"].includes(identity.role)) {
      body.replaceChildren(LG.el("tr", {}, LG.el("td", { colspan: 5, class: "hint" },
        t("Inspector or admin keys see the history."))));
      return;
    }
    try {
      const page = await LG.json("inspections?limit=10");
      body.replaceChildren(...page.data.map((i) => LG.el("tr", {},
        LG.el("td", {}, LG.el("a", { href: `/inspections/${i.id}` }, String(i.id))),
        LG.el("td", {}, LG.when(i.created_at)),
        LG.el("td", {}, LG.el("span", { class: "badge " + i.verdict }, LGR.verdictName(i.verdict))),
        LG.el("td", {}, i.matches[0] ? LGR.designName(i.matches[0]) : "—"),
        LG.el("td", {}, i.shipment_ref || ""))));
    } catch (error) {
      body.replaceChildren(LG.el("tr", {}, LG.el("td", { colspan: 5, class: "error" }, error.message)));
    }
  }

  document.addEventListener("lg-identity", loadHistory);
})();
