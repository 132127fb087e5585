"""local.template on the real template.yaml, and local.schedules.next_fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from local.schedules import next_fire
from local.template import Route, dynamodb_tables, functions, load_template, routes, schedules

TEHRAN = ZoneInfo("Asia/Tehran")

# DESIGN.md section 5, the HTTP contract (v1): merchant API and buyer pages.
CONTRACT_ROUTES = {
    ("POST", "/v1/links"): "CreateLinkFunction",
    ("GET", "/v1/links"): "CreateLinkFunction",
    ("GET", "/v1/links/{code}"): "CreateLinkFunction",
    ("PATCH", "/v1/links/{code}"): "CreateLinkFunction",
    ("GET", "/v1/payments"): "CreateLinkFunction",
    ("GET", "/v1/payments/{id}"): "CreateLinkFunction",
    ("GET", "/v1/settlements"): "CreateLinkFunction",
    ("GET", "/v1/settlements/{id}"): "CreateLinkFunction",
    ("GET", "/{code}"): "CheckoutFunction",
    ("POST", "/{code}"): "CheckoutFunction",
    ("GET", "/{code}/qr.svg"): "CreateLinkFunction",
    ("GET", "/{code}/qr.png"): "CreateLinkFunction",
    ("GET", "/callback/{gateway}"): "CallbackFunction",
    ("POST", "/callback/{gateway}"): "CallbackFunction",
    ("GET", "/r/{payment_id}"): "CallbackFunction",
}


@pytest.fixture(scope="module")
def template():
    return load_template()


@pytest.fixture(scope="module")
def route_list(template) -> list[Route]:
    return routes(template)


def match(route_list: list[Route], method: str, path: str) -> Route | None:
    """The first route, in the order given, whose method and pattern match: what the runner does."""
    for route in route_list:
        if route.method == method and route.pattern.match(path):
            return route
    return None


# --- tables -------------------------------------------------------------------------------------


def test_template_has_one_table_keyed_by_pk_and_sk(template):
    # Given the template's tables
    tables = dynamodb_tables(template)
    # Then there is one, with hash key pk and range key sk
    assert list(tables) == ["PaylinkTable"]
    assert tables["PaylinkTable"]["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]


def test_table_has_three_overloaded_gsis(template):
    # Given the table
    table = dynamodb_tables(template)["PaylinkTable"]
    # Then it has gsi1..gsi3, each keyed by its own pk/sk attributes
    gsis = {g["IndexName"]: g["KeySchema"] for g in table["GlobalSecondaryIndexes"]}
    assert set(gsis) == {"gsi1", "gsi2", "gsi3"}
    for name, schema in gsis.items():
        assert schema == [
            {"AttributeName": f"{name}pk", "KeyType": "HASH"},
            {"AttributeName": f"{name}sk", "KeyType": "RANGE"},
        ]


def test_table_is_on_demand(template):
    # Given the table
    # Then it is billed per request (no capacity to size)
    assert dynamodb_tables(template)["PaylinkTable"]["BillingMode"] == "PAY_PER_REQUEST"


# --- functions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logical_id", "module"),
    [
        ("CreateLinkFunction", "functions.create_link.app"),
        ("CheckoutFunction", "functions.checkout.app"),
        ("CallbackFunction", "functions.callback.app"),
        ("SettleFunction", "functions.settle.app"),
    ],
)
def test_function_has_its_contract_logical_id_and_module(template, logical_id, module):
    # Given the template's functions
    found = functions(template)
    # Then the logical id exists and points at functions.<name>.app's lambda_handler
    assert found[logical_id].module == module
    assert found[logical_id].handler == "lambda_handler"


def test_functions_inherit_the_global_environment(template):
    # Given the checkout function
    env = functions(template)["CheckoutFunction"].environment
    # Then it sees the Tehran time zone and Iran as country from Globals
    assert env["PAYLINK_TIMEZONE"] == "Asia/Tehran"
    assert env["PAYLINK_COUNTRY"] == "IR"


def test_settle_function_has_its_own_longer_timeout(template):
    # Given the settle function, which overrides the global 15 s
    # Then its own timeout wins
    found = functions(template)
    assert found["SettleFunction"].timeout == 300
    assert found["CheckoutFunction"].timeout == 15


# --- routes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), list(CONTRACT_ROUTES), ids=lambda v: str(v))
def test_every_contract_route_is_in_the_template(route_list, method, path):
    # Given a route of the HTTP contract
    found = {(r.method, r.path): r.function_id for r in route_list}
    # Then the template routes it to the function that owns it
    assert found.get((method, path)) == CONTRACT_ROUTES[(method, path)]


def test_literal_v1_links_is_tried_before_the_code_parameter(route_list):
    # Given the ordered routes
    keys = [r.route_key for r in route_list]
    # Then /v1/links comes before /{code}
    assert keys.index("POST /v1/links") < keys.index("POST /{code}")
    assert keys.index("GET /v1/links") < keys.index("GET /{code}")


@pytest.mark.parametrize(
    ("method", "path", "function_id", "route_path"),
    [
        ("GET", "/abc/qr.svg", "CreateLinkFunction", "/{code}/qr.svg"),
        ("GET", "/abc/qr.png", "CreateLinkFunction", "/{code}/qr.png"),
        ("GET", "/abc", "CheckoutFunction", "/{code}"),
        ("POST", "/abc", "CheckoutFunction", "/{code}"),
        ("POST", "/v1/links", "CreateLinkFunction", "/v1/links"),
        ("GET", "/v1/links/abc", "CreateLinkFunction", "/v1/links/{code}"),
        ("GET", "/v1/openapi.json", "CreateLinkFunction", "/v1/openapi.json"),
        ("GET", "/callback/zibal", "CallbackFunction", "/callback/{gateway}"),
        ("GET", "/r/pay_1", "CallbackFunction", "/r/{payment_id}"),
    ],
)
def test_request_reaches_the_right_function(route_list, method, path, function_id, route_path):
    # Given a request path
    # When matched against the ordered routes
    route = match(route_list, method, path)
    # Then the most specific route wins
    assert route is not None
    assert (route.function_id, route.path) == (function_id, route_path)


def test_path_parameter_does_not_cross_a_slash(route_list):
    # Given a two-segment path that no route declares
    # When matched
    # Then nothing matches (/{code} is one segment)
    assert match(route_list, "GET", "/abc/def") is None


def test_path_parameter_is_captured_by_name(route_list):
    # Given the QR route
    route = match(route_list, "GET", "/abcDEF123456/qr.svg")
    # Then the code is captured
    assert route is not None
    match_ = route.pattern.match("/abcDEF123456/qr.svg")
    assert match_ is not None
    assert match_.group("code") == "abcDEF123456"


def test_qr_path_dot_is_literal(route_list):
    # Given a path where the dot of qr.svg is another character
    # Then the QR route does not match it
    route = match(route_list, "GET", "/abc/qrXsvg")
    assert route is None


# --- schedules ----------------------------------------------------------------------------------


def test_settle_runs_daily_at_nine_tehran(template):
    # Given the template's schedules
    found = {s.function_id: s for s in schedules(template)}
    # Then settlement fires at 09:00 every day, Tehran time, with the scheduled time as input
    settle = found["SettleFunction"]
    assert settle.expression == "cron(0 9 * * ? *)"
    assert settle.timezone == "Asia/Tehran"
    assert settle.input is not None
    assert "scheduled_time" in settle.input


def test_daily_cron_fires_later_the_same_tehran_day():
    # Given 04:00 UTC (07:30 Tehran)
    after = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    # When the 09:00 Tehran schedule is asked
    # Then it fires at 05:30 UTC the same day
    assert next_fire("cron(0 9 * * ? *)", "Asia/Tehran", after) == datetime(2026, 11, 23, 5, 30, tzinfo=UTC)


def test_daily_cron_after_its_time_fires_the_next_day():
    # Given 06:00 UTC (09:30 Tehran), after today's firing
    after = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    # Then it fires tomorrow at 05:30 UTC
    assert next_fire("cron(0 9 * * ? *)", "Asia/Tehran", after) == datetime(2026, 11, 24, 5, 30, tzinfo=UTC)


def test_cron_at_exactly_its_time_fires_the_next_day():
    # Given exactly 05:30 UTC, the firing moment itself
    after = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
    # Then the next firing is strictly after: tomorrow
    assert next_fire("cron(0 9 * * ? *)", "Asia/Tehran", after) == datetime(2026, 11, 24, 5, 30, tzinfo=UTC)


def test_rate_adds_its_interval():
    # Given any moment
    after = datetime(2026, 11, 23, 4, 0, 17, tzinfo=UTC)
    # When rate(5 minutes) is asked
    # Then it fires five minutes later
    assert next_fire("rate(5 minutes)", "Asia/Tehran", after) == after + timedelta(minutes=5)


def test_rate_of_one_day_adds_a_day():
    # Given any moment
    after = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    # Then rate(1 day) fires a day later
    assert next_fire("rate(1 day)", "UTC", after) == after + timedelta(days=1)


def test_aws_day_of_week_7_is_saturday():
    # Given AWS cron's day-of-week 7 (AWS counts 1=SUN ... 7=SAT) and a Monday
    after = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    # When the next firing is asked
    fire = next_fire("cron(0 9 ? * 7 *)", "Asia/Tehran", after)
    # Then it is the coming Saturday at 09:00 Tehran
    local = fire.astimezone(TEHRAN)
    assert local.weekday() == 5
    assert (local.date().isoformat(), local.hour, local.minute) == ("2026-11-28", 9, 0)


def test_aws_day_of_week_1_is_sunday():
    # Given AWS day-of-week 1 and a Monday
    after = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    # Then it fires on Sunday
    assert next_fire("cron(0 9 ? * 1 *)", "Asia/Tehran", after).astimezone(TEHRAN).weekday() == 6


def test_aws_day_of_week_range_is_translated():
    # Given AWS 2-6 (Monday to Friday) and a Friday evening in Tehran
    after = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    # Then the next firing skips the weekend to Monday
    fire = next_fire("cron(0 9 ? * 2-6 *)", "Asia/Tehran", after).astimezone(TEHRAN)
    assert fire.date().isoformat() == "2026-11-30"


def test_aws_nth_weekday_uses_aws_numbering():
    # Given AWS 6#3, the third Friday of the month
    after = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    # When the next firing is asked
    fire = next_fire("cron(0 9 ? * 6#3 *)", "Asia/Tehran", after).astimezone(TEHRAN)
    # Then it is Friday 2026-12-18
    assert fire.date().isoformat() == "2026-12-18"


def test_unsupported_expression_is_refused():
    # Given an expression that is neither cron nor rate
    # Then it is refused
    with pytest.raises(ValueError, match="unsupported"):
        next_fire("at(2026-11-23T09:00:00)", "Asia/Tehran", datetime(2026, 11, 23, tzinfo=UTC))
