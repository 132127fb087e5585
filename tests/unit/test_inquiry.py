"""The bank inquiry adapter (Zibal's facility API, respx) and the local identity checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
import respx

from paylink.core.settings import get_settings
from paylink.merchants import identity
from paylink.merchants.identity import InquiryRejected, InquiryUnavailable

BASE = "https://inq.example"
TOKEN = "facility-token"
CODE = "0499370899"  # checksum-valid
IBAN = "IR062960000000100324200001"
CARD = "6037991234567893"  # Luhn-valid


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PAYLINK_INQUIRY_API_URL", BASE)
    monkeypatch.setenv("PAYLINK_INQUIRY_TOKEN_PARAMETER", "/paylink/test/inquiry-token")
    monkeypatch.setattr(identity, "secret", lambda name: TOKEN if name else "")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=f"{BASE}/v1/facility", assert_all_called=False) as router:
        yield router


def _answer(result: int = 1, **data: object) -> httpx.Response:
    return httpx.Response(200, json={"result": result, "message": "ok", "data": data})


def test_shahkar_sends_the_mobile_and_code_with_the_bearer_token(mock: respx.MockRouter) -> None:
    route = mock.post("/shahkarInquiry").mock(return_value=_answer(matched=True))

    assert identity.shahkar_matches("+98 912 123 4567", CODE) is True
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {"mobile": "09121234567", "nationalCode": CODE}


def test_a_definite_no_match_is_false(mock: respx.MockRouter) -> None:
    mock.post("/shahkarInquiry").mock(return_value=_answer(matched=False))

    assert identity.shahkar_matches("09121234567", CODE) is False


def test_iban_with_national_code_sends_the_birth_date_in_jalali(mock: respx.MockRouter) -> None:
    route = mock.post("/checkIbanWithNationalCode").mock(return_value=_answer(matched=True))

    assert identity.iban_matches_national_code(CODE, date(1990, 3, 21), IBAN) is True
    assert json.loads(route.calls.last.request.content) == {
        "nationalCode": CODE, "birthDate": "1369/01/01", "IBAN": IBAN}  # fmt: skip


def test_a_provider_down_is_unavailable(mock: respx.MockRouter) -> None:
    mock.post("/shahkarInquiry").mock(return_value=httpx.Response(502, text="<html>502</html>"))

    with pytest.raises(InquiryUnavailable):
        identity.shahkar_matches("09121234567", CODE)


def test_an_unknown_result_is_unavailable_not_a_mismatch(mock: respx.MockRouter) -> None:
    mock.post("/checkIbanWithNationalCode").mock(return_value=_answer(result=99))

    with pytest.raises(InquiryUnavailable):
        identity.iban_matches_national_code(CODE, date(1990, 3, 21), IBAN)


def test_a_refused_token_is_unavailable(mock: respx.MockRouter) -> None:
    mock.post("/ibanInquiry").mock(return_value=_answer(result=3))

    with pytest.raises(InquiryUnavailable):
        identity.iban_owner(IBAN)


def test_an_iban_the_provider_calls_invalid_is_rejected(mock: respx.MockRouter) -> None:
    mock.post("/ibanInquiry").mock(return_value=_answer(result=21))

    with pytest.raises(InquiryRejected):
        identity.iban_owner(IBAN)


def test_iban_owner_reads_names_bank_and_status(mock: respx.MockRouter) -> None:
    mock.post("/ibanInquiry").mock(return_value=_answer(
        IBAN=IBAN, bankName="بانک آینده", status="ACTIVE",
        owners=[{"firstName": "سارا", "lastName": "احمدی"}]))  # fmt: skip

    owner = identity.iban_owner(IBAN)

    assert owner.names == ("سارا احمدی",)
    assert owner.bank == "بانک آینده"
    assert owner.active


def test_card_to_iban_keeps_only_the_masked_card(mock: respx.MockRouter) -> None:
    mock.post("/cardToIban").mock(return_value=_answer(IBAN=IBAN, name="سارا احمدی", bankName="بانک ملی"))

    owner = identity.card_to_iban("6037-9912-3456-7893")

    assert owner.iban == IBAN
    assert owner.name == "سارا احمدی"
    assert owner.card_masked == "603799******7893"
    assert CARD not in repr(owner)


def test_a_malformed_card_is_refused_before_any_call(mock: respx.MockRouter) -> None:
    route = mock.post("/cardToIban").mock(return_value=_answer(IBAN=IBAN))

    with pytest.raises(ValueError, match="card number"):
        identity.card_to_iban("6037991234567890")  # fails Luhn

    assert not route.called


@pytest.mark.parametrize("code", [CODE, "۰۴۹۹۳۷۰۸۹۹", "0499-370-899", "0013542419"])
def test_valid_national_codes_pass_the_checksum(code: str) -> None:
    assert identity.national_code_valid(code)


@pytest.mark.parametrize("code", ["0499370898", "1111111111", "12345", "", "abcdefghij", None])
def test_invalid_national_codes_fail(code: str | None) -> None:
    assert not identity.national_code_valid(code)


def test_the_mobile_normaliser_takes_persian_digits() -> None:
    assert identity.normal_mobile("۰۹۱۲ ۱۲۳ ۴۵۶۷") == "+989121234567"
    assert identity.normal_mobile("+44 7911 123456") is None


def test_the_iban_normaliser_checks_mod_97() -> None:
    assert identity.normal_iban("ir06 2960 0000 0010 0324 2000 01") == IBAN
    assert identity.normal_iban("IR072960000000100324200001") is None
