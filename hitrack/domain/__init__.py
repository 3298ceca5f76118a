"""The pure core of hitrack: graph, credit, money and ledger rules.

Nothing here does I/O or imports a framework; an import-linter contract in
``pyproject.toml`` keeps it that way.
"""
