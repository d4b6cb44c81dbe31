"""`python -m sync.cli` runs the `arms-sync` command line."""

from sync.cli.main import main

main()
