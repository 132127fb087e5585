"""Every panel route answers bad input with a clear 4xx page and an unreachable provider with a 503
page, never a 500 (issue 14)."""

from __future__ import annotations

import pytest

from tests.integration.panel.support import signed_up

JUNK = "\u0000<script>'\"" + "x" * 3000 + "%ZZ"
# Every route of functions/panel/app.py that takes input, with what each is sent.
ROUTES = [
    ("GET", "/dashboard/links?cursor=" + "Z" * 500),
    ("POST", "/dashboard/links/new"),
    ("GET", "/dashboard/links/%00%ff"),
    ("GET", "/dashboard/links/" + "a" * 300),
    ("POST", "/dashboard/links/" + "a" * 300 + "/deactivate"),
    ("GET", "/dashboard/links/" + "a" * 300 + "/edit"),
    ("POST", "/dashboard/links/" + "a" * 300 + "/edit"),
    ("POST", "/dashboard/links/" + "a" * 300 + "/send"),
    ("GET", "/dashboard/payments?status=" + "q" * 300 + "&from=1404/13/40&to=x&cursor=!!"),
    ("GET", "/dashboard/payments?format=csv&from=32/32/32"),
    ("GET", "/dashboard/payments/" + "p" * 300),
    ("GET", "/dashboard/settlements/" + "s" * 300),
    ("POST", "/dashboard/coupons"),
    ("POST", "/dashboard/settings/webhook"),
    ("POST", "/dashboard/settings/webhook/rotate"),
    ("POST", "/dashboard/settings/webhook/delete"),
    ("POST", "/dashboard/settings/keys"),
    ("POST", "/dashboard/settings/keys/revoke"),
    ("POST", "/dashboard/settings/telegram/unlink"),
    ("POST", "/dashboard/settings/iban"),
    ("POST", "/dashboard/settings/sessions/end"),
]
FIELDS = ["title", "amount", "kind", "description", "code", "percent", "max_uses", "expires", "url", "name",
          "key", "chat", "iban", "national_code", "birth_date", "session", "phone", "active"]  # fmt: skip


@pytest.fixture
def shop(aws, texts, inquiry):  # type: ignore[no-untyped-def]
    return signed_up(texts, "09121234567", "scarves", "203.0.113.9")


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_junk_input_gets_a_page_below_500(shop, method, path):
    answer = shop.get(path) if method == "GET" else shop.post(path, dict.fromkeys(FIELDS, JUNK))

    assert answer.status < 500, answer.text[:300]
    if answer.status != 303:
        assert answer.headers.get("Content-Type", "").startswith("text/html")


def test_a_throttled_table_answers_a_503_page_not_a_500(shop, monkeypatch):
    from botocore.exceptions import ClientError

    from paylink.store import get_store

    def throttled(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")

    monkeypatch.setattr(type(get_store()), "settlements_of", throttled)

    answer = shop.get("/dashboard/settlements?lang=en")

    assert answer.status == 503
    assert "not reachable now" in answer.text


def test_an_unreachable_provider_answers_a_503_page_not_a_500(shop, monkeypatch):
    import httpx

    from paylink.panel import overview

    def unreachable(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise httpx.ConnectError("down")

    monkeypatch.setattr(overview, "overview", unreachable)

    answer = shop.get("/dashboard")

    assert answer.status == 503


def test_a_domain_error_a_view_did_not_expect_is_its_own_4xx_page(shop, monkeypatch):
    from paylink.core.errors import Conflict
    from paylink.panel import overview

    def conflict(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Conflict("changed meanwhile")

    monkeypatch.setattr(overview, "overview", conflict)

    answer = shop.get("/dashboard?lang=en")

    assert answer.status == 409
    assert "Changed meanwhile" in answer.text


def test_a_missing_panel_key_answers_sign_in_with_a_503_not_a_500(aws, texts, monkeypatch):
    from tests.helpers import reset_caches
    from tests.integration.panel.support import PHONE, Browser

    monkeypatch.setenv("PAYLINK_PANEL_KEY_PARAMETER", "/paylink/test/no-such-key")
    reset_caches()

    assert Browser().post("/login", {"phone": PHONE}).status == 503
    assert Browser().post("/login/verify", {"phone": "+989121234567", "code": "123456"}).status == 503


def test_a_throttled_table_answers_the_sign_in_form_with_a_503_page(aws, texts, monkeypatch):
    from botocore.exceptions import ClientError

    from paylink.store import get_store
    from tests.integration.panel.support import PHONE, Browser

    def throttled(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")

    monkeypatch.setattr(type(get_store()), "count_within", throttled)

    answer = Browser().post("/login", {"phone": PHONE})

    assert answer.status == 503
    assert texts.sent == []
