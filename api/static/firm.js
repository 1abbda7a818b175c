/* The firm's page: register a design with its photos, list the firm's designs, withdraw one. */
"use strict";

(() => {
  const form = document.getElementById("register-form");
  const files = document.getElementById("design-images");
  const previews = document.getElementById("image-previews");
  const errorBox = document.getElementById("register-error");
  const status = document.getElementById("register-status");
  const list = document.getElementById("designs");
  const more = document.getElementById("more-designs");
  const PAGE = 12;
  let shown = 0;

  files.addEventListener("change", () => {
    previews.replaceChildren(...[...files.files].map((file) =>
      LG.el("img", { class: "thumb small", src: URL.createObjectURL(file), alt: file.name, title: file.name })));
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    LG.showError(errorBox, null);
    const body = new FormData();
    for (const name of ["registration_number", "title", "locarno_class", "valid_from", "valid_until"]) {
      const value = form.elements[name].value.trim();
      if (value) body.append(name, value);
    }
    for (const file of files.files) body.append("images", file, file.name);
    const button = document.getElementById("register-button");
    button.disabled = true;
    status.textContent = "Registering…";
    try {
      const design = await LG.json("designs", { method: "POST", body });
      status.textContent = `Registered ${design.id} with ${design.image_count} view(s).`;
      form.reset();
      previews.replaceChildren();
      load(true);
    } catch (error) {
      status.textContent = "";
      LG.showError(errorBox, error);
    } finally {
      button.disabled = false;
    }
  });

  function card(design) {
    const views = LG.el("div", { class: "views" }, design.images.slice(0, 3).map((view) => {
      const image = LG.el("img", { class: "thumb", alt: `${design.id} view ${view.id}` });
      LG.showImage(image, view.url);
      return image;
    }));
    const validity = [design.valid_from, design.valid_until].filter(Boolean).join(" – ");
    const withdraw = LG.el("button", {
      type: "button", class: "small danger",
      hidden: design.status !== "active" || (LG.identity() || {}).role !== "firm",
      onclick: async () => {
        if (!confirm(`Withdraw design ${design.id}? It stops matching at once; its record stays.`)) return;
        try {
          const updated = await LG.json(`designs/${encodeURIComponent(design.id)}`, { method: "DELETE" });
          article.replaceWith(card(updated));
        } catch (error) {
          LG.showError(document.getElementById("designs-error"), error);
        }
      },
    }, "Withdraw");
    const article = LG.el("article", { class: "design " + design.status, "data-design": design.id },
      views,
      LG.el("div", { class: "design-body" },
        LG.el("div", { class: "match-head" },
          LG.el("strong", {}, design.title || design.registration_number),
          LG.el("span", { class: "badge " + design.status }, design.status)),
        LG.el("dl", {},
          LG.el("dt", {}, "Design"), LG.el("dd", {}, design.id),
          LG.el("dt", {}, "Registration"), LG.el("dd", {}, design.registration_number || "—"),
          LG.el("dt", {}, "Locarno"), LG.el("dd", {}, design.locarno_class || "—"),
          LG.el("dt", {}, "Valid"), LG.el("dd", {}, validity || "—"),
          LG.el("dt", {}, "Views"), LG.el("dd", {}, String(design.image_count))),
        LG.el("div", { class: "match-actions" }, withdraw)));
    return article;
  }

  async function load(reset) {
    const errors = document.getElementById("designs-error");
    LG.showError(errors, null);
    if (reset) {
      shown = 0;
      list.replaceChildren();
    }
    const identity = LG.identity();
    if (!identity) return;
    try {
      const page = await LG.json(`designs?limit=${PAGE}&offset=${shown}`);
      shown += page.data.length;
      list.append(...page.data.map(card));
      document.getElementById("design-count").textContent =
        identity.role === "firm" ? `${page.count} design(s) of ${identity.firm}` : `${page.count} design(s), all firms`;
      more.hidden = shown >= page.count;
      if (!page.count) list.replaceChildren(LG.el("p", { class: "hint" }, "No design registered yet."));
    } catch (error) {
      LG.showError(errors, error);
    }
  }

  more.addEventListener("click", () => load(false));
  document.getElementById("refresh-designs").addEventListener("click", () => load(true));
  document.addEventListener("lg-identity", () => load(true));
})();
