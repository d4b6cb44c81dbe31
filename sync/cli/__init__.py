"""The `arms-sync` command line: one console script, subcommands per task."""

from sync.cli.main import main

__all__ = ["main"]
