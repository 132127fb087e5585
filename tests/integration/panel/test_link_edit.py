"""Panel link edit and "send this invoice by SMS" (issue 14): the API's rules through a form;
another merchant's link answers exactly like a missing one; cross-site posts refused."""

from __future__ import annotations

import pytest

from tests.integration.panel.support import Browser, signed_up
from tests.integration.test_invoice_notify import outbox  # noqa: F401 - fixture

CROSS_SITE = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
MISSING = "nosuchcode00"


@pytest.fixture
def shop(aws, texts, inquiry):  # type: ignore[no-untyped-def]
    return signed_up(texts, "09121234567", "scarves", "203.0.113.9")


def _new_link(browser: Browser) -> str:
    answer = browser.post("/dashboard/links/new", {"title": "Scarf", "amount": "120000"})
    assert answer.status == 303, answer.text
    return answer.location.rsplit("/", 1)[1].split("?")[0]


def _invoice(store) -> str:  # type: ignore[no-untyped-def]
    from paylink.core.models import LinkCreate
    from paylink.merchants.links import create_link

    merchant = store.get_merchant(store.merchant_id_for_username("scarves"))
    body = {"title": "Design work", "kind": "invoice", "amount": 4_500_000,
            "payer": {"name": "Sara", "phone": "09121112233"}}  # fmt: skip
    return create_link(store, merchant, LinkCreate.model_validate(body)).code


def test_an_edit_changes_the_title_limit_expiry_and_active(shop, store):
    code = _new_link(shop)
    assert shop.get(f"/dashboard/links/{code}/edit").status == 200

    saved = shop.post(
        f"/dashboard/links/{code}/edit",
        {"title": "Silk scarf", "description": "Blue", "max_payments": "۵", "expires_on": "1499/01/01"},
    )

    assert saved.status == 303
    link = store.get_link(code)
    assert (link.title, link.description, link.max_payments, link.active) == ("Silk scarf", "Blue", 5, False)
    assert link.expires_at is not None


def test_an_empty_title_is_a_field_error_and_nothing_changes(shop, store):
    code = _new_link(shop)

    answer = shop.post(f"/dashboard/links/{code}/edit", {"title": "", "active": "on"})

    assert answer.status == 400
    assert 'id="e-title"' in answer.text
    assert store.get_link(code).title == "Scarf"


def test_a_past_expiry_is_a_field_error(shop, store):
    code = _new_link(shop)

    answer = shop.post(
        f"/dashboard/links/{code}/edit", {"title": "Scarf", "active": "on", "expires_on": "1390/01/01"}
    )

    assert answer.status == 400
    assert 'id="e-expires_on"' in answer.text


def test_another_merchants_link_answers_like_a_missing_one(shop, texts, store):
    code = _new_link(shop)
    rival = signed_up(texts, "09351234567", "hats", "203.0.113.10")

    for method, suffix in (("get", "edit"), ("post", "edit"), ("post", "send")):
        if method == "get":
            foreign, missing = (
                rival.get(f"/dashboard/links/{code}/{suffix}"),
                rival.get(f"/dashboard/links/{MISSING}/{suffix}"),
            )
        else:
            fields = {"title": "Stolen", "active": "on"}
            foreign = rival.post(f"/dashboard/links/{code}/{suffix}", fields)
            missing = rival.post(f"/dashboard/links/{MISSING}/{suffix}", fields)
        assert foreign.status == missing.status == 404, suffix
        assert foreign.text == missing.text, suffix
    assert store.get_link(code).title == "Scarf"


def test_a_cross_site_edit_is_refused(shop, store):
    code = _new_link(shop)

    answer = shop.post(f"/dashboard/links/{code}/edit", {"title": "Evil", "active": "on"}, headers=CROSS_SITE)

    assert answer.status == 403
    assert store.get_link(code).title == "Scarf"


def test_an_invoice_is_sent_to_its_payer_by_sms(shop, store, outbox):  # noqa: F811
    code = _invoice(store)
    assert "/send" in shop.get(f"/dashboard/links/{code}").text

    sent = shop.post(f"/dashboard/links/{code}/send", {})

    assert sent.status == 303
    assert "sent=sms" in sent.location
    assert len(outbox()["sms"]) == 1


def test_a_link_that_is_not_an_invoice_is_not_sent(shop, store, outbox):  # noqa: F811
    code = _new_link(shop)

    answer = shop.post(f"/dashboard/links/{code}/send", {})

    assert answer.status == 400
    assert outbox()["sms"] == []


def test_a_cross_site_send_is_refused(shop, store, outbox):  # noqa: F811
    code = _invoice(store)

    answer = shop.post(f"/dashboard/links/{code}/send", {}, headers=CROSS_SITE)

    assert answer.status == 403
    assert outbox()["sms"] == []
