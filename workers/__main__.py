"""`python -m workers worker|beat [celery options]`: Celery for `create_app()` from the environment.

The same application `arms-sync worker` and `arms-sync beat` run, for
container entry points and process supervisors that call Celery directly.
"""

from __future__ import annotations

import sys

from workers.app import create_app


def main(argv: list[str]) -> None:
    """Run a Celery subcommand (`worker`, `beat`, `inspect`, …) for the deployment's app."""
    create_app().start(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
