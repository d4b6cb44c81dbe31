"""Reading the ownership policy's versions from a TOML file (`policy_file`).

The policy is data with a version id (`ownership-policy.md`, "Versioning"):
each version names, in order, the rules of `sync/core/rules.py` with the owner
each gives, and the roll-out test's months; it is in force from its effective
date until the next version's. `config/policy.toml` holds the first version,
`pi-15-2015`, as the built-in policy has it. A file that cannot be used is
refused in one sentence naming the version and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from sync.core.policy import PolicySettings, PolicyVersion
from sync.core.records import Owner
from sync.core.rules import PLANNED_LENGTH_MONTHS, ROLLOUT_OFFSET_MONTHS
from sync.errors import ConfigurationError
from sync.settings import first_problem, plain_date, read_toml_file

DIGEST_CHARS = 16


class RuleEntry(BaseModel):
    """One rule of a version, in evaluation order, and the owner it gives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    owner: Owner


class VersionEntry(BaseModel):
    """One policy version as the file holds it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    effective_from: date | None = None
    rollout_offset_months: StrictInt = Field(default=ROLLOUT_OFFSET_MONTHS, ge=0)
    planned_length_months: StrictInt = Field(default=PLANNED_LENGTH_MONTHS, ge=1)
    rules: tuple[RuleEntry, ...] = Field(min_length=1)

    @field_validator("effective_from", mode="before")
    @classmethod
    def _a_plain_date(cls, value: object) -> object:
        return None if value is None else plain_date(value)


class PolicyFile(BaseModel):
    """The whole file: its versions, oldest first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: tuple[VersionEntry, ...] = Field(min_length=1)


def load_policy_file(path: Path) -> tuple[PolicyVersion, ...]:
    """The policy versions of a TOML file, checked as the policy engine needs them."""
    entries = _read(path).version
    ids = [entry.id for entry in entries]
    repeated = next((id_ for id_ in ids if ids.count(id_) > 1), None)
    if repeated is not None:
        raise ConfigurationError(f"The policy file {path} has two versions {repeated}.")
    versions = tuple(_version(path, entry) for entry in entries)
    try:
        PolicySettings(policies=versions)
    except ValueError as error:
        raise ConfigurationError(f"The policy file {path} cannot be used: {error}.") from error
    return versions


def _read(path: Path) -> PolicyFile:
    """The file's content, validated; one sentence when it cannot be read or used."""
    data = read_toml_file(path, "policy file")
    try:
        return PolicyFile.model_validate(data)
    except ValidationError as error:
        where, _kind, reason = first_problem(error)
        raise ConfigurationError(
            f"The policy file {path} is invalid at {where}: {reason}."
        ) from error


def _version(path: Path, entry: VersionEntry) -> PolicyVersion:
    """A policy version from its entry; one sentence naming it when it cannot be one."""
    try:
        return PolicyVersion(
            id=entry.id,
            effective_from=entry.effective_from,
            rules=tuple((item.rule, item.owner) for item in entry.rules),
            rollout_offset_months=entry.rollout_offset_months,
            planned_length_months=entry.planned_length_months,
        )
    except ValueError as error:
        raise ConfigurationError(f"The policy file {path} cannot be used: {error}.") from error


def version_digest(version: PolicyVersion) -> str:
    """A short digest of what a version decides by: its date, rules in order and months.

    A run records it beside the version's id, so a version edited under an id
    already used (which would relabel past decisions) can be told and refused.
    """
    content = {
        "effective_from": None if version.effective_from is None else str(version.effective_from),
        "rules": [[rule, str(owner)] for rule, owner in version.rules],
        "rollout_offset_months": version.rollout_offset_months,
        "planned_length_months": version.planned_length_months,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:DIGEST_CHARS]


def require_same_versions(
    policies: tuple[PolicyVersion, ...], recorded: list[dict[str, object]]
) -> None:
    """Refuse a version whose id a run recorded with another digest (its content changed)."""
    known = {str(entry.get("id")): entry.get("digest") for entry in recorded}
    for version in policies:
        before = known.get(version.id)
        if before is not None and before != version_digest(version):
            raise ConfigurationError(
                f"Policy version {version.id} is not the one earlier runs decided under (its "
                "rules, months or date differ); give the changed policy a new id and an "
                "effective date, or restore the version as it was."
            )
