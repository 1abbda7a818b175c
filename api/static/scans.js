/* The scan page: start a scan, follow its progress bar, show and download the report. */
"use strict";

(() => {
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
    document.getElementById("scan-title").textContent = `Scan #${scan.id} · ${scan.source}`;
    const badge = document.getElementById("scan-status");
    badge.textContent = scan.status;
    badge.className = "badge " + scan.status;
    const share = scan.total ? Math.round((scan.done / scan.total) * 100) : 100;
    const bar = document.getElementById("scan-bar");
    bar.style.width = share + "%";
    bar.parentElement.setAttribute("aria-valuenow", String(share));
    document.getElementById("scan-counts").textContent =
      `${scan.done} of ${scan.total} image(s) done · ${scan.errors} error(s) · ` +
      `${scan.ignored} other file(s) passed over` + (scan.message ? ` · ${scan.message}` : "");
    const ended = scan.status === "finished" || scan.status === "failed";
    document.getElementById("scan-downloads").hidden = !ended;
    const table = document.getElementById("scan-results");
    table.hidden = !scan.results;
    if (scan.results) {
      table.querySelector("tbody").replaceChildren(...scan.results.map((line) => {
        const best = line.matches[0];
        return LG.el("tr", { class: line.error ? "row-error" : "" },
          LG.el("td", {}, line.image),
          LG.el("td", {}, line.verdict ? LG.el("span", { class: "badge " + line.verdict }, line.verdict.replace("_", " ")) : "—"),
          LG.el("td", {}, best ? best.design_id : ""),
          LG.el("td", {}, best ? best.score.toFixed(3) : ""),
          LG.el("td", {}, line.error || ""));
      }));
    }
  }

  document.getElementById("download-csv").addEventListener("click", () =>
    LG.download(`/api/v1/scans/${current}?format=csv`, `lanternguard-scan-${current}.csv`).catch((e) => LG.showError(errorBox, e)));
  document.getElementById("download-json").addEventListener("click", () =>
    LG.download(`/api/v1/scans/${current}`, `lanternguard-scan-${current}.json`).catch((e) => LG.showError(errorBox, e)));

  async function loadList() {
    const body = document.querySelector("#scan-list tbody");
    const identity = LG.identity();
    if (!identity || !["inspector", "admin"].includes(identity.role)) {
      body.replaceChildren(LG.el("tr", {}, LG.el("td", { colspan: 7, class: "hint" }, "Inspector or admin keys see the scans.")));
      return;
    }
    try {
      const page = await LG.json("scans?limit=10");
      body.replaceChildren(...page.data.map((scan) => LG.el("tr", {},
        LG.el("td", {}, String(scan.id)),
        LG.el("td", {}, LG.when(scan.created_at)),
        LG.el("td", {}, scan.source),
        LG.el("td", {}, LG.el("span", { class: "badge " + scan.status }, scan.status)),
        LG.el("td", {}, `${scan.done}/${scan.total}`),
        LG.el("td", {}, String(scan.errors)),
        LG.el("td", {}, LG.el("button", { type: "button", class: "small", onclick: () => follow(scan.id) }, "Show")))));
    } catch (error) {
      body.replaceChildren(LG.el("tr", {}, LG.el("td", { colspan: 7, class: "error" }, error.message)));
    }
  }

  document.getElementById("refresh-scans").addEventListener("click", loadList);
  document.addEventListener("lg-identity", loadList);
})();
