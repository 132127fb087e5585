"""Merchant API against moto with the tables of template.yaml: links, QR codes, ownership, auth."""

from __future__ import annotations

from tests.conftest import OTHER_API_KEY, TEST_API_KEY


def _create(api, **fields):  # type: ignore[no-untyped-def]
    answer = api.post_json(
        "/v1/links", {"title": "Handmade scarf", "amount": 1_200_000, **fields}, key=TEST_API_KEY
    )
    assert answer.status == 201, answer.text
    return answer.json()


def test_create_link_answers_201_with_url_qr_and_status(api, merchant):
    # Given a merchant with an API key
    # When it creates an item link
    link = _create(api)
    # Then the answer carries the contract's fields, built on the public base URL
    assert link["kind"] == "item"
    assert link["amount"] == 1_200_000
    assert link["url"] == f"https://pay.example/{link['code']}"
    assert link["qr_svg_url"] == link["url"] + "/qr.svg"
    assert link["qr_png_url"] == link["url"] + "/qr.png"
    assert link["status"] == "active"
    assert link["collect"] == ["name", "phone"]
    assert (link["paid_count"], link["paid_total"]) == (0, 0)


def test_link_codes_are_unguessable_and_distinct(api, merchant):
    # Given several links
    codes = {_create(api)["code"] for _ in range(20)}
    # Then every code is distinct and 12 base-62 characters long (over 64 bits)
    assert len(codes) == 20
    assert all(len(code) == 12 and code.isalnum() for code in codes)


def test_get_link_shows_counters(api, merchant):
    # Given a link
    code = _create(api)["code"]
    # When the merchant reads it
    answer = api.get(f"/v1/links/{code}", key=TEST_API_KEY)
    # Then it has its counters
    assert answer.status == 200
    assert answer.json()["paid_count"] == 0
    assert answer.json()["paid_total"] == 0


def test_list_links_is_newest_first_with_a_cursor(api, merchant, monkeypatch):
    # Given more links than one page holds
    import paylink.store.table

    monkeypatch.setattr(paylink.store.table, "PAGE_SIZE", 2)
    codes = [_create(api, title=f"item {i}")["code"] for i in range(5)]
    # When the merchant pages through its links
    seen, cursor = [], None
    while True:
        answer = api.get("/v1/links" + (f"?cursor={cursor}" if cursor else ""), key=TEST_API_KEY)
        assert answer.status == 200
        seen.extend(item["code"] for item in answer.json()["items"])
        cursor = answer.json()["next_cursor"]
        if not cursor:
            break
    # Then every link appears once, newest first
    assert sorted(seen) == sorted(codes)
    titles = [api.get(f"/v1/links/{code}", key=TEST_API_KEY).json()["title"] for code in seen]
    assert titles == [f"item {i}" for i in reversed(range(5))]


def test_patch_changes_only_the_fields_sent(api, merchant):
    # Given a link
    code = _create(api, description="wool")["code"]
    # When the merchant deactivates it
    answer = api.patch_json(f"/v1/links/{code}", {"active": False}, key=TEST_API_KEY)
    # Then it is inactive and nothing else changed
    assert answer.status == 200
    assert answer.json()["active"] is False
    assert answer.json()["status"] == "inactive"
    assert answer.json()["description"] == "wool"


def test_another_merchants_link_is_not_found(api, merchant, other_merchant):
    # Given a link of one merchant
    code = _create(api)["code"]
    # When another merchant reads or changes it
    read = api.get(f"/v1/links/{code}", key=OTHER_API_KEY)
    change = api.patch_json(f"/v1/links/{code}", {"active": False}, key=OTHER_API_KEY)
    # Then both answer 404 exactly like a missing link, and nothing changed
    assert (read.status, change.status) == (404, 404)
    assert read.json() == api.get("/v1/links/nosuchcode00", key=OTHER_API_KEY).json()
    assert api.get(f"/v1/links/{code}", key=TEST_API_KEY).json()["active"] is True


def test_another_merchants_links_are_not_listed(api, merchant, other_merchant):
    # Given a link of one merchant
    _create(api)
    # When another merchant lists its links
    answer = api.get("/v1/links", key=OTHER_API_KEY)
    # Then it sees none
    assert answer.json() == {"items": [], "next_cursor": None}


def test_missing_or_wrong_api_key_is_401(api, merchant):
    # Given no key, a wrong key and a wrong scheme
    # When they call the API
    answers = [
        api.get("/v1/links"),
        api.get("/v1/links", key="plk_wrong"),
        api.request("GET", "/v1/links", headers={"authorization": f"Basic {TEST_API_KEY}"}),
    ]
    # Then each is refused with a JSON error
    for answer in answers:
        assert answer.status == 401
        assert answer.json()["error"]["code"] == "unauthorized"


def test_api_keys_are_stored_hashed(api, merchant, aws):
    # Given a merchant created with a known key
    from tests.helpers import table_items

    # Then the key appears nowhere in the table
    assert TEST_API_KEY not in repr(table_items(aws))


def test_qr_codes_are_served_as_svg_and_png(api, merchant):
    # Given a link
    code = _create(api)["code"]
    # When its QR codes are fetched
    svg = api.get(f"/{code}/qr.svg")
    png = api.get(f"/{code}/qr.png")
    # Then they are a real SVG and a real PNG
    assert svg.status == 200
    assert svg.headers["Content-Type"].startswith("image/svg+xml")
    assert "<svg" in svg.text
    assert png.status == 200
    assert png.headers["Content-Type"] == "image/png"
    assert png.body.startswith(b"\x89PNG\r\n\x1a\n")


def test_qr_of_unknown_link_is_404(api, merchant):
    assert api.get("/nosuchcode00/qr.svg").status == 404


def test_invoice_is_one_payment_for_a_named_payer(api, merchant):
    # When an invoice is created
    link = _create(api, kind="invoice", payer={"name": "Sara", "phone": "09121234567"}, due_date="2026-12-01")
    # Then it can be paid once
    assert link["max_payments"] == 1
    assert link["payer"]["name"] == "Sara"


def test_open_link_gets_limits(api, merchant):
    # When an open-amount link is created without limits
    answer = api.post_json("/v1/links", {"title": "Donation", "kind": "open"}, key=TEST_API_KEY)
    # Then it takes the gateway minimum and the account's limit per payment
    assert answer.status == 201, answer.text
    assert answer.json()["min_amount"] == 1_000
    assert answer.json()["max_amount"] == 10_000_000
