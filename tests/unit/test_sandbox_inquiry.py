"""The sandbox's bank inquiry API (Zibal's facility API) over real HTTP, driven from the published
shapes (Bearer token, JSON, result 1), with its mismatch modes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.sandbox import Sandbox
from local.sandbox.protocols.zibal_inquiry import SANDBOX_TOKEN

CODE = "0499370899"
CARD = "6037991234567893"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(instances={"inq": "zibal-inquiry"}, port=0, slow_seconds=1.0) as box:
        yield box


def _call(sandbox: Sandbox, method: str, body: dict[str, Any], token: str = SANDBOX_TOKEN) -> dict[str, Any]:
    answer = httpx.post(f"{sandbox.url}/inq/v1/facility/{method}", json=body,
                        headers={"Authorization": f"Bearer {token}"}, timeout=5.0)  # fmt: skip
    assert answer.status_code == 200
    return dict(answer.json())


def _iban_valid(iban: str) -> bool:
    return len(iban) == 26 and int(iban[4:] + "1827" + iban[2:4]) % 97 == 1


def test_the_instance_is_listed_with_the_hyphenated_protocol(sandbox: Sandbox) -> None:
    listed = httpx.get(f"{sandbox.url}/").json()["instances"]

    assert listed == [{"name": "inq", "mode": "ok", "protocol": "zibal-inquiry", "merchant": SANDBOX_TOKEN}]


def test_shahkar_matches_in_ok_mode_and_not_in_mismatch_mode(sandbox: Sandbox) -> None:
    body = {"mobile": "09121234567", "nationalCode": CODE}
    first = _call(sandbox, "shahkarInquiry", body)
    sandbox.set_mode("inq", "shahkar_mismatch")
    second = _call(sandbox, "shahkarInquiry", body)

    assert first["result"] == 1
    assert first["data"]["matched"] is True
    assert second["result"] == 1
    assert second["data"]["matched"] is False


def test_card_to_iban_is_deterministic_and_valid(sandbox: Sandbox) -> None:
    first = _call(sandbox, "cardToIban", {"cardNumber": CARD})["data"]
    second = _call(sandbox, "cardToIban", {"cardNumber": CARD})["data"]

    assert first == second
    assert _iban_valid(first["IBAN"])
    assert first["name"]


def test_a_card_set_up_in_mismatch_mode_never_matches_a_national_code(sandbox: Sandbox) -> None:
    sandbox.set_mode("inq", "card_mismatch")
    iban = _call(sandbox, "cardToIban", {"cardNumber": CARD})["data"]["IBAN"]
    sandbox.set_mode("inq", "ok")

    check = _call(
        sandbox, "checkIbanWithNationalCode", {"nationalCode": CODE, "birthDate": "1369/01/01", "IBAN": iban}
    )

    assert check["data"]["matched"] is False


def test_iban_mismatch_mode_refuses_the_iban_check(sandbox: Sandbox) -> None:
    iban = _call(sandbox, "cardToIban", {"cardNumber": CARD})["data"]["IBAN"]
    body = {"nationalCode": CODE, "birthDate": "1369/01/01", "IBAN": iban}
    matched = _call(sandbox, "checkIbanWithNationalCode", body)["data"]["matched"]
    sandbox.set_mode("inq", "iban_mismatch")

    assert matched is True
    assert _call(sandbox, "checkIbanWithNationalCode", body)["data"]["matched"] is False


def test_iban_inquiry_names_owner_bank_and_status(sandbox: Sandbox) -> None:
    data = _call(sandbox, "ibanInquiry", {"IBAN": "IR062960000000100324200001"})["data"]

    assert data["owners"]
    assert data["bankName"]
    assert data["status"] == "ACTIVE"


def test_an_invalid_iban_is_result_21(sandbox: Sandbox) -> None:
    assert _call(sandbox, "ibanInquiry", {"IBAN": "IR072960000000100324200001"})["result"] == 21


def test_a_wrong_token_is_refused(sandbox: Sandbox) -> None:
    answer = _call(sandbox, "shahkarInquiry", {"mobile": "09121234567", "nationalCode": CODE}, token="x")

    assert answer["result"] != 1
    assert "data" not in answer


def test_every_call_is_recorded(sandbox: Sandbox) -> None:
    _call(sandbox, "shahkarInquiry", {"mobile": "09121234567", "nationalCode": CODE})

    calls = httpx.get(f"{sandbox.url}/inq/calls").json()
    assert calls[-1]["path"] == "/v1/facility/shahkarInquiry"
    assert calls[-1]["result"] == 1
    assert calls[-1]["body"] == {"mobile": "09121234567", "nationalCode": CODE}


def test_down_mode_answers_an_html_502(sandbox: Sandbox) -> None:
    sandbox.set_mode("inq", "down")

    answer = httpx.post(f"{sandbox.url}/inq/v1/facility/shahkarInquiry", json={}, timeout=5.0)

    assert answer.status_code == 502
