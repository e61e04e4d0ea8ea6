// The model builder: a form over a layer list (the model-spec JSON). It only edits data;
// checking (shapes, parameters, memory) is Python's job (controller.call_plan), whose answer is
// shown next to the form. Nothing the user types is ever run as code. The layer types, their
// fields, limits, choices and the values a new layer starts with come from Python's schema
// (py/digitlab/schema.py, shipped in the generated ./schema.js), the same one the spec parser
// checks against.
import { formatBytes, formatNumber, showText, t } from "./i18n.js";
import { SCHEMA } from "./schema.js";

export const LAYER_TYPES = Object.keys(SCHEMA.layers);

const fieldsOf = (type) => Object.entries(SCHEMA.layers[type]?.fields ?? {});

// A layer added in the builder: its type and each field's `initial` value.
function newLayer(type) {
  const layer = { type };
  for (const [field, rules] of fieldsOf(type)) if (rules.initial !== undefined) layer[field] = rules.initial;
  return layer;
}

// The fields the form offers, as [field, rules]; the schema also lists some it only accepts.
const formFields = (type) => fieldsOf(type).filter(([, rules]) => rules.form !== false);

const TESTIDS = { kernelSize: "layer-kernel", poolSize: "layer-pool" };

// Sizes are square in the form (one number); the spec also allows [h, w].
function square(value) {
  return Array.isArray(value) ? value[0] : value;
}

function element(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function labelled(i18nKey, control) {
  return element("label", {}, element("span", { dataset: { i18n: i18nKey }, textContent: t(i18nKey) }), control);
}

/** The builder over `root` (an element with .builder-layers, .builder-add, problem and memory
 * outputs). `onChange()` is called after every edit. */
export function createBuilder(root, onChange) {
  let layers = [];
  const list = root.querySelector(".builder-layers");
  const problems = root.querySelector(".builder-problems");
  const memory = root.querySelector(".builder-memory");
  let lastPlan = null;

  function changed() {
    render();
    onChange();
  }

  function fieldControl(layer, [field, rules]) {
    const testid = TESTIDS[field] || `layer-${field}`;
    if (rules.kind === "choice") {
      const select = element("select", { dataset: { testid, field } },
        ...rules.choices.map((value) => element("option", { value, dataset: { i18n: `builder.${field}.${value}` },
          textContent: t(`builder.${field}.${value}`) })));
      select.value = layer[field] ?? rules.default ?? rules.choices[0]; // absent: what the spec means
      select.addEventListener("change", () => { layer[field] = select.value; onChange(); });
      return labelled(`builder.${field}`, select);
    }
    const step = rules.step ?? 1;
    const input = element("input", { type: "number", dataset: { testid, field }, inputMode: rules.kind === "rate" ? "decimal" : "numeric",
      min: rules.min, step });
    // An open upper limit (a rate below 1) offers the last step below it.
    const max = rules.exclusiveMax !== undefined ? rules.exclusiveMax - step : rules.max;
    if (max !== undefined) input.max = max;
    input.value = square(layer[field]) ?? "";
    input.addEventListener("input", () => {
      // An empty or partial entry goes to Python as null, which explains what is missing.
      const value = input.value.trim() === "" ? null : Number(input.value);
      layer[field] = Number.isFinite(value) ? value : null;
      onChange();
    });
    return labelled(`builder.${field}`, input);
  }

  function row(layer, index) {
    const type = element("select", { dataset: { testid: "layer-type" } },
      ...LAYER_TYPES.map((value) => element("option", { value, dataset: { i18n: `builder.type.${value}` },
        textContent: t(`builder.type.${value}`) })));
    type.value = layer.type;
    type.addEventListener("change", () => { layers[index] = newLayer(type.value); changed(); });
    const move = (delta) => {
      [layers[index], layers[index + delta]] = [layers[index + delta], layers[index]];
      changed();
    };
    const button = (testid, symbol, key, action, disabled) => {
      const b = element("button", { type: "button", className: "icon", textContent: symbol, disabled,
        dataset: { testid }, title: t(key), "aria-label": t(key) });
      b.addEventListener("click", action);
      return b;
    };
    const controls = element("div", { className: "layer-buttons" },
      button("layer-up", "↑", "builder.up", () => move(-1), index === 0),
      button("layer-down", "↓", "builder.down", () => move(1), index === layers.length - 1),
      button("layer-remove", "✕", "builder.remove", () => { layers.splice(index, 1); changed(); }, layers.length === 1));
    const problem = lastPlan?.problems?.some((p) => p.layer === index);
    return element("li", { className: problem ? "layer invalid" : "layer", dataset: { testid: "layer", index: String(index) } },
      element("span", { className: "layer-number", textContent: `${index + 1}` }),
      labelled("builder.type", type),
      ...formFields(layer.type).map((field) => fieldControl(layer, field)),
      controls);
  }

  function render() {
    list.replaceChildren(...layers.map(row));
    showPlan(lastPlan);
  }

  function showPlan(plan) {
    lastPlan = plan;
    problems.replaceChildren(...(plan?.problems ?? []).map((p) => {
      const item = element("li");
      showText(item, p.message); // names in the message (a key, a value) as <code>
      return item;
    }));
    problems.hidden = !plan?.problems?.length;
    for (const item of list.children) {
      item.classList.toggle("invalid", Boolean(plan?.problems?.some((p) => p.layer === Number(item.dataset.index))));
    }
    const estimate = plan?.estimate;
    memory.textContent = estimate ? t("builder.memory", {
      needed: formatBytes(estimate.totalBytes), params: formatNumber(estimate.params),
      budget: plan.budget ? formatBytes(plan.budget) : "–",
    }) : "";
  }

  root.querySelector(".builder-add").addEventListener("click", () => {
    const type = root.querySelector(".builder-add-type").value;
    // New layers go just above the output layer, where they can do something useful.
    layers.splice(Math.max(layers.length - 1, 0), 0, newLayer(type));
    changed();
  });

  return {
    setSpec(spec) {
      layers = spec.map((layer) => {
        const copy = { ...layer };
        for (const [field, rules] of fieldsOf(copy.type)) {
          if (rules.kind === "size" && field in copy) copy[field] = square(copy[field]);
        }
        return copy;
      });
      lastPlan = null;
      render();
    },
    spec: () => layers.map((layer) => ({ ...layer })),
    isEmpty: () => layers.length === 0,
    showPlan,
    render,
  };
}
