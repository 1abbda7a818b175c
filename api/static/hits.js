/* The firm's hits: where an inspection or a scan named one of its designs, with score and evidence. */
"use strict";

(() => {
  const t = LG.t;
  const el = LG.el;
  const list = document.getElementById("hits");
  const errorBox = document.getElementById("hits-error");
  const more = document.getElementById("hits-more");
  const PAGE = 20;
  let shown = 0;

  function card(hit) {
    const image = el("img", { class: "thumb", alt: hit.title || hit.design_id });
    if (hit.image_url) LG.showImage(image, hit.image_url);
    const evidence = hit.evidence_url ? el("button", {
      type: "button", class: "small",
      onclick: () => LG.download(hit.evidence_url, `evidence-${hit.id}-${hit.item}.png`).catch((e) => LG.showError(errorBox, e)),
    }, t("Evidence picture")) : el("span", { class: "hint" }, t("no evidence picture for scans"));
    return el("article", { class: "match hit", "data-kind": hit.kind, "data-design": hit.design_id },
      image,
      el("div", { class: "match-body" },
        el("div", { class: "match-head" },
          el("strong", {}, hit.title || hit.registration_number || hit.design_id),
          el("span", { class: "badge " + hit.verdict }, LGR.verdictName(hit.verdict))),
        el("div", { class: "score-line" }, hit.score_text),
        el("span", { class: "legal " + hit.legal_status }, hit.legal_text),
        el("dl", {},
          el("dt", {}, t("Where")), el("dd", {}, hit.kind === "inspection"
            ? t("Inspection #{id}", { id: hit.id }) : t("Scan #{id}, image {item}", { id: hit.id, item: hit.item + 1 })),
          el("dt", {}, t("When")), el("dd", {}, LG.when(hit.created_at)),
          el("dt", {}, t("Registration")), el("dd", {}, hit.registration_number || "—"),
          hit.destination ? [el("dt", {}, t("Destination")), el("dd", {}, hit.destination)] : []),
        el("div", { class: "match-actions" }, evidence)));
  }

  async function load(reset) {
    LG.showError(errorBox, null);
    if (reset) {
      shown = 0;
      list.replaceChildren();
    }
    const identity = LG.identity();
    if (!identity) return;
    if (identity.role !== "firm") {
      list.replaceChildren(el("p", { class: "hint" }, t("Only a firm's key shows the hits on its designs.")));
      return;
    }
    try {
      const page = await LG.json(`hits?limit=${PAGE}&offset=${shown}`);
      shown += page.data.length;
      list.append(...page.data.map(card));
      document.getElementById("hits-count").textContent = t("{count} hit(s) on the designs of {firm}", { count: page.count, firm: identity.firm });
      more.hidden = shown >= page.count;
      if (!page.count) list.replaceChildren(el("p", { class: "hint" }, t("No inspection or scan has named your designs yet.")));
    } catch (error) {
      LG.showError(errorBox, error);
    }
  }

  more.addEventListener("click", () => load(false));
  document.addEventListener("lg-identity", () => load(true));
})();
