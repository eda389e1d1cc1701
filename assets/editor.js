// The payload editor: CodeMirror 6 over the invoke form's <textarea>, which stays the field
// that is posted (and the whole editor when JavaScript is off). Built by `make assets` into
// static/editor/editor.js; loaded as an external script, so it works under the page's
// Content-Security-Policy (CodeMirror's styles go into a constructed style sheet, not inline).

import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { json } from "@codemirror/lang-json";
import {
  bracketMatching,
  defaultHighlightStyle,
  ensureSyntaxTree,
  syntaxHighlighting,
} from "@codemirror/language";
import { forceLinting, lintGutter, linter, setDiagnostics } from "@codemirror/lint";
import { EditorState, Prec } from "@codemirror/state";
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
} from "@codemirror/view";

const MB = 1024 * 1024;

// Where JSON.parse stopped. V8 sometimes says "at position N"; for an unexpected token it
// does not, and the JSON grammar's first error node (the parser recovers and marks it) does.
function errorOffset(message, state) {
  const found = /at position (\d+)/.exec(message);
  if (found) return Math.min(Number(found[1]), state.doc.length);
  const tree = ensureSyntaxTree(state, state.doc.length, 200);
  let offset = null;
  if (tree) {
    tree.iterate({
      enter: (node) => {
        if (offset === null && node.type.isError) offset = node.from;
        return offset === null;
      },
    });
  }
  return offset === null ? state.doc.length : offset;
}

// The first JSON mistake in the editor: null, or {offset, message}.
function jsonMistake(state) {
  try {
    JSON.parse(state.doc.toString());
    return null;
  } catch (err) {
    // V8 quotes the whole text in some messages: keep its first sentence only.
    const message = String(err.message).split(/, "|\s*\(line /)[0];
    return { offset: errorOffset(err.message, state), message };
  }
}

function lineAndColumn(doc, offset) {
  const line = doc.lineAt(offset);
  return { line: line.number, column: offset - line.from + 1 };
}

function diagnosticAt(doc, offset, message) {
  const end = Math.min(offset + 1, doc.length);
  return { from: Math.min(offset, doc.length), to: end, severity: "error", message };
}

function formatBytes(size) {
  if (size < 1024) return size + " B";
  if (size < MB) return (size / 1024).toFixed(1) + " KB";
  return (size / MB).toFixed(2) + " MB";
}

// The editor lives in a shadow root: CodeMirror (its style-mod library) gives a shadow root its
// styles as a constructed style sheet, which the page's Content-Security-Policy (style-src
// 'self') allows, where in the document itself it would write a <style> element that the
// policy refuses. The look that app.css would give is therefore this theme.
const theme = EditorView.theme({
  "&": {
    border: "1px solid var(--line, #dde2ea)",
    borderRadius: "6px",
    background: "var(--panel, #fff)",
    color: "var(--text, #1c2430)",
    fontSize: "13px",
    minHeight: "12rem",
    maxHeight: "32rem",
  },
  "&.cm-focused": { outline: "2px solid var(--accent, #2f6fde)", outlineOffset: "1px" },
  ".cm-scroller": {
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
    overflow: "auto",
  },
  ".cm-content": { caretColor: "var(--text, #1c2430)" },
  ".cm-gutters": {
    background: "var(--bg, #f6f7f9)",
    color: "var(--muted, #5d6b7e)",
    borderColor: "var(--line, #dde2ea)",
  },
  ".cm-activeLine, .cm-activeLineGutter": { background: "rgba(127, 127, 127, .08)" },
});

function enhance(box) {
  const area = document.getElementById(box.getAttribute("data-json-editor"));
  if (!area || area.dataset.enhanced) return;
  area.dataset.enhanced = "true";
  const form = area.form;
  const typeField = form.querySelector("[name=invocation_type]");
  const status = box.querySelector("[data-editor-status]");
  const sizeLabel = box.querySelector("[data-editor-size]");
  const syncLimit = Number(box.getAttribute("data-sync-limit")) || 6 * MB;
  const asyncLimit = Number(box.getAttribute("data-async-limit")) || MB;

  const limit = () => (typeField && typeField.value === "Event" ? asyncLimit : syncLimit);
  const byteSize = (text) => new TextEncoder().encode(text).length;

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("form-error", Boolean(isError));
  }

  function showSize(text) {
    const size = byteSize(text);
    sizeLabel.textContent = formatBytes(size) + " of " + formatBytes(limit());
    sizeLabel.classList.toggle("over-limit", size > limit());
  }

  const jsonLinter = linter(
    (view) => {
      const mistake = jsonMistake(view.state);
      if (!mistake) {
        say("", false);
        return [];
      }
      const where = lineAndColumn(view.state.doc, mistake.offset);
      say(
        "Not valid JSON at line " + where.line + ", column " + where.column + ": " + mistake.message,
        true,
      );
      return [diagnosticAt(view.state.doc, mistake.offset, mistake.message)];
    },
    { delay: 250 },
  );

  function submit() {
    const button = form.querySelector("button[type=submit]:not([formaction])");
    if (form.requestSubmit) form.requestSubmit(button || undefined);
    else form.submit();
    return true;
  }

  // The label names the editor from now on (the hidden textarea is no longer what one types
  // in); by its text, as aria-labelledby does not reach into a shadow root.
  const label = form.querySelector('label[for="' + area.id + '"]');
  const labelText = label ? label.textContent.trim() : "Payload (JSON)";
  if (label) label.removeAttribute("for");

  const mount = box.querySelector("[data-editor-mount]");
  const shadow = mount.shadowRoot || mount.attachShadow({ mode: "open" });
  const view = new EditorView({
    parent: shadow,
    root: shadow,
    state: EditorState.create({
      doc: area.value,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightActiveLine(),
        drawSelection(),
        history(),
        bracketMatching(),
        json(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        lintGutter(),
        jsonLinter,
        Prec.highest(keymap.of([{ key: "Mod-Enter", run: submit }])),
        keymap.of([...defaultKeymap, ...historyKeymap]),
        EditorView.contentAttributes.of({ "aria-label": labelText, "aria-multiline": "true" }),
        theme,
        EditorView.updateListener.of((update) => {
          if (!update.docChanged) return;
          area.value = update.state.doc.toString();
          showSize(area.value);
        }),
      ],
    }),
  });
  area.hidden = true;
  box.editorView = view; // for tests and the browser console
  if (label) label.addEventListener("click", () => view.focus());
  box.classList.add("enhanced");
  showSize(area.value);

  // The server's own finding ("... at line 3, column 7.") marked where it is.
  const serverError = box.querySelector(".errorlist");
  const found = serverError && /line (\d+), column (\d+)/.exec(serverError.textContent);
  if (found) {
    const doc = view.state.doc;
    const lineNumber = Math.min(Number(found[1]), doc.lines);
    const line = doc.line(lineNumber);
    const offset = Math.min(line.from + Number(found[2]) - 1, line.to);
    view.dispatch(setDiagnostics(view.state, [diagnosticAt(doc, offset, serverError.textContent.trim())]));
    view.dispatch({ selection: { anchor: offset }, scrollIntoView: true });
  }

  if (typeField) typeField.addEventListener("change", () => showSize(area.value));

  // Format: pretty-print in the editor; a mistake is marked instead.
  const format = form.querySelector('[data-format-json="' + area.id + '"]');
  if (format) {
    format.addEventListener("click", (event) => {
      event.stopPropagation(); // the page's plain-textarea Format must not run as well
      const mistake = jsonMistake(view.state);
      if (mistake) {
        forceLinting(view);
        view.focus();
        return;
      }
      const pretty = JSON.stringify(JSON.parse(view.state.doc.toString()), null, 2);
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: pretty } });
      say("Formatted.", false);
    });
  }

  // The size is checked here first, so that a 7 MB paste is not uploaded only to be refused.
  form.addEventListener("submit", (event) => {
    const submitter = event.submitter;
    if (submitter && submitter.hasAttribute("formaction")) return; // save/delete template
    const size = byteSize(area.value);
    if (size > limit()) {
      event.preventDefault();
      const kind = typeField ? typeField.value : "this";
      say(
        "The payload is " + formatBytes(size) + "; " + kind + " invocations take at most " +
          formatBytes(limit()) + ". Nothing was sent.",
        true,
      );
    }
  });
}

function start() {
  document.querySelectorAll("[data-json-editor]").forEach(enhance);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
