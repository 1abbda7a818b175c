/* The printable case file: the server's case-file article, its pictures loaded with the viewer's key. */
"use strict";

(() => {
  const id = document.getElementById("case").dataset.inspection;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  const query = zone ? "?tz=" + encodeURIComponent(zone) : "";
  const errorBox = document.getElementById("case-error");

  async function load() {
    if (!LG.identity()) return;
    try {
      const html = await (await LG.api(`inspections/${id}/case.html${query}`)).text();
      const body = document.getElementById("case-body");
      body.replaceChildren(document.createRange().createContextualFragment(html));
      await Promise.all([...body.querySelectorAll("img[data-src]")].map((img) => LG.showImage(img, img.dataset.src)));
      body.dataset.loaded = "true";
    } catch (error) {
      LG.showError(errorBox, error);
    }
  }

  document.getElementById("case-print").addEventListener("click", () => window.print());
  document.getElementById("case-pdf").addEventListener("click", () =>
    LG.download(`/api/v1/inspections/${id}/case.pdf${query}`, `lanternguard-case-${id}.pdf`)
      .catch((error) => LG.showError(errorBox, error)));
  document.addEventListener("lg-identity", load);
})();
