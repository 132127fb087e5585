"""Payouts through Jibit's Transferor, against the sandbox's jibit instance over HTTP: sent exactly
once per attempt, polled until final, a failed transfer retried as a new attempt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from local.sandbox import Sandbox
from local.sandbox.protocols.jibit import FAILED_REASON, SANDBOX_API_KEY, SANDBOX_SECRET_KEY
from paylink.core.models import SettlementStatus
from paylink.settlement.daily import settle_day
from paylink.settlement.jibit_payout import NEVER_RECEIVED, JibitPayout, JibitTransferor
from paylink.settlement.money import FeePlan
from paylink.settlement.payouts import PayoutDeferred
from paylink.store import Store
from tests.settlement_data import NEXT_DAY, SETTLE_DAY, VALID_IBAN, MerchantSpec, seed

SLOW = 1.5  # the sandbox's slow and answer_lost delay; the client gives up after TIMEOUT
TIMEOUT = 0.5
SHOP = [MerchantSpec("alpha", VALID_IBAN, FeePlan(), (1_000_000,), name="Alpha")]


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    """A sandbox of its own per test: Jibit knows only this test's transfers."""
    with Sandbox(instances={"p": "jibit"}, port=0, slow_seconds=SLOW) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def _payout(store: Store, http: httpx.Client, url: str, **options: Any) -> JibitPayout:
    client = JibitTransferor(http, url, SANDBOX_API_KEY, SANDBOX_SECRET_KEY, timeout=TIMEOUT)
    return JibitPayout(store, client, **options)


def _settle(store: Store, payout: JibitPayout, day: Any = SETTLE_DAY) -> None:
    settle_day(store, day, tz="Asia/Tehran", country="IR", payout=payout)


def _settlement(store: Store):  # type: ignore[no-untyped-def]
    from paylink.core.ids import settlement_id

    found = store.get_settlement(settlement_id("mer_alpha", SETTLE_DAY.isoformat()))
    assert found is not None
    return found


def _taken(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The transfer submissions the sandbox answered (not those its front refused while down)."""
    return [
        c["body"]["transfers"][0]
        for c in sandbox.calls("p")
        if c["method"] == "POST" and c["path"] == "/v2/transfers" and c["http_status"] != 502
    ]


def _submissions_per_transfer(sandbox: Sandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for transfer in _taken(sandbox):
        counts[transfer["transferID"]] = counts.get(transfer["transferID"], 0) + 1
    return counts


def test_a_settlement_is_paid_by_one_ach_transfer_of_its_net(store, fresh, http):
    # Given a merchant with money and the Jibit provider
    seed(store, SHOP)
    # When the day is settled
    _settle(store, _payout(store, http, f"{fresh.url}/p"))
    # Then one transfer of the net went by Paya to the merchant's IBAN under the attempt's id, and
    # the settlement is paid once Jibit says TRANSFERRED
    settlement = _settlement(store)
    [transfer] = _taken(fresh)
    assert transfer["transferID"] == f"{settlement.id}-1"
    assert (transfer["amount"], transfer["destination"], transfer["transferMode"]) == (
        settlement.net,
        VALID_IBAN,
        "ACH",
    )
    assert transfer["destinationFirstName"] == "Alpha"
    assert settlement.status is SettlementStatus.PAID
    assert settlement.payout_reference == f"{settlement.id}-1"


def test_a_failed_transfer_is_retried_next_run_as_a_new_attempt_never_twice(store, fresh, http):
    # Given Jibit's bank fails the transfers it takes
    seed(store, SHOP)
    payout = _payout(store, http, f"{fresh.url}/p")
    fresh.set_mode("p", "transfer_fails")
    # When the day is settled
    _settle(store, payout)
    # Then the settlement failed with Jibit's reason, after one submission
    failed = _settlement(store)
    assert (failed.status, failed.failure_reason) == (SettlementStatus.FAILED, FAILED_REASON)
    # When the bank works again and the next run comes, then run again
    fresh.set_mode("p", "ok")
    _settle(store, payout, NEXT_DAY)
    _settle(store, payout, NEXT_DAY)
    # Then attempt 2 went under a new transfer id and is paid; each attempt was sent exactly once
    paid = _settlement(store)
    assert (paid.status, paid.payout_attempts) == (SettlementStatus.PAID, 2)
    assert _submissions_per_transfer(fresh) == {f"{paid.id}-1": 1, f"{paid.id}-2": 1}


def test_a_lost_answer_is_resolved_by_asking_jibit_not_by_sending_again(store, fresh, http):
    # Given Jibit takes the transfer but its answer comes after our timeout
    seed(store, SHOP)
    fresh.set_mode("p", "answer_lost")
    # When the day is settled
    _settle(store, _payout(store, http, f"{fresh.url}/p"))
    # Then the transfer was sent once, and an inquiry by its id found it and paid the settlement
    settlement = _settlement(store)
    assert _submissions_per_transfer(fresh) == {f"{settlement.id}-1": 1}
    inquiries = [c["path"] for c in fresh.calls("p") if c["method"] == "GET"]
    assert inquiries[:1] == ["/v2/transfers"]
    assert settlement.status is SettlementStatus.PAID


def test_a_crash_after_sending_sends_nothing_again_on_the_next_run(store, fresh, http):
    # Given a run that sent attempt 1 and crashed before the settlement recorded it
    seed(store, SHOP)
    payout = _payout(store, http, f"{fresh.url}/p")
    _settle(store, _payout(store, http, "http://127.0.0.1:9"))  # closes the settlement; nothing left
    pending = _settlement(store)
    assert pending.status is SettlementStatus.PENDING
    payout.submit(pending, attempt=1, day=SETTLE_DAY.isoformat())
    assert _settlement(store).status is SettlementStatus.PENDING
    # When the settlement is settled again
    _settle(store, payout)
    # Then attempt 1 was asked about, not sent again, and the settlement is paid
    settlement = _settlement(store)
    assert _submissions_per_transfer(fresh) == {f"{settlement.id}-1": 1}
    assert settlement.status is SettlementStatus.PAID


def test_a_transfer_in_progress_is_polled_every_run_until_final(store, fresh, http):
    # Given Jibit's bank cycle has not run
    seed(store, SHOP)
    payout = _payout(store, http, f"{fresh.url}/p")
    fresh.set_mode("p", "transfer_in_progress")
    # When the day is settled twice
    _settle(store, payout)
    _settle(store, payout, NEXT_DAY)
    # Then it stays submitted, asked each time, sent once
    assert _settlement(store).status is SettlementStatus.SUBMITTED
    assert [s.id for s in store.payouts_due("mer_alpha")] == [_settlement(store).id]
    assert [c["result"] for c in fresh.calls("p") if c["method"] == "GET"] == ["IN_PROGRESS", "IN_PROGRESS"]
    # When the cycle runs and the next run asks again, then it is paid
    fresh.set_mode("p", "ok")
    _settle(store, payout, NEXT_DAY)
    settlement = _settlement(store)
    assert settlement.status is SettlementStatus.PAID
    assert _submissions_per_transfer(fresh) == {f"{settlement.id}-1": 1}


def test_a_rejected_transfer_fails_at_once_and_the_next_run_sends_a_new_attempt(store, fresh, http):
    seed(store, SHOP)
    payout = _payout(store, http, f"{fresh.url}/p")
    fresh.set_mode("p", "rejected")
    _settle(store, payout)
    failed = _settlement(store)
    assert failed.status is SettlementStatus.FAILED
    assert "destination rejected" in (failed.failure_reason or "")
    fresh.set_mode("p", "ok")
    _settle(store, payout, NEXT_DAY)
    assert (_settlement(store).status, _settlement(store).payout_attempts) == (SettlementStatus.PAID, 2)


def test_jibit_down_leaves_the_attempt_unknown_until_jibit_can_say_it_never_came(store, fresh, http):
    # Given a token from earlier, then Jibit's front answering 502 to everything
    seed(store, SHOP)
    payout = _payout(store, http, f"{fresh.url}/p")
    assert payout.client.inquire("earlier") is None
    fresh.set_mode("p", "down")
    _settle(store, payout)
    # Then the attempt is submitted with its outcome unknown (it may have been taken)
    assert _settlement(store).status is SettlementStatus.SUBMITTED
    # When Jibit is back, still soon after: it does not know the transfer, which stays unknown
    fresh.set_mode("p", "ok")
    _settle(store, _payout(store, http, f"{fresh.url}/p"), NEXT_DAY)
    assert _settlement(store).status is SettlementStatus.SUBMITTED
    # When Jibit still does not know it past the wait, the attempt failed; the next run sends attempt 2
    late = _payout(store, http, f"{fresh.url}/p", unknown_after=timedelta(0))
    _settle(store, late, NEXT_DAY)
    assert (_settlement(store).status, _settlement(store).failure_reason) == (
        SettlementStatus.FAILED,
        NEVER_RECEIVED,
    )
    _settle(store, late, NEXT_DAY)
    settlement = _settlement(store)
    assert (settlement.status, settlement.payout_attempts) == (SettlementStatus.PAID, 2)
    assert _submissions_per_transfer(fresh) == {f"{settlement.id}-2": 1}


def test_jibit_down_before_a_token_defers_the_payout(store, fresh, http):
    # Given Jibit down when no token is held yet
    seed(store, SHOP)
    fresh.set_mode("p", "down")
    _settle(store, _payout(store, http, f"{fresh.url}/p"))
    # Then nothing was sent and the settlement waits, pending, for a later run that sends attempt 1
    assert _settlement(store).status is SettlementStatus.PENDING
    fresh.set_mode("p", "ok")
    _settle(store, _payout(store, http, f"{fresh.url}/p"), NEXT_DAY)
    settlement = _settlement(store)
    assert settlement.status is SettlementStatus.PAID
    assert _submissions_per_transfer(fresh) == {f"{settlement.id}-1": 1}


def test_no_connection_defers_the_payout_and_the_attempt_is_sent_later(store, fresh, http):
    # Given nothing listens where Jibit should be
    seed(store, SHOP)
    _settle(store, _payout(store, http, "http://127.0.0.1:9"))
    pending = _settlement(store)
    # Then nothing left: the settlement waits, pending, for a later run
    assert pending.status is SettlementStatus.PENDING
    with pytest.raises(PayoutDeferred):
        _payout(store, http, "http://127.0.0.1:9").submit(pending, attempt=1, day=SETTLE_DAY.isoformat())
    # When Jibit is reachable at the next run, attempt 1 is sent, once
    _settle(store, _payout(store, http, f"{fresh.url}/p"), NEXT_DAY)
    settlement = _settlement(store)
    assert settlement.status is SettlementStatus.PAID
    assert _submissions_per_transfer(fresh) == {f"{settlement.id}-1": 1}


def test_wrong_credentials_refuse_to_pay_out(store, fresh, http):
    from paylink.settlement.payouts import PayoutNotConfigured

    seed(store, SHOP)
    client = JibitTransferor(http, f"{fresh.url}/p", SANDBOX_API_KEY, "wrong", timeout=TIMEOUT)
    with pytest.raises(PayoutNotConfigured, match=r"security\.auth_failed"):
        _settle(store, JibitPayout(store, client))
    assert _taken(fresh) == []


def test_deployed_credentials_are_read_from_the_ssm_parameters_the_settings_name(store, monkeypatch):
    # Given the API key and secret key in SSM SecureString parameters, named by the settings
    import boto3

    from paylink.core.settings import get_settings

    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/paylink/test/payout/api-key", Value="key-from-ssm", Type="SecureString")
    ssm.put_parameter(Name="/paylink/test/payout/secret-key", Value="secret-from-ssm", Type="SecureString")
    monkeypatch.setenv("PAYLINK_PAYOUT_API_KEY_PARAM", "/paylink/test/payout/api-key")
    monkeypatch.setenv("PAYLINK_PAYOUT_SECRET_KEY_PARAM", "/paylink/test/payout/secret-key")
    monkeypatch.setenv("PAYLINK_PAYOUT_API_KEY", "local-value-ignored")
    get_settings.cache_clear()
    # When the provider is built from settings
    payout = JibitPayout.from_settings(store)
    # Then it signs in with the parameters' values
    assert payout.client._keys == ("key-from-ssm", "secret-from-ssm")
    get_settings.cache_clear()


def test_a_jibit_stack_without_credentials_refuses_to_pay_out(store, monkeypatch):
    from paylink.core.settings import get_settings
    from paylink.settlement.payouts import PayoutNotConfigured

    for name in ("PAYLINK_PAYOUT_API_KEY_PARAM", "PAYLINK_PAYOUT_SECRET_KEY_PARAM", "PAYLINK_PAYOUT_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    with pytest.raises(PayoutNotConfigured, match="API key and secret key"):
        JibitPayout.from_settings(store)
    get_settings.cache_clear()
