"""DigitLab: a CNN on MNIST in pure Python + NumPy (CPython and Pyodide)."""

__version__ = "0.1.0"
