"""Settings: a TOML file (`--config` / `ARMS_SYNC_CONFIG`) overridden by `ARMS_SYNC_*`.

Everything an operator may tune lives here, never in code: the ledger URL, the
key directory, the at-rest key file, the duplicate window, hours per
assessment, training dates per probation area, the policy file, report folder
and gateway access. The background deployment's
own settings (broker, queues, schedule) are environment variables only
(`workers/settings.py`).
"""

from __future__ import annotations

import re
import ssl
import tomllib
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from sync.core.duplicates import DEFAULT_WINDOW_DAYS
from sync.core.policy import DEFAULT_TRAINING_DATE, area_key
from sync.errors import ConfigurationError
from sync.wording import did_you_mean

DEFAULT_DATABASE_URL = "sqlite:///arms-sync.db"
DEFAULT_HOURS_PER_ASSESSMENT = 6.0
MAX_HOURS_PER_ASSESSMENT = 1000.0
DEFAULT_GATEWAY_RETRY_ATTEMPTS = 6
DEFAULT_GATEWAY_RETRY_BASE_SECONDS = 0.5
DEFAULT_GATEWAY_RETRY_MAX_SECONDS = 30.0
DEFAULT_HTTP_TIMEOUT_SECONDS = 10.0
DEFAULT_HTTP_DEADLINE_SECONDS = 120.0
DEFAULT_GATEWAY_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


VARIABLE_PREFIX = "ARMS_SYNC_"
# UK Government Security Classifications: personal data on offenders held by the police
# and probation is OFFICIAL, marked OFFICIAL-SENSITIVE for its handling.
DEFAULT_REPORT_MARKING = "OFFICIAL-SENSITIVE"
MAX_REPORT_MARKING_LENGTH = 60
NUMBER_TYPES = frozenset({int, float})
UTF8_BOM = b"\xef\xbb\xbf"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Where tomllib found a file not to be TOML, from the end of its message (never the
# file's content, which the rest of the message may quote).
TOML_PLACE = re.compile(r"\((at line \d+, column \d+|at end of document)\)$")
WRITE_A_DATE = "write it as a date, YYYY-MM-DD"
WRITE_A_WHOLE_NUMBER = "write a whole number"
WRITE_A_NUMBER = "write a number"
WRITE_TRUE_OR_FALSE = "write true or false"
# Plain instructions in place of pydantic's wording, by the kind of its error.
INSTRUCTIONS = {
    **dict.fromkeys(("int_parsing", "int_type", "int_from_float"), WRITE_A_WHOLE_NUMBER),
    **dict.fromkeys(("float_parsing", "float_type"), WRITE_A_NUMBER),
    **dict.fromkeys(("bool_parsing", "bool_type"), WRITE_TRUE_OR_FALSE),
    **dict.fromkeys(
        ("date_parsing", "date_type", "date_from_datetime_parsing", "date_from_datetime_inexact"),
        WRITE_A_DATE,
    ),
    **dict.fromkeys(("time_parsing", "time_type"), "write a time of day, HH:MM"),
    "finite_number": "write a number, not inf or nan",
    "string_type": "write it as text, in quotes",
    "path_type": "write a path, in quotes",
}
# A settings file is TOML, whose values have types: each kind of setting takes
# only its own (a number in quotes, or 1 for true, would be a slip read as something else).
FILE_KINDS: dict[frozenset[object], tuple[tuple[type, ...], str]] = {
    frozenset({bool}): ((bool,), WRITE_TRUE_OR_FALSE),
    frozenset({int}): ((int,), WRITE_A_WHOLE_NUMBER),
    frozenset({float}): ((int, float), WRITE_A_NUMBER),
}

Namer = Callable[[str], str]
# Where a setting's value in force came from (later ones win).
FROM_FILE, FROM_ENV, GIVEN = "file", "environment", "given"


def _kinds(annotation: object) -> frozenset[object]:
    """The types a setting's type allows, None aside (`int | None` is `{int}`)."""
    return frozenset(set(get_args(annotation)) - {type(None)} or {annotation})


def _holds_a_number(annotation: object) -> bool:
    """Whether a setting's type is a number (`int`, `float`, or one of them or None)."""
    return _kinds(annotation) <= NUMBER_TYPES


def plain_date(value: object) -> object:
    """A date setting as given, refused unless it is a date or `YYYY-MM-DD` text.

    A number (read as seconds since 1970) or a date with a time would otherwise
    be taken for some other day without a word.
    """
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and ISO_DATE.fullmatch(value.strip()):
        return value.strip()
    raise ValueError(WRITE_A_DATE)


def _check_area_code(area: str) -> None:
    """Refuse an empty area code, or a setting's name where an area code should be."""
    if not area.strip():
        raise ValueError("an area code is empty")
    if area in Settings.model_fields:
        raise ValueError(
            f"{area} is a setting, not an area code: it stands after the "
            "[arms_sync.training_dates] table; move it above that table"
        )


class Settings(BaseSettings):
    """The service's settings, validated once per process."""

    model_config = SettingsConfigDict(env_prefix="ARMS_SYNC_", extra="forbid", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    keys_dir: Path | None = None
    # The ledger's at-rest data key in a file of its own (made on first use); else the
    # key directory's, else a file beside an SQLite ledger (`sync/app.py`).
    at_rest_key_file: Path | None = None
    window_days: int = Field(default=DEFAULT_WINDOW_DAYS, ge=0)
    linker: Literal["identifiers", "probabilistic"] = "probabilistic"
    # Worker processes that validate long feed files; 0 validates in-process,
    # unset uses the usable cores (at most 4).
    validation_processes: int | None = Field(default=None, ge=0, le=64)
    # At most MAX_HOURS_PER_ASSESSMENT: an assessment takes hours, and a figure beyond
    # it is a slip that would turn every estimate (and past 1e308, infinity) into nonsense.
    hours_per_assessment: float = Field(
        default=DEFAULT_HOURS_PER_ASSESSMENT, ge=0, le=MAX_HOURS_PER_ASSESSMENT, allow_inf_nan=False
    )
    default_training_date: date = DEFAULT_TRAINING_DATE
    training_dates: dict[str, date] = Field(default_factory=dict)
    # The policy's versions as data (config/policy.toml); unset, the built-in first version.
    policy_file: Path | None = None
    report_dir: Path = Path("reports")
    # The handling marking the HTML report prints at the top of its first page and of
    # every printed page; blank prints none.
    report_marking: str = DEFAULT_REPORT_MARKING
    operator: str | None = None
    http_timeout_seconds: float = Field(
        default=DEFAULT_HTTP_TIMEOUT_SECONDS, gt=0, allow_inf_nan=False
    )
    # A whole attempt's limit: a gateway trickling its body slower than the read
    # timeout is cut off; a body over the cap (decompressed) is refused.
    http_deadline_seconds: float = Field(
        default=DEFAULT_HTTP_DEADLINE_SECONDS, gt=0, allow_inf_nan=False
    )
    gateway_max_response_bytes: int = Field(default=DEFAULT_GATEWAY_MAX_RESPONSE_BYTES, ge=1024)
    gateway_client_id: str = "arms-sync"
    gateway_client_secret: SecretStr | None = None
    # Credentials each agency's gateway issued the hub, when they differ (the
    # safer set-up: neither gateway then holds a secret that opens the other's);
    # unset, the shared id and secret above are used.
    probation_gateway_client_id: str | None = None
    probation_gateway_client_secret: SecretStr | None = None
    police_gateway_client_id: str | None = None
    police_gateway_client_secret: SecretStr | None = None
    gateway_ca_bundle: Path | None = None
    # Plain HTTP to a gateway off this machine sends the client secret and tokens
    # in clear: refused unless allowed (a private test network only).
    gateway_allow_plain_http: bool = False
    # Plain feed files carry no signature: anyone who can write one can speak
    # for an agency. True refuses them; only sealed files and gateways are read.
    sealed_feeds_only: bool = False
    gateway_page_size: int = Field(default=1000, ge=1, le=10_000)
    max_clock_skew_seconds: int = Field(default=300, gt=0)
    gateway_retry_attempts: int = Field(default=DEFAULT_GATEWAY_RETRY_ATTEMPTS, ge=1)
    gateway_retry_base_seconds: float = Field(
        default=DEFAULT_GATEWAY_RETRY_BASE_SECONDS, ge=0, allow_inf_nan=False
    )
    gateway_retry_max_seconds: float = Field(
        default=DEFAULT_GATEWAY_RETRY_MAX_SECONDS, ge=0, allow_inf_nan=False
    )

    def gateway_credentials(self, agency: str) -> tuple[str, SecretStr | None]:
        """The client id and secret the hub presents to `agency`'s gateway.

        Each falls back on its own to the shared one when the agency's is not
        given (empty counts as not given); no secret at all is None.
        """
        own_id, own_secret = {
            "probation": (self.probation_gateway_client_id, self.probation_gateway_client_secret),
            "police": (self.police_gateway_client_id, self.police_gateway_client_secret),
        }.get(agency, (None, None))
        secret = own_secret if _given(own_secret) else self.gateway_client_secret
        return own_id or self.gateway_client_id, secret if _given(secret) else None

    @field_validator("*", mode="before")
    @classmethod
    def _no_true_or_false_for_a_number(cls, value: object, info: ValidationInfo) -> object:
        """Refuse true or false where a number goes, rather than read it as 1 or 0."""
        field = None if info.field_name is None else cls.model_fields[info.field_name]
        if isinstance(value, bool) and field is not None and _holds_a_number(field.annotation):
            raise ValueError("it must be a number, not true or false")
        return value

    @field_validator(
        "keys_dir", "at_rest_key_file", "policy_file", "gateway_ca_bundle", mode="before"
    )
    @classmethod
    def _an_empty_path_is_none(cls, value: object) -> object:
        return blank_is_unset(value)

    @field_validator("default_training_date", mode="before")
    @classmethod
    def _a_plain_date(cls, value: object) -> object:
        return plain_date(value)

    @field_validator("training_dates", mode="before")
    @classmethod
    def _areas_and_plain_dates(cls, dates: object) -> object:
        if not isinstance(dates, dict):
            return dates
        for area in dates:
            _check_area_code(str(area))
        return {area: plain_date(day) for area, day in dates.items()}

    @field_validator("training_dates")
    @classmethod
    def _one_date_per_area(cls, dates: dict[str, date]) -> dict[str, date]:
        by_area: dict[str, date] = {}
        for area, day in dates.items():
            key = area_key(area)
            if by_area.setdefault(key, day) != day:
                raise ValueError(f"area {key} is given two different training dates")
        return by_area

    @field_validator("report_marking")
    @classmethod
    def _a_short_plain_marking(cls, marking: str) -> str:
        marking = marking.strip()
        if len(marking) > MAX_REPORT_MARKING_LENGTH or not marking.isprintable():
            raise ValueError(
                f"it must be at most {MAX_REPORT_MARKING_LENGTH} characters of plain text "
                "on one line, such as OFFICIAL-SENSITIVE"
            )
        return marking

    @field_validator("policy_file")
    @classmethod
    def _a_usable_policy_file(cls, path: Path | None) -> Path | None:
        if path is not None:
            from sync.policy_file import load_policy_file

            load_policy_file(path)  # refused here, in one sentence, before any work
        return path

    @field_validator("gateway_ca_bundle")
    @classmethod
    def _an_existing_bundle(cls, bundle: Path | None) -> Path | None:
        if bundle is not None and not bundle.exists():
            raise ValueError(f"there is no file or folder {bundle}")
        if bundle is not None and bundle.is_file() and not _holds_a_certificate(bundle):
            raise ValueError(f"{bundle} holds no certificate in PEM form")
        return bundle

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values first, then the environment, then the TOML file given to `load`."""
        return (init_settings, env_settings)


def read_toml(path: Path) -> dict[str, Any]:
    """The `[arms_sync]` table (or the whole file) of a settings file.

    Beside an `[arms_sync]` table nothing else may stand: a setting written
    outside it would otherwise be ignored without a word.
    """
    return _settings_table(path, read_toml_file(path, "settings file"))


def read_toml_file(path: Path, what: str) -> dict[str, Any]:
    """A TOML file's content; one sentence naming `what` and the path when it cannot be read.

    The file is UTF-8 (a byte-order mark, as some editors write, is allowed).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise ConfigurationError(f"The {what} {path} does not exist.") from error
    except IsADirectoryError as error:
        raise ConfigurationError(f"The {what} {path} is a folder.") from error
    except OSError as error:
        raise ConfigurationError(f"The {what} {path} cannot be read.") from error
    try:
        text = raw.removeprefix(UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigurationError(f"The {what} {path} is not UTF-8 text.") from error
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(
            f"The {what} {path} is not valid TOML{_toml_place(error)}."
        ) from error


def _toml_place(error: tomllib.TOMLDecodeError) -> str:
    """` at line 3, column 14` (or ` at end of document`) where tomllib says; else ""."""
    found = TOML_PLACE.search(str(error))
    return f" {found.group(1)}" if found else ""


def _settings_table(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """The file's `[arms_sync]` table, or the whole file when it has none."""
    if "arms_sync" not in data:
        return data
    table = data["arms_sync"]
    if not isinstance(table, dict):
        raise ConfigurationError(
            f"The settings file {path} has an arms_sync entry that is not a table."
        )
    outside = sorted(key for key in data if key != "arms_sync")
    if outside:
        raise ConfigurationError(
            f"The settings file {path} names {outside[0]} outside its [arms_sync] table, "
            "where it would be ignored; move it into the table."
        )
    return dict(table)


def _given(secret: SecretStr | None) -> bool:
    """Whether a secret was given at all: an empty one counts as none."""
    return secret is not None and bool(secret.get_secret_value())


SECRET_SETTINGS = frozenset(
    name for name, field in Settings.model_fields.items() if SecretStr in get_args(field.annotation)
)


def blank_is_unset(value: object) -> object:
    """A path given empty or blank (`ARMS_SYNC_KEYS_DIR=`) as no path, as the commands'
    options read it, never as the working folder."""
    return None if isinstance(value, str) and not value.strip() else value


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from a TOML file, the environment and explicit overrides (highest).

    A refusal names where the bad value came from: the `ARMS_SYNC_` variable,
    the settings file and its key, or the setting itself for an explicit value.
    """
    from_file = read_toml(config_file) if config_file is not None else {}
    _refuse_secrets_in_file(from_file)
    from_env = _from_environment()
    given = given_values(overrides)
    in_force = {**from_file, **from_env, **given}
    sources = {
        **dict.fromkeys(from_file, FROM_FILE),
        **dict.fromkeys(from_env, FROM_ENV),
        **dict.fromkeys(given, GIVEN),
    }
    if config_file is not None:
        _refuse_unknown_keys(config_file, from_file)
        _refuse_misread_types(config_file, _from(FROM_FILE, in_force, sources))
    try:
        return Settings(**in_force)
    except ValidationError as error:
        raise invalid_setting(error, named_by_source(sources, config_file)) from error


def _from(source: str, values: dict[str, Any], sources: dict[str, str]) -> dict[str, Any]:
    """The values in force that `source` gave."""
    return {key: value for key, value in values.items() if sources[key] == source}


def _from_environment() -> dict[str, Any]:
    """The settings the `ARMS_SYNC_` variables give, checked and named as variables."""
    try:
        env_only = Settings()
    except ValidationError as error:
        raise invalid_setting(error, variable_named) from error
    except SettingsError as error:
        raise unreadable_setting(error) from error
    return {name: getattr(env_only, name) for name in env_only.model_fields_set}


def _refuse_secrets_in_file(from_file: dict[str, Any]) -> None:
    """Refuse a settings file holding a secret: files are copied, shared and committed."""
    secrets = sorted(SECRET_SETTINGS & set(from_file))
    if secrets:
        raise ConfigurationError(
            f"The settings file holds the secret {secrets[0]}; secrets belong in the "
            f"environment only (ARMS_SYNC_{secrets[0].upper()})."
        )


def _refuse_unknown_keys(path: Path, from_file: dict[str, Any]) -> None:
    """Refuse a key no setting reads (misspelt, or a worker's), suggesting one spelt alike.

    A secret may be suggested too: the file is then refused for holding it, which
    says where it goes.
    """
    unknown = sorted(set(from_file) - set(Settings.model_fields))
    if unknown:
        meant = did_you_mean(unknown[0], Settings.model_fields)
        raise ConfigurationError(
            f"The settings file {path} names {unknown[0]}, which it cannot hold{meant}: "
            "the example settings file in arms-sync's source, config/arms-sync.example.toml, "
            "lists what it can, and the background "
            "workers' own settings are ARMS_SYNC_ environment variables only."
        )


def _refuse_misread_types(path: Path, from_file: dict[str, Any]) -> None:
    """Refuse a file's switch that is not `true` or `false`, or number that is not a number.

    TOML has types: `"yes"` or `1` for a switch, or `"180"` for a number, is a slip
    that would otherwise be read as something else. (Dates are checked by
    `plain_date`; text and paths are not taken from numbers or switches anyway.)
    """
    for key, value in from_file.items():
        kind = FILE_KINDS.get(_kinds(Settings.model_fields[key].annotation))
        if kind is not None and not _of_kind(value, kind[0]):
            raise ConfigurationError(f"Setting {_file_key_named(path, key)} is invalid: {kind[1]}.")


def _of_kind(value: object, accepted: tuple[type, ...]) -> bool:
    """Whether `value` is one of the `accepted` types; true or false is no number."""
    return isinstance(value, accepted) and (bool in accepted or not isinstance(value, bool))


def named_by_source(
    sources: dict[str, str], path: Path | None = None, otherwise: str = GIVEN
) -> Namer:
    """How a refusal names a setting: its variable when the environment gave it, the
    settings file's key when the file did, else (given explicitly) the setting. A
    setting `sources` does not hold came from `otherwise`."""

    def named(where: str) -> str:
        source = sources.get(where.partition(".")[0], otherwise)
        if source == FROM_ENV:
            return variable_named(where)
        return _file_key_named(path, where) if source == FROM_FILE else where

    return named


def variable_named(where: str) -> str:
    """The `ARMS_SYNC_` variable of a setting: `ARMS_SYNC_TRAINING_DATES at NW` for a
    part of one (`training_dates.NW`)."""
    field, _, part = where.partition(".")
    variable = f"{VARIABLE_PREFIX}{field.upper()}"
    return f"{variable} at {part}" if part else variable


def _file_key_named(path: Path | None, where: str) -> str:
    """A settings file's key, and the file."""
    return f"{where} in the settings file {path}"


def invalid_setting(error: ValidationError, named: Namer = str) -> ConfigurationError:
    """One clear error naming the first invalid setting (as `named` calls it) and why,
    in a plain instruction where there is one; never the value given."""
    field, kind, reason = first_problem(error)
    if not field:  # a rule between settings: its reason names them
        return ConfigurationError(f"{reason}.")
    instruction = INSTRUCTIONS.get(kind, reason)
    return ConfigurationError(f"Setting {named(field)} is invalid: {instruction}.")


def first_problem(error: ValidationError) -> tuple[str, str, str]:
    """Where the first problem of a validation lies (dotted), its kind and why; never the
    value given, so a message built from it repeats no personal data or secret."""
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return where, first["type"], first["msg"].removeprefix("Value error, ")


def unreadable_setting(error: SettingsError) -> ConfigurationError:
    """One clear error naming an environment setting whose text cannot be parsed at all
    (a list or table that is not JSON), never the value given."""
    found = _SETTINGS_ERROR_FIELD.search(str(error))
    name = variable_named(found.group(1)) if found else "an ARMS_SYNC_ variable"
    return ConfigurationError(f"Setting {name} cannot be read: a list or table must be JSON.")


_SETTINGS_ERROR_FIELD = re.compile(r'field "([a-z_]+)"')


def given_values(values: dict[str, Any]) -> dict[str, Any]:
    """The values actually given: None stands for "not given" and is left out."""
    return {key: value for key, value in values.items() if value is not None}


def _holds_a_certificate(bundle: Path) -> bool:
    """Whether a CA bundle file loads as TLS trust anchors (one certificate in PEM at least)."""
    try:
        ssl.create_default_context(cafile=bundle)
    except (ssl.SSLError, OSError):
        return False
    return True
