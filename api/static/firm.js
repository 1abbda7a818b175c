/* The firm's page: register a design with its photos, list the firm's designs, edit one, add views
   to it, withdraw it. */
"use strict";

(() => {
  const t = LG.t;
  const el = LG.el;
  const form = document.getElementById("register-form");
  const files = document.getElementById("design-images");
  const previews = document.getElementById("image-previews");
  const errorBox = document.getElementById("register-error");
  const status = document.getElementById("register-status");
  const list = document.getElementById("designs");
  const more = document.getElementById("more-designs");
  const FIELDS = ["registration_number", "title", "locarno_class", "valid_from", "valid_until", "territories"];
  const STATUS = { active: t("active"), withdrawn: t("withdrawn") };
  const PAGE = 12;
  let shown = 0;

  files.addEventListener("change", () => {
    previews.replaceChildren(...[...files.files].map((file) =>
      el("img", { class: "thumb small", src: URL.createObjectURL(file), alt: file.name, title: file.name })));
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    LG.showError(errorBox, null);
    const body = new FormData();
    for (const name of FIELDS) {
      const value = form.elements[name].value.trim();
      if (value) body.append(name, value);
    }
    for (const file of files.files) body.append("images", file, file.name);
    const button = document.getElementById("register-button");
    button.disabled = true;
    status.textContent = t("Registering…");
    try {
      const design = await LG.json("designs", { method: "POST", body });
      status.textContent = t("Registered {id} with {count} view(s).", { id: design.id, count: design.image_count });
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

  function validity(design) {
    const parts = [];
    if (design.valid_from) parts.push(t("Valid from {date}", { date: design.valid_from }));
    if (design.valid_until) parts.push(t("Valid until {date}", { date: design.valid_until }));
    return parts.join(" · ");
  }

  /* The edit form of a design: its registration data, and more views (at most 7 in all). */
  function editor(design, replace) {
    const error = el("p", { class: "error", role: "alert", hidden: true });
    const inputs = {
      registration_number: el("input", { name: "registration_number", value: design.registration_number || "", required: true }),
      title: el("input", { name: "title", value: design.title || "" }),
      locarno_class: el("input", { name: "locarno_class", value: design.locarno_class || "" }),
      valid_from: el("input", { name: "valid_from", type: "date", value: design.valid_from || "" }),
      valid_until: el("input", { name: "valid_until", type: "date", value: design.valid_until || "" }),
      territories: el("input", { name: "territories", value: design.territories.join(" ") }),
    };
    const labels = {
      registration_number: t("Registration number"), title: t("Title"), locarno_class: t("Locarno class"),
      valid_from: t("Valid from"), valid_until: t("Valid until"), territories: t("Territories"),
    };
    const views = el("input", { type: "file", name: "images", accept: "image/*", multiple: true });
    const save = async (event) => {
      event.preventDefault();
      LG.showError(error, null);
      const changes = {};
      for (const name of FIELDS) {
        const value = inputs[name].value.trim();
        const before = name === "territories" ? design.territories.join(" ") : (design[name] || "");
        if (value !== before) changes[name] = value || null;
      }
      try {
        let updated = design;
        if (Object.keys(changes).length) {
          updated = await LG.json(`designs/${encodeURIComponent(design.id)}`, {
            method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(changes),
          });
        }
        if (views.files.length) {
          const body = new FormData();
          for (const file of views.files) body.append("images", file, file.name);
          updated = await LG.json(`designs/${encodeURIComponent(design.id)}/images`, { method: "POST", body });
        }
        replace(updated);
      } catch (failure) {
        LG.showError(error, failure);
      }
    };
    return el("details", { class: "edit" },
      el("summary", {}, t("Edit or add views")),
      el("form", { class: "grid-form edit-form", onsubmit: save },
        FIELDS.map((name) => el("label", {}, labels[name], inputs[name])),
        el("label", { class: "wide" }, t("Add views (photos)"), views),
        el("div", { class: "actions wide" }, el("button", { type: "submit", class: "primary small" }, t("Save"))),
        error));
  }

  function card(design) {
    const views = el("div", { class: "views" }, design.images.slice(0, 3).map((view) => {
      const image = el("img", { class: "thumb", alt: t("{id} view {view}", { id: design.id, view: view.id }) });
      LG.showImage(image, view.url);
      return image;
    }));
    const mine = design.status === "active" && (LG.identity() || {}).role === "firm";
    const withdraw = el("button", {
      type: "button", class: "small danger", hidden: !mine,
      onclick: async () => {
        if (!confirm(t("Withdraw design {id}? It stops matching at once; its record stays.", { id: design.id }))) return;
        try {
          const updated = await LG.json(`designs/${encodeURIComponent(design.id)}`, { method: "DELETE" });
          article.replaceWith(card(updated));
        } catch (error) {
          LG.showError(document.getElementById("designs-error"), error);
        }
      },
    }, t("Withdraw"));
    const article = el("article", { class: "design " + design.status, "data-design": design.id },
      views,
      el("div", { class: "design-body" },
        el("div", { class: "match-head" },
          el("strong", {}, design.title || design.registration_number),
          el("span", { class: "badge " + design.status }, STATUS[design.status])),
        el("span", { class: "legal " + design.legal_status }, design.legal_text),
        el("dl", {},
          el("dt", {}, t("Design")), el("dd", {}, design.id),
          el("dt", {}, t("Registration")), el("dd", {}, design.registration_number || "—"),
          el("dt", {}, t("Locarno class")), el("dd", {}, design.locarno_class || "—"),
          el("dt", {}, t("Validity")), el("dd", {}, validity(design) || t("not given")),
          el("dt", {}, t("Territories")), el("dd", {}, design.territories.join(", ") || t("not given")),
          el("dt", {}, t("Views")), el("dd", {}, String(design.image_count))),
        el("div", { class: "match-actions" }, withdraw),
        mine ? editor(design, (updated) => article.replaceWith(card(updated))) : null));
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
      document.getElementById("design-count").textContent = identity.role === "firm"
        ? t("{count} design(s) of {firm}", { count: page.count, firm: identity.firm })
        : t("{count} design(s), all firms", { count: page.count });
      more.hidden = shown >= page.count;
      if (!page.count) list.replaceChildren(el("p", { class: "hint" }, t("No design registered yet.")));
    } catch (error) {
      LG.showError(errors, error);
    }
  }

  more.addEventListener("click", () => load(false));
  document.getElementById("refresh-designs").addEventListener("click", () => load(true));
  document.addEventListener("lg-identity", () => load(true));
})();
