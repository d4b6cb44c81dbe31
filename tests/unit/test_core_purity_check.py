"""The pure-core check (`scripts/check_core_imports.py`) finds what it is there to find."""

from __future__ import annotations

import pytest

from scripts.check_core_imports import main, offending_lines


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("from ..ledger import schema\n", "relative import from ..ledger"),
        ("from . import records\n", "relative import from ."),
        ("from sync.ledger import schema\n", "imports sync.ledger"),
        ("import sync.cli.main\n", "imports sync.cli.main"),
        ("import sqlite3\n", "imports sqlite3"),
        ("import os.path\n", "imports os.path"),
        ("from time import monotonic\n", "imports time"),
        ("import random\n", "imports random"),
        ("from logging import getLogger\n", "imports logging"),
        ("import requests\n", "imports requests"),
        ("def f():\n    return open('x').read()\n", "calls open()"),
        ("def f():\n    print('x')\n", "calls print()"),
    ],
)
def test_each_way_out_of_the_core_is_named_with_its_line(source: str, problem: str) -> None:
    assert offending_lines(source, "sync/core/example.py") == [
        f"sync/core/example.py:{source.count(chr(10))}: {problem}"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations\n",
        "from datetime import date\n",
        "from collections.abc import Mapping\n",
        "import re\n",
        "from sync.core.records import Person\n",
        "import sync.core.policy\n",
        "from rapidfuzz.distance import JaroWinkler\n",
    ],
)
def test_pure_imports_pass(source: str) -> None:
    assert offending_lines(source, "sync/core/example.py") == []


def test_the_core_as_it_is_passes() -> None:
    assert main() == 0
