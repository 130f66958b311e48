"""Shopify's token endpoint adapter and the GraphQL client's renewal after a 401, against
`responses` mocks: what each answer becomes in the service's error taxonomy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses

from app.config import Settings
from app.errors import AuthRevoked, InvalidInput, PermanentError, TransientError
from integrations.shopify.graphql import GraphQLClient
from integrations.shopify.tokens import ShopifyTokenEndpoint

SHOP = "demo.myshopify.com"
TOKEN_URL = f"https://{SHOP}/admin/oauth/access_token"
GRAPHQL_URL = f"https://{SHOP}/admin/api/2025-01/graphql.json"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def endpoint():
    settings = Settings(database_url="sqlite://", secret_key="k", shopify_api_key="key",
                        shopify_api_secret="secret")
    return ShopifyTokenEndpoint(settings, clock=lambda: NOW)


@responses.activate
def test_a_refresh_posts_the_refresh_token_and_returns_the_rotated_pair(endpoint):
    responses.post(TOKEN_URL, json={"access_token": "shpat_2", "expires_in": 3600,
                                    "refresh_token": "shprt_2", "scope": "write_products",
                                    "refresh_token_expires_in": 7776000})
    grant = endpoint.refresh(SHOP, "shprt_1")
    sent = json.loads(responses.calls[0].request.body)
    assert sent == {"client_id": "key", "client_secret": "secret", "expiring": "1",
                    "grant_type": "refresh_token", "refresh_token": "shprt_1"}
    assert (grant.token, grant.refresh_token, grant.scopes) == ("shpat_2", "shprt_2",
                                                               "write_products")
    assert grant.expires_at == NOW + timedelta(hours=1)
    assert grant.refresh_expires_at == NOW + timedelta(days=90)
    assert "shpat_2" not in repr(grant) and "shprt_2" not in repr(grant)


@pytest.mark.parametrize("status", [400, 401])
@responses.activate
def test_a_refused_refresh_token_is_revoked_access(endpoint, status):
    responses.post(TOKEN_URL, status=status, json={"error": "invalid_grant"})
    with pytest.raises(AuthRevoked, match="invalid_grant"):
        endpoint.refresh(SHOP, "shprt_dead")


@pytest.mark.parametrize("answer", [{"status": 500}, {"status": 429},
                                    {"body": requests.ConnectionError("reset")},
                                    {"body": requests.ReadTimeout("slow")}])
@responses.activate
def test_an_unanswered_refresh_is_worth_retrying(endpoint, answer):
    responses.post(TOKEN_URL, **answer)
    with pytest.raises(TransientError):
        endpoint.refresh(SHOP, "shprt_1")


@responses.activate
def test_an_answer_without_an_access_token_is_a_permanent_error(endpoint):
    responses.post(TOKEN_URL, json={"scope": "write_products"})
    with pytest.raises(PermanentError, match="no access token"):
        endpoint.exchange_session_token(SHOP, "jwt")


def test_an_oauth_callback_without_a_code_is_refused_before_asking_shopify(endpoint):
    with pytest.raises(InvalidInput):
        endpoint.exchange_code(SHOP, "")


class Tokens:
    """An AccessTokenSource that hands out the next token when asked to renew."""

    def __init__(self):
        self.token, self.renewed = "shpat_old", []

    def current(self) -> str:
        return self.token

    def renew(self, rejected: str) -> str:
        self.renewed.append(rejected)
        self.token = "shpat_new"
        return self.token


@responses.activate
def test_a_401_renews_the_token_once_and_sends_the_request_again():
    responses.post(GRAPHQL_URL, status=401, json={"errors": "Invalid API key or access token"})
    responses.post(GRAPHQL_URL, json={"data": {"shop": {"id": "1"}}})
    tokens = Tokens()
    client = GraphQLClient(SHOP, tokens, url_template="https://{shop}/admin/api/{version}/"
                           "graphql.json", api_version="2025-01", timeout=1)
    assert client.execute("query { shop { id } }", idempotent=False) == {"shop": {"id": "1"}}
    assert tokens.renewed == ["shpat_old"]
    assert [c.request.headers["X-Shopify-Access-Token"] for c in responses.calls] == [
        "shpat_old", "shpat_new"]


@responses.activate
def test_a_second_401_after_renewing_is_revoked_access():
    responses.post(GRAPHQL_URL, status=401, json={"errors": "Invalid API key or access token"})
    client = GraphQLClient(SHOP, Tokens(), url_template="https://{shop}/admin/api/{version}/"
                           "graphql.json", api_version="2025-01", timeout=1)
    with pytest.raises(AuthRevoked):
        client.execute("query { shop { id } }")
    assert len(responses.calls) == 2
