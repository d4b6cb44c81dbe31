"""Bulk work with the cyclic garbage collector paused (a process-level setting, no I/O).

A national cycle allocates millions of small, long-lived, acyclic objects
(validated records, references, segments). CPython's cyclic collector would
traverse them again and again as they survive each generation, which costs a
fifth or more of a run and frees nothing. Reference counting still frees every
acyclic object as usual; the collector runs again when the bulk work ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_garbage_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block; restore it as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
