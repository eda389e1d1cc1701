// Keyboard shortcuts for people on call: j/k move through a list's rows, o or Enter opens one,
// x selects it, e/a/i resolve, assign to me or ignore (the selected groups, or the current row,
// or the group of the page), / searches, ? lists the keys. Ctrl+Enter in a payload box submits
// its form. Buttons that a key presses carry data-key="e" and so on, so each page decides what
// a key does there; this file only finds them.
(function () {
  "use strict";

  const CURRENT = "kb-current";

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true'], .cm-editor");
  }

  function rows() {
    return Array.from(document.querySelectorAll("main table tbody tr")).filter(function (row) {
      return row.querySelector("a[href]") && row.offsetParent !== null;
    });
  }

  function currentRow() {
    return document.querySelector("main tr." + CURRENT);
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const index = all.indexOf(currentRow());
    let next = index === -1 ? (step > 0 ? 0 : all.length - 1) : index + step;
    next = Math.max(0, Math.min(all.length - 1, next));
    all.forEach(function (row) { row.classList.remove(CURRENT); row.removeAttribute("aria-current"); });
    all[next].classList.add(CURRENT);
    all[next].setAttribute("aria-current", "true");
    all[next].scrollIntoView({ block: "nearest" });
    currentId = all[next].id;
  }

  // A row swapped by htmx (after an action) is a new element: it stays the current row.
  let currentId = "";
  document.addEventListener("htmx:afterSettle", function () {
    const row = currentId && document.getElementById(currentId);
    if (row && !row.classList.contains(CURRENT)) {
      row.classList.add(CURRENT);
      row.setAttribute("aria-current", "true");
    }
  });

  function open() {
    const row = currentRow();
    const link = row && row.querySelector("a[href]");
    if (link) { link.click(); return true; }
    return false;
  }

  function toggleSelect() {
    const row = currentRow();
    const box = row && row.querySelector("input[type=checkbox]");
    if (!box) return;
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // e, a, i: press the page's button for the key; on a list with nothing selected, the
  // current row is selected first so that the action is about what the person is looking at.
  function act(key) {
    const button = document.querySelector("[data-key='" + key + "']");
    if (!button) return false;
    const form = button.form;
    if (form && !form.querySelector("input[type=checkbox]:checked")) {
      const row = currentRow();
      const box = row && row.querySelector("input[type=checkbox]");
      if (box && form.contains(box)) box.checked = true;
    }
    button.click();
    return true;
  }

  function search() {
    const box = document.querySelector("[data-search]");
    if (!box) return false;
    box.focus();
    if (box.select) box.select();
    return true;
  }

  let opener = null;
  function showKeys() {
    const dialog = document.getElementById("shortcuts");
    if (!dialog || dialog.open) return;
    opener = document.activeElement;
    dialog.showModal();
  }

  document.addEventListener("close", function (event) {
    if (event.target.id === "shortcuts" && opener && opener.focus) opener.focus();
  }, true);

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-shortcuts-open]")) showKeys();
  });

  // Tests (and people) can tell when the keys work: the page is marked once this file ran.
  document.documentElement.setAttribute("data-keys", "ready");

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented) return;
    // Ctrl+Enter (Cmd+Enter on a Mac) in a payload box submits its form. A richer editor
    // that binds the same keys marks the event handled, and then this does nothing.
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const box = event.target.closest("textarea");
      const form = box && box.form;
      if (form && form.matches("[data-ctrl-enter]")) {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    let handled = false;
    switch (event.key) {
      case "j": move(1); handled = true; break;
      case "k": move(-1); handled = true; break;
      case "o": handled = open(); break;
      case "Enter":
        // Enter on a focused link or button keeps its own meaning.
        if (!event.target.closest("a, button, summary")) handled = open();
        break;
      case "x": toggleSelect(); handled = true; break;
      case "e": handled = act("e"); break;
      case "a": handled = act("a"); break;
      case "i": handled = act("i"); break;
      case "/": handled = search(); break;
      case "?": showKeys(); handled = true; break;
    }
    if (handled) event.preventDefault();
  });
})();
