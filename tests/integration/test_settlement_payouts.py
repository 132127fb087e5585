"""Settlement payouts: the state machine, failed payouts retried once, the bank batch file, CSV."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from paylink.core.models import SettlementStatus
from paylink.settlement import bank_batch
from paylink.settlement.bank_batch import BankBatchPayout
from paylink.settlement.daily import confirm_bank_batch, settle_day
from paylink.settlement.money import FeePlan
from paylink.settlement.payouts import PayoutProvider, SandboxPayout
from paylink.store import Store
from tests.settlement_data import (
    DAY_AFTER,
    INVALID_IBAN,
    NEXT_DAY,
    OTHER_VALID_IBAN,
    SETTLE_DAY,
    VALID_IBAN,
    MerchantSpec,
    add_merchant,
    add_paid_payment,
    seed,
    set_iban,
)

PLAN = FeePlan(bps=150, min_fee=2_000, max_fee=50_000)
TWO_SHOPS = [
    MerchantSpec("alpha", VALID_IBAN, PLAN, (1_234_560, 10_000), name="Alpha | Scarves"),
    MerchantSpec("beta", OTHER_VALID_IBAN, FeePlan.yearly(), (3_000_000,), name="Beta"),
]


def _settle(store: Store, day: date, payout: PayoutProvider) -> None:
    settle_day(store, day, tz="Asia/Tehran", country="IR", payout=payout)


def _settlement(store: Store, key: str, day: date = SETTLE_DAY):  # type: ignore[no-untyped-def]
    from paylink.core.ids import settlement_id

    found = store.get_settlement(settlement_id(f"mer_{key}", day.isoformat()))
    assert found is not None
    return found


# ---- the state machine --------------------------------------------------------------------------


def test_a_settlement_only_makes_the_moves_of_its_state_machine(store):
    # Given a paid settlement
    seed(store, TWO_SHOPS[:1])
    _settle(store, SETTLE_DAY, SandboxPayout(store))
    settlement = _settlement(store, "alpha")
    assert settlement.status is SettlementStatus.PAID
    # When a move outside the machine is asked for, it is refused before any write
    with pytest.raises(ValueError, match="does not move"):
        store.move_settlement(settlement.id, SettlementStatus.PAID, SettlementStatus.PENDING)
    # And a move from a state it is not in changes nothing
    assert store.move_settlement(settlement.id, SettlementStatus.SUBMITTED, SettlementStatus.FAILED) is False
    assert _settlement(store, "alpha").status is SettlementStatus.PAID


def test_a_sandbox_payout_goes_pending_submitted_paid_and_leaves_the_due_list(store):
    # Given a merchant with paid payments
    seed(store, TWO_SHOPS[:1])
    # When the day is settled with the sandbox provider
    _settle(store, SETTLE_DAY, SandboxPayout(store))
    # Then the settlement is paid on its first attempt, one payout of its net, and nothing is due
    settlement = _settlement(store, "alpha")
    assert (settlement.status, settlement.payout_attempts) == (SettlementStatus.PAID, 1)
    assert settlement.submitted_at
    assert settlement.paid_at
    payout = store.get_payout(settlement.id)
    assert (payout["amount"], payout["status"], payout["attempt"]) == (settlement.net, "paid", 1)
    assert store.payouts_due("mer_alpha") == []


def test_a_yearly_plan_settles_the_gross_with_no_fee(store):
    # Given a merchant on the yearly plan
    seed(store, TWO_SHOPS[1:])
    # When its day is settled
    _settle(store, SETTLE_DAY, SandboxPayout(store))
    # Then no commission is taken
    settlement = _settlement(store, "beta")
    assert (settlement.gross, settlement.fee, settlement.net) == (3_000_000, 0, 3_000_000)


def test_a_failed_payout_is_retried_by_the_next_run_and_paid_once(store):
    # Given the bank refuses transfers to the merchant's IBAN on the first day
    seed(store, TWO_SHOPS[:1])
    _settle(store, SETTLE_DAY, SandboxPayout(store, fail_ibans=frozenset({VALID_IBAN})))
    failed = _settlement(store, "alpha")
    assert failed.status is SettlementStatus.FAILED
    assert "refused" in (failed.failure_reason or "")
    assert store.get_payout(failed.id)["status"] == "failed"
    # When the next business day runs (the bank accepts now), twice
    _settle(store, NEXT_DAY, SandboxPayout(store))
    _settle(store, NEXT_DAY, SandboxPayout(store))
    # Then the earlier settlement is paid on its second attempt, with one payout record of its net
    paid = _settlement(store, "alpha")
    assert (paid.status, paid.payout_attempts, paid.failure_reason) == (SettlementStatus.PAID, 2, None)
    payout = store.get_payout(paid.id)
    assert (payout["amount"], payout["status"], payout["attempt"]) == (paid.net, "paid", 2)
    # And no settlement was made for the next day (no new money), nothing is left due
    assert [s.id for s in store.settlements_of("mer_alpha", None)[0]] == [paid.id]
    assert store.payouts_due("mer_alpha") == []


def test_a_retry_never_pays_a_settlement_already_paid(store):
    # Given a paid settlement
    seed(store, TWO_SHOPS[:1])
    _settle(store, SETTLE_DAY, SandboxPayout(store))
    settlement = _settlement(store, "alpha")
    # When the provider is asked for a second attempt anyway
    receipt = SandboxPayout(store).submit(settlement, attempt=2, day=NEXT_DAY.isoformat())
    # Then it answers the paid transfer and records nothing new
    assert receipt.confirmed is True
    assert store.get_payout(settlement.id)["attempt"] == 1


def test_a_held_settlement_is_paid_once_the_iban_is_valid_again(store):
    # Given a settlement held for an invalid IBAN
    seed(store, [MerchantSpec("gamma", INVALID_IBAN, PLAN, (500_000,))])
    _settle(store, SETTLE_DAY, SandboxPayout(store))
    assert _settlement(store, "gamma").status is SettlementStatus.HELD
    # When the merchant's IBAN is corrected and the next day runs
    set_iban(store, "mer_gamma", VALID_IBAN)
    _settle(store, NEXT_DAY, SandboxPayout(store))
    # Then the held settlement is paid out to the valid IBAN, once
    settlement = _settlement(store, "gamma")
    assert (settlement.status, settlement.iban, settlement.held_reason) == (
        SettlementStatus.PAID,
        VALID_IBAN,
        None,
    )
    assert store.get_payout(settlement.id)["amount"] == settlement.net


# ---- the bank batch ----------------------------------------------------------------------------


def test_the_bank_batch_lists_each_settlement_with_a_control_total(store):
    # Given two merchants' settlements paid out by bank batch
    seed(store, TWO_SHOPS)
    _settle(store, SETTLE_DAY, BankBatchPayout(store))
    alpha, beta = _settlement(store, "alpha"), _settlement(store, "beta")
    assert {alpha.status, beta.status} == {SettlementStatus.SUBMITTED}
    # When the operator issues the day's file, twice
    day = SETTLE_DAY.isoformat()
    first = bank_batch.issue(store, day)
    again = bank_batch.issue(store, day)
    # Then it is the same file: header, one line per settlement, trailer with count and control total
    assert first["text"] == again["text"]
    lines = first["text"].splitlines()
    assert lines[0] == "H|PLBATCH|1|PLB-20261123|2026-11-23|IRR|PAYLINK"
    assert lines[1] == (
        f"D|000001|{alpha.id}-1|{VALID_IBAN}|{alpha.net}|Alpha Scarves|paylink settlement {alpha.id} of {day}"
    )
    assert lines[2].startswith(f"D|000002|{beta.id}-1|{OTHER_VALID_IBAN}|3000000|Beta|")
    assert lines[3] == f"T|2|{alpha.net + beta.net}"
    parsed = bank_batch.parse(first["text"])
    assert (parsed["count"], parsed["total"]) == (2, alpha.net + beta.net)
    # And rendering the same lines again gives the same text (deterministic)
    assert bank_batch.render(day, store.batch_lines(day)) == first["text"]


def test_a_control_total_that_does_not_match_is_refused():
    # Given a file whose trailer does not add up
    text = "H|PLBATCH|1|PLB-20261123|2026-11-23|IRR|PAYLINK\nD|000001|r-1|IR1|100|A|x\nT|1|101\n"
    # When it is read, then it is refused
    with pytest.raises(ValueError, match="control total"):
        bank_batch.parse(text)


def test_confirming_the_bank_batch_pays_all_but_the_failed_which_the_next_run_retries(store):
    # Given a day's bank batch issued with two settlements
    seed(store, TWO_SHOPS)
    payout = BankBatchPayout(store)
    _settle(store, SETTLE_DAY, payout)
    day = SETTLE_DAY.isoformat()
    bank_batch.issue(store, day)
    alpha = _settlement(store, "alpha")
    # When the operator confirms it with alpha's transfer refused, twice
    confirm_bank_batch(store, day, {alpha.id: "account closed"}, payout)
    confirm_bank_batch(store, day, {}, payout)
    # Then beta is paid and alpha failed with the reason (the repeat changed nothing)
    assert _settlement(store, "beta").status is SettlementStatus.PAID
    failed = _settlement(store, "alpha")
    assert (failed.status, failed.failure_reason) == (SettlementStatus.FAILED, "account closed")
    # When the next business day runs, alpha's transfer goes into that day's batch as attempt 2
    _settle(store, NEXT_DAY, payout)
    retried = _settlement(store, "alpha")
    assert (retried.status, retried.payout_attempts) == (SettlementStatus.SUBMITTED, 2)
    next_file = bank_batch.issue(store, NEXT_DAY.isoformat())
    remittance = f"paylink settlement {alpha.id} of {day}"
    assert next_file["text"].splitlines()[1:] == [
        f"D|000001|{alpha.id}-2|{VALID_IBAN}|{alpha.net}|Alpha Scarves|{remittance}",
        f"T|1|{alpha.net}",
    ]
    # And once the bank pays it, it is paid, with one paid line in all the batches
    confirm_bank_batch(store, NEXT_DAY.isoformat(), {}, payout)
    assert _settlement(store, "alpha").status is SettlementStatus.PAID
    lines = store.batch_lines(day) + store.batch_lines(NEXT_DAY.isoformat())
    assert [(line["attempt"], line["status"]) for line in lines if line["settlement_id"] == alpha.id] == [
        (1, "failed"),
        (2, "paid"),
    ]


def test_a_transfer_after_the_batch_was_issued_waits_for_the_next_batch(store):
    # Given the day's batch already issued (empty) before the merchant was settled
    seed(store, TWO_SHOPS[1:])
    bank_batch.issue(store, SETTLE_DAY.isoformat())
    payout = BankBatchPayout(store)
    # When the day is settled
    _settle(store, SETTLE_DAY, payout)
    # Then the settlement stays pending, and the next day's run puts it in that day's batch
    assert _settlement(store, "beta").status is SettlementStatus.PENDING
    _settle(store, NEXT_DAY, payout)
    assert _settlement(store, "beta").status is SettlementStatus.SUBMITTED
    assert [line["settlement_id"] for line in store.batch_lines(NEXT_DAY.isoformat())] == [
        _settlement(store, "beta").id
    ]


def test_a_line_left_out_of_its_issued_file_fails_and_is_retried(store):
    # Given a submitted line that its day's issued file does not hold (the index lagged at issue)
    seed(store, TWO_SHOPS[1:])
    payout = BankBatchPayout(store)
    _settle(store, SETTLE_DAY, payout)
    store.issue_batch_file(SETTLE_DAY.isoformat(), {"day": SETTLE_DAY.isoformat(), "text": "", "lines": []})
    # When the next run checks it
    _settle(store, NEXT_DAY, payout)
    _settle(store, DAY_AFTER, payout)
    # Then it failed (it never reached the bank) and was submitted again in a later batch
    settlement = _settlement(store, "beta")
    assert (settlement.status, settlement.payout_attempts) == (SettlementStatus.SUBMITTED, 2)


def test_the_admin_prints_the_batch_and_confirms_it(store, capsys):
    # Given a bank batch day
    from local.admin import main

    seed(store, TWO_SHOPS[1:])
    _settle(store, SETTLE_DAY, BankBatchPayout(store))
    # When the operator prints the batch, then confirms it
    assert main(["bank-batch", "--date", "2026-11-23", "--table", store.table]) == 0
    printed = capsys.readouterr().out
    assert main(["confirm-payouts", "--date", "2026-11-23", "--table", store.table]) == 0
    # Then the file was printed and the settlement is paid
    assert printed.startswith("H|PLBATCH|1|PLB-20261123|")
    assert "T|1|3000000" in printed
    assert _settlement(store, "beta").status is SettlementStatus.PAID


def test_the_provider_is_chosen_by_settings(store, monkeypatch):
    # Given the bank batch provider named in the environment
    from paylink.core.settings import get_settings
    from paylink.settlement.payouts import payout_provider

    monkeypatch.setenv("PAYLINK_PAYOUT_PROVIDER", "bank_batch")
    get_settings.cache_clear()
    # Then the settle function uses it
    assert payout_provider(get_settings().payout_provider, store, stage="prod").name == "bank_batch"
    get_settings.cache_clear()


# ---- reports ----------------------------------------------------------------------------------


def test_settlements_and_a_settlements_payments_export_as_csv_with_formulas_neutralised(api, store):
    # Given a settled merchant whose payer typed a formula as a name
    merchant = add_merchant(store, "delta", VALID_IBAN, PLAN)
    add_paid_payment(store, merchant, "pay_delta_1", 100_000, payer={"name": "=HYPERLINK(1)"})
    _settle(store, SETTLE_DAY, SandboxPayout(store))
    settlement = _settlement(store, "delta")
    # When the merchant exports its settlements and that settlement's payments as CSV
    listed = api.get("/v1/settlements?format=csv", key="plk_delta")
    detail = api.get(f"/v1/settlements/{settlement.id}?format=csv", key="plk_delta")
    # Then both are CSV documents with the settlement's totals and its payments
    assert listed.status == 200
    assert listed.headers["Content-Type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(listed.text)))
    assert (row["id"], row["status"], row["gross"], row["fee"], row["net"]) == (
        settlement.id,
        "paid",
        "100000",
        str(settlement.fee),
        str(settlement.net),
    )
    [payment] = list(csv.DictReader(io.StringIO(detail.text)))
    assert (payment["id"], payment["settlement_id"]) == ("pay_delta_1", settlement.id)
    assert payment["payer_name"] == "'=HYPERLINK(1)"
    # And JSON is still the default, and another merchant's settlement is not found
    assert api.get(f"/v1/settlements/{settlement.id}", key="plk_delta").json()["payments"][0]["id"]
    add_merchant(store, "other", VALID_IBAN, PLAN)
    assert api.get(f"/v1/settlements/{settlement.id}?format=csv", key="plk_other").status == 404
    assert api.get("/v1/settlements?format=xml", key="plk_delta").status == 400
