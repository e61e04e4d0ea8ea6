// The code cells' editor: CodeMirror 6, bundled by build.py (esbuild) into one hashed module,
// js/editor.<hash>.js, imported as "./editor.js". Nothing is fetched from a CDN.
//
// Keyboard: Tab indents (indentWithTab); as CodeMirror documents, Escape then Tab (or
// Shift-Tab) leaves the editor instead, so a keyboard user is never trapped in it.
// Ctrl-Enter (Cmd-Enter on a Mac) runs the cell.
//
// The page's CSP allows no inline styles (style-src 'self'), and CodeMirror writes its styles
// into a <style> element when it lives in the document. In a shadow root it uses a
// constructed stylesheet (adoptedStyleSheets) instead, which the CSP does not cover: so each
// editor lives in its own shadow root, and its colours are the page's CSS variables (they
// inherit into the shadow tree), the same tokens as the read-only source panels.
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { bracketMatching, HighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import { EditorState, Prec } from "@codemirror/state";
import {
  drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars,
  keymap, lineNumbers,
} from "@codemirror/view";

const highlighting = HighlightStyle.define([
  { tag: tags.keyword, color: "var(--tok-kw)", fontWeight: "600" },
  { tag: [tags.string, tags.special(tags.string)], color: "var(--tok-str)" },
  { tag: tags.comment, color: "var(--tok-com)", fontStyle: "italic" },
  { tag: [tags.number, tags.bool, tags.null], color: "var(--tok-num)" },
  { tag: [tags.function(tags.definition(tags.variableName)), tags.definition(tags.className)],
    color: "var(--tok-def)", fontWeight: "600" },
  { tag: [tags.standard(tags.variableName), tags.meta], color: "var(--tok-builtin)" },
  { tag: tags.invalid, color: "var(--invalid)" },
]);

const theme = EditorView.theme({
  "&": { color: "var(--fg)", backgroundColor: "var(--code-bg)", border: "1px solid var(--border)",
    borderRadius: "6px", fontSize: "0.9rem" },
  // The focus ring is drawn on the shadow host by the page's CSS (.cell-editor:focus-within),
  // where the rest of the page and its tests see it.
  "&.cm-focused": { outline: "none" },
  ".cm-content": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", caretColor: "var(--fg)" },
  ".cm-cursor": { borderLeftColor: "var(--fg)" },
  ".cm-gutters": { backgroundColor: "var(--code-bg)", color: "var(--muted)", borderRight: "1px solid var(--border)" },
  ".cm-activeLine, .cm-activeLineGutter": { backgroundColor: "color-mix(in srgb, var(--accent) 8%, transparent)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection":
    { backgroundColor: "color-mix(in srgb, var(--accent) 30%, transparent)" },
  "&.cm-focused .cm-matchingBracket": { backgroundColor: "color-mix(in srgb, var(--accent) 25%, transparent)",
    outline: "1px solid var(--accent)" },
  // Lines wrap and the editor grows with its text: it never scrolls, so it is no scrollable
  // region a keyboard would have to reach, and no long line widens a phone's page.
  ".cm-scroller": { overflow: "visible" },
});

// A hand-picked set rather than codemirror's basicSetup: no autocompletion, search panel or
// folding, which a cell of a few lines does not need (the bundle is about half the size).
const setup = [
  lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(), drawSelection(),
  indentOnInput(), syntaxHighlighting(highlighting), bracketMatching(), highlightActiveLine(),
  keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]), EditorView.lineWrapping, theme,
];

/**
 * An editor in `parent` holding `doc`. onRun() on Mod-Enter, onChange(text) after each edit;
 * `label` names the text box for screen readers (aria-labelledby cannot reach out of the
 * shadow root); `description` (how to leave the editor) is read after it, from a hidden copy
 * inside the shadow root for the same reason. Returns {getCode, setCode, setLabel,
 * setDescription, focus, view}.
 */
export function createEditor(parent, {
  doc = "", onRun = () => {}, onChange = () => {}, label = "", description = "",
} = {}) {
  const runKeys = Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => { onRun(); return true; } }]));
  const root = parent.attachShadow({ mode: "open" });
  const hint = Object.assign(document.createElement("p"), { id: "editor-keys", hidden: true, textContent: description });
  root.append(hint);
  const view = new EditorView({
    parent: root,
    root,
    state: EditorState.create({
      doc,
      extensions: [
        runKeys,
        setup,
        python(),
        EditorView.contentAttributes.of({ "aria-label": label, "aria-multiline": "true",
          "aria-describedby": "editor-keys" }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) onChange(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    view,
    getCode: () => view.state.doc.toString(),
    setCode(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    setLabel: (text) => view.contentDOM.setAttribute("aria-label", text),
    setDescription: (text) => { hint.textContent = text; },
    focus: () => view.focus(),
  };
}
