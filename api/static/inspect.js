/* The inspector's page: send a photo, show the verdict and the matches beside the photo. */
"use strict";

(() => {
  const form = document.getElementById("inspect-form");
  const input = document.getElementById("photo");
  const drop = document.getElementById("drop");
  const preview = document.getElementById("preview");
  const errorBox = document.getElementById("inspect-error");
  const button = document.getElementById("inspect-button");
  let photo = null;

  const VERDICTS = {
    match: ["Match", "The photo shows a registered design."],
    review: ["Review", "The photo resembles a registered design: look closer."],
    no_match: ["No match", "No registered design resembles the photo."],
  };

  function choose(file) {
    photo = file;
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    document.getElementById("drop-text").textContent = file.name + " — drop another to replace";
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
      choose(new File([blob], `demo-photo-${design + 1}.jpg`, { type: "image/jpeg" }));
      form.requestSubmit();
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    LG.showError(errorBox, null);
    if (!photo) return LG.showError(errorBox, new Error("Choose or drop a photo first."));
    const body = new FormData();
    body.append("image", photo, photo.name);
    for (const name of ["shipment_ref", "note"]) {
      if (form.elements[name].value.trim()) body.append(name, form.elements[name].value.trim());
    }
    button.disabled = true;
    button.textContent = "Inspecting…";
    try {
      const inspection = await LG.json("inspections", { method: "POST", body });
      await show(inspection);
      loadHistory();
    } catch (error) {
      LG.showError(errorBox, error);
    } finally {
      button.disabled = false;
      button.textContent = "Inspect";
    }
  });

  function field(label, value) {
    return value ? [LG.el("dt", {}, label), LG.el("dd", {}, value)] : [];
  }

  function matchCard(inspection, match) {
    const image = LG.el("img", { alt: "Design " + match.design_id, class: "thumb" });
    LG.showImage(image, match.image_url);
    const status = LG.el("span", { class: "review " + match.review }, match.review);
    const review = async (value) => {
      try {
        const updated = await LG.json(`inspections/${inspection.id}/matches/${match.rank}`, {
          method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ review: value }),
        });
        const now = updated.matches.find((m) => m.rank === match.rank);
        status.textContent = now.review;
        status.className = "review " + now.review;
      } catch (error) {
        LG.showError(errorBox, error);
      }
    };
    const validity = [match.valid_from, match.valid_until].filter(Boolean).join(" – ");
    return LG.el("article", { class: "match", "data-design": match.design_id },
      image,
      LG.el("div", { class: "match-body" },
        LG.el("div", { class: "match-head" },
          LG.el("span", { class: "rank" }, "#" + match.rank),
          LG.el("strong", {}, match.title || match.design_id),
          LG.el("span", { class: "score" }, match.score.toFixed(3))),
        LG.el("div", { class: "scorebar" },
          LG.el("div", { style: `width: ${Math.max(0, Math.min(1, match.score)) * 100}%` })),
        LG.el("dl", {},
          field("Design", match.design_id),
          field("Registration", match.registration_number),
          field("Owner", match.owner),
          field("Locarno", match.locarno_class),
          field("Valid", validity),
          match.design_status === "withdrawn" ? field("Status", "withdrawn") : []),
        LG.el("div", { class: "match-actions" },
          status,
          LG.el("button", { type: "button", class: "small", onclick: () => review("confirmed") }, "Confirm"),
          LG.el("button", { type: "button", class: "small", onclick: () => review("rejected") }, "Reject"),
          LG.el("button", {
            type: "button", class: "small link",
            onclick: () => LG.download(match.evidence_url, `evidence-${inspection.id}-${match.rank}.png`),
          }, "Evidence picture"))));
  }

  async function show(inspection) {
    const [label, text] = VERDICTS[inspection.verdict];
    const verdict = document.getElementById("verdict");
    verdict.className = "verdict " + inspection.verdict;
    verdict.replaceChildren(LG.el("strong", {}, label), LG.el("span", {}, text));
    document.getElementById("result-meta").textContent =
      `Inspection #${inspection.id} · ${LG.when(inspection.created_at)} · by ${inspection.inspector}`;
    document.getElementById("result").hidden = false;
    await LG.showImage(document.getElementById("query-image"), inspection.photo_url);
    const best = inspection.matches[0];
    const bestFigure = document.getElementById("best-figure");
    bestFigure.hidden = !best;
    if (best) {
      await LG.showImage(document.getElementById("best-image"), best.image_url);
      document.getElementById("best-caption").textContent =
        `${best.title || best.design_id} · ${best.owner || ""} · score ${best.score.toFixed(3)}`;
    }
    document.getElementById("matches").replaceChildren(...inspection.matches.map((m) => matchCard(inspection, m)));
    document.getElementById("result").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  async function loadHistory() {
    const body = document.querySelector("#history tbody");
    const identity = LG.identity();
    if (!identity || !["inspector", "admin"].includes(identity.role)) {
      body.replaceChildren(LG.el("tr", {}, LG.el("td", { colspan: 7, class: "hint" }, "Inspector or admin keys see the history.")));
      return;
    }
    try {
      const page = await LG.json("inspections?limit=10");
      body.replaceChildren(...page.data.map((i) => LG.el("tr", {},
        LG.el("td", {}, String(i.id)),
        LG.el("td", {}, LG.when(i.created_at)),
        LG.el("td", {}, i.inspector),
        LG.el("td", {}, LG.el("span", { class: "badge " + i.verdict }, i.verdict.replace("_", " "))),
        LG.el("td", {}, i.matches[0] ? (i.matches[0].title || i.matches[0].design_id) : "—"),
        LG.el("td", {}, i.matches[0] ? i.matches[0].score.toFixed(3) : ""),
        LG.el("td", {}, i.shipment_ref || ""))));
    } catch (error) {
      body.replaceChildren(LG.el("tr", {}, LG.el("td", { colspan: 7, class: "error" }, error.message)));
    }
  }

  document.addEventListener("lg-identity", loadHistory);
})();
