/* The scan page: start a scan, follow its progress bar, show and download the report. */
"use strict";

(() => {
  const t = LG.t;
  const el = LG.el;
  const STATUS = { queued: t("queued"), running: t("running"), finished: t("finished"), failed: t("failed") };
  const filter = document.getElementById("scan-filter");
  let shownScan = null;
  const form = document.getElementById("scan-form");
  const errorBox = document.getElementById("scan-error");
  let current = null;
  let timer = null;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    LG.showError(errorBox, null);
    const body = new FormData();
    const archive = document.getElementById("scan-archive").files[0];
    const folder = document.getElementById("scan-folder").value.trim();
    if (archive) body.append("archive", archive, archive.name);
    if (folder) body.append("folder", folder);
    try {
      const scan = await LG.json("scans", { method: "POST", body });
      form.reset();
      follow(scan.id);
      loadList();
    } catch (error) {
      LG.showError(errorBox, error);
    }
  });

  function follow(id) {
    current = id;
    clearTimeout(timer);
    poll();
  }

  async function poll() {
    try {
      const scan = await LG.json(`scans/${current}`);
      render(scan);
      if (scan.status === "queued" || scan.status === "running") timer = setTimeout(poll, 700);
      else loadList();
    } catch (error) {
      LG.showError(errorBox, error);
    }
  }

  function render(scan) {
    document.getElementById("scan-current").hidden = false;
    shownScan = scan;
    document.getElementById("scan-title").textContent = t("Scan #{id} · {source}", { id: scan.id, source: scan.source });
    const badge = document.getElementById("scan-status");
    badge.textContent = STATUS[scan.status];
    badge.className = "badge " + scan.status;
    const share = scan.total ? Math.round((scan.done / scan.total) * 100) : 100;
    const bar = document.getElementById("scan-bar");
    bar.style.width = share + "%";
    bar.parentElement.setAttribute("aria-valuenow", String(share));
    const failure = scan.message_text || scan.message;
    document.getElementById("scan-counts").textContent =
      t("{done} of {total} image(s) done · {errors} error(s) · {ignored} other file(s) passed over",
        { done: scan.done, total: scan.total, errors: scan.errors, ignored: scan.ignored }) +
      (failure ? ` · ${failure}` : "");
    const totals = document.getElementById("scan-totals");
    totals.hidden = !scan.totals;
    if (scan.totals) {
      const names = { match: LGR.verdictName("match"), review: LGR.verdictName("review"),
        no_match: LGR.verdictName("no_match"), error: t("Errors") };
      totals.replaceChildren(...Object.entries(names).map(([key, name]) =>
        el("span", { class: "badge " + (key === "error" ? "failed" : key), "data-total": key }, `${name}: ${scan.totals[key]}`)));
    }
    const skipped = document.getElementById("scan-skipped");
    skipped.hidden = !scan.skipped.length;
    document.getElementById("scan-skipped-title").textContent =
      t("{count} file(s) passed over", { count: scan.skipped.length });
    document.getElementById("scan-skipped-list").replaceChildren(
      ...scan.skipped.map((file) => el("li", {}, el("code", {}, file.name), " — ", file.reason)));
    const ended = scan.status === "finished" || scan.status === "failed";
    document.getElementById("scan-downloads").hidden = !ended;
    const table = document.getElementById("scan-results");
    table.hidden = !scan.results;
    if (scan.results) rows(scan);
  }

  function designCell(scan, line) {
    const best = line.matches[0];
    if (!best || line.verdict === "no_match") return el("td", {}, best ? el("span", { class: "hint" }, t("none")) : "");
    const design = (scan.designs || {})[best.design_id] || {};
    const image = el("img", { class: "thumb tiny", alt: design.title || best.design_id });
    if (design.image_url) LG.showImage(image, design.image_url);
    return el("td", {}, el("div", { class: "design-cell" }, image,
      el("div", {},
        el("strong", {}, design.title || best.design_id),
        el("div", { class: "hint" }, [design.registration_number, design.owner].filter(Boolean).join(" · ")),
        design.legal_text ? el("span", { class: "legal " + design.legal_status }, design.legal_text) : null)));
  }

  function rows(scan) {
    const table = document.getElementById("scan-results");
    const wanted = filter.value;
    const shown = scan.results.map((line, index) => [line, index])
      .filter(([line]) => !wanted || (line.verdict || "error") === wanted);
    table.querySelector("tbody").replaceChildren(...shown.map(([line, index]) => {
      const best = line.matches[0];
      const evidence = (scan.evidence_urls || [])[index];
      return el("tr", { class: line.error ? "row-error" : "", "data-verdict": line.verdict || "error" },
        el("td", { class: "image-name" }, line.image),
        el("td", {}, line.verdict ? el("span", { class: "badge " + line.verdict }, LGR.verdictName(line.verdict).toLowerCase()) : "—"),
        designCell(scan, line),
        el("td", {}, best && line.verdict !== "no_match" ? best.score.toFixed(2) : ""),
        el("td", { title: line.error }, line.error ? line.error_text || line.error : (evidence ? el("button", {
          type: "button", class: "small link evidence",
          onclick: () => LG.download(evidence, `scan-${scan.id}-${index + 1}-evidence.png`).catch((e) => LG.showError(errorBox, e)),
        }, t("Evidence picture")) : "")));
    }));
  }

  filter.addEventListener("change", () => shownScan && shownScan.results && rows(shownScan));

  document.getElementById("download-csv").addEventListener("click", () =>
    LG.download(`/api/v1/scans/${current}?format=csv`, `lanternguard-scan-${current}.csv`).catch((e) => LG.showError(errorBox, e)));
  document.getElementById("download-json").addEventListener("click", () =>
    LG.download(`/api/v1/scans/${current}`, `lanternguard-scan-${current}.json`).catch((e) => LG.showError(errorBox, e)));

  async function loadList() {
    const body = document.querySelector("#scan-list tbody");
    const identity = LG.identity();
    if (!identity || !["inspector", "admin"].includes(identity.role)) {
      body.replaceChildren(LG.el("tr", {}, LG.el("td", { colspan: 7, class: "hint" }, t("Inspector or admin keys see the scans."))));
      return;
    }
    try {
      const page = await LG.json("scans?limit=10");
      body.replaceChildren(...page.data.map((scan) => LG.el("tr", {},
        LG.el("td", {}, String(scan.id)),
        LG.el("td", {}, LG.when(scan.created_at)),
        LG.el("td", {}, scan.source),
        LG.el("td", {}, LG.el("span", { class: "badge " + scan.status }, STATUS[scan.status])),
        LG.el("td", {}, `${scan.done}/${scan.total}`),
        LG.el("td", {}, String(scan.errors)),
        LG.el("td", {}, LG.el("button", { type: "button", class: "small", onclick: () => follow(scan.id) }, t("Show"))))));
    } catch (error) {
      body.replaceChildren(LG.el("tr", {}, LG.el("td", { colspan: 7, class: "error" }, error.message)));
    }
  }

  document.getElementById("refresh-scans").addEventListener("click", loadList);
  document.addEventListener("lg-identity", loadList);
})();
