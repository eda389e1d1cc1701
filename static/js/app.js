// Small behaviours without inline scripts (the Content-Security-Policy forbids them).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    const copy = event.target.closest("[data-copy]");
    if (copy) {
      navigator.clipboard.writeText(copy.getAttribute("data-copy")).then(function () {
        const label = copy.textContent;
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = label; }, 1200);
      });
      return;
    }
    const wrap = event.target.closest("[data-wrap-toggle]");
    if (wrap) {
      const target = document.getElementById(wrap.getAttribute("data-wrap-toggle"));
      if (target) target.classList.toggle("wrap");
      return;
    }
    const format = event.target.closest("[data-format-json]");
    if (format) {
      const area = document.getElementById(format.getAttribute("data-format-json"));
      try {
        area.value = JSON.stringify(JSON.parse(area.value), null, 2);
      } catch (err) {
        area.setCustomValidity("Not valid JSON: " + err.message);
        area.reportValidity();
        area.setCustomValidity("");
      }
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) event.target.form.submit();
  });

  // The top bar's menu button on a narrow screen.
  document.addEventListener("click", function (event) {
    const toggle = event.target.closest(".menu-toggle");
    if (!toggle) return;
    const menu = document.getElementById(toggle.getAttribute("aria-controls"));
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    if (menu) menu.classList.toggle("open", open);
  });
})();
