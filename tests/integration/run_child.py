"""A process that starts an in-process run and stalls in it, for the interrupted-run tests.

`python -m tests.integration.run_child LEDGER_URL` runs `run_cycle` over one
feed source that, once the run is recorded, prints `in flight` and sleeps. The
test kills it with SIGKILL, or lets it live, while it waits. `start_child`
starts one and waits for that line.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sync.app import App
from sync.crypto.replay import ReplayGuard
from sync.cycle import run_cycle
from sync.feeds.models import FeedContext
from sync.ingest import Unit
from sync.settings import load_settings

IN_FLIGHT = "in flight"
STALL_SECONDS = 600.0
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
AS_OF = date(2026, 11, 28)
REPO = Path(__file__).resolve().parents[2]


class StalledSource:
    """A feed file that never finishes reading: the run stays in flight."""

    name = "stalled.jsonl"
    live = False
    sealed = False

    def units(self, context: FeedContext, guard: ReplayGuard) -> Iterator[Unit]:
        """Say the run is in flight, then wait to be killed."""
        print(IN_FLIGHT, flush=True)
        time.sleep(STALL_SECONDS)
        yield from ()


@dataclass
class RunChild:
    """A child process with a run in flight."""

    process: subprocess.Popen[str]

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a power cut would end it, and reap it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self.close()

    def close(self) -> None:
        """Kill it if it still runs, and close its pipe."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_child(ledger_url: str) -> RunChild:
    """Start a child on the ledger and wait until its run is in flight."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.run_child", ledger_url],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    child = RunChild(process)
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(START_TIMEOUT_SECONDS)
    line = process.stdout.readline().strip() if ready else ""
    if line != IN_FLIGHT:
        child.close()
        raise AssertionError(f"the child's run never got in flight (said {line!r})")
    return child


def main(ledger_url: str) -> None:
    """Run a cycle that stalls in its first feed."""
    app = App(load_settings(database_url=ledger_url, validation_processes=0))
    run_cycle(app, {"probation": StalledSource()}, AS_OF)


if __name__ == "__main__":
    main(sys.argv[1])
