"""app.yaml as a person writes it: interpolation, validation messages with key paths, defaults."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from app_yaml import OMIT, base_config, config_yaml

from bot.config.loading import load_config, parse_config
from bot.config.schema import AppConfig, ConfigError, format_duration, parse_duration
from bot.core.platforms import PLATFORMS

REPO = Path(__file__).resolve().parents[1]
WEBHOOK_SECRET = "0123456789abcdef-webhook"


def errors_of(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ=environ or {})
    return caught.value.errors


# -- the shipped file -----------------------------------------------------------------------------


def test_shipped_app_yaml_loads_with_an_empty_environment() -> None:
    config = load_config(REPO / "app.yaml", environ={})

    assert config.rights_holder.name
    assert config.brands and all(brand.rights for brand in config.brands)


def test_shipped_app_yaml_keeps_every_platform_on_portal() -> None:
    config = load_config(REPO / "app.yaml", environ={})

    assert {platform: config.channel_for(platform)[1].adapter for platform in PLATFORMS} == {
        platform: "portal" for platform in PLATFORMS
    }


def test_load_config_reads_a_file_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(config_yaml(), encoding="utf-8")

    config = load_config(path, environ={})

    assert [brand.name for brand in config.brands] == ["Acme", "Bravo"]


def test_load_config_reports_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert caught.value.errors == [f"file not found: {path}"]


# -- ${VAR} interpolation -------------------------------------------------------------------------


def test_a_whole_value_is_taken_from_the_environment() -> None:
    text = config_yaml(platforms={"ebay": {"adapter": "ebay_vero", "token": "${EBAY_VERO_TOKEN}"}})

    config = parse_config(text, environ={"EBAY_VERO_TOKEN": "v^1.1#token"})

    assert config.platforms["ebay"].options["token"] == "v^1.1#token"


def test_a_variable_embedded_in_a_value_is_replaced_in_place() -> None:
    text = config_yaml(rights_holder={"phone": "+49 30 ${PHONE_EXT} (desk)"})

    config = parse_config(text, environ={"PHONE_EXT": "1234567"})

    assert config.rights_holder.phone == "+49 30 1234567 (desk)"


def test_a_doubled_dollar_is_a_literal_dollar_and_starts_no_variable() -> None:
    text = config_yaml(rights_holder={"phone": "cost $$5, not $${PHONE}"})

    config = parse_config(text, environ={"PHONE": "should not be used"})

    assert config.rights_holder.phone == "cost $5, not ${PHONE}"


def test_a_missing_variable_names_the_key_path_and_the_variable() -> None:
    text = config_yaml(platforms={"ebay": {"adapter": "ebay_vero", "token": "${EBAY_VERO_TOKEN}"}})

    errors = errors_of(text)

    assert errors == ["platforms.ebay.token: environment variable EBAY_VERO_TOKEN is not set"]


def test_a_missing_variable_in_a_typed_value_is_reported_once() -> None:
    text = config_yaml(platforms={"taobao": {"sla_days": "${TAOBAO_SLA}"}})

    errors = errors_of(text)

    assert errors == ["platforms.taobao.sla_days: environment variable TAOBAO_SLA is not set"]


def test_a_missing_variable_in_an_embedded_value_names_its_key_path() -> None:
    text = config_yaml(rights_holder={"phone": "+49 30 ${PHONE_EXT}"})

    errors = errors_of(text)

    assert errors == ["rights_holder.phone: environment variable PHONE_EXT is not set"]


# -- validation messages --------------------------------------------------------------------------


def test_an_unknown_key_is_reported_with_its_path() -> None:
    text = config_yaml(team={"colour": "blue"})

    assert errors_of(text) == ["team.colour: unknown key"]


def test_a_value_of_the_wrong_type_names_its_path() -> None:
    text = config_yaml(platforms={"ebay": {"adapter": "portal", "sla_days": "soon"}})

    [error] = errors_of(text)

    assert error.startswith("platforms.ebay.sla_days: ")
    assert "integer" in error


def test_a_bad_duration_names_its_path_and_the_forms_expected() -> None:
    text = config_yaml(platforms={"ebay": {"adapter": "portal", "poll_every": "6 hours"}})

    [error] = errors_of(text)

    assert error.startswith("platforms.ebay.poll_every: ")
    assert "6h" in error and "30m" in error and "'6 hours'" in error


def test_an_unknown_platform_id_lists_the_known_ones() -> None:
    text = config_yaml(platforms={"ebey": {"adapter": "portal"}})

    [error] = errors_of(text)

    assert error.startswith("platforms.ebey: unknown platform id 'ebey'")
    assert all(platform in error for platform in PLATFORMS)
    assert "serves" in error


def test_an_unquoted_numeric_platform_id_is_accepted() -> None:
    # YAML reads `1688:` as the integer 1688; the platform id is the string "1688".
    text = config_yaml(platforms={1688: {"adapter": "portal", "sla_days": 2}})

    config = parse_config(text, environ={})

    assert config.channel_for("1688") == ("1688", config.platforms["1688"])
    assert config.sla_days("1688") == 2


def test_an_unknown_adapter_lists_the_known_ones() -> None:
    text = config_yaml(platforms={"taobao": {"adapter": "fax"}})

    [error] = errors_of(text)

    assert error.startswith("platforms.taobao.adapter: unknown adapter 'fax' (known: ")
    assert all(name in error for name in ("portal", "email", "webhook", "ebay_vero", "sandbox"))


def test_an_adapter_specific_key_is_checked_by_its_adapter() -> None:
    ebay = {"adapter": "ebay_vero", "token": "t0ken", "base_url": "ftp://ebay.example"}
    text = config_yaml(platforms={"ebay": ebay})

    [error] = errors_of(text)

    assert error.startswith("platforms.ebay.base_url: ")
    assert "ftp://ebay.example" in error


def test_an_unknown_time_zone_is_reported_with_an_example() -> None:
    text = config_yaml(team={"timezone": "Mars/Olympus_Mons"})

    [error] = errors_of(text)

    assert error.startswith("team.timezone: unknown time zone 'Mars/Olympus_Mons'")
    assert "Europe/Berlin" in error


def test_a_channel_name_is_not_accepted_where_a_channel_id_is_expected() -> None:
    text = config_yaml(team={"report_channel": "#brand-reports"})

    assert errors_of(text) == [
        "team.report_channel: '#brand-reports' is not a Slack channel id (C…, G…)"
    ]


def test_a_bad_channel_in_the_digest_list_names_its_position() -> None:
    text = config_yaml(team={"digest": {"channels": ["general"]}})

    [error] = errors_of(text)

    assert error.startswith("team.digest.channels: 'general' is not a Slack channel id")


def test_an_access_entry_must_be_a_user_or_user_group_id() -> None:
    text = config_yaml(access={"reporters": ["S0BRANDTEAM"], "approvers": ["U0LEGAL01", "jane"]})

    assert errors_of(text) == [
        "access.approvers: 'jane' is not a Slack user id (U…/W…) or user group id (S…)"
    ]


def test_access_lists_of_user_and_group_ids_are_accepted() -> None:
    text = config_yaml(
        access={"reporters": ["S0BRANDTEAM"], "approvers": ["U0LEGAL01", "W0ENTERP1"]}
    )

    config = parse_config(text, environ={})

    assert config.access.reporters == ["S0BRANDTEAM"]
    assert config.access.approvers == ["U0LEGAL01", "W0ENTERP1"]


def test_a_right_id_used_twice_is_reported_under_brands() -> None:
    brands = base_config()["brands"]
    brands[1]["rights"][0]["id"] = "acme-eu-tm"  # Bravo's trademark, under Acme's right's id
    text = config_yaml(brands=brands)

    assert errors_of(text) == ["brands: right id 'acme-eu-tm' is used twice; ids must be unique"]


def test_a_missing_required_section_is_named() -> None:
    text = config_yaml(brands=OMIT, platforms=OMIT)

    assert errors_of(text) == ["brands: required key is missing"]


def test_invalid_yaml_reports_line_and_column() -> None:
    text = "team:\n  timezone: Europe/Berlin\nbrands: [Acme,\n  rights: x\n"

    [error] = errors_of(text)

    assert error.startswith("line 5, column 1: not valid YAML: ")


def test_a_file_that_is_not_a_mapping_is_rejected() -> None:
    assert errors_of("- team\n- brands\n") == [
        "the file must be a mapping of keys (team, rights_holder, brands, …)"
    ]


def test_the_error_message_names_the_file_and_counts_the_problems(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(config_yaml(team={"colour": "blue"}), encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert str(caught.value).startswith(f"{path}: 1 configuration error(s):")
    assert "team.colour: unknown key" in str(caught.value)


def test_every_problem_in_a_file_is_reported_at_once() -> None:
    text = config_yaml(
        team={"colour": "blue", "timezone": "Nowhere/Town"},
        platforms={"ebay": {"adapter": "portal", "poll_every": "6 hours"}},
    )

    errors = errors_of(text)

    assert len(errors) == 3
    assert [error.split(":")[0] for error in errors] == [
        "team.timezone",
        "team.colour",
        "platforms.ebay.poll_every",
    ]


def test_platform_checks_are_reported_alongside_other_problems() -> None:
    text = config_yaml(
        team={"colour": "blue"},
        platforms={
            "taobao": {"adapter": "fax"},
            "ebey": {"adapter": "portal"},
            "ebay": {"adapter": "portal", "sla_days": "soon"},
        },
    )

    errors = errors_of(text)

    assert sorted(error.split(":")[0] for error in errors) == [
        "platforms.ebay.sla_days",
        "platforms.ebey",
        "platforms.taobao.adapter",
        "team.colour",
    ]


# -- channels -------------------------------------------------------------------------------------


@pytest.fixture
def vendor_config() -> AppConfig:
    vendor = {
        "adapter": "webhook",
        "serves": ["temu"],
        "base_url": "https://enforcement.vendor.example/api",
        "secret": "${WEBHOOK_SECRET}",
    }
    text = config_yaml(platforms={"vendor": vendor})
    return parse_config(text, environ={"WEBHOOK_SECRET": WEBHOOK_SECRET})


def test_a_custom_channel_serves_the_platforms_it_lists(vendor_config: AppConfig) -> None:
    name, entry = vendor_config.channel_for("temu")

    assert name == "vendor"
    assert entry.adapter == "webhook"
    assert entry.options["base_url"] == "https://enforcement.vendor.example/api"


def test_a_platform_listed_by_id_uses_its_own_entry(vendor_config: AppConfig) -> None:
    name, entry = vendor_config.channel_for("taobao")

    assert (name, entry.adapter, entry.sla_days) == ("taobao", "portal", 3)


def test_an_unlisted_platform_uses_the_portal_with_default_settings(
    vendor_config: AppConfig,
) -> None:
    name, entry = vendor_config.channel_for("shein")

    assert (name, entry.adapter, entry.sla_days, entry.poll_every) == (
        "shein",
        "portal",
        7,
        timedelta(hours=6),
    )


def test_a_custom_channel_without_serves_is_an_unknown_platform() -> None:
    text = config_yaml(platforms={"vendor": {"adapter": "portal"}})

    [error] = errors_of(text)

    assert error.startswith("platforms.vendor: unknown platform id 'vendor'")
    assert "serves" in error


def test_a_custom_channel_serving_an_unknown_platform_names_the_position() -> None:
    text = config_yaml(platforms={"vendor": {"adapter": "portal", "serves": ["temu", "tmu"]}})

    [error] = errors_of(text)

    assert error.startswith("platforms.vendor.serves[1]: unknown platform id 'tmu' (known: ")


# -- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("6h", timedelta(hours=6)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(weeks=1)),
        (" 2 h ", timedelta(hours=2)),
        (3600, timedelta(hours=1)),
    ],
)
def test_parse_duration_reads_the_documented_forms(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["6 hours", "1.5h", "0s", "-1h", "", "h", 0, -5, True, None])
def test_parse_duration_rejects_anything_else(text: object) -> None:
    with pytest.raises(ValueError, match="expected a duration such as 90s, 30m, 6h or 7d"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["90s", "30m", "6h", "3d", "1w", "2w", "25h", "61s"])
def test_format_duration_gives_back_what_parse_duration_read(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


def test_format_duration_uses_the_largest_exact_unit() -> None:
    assert format_duration(timedelta(days=14)) == "2w"
    assert format_duration(timedelta(hours=48)) == "2d"
    assert format_duration(timedelta(seconds=5400)) == "90m"


def test_a_custom_channel_may_serve_a_numeric_platform_id() -> None:
    text = config_yaml(platforms={"vendor": {"adapter": "portal", "serves": [1688, "temu"]}})

    config = parse_config(text, environ={})

    assert config.channel_for("1688")[0] == "vendor"
    assert config.platforms["vendor"].serves == ["1688", "temu"]


def test_the_connection_pool_is_set_from_the_environment() -> None:
    from bot.config.environment import Environment
    from bot.config.schema import ConfigError

    env = Environment.from_environ(
        {
            "DATABASE_URL": "postgresql://u@h/db",
            "DATABASE_POOL_SIZE": "5",
            "DATABASE_POOL_TIMEOUT": "2.5",
        }
    )
    db = env.database()
    assert (db.engine.pool.size(), env.max_overflow, env.pool_timeout) == (5, 20, 2.5)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="DATABASE_POOL_SIZE: expected a number"):
        Environment.from_environ({"DATABASE_POOL_SIZE": "many"})


def test_a_billion_laughs_of_yaml_aliases_is_refused_at_once() -> None:
    """Nine lines of aliases stand for 10^9 values: refused before anything walks them."""
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in range(8):
        name, previous = chr(ord("b") + level), chr(ord("a") + level)
        text += f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ={})
    assert caught.value.errors == [
        "the file stands for more than 100,000 values once its YAML aliases are expanded"
    ]


def test_a_yaml_alias_inside_itself_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("brands: &b [1, *b]\n", environ={})
    assert caught.value.errors == ["a YAML alias refers to a value that contains it"]


def test_a_few_aliases_in_a_real_configuration_still_load() -> None:
    # Aliases are YAML text, not data: this platforms section is written out.
    platforms = (
        "platforms:\n  taobao: &portal\n    adapter: portal\n    sla_days: 3\n  etsy: *portal\n"
    )
    text = config_yaml(platforms=OMIT) + platforms
    assert "*portal" in text
    config = parse_config(text, environ={})
    assert config.platforms["etsy"].sla_days == config.platforms["taobao"].sla_days == 3


# -- every right can make a complete notice -------------------------------------------------------


def test_a_trademark_without_a_registration_number_is_refused_at_load() -> None:
    data = base_config()
    del data["brands"][1]["rights"][0]["number"]

    with pytest.raises(ConfigError) as raised:
        parse_config(yaml.safe_dump(data))

    assert "rights.bravo-us-tm.number: a trademark notice needs the registration number" in (
        str(raised.value)
    )


def test_copyright_notices_without_a_signatory_or_the_work_are_refused_at_load() -> None:
    data = base_config()
    del data["rights_holder"]["signatory"]
    del data["brands"][0]["rights"][1]["work"]

    with pytest.raises(ConfigError) as raised:
        parse_config(yaml.safe_dump(data))

    message = str(raised.value)
    assert "rights_holder.signatory: a copyright notice needs the signatory" in message
    assert "rights.acme-photos.work: a copyright notice needs the copyrighted work" in message


def test_a_notice_waits_for_its_evidence_two_minutes_unless_told_otherwise() -> None:
    def wait(value: object) -> timedelta:
        return parse_config(
            config_yaml(evidence={"wait_for_capture": value})
        ).evidence.wait_for_capture

    assert AppConfig.model_validate(base_config()).evidence.wait_for_capture == timedelta(minutes=2)
    assert wait("0s") == wait(0) == timedelta(0)  # never waits
    assert wait("45s") == timedelta(seconds=45)
    assert errors_of(config_yaml(evidence={"wait_for_capture": "2h"})) == [
        "evidence.wait_for_capture: at most 1h: a notice waits for its evidence briefly"
    ]
    assert errors_of(config_yaml(evidence={"wait_for_capture": "soon"})) == [
        "evidence.wait_for_capture: expected a duration such as 90s, 30m, 6h or 7d, got 'soon'"
    ]
