"""Domain errors; handlers turn each into one HTTP answer in one place."""

from __future__ import annotations


class PaylinkError(Exception):
    """Base of every error a caller may see; carries an HTTP status and a stable code."""

    status: int = 400
    code: str = "bad_request"
    retry_after_seconds: int | None = None  # when set, the answer says `Retry-After`

    def __init__(self, message: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_body(self) -> dict[str, object]:
        """The JSON error body of the HTTP contract."""
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


class ValidationFailed(PaylinkError):
    status = 400
    code = "validation_error"


class Unauthorized(PaylinkError):
    status = 401
    code = "unauthorized"


class NotFound(PaylinkError):
    status = 404
    code = "not_found"


class Gone(PaylinkError):
    """A link that exists but can no longer be paid; `reason` names why."""

    status = 410
    code = "gone"

    def __init__(self, reason: str) -> None:
        super().__init__(f"this link cannot be paid: {reason}")
        self.reason = reason


class LimitExceeded(PaylinkError):
    status = 422
    code = "limit_exceeded"


class RateLimited(PaylinkError):
    """Too many of something in a window; `Retry-After` says when the window opens again."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)


class Conflict(PaylinkError):
    status = 409
    code = "conflict"


class NoGatewayAvailable(PaylinkError):
    status = 503
    code = "no_gateway"


class BotUnavailable(PaylinkError):
    """This deployment has no Telegram bot, or Telegram did not answer."""

    status = 503
    code = "bot_unavailable"


class PaymentInProgress(PaylinkError):
    """The last units of a link are held by payments still at a gateway; try again shortly."""

    status = 409
    code = "payment_in_progress"


class TooManyOpenPayments(PaylinkError):
    """This client already holds its share of the merchant's day in payments still open."""

    status = 429
    code = "too_many_open_payments"


class IdempotencyKeyReused(PaylinkError):
    """An `Idempotency-Key` sent again with another body: the first request's answer stands."""

    status = 422
    code = "idempotency_key_reused"


class IdempotencyInProgress(PaylinkError):
    """The first request with this `Idempotency-Key` is still running; retry shortly."""

    status = 409
    code = "idempotency_in_progress"
    retry_after_seconds = 1
