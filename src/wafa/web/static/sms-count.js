/* A live SMS count under each text of an SMS or WhatsApp campaign while it is typed.
   The rules are wafa.messaging.sms's, character for character (3GPP TS 23.038): a text
   entirely in the GSM 7-bit alphabet takes 160 septets in one SMS, 153 per part when
   split, extension characters two septets; anything else makes the whole text UCS-2:
   70 UTF-16 code units in one SMS, 67 per part. tests/messaging/test_sms_js.py runs
   this file in Node and checks it agrees with Python on Persian, Arabic, emoji and more.
   The count includes the opt-out word the campaign appends (data-sms-suffix).
   Without this script the campaign's page shows the counts of the saved text. */
(() => {
  "use strict";

  const GSM7_BASIC = new Set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
  );
  const GSM7_EXTENSION = new Set("^{}\\[~]|€\f");

  /* {encoding, units, segments, perSegment}: count_segments in wafa/messaging/sms.py. */
  const count = (text) => {
    const chars = Array.from(text); // code points, as Python iterates a str
    let units, single, multi, encoding;
    if (chars.every((c) => GSM7_BASIC.has(c) || GSM7_EXTENSION.has(c))) {
      units = chars.reduce((n, c) => n + (GSM7_EXTENSION.has(c) ? 2 : 1), 0);
      [single, multi, encoding] = [160, 153, "GSM-7"];
    } else {
      units = text.length; // UTF-16 code units
      [single, multi, encoding] = [70, 67, "UCS-2"];
    }
    if (units <= single) return { encoding, units, segments: units ? 1 : 0, perSegment: single };
    return { encoding, units, segments: Math.ceil(units / multi), perSegment: multi };
  };

  const api = { count, GSM7_BASIC: [...GSM7_BASIC].join(""), GSM7_EXTENSION: [...GSM7_EXTENSION].join("") };
  if (typeof module !== "undefined" && module.exports) {
    module.exports = api;
    return;
  }
  window.WafaSms = api;

  const form = document.querySelector("form[data-sms-form]");
  if (!form) return;
  const channel = form.querySelector("select[name=channel]");
  const digits = form.dataset.digits || "0123456789";
  const local = (n) => String(n).replace(/[0-9]/g, (d) => digits[Number(d)]);
  const outputs = [...form.querySelectorAll("output[data-sms-count]")];

  const update = (output) => {
    const textarea = document.getElementById(output.htmlFor.value);
    const text = textarea.value;
    const found = count(text ? text.replace(/\s+$/, "") + output.dataset.smsSuffix : "");
    output.textContent = output.dataset.smsFormat
      .replace("{units}", local(found.units))
      .replace("{segments}", local(found.segments))
      .replace("{encoding}", found.encoding);
    output.dataset.segments = String(found.segments);
  };
  const show = () => {
    const counted = channel && channel.value !== "email";
    for (const output of outputs) {
      output.hidden = !counted;
      if (counted) update(output);
    }
  };
  for (const output of outputs) {
    const textarea = document.getElementById(output.htmlFor.value);
    textarea.addEventListener("input", () => { if (!output.hidden) update(output); });
  }
  if (channel) channel.addEventListener("change", show);
  show();
})();
