"""verify_twilio_signature against twilio-python's own known-answer vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from integrations.twilio.signature import verify_twilio_signature

VECTORS_FILE = (Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "twilio"
                / "twilio_request_validator_vectors.json")
DOC = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
TOKEN = DOC["auth_token"]
# test_compute_hash_unicode only checks a body hash and carries no URL or signature;
# the bodySHA256 vector after it covers that hash end to end.
SIGNED = [v for v in DOC["vectors"] if "url" in v]


def _params(vector):
    """What the web layer hands over: request.form (a MultiDict) or the raw JSON body."""
    if "params_multi" in vector:
        return MultiDict(vector["params_multi"])
    if "body" in vector:
        return vector["body"]
    return vector["params"]


def _signature(vector) -> str:
    return vector.get("expected_signature") or vector["expected_valid_with_signature"]


def test_every_signed_vector_is_in_use():
    assert len(SIGNED) == len(DOC["vectors"]) - 1


@pytest.mark.parametrize("vector", SIGNED, ids=[v["id"] for v in SIGNED])
def test_twilios_vectors_verify(vector):
    assert verify_twilio_signature(TOKEN, vector["url"], _params(vector), _signature(vector))


def test_the_hash_only_vector_matches_the_bodysha256_of_the_signed_body_vector():
    hash_only = next(v for v in DOC["vectors"] if "url" not in v)
    signed = next(v for v in SIGNED if "body" in v)

    assert hash_only["body"] == signed["body"]
    assert f"bodySHA256={hash_only['expected_bodySHA256_hex']}" in signed["url"]


def test_raw_bytes_body_verifies_like_text():
    vector = next(v for v in SIGNED if "body" in v)
    body = vector["body"].encode()

    assert verify_twilio_signature(TOKEN, vector["url"], body, _signature(vector))


def test_repeated_fields_verify_as_flask_parses_the_form():
    vector = next(v for v in SIGNED if "form_body" in v)
    environ = EnvironBuilder(method="POST", data=vector["form_body"],
                             content_type="application/x-www-form-urlencoded").get_environ()

    form = Request(environ).form

    assert verify_twilio_signature(TOKEN, vector["url"], form, _signature(vector))


def test_a_changed_param_fails():
    vector = SIGNED[0]
    tampered = dict(vector["params"], Digits="9999")

    assert not verify_twilio_signature(TOKEN, vector["url"], tampered, _signature(vector))


def test_an_added_param_fails():
    vector = SIGNED[0]
    tampered = dict(vector["params"], Extra="1")

    assert not verify_twilio_signature(TOKEN, vector["url"], tampered, _signature(vector))


def test_a_changed_url_fails():
    vector = SIGNED[0]
    url = vector["url"].replace("myapp.php", "other.php")

    assert not verify_twilio_signature(TOKEN, url, vector["params"], _signature(vector))


def test_a_changed_query_string_fails():
    vector = SIGNED[0]
    url = vector["url"].replace("foo=1", "foo=2")

    assert not verify_twilio_signature(TOKEN, url, vector["params"], _signature(vector))


def test_another_auth_token_fails():
    vector = SIGNED[0]

    assert not verify_twilio_signature("54321", vector["url"], vector["params"],
                                       _signature(vector))


def test_a_changed_json_body_fails():
    vector = next(v for v in SIGNED if "body" in v)
    body = vector["body"].replace("value", "VALUE")

    assert not verify_twilio_signature(TOKEN, vector["url"], body, _signature(vector))


def test_a_json_body_without_bodysha256_in_the_url_fails():
    vector = next(v for v in SIGNED if "body" in v)
    url = vector["url"].split("&bodySHA256=")[0]

    assert not verify_twilio_signature(TOKEN, url, vector["body"], _signature(vector))


@pytest.mark.parametrize("signature", [None, ""])
def test_a_missing_signature_fails(signature):
    vector = SIGNED[0]

    assert not verify_twilio_signature(TOKEN, vector["url"], vector["params"], signature)
