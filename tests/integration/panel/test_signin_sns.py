"""Sign-in codes through Amazon SNS when the stack's SmsProvider is sns (issue 14): a plain SMS
through the notifier's SNS path, not a 503."""

from __future__ import annotations

import re

import pytest

from tests.integration.panel.support import PHONE, Browser, to_e164


@pytest.fixture
def sns(aws, monkeypatch):  # type: ignore[no-untyped-def]
    from tests.helpers import reset_caches

    monkeypatch.setenv("PAYLINK_SMS_PROVIDER", "sns")
    reset_caches()


def _texts() -> list[tuple[str, str]]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    return list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())


def test_a_sign_in_code_goes_as_a_plain_sms_through_sns_and_signs_in(sns):
    browser = Browser()

    sent = browser.post("/login", {"phone": PHONE})

    assert sent.status == 200
    [(to, text)] = _texts()
    assert to == to_e164(PHONE)
    code = re.findall(r"[0-9]{6}", text)[0]
    answer = browser.post("/login/verify", {"phone": to_e164(PHONE), "code": code})
    assert answer.status == 303


def test_an_sns_outage_answers_the_login_form_with_a_503(sns, monkeypatch):
    from paylink.notify import messages

    def down(self, to, subject, text):  # type: ignore[no-untyped-def]
        raise ConnectionError("sns unreachable")

    monkeypatch.setattr(messages.SmsNotifier, "send", down)

    answer = Browser().post("/login?lang=en", {"phone": PHONE, "lang": "en"})

    assert answer.status == 503
    assert "could not be sent" in answer.text
