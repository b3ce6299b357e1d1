/* Wafa dashboard: small progressive enhancements. Every page works without this file. */
(() => {
  "use strict";

  const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  /* wafa.fetch(path, options): a same-origin call with the session cookie and the CSRF
     header, for pages that call the JSON API (/api/v1/...). JSON bodies are encoded. */
  const wafaFetch = (path, options = {}) => {
    const headers = new Headers(options.headers || {});
    headers.set("X-CSRF-Token", csrfToken());
    headers.set("Accept", headers.get("Accept") || "application/json");
    let body = options.body;
    if (body !== undefined && !(body instanceof FormData) && typeof body !== "string") {
      headers.set("Content-Type", "application/json");
      body = JSON.stringify(body);
    }
    return fetch(path, { ...options, body, headers, credentials: "same-origin" });
  };
  window.wafa = { fetch: wafaFetch, csrfToken };

  /* Sidebar drawer on tablets. */
  const setNav = (open) => {
    document.body.classList.toggle("nav-open", open);
    document.querySelectorAll("[data-nav-toggle]").forEach((b) => b.setAttribute("aria-expanded", String(open)));
  };
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-nav-toggle]")) setNav(!document.body.classList.contains("nav-open"));
    else if (event.target.closest(".backdrop")) setNav(false);
    // Close open menus when clicking elsewhere.
    document.querySelectorAll("details.menu[open]").forEach((menu) => {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    setNav(false);
    document.querySelectorAll("details.menu[open]").forEach((menu) => menu.removeAttribute("open"));
  });

  /* Search as you type: <form data-live> with an input[data-live-input]; the results
     container [data-live-results] is replaced by the same container from the new page. */
  document.querySelectorAll("form[data-live]").forEach((form) => {
    const results = document.querySelector("[data-live-results]");
    if (!results) return;
    let timer = 0;
    let controller = null;
    const run = async () => {
      const params = new URLSearchParams(new FormData(form));
      for (const [key, value] of [...params.entries()]) if (!value) params.delete(key);
      const url = form.action.split("?")[0] + (params.toString() ? `?${params}` : "");
      controller?.abort();
      controller = new AbortController();
      results.setAttribute("aria-busy", "true");
      try {
        const response = await fetch(url, { signal: controller.signal, credentials: "same-origin" });
        if (!response.ok) return;
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.querySelector("[data-live-results]");
        if (fresh) {
          results.replaceChildren(...fresh.childNodes);
          history.replaceState(null, "", url);
        }
      } catch (error) {
        if (error.name !== "AbortError") form.submit();
      } finally {
        results.removeAttribute("aria-busy");
      }
    };
    form.querySelectorAll("[data-live-input]").forEach((input) => {
      input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 300); });
    });
    form.querySelectorAll("select[data-live-select]").forEach((select) => {
      select.addEventListener("change", run);
    });
  });

  /* Confirmation dialogs: <form data-confirm="message" data-confirm-ok="Erase"
     data-confirm-cancel="Cancel" data-confirm-tone="danger">. */
  const confirmDialog = (form) => new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.className = "confirm";
    dialog.setAttribute("aria-labelledby", "confirm-text");
    const tone = form.dataset.confirmTone === "danger" ? "danger" : "";
    dialog.innerHTML = `
      <div class="dialog-body">
        <div class="dialog-icon ${tone}"><svg class="icon" aria-hidden="true"><use href="${document.documentElement.dataset.icons}#alert"></use></svg></div>
        <p id="confirm-text"></p>
      </div>
      <form method="dialog">
        <button class="btn" value="cancel"></button>
        <button class="btn ${tone ? "btn-danger" : "btn-primary"}" value="ok"></button>
      </form>`;
    dialog.querySelector("#confirm-text").textContent = form.dataset.confirm;
    const [cancel, ok] = dialog.querySelectorAll("button");
    cancel.textContent = form.dataset.confirmCancel || "Cancel";
    ok.textContent = form.dataset.confirmOk || "OK";
    dialog.addEventListener("close", () => { resolve(dialog.returnValue === "ok"); dialog.remove(); });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm || form.dataset.confirmed) return;
    event.preventDefault();
    if (await confirmDialog(form)) {
      form.dataset.confirmed = "1";
      const submitter = event.submitter;
      if (submitter && submitter.name) {
        const carry = document.createElement("input");
        carry.type = "hidden"; carry.name = submitter.name; carry.value = submitter.value;
        form.append(carry);
      }
      form.submit();
    }
  });

  /* Birthday month names follow the calendar chosen next to them. */
  document.querySelectorAll("select[data-calendar-for]").forEach((calendar) => {
    const month = document.getElementById(calendar.dataset.calendarFor);
    if (!month) return;
    const relabel = () => {
      const names = JSON.parse(month.dataset[`months${calendar.value === "jalali" ? "Jalali" : "Gregorian"}`] || "[]");
      [...month.options].forEach((option) => {
        const n = Number(option.value);
        if (n >= 1 && n <= 12 && names[n - 1]) option.textContent = names[n - 1];
      });
    };
    calendar.addEventListener("change", relabel);
  });

  /* Forms marked data-disable-on-submit cannot be sent twice by a double click. */
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && !event.defaultPrevented && form.hasAttribute("data-disable-on-submit")) {
      setTimeout(() => form.querySelectorAll("button[type=submit], button:not([type])").forEach((b) => { b.disabled = true; }), 0);
    }
  });
})();
