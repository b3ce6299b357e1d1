/* Segment builder: conditions from menus, nested groups, a live count.
   The form's <textarea name="rules"> always holds the rule as JSON; this script draws it
   as menus, writes every change back, and counts it through POST /api/v1/segments/count.
   Without this script the textarea is shown and the page's "Count" button counts. */
(() => {
  "use strict";

  const root = document.querySelector("[data-segment-builder]");
  if (!root) return;
  const form = root.closest("form");
  const textarea = form.querySelector("textarea[name=rules]");
  const fallback = form.querySelector("[data-rules-fallback]");
  const status = form.querySelector("[data-segment-count]");
  const countButton = form.querySelector("[data-count-button]");
  const catalogue = JSON.parse(root.dataset.catalogue);
  const T = catalogue.texts;
  const lang = catalogue.language;
  const fields = new Map(catalogue.fields.map((f) => [f.name, f]));
  const MAX_DEPTH = 3;
  let serial = 0;

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  };
  const uid = (stem) => `${stem}-${++serial}`;

  /* Numbers typed in Persian or Arabic digits, with local separators. */
  const asciiNumber = (text) => String(text)
    .replace(/[۰-۹]/g, (d) => String("۰۱۲۳۴۵۶۷۸۹".indexOf(d)))
    .replace(/[٠-٩]/g, (d) => String("٠١٢٣٤٥٦٧٨٩".indexOf(d)))
    .replace(/[٫]/g, ".").replace(/[٬,\s]/g, "").trim();
  const formatCount = (n) => new Intl.NumberFormat(lang === "ar" ? "ar-EG" : lang).format(n);
  const moneyScale = 10 ** catalogue.money_digits;

  /* ----------------------------------------------------------------- reading the rule */

  const load = () => {
    try {
      const data = JSON.parse(textarea.value || "{}");
      if (data && (Array.isArray(data.all) || Array.isArray(data.any))) return data;
    } catch (error) { /* fall through: start empty */ }
    return { all: [] };
  };

  /* ----------------------------------------------------------------- value editors */

  const choiceEditor = (field, op, value, onChange) => {
    if (op === "in") {
      const chosen = new Set((Array.isArray(value) ? value : []).map(String));
      const box = el("div", { class: "choice-list", role: "group", "aria-label": T.value });
      for (const choice of field.choices) {
        const id = uid("c");
        const input = el("input", { type: "checkbox", id, value: String(choice.value) });
        input.checked = chosen.has(String(choice.value));
        input.addEventListener("change", onChange);
        box.append(el("label", { class: "check", for: id }, input, el("span", { text: choice.label })));
      }
      box.read = () => [...box.querySelectorAll("input:checked")].map((i) => typed(field, i.value));
      return box;
    }
    const select = el("select", { "aria-label": T.value });
    select.append(el("option", { value: "", text: "—" }));
    for (const choice of field.choices) {
      const option = el("option", { value: String(choice.value), text: choice.label });
      if (value !== undefined && value !== null && String(value) === String(choice.value)) option.selected = true;
      select.append(option);
    }
    select.addEventListener("change", onChange);
    select.read = () => (select.value === "" ? null : typed(field, select.value));
    return select;
  };

  const typed = (field, raw) => {
    if (field.kind === "boolean") return raw === "true";
    if (["integer", "days", "month"].includes(field.kind)) return Number(raw);
    return raw;
  };

  const shownNumber = (field, value) => {
    if (value === undefined || value === null || value === "") return "";
    if (field.kind === "money") return String(Number(value) / moneyScale);
    return String(value);
  };

  const readNumber = (field, text) => {
    const clean = asciiNumber(text);
    if (clean === "") return null;
    const number = Number(clean);
    if (!Number.isFinite(number)) return clean; /* the server names the fault */
    if (field.kind === "money") return Math.round(number * moneyScale);
    if (field.kind === "ratio") return number;
    return Number.isInteger(number) ? number : clean;
  };

  const inputEditor = (field, op, value, onChange) => {
    const numeric = ["integer", "days", "money", "ratio"].includes(field.kind);
    const list = op === "in";
    const attrs = { "aria-label": T.value, autocomplete: "off" };
    let input;
    if (field.kind === "date" && !list) {
      input = el("input", { ...attrs, type: "date", dir: "ltr" });
      input.value = value || "";
    } else {
      input = el("input", {
        ...attrs,
        type: "text",
        inputmode: numeric ? (field.kind === "integer" || field.kind === "days" ? "numeric" : "decimal") : null,
        placeholder: list ? T.list_hint : null,
        dir: numeric || field.kind === "date" ? "ltr" : null,
      });
      const values = list ? (Array.isArray(value) ? value : []) : [value];
      input.value = values
        .filter((v) => v !== undefined && v !== null && v !== "")
        .map((v) => (numeric ? shownNumber(field, v) : String(v)))
        .join(list ? ", " : "");
    }
    input.addEventListener("input", onChange);
    input.read = () => {
      const one = (text) => (numeric ? readNumber(field, text) : String(text).trim() || null);
      if (!list) return one(input.value);
      const parts = input.value.split(/[,،؛]/).map((p) => one(p)).filter((p) => p !== null && p !== "");
      return parts.length ? parts : null;
    };
    return input;
  };

  const editorFor = (field, op, value, onChange) =>
    (field.choices ? choiceEditor : inputEditor)(field, op, value, onChange);

  /* ----------------------------------------------------------------- conditions and groups */

  const fieldSelect = (current) => {
    const select = el("select", { class: "cond-field", "aria-label": T.field });
    for (const group of catalogue.groups) {
      const optgroup = el("optgroup", { label: group.label });
      for (const field of catalogue.fields.filter((f) => f.group === group.key)) {
        const option = el("option", { value: field.name, text: field.label });
        option.selected = field.name === current;
        optgroup.append(option);
      }
      select.append(optgroup);
    }
    return select;
  };

  const condition = (data) => {
    const row = el("li", { class: "cond" });
    let field = fields.get(data.field) || catalogue.fields[0];
    const fieldBox = fieldSelect(field.name);
    const opBox = el("select", { class: "cond-op", "aria-label": T.operator });
    const valueSlot = el("div", { class: "cond-value" });
    const help = el("p", { class: "cond-help hint" });
    const remove = el("button", { type: "button", class: "btn btn-ghost btn-sm cond-remove", "aria-label": T.remove, title: T.remove });
    remove.innerHTML = '<svg class="icon" aria-hidden="true"><use href="' + document.documentElement.dataset.icons + '#x"></use></svg>';
    let editor = null;

    const fillOps = (op) => {
      opBox.replaceChildren(...field.ops.map((o) => {
        const option = el("option", { value: o.op, text: o.label });
        option.selected = o.op === op;
        return option;
      }));
    };
    const fillValue = (value) => {
      editor = editorFor(field, opBox.value, value, changed);
      valueSlot.replaceChildren(editor);
      help.textContent = field.help || "";
    };
    fieldBox.addEventListener("change", () => {
      field = fields.get(fieldBox.value);
      fillOps(field.ops[0].op);
      fillValue(null);
      changed();
    });
    opBox.addEventListener("change", () => {
      const before = editor ? editor.read() : null;
      const keep = Array.isArray(before) ? before[0] : before;
      fillValue(opBox.value === "in" ? (keep === null || keep === undefined ? [] : [keep]) : keep);
      changed();
    });
    remove.addEventListener("click", () => { row.remove(); changed(); });

    const op = field.ops.some((o) => o.op === data.op) ? data.op : (data.op === "contains" && field.ops.some((o) => o.op === "=") ? "=" : field.ops[0].op);
    fillOps(op);
    fillValue(data.value);
    row.append(el("div", { class: "cond-line" }, fieldBox, opBox, valueSlot, remove), help);
    row.read = () => ({ field: field.name, op: opBox.value, value: editor.read() });
    return row;
  };

  const group = (data, depth) => {
    const key = Array.isArray(data.any) ? "any" : "all";
    const box = el("div", { class: depth ? "group nested" : "group" });
    const kind = el("select", { class: "group-kind", "aria-label": depth ? T.group_all : T.match_all });
    const labels = depth ? [T.group_all, T.group_any] : [T.match_all, T.match_any];
    ["all", "any"].forEach((k, i) => {
      const option = el("option", { value: k, text: labels[i] });
      option.selected = k === key;
      kind.append(option);
    });
    kind.addEventListener("change", changed);
    const items = el("ul", { class: "group-items" });
    for (const item of data[key] || []) {
      items.append(Array.isArray(item.all) || Array.isArray(item.any) ? groupItem(item, depth + 1) : condition(item));
    }
    const addCond = el("button", { type: "button", class: "btn btn-sm", text: "+ " + T.add_condition });
    addCond.addEventListener("click", () => {
      const first = catalogue.fields[0];
      const row = condition({ field: first.name, op: first.ops[0].op, value: null });
      items.append(row);
      row.querySelector("select").focus();
      changed();
    });
    const tools = el("div", { class: "group-tools" }, addCond);
    if (depth < MAX_DEPTH - 1) {
      const addGroup = el("button", { type: "button", class: "btn btn-sm btn-ghost", text: "+ " + T.add_group });
      addGroup.addEventListener("click", () => {
        const first = catalogue.fields[0];
        items.append(groupItem({ any: [{ field: first.name, op: first.ops[0].op, value: null }] }, depth + 1));
        changed();
      });
      tools.append(addGroup);
    }
    const head = el("div", { class: "group-head" }, kind);
    box.append(head, items, tools);
    box.head = head;
    box.read = () => ({ [kind.value]: [...items.children].map((child) => child.read()) });
    return box;
  };

  const groupItem = (data, depth) => {
    const li = el("li", { class: "cond cond-group" });
    const inner = group(data, depth);
    const remove = el("button", { type: "button", class: "btn btn-ghost btn-sm cond-remove", "aria-label": T.remove, title: T.remove });
    remove.innerHTML = '<svg class="icon" aria-hidden="true"><use href="' + document.documentElement.dataset.icons + '#x"></use></svg>';
    remove.addEventListener("click", () => { li.remove(); changed(); });
    inner.head.append(remove);
    li.append(inner);
    li.read = () => inner.read();
    return li;
  };

  /* ----------------------------------------------------------------- errors */

  /* Each row's path in the rule (["all", 0, "any", 1]) as the API's error "loc" names it. */
  const paths = () => {
    const out = [];
    const walk = (box, prefix) => {
      const key = box.querySelector(":scope > .group-head > .group-kind").value;
      [...box.querySelector(":scope > .group-items").children].forEach((li, i) => {
        const here = [...prefix, key, i];
        out.push([here.join("."), li]);
        const inner = li.querySelector(":scope > .group");
        if (inner) walk(inner, here);
      });
    };
    walk(top, []);
    return out;
  };

  const showErrors = (errors) => {
    root.querySelectorAll(".cond.invalid").forEach((row) => row.classList.remove("invalid"));
    root.querySelectorAll(".cond-error").forEach((node) => node.remove());
    const rows = new Map(paths());
    for (const error of errors) {
      const loc = (error.loc || []).filter((p) => p !== "body" && p !== "rules");
      while (loc.length && !rows.has(loc.join("."))) loc.pop();
      const row = rows.get(loc.join("."));
      if (!row) continue;
      row.classList.add("invalid");
      if (!row.querySelector(":scope > .cond-error")) {
        row.append(el("p", { class: "cond-error error", role: "alert", text: error.msg }));
      }
    }
  };

  /* ----------------------------------------------------------------- counting */

  let timer = 0;
  let controller = null;
  const complete = (rule) => {
    const key = rule.all ? "all" : "any";
    return rule[key].every((item) => (item.all || item.any ? complete(item) : item.value !== null && item.value !== undefined && item.value !== ""));
  };
  const say = (text, tone = "") => {
    status.replaceChildren(el("strong", { class: tone, text }));
  };
  const count = async (rule) => {
    controller?.abort();
    controller = new AbortController();
    say(T.counting);
    status.setAttribute("aria-busy", "true");
    try {
      const response = await window.wafa.fetch(root.dataset.countUrl, {
        method: "POST", body: { rules: rule }, signal: controller.signal,
      });
      const body = await response.json();
      if (response.ok) {
        showErrors([]);
        say(T.matching.replace("%(num)s", formatCount(body.count)));
      } else {
        showErrors((body.errors || []).map((e) => ({ loc: e.loc, msg: T.problem })));
        say(T.count_error, "error");
      }
    } catch (error) {
      if (error.name !== "AbortError") say(T.count_error, "error");
    } finally {
      status.removeAttribute("aria-busy");
    }
  };

  function changed() {
    const rule = top.read();
    textarea.value = JSON.stringify(rule);
    clearTimeout(timer);
    if (!complete(rule)) {
      say(T.incomplete);
      return;
    }
    timer = setTimeout(() => count(rule), 350);
  }

  /* ----------------------------------------------------------------- start */

  const top = group(load(), 0);
  root.append(top);
  root.hidden = false;
  if (fallback) fallback.hidden = true;
  if (countButton) countButton.hidden = true;
  const initialErrors = JSON.parse(root.dataset.errors || "[]");
  if (initialErrors.length) showErrors(initialErrors);
  changed();
})();
