"""Lockout as a weapon (issue 14): a stranger who knows a merchant's number must not lock the merchant
out of sign-in, nor text them without end. A device cookie from an earlier sign-in exempts that
browser from the phone's lock and send limits (OWASP's device cookies); strangers keep them, plus a
daily cap per phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.panel.support import DEVICE_COOKIE, PHONE, Browser, to_e164

E164 = to_e164(PHONE)
OTHER_PHONE = "09351234567"


def wrong(texts) -> str:  # type: ignore[no-untyped-def]
    return "000000" if texts.last(E164) != "000000" else "111111"


def merchant_browser(texts) -> Browser:  # type: ignore[no-untyped-def]
    """The merchant's own phone browser: signed in once (so it holds a device cookie), then out."""
    browser = Browser("198.51.100.7")
    assert browser.sign_in(texts).status == 303
    assert browser.device.startswith(f"{DEVICE_COOKIE}=")
    assert browser.post("/logout", {}).status == 303
    return browser


def lock_by_wrong_codes(texts) -> None:  # type: ignore[no-untyped-def]
    attacker = Browser("203.0.113.66")
    attacker.post("/login", {"phone": PHONE})
    answers = [attacker.post("/login/verify", {"phone": E164, "code": wrong(texts)}) for _ in range(5)]
    assert answers[-1].status == 429


def test_a_sign_in_gives_a_long_lived_host_only_device_cookie_kept_across_sign_out(aws, texts):
    browser = Browser()
    answer = browser.sign_in(texts)

    [device] = [c for c in answer.cookies if c.startswith(f"{DEVICE_COOKIE}=")]
    for flag in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"):
        assert flag in device
    assert "Domain" not in device
    assert "Max-Age=31536000" in device
    out = browser.post("/logout", {})
    assert not any(c.startswith(f"{DEVICE_COOKIE}=") for c in out.cookies)


def test_a_phone_locked_by_a_stranger_still_signs_in_from_the_merchants_device(aws, texts):
    merchant = merchant_browser(texts)
    lock_by_wrong_codes(texts)

    sent = merchant.post("/login", {"phone": PHONE})
    assert sent.status == 200
    answer = merchant.post("/login/verify", {"phone": E164, "code": texts.last(E164)})

    assert answer.status == 303
    assert merchant.get("/signup").status == 200  # signed in (no merchant yet: the sign-up form)


def test_a_phone_locked_by_a_stranger_stays_locked_for_a_browser_without_a_device_cookie(aws, texts):
    merchant_browser(texts)
    lock_by_wrong_codes(texts)

    answer = Browser("192.0.2.44").post("/login", {"phone": PHONE})

    assert answer.status == 429
    assert int(answer.headers["Retry-After"]) > 0


def test_a_stranger_spending_the_phones_sends_does_not_stop_the_merchants_device(aws, texts):
    merchant = merchant_browser(texts)
    attacker = Browser("203.0.113.66")
    statuses = [attacker.post("/login", {"phone": PHONE}).status for _ in range(3)]
    assert statuses[-1] == 429  # the phone's three sends of this window are spent (one was ours)

    sent = merchant.post("/login", {"phone": PHONE})

    assert sent.status == 200


def test_a_strangers_code_request_does_not_void_the_code_the_device_was_sent(aws, texts):
    merchant = merchant_browser(texts)
    merchant.post("/login", {"phone": PHONE})
    mine = texts.last(E164)

    Browser("203.0.113.66").post("/login", {"phone": PHONE})  # a new stranger code for the phone
    answer = merchant.post("/login/verify", {"phone": E164, "code": mine})

    assert answer.status == 303


def test_a_device_has_its_own_smaller_budget_of_wrong_codes(aws, texts):
    merchant = merchant_browser(texts)
    merchant.post("/login", {"phone": PHONE})
    bad = wrong(texts)

    answers = [merchant.post("/login/verify", {"phone": E164, "code": bad}).status for _ in range(3)]

    assert answers == [400, 400, 429]
    # The device is locked now, so it is a stranger again: its code slot is not the stranger's.
    again = merchant.post("/login/verify", {"phone": E164, "code": texts.last(E164)})
    assert again.status == 400


def test_a_forged_device_cookie_gives_no_exemption(aws, texts):
    merchant_browser(texts)
    lock_by_wrong_codes(texts)
    forger = Browser("192.0.2.45")
    forger.device = f"{DEVICE_COOKIE}=abc.{int(datetime.now(UTC).timestamp())}.{'0' * 40}"

    assert forger.post("/login", {"phone": PHONE}).status == 429


def test_a_tampered_copy_of_a_real_device_cookie_gives_no_exemption(aws, texts):
    merchant = merchant_browser(texts)
    lock_by_wrong_codes(texts)
    device_id, issued, signature = merchant.device.split("=", 1)[1].split(".")
    forger = Browser("192.0.2.46")
    forger.device = f"{DEVICE_COOKIE}={device_id}x.{issued}.{signature}"

    assert forger.post("/login", {"phone": PHONE}).status == 429


def test_a_device_cookie_of_another_phone_gives_no_exemption(aws, texts):
    merchant_browser(texts)
    attacker = Browser("203.0.113.66")
    assert attacker.sign_in(texts, phone=OTHER_PHONE).status == 303  # the attacker's own phone
    assert attacker.device
    lock_by_wrong_codes(texts)

    answer = attacker.post("/login", {"phone": PHONE})

    assert answer.status == 429


def test_a_stranger_gets_at_most_ten_codes_for_a_phone_per_tehran_day(aws, texts, store):
    import pytest

    from paylink.panel import codes

    # 10:00 Tehran: four 15-minute windows of three sends reach the daily cap inside one day.
    morning = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)
    sent, refused = 0, []
    for window in range(4):
        for _ in range(codes.PHONE_SENDS):
            at = morning + timedelta(minutes=15 * window)
            try:
                codes.send_code(store, E164, f"192.0.2.{window}", now=at)
                sent += 1
            except codes.TooManyCodes as exc:
                refused.append((exc.reason, exc.retry_after > 0))
    assert sent == codes.DAILY_SENDS
    assert set(refused) == {("daily", True)}
    # The next Tehran day (after 20:30 UTC) starts a new count.
    codes.send_code(store, E164, "192.0.2.99", now=datetime(2026, 12, 2, 20, 31, tzinfo=UTC))
    with pytest.raises(codes.TooManyCodes):
        codes.send_code(store, E164, "192.0.2.98", now=morning + timedelta(hours=2))


def test_the_daily_cap_answers_a_429_page_that_says_so(aws, texts, store):
    from paylink.core.models import utcnow
    from paylink.panel import codes

    day, ttl = codes._tehran_day(utcnow())
    for _ in range(codes.DAILY_SENDS):  # ten codes already sent to this phone today
        assert store.count_within(f"OTPDAY#{codes.subject_key(E164)}#{day}", codes.DAILY_SENDS, ttl)

    answer = Browser("192.0.2.200").post("/login?lang=en", {"phone": PHONE, "lang": "en"})

    assert answer.status == 429
    assert "today" in answer.text
    assert int(answer.headers["Retry-After"]) <= 86_400


# ---- a shared address (carrier-grade NAT) and devices minted for one's own phone -----------------


def test_a_stranger_behind_the_same_address_does_not_stop_the_merchants_device(aws, texts):
    # Given the merchant's device, and a stranger on the same public address (Iran's mobile carriers
    # put thousands of subscribers behind one address) who spent the address's codes for the hour
    merchant = merchant_browser(texts)
    stranger = Browser("198.51.100.7")  # merchant_browser's address
    statuses = [stranger.post("/login", {"phone": f"0912000{i:04d}"}).status for i in range(10)]
    assert statuses[-1] == 429
    # When the merchant asks for a code from its device
    sent = merchant.post("/login", {"phone": PHONE})
    # Then it is sent
    assert sent.status == 200
    assert merchant.post("/login/verify", {"phone": E164, "code": texts.last(E164)}).status == 303


def test_all_the_devices_of_one_phone_together_get_a_bounded_number_of_codes_a_day(aws, texts, monkeypatch):
    from paylink.panel import codes

    # Given the phones' devices may have 4 codes a day together, and one phone signed in from two
    # browsers (each sign-in mints a device with its own allowance: minting more bought more SMS)
    monkeypatch.setattr(codes, "DEVICE_DAILY_SENDS_PER_PHONE", 4, raising=False)
    devices = [merchant_browser(texts) for _ in range(2)]
    before = len(texts.sent)
    # When each device asks for three codes (its own window's allowance)
    statuses = [device.post("/login", {"phone": PHONE}).status for device in devices for _ in range(3)]
    # Then four were sent in all
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert len(texts.sent) - before == 4


def test_strangers_get_a_bounded_number_of_guesses_at_a_phones_codes_a_day(aws, texts, store):
    """Guessing across many merchants' phones: 10 codes a day of 5 tries each were 50 guesses a
    phone a day (one account in ~20 days over 1,000 phones); now STRANGER_DAILY_WRONG in all."""
    from paylink.panel import codes
    from paylink.settlement.business_calendar import start_of_day_utc

    merchant = merchant_browser(texts)
    # Given a stranger guessing, waiting out each lock, early in a Tehran day
    from zoneinfo import ZoneInfo

    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Tehran")).date()
    moment = start_of_day_utc(today, "Asia/Tehran") + timedelta(hours=1)
    guesses = 0
    refused_at = None
    for _ in range(codes.DAILY_SENDS):
        try:
            codes.send_code(store, E164, "203.0.113.66", now=moment)
        except codes.TooManyCodes as refused:
            refused_at = refused
            break
        for _ in range(codes.MAX_TRIES):
            verdict = codes.check_code(store, E164, wrong(texts), now=moment)
            guesses += 1
            if verdict.reason == "locked":
                break
        moment += timedelta(seconds=codes.LOCK_SECONDS + 1)
    # Then the phone took STRANGER_DAILY_WRONG wrong answers, then refused strangers until midnight
    assert guesses == codes.STRANGER_DAILY_WRONG
    assert refused_at is not None
    assert refused_at.retry_after > 12 * 3600
    # and even the right code of a new request is no use to a stranger today
    # while the merchant's own device still signs in
    sent = merchant.post("/login", {"phone": PHONE})
    assert sent.status == 200
    assert merchant.post("/login/verify", {"phone": E164, "code": texts.last(E164)}).status == 303
