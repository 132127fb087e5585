"""Panel sign-in by SMS code (issue 14): expiry, one use, lockout, resend limits, no enumeration."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.integration.panel.support import PHONE, Browser, hidden, sign_up, to_e164

E164 = to_e164(PHONE)
NUMBER = r"[+0-9۰-۹]{10,}"


def test_a_right_code_signs_a_new_phone_in_and_sends_it_to_signup(aws, texts):
    browser = Browser()
    sent = browser.post("/login", {"phone": "۰۹۱۲۱۲۳۴۵۶۷"})  # Persian digits are taken
    assert sent.status == 200
    assert 'name="code"' in sent.text

    answer = browser.post("/login/verify", {"phone": hidden(sent.text, "phone"), "code": texts.last(E164)})

    assert answer.status == 303
    assert answer.location == "/signup"
    [cookie] = [c for c in answer.cookies if c.startswith("__Host-paylink_session=")]
    for flag in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"):
        assert flag in cookie


def test_a_code_is_six_digits_and_only_its_salted_hash_is_stored(aws, texts, store):
    from tests.helpers import table_items

    Browser().post("/login", {"phone": PHONE})
    code = texts.last(E164)
    assert len(code) == 6
    assert code.isdigit()
    items = [i for i in table_items(aws) if str(i["pk"]).startswith("OTP#")]
    [item] = items
    assert code not in str(item)
    assert PHONE[1:] not in str(item)
    assert item["salt"]
    assert item["code_hash"]


def test_a_wrong_code_is_refused_and_signs_nobody_in(aws, texts):
    browser = Browser()
    browser.post("/login", {"phone": PHONE})
    wrong = "000000" if texts.last(E164) != "000000" else "111111"

    answer = browser.post("/login/verify", {"phone": E164, "code": wrong})

    assert answer.status == 400
    assert answer.cookies == []
    assert browser.get("/dashboard").location == "/login"


def test_a_code_is_used_once(aws, texts):
    browser = Browser()
    browser.post("/login", {"phone": PHONE})
    code = texts.last(E164)
    assert browser.post("/login/verify", {"phone": E164, "code": code}).status == 303

    again = Browser().post("/login/verify", {"phone": E164, "code": code})

    assert again.status == 400
    assert again.cookies == []


def test_a_code_expires_after_five_minutes(aws, texts, store):
    from paylink.core.models import utcnow
    from paylink.panel import codes

    codes.send_code(store, E164, "203.0.113.9", now=utcnow() - timedelta(minutes=5, seconds=1))

    verdict = codes.check_code(store, E164, texts.last(E164))

    assert not verdict.ok
    assert verdict.reason == "expired"


def test_a_code_just_inside_its_life_is_taken(aws, texts, store):
    from paylink.core.models import utcnow
    from paylink.panel import codes

    codes.send_code(store, E164, "203.0.113.9", now=utcnow() - timedelta(minutes=4, seconds=50))

    assert codes.check_code(store, E164, texts.last(E164)).ok


def test_five_wrong_codes_lock_the_phone_even_for_the_right_code(aws, texts):
    browser = Browser()
    browser.post("/login", {"phone": PHONE})
    right = texts.last(E164)
    wrong = "000000" if right != "000000" else "111111"
    answers = [browser.post("/login/verify", {"phone": E164, "code": wrong}).status for _ in range(5)]

    assert answers == [400, 400, 400, 400, 429]
    late = browser.post("/login/verify", {"phone": E164, "code": right})
    assert late.status == 429
    assert late.cookies == []
    # and no new code can be asked for while locked
    assert browser.post("/login", {"phone": PHONE}).status == 429


def test_the_lock_ends_after_its_time(aws, texts, store):
    from paylink.core.models import utcnow
    from paylink.panel import codes

    start = utcnow()
    codes.send_code(store, E164, "203.0.113.9", now=start)
    for _ in range(codes.MAX_TRIES):
        codes.check_code(store, E164, "xxxxxx", now=start)
    later = start + timedelta(seconds=codes.LOCK_SECONDS + 1)

    codes.send_code(store, E164, "203.0.113.9", now=later)

    assert codes.check_code(store, E164, texts.last(E164), now=later).ok


def test_resends_are_limited_per_phone(aws, texts):
    answers = [Browser(f"203.0.113.{i}").post("/login", {"phone": PHONE}) for i in range(1, 5)]

    assert [a.status for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert len(texts.sent) == 3


def test_resends_are_limited_per_source_address(aws, texts):
    browser = Browser("198.51.100.7")
    phones = [f"0912000{i:04d}" for i in range(11)]

    statuses = [browser.post("/login", {"phone": phone}).status for phone in phones]

    assert statuses == [200] * 10 + [429]
    assert len(texts.sent) == 10
    # another address is not held back by this one
    assert Browser("198.51.100.8").post("/login", {"phone": "09129999999"}).status == 200


def test_a_merchants_phone_and_an_unknown_phone_get_the_same_answer(aws, texts, inquiry):
    merchant = Browser()
    merchant.sign_in(texts)
    assert sign_up(merchant).status == 303
    known = Browser("203.0.113.50").post("/login", {"phone": PHONE})
    unknown = Browser("203.0.113.51").post("/login", {"phone": "09351112233"})

    assert known.status == unknown.status == 200
    # the pages differ only by the number typed in (echoed back, in Latin or Persian digits)
    assert re.sub(NUMBER, "X", known.text) == re.sub(NUMBER, "X", unknown.text)
    assert [to for to, _ in texts.sent[-2:]] == [E164, "+989351112233"]


def test_a_number_that_is_not_an_iranian_mobile_is_a_field_error(aws, texts):
    answer = Browser().post("/login", {"phone": "12345"})

    assert answer.status == 400
    assert 'aria-invalid="true"' in answer.text
    assert texts.sent == []


def test_codes_and_phones_never_reach_the_logs(aws, texts, capsys):
    browser = Browser()
    browser.sign_in(texts)

    printed = capsys.readouterr()
    code = texts.last(E164)
    for secret in (code, PHONE, E164, "9121234567"):
        assert secret not in printed.out + printed.err


@pytest.mark.parametrize("headers", [{"sec-fetch-site": "cross-site"}, {"origin": "https://evil.example"}])
def test_a_cross_site_code_request_is_refused(aws, texts, headers):
    answer = Browser().post("/login", {"phone": PHONE}, headers=headers)

    assert answer.status == 403
    assert texts.sent == []


def test_a_new_code_does_not_buy_more_wrong_tries(aws, texts, store):
    from paylink.core.models import utcnow
    from paylink.panel import codes

    now = utcnow()
    codes.send_code(store, E164, "203.0.113.9", now=now)
    verdicts = [codes.check_code(store, E164, "xxxxxx", now=now).reason for _ in range(3)]
    codes.send_code(store, E164, "203.0.113.9", now=now)
    verdicts += [codes.check_code(store, E164, "xxxxxx", now=now).reason for _ in range(2)]

    assert verdicts == ["wrong", "wrong", "wrong", "wrong", "locked"]
    assert codes.check_code(store, E164, texts.last(E164), now=now).reason == "locked"


def test_the_right_code_sent_ten_times_at_once_signs_in_once(aws, texts, store, atomic_dynamodb, monkeypatch):
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from typing import Any

    from paylink.panel import codes

    codes.send_code(store, E164, "203.0.113.9")
    code = texts.last(E164)
    # Ten requests that all read the code unused before any of them uses it (the worst interleaving):
    # only the conditional write can let one through
    read, all_read = store.get_login_code, threading.Barrier(10)

    def read_then_wait(*args: Any, **kwargs: Any) -> Any:
        item = read(*args, **kwargs)
        all_read.wait(timeout=10)
        return item

    monkeypatch.setattr(store, "get_login_code", read_then_wait)

    with ThreadPoolExecutor(10) as pool:
        verdicts = list(pool.map(lambda _: codes.check_code(store, E164, code).ok, range(10)))

    assert verdicts.count(True) == 1
