"""The click path reads its settings and a link's defaults without pydantic: the same names and
values as the Settings and Link models (paylink.web.click)."""

from __future__ import annotations

import pytest

from paylink.core.models import Link
from paylink.core.settings import Settings
from paylink.merchants.links import PERSONAL_PREFIX
from paylink.web import click


@pytest.mark.parametrize(
    ("field", "name", "default"),
    [
        ("table_name", click.TABLE_ENV, click.TABLE_DEFAULT),
        ("timezone", click.TIMEZONE_ENV, click.TIMEZONE_DEFAULT),
        ("dynamodb_endpoint_url", click.ENDPOINT_ENV, None),
        ("gateways_json", click.GATEWAYS_ENV, "[]"),
        ("page_cache_seconds", click.CACHE_ENV, ""),
    ],
)
def test_the_click_path_reads_the_settings_variables_with_their_defaults(field, name, default):
    spec = Settings.model_fields[field]
    assert (spec.alias, spec.get_default()) == (name, default)


def test_a_stored_link_reads_with_the_models_defaults():
    # Given the fields the page reads, Then each missing one takes the Link model's default
    for name, default in click.LINK_DEFAULTS.items():
        assert Link.model_fields[name].get_default(call_default_factory=True) == default, name


def test_a_personal_link_is_recognised_by_the_same_prefix():
    assert click.PERSONAL_PREFIX == PERSONAL_PREFIX
