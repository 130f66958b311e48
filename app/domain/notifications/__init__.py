"""Customer updates: messages from the engine's effects, SMS consent, the status page.

Importing the package registers its compliance redactor and exporter (see
`compliance.py`); app.domain.models imports it, so every process that loads
the models honours customers/redact and customers/data_request for messages.
"""

from app.domain.notifications import compliance  # noqa: F401  (registers at import)
