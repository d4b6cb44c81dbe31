"""The background deployment's settings: broker, ledger, queues, concurrency, schedule, limits.

Read from `ARMS_SYNC_*` environment variables (pydantic-settings), e.g.
`ARMS_SYNC_BROKER_URL`, `ARMS_SYNC_DATABASE_URL`, `ARMS_SYNC_CONCURRENCY`.
The service's own settings (keys, policy dates, report folder) stay in
`sync.settings` and are loaded alongside through `app_settings`.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sync.distributed.work import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_DISPATCH_GRACE_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    CycleRules,
)
from sync.settings import (
    DEFAULT_DATABASE_URL,
    FROM_ENV,
    GIVEN,
    Settings,
    blank_is_unset,
    given_values,
    invalid_setting,
    load_settings,
    named_by_source,
)

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "arms-sync"
DEFAULT_DELIVERY_QUEUE = "arms-sync-delivery"
DEFAULT_CONCURRENCY = 2
DEFAULT_LONGEST_TASK_SECONDS = 3_600
DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 2 * DEFAULT_LONGEST_TASK_SECONDS
DEFAULT_PULL_INTERVAL_SECONDS = 900.0
DEFAULT_DELIVERY_INTERVAL_SECONDS = 300.0
DEFAULT_DISPATCH_INTERVAL_SECONDS = 60.0
DEFAULT_NIGHTLY_REPORT_TIME = time(2, 0)
STALE_FACTOR = 3


class WorkerSettings(BaseSettings):
    """Everything a worker, beat or the distributed `run` needs besides the service settings."""

    model_config = SettingsConfigDict(
        env_prefix="ARMS_SYNC_", extra="ignore", frozen=True, allow_inf_nan=False
    )

    broker_url: str = DEFAULT_BROKER_URL
    database_url: str = DEFAULT_DATABASE_URL
    config: Path | None = None
    queue: str = DEFAULT_QUEUE
    delivery_queue: str = DEFAULT_DELIVERY_QUEUE
    concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1)
    longest_task_seconds: int = Field(default=DEFAULT_LONGEST_TASK_SECONDS, gt=0)
    visibility_timeout_seconds: int = Field(default=DEFAULT_VISIBILITY_TIMEOUT_SECONDS, gt=0)
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1)
    dispatch_grace_seconds: float = Field(default=DEFAULT_DISPATCH_GRACE_SECONDS, gt=0)
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1)
    probation_feed: str | None = None
    police_feed: str | None = None
    probation_gateway: str | None = None
    police_gateway: str | None = None
    pull_interval_seconds: float = Field(default=DEFAULT_PULL_INTERVAL_SECONDS, gt=0)
    delivery_interval_seconds: float = Field(default=DEFAULT_DELIVERY_INTERVAL_SECONDS, gt=0)
    dispatch_interval_seconds: float = Field(default=DEFAULT_DISPATCH_INTERVAL_SECONDS, gt=0)
    nightly_report_time: time = DEFAULT_NIGHTLY_REPORT_TIME

    @field_validator("config", mode="before")
    @classmethod
    def _an_empty_path_is_none(cls, value: object) -> object:
        return blank_is_unset(value)

    @model_validator(mode="after")
    def _visibility_above_longest_task(self) -> WorkerSettings:
        """Redis must never hand a task to a second worker while the first still runs it."""
        if self.visibility_timeout_seconds <= self.longest_task_seconds:
            raise ValueError(
                "ARMS_SYNC_VISIBILITY_TIMEOUT_SECONDS must be above "
                "ARMS_SYNC_LONGEST_TASK_SECONDS, or Redis hands a running task to a second worker"
            )
        return self

    @model_validator(mode="after")
    def _one_feed_per_agency(self) -> WorkerSettings:
        """A feed holds one agency's records: one feed given for both agencies is a mistake."""
        if self.probation_feed and self.probation_feed == self.police_feed:
            raise ValueError(
                "ARMS_SYNC_PROBATION_FEED and ARMS_SYNC_POLICE_FEED name the same feed; "
                "give each agency's own"
            )
        return self

    @property
    def rules(self) -> CycleRules:
        """The cycle rules these settings give."""
        return CycleRules(self.max_attempts, self.dispatch_grace_seconds, self.batch_size)

    def feeds(self) -> dict[str, str]:
        """The configured feed per agency (a file on a shared volume or a gateway URL)."""
        found = {"probation": self.probation_feed, "police": self.police_feed}
        return {agency: spec for agency, spec in found.items() if spec}

    def gateways(self) -> dict[str, str]:
        """The gateway each agency's notices are delivered to."""
        found = {"probation": self.probation_gateway, "police": self.police_gateway}
        return {agency: url for agency, url in found.items() if url}

    @property
    def stale_pull_seconds(self) -> float:
        """A pull older than this is stale."""
        return STALE_FACTOR * self.pull_interval_seconds

    @property
    def stale_delivery_seconds(self) -> float:
        """An undelivered outbox batch older than this is stale."""
        return STALE_FACTOR * self.delivery_interval_seconds


def load_worker_settings(**overrides: Any) -> WorkerSettings:
    """Worker settings from the environment and explicit values, as one clear error if wrong.

    The error names a value from the environment by its variable (`ARMS_SYNC_CONCURRENCY`).
    """
    given = given_values(overrides)
    try:
        return WorkerSettings(**given)
    except ValidationError as error:
        # A worker setting not given explicitly came from its variable.
        sources = dict.fromkeys(given, GIVEN)
        raise invalid_setting(error, named_by_source(sources, otherwise=FROM_ENV)) from error


def app_settings(settings: WorkerSettings) -> Settings:
    """The service settings for the same deployment (same ledger)."""
    explicit = settings.database_url if "database_url" in settings.model_fields_set else None
    return load_settings(settings.config, database_url=explicit)
