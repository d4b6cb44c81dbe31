"""A cycle's deliver stage tries its agency's waiting batches at once, back-off or not.

The delivery beat waits for a failed batch's retry time; the pass a cycle
makes right after its commit does not, so a gateway back up is given every
waiting batch by the next cycle, against a real gateway process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sync.app import App
from sync.delivery import deliver_to
from sync.distributed.stages import execute
from tests.e2e import test_deliver_stage as deliver_stage
from tests.e2e import test_workers as shared
from tests.e2e.test_deliver_stage import (
    AGENCY,
    RULES,
    batches,
    closed_port_url,
    run_until_deliver,
    task_result,
)
from tests.integration.gateway_process import RunningGateway

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

small_feeds = shared.small_feeds
close_apps = shared.close_apps
keys = deliver_stage.keys
gateway = deliver_stage.gateway
hub = deliver_stage.hub


def test_the_deliver_stage_sends_batches_still_in_their_back_off(
    hub: Callable[..., App], gateway: RunningGateway, small_feeds: Path
) -> None:
    """A beat pass failed just before: its batch waits for its retry time, the stage does not."""
    app = hub()
    _cycle_id, deliver = run_until_deliver(app, small_feeds, gateway.url)
    waiting = batches(app, delivered=False)
    assert waiting > 0
    failed = deliver_to(app, AGENCY, closed_port_url())
    assert failed is not None
    assert failed["failed"] == 1
    early = deliver_to(app, AGENCY, gateway.url)  # the beat keeps to the back-off
    assert early is not None
    assert early["delivered"] == 0

    assert execute(app, RULES, deliver, "test") == []
    result = task_result(app, deliver)
    assert result is not None
    assert (result["delivered"], result["pending"]) == (waiting, 0)
    assert batches(app, delivered=False) == 0
