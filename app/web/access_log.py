"""gunicorn's access log with the signed link tokens cut out: `/status/<token>`,
`/supplier/po/<token>` and `/auth/link/<token>` are credentials that live for months, and
a log line is read by more people, and kept longer, than the link was meant for."""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

LINK_TOKEN = re.compile(r"(/status/|/supplier/po/|/auth/link/)[^/?#\s\"]+")
REDACTED = r"\1[redacted]"


def redacted(text):
    """`text` with every link token replaced; anything but a string as it is."""
    return LINK_TOKEN.sub(REDACTED, text) if isinstance(text, str) else text


class RedactingLogger(Logger):
    """gunicorn's logger (`logger_class` in gunicorn.conf.py); access lines redacted."""

    def atoms(self, resp, req, environ, request_time):
        return {key: redacted(value)
                for key, value in super().atoms(resp, req, environ, request_time).items()}
