"""Project scripts, run as files (`python scripts/NAME.py`); importable for their tests."""
