"""paylink.core.observability: every log line is redacted, and chatty libraries stay at WARNING."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from paylink.core.observability import QUIET_LIBRARIES, logger, redact


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("card 6037991234567890 paid", "card 603799******7890 paid"),
        ("card=6037991234567890123", "card=603799******0123"),
        ("to IR062960000000100324200001", "to IR********************0001"),
        ('"phone": "09121234567"', '"phone": "09*****4567"'),
        ('"phone": "+989121234567"', '"phone": "+989*****4567"'),
        ("mail sara.payer@example.com", "mail s***@example.com"),
        ("Authorization: Bearer abc.DEF-123_x", "Authorization: Bearer <redacted>"),
        ("key plk_1G6mEjHKuFOUd4_dFQhUTdrJA5CDRBC7", "key plk_<redacted>"),
        ("secret whsec_AbC-123_xyz", "secret whsec_<redacted>"),
        ("t=1700000000,v1=" + "ab" * 32, "t=1700000000,v1=<redacted>"),
        ("POST https://api.telegram.org/bot987654:AAsecret-x_9/sendMessage", "POST https://api.telegram.org/bot<redacted>/sendMessage"),
    ],
)  # fmt: skip
def test_secrets_and_personal_data_are_masked(raw, masked):
    # Given a line holding a secret or a person's data
    # When it is redacted
    # Then only its masked form is left
    assert redact(raw) == masked


@pytest.mark.parametrize(
    "line",
    [
        '{"payment_id":"pay_2PNhAZbFKHwtIxFxU4RMws","gateway":"sandbox-a","status":503}',
        '{"timestamp":"2026-12-01 21:53:17,123+0000","request_id":"3539bf7b-03c3-4afa-8f62-2f41b0b40492"}',
        '{"xray_trace_id":"1-5759e988-1234567890123456789012ab","amount":1200000,"elapsed_ms":1234}',
        '{"settlement_id":"stl_20261123_xIpqyHhMpX7Lcr6R","card_mask":"603799******7890","ref":"942653624"}',
    ],
)
def test_ids_codes_and_amounts_are_left_alone(line):
    # Given a line of the context we want in logs
    # Then redaction leaves it as it was
    assert redact(line) == line


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    """The paylink logger's own handler and formatter, writing into a buffer at DEBUG."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    stream, level = handler.stream, logger.log_level
    handler.setStream(buffer)
    logger.setLevel("DEBUG")
    yield buffer
    logger.setLevel(level)
    handler.setStream(stream)


def test_a_line_logging_a_whole_payer_comes_out_masked_and_still_json(written):
    # When code logs a payer and a card in its extras (which it must not, but might)
    payer = {"name": "Ali", "phone": "09121234567", "email": "ali@example.com"}
    logger.debug("payer", extra={"payer": payer, "card": "6037991234567890", "payment_id": "pay_x1"})
    # Then the line is still one JSON object, with the personal data masked and the id kept
    [line] = written.getvalue().splitlines()
    record = json.loads(line)
    assert record["payer"] == {"name": "Ali", "phone": "09*****4567", "email": "a***@example.com"}
    assert (record["card"], record["payment_id"]) == ("603799******7890", "pay_x1")


def test_an_exception_message_with_a_token_url_is_masked(written):
    # When an exception whose message holds a bot token URL is logged with its traceback
    try:
        raise RuntimeError("POST https://api.telegram.org/bot987654:AAsecret/sendMessage failed")
    except RuntimeError:
        logger.exception("telegram failed")
    # Then neither the message nor the traceback holds the token
    [line] = written.getvalue().splitlines()
    assert "AAsecret" not in line
    assert "bot<redacted>" in json.loads(line)["exception"]


@pytest.mark.parametrize("name", ["httpx", "httpcore", "botocore", "boto3", "urllib3", "botocore.endpoint"])
def test_libraries_that_log_what_they_send_stay_quiet_under_a_debug_root(name, monkeypatch):
    # Given a root logger at DEBUG (Lambda's log-level setting, an operator chasing a bug)
    monkeypatch.setattr(logging.getLogger(), "level", logging.DEBUG)
    # Then the libraries that write URLs, headers and bodies below WARNING still do not
    assert name.split(".")[0] in QUIET_LIBRARIES
    assert not logging.getLogger(name).isEnabledFor(logging.INFO)
    assert logging.getLogger(name).isEnabledFor(logging.WARNING)
