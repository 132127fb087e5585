"""Operator commands.

`create-merchant` makes a merchant and prints its API key, once. `bank-batch --date D` issues (the
first time) and prints the bank batch transfer file of business day D (docs/BANK_BATCH.md);
`confirm-payouts --date D [--failed SID ...]` records the bank's answer on that file: every
transfer paid except the settlements named failed (retried by the next settle run).
`set-webhook --username U --url https://...` points U's webhooks at the URL and prints a new
signing secret, once; `rotate-webhook-secret --username U` prints a new one (the old one stays
accepted as `previous` until the next rotation); `set-telegram --username U --chat-id ID` adds a
Telegram chat (`--chat-id ''` removes it).

By default it talks to the local runner's DynamoDB (found in .local-state/runner.json); with
`--table NAME` it uses that table in the AWS account of the current credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from local.template import ROOT

STATE_FILE = Path(os.environ.get("PAYLINK_STATE_FILE") or ROOT / ".local-state" / "runner.json")


def _connect(table: str | None) -> None:
    if table:
        os.environ["TABLE_NAME"] = table
        return
    if not STATE_FILE.exists():
        sys.exit("no local run found: start `make run` first, or pass --table NAME for a deployed stack")
    state = json.loads(STATE_FILE.read_text())
    os.environ.update(
        {
            "TABLE_NAME": state["table_name"],
            "DYNAMODB_ENDPOINT_URL": state["dynamodb_endpoint"],
            "AWS_DEFAULT_REGION": state["region"],
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        }
    )


def main(argv: list[str] | None = None) -> int:
    # Stdout is the command's product (a bank file, a secret); metric lines mean something only
    # in a Lambda function's log.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    parser = argparse.ArgumentParser(prog="python -m local.admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-merchant", help="create a merchant and print its API key once")
    create.add_argument("--username", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--iban", required=True, help="IBAN (Sheba), e.g. IR062960000000100324200001")
    create.add_argument("--account-type", choices=["personal", "business"], default="personal")
    create.add_argument(
        "--fee-plan",
        choices=["percentage", "yearly"],
        default="percentage",
        help="percentage per payment, or yearly (no commission)",
    )
    create.add_argument("--fee-bps", type=int, default=150, help="fee in basis points (150 = 1.5%%)")
    create.add_argument("--fee-min", type=int, default=0, help="minimum fee per payment, rials")
    create.add_argument("--fee-max", type=int, default=None, help="maximum fee per payment, rials")
    create.add_argument("--per-payment-cap", type=int, default=None, help="rials (business accounts)")
    create.add_argument(
        "--daily-cap", type=int, default=None, help="rials per calendar day (business accounts)"
    )
    create.add_argument(
        "--gateways",
        default=None,
        help="comma-separated gateway names it accepts, in its order (default: all)",
    )
    create.add_argument("--table", default=None, help="a deployed stack's table instead of the local run")
    update = commands.add_parser("update-merchant", help="change a merchant's name, IBAN, limits or gateways")
    update.add_argument("--username", required=True)
    update.add_argument("--name", default=None)
    update.add_argument("--iban", default=None, help="checked with ISO 13616 mod-97")
    update.add_argument("--per-payment-cap", type=int, default=None, help="rials")
    update.add_argument("--daily-cap", type=int, default=None, help="rials per calendar day")
    update.add_argument("--gateways", default=None, help="comma-separated gateway names; '' for all")
    update.add_argument("--table", default=None, help="a deployed stack's table instead of the local run")
    batch = commands.add_parser("bank-batch", help="issue and print the bank batch file of a business day")
    batch.add_argument("--date", required=True, help="the settle run's business day, YYYY-MM-DD")
    batch.add_argument("--table", default=None, help="a deployed stack's table instead of the local run")
    confirm = commands.add_parser(
        "confirm-payouts", help="record the bank's answer on a day's batch: all paid but --failed"
    )
    confirm.add_argument("--date", required=True, help="the batch's business day, YYYY-MM-DD")
    confirm.add_argument("--failed", nargs="*", default=[], metavar="SID", help="settlements refused")
    confirm.add_argument("--reason", default="refused by the bank", help="why the --failed ones failed")
    confirm.add_argument("--table", default=None, help="a deployed stack's table instead of the local run")
    hook = commands.add_parser("set-webhook", help="set a merchant's webhook URL; prints a new secret once")
    hook.add_argument("--username", required=True)
    hook.add_argument("--url", required=True, help="https URL of the merchant's endpoint")
    hook.add_argument("--table", default=None, help="a deployed stack's table instead of the local run")
    rotate = commands.add_parser(
        "rotate-webhook-secret", help="new webhook secret (printed once); the old one becomes previous"
    )
    rotate.add_argument("--username", required=True)
    rotate.add_argument("--table", default=None, help="a deployed stack's table instead of the local run")
    telegram = commands.add_parser("set-telegram", help="notify a merchant's Telegram chat too")
    telegram.add_argument("--username", required=True)
    telegram.add_argument("--chat-id", required=True, help="numeric chat id or @channel; '' removes it")
    telegram.add_argument("--table", default=None, help="a deployed stack's table instead of the local run")
    email = commands.add_parser("set-notify-email", help="email a merchant each payment's notice too")
    email.add_argument("--username", required=True)
    email.add_argument("--email", required=True, help="the address; '' removes it")
    email.add_argument("--table", default=None, help="a deployed stack's table instead of the local run")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "layers" / "paylink"))
    _connect(args.table)
    if args.command == "bank-batch":
        return _bank_batch(args.date)
    if args.command == "confirm-payouts":
        return _confirm_payouts(args.date, args.failed, args.reason)
    if args.command == "update-merchant":
        return _update_merchant(args)
    if args.command in ("set-webhook", "rotate-webhook-secret", "set-telegram", "set-notify-email"):
        return _notifications(args)
    from paylink.core.errors import PaylinkError
    from paylink.core.models import AccountType
    from paylink.merchants.accounts import create_merchant
    from paylink.settlement.money import FeePlan
    from paylink.store import get_store

    try:
        merchant, key = create_merchant(
            get_store(),
            username=args.username,
            name=args.name,
            iban=args.iban,
            account_type=AccountType(args.account_type),
            fee=FeePlan.yearly()
            if args.fee_plan == "yearly"
            else FeePlan(bps=args.fee_bps, min_fee=args.fee_min, max_fee=args.fee_max),
            per_payment_cap=args.per_payment_cap,
            daily_cap=args.daily_cap,
            gateways=[g.strip() for g in args.gateways.split(",") if g.strip()] if args.gateways else None,
        )
    except PaylinkError as exc:
        print(json.dumps(exc.to_body(), ensure_ascii=False, indent=2), file=sys.stderr)
        return 2
    print(json.dumps({"merchant_id": merchant.id, "username": merchant.username, "api_key": key}, indent=2))
    print("Keep the API key now: it is stored only as a hash and cannot be shown again.", file=sys.stderr)
    return 0


def _update_merchant(args: argparse.Namespace) -> int:
    from paylink.core.errors import PaylinkError
    from paylink.merchants.accounts import update_merchant
    from paylink.store import get_store

    gateways = None if args.gateways is None else [g.strip() for g in args.gateways.split(",") if g.strip()]
    try:
        merchant = update_merchant(
            get_store(), args.username, name=args.name, iban=args.iban,
            per_payment_cap=args.per_payment_cap, daily_cap=args.daily_cap, gateways=gateways,
        )  # fmt: skip
    except PaylinkError as exc:
        print(json.dumps(exc.to_body(), ensure_ascii=False, indent=2), file=sys.stderr)
        return 2
    print(json.dumps(merchant.model_dump(mode="json", exclude={"fee"}), ensure_ascii=False, indent=2))
    return 0


def _notifications(args: argparse.Namespace) -> int:
    from paylink.core.errors import PaylinkError
    from paylink.merchants.accounts import rotate_webhook_secret, set_notify_email, set_telegram, set_webhook
    from paylink.store import get_store

    store = get_store()
    try:
        if args.command == "set-notify-email":
            merchant = set_notify_email(store, args.username, args.email or None)
            print(json.dumps({"username": merchant.username, "notify_email": merchant.notify_email}))
            return 0
        if args.command == "set-telegram":
            merchant = set_telegram(store, args.username, args.chat_id or None)
            print(json.dumps({"username": merchant.username, "telegram_chat_id": merchant.telegram_chat_id}))
            return 0
        if args.command == "set-webhook":
            merchant, secret = set_webhook(store, args.username, args.url)
        else:
            merchant, secret = rotate_webhook_secret(store, args.username)
    except PaylinkError as exc:
        print(json.dumps(exc.to_body(), ensure_ascii=False, indent=2), file=sys.stderr)
        return 2
    print(json.dumps({
        "username": merchant.username, "webhook_url": merchant.webhook_url, "webhook_secret": secret,
        "previous_secret_still_accepted": merchant.webhook_secret_previous is not None,
    }, indent=2))  # fmt: skip
    print("Keep the webhook secret now: it is not shown again.", file=sys.stderr)
    return 0


def _bank_batch(day: str) -> int:
    from paylink.settlement.bank_batch import issue
    from paylink.store import get_store

    file = issue(get_store(), _day(day))
    sys.stdout.write(str(file["text"]))
    print(f"{file['count']} transfers, control total {file['total']} rials", file=sys.stderr)
    return 0


def _confirm_payouts(day: str, failed: list[str], reason: str) -> int:
    from paylink.settlement.bank_batch import BankBatchPayout, BatchNotIssued
    from paylink.settlement.daily import confirm_bank_batch
    from paylink.store import get_store

    store = get_store()
    try:
        settlements = confirm_bank_batch(
            store, _day(day), dict.fromkeys(failed, reason), BankBatchPayout(store)
        )
    except BatchNotIssued as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for settlement in settlements:
        print(json.dumps({"id": settlement.id, "status": settlement.status.value, "net": settlement.net}))
    return 0


def _day(value: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        sys.exit(f"--date: expected YYYY-MM-DD, got {value!r}")


if __name__ == "__main__":
    sys.exit(main())
