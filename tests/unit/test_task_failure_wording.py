"""How a worker's log tells a failed task's error: the product's sentences, others by class only."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from sync.distributed.stages import told
from sync.errors import ConfigurationError, RetryableGatewayError

PERSONAL = "QUILLFEATHER 1961/0000001A"


def test_an_error_of_the_product_is_told_with_its_sentence() -> None:
    """Its sentence names files, settings or agencies, and helps the operator."""
    error = ConfigurationError("The police gateway URL is not https.")
    assert told(error) == "ConfigurationError: The police gateway URL is not https"
    gateway = RetryableGatewayError("The police gateway did not answer.")
    assert told(gateway) == "RetryableGatewayError: The police gateway did not answer"


def test_any_other_error_is_told_by_its_class_alone() -> None:
    """A library's message can quote the values it was given: it is never logged."""
    assert told(ValueError(f"bad value {PERSONAL}")) == "ValueError"
    database = IntegrityError("INSERT …", {"name": PERSONAL}, Exception(PERSONAL))
    assert told(database) == "IntegrityError"
