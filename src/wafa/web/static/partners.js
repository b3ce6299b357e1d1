// The partner page's link on the owner's dashboard: a Copy button, shown only where the
// browser can copy (the link stays selectable in its field everywhere else).
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        button.setAttribute("aria-live", "polite");
        button.textContent = button.getAttribute("data-copied") || button.textContent;
      });
    });
  });
})();
