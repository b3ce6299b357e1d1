/* Wafa point of sale: find a customer as you type, greet them, record a sale, redeem a reward,
   use a coupon, add a till order's points, enrol a new customer.

   Reads are HTML fragments rendered by the server (/pos/search, /pos/customers/<id>), so
   money, digits and dates read as everywhere else in Wafa. Writes go to the JSON API
   (/api/v1/...) with the session cookie, the CSRF header (wafa.fetch) and an
   Idempotency-Key per attempt: a retry after a lost answer reuses the key, so nothing is
   ever recorded twice; buttons stay disabled while a request is under way. */
(() => {
  "use strict";

  const root = document.getElementById("pos");
  if (!root || !window.wafa) return;

  const T = JSON.parse(document.getElementById("pos-texts").textContent);
  const currency = root.dataset.currency;
  const digits = Number(root.dataset.digits || 2);
  const $ = (selector, scope = root) => scope.querySelector(selector);
  const $$ = (selector, scope = root) => [...scope.querySelectorAll(selector)];
  const rtl = document.documentElement.dir === "rtl";

  /* ------------------------------------------------------------------ numbers */
  const numberFormat = new Intl.NumberFormat(T.lang, { numberingSystem: T.numbering });
  let moneyFormat;
  try {
    moneyFormat = new Intl.NumberFormat(T.lang, {
      style: "currency", currency, numberingSystem: T.numbering,
      minimumFractionDigits: digits, maximumFractionDigits: digits,
    });
  } catch (error) {
    moneyFormat = numberFormat;
  }
  const num = (n) => numberFormat.format(n);
  const money = (minor) => moneyFormat.format(minor / 10 ** digits);
  const fill = (text, params) => text.replace(/%\((\w+)\)s/g, (_, key) => (key in params ? params[key] : ""));

  /* Persian and Arabic digits (and their separators) typed on a tablet read as ASCII. */
  const toAscii = (text) => text
    .replace(/[\u06F0-\u06F9]/g, (ch) => String(ch.charCodeAt(0) - 0x06F0))
    .replace(/[\u0660-\u0669]/g, (ch) => String(ch.charCodeAt(0) - 0x0660))
    .replace(/\u066B/g, ".")
    .replace(/[\u066C\u060C]/g, ",");

  /* "12.50" in major units → 1250 minor units, exactly (no float arithmetic); null if not an amount. */
  const parseAmount = (text) => {
    const clean = toAscii(text).replace(/[\s,]/g, "");
    const found = /^(\d{1,13})(?:\.(\d*))?$/.exec(clean);
    if (!found) return null;
    const fraction = found[2] || "";
    if (fraction.length > digits) return null;
    return Number(found[1]) * 10 ** digits + Number((fraction + "0".repeat(digits)).slice(0, digits) || 0);
  };

  /* ------------------------------------------------------------------ requests */
  /* A version 4 UUID from crypto.getRandomValues: crypto.randomUUID needs HTTPS, and shops
     often serve Wafa over plain HTTP on their own network. */
  const newKey = () => {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };

  /* One key per logical action and body: kept while the answer is unknown (a network error,
     a server error), dropped once the server answered, so the next attempt is new. */
  const attempts = new Map();
  const post = async (action, path, body) => {
    const text = JSON.stringify(body);
    let attempt = attempts.get(action);
    if (!attempt || attempt.body !== text) {
      attempt = { key: newKey(), body: text };
      attempts.set(action, attempt);
    }
    let response;
    try {
      response = await window.wafa.fetch(path, {
        method: "POST", body: text,
        headers: { "Content-Type": "application/json", "Idempotency-Key": attempt.key },
      });
    } catch (error) {
      throw { kind: "network" };
    }
    if (response.status < 500) attempts.delete(action);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw { kind: "problem", status: response.status, problem: data };
    return data;
  };

  const getHtml = async (path, signal) => {
    const response = await fetch(path, { credentials: "same-origin", signal, headers: { Accept: "text/html" } });
    if (response.redirected && new URL(response.url).pathname === "/login") throw { kind: "problem", status: 401, problem: {} };
    if (!response.ok) throw { kind: "problem", status: response.status, problem: {} };
    return response.text();
  };

  const problemSlug = (error) => ((error.problem && error.problem.type) || "").split("/").pop();
  const problemText = (error) => {
    if (!error || error.kind === "network") return T.errors.network;
    const slug = problemSlug(error);
    if (error.status === 401 || slug === "csrf") return T.errors.session;
    if (error.status === 403) return T.errors.role;
    if (slug === "coupon-rejected") return T.coupon[error.problem.reason] || T.errors.generic;
    return T.errors[slug] || T.errors.generic;
  };

  /* Disable a form's buttons while its request runs: a second tap does nothing. */
  const busy = async (form, button, work) => {
    if (form.dataset.busy) return undefined;
    form.dataset.busy = "1";
    const buttons = $$("button", form);
    buttons.forEach((b) => { b.dataset.wasDisabled = b.disabled ? "1" : ""; b.disabled = true; });
    if (button) button.setAttribute("aria-busy", "true");
    try {
      return await work();
    } finally {
      delete form.dataset.busy;
      buttons.forEach((b) => { b.disabled = b.dataset.wasDisabled === "1"; delete b.dataset.wasDisabled; });
      if (button) button.removeAttribute("aria-busy");
    }
  };

  /* ------------------------------------------------------------------ feedback */
  const toastBox = $("[data-pos-toast]");
  let toastTimer = 0;
  const toast = (message, kind = "success") => {
    toastBox.textContent = message;
    toastBox.className = `pos-toast ${kind}`;
    toastBox.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastBox.hidden = true; }, kind === "error" ? 7000 : 4500);
  };

  const fieldError = (form, name, message) => {
    const box = $(`[data-error-for="${name}"]`, form);
    const input = form.elements[name];
    if (input && input.closest) input.closest(".field")?.classList.toggle("invalid", Boolean(message));
    if (!box) return;
    box.replaceChildren();
    if (message) box.append(message);
    box.hidden = !message;
  };
  const clearErrors = (form) => {
    $$("[data-error-for]", form).forEach((box) => { box.hidden = true; box.replaceChildren(); });
    $$(".field.invalid", form).forEach((f) => f.classList.remove("invalid"));
  };

  const dialog = $("[data-pos-dialog]");
  const showCode = (title, sub, code) => {
    $("[data-pos-dialog-title]", dialog).textContent = title;
    $("[data-pos-dialog-sub]", dialog).textContent = sub;
    $("[data-pos-dialog-code]", dialog).textContent = code;
    $("[data-pos-dialog-apply]", dialog).hidden = !code;
    dialog.dataset.code = code || "";
    if (typeof dialog.showModal === "function") dialog.showModal();
    else toast(`${title}: ${code}`);
  };
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "apply" && dialog.dataset.code) {
      selectTab("sale");
      couponInput.value = dialog.dataset.code;
      applyCoupon();
    }
  });

  /* ------------------------------------------------------------------ the customer */
  const search = $("#pos-q");
  const results = $("[data-pos-results]");
  const infoSlot = $('[data-pos-slot="info"]');
  const rewardsSlot = $('[data-pos-slot="rewards"]');
  const forSlot = $('[data-pos-slot="for"]');
  const actions = $("[data-pos-actions]");
  const enrolPanel = $("[data-pos-enrol-panel]");
  const startState = document.getElementById("pos-start");
  let customerId = $("[data-customer-id]")?.dataset.customerId || null;

  const setSearching = (on) => root.classList.toggle("searching", on);
  /* No list, so no active option: a stale aria-activedescendant is invalid ARIA. */
  const clearResults = () => {
    results.replaceChildren();
    search.removeAttribute("aria-activedescendant");
  };

  const updateRewardBadge = () => {
    const card = $("[data-customer-id]");
    const count = card ? Number(card.dataset.rewards || 0) : 0;
    $("[data-pos-reward-count]").textContent = count ? num(count) : "";
  };

  /* Parts another domain adds to the card, fetched once it shows (an event's check-in). */
  const loadParts = (root) => {
    if (!root) return;
    root.querySelectorAll("[data-pos-part]").forEach(async (slot) => {
      try {
        slot.innerHTML = await getHtml(slot.dataset.posPart);
      } catch (error) {
        slot.replaceChildren(); // the card works without it
      }
    });
  };
  loadParts(infoSlot);

  const placeCard = (html) => {
    const template = document.createElement("template");
    template.innerHTML = html;
    const info = template.content.querySelector('[data-part="info"]');
    const offers = template.content.querySelector('[data-part="rewards"]');
    const saleFor = template.content.querySelector('[data-part="for"]');
    if (info) infoSlot.replaceChildren(...info.childNodes);
    if (offers) rewardsSlot.replaceChildren(...offers.childNodes);
    if (saleFor) forSlot.replaceChildren(...saleFor.childNodes);
    updateRewardBadge();
    loadParts(infoSlot);
  };

  /* The receipt view after a sale: the next visit's coupon, when the sale earned one. */
  const lastReceipt = $("[data-pos-last-receipt]");
  const clearReceipt = () => { if (lastReceipt) lastReceipt.replaceChildren(); };
  const showReceipt = async (orderId) => {
    if (!lastReceipt || !orderId) return;
    try {
      lastReceipt.innerHTML = await getHtml(`/pos/orders/${encodeURIComponent(orderId)}/receipt`);
    } catch (error) {
      clearReceipt(); // the sale is recorded; only the coupon's view is missing
    }
  };

  const openCustomer = async (id, { fresh = true } = {}) => {
    if (fresh) clearReceipt();
    let html;
    try {
      html = await getHtml(`/pos/customers/${encodeURIComponent(id)}`);
    } catch (error) {
      toast(problemText(error), "error");
      return;
    }
    if (fresh && id !== customerId) resetSale();
    placeCard(html);
    customerId = id;
    root.classList.add("has-customer");
    actions.hidden = false;
    enrolPanel.hidden = true;
    setSearching(false);
    history.replaceState(null, "", `/pos?customer=${encodeURIComponent(id)}`);
    if (fresh) {
      search.value = "";
      clearResults();
    }
  };
  const refreshCustomer = () => (customerId ? openCustomer(customerId, { fresh: false }) : Promise.resolve());

  const closeCustomer = () => {
    customerId = null;
    resetSale();
    root.classList.remove("has-customer");
    infoSlot.replaceChildren(startState.content.cloneNode(true));
    rewardsSlot.replaceChildren();
    forSlot.replaceChildren();
    actions.hidden = true;
    enrolPanel.hidden = false;
    updateRewardBadge();
    history.replaceState(null, "", "/pos");
    search.focus();
  };

  /* Search as you type: debounced; the latest answer wins. The list on screen answers
     `shownQuery`; ↑/↓ move the highlight through it and Enter opens the highlighted row.
     Only when the list does not answer what is typed yet does Enter wait for the answer,
     then open its best match. */
  let searchTimer = 0;
  let searchController = null;
  let searchSeq = 0;
  let pendingSearch = null;
  let shownQuery = search.value.trim();
  const options = () => $$(".pos-result", results);
  const highlight = (index) => {
    const list = options();
    list.forEach((el, i) => el.setAttribute("aria-selected", String(i === index)));
    if (list[index]) {
      list[index].scrollIntoView({ block: "nearest" });
      search.setAttribute("aria-activedescendant", list[index].id);
    } else {
      search.removeAttribute("aria-activedescendant");
    }
  };
  const selectedIndex = () => options().findIndex((el) => el.getAttribute("aria-selected") === "true");

  const runSearch = () => {
    clearTimeout(searchTimer);
    searchTimer = 0;
    const q = search.value.trim();
    if (!q) {
      setSearching(false);
      clearResults();
      pendingSearch = null;
      shownQuery = "";
      return Promise.resolve();
    }
    if (pendingSearch && pendingSearch.q === q) return pendingSearch;
    if (searchController) searchController.abort();
    searchController = new AbortController();
    const seq = ++searchSeq;
    const kept = options()[selectedIndex()]?.dataset.customer;
    results.setAttribute("aria-busy", "true");
    pendingSearch = getHtml(`/pos/search?q=${encodeURIComponent(q)}`, searchController.signal)
      .then((html) => {
        if (seq !== searchSeq) return;
        results.innerHTML = html;
        shownQuery = q;
        setSearching(true);
        const again = options().findIndex((el) => el.dataset.customer === kept);
        highlight(Math.max(again, 0));
      })
      .catch((error) => { if (error.name !== "AbortError") toast(problemText(error), "error"); })
      .finally(() => { if (seq === searchSeq) { results.removeAttribute("aria-busy"); pendingSearch = null; } });
    pendingSearch.q = q;
    return pendingSearch;
  };

  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 180);
  });
  search.addEventListener("keydown", async (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const list = options();
      if (!list.length) return;
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      const at = selectedIndex();
      highlight(at < 0 ? (step > 0 ? 0 : list.length - 1) : (at + step + list.length) % list.length);
    } else if (event.key === "Enter") {
      event.preventDefault();
      const typed = search.value.trim();
      if (!typed) return;
      if (typed !== shownQuery || !root.classList.contains("searching")) await runSearch();
      if (search.value.trim() !== shownQuery) return; // typed on while waiting: not this list
      const chosen = options()[Math.max(selectedIndex(), 0)];
      if (chosen) openCustomer(chosen.dataset.customer);
    }
  });
  results.addEventListener("mousemove", (event) => {
    const row = event.target.closest(".pos-result");
    if (row && row.getAttribute("aria-selected") !== "true") highlight(options().indexOf(row));
  });
  $("[data-pos-search]").addEventListener("submit", (event) => event.preventDefault());

  results.addEventListener("click", (event) => {
    const link = event.target.closest(".pos-result");
    if (!link) return;
    event.preventDefault();
    openCustomer(link.dataset.customer);
  });

  infoSlot.addEventListener("click", (event) => {
    const more = event.target.closest("[data-pos-more]");
    if (more) {
      const open = more.getAttribute("aria-expanded") !== "true";
      more.setAttribute("aria-expanded", String(open));
      document.getElementById(more.getAttribute("aria-controls"))?.classList.toggle("open", open);
      return;
    }
    if (event.target.closest("[data-pos-clear]")) {
      event.preventDefault();
      closeCustomer();
      return;
    }
    const fav = event.target.closest("[data-pos-fav]");
    if (fav) {
      selectTab("sale");
      productInput.value = fav.dataset.posFav;
      findProducts();
      productInput.focus();
      return;
    }
    const code = event.target.closest("[data-pos-use-code]");
    if (code) {
      selectTab("sale");
      couponInput.value = code.dataset.posUseCode;
      applyCoupon();
    }
  });

  /* Esc clears the search, then the customer; "/" jumps to the search from anywhere. */
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || (dialog.open && event.key === "Escape")) return;
    const typing = event.target.matches("input, select, textarea");
    if (event.key === "Escape") {
      if (document.querySelector("details.menu[open]")) return;
      if (search.value) {
        search.value = "";
        runSearch();
        search.focus();
      } else if (customerId) {
        closeCustomer();
      } else if (typing && event.target !== search) {
        search.focus();
      }
    } else if (event.key === "/" && !typing) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  });

  /* ------------------------------------------------------------------ tabs */
  const tabs = $$('[role="tab"]');
  const selectTab = (name) => {
    tabs.forEach((tab) => {
      const on = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      document.getElementById(tab.getAttribute("aria-controls")).hidden = !on;
    });
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => selectTab(tab.dataset.tab));
    tab.addEventListener("keydown", (event) => {
      const forward = rtl ? "ArrowLeft" : "ArrowRight";
      const back = rtl ? "ArrowRight" : "ArrowLeft";
      if (event.key !== forward && event.key !== back) return;
      event.preventDefault();
      const next = tabs[(i + (event.key === forward ? 1 : -1) + tabs.length) % tabs.length];
      selectTab(next.dataset.tab);
      next.focus();
    });
  });

  /* ------------------------------------------------------------------ the sale */
  const saleForm = $("[data-pos-sale]");
  const productInput = $("[data-pos-product]");
  const productBox = $("[data-pos-products]");
  const amountInput = $("[data-pos-amount]");
  const cartList = $("[data-pos-cart]");
  const couponInput = $("[data-pos-sale-coupon]");
  const appliedBox = $("[data-pos-applied]");
  const receiptInput = $("[data-pos-receipt]");
  const recordButton = $("[data-pos-record]");
  const cart = [];
  let coupon = null; // {code, discount}
  let saleRef = "";

  const newSaleRef = () => {
    const alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    const bytes = crypto.getRandomValues(new Uint8Array(10));
    return `POS-${[...bytes].map((b) => alphabet[b % alphabet.length]).join("")}`;
  };
  saleRef = newSaleRef();

  const subtotal = () => cart.reduce((sum, line) => sum + line.unit_price * line.quantity, 0);

  const renderCart = () => {
    cartList.replaceChildren(...cart.map((line, index) => {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "line-name";
      name.textContent = line.name;
      const qty = document.createElement("span");
      qty.className = "qty";
      const minus = document.createElement("button");
      minus.type = "button"; minus.textContent = "−"; minus.dataset.step = "-1"; minus.dataset.index = index;
      minus.setAttribute("aria-label", `− ${line.name}`);
      const count = document.createElement("span");
      count.textContent = num(line.quantity);
      const plus = document.createElement("button");
      plus.type = "button"; plus.textContent = "+"; plus.dataset.step = "1"; plus.dataset.index = index;
      plus.setAttribute("aria-label", `+ ${line.name}`);
      qty.append(minus, count, plus);
      const total = document.createElement("span");
      total.className = "line-total";
      total.textContent = money(line.unit_price * line.quantity);
      const remove = document.createElement("button");
      remove.type = "button"; remove.className = "line-remove"; remove.dataset.remove = index;
      remove.setAttribute("aria-label", `${T.text.remove}: ${line.name}`);
      remove.innerHTML = `<svg class="icon icon-sm" aria-hidden="true"><use href="${document.documentElement.dataset.icons}#x"></use></svg>`;
      li.append(name, qty, total, remove);
      return li;
    }));
    $("[data-pos-cart-empty]").hidden = cart.length > 0;
    const sub = subtotal();
    const off = coupon ? Math.min(coupon.discount, sub) : 0;
    $("[data-pos-subtotal]").textContent = cart.length ? money(sub) : "—";
    $("[data-pos-discount-row]").hidden = !coupon;
    $("[data-pos-discount]").textContent = coupon ? `−${money(off)}` : "";
    $("[data-pos-total]").textContent = cart.length ? money(sub - off) : "—";
    recordButton.disabled = cart.length === 0;
    $("span", recordButton).textContent = cart.length
      ? `${recordButton.dataset.label || (recordButton.dataset.label = $("span", recordButton).textContent)} · ${money(sub - off)}`
      : (recordButton.dataset.label || $("span", recordButton).textContent);
  };

  const addLine = (line) => {
    const same = cart.find((l) => l.sku && l.sku === line.sku && l.unit_price === line.unit_price);
    if (same) same.quantity += 1;
    else cart.push({ ...line, quantity: 1 });
    renderCart();
    if (coupon) revalidateCoupon();
  };

  cartList.addEventListener("click", (event) => {
    const step = event.target.closest("[data-step]");
    const remove = event.target.closest("[data-remove]");
    if (step) {
      const line = cart[Number(step.dataset.index)];
      line.quantity = Math.max(1, Math.min(10000, line.quantity + Number(step.dataset.step)));
    } else if (remove) {
      cart.splice(Number(remove.dataset.remove), 1);
    } else {
      return;
    }
    renderCart();
    if (coupon) revalidateCoupon();
  });

  let productTimer = 0;
  let productController = null;
  const findProducts = async () => {
    clearTimeout(productTimer);
    const q = productInput.value.trim();
    if (!q) { productBox.replaceChildren(); return; }
    if (productController) productController.abort();
    productController = new AbortController();
    try {
      const response = await fetch(`/api/v1/products?limit=12&q=${encodeURIComponent(toAscii(q))}`, {
        credentials: "same-origin", signal: productController.signal, headers: { Accept: "application/json" },
      });
      if (!response.ok) throw { kind: "problem", status: response.status, problem: {} };
      const page = await response.json();
      const items = (page.items || []).filter((p) => p.active !== false);
      if (!items.length) {
        const none = document.createElement("p");
        none.className = "muted";
        none.textContent = T.text.no_products;
        productBox.replaceChildren(none);
        return;
      }
      productBox.replaceChildren(...items.map((p) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "pos-product";
        button.dataset.product = JSON.stringify({ sku: p.sku, name: p.name, unit_price: p.price_amount ?? p.price ?? 0, category: p.category || null });
        const name = document.createElement("span"); name.className = "name"; name.textContent = p.name;
        const price = document.createElement("span"); price.className = "price"; price.textContent = money(p.price_amount ?? p.price ?? 0);
        button.append(name, price);
        return button;
      }));
    } catch (error) {
      if (error.name !== "AbortError") toast(problemText(error), "error");
    }
  };
  productInput.addEventListener("input", () => { clearTimeout(productTimer); productTimer = setTimeout(findProducts, 200); });
  productInput.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const first = $(".pos-product", productBox);
    if (first) first.click();
    else findProducts();
  });
  productBox.addEventListener("click", (event) => {
    const button = event.target.closest("[data-product]");
    if (!button) return;
    addLine(JSON.parse(button.dataset.product));
  });

  const addAmount = () => {
    fieldError(saleForm, "amount", "");
    const amount = parseAmount(amountInput.value);
    if (amount === null || amount <= 0) {
      fieldError(saleForm, "amount", T.fields.amount);
      amountInput.focus();
      return;
    }
    cart.push({ sku: null, name: T.text.sale, unit_price: amount, quantity: 1, category: null });
    amountInput.value = "";
    renderCart();
    if (coupon) revalidateCoupon();
  };
  $("[data-pos-add-amount]").addEventListener("click", addAmount);
  amountInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); addAmount(); }
  });

  const cartLines = () => cart.map((l) => ({ sku: l.sku || undefined, quantity: l.quantity, unit_price: l.unit_price }));

  const showApplied = () => {
    appliedBox.replaceChildren();
    appliedBox.hidden = !coupon;
    if (!coupon) return;
    const code = document.createElement("bdi");
    code.dir = "ltr"; code.className = "mono"; code.textContent = coupon.code;
    const text = document.createElement("span");
    text.className = "grow";
    text.textContent = coupon.discount ? ` −${money(coupon.discount)}` : ` ${T.text.coupon_ok_item}`;
    const remove = document.createElement("button");
    remove.type = "button"; remove.className = "line-remove"; remove.setAttribute("aria-label", T.text.remove);
    remove.innerHTML = `<svg class="icon icon-sm" aria-hidden="true"><use href="${document.documentElement.dataset.icons}#x"></use></svg>`;
    remove.addEventListener("click", () => { coupon = null; showApplied(); renderCart(); });
    appliedBox.append(code, text, remove);
  };

  const validate = (code, total, lines) => post(`validate:${code}`, "/api/v1/coupons/validate", {
    code, customer_id: customerId, subtotal: total, lines,
  });

  const applyCoupon = async () => {
    fieldError(saleForm, "coupon", "");
    const code = toAscii(couponInput.value).trim().toUpperCase();
    if (!code) return;
    await busy(saleForm, $("[data-pos-apply-coupon]"), async () => {
      try {
        const result = await validate(code, subtotal(), cartLines());
        if (!result.valid) {
          fieldError(saleForm, "coupon", T.coupon[result.reason] || T.errors.generic);
          return;
        }
        coupon = { code, discount: result.discount };
        couponInput.value = "";
        showApplied();
        renderCart();
      } catch (error) {
        fieldError(saleForm, "coupon", problemText(error));
      }
    });
  };
  let revalidateTimer = 0;
  const revalidateCoupon = () => {
    clearTimeout(revalidateTimer);
    revalidateTimer = setTimeout(async () => {
      if (!coupon) return;
      try {
        const result = await validate(coupon.code, subtotal(), cartLines());
        if (!coupon) return;
        if (!result.valid) {
          fieldError(saleForm, "coupon", T.coupon[result.reason] || T.errors.generic);
          coupon = null;
        } else {
          coupon.discount = result.discount;
        }
        showApplied();
        renderCart();
      } catch (error) { /* the check runs again at the next change */ }
    }, 250);
  };
  $("[data-pos-apply-coupon]").addEventListener("click", applyCoupon);
  couponInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); applyCoupon(); }
  });

  const resetSale = () => {
    cart.length = 0;
    coupon = null;
    saleRef = newSaleRef();
    receiptInput.value = "";
    couponInput.value = "";
    productInput.value = "";
    productBox.replaceChildren();
    clearErrors(saleForm);
    showApplied();
    renderCart();
  };

  const pointsMessage = (result, { sale = false } = {}) => {
    if (sale && !result.created) return T.text.already; // the same receipt, recorded before
    const parts = [result.points ? fill(T.text.points_earned, { points: num(result.points) }) : T.text.no_points];
    if (result.stamps) parts.push(fill(T.text.stamps, { stamps: num(result.stamps) }));
    return parts.join(" · ");
  };

  const announceResult = (title, result, options = {}) => {
    const codes = result.coupons_issued || [];
    if (codes.length) {
      showCode(title, pointsMessage(result, options), codes[0]); // a stamp card was completed
    } else {
      toast(`${title}: ${pointsMessage(result, options)}`, result.created === false && options.sale ? "info" : "success");
    }
  };

  saleForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!customerId || !cart.length) return;
    clearErrors(saleForm);
    const sub = subtotal();
    const body = {
      customer_id: customerId,
      reference: toAscii(receiptInput.value).trim() || saleRef,
      lines: cart.map((l) => ({
        sku: l.sku || undefined, name: l.name, quantity: l.quantity, unit_price: l.unit_price, category: l.category || undefined,
      })),
      coupon_codes: coupon ? [coupon.code] : [],
      discount: coupon ? Math.min(coupon.discount, sub) : 0,
    };
    busy(saleForm, recordButton, async () => {
      try {
        const result = await post("sale", "/api/v1/pos/purchases", body);
        resetSale();
        // The printable receipt page of this sale (its own element: the receipt view
        // above, data-pos-last-receipt, shows the next visit's coupon).
        const receiptPage = $("[data-pos-receipt-page]");
        if (receiptPage && result.order_id) {
          $("[data-pos-receipt-page-link]", receiptPage).href = `/pos/receipt/${encodeURIComponent(result.order_id)}`;
          receiptPage.hidden = false;
        }
        await refreshCustomer();
        await showReceipt(result.order_id);
        announceResult(T.text.recorded, result, { sale: true });
      } catch (error) {
        if (problemSlug(error) === "invalid") fieldError(saleForm, "coupon", problemText(error));
        toast(problemText(error), "error");
      }
    });
  });

  /* ------------------------------------------------------------------ rewards */
  rewardsSlot.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-pos-redeem]");
    if (!form || !customerId) return;
    event.preventDefault();
    const button = $("button[type=submit]", form);
    busy(form, button, async () => {
      try {
        const result = await post(`redeem:${form.elements.reward_id.value}`, `/api/v1/customers/${customerId}/redemptions`, {
          reward_id: form.elements.reward_id.value,
        });
        await refreshCustomer();
        showCode(T.text.redeemed, result.reward_name, result.coupon_code || "");
      } catch (error) {
        toast(problemText(error), "error");
        if (problemSlug(error) === "insufficient-points") refreshCustomer();
      }
    });
  });

  /* ------------------------------------------------------------------ a coupon on a till sale */
  const couponForm = $("[data-pos-coupon]");
  const couponResult = $("[data-pos-coupon-result]");
  const readCouponForm = () => {
    clearErrors(couponForm);
    couponResult.hidden = true;
    const code = toAscii(couponForm.elements.code.value).trim().toUpperCase();
    const total = parseAmount(couponForm.elements.subtotal.value);
    let ok = true;
    if (!code) { fieldError(couponForm, "code", T.fields.required); ok = false; }
    if (total === null) { fieldError(couponForm, "subtotal", T.fields.amount); ok = false; }
    return ok ? { code, total } : null;
  };
  const showCheck = (ok, text) => {
    couponResult.textContent = text;
    couponResult.className = `pos-check ${ok ? "ok" : "bad"}`;
    couponResult.hidden = false;
  };
  $("[data-pos-coupon-check]").addEventListener("click", () => {
    const read = readCouponForm();
    if (!read) return;
    busy(couponForm, $("[data-pos-coupon-check]"), async () => {
      try {
        const result = await validate(read.code, read.total, []);
        if (result.valid) showCheck(true, result.discount ? fill(T.text.coupon_ok, { discount: money(result.discount) }) : T.text.coupon_ok_item);
        else showCheck(false, T.coupon[result.reason] || T.errors.generic);
      } catch (error) {
        showCheck(false, problemText(error));
      }
    });
  });
  couponForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const read = readCouponForm();
    const ref = toAscii(couponForm.elements.order_ref.value).trim();
    if (!ref) fieldError(couponForm, "order_ref", T.fields.required);
    if (!read || !ref || !customerId) return;
    busy(couponForm, $("[data-pos-coupon-use]"), async () => {
      try {
        const use = await post(`use:${read.code}:${ref}`, `/api/v1/coupons/${encodeURIComponent(read.code)}/redeem`, {
          order_ref: ref, customer_id: customerId, subtotal: read.total,
        });
        couponForm.reset();
        showCheck(true, fill(T.text.coupon_used, { discount: money(use.discount_amount || 0) }));
        toast(fill(T.text.coupon_used, { discount: money(use.discount_amount || 0) }), "success");
        refreshCustomer();
      } catch (error) {
        showCheck(false, problemText(error));
      }
    });
  });

  /* ------------------------------------------------------------------ a till order */
  const attachForm = $("[data-pos-attach]");
  attachForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(attachForm);
    const number = toAscii(attachForm.elements.number.value).trim();
    if (!number) { fieldError(attachForm, "number", T.fields.required); return; }
    if (!customerId) return;
    busy(attachForm, $("button[type=submit]", attachForm), async () => {
      try {
        const result = await post(`attach:${number}`, "/api/v1/pos/attach", { customer_id: customerId, number });
        attachForm.reset();
        await refreshCustomer();
        announceResult(T.text.attached, result);
      } catch (error) {
        fieldError(attachForm, "number", problemText(error));
      }
    });
  });

  /* ------------------------------------------------------------------ enrolment */
  const enrolForm = $("[data-pos-enrol]");
  const FIELD_OF = { name: "name", phone: "phone", email: "email", birthday: "birthday", day: "birthday", month: "birthday", referral_code: "referral_code", code: "referral_code" };
  const openEnrol = (prefill = "") => {
    if (customerId) closeCustomer();
    search.value = "";
    clearResults();
    setSearching(false);
    enrolForm.reset();
    clearErrors(enrolForm);
    const typed = toAscii(prefill).trim();
    if (typed) {
      if (/^[+\d\s()-]{3,}$/.test(typed)) enrolForm.elements.phone.value = typed;
      else if (typed.includes("@")) enrolForm.elements.email.value = typed;
      else enrolForm.elements.name.value = prefill.trim();
    }
    enrolPanel.hidden = false;
    (enrolForm.elements.name.value ? enrolForm.elements.phone.value ? enrolForm.elements.sms_consent : enrolForm.elements.phone : enrolForm.elements.name).focus();
  };
  root.addEventListener("click", (event) => {
    const trigger = event.target.closest("[data-pos-new]");
    if (trigger) openEnrol(trigger.dataset.prefill || "");
  });

  enrolForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(enrolForm);
    const f = enrolForm.elements;
    const name = f.name.value.trim();
    const phone = toAscii(f.phone.value).trim();
    const email = f.email.value.trim();
    const day = toAscii(f.day.value).trim();
    const month = f.month.value;
    let ok = true;
    if (!name) { fieldError(enrolForm, "name", T.fields.required); ok = false; }
    if (!phone && !email) { fieldError(enrolForm, "phone", T.fields.contact); ok = false; }
    if ((day && !month) || (!day && month) || (day && !/^\d{1,2}$/.test(day))) { fieldError(enrolForm, "birthday", T.fields.birthday); ok = false; }
    if (!ok) return;
    const body = {
      name,
      phone: phone || null,
      email: email || null,
      sms_consent: f.sms_consent.checked,
      email_consent: f.email_consent.checked,
      birthday: day && month ? { day: Number(day), month: Number(month), calendar: f.calendar.value } : null,
      referral_code: toAscii(f.referral_code.value).trim() || null,
    };
    busy(enrolForm, $("button[type=submit]", enrolForm), async () => {
      try {
        const summary = await post("enrol", "/api/v1/pos/enrol", body);
        toast(fill(T.text.enrolled, { name: `\u2068${summary.greeting_name || summary.name || ""}\u2069` }), "success");
        enrolForm.reset();
        await openCustomer(summary.id);
      } catch (error) {
        const slug = problemSlug(error);
        const problem = error.problem || {};
        if (slug === "customer-conflict") {
          const field = problem.field === "email" ? "email" : "phone";
          fieldError(enrolForm, field, T.errors["customer-conflict"]);
          if (problem.customer_id) {
            const open = document.createElement("button");
            open.type = "button";
            open.className = "btn btn-sm";
            open.textContent = T.text.open_existing;
            open.addEventListener("click", () => openCustomer(problem.customer_id));
            $(`[data-error-for="${field}"]`, enrolForm).append(" ", open);
          }
        } else if (slug === "invalid" && Array.isArray(problem.errors) && problem.errors.length) {
          for (const err of problem.errors) {
            const loc = (err.loc || []).filter((p) => p !== "body");
            const field = FIELD_OF[loc.find((p) => FIELD_OF[p])] || (loc.length ? "form" : "phone");
            fieldError(enrolForm, field, T.fields[field] || (field === "phone" && !loc.length ? T.fields.contact : T.fields.invalid));
          }
        } else if (slug === "not-found" || slug === "already-referred") {
          fieldError(enrolForm, "referral_code", slug === "not-found" ? T.fields.invalid : T.errors["already-referred"]);
        } else {
          fieldError(enrolForm, "form", problemText(error));
          toast(problemText(error), "error");
        }
      }
    });
  });

  /* ------------------------------------------------------------------ start */
  renderCart();
  updateRewardBadge();
  if (search.value.trim()) setSearching(true);
  if (!customerId && !search.value) enrolPanel.hidden = false;
})();
