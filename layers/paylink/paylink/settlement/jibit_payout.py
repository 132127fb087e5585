"""The `jibit` payout provider: settlements paid from a Jibit wallet through its Transferor API (v2).

Protocol (Jibit's "Transferor REST API Documentation" v2.1; see local/sandbox/protocols/jibit.py for
what is confirmed): `POST /v2/tokens/generate` {apiKey, secretKey} -> {accessToken} (24 hours);
`POST /v2/transfers` {batchID, submissionMode, transfers: [{transferID, transferMode, destination,
destinationFirstName, destinationLastName, amount, currency, description, cancellable}]}; `GET
/v2/transfers?transferID=` -> {transfers: [{state, failReason, ...}]}. Errors: {errors: [{code}]}.

Exactly once per attempt: the transfer id is the settlement id and the attempt number. Attempt n is
claimed in the table (PAYOUT#{sid}/TRANSFER#{n}) before it is sent, and only the caller that
claims it sends it. Any later call for that attempt (a crash, a timeout, a lost answer, the next
run) only asks Jibit for that transfer id's state: it never sends it again. A transfer Jibit
still does not know UNKNOWN_AFTER after it was claimed never reached it: that attempt failed, and
the next run sends attempt n + 1 under a new transfer id. A send that provably never left (no
connection) gives the claim back (`unsent`) and the settlement waits for a later run.

The state is polled until final: TRANSFERRED is paid; FAILED, CANCELLED and MANUALLY_FAILED are
failed (the next settle run sends a new attempt); every other state is still submitted and asked
again by every later run. Operators must not retry a failed transfer in Jibit's panel: paylink
has already sent its next attempt, so that would pay twice.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from paylink.core.models import Settlement, iso, utcnow
from paylink.core.observability import logger
from paylink.core.settings import get_settings
from paylink.settlement.payouts import PayoutDeferred, PayoutNotConfigured, PayoutReceipt, PayoutStatus
from paylink.store import Store

if TYPE_CHECKING:
    import httpx

TRANSFER_MODE = "ACH"  # Paya: settles in the banks' cycles on business days
PAID_STATES = frozenset({"TRANSFERRED"})
FAILED_STATES = frozenset({"FAILED", "CANCELLED", "MANUALLY_FAILED"})
UNKNOWN_AFTER = timedelta(hours=1)  # a claimed transfer Jibit still does not know never reached it
TIMEOUT_SECONDS = 5.0
TOKEN_LIFETIME_SECONDS = 23 * 3600  # Jibit's access tokens last 24 hours
NEVER_RECEIVED = "Jibit never received the transfer"
NAME_MAX = 100
DESCRIPTION_MAX = 250

# Record statuses (PAYOUT#{sid}/TRANSFER#{n}): sending (claimed; may have left), unsent (provably
# did not leave), submitted (Jibit took it), paid, failed.
OPEN = ("sending", "submitted")


def transfer_id(settlement_id: str, attempt: int) -> str:
    """The transfer's idempotent id at Jibit: one per settlement attempt."""
    return f"{settlement_id}-{attempt}"


class JibitUnreachable(Exception):
    """No usable answer (timeout, connection, 5xx, HTML): whether a submission was taken is unknown."""

    def __init__(self, reason: str, *, sent: bool = True) -> None:
        super().__init__(reason)
        self.sent = sent  # False only when the request provably never left (no connection)


class JibitRefused(Exception):
    """Jibit answered a submission with a definite no (4xx error codes or a rejection)."""


class JibitHasIt(Exception):
    """Jibit already holds a transfer of this id (a duplicate): ask its state, never send again."""


@dataclass(frozen=True)
class TransferState:
    state: str
    fail_reason: str | None


class JibitTransferor:
    """The HTTP client of Jibit's Transferor API: tokens, submission, inquiry."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        api_key: str,
        secret_key: str,
        *,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.http = http
        self.timeout = timeout
        self.base_url = base_url.rstrip("/")
        self._keys = (api_key, secret_key)
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def _access_token(self, *, fresh: bool = False) -> str:
        with self._lock:
            if not fresh and self._token and self._token[1] > time.monotonic():
                return self._token[0]
            answer = self._call(
                "POST", "/v2/tokens/generate", json={"apiKey": self._keys[0], "secretKey": self._keys[1]}
            )
            if answer.status_code >= 500 or not _is_json(answer):
                # No transfer goes without a token: nothing was sent.
                raise JibitUnreachable(
                    f"Jibit answered HTTP {answer.status_code} to a token request", sent=False
                )
            if answer.status_code != 200:
                raise PayoutNotConfigured(f"Jibit refused the payout credentials ({_codes(answer)})")
            token = str(_json(answer).get("accessToken") or "")
            if not token:
                raise JibitUnreachable("Jibit's token answer carried no accessToken")
            self._token = (token, time.monotonic() + TOKEN_LIFETIME_SECONDS)
            return token

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            return self.http.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except httpx.ConnectError as exc:
            raise JibitUnreachable(f"no connection to Jibit: {type(exc).__name__}", sent=False) from exc
        except httpx.HTTPError as exc:
            raise JibitUnreachable(f"Jibit did not answer: {type(exc).__name__}") from exc

    def _authorized(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = self._call(
            method, path, headers={"Authorization": f"Bearer {self._access_token()}"}, **kwargs
        )
        if answer.status_code == 401:  # the token expired early: refused unread, so asking again is safe
            token = self._access_token(fresh=True)
            answer = self._call(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        return answer

    def submit(self, transfer: dict[str, Any]) -> None:
        """Send one transfer as a batch of its own; raises JibitRefused or JibitUnreachable."""
        body = {"batchID": transfer["transferID"], "submissionMode": "BATCH", "transfers": [transfer]}
        answer = self._authorized("POST", "/v2/transfers", json=body)
        if answer.status_code >= 500 or not _is_json(answer):
            raise JibitUnreachable(f"Jibit answered HTTP {answer.status_code}")
        if answer.status_code != 200:
            codes = _codes(answer)
            if "duplicate" in codes:  # [U] the code's exact name is not published
                raise JibitHasIt(codes)
            raise JibitRefused(f"Jibit refused the transfer ({codes})")
        data = _json(answer)
        if int(data.get("submittedCount") or 0) != 1:
            reasons = [
                str(r.get("failReason") or "rejected")
                for r in data.get("rejections") or []
                if isinstance(r, dict)
            ]
            raise JibitRefused(f"Jibit rejected the transfer ({'; '.join(reasons) or 'no reason given'})")

    def inquire(self, tid: str) -> TransferState | None:
        """The transfer's state at Jibit, or None when Jibit does not know it; raises JibitUnreachable."""
        answer = self._authorized("GET", "/v2/transfers", params={"transferID": tid})
        if answer.status_code == 404 and _is_json(answer):
            return None
        if answer.status_code != 200 or not _is_json(answer):
            raise JibitUnreachable(f"Jibit answered HTTP {answer.status_code} to an inquiry")
        found = [
            t
            for t in _json(answer).get("transfers") or []
            if isinstance(t, dict) and t.get("transferID") == tid
        ]
        if not found:
            return None
        return TransferState(str(found[0].get("state") or ""), found[0].get("failReason") or None)


def _is_json(answer: httpx.Response) -> bool:
    return answer.headers.get("content-type", "").startswith("application/json")


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _codes(answer: httpx.Response) -> str:
    errors = _json(answer).get("errors") or []
    codes = [str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code")]
    return ", ".join(codes) or f"HTTP {answer.status_code}"


class JibitPayout:
    """Payout through Jibit's Transferor: sent once per attempt, its state asked until final."""

    name = "jibit"

    def __init__(
        self, store: Store, client: JibitTransferor, *, unknown_after: timedelta = UNKNOWN_AFTER
    ) -> None:
        self.store = store
        self.client = client
        self.unknown_after = unknown_after

    @classmethod
    def from_settings(cls, store: Store) -> JibitPayout:
        settings = get_settings()
        api_key = _secret(settings.payout_api_key_param, settings.payout_api_key.get_secret_value())
        secret_key = _secret(settings.payout_secret_key_param, settings.payout_secret_key.get_secret_value())
        if not (settings.payout_api_url and api_key and secret_key):
            raise PayoutNotConfigured("the jibit payout provider needs its API URL, API key and secret key")
        return cls(store, _transferor(settings.payout_api_url, api_key, secret_key))

    def submit(self, settlement: Settlement, *, attempt: int, day: str) -> PayoutReceipt:
        tid = transfer_id(settlement.id, attempt)
        record, claimed = self.store.claim_transfer(
            settlement.id,
            attempt,
            {
                "transfer_id": tid,
                "provider": self.name,
                "settlement_id": settlement.id,
                "merchant_id": settlement.merchant_id,
                "attempt": attempt,
                "iban": settlement.iban,
                "amount": settlement.net,
                "day": day,
                "status": "sending",
                "created_at": iso(utcnow()),
            },
        )
        if not claimed:
            # An earlier call claimed this attempt and may have sent it: ask, never send again.
            return PayoutReceipt(
                tid, confirmed=self._resolve(settlement.id, attempt, record) is PayoutStatus.PAID
            )
        merchant = self.store.get_merchant(settlement.merchant_id)
        try:
            self.client.submit(
                {
                    "transferID": tid,
                    "transferMode": TRANSFER_MODE,
                    "destination": settlement.iban,
                    "destinationFirstName": (merchant.name if merchant else settlement.merchant_id)[
                        :NAME_MAX
                    ],
                    "destinationLastName": "",
                    "amount": settlement.net,
                    "currency": "RIALS",
                    "description": f"paylink settlement {settlement.id} of {settlement.date}"[
                        :DESCRIPTION_MAX
                    ],
                    "cancellable": False,
                }
            )
        except JibitRefused as exc:
            self.store.update_transfer(
                settlement.id, attempt, expected=("sending",), status="failed", failure_reason=str(exc)
            )
            logger.warning(
                "payout transfer refused",
                extra={"settlement_id": settlement.id, "transfer_id": tid, "reason": str(exc)},
            )
            return PayoutReceipt(tid, confirmed=False)
        except JibitHasIt:
            # Never sent twice from here; a duplicate means the table lost the claim: ask.
            logger.warning(
                "payout transfer id already at Jibit",
                extra={"settlement_id": settlement.id, "transfer_id": tid},
            )
            outcome = self._resolve(settlement.id, attempt, record)
            return PayoutReceipt(tid, confirmed=outcome is PayoutStatus.PAID)
        except JibitUnreachable as exc:
            if not exc.sent:
                self.store.update_transfer(settlement.id, attempt, expected=("sending",), status="unsent")
                raise PayoutDeferred(str(exc)) from exc
            # It may have been taken: what became of it is asked now and by every later run.
            logger.warning(
                "payout transfer answer lost; asking Jibit",
                extra={"settlement_id": settlement.id, "transfer_id": tid, "reason": str(exc)},
            )
            outcome = self._resolve(settlement.id, attempt, record)
            return PayoutReceipt(tid, confirmed=outcome is PayoutStatus.PAID)
        self.store.update_transfer(
            settlement.id, attempt, expected=("sending",), status="submitted", submitted_at=iso(utcnow())
        )
        logger.info("payout transfer submitted", extra={"settlement_id": settlement.id, "transfer_id": tid})
        return PayoutReceipt(tid, confirmed=False)

    def status(self, settlement: Settlement) -> PayoutStatus:
        attempt = settlement.payout_attempts
        record = self.store.transfer(settlement.id, attempt)
        if record is None:
            return PayoutStatus.SUBMITTED
        return self._resolve(settlement.id, attempt, record)

    def failure_reason(self, settlement: Settlement) -> str | None:
        record = self.store.transfer(settlement.id, settlement.payout_attempts)
        return str(record["failure_reason"]) if record and record.get("failure_reason") else None

    def _resolve(self, sid: str, attempt: int, record: dict[str, Any]) -> PayoutStatus:
        """The attempt's outcome: from the table once final, else from Jibit (recorded once final)."""
        if record.get("status") in ("paid", "failed"):
            return PayoutStatus(record["status"])
        if record.get("status") == "unsent":
            return PayoutStatus.SUBMITTED  # never left; its settlement was not moved to submitted
        tid = str(record["transfer_id"])
        try:
            found = self.client.inquire(tid)
        except JibitUnreachable as exc:
            logger.warning(
                "payout transfer state unknown; asked again later",
                extra={"settlement_id": sid, "transfer_id": tid, "reason": str(exc)},
            )
            return PayoutStatus.SUBMITTED
        if found is None:
            claimed_at = datetime.fromisoformat(str(record["created_at"]))
            if record.get("status") == "sending" and utcnow() - claimed_at >= self.unknown_after:
                return self._close(sid, attempt, "failed", NEVER_RECEIVED)
            return PayoutStatus.SUBMITTED
        if found.state in PAID_STATES:
            return self._close(sid, attempt, "paid", None)
        if found.state in FAILED_STATES:
            return self._close(sid, attempt, "failed", found.fail_reason or f"Jibit: {found.state}")
        self.store.update_transfer(sid, attempt, expected=("sending",), status="submitted")
        return PayoutStatus.SUBMITTED

    def _close(self, sid: str, attempt: int, status: str, reason: str | None) -> PayoutStatus:
        self.store.update_transfer(
            sid, attempt, expected=OPEN, status=status, failure_reason=reason, closed_at=iso(utcnow())
        )
        record = self.store.transfer(sid, attempt) or {}
        return PayoutStatus(record.get("status", status))


def _secret(parameter: str, local_value: str) -> str:
    """A credential: from its SSM parameter when one is named (deployed), else the local value."""
    if not parameter:
        return local_value
    from paylink.core.secrets import secret

    return secret(parameter)


@cache
def _transferor(base_url: str, api_key: str, secret_key: str) -> JibitTransferor:
    """One client per process and credentials, so its access token serves every settlement."""
    import httpx

    http = httpx.Client(timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=2.0), follow_redirects=False)
    return JibitTransferor(http, base_url, api_key, secret_key)
