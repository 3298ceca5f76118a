"""hitrack: collaborative credit, settled exactly along a contribution graph."""

__version__ = "0.1.0"
