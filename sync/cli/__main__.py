"""`python -m sync.cli` runs the `arms-sync` command line."""

from sync.cli.main import main

# Guarded: worker processes (feed validation) import the main module again.
if __name__ == "__main__":
    main()
