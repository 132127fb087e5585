"""The merchant panel: sign-in by SMS code, sign-up, and the dashboard pages (paylink.panel)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.core.observability import logged
from paylink.panel import coupons as panel_coupons
from paylink.panel import link_edit as panel_link_edit
from paylink.panel import pages
from paylink.panel import settings as panel_settings
from paylink.panel import settlements as panel_settlements
from paylink.panel.money import exports_page as money_exports
from paylink.panel.money import refund_form as money_refunds

app = APIGatewayHttpResolver()


@app.get("/login")
def login_form() -> Response[str]:
    return pages.login_form(app.current_event)


@app.post("/login")
def login_submit() -> Response[str]:
    return pages.login_submit(app.current_event)


@app.post("/login/verify")
def verify() -> Response[str]:
    return pages.verify_submit(app.current_event)


@app.post("/logout")
def logout() -> Response[str]:
    return pages.logout(app.current_event)


@app.get("/signup")
def signup_form() -> Response[str]:
    return pages.signup_form(app.current_event)


@app.post("/signup")
def signup_submit() -> Response[str]:
    return pages.signup_submit(app.current_event)


@app.get("/dashboard")
def home() -> Response[str]:
    return pages.home(app.current_event)


@app.get("/dashboard/links")
def links() -> Response[str]:
    return pages.links_list(app.current_event)


@app.get("/dashboard/links/new")
def link_new_form() -> Response[str]:
    return pages.link_new_form(app.current_event)


@app.post("/dashboard/links/new")
def link_new_submit() -> Response[str]:
    return pages.link_new_submit(app.current_event)


@app.get("/dashboard/links/<code>")
def link_page(code: str) -> Response[str]:
    return pages.link_page(app.current_event, code)


@app.post("/dashboard/links/<code>/deactivate")
def link_deactivate(code: str) -> Response[str]:
    return pages.link_deactivate(app.current_event, code)


@app.get("/dashboard/links/<code>/edit")
def link_edit_form(code: str) -> Response[str]:
    return panel_link_edit.edit_form(app.current_event, code)


@app.post("/dashboard/links/<code>/edit")
def link_edit_submit(code: str) -> Response[str]:
    return panel_link_edit.edit_submit(app.current_event, code)


@app.post("/dashboard/links/<code>/send")
def link_send(code: str) -> Response[str]:
    return panel_link_edit.send_sms(app.current_event, code)


@app.get("/dashboard/payments")
def payments() -> Response[str]:
    # A CSV is answered inline only while this invocation has time (else an export job)
    remaining = getattr(getattr(app, "lambda_context", None), "get_remaining_time_in_millis", None)
    seconds_left = remaining() / 1000 if callable(remaining) else None
    return pages.payments_list(app.current_event, seconds_left=seconds_left)


@app.get("/dashboard/payments/<payment_id>")
def payment(payment_id: str) -> Response[str]:
    return money_refunds.payment_page(app.current_event, payment_id)


# Refunds and exports in the panel (paylink.panel.money).
@app.post("/dashboard/payments/<payment_id>/refund")
def refund(payment_id: str) -> Response[str]:
    return money_refunds.refund_submit(app.current_event, payment_id)


@app.post("/dashboard/payments/<payment_id>/remind")
def refund_remind(payment_id: str) -> Response[str]:
    return money_refunds.remind_submit(app.current_event, payment_id)


@app.get("/dashboard/exports/<export_id>")
def export(export_id: str) -> Response[str]:
    return money_exports.export_page(app.current_event, export_id)


@app.get("/dashboard/settlements")
def settlements() -> Response[str]:
    return pages.settlements_list(app.current_event)


@app.get("/dashboard/settlements/<settlement_id>")
def settlement(settlement_id: str) -> Response[str]:
    return panel_settlements.settlement_page(app.current_event, settlement_id)


@app.get("/dashboard/coupons")
def coupons() -> Response[str]:
    return panel_coupons.coupons_page(app.current_event)


@app.post("/dashboard/coupons")
def coupon_create() -> Response[str]:
    return panel_coupons.coupon_create(app.current_event)


@app.get("/dashboard/settings")
def settings() -> Response[str]:
    return panel_settings.settings_get(app.current_event)


# Settings actions (paylink.panel.settings): each answers the settings page, a secret shown once.
SETTINGS_ACTIONS = {
    "/dashboard/settings/webhook": panel_settings.webhook_set,
    "/dashboard/settings/webhook/rotate": panel_settings.webhook_rotate,
    "/dashboard/settings/webhook/delete": panel_settings.webhook_delete,
    "/dashboard/settings/webhook/test": panel_settings.webhook_test,
    "/dashboard/settings/keys": panel_settings.key_create,
    "/dashboard/settings/keys/revoke": panel_settings.key_revoke,
    "/dashboard/settings/telegram": panel_settings.telegram_link,
    "/dashboard/settings/telegram/unlink": panel_settings.telegram_unlink,
    "/dashboard/settings/iban": panel_settings.iban_change,
}
for _path, _view in SETTINGS_ACTIONS.items():
    app.post(_path)(lambda view=_view: view(app.current_event))


@app.post("/dashboard/settings/sessions/end")
def end_session() -> Response[str]:
    return pages.end_other_session(app.current_event)


@app.not_found
def no_route(_: Exception) -> Response[str]:
    return pages.not_found(pages.lang_of(app.current_event))


@logged(http=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
