"""Settlement against moto: one settlement per merchant and business day, exactly once."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, local_target

BUYER = {"name": "Ali", "phone": "09121234567"}
MONDAY = date(2026, 11, 23)  # the payments below are paid "today"; settle a later business day


def _paid_payment(api, code):  # type: ignore[no-untyped-def]
    started = api.post_form(f"/{code}", BUYER)
    assert started.status == 303, started.text
    api.get(local_target(act_at_gateway(started.location)))


def _settle(api, day):  # type: ignore[no-untyped-def]
    from functions.settle.app import lambda_handler
    from local.run import LambdaContext
    from local.template import functions, load_template

    return lambda_handler({"date": day}, LambdaContext(functions(load_template())["SettleFunction"]))


@pytest.fixture
def paid_link(api, merchant, gateways):  # type: ignore[no-untyped-def]
    link = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_234_560}, key=TEST_API_KEY).json()
    for _ in range(2):
        _paid_payment(api, link["code"])
    return link


def _next_business_day_after_today() -> str:
    from paylink.core.models import utcnow
    from paylink.settlement.business_calendar import local_date, next_business_day

    return next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()


def test_settlement_sums_gross_fee_and_net_of_its_payments(api, paid_link):
    # Given two paid payments of 1,234,560 rials and the default 1.5% fee
    day = _next_business_day_after_today()
    # When the next business day is settled
    report = _settle(api, day)
    # Then one settlement holds both, fee rounded half up per payment, and is paid out
    [settlement] = api.get("/v1/settlements", key=TEST_API_KEY).json()["items"]
    fee_each = (1_234_560 * 150 + 5_000) // 10_000  # 18,518.4 -> 18,518
    assert settlement["date"] == day
    assert settlement["payment_count"] == 2
    assert settlement["gross"] == 2 * 1_234_560
    assert settlement["fee"] == 2 * fee_each
    assert settlement["net"] == settlement["gross"] - settlement["fee"]
    assert settlement["status"] == "paid"
    assert settlement["payout_reference"]
    assert report["settlements"][0]["id"] == settlement["id"]


def test_settlement_lists_its_payments_marked_settled(api, paid_link):
    # Given a settled day
    _settle(api, _next_business_day_after_today())
    [settlement] = api.get("/v1/settlements", key=TEST_API_KEY).json()["items"]
    # When the merchant reads the settlement
    detail = api.get(f"/v1/settlements/{settlement['id']}", key=TEST_API_KEY).json()
    # Then its payments are there, settled, with fee and net that add up to the settlement's
    assert len(detail["payments"]) == 2
    assert {p["status"] for p in detail["payments"]} == {"settled"}
    assert sum(p["fee"] for p in detail["payments"]) == settlement["fee"]
    assert sum(p["net"] for p in detail["payments"]) == settlement["net"]


def test_settling_the_same_day_twice_creates_nothing_new(api, paid_link, store):
    # Given a settled day
    day = _next_business_day_after_today()
    _settle(api, day)
    first = api.get("/v1/settlements", key=TEST_API_KEY).json()["items"]
    # When it is settled again
    _settle(api, day)
    # Then the same single settlement stands, paid out once
    assert api.get("/v1/settlements", key=TEST_API_KEY).json()["items"] == first
    assert store.get_payout(first[0]["id"])["amount"] == first[0]["net"]


def test_payments_of_the_day_itself_wait_for_the_next_settlement(api, paid_link):
    # Given payments made today
    from paylink.core.models import utcnow
    from paylink.settlement.business_calendar import local_date

    today = local_date(utcnow(), "Asia/Tehran").isoformat()
    # When today is settled (it covers only days before today)
    _settle(api, today)
    # Then nothing is settled yet
    assert api.get("/v1/settlements", key=TEST_API_KEY).json()["items"] == []


def test_a_friday_settles_nothing(api, paid_link):
    # Given paid payments and a Friday in the future
    from datetime import timedelta

    from paylink.core.models import utcnow
    from paylink.settlement.business_calendar import local_date

    today = local_date(utcnow(), "Asia/Tehran")
    friday = today + timedelta(days=(4 - today.weekday()) % 7 or 7)
    # When the Friday is settled
    report = _settle(api, friday.isoformat())
    # Then it is not a business day and nothing is settled
    assert report["business_day"] is False
    assert api.get("/v1/settlements", key=TEST_API_KEY).json()["items"] == []


def test_a_crash_after_some_payments_resumes_without_paying_twice(api, paid_link, store, monkeypatch):
    # Given a run, one payment per page, that crashes after moving the first payment in
    import paylink.store.settlements

    monkeypatch.setattr(paylink.store.settlements, "SETTLE_PAGE", 1)
    real = paylink.store.Store._settle_items
    pages = []

    def crash_on_second_page(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        pages.append(1)
        if len(pages) == 2:
            raise RuntimeError("crash")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(paylink.store.Store, "_settle_items", crash_on_second_page)
    day = _next_business_day_after_today()
    with pytest.raises(RuntimeError):
        _settle(api, day)
    monkeypatch.setattr(paylink.store.Store, "_settle_items", real)
    # When the settlement runs again
    _settle(api, day)
    # Then one settlement holds both payments once, and one payout of its net was made
    [settlement] = api.get("/v1/settlements", key=TEST_API_KEY).json()["items"]
    assert settlement["payment_count"] == 2
    assert settlement["gross"] == 2 * 1_234_560
    assert store.get_payout(settlement["id"])["amount"] == settlement["net"]


def test_a_page_meeting_a_payment_already_settled_moves_the_rest_one_by_one(api, paid_link, store):
    # Given an open settlement into which another run already moved one of two payments
    from paylink.core.ids import settlement_id
    from paylink.core.models import Settlement, SettlementStatus, iso, utcnow

    merchant_id = store.get_link(paid_link["code"]).merchant_id
    day = _next_business_day_after_today()
    sid = settlement_id(merchant_id, day)
    opened = Settlement(
        id=sid, merchant_id=merchant_id, date=day, status=SettlementStatus.OPEN,
        iban="IR062960000000100324200001", created_at=iso(utcnow()),
    )  # fmt: skip
    store.open_settlement(opened)
    first, second = list(store.unsettled_payments(merchant_id, before="9999"))
    assert store.settle_payments([(first, 100, first.amount - 100)], sid) == 1
    # When a page holding both is written
    moved = store.settle_payments([(first, 100, first.amount - 100), (second, 100, second.amount - 100)], sid)
    # Then only the second moves, and the totals count each payment once
    assert moved == 1
    settlement = store.get_settlement(sid)
    assert (settlement.payment_count, settlement.gross) == (2, first.amount + second.amount)


def test_a_merchant_with_an_invalid_iban_is_held(api, store, gateways):
    # Given a merchant whose IBAN became invalid (written directly: the API refuses invalid ones)
    from paylink.merchants.accounts import create_merchant
    from tests.conftest import VALID_IBAN

    merchant, key = create_merchant(store, username="held", name="Held", iban=VALID_IBAN)
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"MERCHANT#{merchant.id}", "sk": "PROFILE"},
        UpdateExpression="SET iban = :bad",
        ExpressionAttributeValues={":bad": "IR000000000000000000000000"},
    )
    link = api.post_json("/v1/links", {"title": "x", "amount": 100_000}, key=key).json()
    _paid_payment(api, link["code"])
    # When the day is settled
    _settle(api, _next_business_day_after_today())
    # Then the settlement is held with the reason, and nothing was paid out
    [settlement] = api.get("/v1/settlements", key=key).json()["items"]
    assert settlement["status"] == "held"
    assert "IBAN" in settlement["held_reason"]
    assert store.get_payout(settlement["id"]) is None


def test_bad_date_is_a_clear_error(api, aws):
    # When settle is invoked with a malformed date
    result = _settle(api, "2026-13-40")
    # Then it answers a validation error naming the field
    assert result["error"]["fields"] == {"date": "expected YYYY-MM-DD"}


def test_an_official_holiday_settles_nothing_and_the_next_business_day_settles_all(api, paid_link):
    # Given paid payments and the next official holiday of Iran that is not a Friday
    from datetime import timedelta

    import holidays

    from paylink.core.models import utcnow
    from paylink.settlement.business_calendar import local_date, next_business_day

    today = local_date(utcnow(), "Asia/Tehran")
    official = holidays.country_holidays("IR", years=[today.year, today.year + 1])
    holiday = next(day for day in sorted(official) if day > today + timedelta(days=1) and day.weekday() != 4)
    # When the holiday is settled
    report = _settle(api, holiday.isoformat())
    # Then it is not a business day and nothing is settled
    assert report["business_day"] is False
    assert api.get("/v1/settlements", key=TEST_API_KEY).json()["items"] == []
    # And the next business day settles everything paid before it
    after = next_business_day(holiday, "IR")
    _settle(api, after.isoformat())
    [settlement] = api.get("/v1/settlements", key=TEST_API_KEY).json()["items"]
    assert (settlement["date"], settlement["payment_count"]) == (after.isoformat(), 2)
