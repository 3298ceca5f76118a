"""The base of every page form: Flask-WTF's form with its CSRF token.

Flask-WTF ships without type information, so ``FlaskForm`` is ``Any`` to mypy
and cannot be subclassed under its checks. The one ignore lives here; every
form subclasses ``Form`` and keeps its fields typed through WTForms.
"""

from __future__ import annotations

from flask_wtf import FlaskForm

__all__ = ["ActionForm", "Form"]


class Form(FlaskForm):  # type: ignore[misc]  # flask_wtf has no type information
    """A form posted from a page, CSRF-protected."""


class ActionForm(Form):
    """A button that only needs the CSRF token."""
