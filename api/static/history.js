/* The history: inspections selected by verdict, dates, shipment and design; a row opens its case file. */
"use strict";

(() => {
  const t = LG.t;
  const el = LG.el;
  const form = document.getElementById("history-form");
  const body = document.querySelector("#history-table tbody");
  const errorBox = document.getElementById("history-error");
  const more = document.getElementById("history-more");
  const PAGE = 25;
  let shown = 0;

  function query() {
    const parameters = new URLSearchParams({ limit: PAGE, offset: shown });
    for (const name of ["verdict", "from", "to", "shipment_ref", "design"]) {
      const value = form.elements[name].value.trim();
      if (value) parameters.set(name, value);
    }
    return parameters;
  }

  function row(inspection) {
    const open = () => { window.location.href = `/inspections/${inspection.id}`; };
    const best = inspection.matches[0];
    return el("tr", { class: "clickable", "data-inspection": inspection.id, onclick: open },
      el("td", {}, el("a", { href: `/inspections/${inspection.id}` }, String(inspection.id))),
      el("td", {}, LG.when(inspection.created_at)),
      el("td", {}, el("span", { class: "badge " + inspection.verdict }, LGR.verdictName(inspection.verdict))),
      el("td", {}, best ? `${LGR.designName(best)} · ${best.score.toFixed(2)}` : "—"),
      el("td", {}, inspection.shipment_ref || ""),
      el("td", { class: "note" }, inspection.note || ""),
      el("td", {}, inspection.inspector));
  }

  async function load(reset) {
    LG.showError(errorBox, null);
    if (reset) {
      shown = 0;
      body.replaceChildren();
    }
    const identity = LG.identity();
    if (!identity || !["inspector", "admin"].includes(identity.role)) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "hint" }, t("Inspector or admin keys see the history."))));
      return;
    }
    try {
      const page = await LG.json("inspections?" + query());
      shown += page.data.length;
      body.append(...page.data.map(row));
      document.getElementById("history-count").textContent = t("{count} inspection(s) found", { count: page.count });
      more.hidden = shown >= page.count;
    } catch (error) {
      LG.showError(errorBox, error);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(true);
  });
  form.addEventListener("reset", () => setTimeout(() => load(true), 0));
  more.addEventListener("click", () => load(false));
  document.addEventListener("lg-identity", () => load(true));
})();
