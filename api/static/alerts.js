/* The firm's alerts (GET /api/v1/alerts): how each was found, its verdict and score, and the firm's mark. */
"use strict";

(() => {
  const t = LG.t;
  const el = LG.el;
  const list = document.getElementById("alerts");
  const errorBox = document.getElementById("alerts-error");
  const HOW = { inspection: t("found at an inspection"), scan: t("found in a scan"), retro: t("found looking back") };
  const STATE = { confirmed: t("confirmed"), dismissed: t("dismissed") };

  function where(alert) {
    const source = alert.source || {};
    if (source.inspection_id) return t("Inspection #{id}", { id: source.inspection_id });
    if (source.scan_id) return t("Scan #{id}, {item}", { id: source.scan_id, item: source.item || "" });
    return "—";
  }

  async function mark(alert, state) {
    LG.showError(errorBox, null);
    try {
      await LG.json(`alerts/${alert.id}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ state }),
      });
      await load();
    } catch (error) {
      LG.showError(errorBox, error);
    }
  }

  function card(alert) {
    const actions = alert.state === "new" ? [
      el("button", { type: "button", class: "small confirm", onclick: () => mark(alert, "confirmed") }, t("Confirm")),
      el("button", { type: "button", class: "small reject", onclick: () => mark(alert, "dismissed") }, t("Dismiss")),
    ] : [el("span", { class: "hint" }, STATE[alert.state])];
    const evidence = el("button", {
      type: "button", class: "small",
      onclick: () => LG.download(alert.evidence_url, `alert-${alert.id}.png`).catch((e) => LG.showError(errorBox, e)),
    }, t("Evidence picture"));
    return el("article", { class: "match hit alert", "data-state": alert.state, "data-how": alert.how },
      el("div", { class: "match-body" },
        el("div", { class: "match-head" },
          el("strong", {}, alert.design),
          el("span", { class: "badge " + alert.verdict }, LGR.verdictName(alert.verdict))),
        el("dl", {},
          el("dt", {}, t("How")), el("dd", {}, HOW[alert.how] || alert.how),
          el("dt", {}, t("Where")), el("dd", {}, where(alert)),
          el("dt", {}, t("When")), el("dd", {}, LG.when(alert.found_at)),
          el("dt", {}, t("Score")), el("dd", {}, alert.score.toFixed(2))),
        el("div", { class: "match-actions" }, evidence, ...actions)));
  }

  async function load() {
    LG.showError(errorBox, null);
    const identity = LG.identity();
    if (!identity || identity.role !== "firm") {
      list.replaceChildren();
      return;
    }
    try {
      const page = await LG.json("alerts?limit=50");
      document.getElementById("alerts-count").textContent = t("{count} alert(s)", { count: page.count });
      list.replaceChildren(...page.data.map(card));
      if (!page.count) list.replaceChildren(el("p", { class: "hint" }, t("No alert yet.")));
    } catch (error) {
      LG.showError(errorBox, error);
    }
  }

  document.addEventListener("lg-identity", load);
})();
