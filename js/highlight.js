// A tiny Python highlighter for the source panels: tokens become <span>s built with
// createElement + textContent, so the code is only ever shown, never parsed as HTML or run.

const KEYWORDS = new Set(("False None True and as assert async await break class continue def del "
  + "elif else except finally for from global if import in is lambda nonlocal not or pass raise "
  + "return try while with yield match case").split(" "));
const BUILTINS = new Set(("abs all any bool dict enumerate float int isinstance len list max min "
  + "print range round set sorted str sum super tuple type zip ValueError TypeError "
  + "KeyError self cls").split(" "));

// One alternation, tried at each position (sticky): the first group that matches names the kind.
const TOKEN = new RegExp([
  "(#[^\\n]*)", // comment
  "((?:[rRbBfFuU]{1,2})?(?:\"\"\"[\\s\\S]*?\"\"\"|'''[\\s\\S]*?'''|\"(?:\\\\.|[^\"\\\\\\n])*\"|'(?:\\\\.|[^'\\\\\\n])*'))", // string
  "(@[A-Za-z_][\\w.]*)", // decorator
  "(\\b\\d[\\d_]*(?:\\.\\d*)?(?:[eE][+-]?\\d+)?j?\\b|\\.\\d+\\b)", // number
  "([A-Za-z_]\\w*)", // name
  "(\\s+)", // whitespace
  "([^\\sA-Za-z_\\d#'\"@]+|.)", // operators, punctuation, anything else
].join("|"), "y");
const KINDS = ["comment", "string", "decorator", "number", "name", "space", "punct"];

/** Python source -> [{kind, text}], kinds: comment string decorator number keyword builtin
 * defname plain. */
export function tokenize(code) {
  const tokens = [];
  let afterDef = false;
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < code.length) {
    const match = TOKEN.exec(code);
    if (!match) break; // cannot happen: the last alternative matches any character
    let kind = KINDS[match.slice(1).findIndex((group) => group !== undefined)];
    const text = match[0];
    if (kind === "name") {
      if (afterDef) kind = "defname";
      else if (KEYWORDS.has(text)) kind = "keyword";
      else if (BUILTINS.has(text)) kind = "builtin";
      else kind = "plain";
      afterDef = text === "def" || text === "class";
    } else if (kind !== "space") {
      afterDef = false;
    }
    if (kind === "space" || kind === "punct") kind = "plain";
    const last = tokens[tokens.length - 1];
    if (last && last.kind === kind && kind === "plain") last.text += text;
    else tokens.push({ kind, text });
  }
  return tokens;
}

/** A <code> element holding `code` as highlighted spans. */
export function highlight(code) {
  const element = document.createElement("code");
  element.className = "python";
  for (const token of tokenize(code)) {
    if (token.kind === "plain") {
      element.append(document.createTextNode(token.text));
    } else {
      const span = document.createElement("span");
      span.className = `tok-${token.kind}`;
      span.textContent = token.text;
      element.append(span);
    }
  }
  return element;
}
