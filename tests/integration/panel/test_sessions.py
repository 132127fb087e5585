"""Panel sessions (issue 14): hashed ids, idle and absolute expiry, sign-out, revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.panel.support import Browser, sign_up


@pytest.fixture
def merchant_browser(aws, texts, inquiry):
    browser = Browser()
    browser.sign_in(texts)
    assert sign_up(browser).status == 303
    return browser


def test_a_signed_in_merchant_sees_the_dashboard(merchant_browser):
    answer = merchant_browser.get("/dashboard")

    assert answer.status == 200
    assert "Scarf Shop" in answer.text


def test_only_the_session_ids_hash_is_stored(merchant_browser, aws):
    from tests.helpers import table_items

    session_id = merchant_browser.cookie.split("=", 1)[1]
    items = table_items(aws)

    assert session_id not in str(items)
    assert any(str(item["pk"]).startswith("SESSION#") for item in items)


def test_sign_out_ends_the_session_on_the_server(merchant_browser):
    kept = merchant_browser.cookie
    answer = merchant_browser.post("/logout", {})

    assert answer.status == 303
    assert answer.location == "/login"
    assert "Max-Age=0" in answer.cookies[0]
    # the old cookie, replayed, opens nothing
    replay = Browser()
    replay.cookie = kept
    assert replay.get("/dashboard").location == "/login"


def test_a_cross_site_sign_out_is_refused(merchant_browser):
    answer = merchant_browser.post("/logout", {}, headers={"sec-fetch-site": "cross-site"})

    assert answer.status == 403
    assert merchant_browser.get("/dashboard").status == 200


def test_a_session_idle_longer_than_its_limit_is_over(aws, store):
    from paylink.core.models import utcnow
    from paylink.panel import sessions

    start = utcnow()
    session_id = sessions.start_session(store, "subject", "+989121234567", now=start)
    later = start + timedelta(seconds=sessions.IDLE_SECONDS - 60)
    assert sessions.current_session(store, session_id, now=later) is not None

    idle = later + timedelta(seconds=sessions.IDLE_SECONDS + 1)

    assert sessions.current_session(store, session_id, now=idle) is None


def test_use_keeps_a_session_alive_past_the_idle_limit(aws, store):
    from paylink.core.models import utcnow
    from paylink.panel import sessions

    start = utcnow()
    session_id = sessions.start_session(store, "subject", "+989121234567", now=start)
    step = timedelta(seconds=sessions.IDLE_SECONDS - 60)

    for n in range(1, 4):
        assert sessions.current_session(store, session_id, now=start + step * n) is not None


def test_a_session_ends_at_its_absolute_limit_however_busy(aws, store):
    from paylink.core.models import utcnow
    from paylink.panel import sessions

    start = utcnow()
    session_id = sessions.start_session(store, "subject", "+989121234567", now=start)
    moment = start
    while moment < start + timedelta(seconds=sessions.ABSOLUTE_SECONDS - 3600):
        moment += timedelta(hours=6)
        sessions.current_session(store, session_id, now=moment)

    assert (
        sessions.current_session(
            store, session_id, now=start + timedelta(seconds=sessions.ABSOLUTE_SECONDS + 1)
        )
        is None
    )


def test_a_forged_or_unknown_cookie_is_signed_out(aws):
    browser = Browser()
    browser.cookie = "__Host-paylink_session=" + "A" * 43

    assert browser.get("/dashboard").location == "/login"


def test_a_merchant_lists_its_sessions_and_ends_another_one(aws, texts, inquiry):
    phone_one = Browser()
    phone_one.sign_in(texts)
    sign_up(phone_one)
    laptop = Browser("203.0.113.77")
    laptop.sign_in(texts)
    settings = phone_one.get("/dashboard/settings")
    assert settings.text.count('name="session"') == 2

    from paylink.panel import sessions as panel_sessions

    laptop_handle = panel_sessions._hash(laptop.cookie.split("=", 1)[1])
    answer = phone_one.post("/dashboard/settings/sessions/end", {"session": laptop_handle})

    assert answer.status == 303
    assert laptop.get("/dashboard").location == "/login"
    assert phone_one.get("/dashboard").status == 200


def test_a_merchant_cannot_end_another_phones_session(aws, texts, inquiry):
    from paylink.panel import sessions as panel_sessions

    mine = Browser()
    mine.sign_in(texts)
    sign_up(mine)
    theirs = Browser("203.0.113.78")
    theirs.sign_in(texts, phone="09351112233")
    their_handle = panel_sessions._hash(theirs.cookie.split("=", 1)[1])

    mine.post("/dashboard/settings/sessions/end", {"session": their_handle})

    assert theirs.get("/signup").status == 200


def test_every_panel_page_without_a_session_sends_to_login(aws):
    from local.template import load_template, routes

    browser = Browser()
    panel = [r for r in routes(load_template()) if r.function_id == "PanelFunction"]
    assert len(panel) >= 15
    for route in panel:
        if route.path in ("/login", "/login/verify", "/logout"):
            continue
        path = route.path.replace("{code}", "abc").replace("{id}", "pay_x")
        answer = browser.get(path) if route.method == "GET" else browser.post(path, {})
        assert (route.method, route.path, answer.status, answer.location) == (
            route.method, route.path, 303, "/login",
        )  # fmt: skip
