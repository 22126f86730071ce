"""The functions' settings from their environment: required names, defaults, and clear refusals."""

import pytest

from ledger_backup import contract
from ledger_backup.errors import LedgerBackupError
from runtime.settings import ConfigurationError, Settings

REQUIRED = {"TABLE_NAME": "pipeline-ledger", "BACKUP_BUCKET": "ledger-backups"}


def test_defaults_when_only_the_required_variables_are_set() -> None:
    settings = Settings.from_environ(REQUIRED)
    assert settings == Settings(
        table_name="pipeline-ledger",
        bucket="ledger-backups",
        prefix="backups/",
        scan_segments=4,
        restore_writers=4,
        continuation_margin_seconds=60,
        max_items_per_second=None,
        max_invocations=96,
    )


def test_the_defaults_are_the_contracts() -> None:
    settings = Settings.from_environ(REQUIRED)
    assert settings.prefix == contract.DEFAULT_BACKUP_PREFIX
    assert settings.scan_segments == contract.DEFAULT_SCAN_SEGMENTS
    assert settings.restore_writers == contract.DEFAULT_RESTORE_WRITERS
    assert settings.continuation_margin_seconds == contract.DEFAULT_CONTINUATION_MARGIN_SECONDS
    assert settings.max_invocations == contract.DEFAULT_MAX_INVOCATIONS


def test_every_variable_is_read_by_its_contract_name() -> None:
    settings = Settings.from_environ(
        {
            contract.ENV_TABLE_NAME: "t",
            contract.ENV_BACKUP_BUCKET: "b",
            contract.ENV_BACKUP_PREFIX: "nightly",
            contract.ENV_SCAN_SEGMENTS: "16",
            contract.ENV_RESTORE_WRITERS: "8",
            contract.ENV_CONTINUATION_MARGIN_SECONDS: "120",
            contract.ENV_MAX_ITEMS_PER_SECOND: "500",
            contract.ENV_MAX_INVOCATIONS: "12",
        }
    )
    assert settings == Settings(
        table_name="t",
        bucket="b",
        prefix="nightly/",
        scan_segments=16,
        restore_writers=8,
        continuation_margin_seconds=120,
        max_items_per_second=500,
        max_invocations=12,
    )


def test_required_names_are_stripped() -> None:
    settings = Settings.from_environ({"TABLE_NAME": "  t \n", "BACKUP_BUCKET": " b "})
    assert (settings.table_name, settings.bucket) == ("t", "b")


@pytest.mark.parametrize("name", ["TABLE_NAME", "BACKUP_BUCKET"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_required_variable_is_named(name: str, value: str | None) -> None:
    environ = dict(REQUIRED)
    if value is None:
        del environ[name]
    else:
        environ[name] = value
    with pytest.raises(ConfigurationError, match=f"environment variable {name} is not set"):
        Settings.from_environ(environ)


@pytest.mark.parametrize(
    ("raw", "prefix"),
    [
        ("backups/", "backups/"),
        ("backups", "backups/"),
        ("/backups//", "backups/"),
        ("a/b", "a/b/"),
        ("", ""),  # an explicit empty prefix: backups at the bucket's top level
        ("/", ""),
    ],
)
def test_the_prefix_is_normalised(raw: str, prefix: str) -> None:
    assert Settings.from_environ({**REQUIRED, "BACKUP_PREFIX": raw}).prefix == prefix


@pytest.mark.parametrize(
    "name",
    [
        "SCAN_SEGMENTS",
        "RESTORE_WRITERS",
        "CONTINUATION_MARGIN_SECONDS",
        "MAX_ITEMS_PER_SECOND",
        "MAX_INVOCATIONS",
    ],
)
@pytest.mark.parametrize("raw", ["0", "-3", "four", "1.5", " ", "1e3"])
def test_invalid_integers_are_refused_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({**REQUIRED, name: raw})
    assert str(caught.value) == f"environment variable {name} must be a positive integer, not {raw!r}"


@pytest.mark.parametrize(
    "name", ["SCAN_SEGMENTS", "RESTORE_WRITERS", "CONTINUATION_MARGIN_SECONDS", "MAX_INVOCATIONS"]
)
def test_an_empty_integer_variable_means_the_default(name: str) -> None:
    assert Settings.from_environ({**REQUIRED, name: ""}) == Settings.from_environ(REQUIRED)


def test_integers_with_surrounding_spaces_are_accepted() -> None:
    assert Settings.from_environ({**REQUIRED, "SCAN_SEGMENTS": " 8 "}).scan_segments == 8


def test_an_empty_rate_limit_means_unlimited() -> None:
    assert Settings.from_environ({**REQUIRED, "MAX_ITEMS_PER_SECOND": ""}).max_items_per_second is None


def test_configuration_errors_are_ledger_backup_errors() -> None:
    assert issubclass(ConfigurationError, LedgerBackupError)


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "from-env")
    monkeypatch.setenv("BACKUP_BUCKET", "bucket-env")
    monkeypatch.setenv("SCAN_SEGMENTS", "2")
    monkeypatch.delenv("BACKUP_PREFIX", raising=False)
    settings = Settings.from_environ()
    assert (settings.table_name, settings.bucket, settings.scan_segments) == ("from-env", "bucket-env", 2)


def test_the_backup_kms_key_is_read_when_the_stack_sets_it_and_absent_otherwise() -> None:
    key = "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    assert Settings.from_environ({**REQUIRED, "BACKUP_KMS_KEY_ARN": f" {key} "}).backup_kms_key_arn == key
    assert Settings.from_environ({**REQUIRED, "BACKUP_KMS_KEY_ARN": ""}).backup_kms_key_arn is None
    assert Settings.from_environ(REQUIRED).backup_kms_key_arn is None
