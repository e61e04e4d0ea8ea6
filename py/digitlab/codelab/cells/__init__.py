"""The code cells' original code, one file per step (`codelab.session.original` reads them).

They are the reader's starting point, not modules to import: they use the names every cell
has without an import (`Sequential`, `Conv2D`, ..., `np`, `data`, `model`, `show`, `pixels`;
see `codelab.session.cell_names`), so ruff's undefined-name check is off for them.
"""
