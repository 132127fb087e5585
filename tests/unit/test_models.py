"""paylink.core.models: the payment state machine, link input models, and a link's status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any

import pytest
from pydantic import ValidationError

from paylink.core.models import (
    Link,
    LinkCreate,
    LinkKind,
    LinkStatus,
    LinkUpdate,
    PaymentStatus,
    can_transition,
    sources_of,
)

S = PaymentStatus

# DESIGN.md section 4: created -> redirected -> paid | failed | cancelled | expired,
# paid -> settled, paid -> reversed.
DESIGNED_MOVES = [
    (S.CREATED, S.REDIRECTED),
    (S.REDIRECTED, S.PAID),
    (S.REDIRECTED, S.FAILED),
    (S.REDIRECTED, S.CANCELLED),
    (S.REDIRECTED, S.EXPIRED),
    (S.PAID, S.SETTLED),
    (S.PAID, S.REVERSED),
]
TERMINAL = [S.FAILED, S.CANCELLED, S.EXPIRED, S.SETTLED, S.REVERSED]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


# --- payment state machine -------------------------------------------------------------


@pytest.mark.parametrize(("current", "target"), DESIGNED_MOVES, ids=lambda s: str(s))
def test_every_move_of_the_design_is_allowed(current, target):
    # Given a move the design names
    # When asked whether it is allowed
    # Then it is
    assert can_transition(current, target)


@pytest.mark.parametrize(("current", "target"), list(product(TERMINAL, list(S))), ids=lambda s: str(s))
def test_terminal_states_never_move(current, target):
    # Given a payment in a terminal state
    # When asked to move anywhere, itself included
    # Then the move is refused
    assert not can_transition(current, target)


def test_paid_never_goes_back_to_redirected():
    # Given a paid payment
    # When asked to go back to redirected
    # Then it is refused
    assert not can_transition(S.PAID, S.REDIRECTED)


@pytest.mark.parametrize("state", list(S), ids=str)
def test_no_state_moves_to_itself(state):
    # Given any state
    # Then a self-move is not a transition (a conditional write on it would be a no-op)
    assert not can_transition(state, state)


@pytest.mark.parametrize("state", list(S), ids=str)
def test_nothing_moves_back_to_created(state):
    # Given any state
    # Then created is never a target
    assert not can_transition(state, S.CREATED)


def test_paid_is_reached_only_from_redirected():
    # Given the paid state
    # When its sources are asked (the condition of the conditional write)
    # Then only redirected is a source
    assert sources_of(S.PAID) == [S.REDIRECTED]


def test_settled_and_reversed_are_reached_only_from_paid():
    # Given the post-payment states
    # Then only paid leads to them
    assert sources_of(S.SETTLED) == [S.PAID]
    assert sources_of(S.REVERSED) == [S.PAID]


def test_sources_of_created_is_empty():
    # Given the initial state
    # Then nothing leads to it
    assert sources_of(S.CREATED) == []


# --- LinkCreate ---------------------------------------------------------------------------


def item(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Notebook", "amount": 250_000}
    body.update(overrides)
    return body


def error_locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[Any, ...]]:
    return [tuple(e["loc"]) for e in exc.value.errors()]


def error_text(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return " | ".join(str(e["msg"]) for e in exc.value.errors())


def test_item_with_an_integer_amount_is_accepted_with_defaults():
    # Given the smallest valid item body
    link = LinkCreate.model_validate(item())
    # Then kind, collect and quantity take their defaults
    assert link.kind is LinkKind.ITEM
    assert link.amount == 250_000
    assert link.collect == ["name", "phone"]
    assert link.max_quantity == 1


def test_item_requires_an_amount():
    # Given an item without amount
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate({"title": "Notebook"})
    # Then the error names amount
    assert "amount: required" in error_text(exc)


@pytest.mark.parametrize("amount", [12.5, 1000.0, "1000"], ids=["fraction", "whole-float", "string"])
def test_amount_that_is_not_a_json_integer_is_refused(amount):
    # Given an amount sent as a float or a string
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate(item(amount=amount))
    # Then amount is refused (no silent coercion of money)
    assert ("amount",) in error_locs(exc)


@pytest.mark.parametrize("amount", [-1_000, 0, 999])
def test_amount_below_the_gateway_minimum_is_refused(amount):
    # Given a negative, zero or below-1,000-rial amount
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate(item(amount=amount))
    # Then amount is refused
    assert ("amount",) in error_locs(exc)


def test_amount_of_exactly_1000_rials_is_accepted():
    # Given the minimum the gateways accept
    # Then it is valid
    assert LinkCreate.model_validate(item(amount=1_000)).amount == 1_000


def test_open_link_refuses_a_fixed_amount():
    # Given an open link with an amount
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate({"title": "Tips", "kind": "open", "amount": 5_000})
    # Then the error says an open link has no fixed amount
    assert "amount: an open link has no fixed amount" in error_text(exc)


def test_open_link_refuses_min_above_max():
    # Given an open link whose minimum is above its maximum
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate(
            {"title": "Tips", "kind": "open", "min_amount": 50_000, "max_amount": 10_000}
        )
    # Then min_amount is named
    assert "min_amount: must not be above max_amount" in error_text(exc)


def test_open_link_accepts_min_equal_to_max():
    # Given an open link with equal bounds
    link = LinkCreate.model_validate(
        {"title": "Tips", "kind": "open", "min_amount": 10_000, "max_amount": 10_000}
    )
    # Then it is valid
    assert (link.min_amount, link.max_amount) == (10_000, 10_000)


def test_item_refuses_min_and_max_amounts():
    # Given an item with limits, which only open links have
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate(item(min_amount=1_000))
    # Then the limits are refused
    assert "min_amount: only an open link has limits" in error_text(exc)


def test_invoice_needs_the_payers_name():
    # Given an invoice with a payer but no name
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate(item(kind="invoice", payer={"phone": "09121234567"}))
    # Then payer is named
    assert "payer: an invoice needs the payer's name" in error_text(exc)


def test_invoice_without_payer_is_refused():
    # Given an invoice without any payer
    # When validated
    # Then it is refused
    with pytest.raises(ValidationError, match="payer's name"):
        LinkCreate.model_validate(item(kind="invoice"))


def test_invoice_with_payer_name_is_accepted():
    # Given an invoice for a named payer
    link = LinkCreate.model_validate(item(kind="invoice", payer={"name": "Sara"}))
    # Then it is valid
    assert link.payer is not None
    assert link.payer.name == "Sara"


def test_redirect_url_https_is_accepted():
    # Given an https redirect
    link = LinkCreate.model_validate(item(redirect_url="https://shop.example/thanks?x=1"))
    # Then it is kept as given
    assert link.redirect_url == "https://shop.example/thanks?x=1"


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example/thanks",
        "javascript:alert(1)",
        "https://user:pw@shop.example/",
        "https://shop.example/\r\nSet-Cookie: a=b",
        "https://shop.example/a\nb",
        "//shop.example/thanks",
        "https:///nohost",
        "ftp://shop.example/",
    ],
    ids=["http", "javascript", "credentials", "crlf", "lf", "scheme-relative", "no-host", "ftp"],
)
def test_redirect_url_that_is_not_a_plain_https_url_is_refused(url):
    # Given an unsafe or non-https redirect
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate(item(redirect_url=url))
    # Then redirect_url is refused
    assert ("redirect_url",) in error_locs(exc)


def test_expires_at_in_the_past_is_refused():
    # Given an expiry one minute ago
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate(item(expires_at=past))
    # Then expires_at is refused
    assert ("expires_at",) in error_locs(exc)


def test_expires_at_in_the_future_is_accepted():
    # Given an expiry tomorrow
    future = datetime.now(UTC) + timedelta(days=1)
    # Then it is valid
    assert LinkCreate.model_validate(item(expires_at=future.isoformat())).expires_at == future


def test_expires_at_without_a_time_zone_is_refused():
    # Given a naive timestamp (ambiguous: which time zone?)
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate(item(expires_at="2099-01-01T00:00:00"))
    # Then expires_at is refused
    assert ("expires_at",) in error_locs(exc)


def test_unknown_field_is_refused():
    # Given a body with a field the API does not know
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate(item(price=1_000))
    # Then the field is named as extra
    assert [e["type"] for e in exc.value.errors()] == ["extra_forbidden"]
    assert ("price",) in error_locs(exc)


def test_collect_accepts_a_subset_of_the_known_fields():
    # Given a subset of the collectable fields
    link = LinkCreate.model_validate(item(collect=["email", "note"]))
    # Then it is kept in order
    assert link.collect == ["email", "note"]


def test_collect_refuses_repeats():
    # Given a field listed twice
    # When validated
    with pytest.raises(ValidationError, match="must not repeat"):
        LinkCreate.model_validate(item(collect=["name", "name"]))


def test_collect_refuses_an_unknown_field():
    # Given a field that cannot be collected
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate(item(collect=["name", "national_id"]))
    # Then collect is refused
    assert error_locs(exc)[0][0] == "collect"


def test_title_is_stripped():
    # Given a title with surrounding spaces
    link = LinkCreate.model_validate(item(title="  Notebook  "))
    # Then it is stored stripped
    assert link.title == "Notebook"


@pytest.mark.parametrize("title", ["", "   ", "x" * 121], ids=["empty", "blank", "121-chars"])
def test_title_outside_1_to_120_characters_is_refused(title):
    # Given an empty, blank or too long title
    # When validated
    with pytest.raises(ValidationError) as exc:
        LinkCreate.model_validate(item(title=title))
    # Then title is refused
    assert ("title",) in error_locs(exc)


def test_title_of_120_characters_is_accepted():
    # Given the longest allowed title
    # Then it is valid
    assert len(LinkCreate.model_validate(item(title="x" * 120)).title) == 120


# --- LinkUpdate ---------------------------------------------------------------------------


def test_link_update_refuses_an_empty_body():
    # Given a PATCH with nothing in it
    # When validated
    # Then it is refused with a message naming what may change
    with pytest.raises(ValidationError, match="nothing to change"):
        LinkUpdate.model_validate({})


def test_link_update_refuses_active_null():
    # Given a PATCH setting active to null
    # When validated
    # Then it is refused
    with pytest.raises(ValidationError, match="active: must not be null"):
        LinkUpdate.model_validate({"active": None})


def test_link_update_refuses_title_null():
    # Given a PATCH setting title to null
    # When validated
    # Then it is refused
    with pytest.raises(ValidationError, match="title: must not be null"):
        LinkUpdate.model_validate({"title": None})


def test_link_update_records_only_the_fields_sent():
    # Given a PATCH deactivating a link
    update = LinkUpdate.model_validate({"active": False})
    # Then only active is set
    assert update.model_fields_set == {"active"}
    assert update.active is False


def test_link_update_refuses_unknown_fields():
    # Given a PATCH trying to change the amount, which is not changeable
    # When validated
    # Then it is refused
    with pytest.raises(ValidationError):
        LinkUpdate.model_validate({"amount": 5_000})


# --- Link.status --------------------------------------------------------------------------


def stored_link(**overrides: Any) -> Link:
    data: dict[str, Any] = {
        "code": "abcDEF123456",
        "merchant_id": "mer_1",
        "merchant_name": "Shop",
        "kind": LinkKind.ITEM,
        "title": "Notebook",
        "amount": 250_000,
        "created_at": "2026-11-01T00:00:00Z",
    }
    data.update(overrides)
    return Link(**data)


def test_status_is_active_for_a_fresh_link():
    # Given a new active link
    # Then a buyer meets it active
    assert stored_link().status(NOW) is LinkStatus.ACTIVE


def test_status_is_inactive_when_switched_off():
    # Given a link its merchant deactivated
    # Then its status is inactive
    assert stored_link(active=False).status(NOW) is LinkStatus.INACTIVE


def test_status_is_expired_after_expires_at():
    # Given a link that expired a second before now
    link = stored_link(expires_at="2026-11-23T11:59:59Z")
    # Then it is expired
    assert link.status(NOW) is LinkStatus.EXPIRED


def test_status_is_active_before_expires_at():
    # Given a link expiring a second after now
    link = stored_link(expires_at="2026-11-23T12:00:01Z")
    # Then it is still active
    assert link.status(NOW) is LinkStatus.ACTIVE


def test_status_is_sold_out_when_paid_count_reaches_max_payments():
    # Given a link with a stock of 3, all paid
    link = stored_link(max_payments=3, paid_count=3)
    # Then it is sold out
    assert link.status(NOW) is LinkStatus.SOLD_OUT


def test_status_is_active_while_stock_remains():
    # Given a link with a stock of 3 and 2 paid
    # Then it is active
    assert stored_link(max_payments=3, paid_count=2).status(NOW) is LinkStatus.ACTIVE


def test_status_of_a_paid_invoice_is_paid():
    # Given an invoice paid once
    link = stored_link(kind=LinkKind.INVOICE, max_payments=1, paid_count=1)
    # Then it is paid (not merely sold out)
    assert link.status(NOW) is LinkStatus.PAID


def test_unpaid_invoice_is_active():
    # Given an invoice not yet paid
    # Then it is active
    assert stored_link(kind=LinkKind.INVOICE, max_payments=1).status(NOW) is LinkStatus.ACTIVE
