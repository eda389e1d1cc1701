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

  // Live lists poll every few seconds; a hidden tab asks for nothing until it is shown again.
  document.addEventListener("htmx:beforeRequest", function (event) {
    const elt = event.detail.elt;
    if (elt && elt.hasAttribute("data-live") && document.visibilityState !== "visible") {
      event.preventDefault();
    }
  });

  // Back/Forward: htmx puts back an older copy of the page, whose inputs may show what was typed
  // later. Set every filter input from the URL, which is the truth.
  function syncFiltersWithUrl() {
    const params = new URLSearchParams(window.location.search);
    document.querySelectorAll("form[data-url-sync]").forEach(function (form) {
      Array.prototype.forEach.call(form.elements, function (input) {
        if (!input.name || input.type === "submit" || input.type === "button") return;
        const value = params.get(input.name);
        if (input.type === "checkbox" || input.type === "radio") {
          input.checked = value !== null && value === input.value;
        } else if (input.tagName === "SELECT") {
          input.value = value === null ? input.getAttribute("data-default") || "" : value;
          if (input.selectedIndex < 0) input.selectedIndex = 0;
        } else {
          input.value = value === null ? "" : value;
        }
      });
    });
  }
  document.addEventListener("htmx:historyRestore", syncFiltersWithUrl);

  // A list's text boxes search on Enter, not when they lose focus: a "change" on blur would
  // search again (and add a history entry) each time the reader clicks elsewhere, even Back.
  document.addEventListener("change", function (event) {
    const input = event.target;
    if (input.matches("form[data-url-sync] input[type=search], form[data-url-sync] input[type=text]")) {
      event.stopPropagation();
    }
  }, true);
  window.addEventListener("popstate", function () { setTimeout(syncFiltersWithUrl, 0); });

  // "Select all N matching" also ticks the rows on this page, so the choice is visible.
  document.addEventListener("change", function (event) {
    if (!event.target.matches("[data-select-all]")) return;
    const form = event.target.form;
    form.querySelectorAll("input[name=records]").forEach(function (box) {
      box.checked = event.target.checked;
    });
  });

  // After a bulk action the server asks the page to clear its selection (the rows keep their
  // checkboxes across swaps, hx-preserve, so it must be done here).
  document.body.addEventListener("selection-cleared", function () {
    document.querySelectorAll("input[name=groups]:checked, [data-select-all]:checked")
      .forEach(function (box) { box.checked = false; });
  });

  // The query bar's suggestions complete the word being typed: each option carries the words
  // already typed before it, so the browser's datalist matches the whole value.
  document.addEventListener("input", function (event) {
    const input = event.target;
    if (!input.matches("input[list][data-search]")) return;
    const list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    const cut = input.value.search(/\S*$/);
    const before = input.value.slice(0, cut);
    list.querySelectorAll("option").forEach(function (option) {
      if (!option.hasAttribute("data-entry")) option.setAttribute("data-entry", option.value);
      option.value = before + option.getAttribute("data-entry");
    });
  });

  // Relative times age on an open page, in the words the server wrote them (display.ago):
  // "just now" under ten seconds, then seconds, then the largest whole unit.
  const UNITS = [
    ["year", 365 * 86400], ["month", 30 * 86400], ["week", 7 * 86400],
    ["day", 86400], ["hour", 3600], ["minute", 60],
  ];
  function ago(then, now) {
    let seconds = (now - then) / 1000;
    const future = seconds < 0;
    seconds = Math.abs(seconds);
    if (seconds < 10) return "just now";
    let amount = Math.floor(seconds) + " s";
    if (seconds >= 60) {
      for (const [name, size] of UNITS) {
        const n = Math.floor(seconds / size);
        if (n >= 1) { amount = n + " " + name + (n === 1 ? "" : "s"); break; }
      }
    }
    return future ? "in " + amount : amount + " ago";
  }
  function ageTimes() {
    const now = Date.now();
    document.querySelectorAll("time[data-reltime]").forEach(function (element) {
      const then = Date.parse(element.getAttribute("datetime"));
      if (!Number.isNaN(then)) element.textContent = ago(then, now);
    });
  }
  setInterval(ageTimes, 5000);
})();
