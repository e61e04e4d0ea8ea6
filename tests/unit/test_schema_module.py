"""build.py's generated js/schema.js: Python's schema and strings, hashed like any module."""

from __future__ import annotations

import json
import re

import pytest

import build
from digitlab import i18n, schema


def exports(text: str) -> dict[str, object]:
    """`export const NAME = <JSON>;` statements -> {NAME: value}."""
    found = re.findall(r"^export const (\w+) = (.*?);$", text, re.M | re.S)
    return {name: json.loads(value) for name, value in found}


def test_the_module_holds_pythons_schema_and_strings() -> None:
    values = exports(build.schema_module())
    assert set(values) == {"SCHEMA", "STRINGS"}
    # Through JSON, as the page reads them (tuples become lists).
    assert values["SCHEMA"] == json.loads(json.dumps(schema.page_schema()))
    assert values["STRINGS"] == i18n.STRINGS
    assert values["SCHEMA"]["canvases"][0] == "examples"
    assert values["SCHEMA"]["training"]["defaults"]["batchSize"] == 512


def test_the_built_site_imports_the_hashed_schema_module() -> None:
    js = build.SITE / "js"
    [module] = js.glob("schema.*.js")
    assert module.name.split(".")[1] == build.content_hash(module.read_bytes())
    assert exports(module.read_text())["STRINGS"] == i18n.STRINGS, "site/ is out of date"
    for name in ("i18n", "builder"):
        [importer] = js.glob(f"{name}.*.js")
        assert f'from "./{module.name}"' in importer.read_text()


def test_a_change_to_the_python_tables_makes_serve_rebuild() -> None:
    inputs = {path.relative_to(build.ROOT).as_posix()
              for pattern in build.SOURCE_GLOBS for path in build.ROOT.glob(pattern)}
    assert {"py/digitlab/schema.py", "py/digitlab/i18n/en.py", "py/digitlab/i18n/zh_cn.py",
            "py/digitlab/i18n/__init__.py"} <= inputs


def test_a_hand_written_js_schema_module_is_refused(tmp_path, monkeypatch) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "schema.js").write_text("export const SCHEMA = {};\n")
    monkeypatch.setattr(build, "ROOT", tmp_path)
    with pytest.raises(build.BuildError, match="generated"):
        build.write_hashed_modules(tmp_path / "out", {}, generated={"schema.js": "x"})
