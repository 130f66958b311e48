"""shopify.app.toml declares what the code asks for: scopes, topics, compliance topics."""

from __future__ import annotations

import tomllib
from pathlib import Path

from app.config import DEFAULT_API_VERSION
from app.domain.intake.topics import COMPLIANCE_TOPICS, SUBSCRIBED_TOPICS
from app.web.merchant.oauth import SCOPES

CONFIG = tomllib.loads((Path(__file__).resolve().parents[2] / "shopify.app.toml").read_text())


def test_the_declared_scopes_are_the_ones_oauth_asks_for():
    assert CONFIG["access_scopes"]["scopes"].split(",") == list(SCOPES)


def test_every_handled_topic_and_the_compliance_topics_are_declared():
    topics, compliance = CONFIG["webhooks"]["subscriptions"]
    assert set(topics["topics"]) == set(SUBSCRIBED_TOPICS)
    assert set(compliance["compliance_topics"]) == set(COMPLIANCE_TOPICS)
    assert {topics["uri"], compliance["uri"]} == {"https://backorder.example.com/webhooks/shopify"}
    assert CONFIG["auth"]["redirect_urls"] == ["https://backorder.example.com/auth/callback"]


def test_the_app_is_embedded_and_installed_by_shopify_not_by_the_oauth_redirect():
    assert CONFIG["embedded"] is True
    assert CONFIG["application_url"] == "https://backorder.example.com/app/"
    assert CONFIG["access_scopes"]["use_legacy_install_flow"] is False
    assert CONFIG["webhooks"]["api_version"] == DEFAULT_API_VERSION
