"""The project's exception tree, in one place.

    ArmsSyncError                 base of everything arms-sync raises on purpose
    ├── UsageError                bad options, configuration or unreadable input (exit 2)
    │   ├── ConfigurationError    a settings file or environment value is wrong
    │   └── InputRefused          a feed or envelope refused as a whole (tampered, misaddressed…)
    ├── CryptoError               an envelope or key failed a check
    │   ├── EnvelopeRejected      integrity, origin, addressing, replay or clock-skew failure
    │   │   └── EnvelopeOutsideSkewWindow  sealed too far from now (code `stale_envelope`)
    │   └── KeyError_             a key is unknown, revoked or past its grace period
    ├── GatewayError              talking to an agency gateway failed
    │   ├── RetryableGatewayError timeouts, dropped connections, 429/5xx: try again later
    │   │   └── RetryAfterError   the gateway asked for a wait (`Retry-After`): not sooner
    │   └── PermanentGatewayError 4xx other than 429, bad receipts: do not retry as is
    │       ├── StaleEnvelopeError  sealed outside the gateway's clock-skew window: seal again
    │       └── EnvelopeRefusedError  the envelope refused and not stored (`envelope_rejected`)
    ├── LedgerError               the ledger is unreachable or inconsistent
    │   └── StalePass             a prepared decision pass no longer fits the ledger: decide afresh
    └── AuditError                the audit log cannot be written or fails verification

Messages are one sentence for a person to read and never carry personal data
(names, dates of birth, PNC or CRO numbers): name the field and the rule, not
the value.
"""

from __future__ import annotations

# The stable code of a clock-skew refusal: in the gateway's error replies and on both errors.
STALE_ENVELOPE_CODE = "stale_envelope"
# The stable code of a gateway's refusal of an envelope it did not store (format, origin, keys).
ENVELOPE_REJECTED_CODE = "envelope_rejected"


class ArmsSyncError(Exception):
    """Base of every error arms-sync raises on purpose."""

    exit_code = 1


class Interrupted(ArmsSyncError):
    """The operator interrupted a command (Ctrl-C); the message says what goes on."""

    exit_code = 130  # 128 + SIGINT, as shells report an interrupted command


class UsageError(ArmsSyncError):
    """Bad usage, configuration or unreadable input."""

    exit_code = 2


class ConfigurationError(UsageError):
    """A settings file or environment value is wrong."""


class InputRefused(UsageError):
    """A feed or envelope is refused as a whole; nothing from it is applied."""


class CryptoError(ArmsSyncError):
    """An envelope or key failed a check."""

    exit_code = 2


class EnvelopeRejected(CryptoError):
    """An envelope failed integrity, origin, addressing, replay or clock checks."""


class EnvelopeOutsideSkewWindow(EnvelopeRejected):
    """An envelope sealed further from now than the allowed clock skew: seal it again."""

    code = STALE_ENVELOPE_CODE


class KeyError_(CryptoError):  # noqa: N801 - avoids shadowing the builtin KeyError
    """A key is unknown, revoked, or past its grace period."""


class GatewayError(ArmsSyncError):
    """Talking to an agency gateway failed."""


class RetryableGatewayError(GatewayError):
    """A transient gateway failure worth retrying later."""


class RetryAfterError(RetryableGatewayError):
    """The gateway asked for a wait (`Retry-After`) before it is called again.

    `retry_after` is that wait in seconds: the caller tries again no sooner.
    """

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[type[RetryAfterError], tuple[str, float]]:
        return type(self), (str(self), self.retry_after)


class PermanentGatewayError(GatewayError):
    """A gateway failure that retrying as is will not fix."""


class GatewayTLSError(PermanentGatewayError):
    """The TLS connection to a gateway failed: its certificate did not pass the hub's
    checks, or the hub's CA bundle could not be used."""


class StaleEnvelopeError(PermanentGatewayError):
    """The gateway refused an envelope sealed outside its clock-skew window."""

    code = STALE_ENVELOPE_CODE


class EnvelopeRefusedError(PermanentGatewayError):
    """The gateway refused an envelope it did not store (its format, origin or keys)."""

    code = ENVELOPE_REJECTED_CODE


class LedgerError(ArmsSyncError):
    """The ledger is unreachable or inconsistent."""


class StalePass(LedgerError):
    """A decision pass computed earlier no longer fits the ledger; nothing of it was stored."""


class AuditError(ArmsSyncError):
    """The audit log cannot be written, or fails verification."""
