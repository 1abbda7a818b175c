/* LanternGuard pages: the API key (kept in this tab's sessionStorage), API calls and small helpers. */
"use strict";

const LG = (() => {
  const STORE = "lanternguard-key";
  const API = "/api/v1";

  function key() {
    return sessionStorage.getItem(STORE) || "";
  }

  async function api(path, options = {}) {
    const headers = Object.assign({}, options.headers || {});
    if (key()) headers["Authorization"] = "Bearer " + key();
    const response = await fetch(path.startsWith("/") ? path : API + "/" + path, { ...options, headers });
    if (!response.ok) {
      let detail = response.status + " " + response.statusText;
      try {
        const body = await response.json();
        detail = typeof body.detail === "string" ? body.detail : body.detail.map((d) => d.msg).join("; ");
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
      img.alt = "cannot show: " + error.message;
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

  function when(iso) {
    return iso ? iso.replace("T", " ").replace("+00:00", " UTC") : "";
  }

  let identity = null;

  async function refreshIdentity() {
    const who = document.getElementById("who");
    const forget = document.getElementById("key-forget");
    const form = document.getElementById("key-form");
    identity = null;
    if (key()) {
      try {
        identity = await json("me");
      } catch (error) {
        who.textContent = "Key refused: " + error.message;
        who.className = "who bad";
      }
    }
    if (identity) {
      who.textContent = identity.role + (identity.firm ? " · " + identity.firm : "") +
        (identity.label ? " · " + identity.label : "");
      who.className = "who ok";
    } else if (!key()) {
      who.textContent = "No key";
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

  return { api, json, imageUrl, showImage, download, el, showError, when, key, identity: () => identity };
})();
