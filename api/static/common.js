/* LanternGuard pages: the API key (kept in this tab's sessionStorage), API calls and small helpers. */
"use strict";

const LG = (() => {
  const STORE = "lanternguard-key";
  const API = "/api/v1";

  const MESSAGES = JSON.parse(document.getElementById("lg-messages").textContent || "{}");

  /* A message in the page's language (catalogue: api/locales), with {name} placeholders filled in. */
  function t(message, values = {}) {
    const text = MESSAGES[message] || message;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  }

  function key() {
    return sessionStorage.getItem(STORE) || "";
  }

  async function api(path, options = {}) {
    const headers = Object.assign({ "Accept-Language": document.documentElement.lang }, options.headers || {});
    if (key()) headers["Authorization"] = "Bearer " + key();
    const response = await fetch(path.startsWith("/") ? path : API + "/" + path, { ...options, headers });
    if (!response.ok) {
      let detail = response.status + " " + response.statusText;
      try {
        const body = await response.json();
        detail = body.message || (typeof body.detail === "string" ? body.detail : detail);
      } catch (ignored) { /* not JSON */ }
      const error = new Error(detail);
      error.status = response.status;
      throw error;
    }
    return response;
  }

  async function json(path, options) {
    return (await api(path, options)).json();
  }

  const objectUrls = new Map();
  async function imageUrl(path) {
    if (!objectUrls.has(path)) {
      const blob = await (await api(path)).blob();
      objectUrls.set(path, URL.createObjectURL(blob));
    }
    return objectUrls.get(path);
  }

  async function showImage(img, path) {
    img.classList.add("loading");
    try {
      img.src = await imageUrl(path);
    } catch (error) {
      img.alt = t("cannot show: {reason}", { reason: error.message });
    } finally {
      img.classList.remove("loading");
    }
  }

  async function download(path, filename) {
    const blob = await (await api(path)).blob();
    const link = el("a", { href: URL.createObjectURL(blob), download: filename });
    document.body.append(link);
    link.click();
    link.remove();
  }

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function showError(node, error) {
    node.textContent = error ? (error.message || String(error)) : "";
    node.hidden = !error;
  }

  /* A recorded time in the browser's local time, with UTC beside it. */
  function when(iso) {
    if (!iso) return "";
    const moment = new Date(iso);
    const local = moment.toLocaleString(document.documentElement.lang, {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
    });
    return t("{local} (UTC {utc})", { local, utc: iso.slice(0, 16).replace("T", " ") });
  }

  let identity = null;
  const ROLES = { admin: t("admin"), firm: t("firm"), inspector: t("inspector") };

  async function refreshIdentity() {
    const who = document.getElementById("who");
    const forget = document.getElementById("key-forget");
    const form = document.getElementById("key-form");
    identity = null;
    if (key()) {
      try {
        identity = await json("me");
      } catch (error) {
        who.textContent = t("Key refused: {reason}", { reason: error.message });
        who.className = "who bad";
      }
    }
    if (identity) {
      who.textContent = ROLES[identity.role] + (identity.firm ? " · " + identity.firm : "") +
        (identity.label ? " · " + identity.label : "");
      who.className = "who ok";
    } else if (!key()) {
      who.textContent = t("Not signed in");
      who.className = "who";
    }
    forget.hidden = !key();
    form.hidden = Boolean(identity);
    document.getElementById("key-needed").hidden = Boolean(identity);
    document.dispatchEvent(new CustomEvent("lg-identity", { detail: identity }));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = document.getElementById("key-input");
      if (input.value.trim()) sessionStorage.setItem(STORE, input.value.trim());
      input.value = "";
      refreshIdentity();
    });
    document.getElementById("key-forget").addEventListener("click", () => {
      sessionStorage.removeItem(STORE);
      refreshIdentity();
    });
    refreshIdentity();
  });

  return { t, api, json, imageUrl, showImage, download, el, showError, when, key, identity: () => identity };
})();
