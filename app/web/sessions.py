"""Flask's signed-cookie sessions, for the pages people use; none for the webhooks machines post."""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

# Shopify and Twilio sign their posts and send no cookie; their handlers use no session.
# Opening one anyway (a signing serializer built, the cookies parsed) was a sizeable
# share of a webhook's CPU in the web process (bench/README.md, "Intake").
NO_SESSION_PREFIX = "/webhooks/"


class BrowserSessions(SecureCookieSessionInterface):
    """A webhook gets Flask's null session: nothing is read, nothing saved."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(NO_SESSION_PREFIX):
            return None
        return super().open_session(app, request)
