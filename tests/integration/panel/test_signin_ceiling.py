"""The deployment texts at most `SigninCodesPerHour` sign-in codes an hour, whatever the number of
phones and addresses asking (each phone and address has its own limits too): a botnet must not
text every Iranian mobile at our cost. Over the ceiling: a 429 page saying to try later, a metric
and a log line an alarm can watch, no phone in it."""

from __future__ import annotations

import logging

import pytest

from tests.integration.panel.support import Browser

CEILING = 20


@pytest.fixture
def low_ceiling(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import reset_caches

    monkeypatch.setenv("PAYLINK_SIGNIN_CODES_PER_HOUR", str(CEILING))
    reset_caches()


def _phone(n: int) -> str:
    return f"0912{3_000_000 + n:07d}"


def _botnet_asks(n: int) -> list:  # type: ignore[type-arg]
    """n sign-in requests, each for another phone from another address."""
    return [Browser(f"198.51.100.{i % 250 + 1}" if i < 250 else f"2001:db8:{i}::1").post(
        "/login", {"phone": _phone(i)}, ) for i in range(n)]  # fmt: skip


def test_a_botnet_of_addresses_gets_no_more_codes_than_the_hourly_ceiling(low_ceiling, texts):
    # When 35 addresses ask codes for 35 different phones within the hour
    answers = _botnet_asks(35)
    # Then exactly the ceiling's worth of codes were texted, and the rest were refused
    assert len(texts.sent) == CEILING
    assert [a.status for a in answers].count(200) == CEILING
    assert [a.status for a in answers].count(429) == 35 - CEILING


def test_over_the_ceiling_the_page_says_to_try_later(low_ceiling, texts):
    answers = _botnet_asks(CEILING + 1)
    refused = answers[-1]
    assert refused.status == 429
    assert 0 < int({k.lower(): v for k, v in refused.headers.items()}["retry-after"]) <= 3600
    english = Browser("192.0.2.77").post("/login?lang=en", {"phone": _phone(500)})
    assert "cannot send sign-in codes right now" in english.text


def test_over_the_ceiling_a_log_line_and_metric_say_so_without_the_phone(
    low_ceiling, texts, caplog, capsys, monkeypatch
):
    from paylink.core.observability import Metric
    from tests.helpers import metric_points

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the suite turns metrics off
    _botnet_asks(CEILING)
    capsys.readouterr()
    # When one more code is asked
    with caplog.at_level(logging.INFO):
        Browser("192.0.2.78").post("/login", {"phone": _phone(999)})
    # Then the log says the ceiling was reached, with no phone; the metric counts one refusal
    printed = capsys.readouterr().out
    lines = [r.getMessage() + str(r.__dict__) for r in caplog.records if "ceiling" in r.getMessage()]
    assert lines
    assert not any("3000999" in line for line in [*lines, printed])
    assert [p.value for p in metric_points(printed, Metric.SIGNIN_CEILING)] == [1]


def test_a_merchants_trusted_device_still_gets_its_code_when_strangers_filled_the_ceiling(low_ceiling, texts):
    # Given a merchant who signed in on this browser before (a device cookie)
    merchant = Browser("192.0.2.90")
    merchant.sign_in(texts, _phone(700))
    merchant.post("/logout", {})
    # And strangers filled the hour's ceiling
    _botnet_asks(CEILING)
    # When the merchant asks a code on that browser, Then it is sent
    before = len(texts.sent)
    assert merchant.post("/login", {"phone": _phone(700)}).status == 200
    assert len(texts.sent) == before + 1
