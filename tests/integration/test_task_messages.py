"""The task messages the workers' broker carries: ids only, on the right queue, on real Redis.

A message names its task (`arms_sync.<kind>`) and carries the cycle id and
the agency or batch number, nothing else; deliveries go on the delivery
queue. A broker that cannot take them is told by the count of messages sent.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import redis

from sync.distributed.work import TaskRef
from tests.e2e import test_workers as shared
from workers.app import create_app, send
from workers.settings import WorkerSettings

pytestmark = pytest.mark.integration

broker = shared.broker
UNREACHABLE_BROKER = shared.UNREACHABLE_BROKER
MAIN, DELIVERY = "arms-sync", "arms-sync-delivery"


def waiting(broker_url: str, queue: str) -> list[tuple[str, list[Any]]]:
    """Each message waiting in `queue`: its task name and its positional arguments."""
    client = redis.Redis.from_url(broker_url)
    found = []
    for raw in reversed(client.lrange(queue, 0, -1)):  # oldest first
        message = json.loads(raw)
        args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        assert kwargs == {}
        found.append((message["headers"]["task"], args))
    return found


def test_each_task_message_names_its_task_and_carries_ids_only(broker: str) -> None:
    """Stage tasks wait on the main queue, deliveries on theirs; arguments are ids."""
    app = create_app(WorkerSettings(broker_url=broker))
    refs = [
        TaskRef("ingest", 7, "police"),
        TaskRef("link", 7),
        TaskRef("decide", 7, "3"),
        TaskRef("deliver", 7, "probation"),
    ]
    assert send(app, refs) == len(refs)
    assert waiting(broker, MAIN) == [
        ("arms_sync.ingest", [7, "police"]),
        ("arms_sync.link", [7, ""]),
        ("arms_sync.decide", [7, "3"]),
    ]
    assert waiting(broker, DELIVERY) == [("arms_sync.deliver", [7, "probation"])]


def test_a_broker_that_cannot_take_the_messages_is_told_by_none_sent() -> None:
    """The ledger keeps them owed; the count lets the caller say they were not queued."""
    app = create_app(WorkerSettings(broker_url=UNREACHABLE_BROKER))
    assert send(app, [TaskRef("ingest", 7, "police"), TaskRef("ingest", 7, "probation")]) == 0
