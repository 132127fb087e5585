"""The Kavenegar SMS adapter against Kavenegar's published wire format (respx): paths with the key,
form bodies, the `return.status` envelope read whatever the HTTP status, and no secret in errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from paylink.core.settings import get_settings
from paylink.notify import kavenegar
from paylink.notify.kavenegar import SmsError

BASE = "https://sms.example"
KEY = "6A7B-SECRET-KEY"
PHONE = "+989121234567"


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PAYLINK_KAVENEGAR_API_URL", BASE)
    monkeypatch.setenv("PAYLINK_KAVENEGAR_API_KEY_PARAMETER", "/paylink/test/kavenegar-api-key")
    monkeypatch.setenv("PAYLINK_KAVENEGAR_OTP_TEMPLATE", "paylink-otp")
    monkeypatch.setenv("PAYLINK_SMS_SENDER_ID", "10004346")
    monkeypatch.setattr(kavenegar, "secret", lambda name: KEY if name else "")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=f"{BASE}/v1/{KEY}", assert_all_called=False) as router:
        yield router


def _entry(**extra: object) -> dict[str, object]:
    return {"messageid": 8792343, "message": "x", "status": 1, "statustext": "در صف ارسال",
            "sender": "10004346", "receptor": "09121234567", "date": 1356619709,
            "cost": 120} | extra  # fmt: skip


def _ok(*entries: dict[str, object]) -> httpx.Response:
    return httpx.Response(
        200, json={"return": {"status": 200, "message": "تایید شد"}, "entries": list(entries)}
    )


def _refused(status: int, http_status: int = 200) -> httpx.Response:
    return httpx.Response(http_status, json={"return": {"status": status, "message": "خطا"}, "entries": None})


def _form(request: httpx.Request) -> dict[str, str]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def test_send_text_posts_the_receptor_and_message_form_encoded(mock: respx.MockRouter) -> None:
    route = mock.post("/sms/send.json").mock(return_value=_ok(_entry()))

    message_id = kavenegar.send_text(PHONE, "فاکتور شما")

    assert message_id == "8792343"
    assert _form(route.calls.last.request) == {
        "receptor": "09121234567", "message": "فاکتور شما", "sender": "10004346"}  # fmt: skip


def test_send_code_uses_verify_lookup_with_the_configured_template(mock: respx.MockRouter) -> None:
    route = mock.post("/verify/lookup.json").mock(return_value=_ok(_entry()))

    kavenegar.send_code("۰۹۱۲۱۲۳۴۵۶۷", "482913")

    assert _form(route.calls.last.request) == {
        "receptor": "09121234567",
        "template": "paylink-otp",
        "token": "482913",
    }


def test_a_refusal_in_an_http_200_answer_is_an_error(mock: respx.MockRouter) -> None:
    mock.post("/sms/send.json").mock(return_value=_refused(418))

    with pytest.raises(SmsError) as raised:
        kavenegar.send_text(PHONE, "hello")

    assert raised.value.provider_status == 418
    assert raised.value.retryable is False


def test_a_refusal_with_a_4xx_status_is_read_from_the_envelope(mock: respx.MockRouter) -> None:
    mock.post("/verify/lookup.json").mock(return_value=_refused(411, http_status=411))

    with pytest.raises(SmsError) as raised:
        kavenegar.send_code(PHONE, "123456")

    assert raised.value.provider_status == 411


def test_an_html_error_page_is_a_retryable_failure(mock: respx.MockRouter) -> None:
    mock.post("/sms/send.json").mock(return_value=httpx.Response(502, text="<html>502 Bad Gateway</html>"))

    with pytest.raises(SmsError) as raised:
        kavenegar.send_text(PHONE, "hello")

    assert raised.value.retryable is True


def test_a_timeout_is_retryable_and_its_error_does_not_carry_the_key(mock: respx.MockRouter) -> None:
    mock.post("/sms/send.json").mock(side_effect=httpx.ConnectTimeout("timed out"))

    with pytest.raises(SmsError) as raised:
        kavenegar.send_text(PHONE, "hello")

    assert raised.value.retryable is True
    assert KEY not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_status_reads_the_delivery_state(mock: respx.MockRouter) -> None:
    route = mock.post("/sms/status.json").mock(
        return_value=_ok({"messageid": 8792343, "status": 10, "statustext": "رسیده به گیرنده"})
    )

    state = kavenegar.status("8792343")

    assert _form(route.calls.last.request) == {"messageid": "8792343"}
    assert state.delivered
    assert not state.failed


def test_a_foreign_number_is_refused_before_any_call(mock: respx.MockRouter) -> None:
    route = mock.post("/sms/send.json").mock(return_value=_ok(_entry()))

    with pytest.raises(ValueError, match="Iranian mobile"):
        kavenegar.send_text("+44 7911 123456", "hello")

    assert not route.called


def test_no_key_configured_sends_nothing(monkeypatch: pytest.MonkeyPatch, mock: respx.MockRouter) -> None:
    monkeypatch.setenv("PAYLINK_KAVENEGAR_API_KEY_PARAMETER", "")
    get_settings.cache_clear()
    route = mock.post("/sms/send.json").mock(return_value=_ok(_entry()))

    with pytest.raises(SmsError):
        kavenegar.send_text(PHONE, "hello")

    assert not route.called


def test_nothing_logged_carries_the_key_the_phone_or_the_code(
    mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    mock.post("/verify/lookup.json").mock(return_value=_ok(_entry()))
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # as paylink.core.observability holds it

    kavenegar.send_code(PHONE, "482913")

    logged = caplog.text
    assert KEY not in logged
    assert "9121234567" not in logged
    assert "482913" not in logged


def test_the_notifier_sends_sms_through_kavenegar_when_chosen(
    monkeypatch: pytest.MonkeyPatch, mock: respx.MockRouter
) -> None:
    from paylink.notify.messages import notifiers

    monkeypatch.setenv("PAYLINK_SMS_PROVIDER", "kavenegar")
    get_settings.cache_clear()
    notifiers.cache_clear()
    route = mock.post("/sms/send.json").mock(return_value=_ok(_entry()))
    try:
        notifiers()["sms"].send("09121234567", "subject", "invoice text")
    finally:
        notifiers.cache_clear()

    assert _form(route.calls.last.request)["message"] == "invoice text"


def test_a_busy_provider_is_a_retryable_refusal(mock: respx.MockRouter) -> None:
    mock.post("/sms/send.json").mock(return_value=_refused(409, http_status=409))

    with pytest.raises(SmsError) as raised:
        kavenegar.send_text(PHONE, "hello")

    assert raised.value.retryable is True
