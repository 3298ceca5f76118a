"""hitrack.services: the use cases.

Importing the package registers the search index's session listener
(:mod:`hitrack.services.search`), so every write through the services keeps
the index in step.
"""

from hitrack.services import search as _search  # noqa: F401
