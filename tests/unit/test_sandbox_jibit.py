"""The sandbox's Jibit Transferor protocol over real HTTP: tokens, transfers, inquiries, its modes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.sandbox import Sandbox
from local.sandbox.protocols.jibit import SANDBOX_API_KEY, SANDBOX_SECRET_KEY

IBAN = "IR062960000000100324200001"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(instances={"p": "jibit", "a": "zibal"}, port=0, slow_seconds=1.0) as box:
        yield box


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def _token(sandbox: Sandbox, http: httpx.Client) -> dict[str, str]:
    answer = http.post(
        f"{sandbox.url}/p/v2/tokens/generate",
        json={"apiKey": SANDBOX_API_KEY, "secretKey": SANDBOX_SECRET_KEY},
    )
    assert answer.status_code == 200
    return {"Authorization": f"Bearer {answer.json()['accessToken']}"}


def _transfer(tid: str, **overrides: Any) -> dict[str, Any]:
    return {"transferID": tid, "transferMode": "ACH", "destination": IBAN, "amount": 985_000,
            "currency": "RIALS", "description": "settlement", "cancellable": False} | overrides  # fmt: skip


def _submit(
    sandbox: Sandbox, http: httpx.Client, auth: dict[str, str], *transfers: dict[str, Any]
) -> httpx.Response:
    body = {"batchID": transfers[0]["transferID"], "submissionMode": "BATCH", "transfers": list(transfers)}
    return http.post(f"{sandbox.url}/p/v2/transfers", json=body, headers=auth)


def _state(sandbox: Sandbox, http: httpx.Client, auth: dict[str, str], tid: str) -> httpx.Response:
    return http.get(f"{sandbox.url}/p/v2/transfers", params={"transferID": tid}, headers=auth)


def test_wrong_keys_get_no_token_in_jibits_error_envelope(sandbox, http):
    answer = http.post(
        f"{sandbox.url}/p/v2/tokens/generate", json={"apiKey": SANDBOX_API_KEY, "secretKey": "x"}
    )
    assert answer.status_code == 401
    assert set(answer.json()) == {"fingerprint", "errors"}
    assert answer.json()["errors"][0]["code"] == "security.auth_failed"


def test_transfers_need_a_token(sandbox, http):
    assert _submit(sandbox, http, {"Authorization": "Bearer forged"}, _transfer("t1")).status_code == 401
    assert _state(sandbox, http, {}, "t1").status_code == 401


def test_a_taken_transfer_is_in_progress_then_transferred_at_its_inquiry(sandbox, http):
    auth = _token(sandbox, http)
    taken = _submit(sandbox, http, auth, _transfer("t1"))
    assert taken.json() == {"submittedCount": 1, "totalAmountTransferred": 985_000, "rejections": []}
    [transfer] = _state(sandbox, http, auth, "t1").json()["transfers"]
    assert (transfer["transferID"], transfer["state"], transfer["amount"]) == ("t1", "TRANSFERRED", 985_000)
    assert transfer["bankTransferID"]


def test_a_transfer_id_is_taken_once(sandbox, http):
    auth = _token(sandbox, http)
    _submit(sandbox, http, auth, _transfer("t1"))
    again = _submit(sandbox, http, auth, _transfer("t1"))
    assert again.status_code == 400
    assert again.json()["errors"][0]["code"] == "transfer.duplicate"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"destination": "IR00"}, "transfer.destination_invalid"),
        ({"amount": 0}, "transfer.amount_invalid"),
        ({"transferMode": "CARD"}, "transfer.transfer_mode_invalid"),
    ],
)
def test_an_invalid_transfer_is_refused_whole(sandbox, http, change, code):
    auth = _token(sandbox, http)
    answer = _submit(sandbox, http, auth, _transfer("t1", **change))
    assert (answer.status_code, answer.json()["errors"][0]["code"]) == (400, code)
    assert _state(sandbox, http, auth, "t1").status_code == 404


def test_an_unknown_transfer_is_not_found(sandbox, http):
    answer = _state(sandbox, http, _token(sandbox, http), "nope")
    assert (answer.status_code, answer.json()["errors"][0]["code"]) == (404, "transfer.not_found")


def test_transfer_fails_mode_fails_the_transfers_it_takes_with_a_reason(sandbox, http):
    auth = _token(sandbox, http)
    sandbox.set_mode("p", "transfer_fails")
    _submit(sandbox, http, auth, _transfer("t1"))
    sandbox.set_mode("p", "ok")
    [transfer] = _state(sandbox, http, auth, "t1").json()["transfers"]
    assert (transfer["state"], transfer["failReason"]) == ("FAILED", "the destination account is closed")


def test_bank_error_mode_fails_the_transfers_it_takes_for_a_passing_reason(sandbox, http):
    auth = _token(sandbox, http)
    sandbox.set_mode("p", "bank_error")
    _submit(sandbox, http, auth, _transfer("t1"))
    sandbox.set_mode("p", "ok")
    [transfer] = _state(sandbox, http, auth, "t1").json()["transfers"]
    assert (transfer["state"], transfer["failReason"]) == ("FAILED", "the bank's transfer cycle failed")
    assert "fail_as" not in transfer  # the sandbox's own bookkeeping stays inside


def test_transfer_in_progress_mode_holds_the_state_until_ok(sandbox, http):
    auth = _token(sandbox, http)
    _submit(sandbox, http, auth, _transfer("t1"))
    sandbox.set_mode("p", "transfer_in_progress")
    assert _state(sandbox, http, auth, "t1").json()["transfers"][0]["state"] == "IN_PROGRESS"
    sandbox.set_mode("p", "ok")
    assert _state(sandbox, http, auth, "t1").json()["transfers"][0]["state"] == "TRANSFERRED"


def test_rejected_mode_takes_nothing(sandbox, http):
    auth = _token(sandbox, http)
    sandbox.set_mode("p", "rejected")
    answer = _submit(sandbox, http, auth, _transfer("t1")).json()
    assert (answer["submittedCount"], answer["rejections"][0]["transferID"]) == (0, "t1")
    assert _state(sandbox, http, auth, "t1").status_code == 404


def test_answer_lost_mode_takes_the_transfer_but_answers_late(sandbox, http):
    auth = _token(sandbox, http)
    sandbox.set_mode("p", "answer_lost")
    with pytest.raises(httpx.ReadTimeout):
        http.post(
            f"{sandbox.url}/p/v2/transfers",
            json={"batchID": "t1", "submissionMode": "BATCH", "transfers": [_transfer("t1")]},
            headers=auth,
            timeout=0.3,
        )
    assert _state(sandbox, http, auth, "t1").status_code == 200


def test_a_protocols_own_modes_are_refused_on_other_protocols(sandbox, http):
    assert http.post(f"{sandbox.url}/p/mode", json={"mode": "transfer_fails"}).status_code == 200
    refused = http.post(f"{sandbox.url}/a/mode", json={"mode": "transfer_fails"})
    assert refused.status_code == 400
    with pytest.raises(ValueError, match="unknown mode"):
        sandbox.set_mode("a", "transfer_fails")


def test_calls_are_recorded_like_every_instances(sandbox, http):
    auth = _token(sandbox, http)
    _submit(sandbox, http, auth, _transfer("t1"))
    calls = http.get(f"{sandbox.url}/p/calls").json()
    assert [(c["method"], c["path"], c["http_status"]) for c in calls] == [
        ("POST", "/v2/tokens/generate", 200),
        ("POST", "/v2/transfers", 200),
    ]
    listed = http.get(f"{sandbox.url}/").json()["instances"]
    assert {"name": "p", "mode": "ok", "protocol": "jibit"} in [
        {k: i[k] for k in ("name", "mode", "protocol")} for i in listed
    ]


def test_the_listing_names_the_api_key_the_instance_accepts(sandbox, http):
    # Given the sandbox's Jibit instance, When it is listed, Then `merchant` is the credential it accepts
    listed = {i["name"]: i for i in http.get(f"{sandbox.url}/").json()["instances"]}
    assert listed["p"]["merchant"] == SANDBOX_API_KEY
