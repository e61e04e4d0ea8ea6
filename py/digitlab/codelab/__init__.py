"""The code cells: the Python each step of the page runs, as code the reader can edit and run.

    cells/<step>.py  each cell's original code, in the codelab's order (data, model, train,
                     evaluate, try), written against the Keras-style front (`digitlab.keras`):
                     read as text, never imported (no __init__.py), as they use the names a
                     cell has without an import (so ruff's undefined-name check is off there)
    session.py       Session: the cells' shared namespace, running a cell (output streamed,
                     errors trimmed to the reader's lines, hints in the page's language),
                     the model cell's get_model() as the page's model
    show.py          `show`: the drawing helpers (the codelab's tfjs-vis calls) on the canvases
    dataset.py       `data`: the lab's MNIST as Keras arrays
    png_canvas.py    canvases drawn with Pillow, for a script
    script.py        `from digitlab.codelab.script import *`: the cells' names in a script

Nothing here imports the browser: the page's canvases and its way of showing a drawing are
handed to the Session by web/.
"""
