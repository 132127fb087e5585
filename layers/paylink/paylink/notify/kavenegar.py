"""SMS through Kavenegar's REST API (the Iranian SMS provider every Iranian phone can be reached by).

Use (issue 14 sign-up codes, issue 15 refunds, invoices and reminders through the Notifier):

    from paylink.notify import kavenegar
    message_id = kavenegar.send_code("09121234567", "482913")   # verify/lookup with the OTP template
    message_id = kavenegar.send_text("09121234567", "...")     # sms/send, a plain message
    state = kavenegar.status(message_id)                        # sms/status -> DeliveryStatus
    KavenegarNotifier().send(to, subject, text)                 # the `Notifier` of notify.messages

Phones are taken in any Iranian form (0912..., +98912..., Persian digits) and sent as 09xxxxxxxxx;
anything else is a ValueError before any call (SMS goes to Iranian mobiles only). Failures raise
`SmsError` (its `provider_status` is Kavenegar's `return.status`, None when no answer came;
an uncaught one answers HTTP 503 `sms_unavailable`): `retryable` is True for a provider down, slow,
answering without the envelope, 409 or 451, False for a refusal (418 no credit, 411 bad receptor,
403 wrong key, 401 account disabled, 424 unknown template, 420 links not allowed...). The caller
decides whether to retry. The codes are Kavenegar's published table as several independent
clients (PHP, C#, Python) copy it alike.

Protocol (kavenegar/kavenegar-python, confirmed; see providers-facts.md): `POST
{base}/v1/{API_KEY}/{scope}/{method}.json`, form-encoded, answer `{"return": {"status",
"message"}, "entries": [...]}`; success only when `return.status == 200`, failures come as HTTP
200 or 4xx with the same envelope, so the body decides, never the HTTP status alone.

The API key travels in the URL path: it is never logged (httpx's own logger is held at WARNING by
paylink.core.observability; our errors name the method, never the URL), and neither are phones,
texts or codes. Settings: PAYLINK_KAVENEGAR_API_KEY_PARAMETER (SSM name of the key),
PAYLINK_KAVENEGAR_OTP_TEMPLATE (the verify/lookup template), PAYLINK_KAVENEGAR_API_URL,
PAYLINK_SMS_SENDER_ID (an optional sender line of sms/send).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paylink.core.errors import PaylinkError
from paylink.core.secrets import secret
from paylink.core.settings import get_settings
from paylink.notify.messages import iran_mobile

TIMEOUT_SECONDS = 5.0
OK = 200
# Refusals worth trying again later: 409 the server cannot answer now, 451 too many calls from our
# IP in a while. Every other code is a refusal of this message or account (400-432, and 501: a
# test account may text only its owner), e.g. 418 no credit, 420 links in texts not allowed.
RETRYABLE = frozenset({409, 451})
# Kavenegar's delivery statuses (sms/status entries' `status`).
DELIVERED = 10
FINAL_FAILED = frozenset({6, 11, 13, 14, 100})  # failed, undelivered, cancelled, blocked, unknown id


class SmsError(PaylinkError):
    """Kavenegar did not take the message; `provider_status` is its return.status (None: no answer).

    A PaylinkError (503 `sms_unavailable`), so one not caught answers a clean 503 rather than a
    500; its public message names no phone, provider code or URL."""

    status = 503
    code = "sms_unavailable"

    def __init__(self, method: str, status: int | None, retryable: bool) -> None:
        super().__init__("the SMS could not be sent now; try again later")
        self.method = method
        self.provider_status = status
        self.retryable = retryable

    def __str__(self) -> str:
        return f"kavenegar {self.method} failed: status {self.provider_status}"


@dataclass(frozen=True)
class DeliveryStatus:
    """One message's state at Kavenegar (`sms/status`): `status` code and its `statustext`."""

    message_id: str
    status: int
    text: str

    @property
    def delivered(self) -> bool:
        return self.status == DELIVERED

    @property
    def failed(self) -> bool:
        return self.status in FINAL_FAILED


def local_mobile(phone: str) -> str:
    """An Iranian mobile as Kavenegar's receptor (09xxxxxxxxx); ValueError for any other number."""
    mobile = iran_mobile(phone)
    if mobile is None:
        raise ValueError("SMS goes only to an Iranian mobile number")
    return "0" + mobile.removeprefix("+98")


def _call(scope: str, method: str, form: dict[str, str]) -> list[dict[str, Any]]:
    """One API call; the entries of a `return.status == 200` answer, else SmsError."""
    import httpx

    settings = get_settings()
    key = secret(settings.kavenegar_api_key_parameter)
    if not key:
        raise SmsError(f"{scope}/{method}", None, retryable=False)
    url = f"{settings.kavenegar_api_url.rstrip('/')}/v1/{key}/{scope}/{method}.json"
    name = f"{scope}/{method}"
    try:
        answer = httpx.post(url, data=form, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError:
        # The exception's text carries the URL, hence the key: it is not chained into ours.
        raise SmsError(name, None, retryable=True) from None
    try:
        body = answer.json()
        status = int(body["return"]["status"])
    except (ValueError, KeyError, TypeError):
        # No envelope: an HTML error page of a front, a 5xx, a proxy. Worth trying again.
        raise SmsError(name, None, retryable=True) from None
    if status != OK:
        raise SmsError(name, status, retryable=status in RETRYABLE)
    entries = body.get("entries")
    if isinstance(entries, dict):
        entries = [entries]
    return [e for e in entries or [] if isinstance(e, dict)]


def _first_id(entries: list[dict[str, Any]], name: str) -> str:
    if not entries or entries[0].get("messageid") in (None, ""):
        raise SmsError(name, OK, retryable=False)
    return str(entries[0]["messageid"])


def send_text(phone: str, text: str) -> str:
    """Send a plain SMS (`sms/send`); Kavenegar's message id."""
    form = {"receptor": local_mobile(phone), "message": text}
    sender = get_settings().sms_sender_id
    if sender.isdigit():  # a Kavenegar sender is a line number; an alphanumeric id is SNS's
        form["sender"] = sender
    return _first_id(_call("sms", "send", form), "sms/send")


def send_code(phone: str, code: str, template: str | None = None) -> str:
    """Send a one-time code through `verify/lookup` with the OTP template (reaches phones that
    block advertising SMS); Kavenegar's message id. `code` is the template's `token`."""
    name = template or get_settings().kavenegar_otp_template
    if not name:
        raise SmsError("verify/lookup", None, retryable=False)
    form = {"receptor": local_mobile(phone), "template": name, "token": code}
    return _first_id(_call("verify", "lookup", form), "verify/lookup")


def status(message_id: str) -> DeliveryStatus:
    """The delivery state of one sent message (`sms/status`)."""
    entries = _call("sms", "status", {"messageid": str(message_id)})
    if not entries:
        raise SmsError("sms/status", OK, retryable=False)
    entry = entries[0]
    return DeliveryStatus(str(entry.get("messageid", message_id)), int(entry.get("status", 100)),
                          str(entry.get("statustext", "")))  # fmt: skip


class KavenegarNotifier:
    """The `Notifier` of SMS through Kavenegar (invoices, reminders); the subject is not sent."""

    def send(self, to: str, subject: str, text: str) -> None:
        send_text(to, text)
