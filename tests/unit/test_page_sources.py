"""Static checks of the page's sources against what Python owns (digitlab.schema, digitlab.i18n):
every name the page uses exists in every language and in the schema, and no HTML injection sinks.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

from digitlab import schema
from digitlab.i18n import STRINGS

ROOT = Path(__file__).resolve().parents[2]
HTML = (ROOT / "index.html").read_text()
JS = {path.name: path.read_text() for path in sorted((ROOT / "js").glob("*.js"))}
ENGLISH = STRINGS["en"]
ERROR_KEY = re.compile(r"^error\.([A-Z_]+)(?:\.(\w+))?$")


def renamed_keys() -> dict[str, str]:
    """Old key -> new key, for the names js/i18n.js still accepts (RENAMED)."""
    match = re.search(r"const RENAMED = \{(.*?)\};", JS["i18n.js"], re.S)
    return dict(re.findall(r'"([\w.]+)": "([\w.]+)"', match[1])) if match else {}


def page_keys() -> set[str]:
    """Every string key index.html and js/*.js name literally: data-i18n attributes, and any
    quoted "namespace.key" (t("..."), dataset.i18n = "...") of a namespace the tables have."""
    used = set(re.findall(r'data-i18n(?:-aria-label)?="([\w.]+)"', HTML))
    namespaces = "|".join(sorted({key.split(".")[0] for key in ENGLISH if "." in key}))
    literal = re.compile(rf"""["'`]((?:{namespaces})\.[\w.]+)["'`]""")
    for source in JS.values():
        used |= set(literal.findall(source))
    used |= set(re.findall(r'\bt\(\s*"([\w.]+)"', "".join(JS.values())))
    renamed = renamed_keys()
    return {renamed.get(key, key) for key in used}


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_language_has_the_same_keys_and_placeholders() -> None:
    assert tuple(STRINGS) == schema.LANGUAGES
    assert len(ENGLISH) > 150
    for lang, table in STRINGS.items():
        assert set(table) == set(ENGLISH), (lang, set(table) ^ set(ENGLISH))
        # A translation may leave a parameter out (Chinese names a field by its label only,
        # without its key), but never asks for one the English does not have.
        wrong = {key for key in table if not placeholders(table[key]) <= placeholders(ENGLISH[key])}
        assert not wrong, (lang, wrong)


def test_every_key_the_page_uses_exists() -> None:
    used = page_keys()
    assert len(used) > 60
    missing = used - set(ENGLISH)
    assert not missing, missing
    assert set(renamed_keys().values()) <= set(ENGLISH)


def test_every_boot_stage_the_page_shows_is_worded() -> None:
    stages = set(re.findall(r'data-stage="(\w+)"', HTML))
    assert stages and {f"stage.{stage}" for stage in stages} <= set(ENGLISH)


def test_every_layer_type_field_and_choice_the_builder_offers_is_worded() -> None:
    for kind, layer in schema.LAYERS.items():
        assert f"builder.type.{kind}" in ENGLISH, kind
        for field, rules in layer["fields"].items():
            assert f"builder.{field}" in ENGLISH, (kind, field)  # its label, also in errors
            if rules.get("form") is not False and rules["kind"] == "choice":
                for choice in rules["choices"]:
                    assert f"builder.{field}.{choice}" in ENGLISH, (kind, field, choice)
    for field, rules in schema.TRAINING.items():
        assert rules["label"] in ENGLISH, field
    for argument in schema.ARGUMENTS.values():
        assert argument["label"] in ENGLISH


def test_the_builder_takes_layer_types_and_fields_from_the_schema() -> None:
    builder = JS["builder.js"]
    assert 'import { SCHEMA } from "./schema.js";' in builder
    # No table of its own: no layer type named in the code, every field it special-cases known.
    assert not re.search(r"\b(conv2d|maxPooling2d|dense|dropout)\b", builder)
    testids = re.search(r"const TESTIDS = \{(.*?)\};", builder)[1]
    fields = {field for layer in schema.LAYERS.values() for field in layer["fields"]}
    assert set(re.findall(r"(\w+):", testids)) <= fields
    # The page's "new layer" choices are the schema's types, in its order.
    add = re.search(r'<select class="builder-add-type".*?</select>', HTML, re.S)[0]
    assert re.findall(r'<option value="(\w+)"', add) == list(schema.LAYERS)


def test_every_error_the_tables_word_is_a_schema_code_and_reason_and_back() -> None:
    worded: dict[str, set[str]] = {}
    for key in ENGLISH:
        match = ERROR_KEY.match(key)
        if match:
            worded.setdefault(match[1], set())
            if match[2]:
                worded[match[1]].add(match[2])
    assert set(worded) == set(schema.ERRORS)
    for code, entry in schema.ERRORS.items():
        assert worded[code] == set(entry["reasons"]), code
    assert not [key for key in ENGLISH if key.startswith("error.") and not ERROR_KEY.match(key)
                and not key.startswith(("error.where.", "error.field"))]


def test_the_canvases_python_draws_on_are_the_schemas() -> None:
    canvases = re.findall(r'<canvas data-testid="([\w-]+)" id="([\w-]+)"', HTML)
    assert all(testid == id_ for testid, id_ in canvases)
    drawn_by_python = {id_ for _, id_ in canvases} - {"pad"}  # the pad's ink is the page's own
    assert drawn_by_python == set(schema.CANVASES)
    views = (ROOT / "py" / "digitlab" / "web" / "views.py").read_text()
    named = set(re.findall(r'canvases\.\w+\(\s*"([\w-]+)"', views))
    named |= set(re.findall(r'_two_panels\(\s*canvases, "([\w-]+)"', views))
    named |= set(re.findall(r'alt\("([\w-]+)"', views))
    named |= set(re.findall(r'_show\(\s*canvases, "([\w-]+)"', views))
    assert named and named <= set(schema.CANVASES), named - set(schema.CANVASES)


def test_every_canvas_string_python_draws_exists() -> None:
    drawing = [ROOT / "py" / "digitlab" / "web" / "views.py",  # the page's views
               ROOT / "py" / "digitlab" / "codelab" / "show.py"]  # the code cells' `show`
    used = {key for path in drawing
            for key in re.findall(r"""["'](canvas\.\w+)["']""", path.read_text())}
    canvas = {key for key in ENGLISH if key.startswith("canvas.")}
    assert used == canvas, (used - canvas, canvas - used)


def test_no_string_goes_unused() -> None:
    """Each key is named somewhere (page, Python) or built from a name the schema lists."""
    sources = HTML + "".join(JS.values()) + "".join(
        path.read_text() for path in (ROOT / "py").rglob("*.py")
        if "i18n" not in path.relative_to(ROOT).parts)  # not the checkout's own folder names
    built = {"title", "tagline", "error.field"}  # the document title; describe()'s field names
    # messageFor words a boot failure's stage; a worker error before any stage has none.
    # Pillow loads after ready (js/worker.js): a call that needs it may fail naming it.
    built |= {f"stage.{stage}" for stage in [*re.findall(r'data-stage="(\w+)"', HTML), "undefined",
                                             "pillow"]}
    for kind, layer in schema.LAYERS.items():
        built.add(f"builder.type.{kind}")
        for field, rules in layer["fields"].items():
            built.add(f"builder.{field}")
            built |= {f"builder.{field}.{choice}" for choice in rules.get("choices", [])
                      if isinstance(choice, str)}
    built |= {rules["label"] for rules in [*schema.TRAINING.values(), *schema.ARGUMENTS.values()]}
    # The code cells' narrative, one text per step the page builds from the step's name.
    built |= {f"cells.{step}.intro" for step in ("data", "model", "train", "evaluate", "try")}
    unused = {key for key in ENGLISH if key not in built and not ERROR_KEY.match(key)
              and not key.startswith("error.where.") and f'"{key}"' not in sources
              and f"'{key}'" not in sources}
    assert not unused, unused


def test_no_html_injection_sinks_or_eval_in_the_page_code() -> None:
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|"
                       r"new Function")
    for name, source in JS.items():
        found = sinks.findall(source)
        assert not found, f"{name} uses {found}"
    assert "<script>" not in HTML, "inline script breaks the CSP"
