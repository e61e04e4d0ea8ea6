// The model builder: a form over a layer list (the CONTRACT's model-spec JSON). It only edits
// data; checking (shapes, parameters, memory) is Python's job (app.call_plan), whose answer is
// shown next to the form. Nothing the user types is ever run as code.
import { formatBytes, formatNumber, t } from "./i18n.js";

export const LAYER_TYPES = ["conv2d", "maxPooling2d", "flatten", "dense", "dropout"];

const DEFAULTS = {
  conv2d: { type: "conv2d", filters: 8, kernelSize: 3, strides: 1, padding: "valid", activation: "relu" },
  maxPooling2d: { type: "maxPooling2d", poolSize: 2, strides: 2 },
  flatten: { type: "flatten" },
  dense: { type: "dense", units: 32, activation: "relu" },
  dropout: { type: "dropout", rate: 0.25 },
};

// Per type: [field, kind, options]. Sizes are square here (one number); the spec allows [h, w].
const FIELDS = {
  conv2d: [["filters", "int", { min: 1 }], ["kernelSize", "int", { min: 1 }], ["strides", "int", { min: 1 }],
    ["padding", "choice", ["valid", "same"]], ["activation", "choice", ["relu", "linear"]]],
  maxPooling2d: [["poolSize", "int", { min: 1 }], ["strides", "int", { min: 1 }]],
  flatten: [],
  dense: [["units", "int", { min: 1 }], ["activation", "choice", ["relu", "softmax", "linear"]]],
  dropout: [["rate", "rate", { min: 0, max: 0.95, step: 0.05 }]],
};

const TESTIDS = { kernelSize: "layer-kernel", poolSize: "layer-pool" };

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

  function fieldControl(layer, [field, kind, options]) {
    const testid = TESTIDS[field] || `layer-${field}`;
    if (kind === "choice") {
      const select = element("select", { dataset: { testid, field } },
        ...options.map((value) => element("option", { value, dataset: { i18n: `builder.${field}.${value}` },
          textContent: t(`builder.${field}.${value}`) })));
      select.value = layer[field] ?? options[0];
      select.addEventListener("change", () => { layer[field] = select.value; onChange(); });
      return labelled(`builder.${field}`, select);
    }
    const input = element("input", { type: "number", dataset: { testid, field }, inputMode: kind === "rate" ? "decimal" : "numeric",
      min: options.min, step: options.step ?? 1 });
    if (options.max !== undefined) input.max = options.max;
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
    type.addEventListener("change", () => { layers[index] = { ...DEFAULTS[type.value] }; changed(); });
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
      ...FIELDS[layer.type].map((field) => fieldControl(layer, field)),
      controls);
  }

  function render() {
    list.replaceChildren(...layers.map(row));
    showPlan(lastPlan);
  }

  function showPlan(plan) {
    lastPlan = plan;
    problems.replaceChildren(...(plan?.problems ?? []).map((p) => element("li", { textContent: p.message })));
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
    layers.splice(Math.max(layers.length - 1, 0), 0, { ...DEFAULTS[type] });
    changed();
  });

  return {
    setSpec(spec) {
      layers = spec.map((layer) => {
        const copy = { ...layer };
        for (const key of ["kernelSize", "poolSize", "strides"]) if (key in copy) copy[key] = square(copy[key]);
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
