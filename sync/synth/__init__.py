"""Deterministic synthetic agency feeds, with the truth they were built from.

`write_synthetic_feeds(out_dir, SynthOptions(subjects, seed, noise, today))`
writes `probation.jsonl`, `police.jsonl` (feed v1) and `truth.jsonl` (one line
per real person: every person record of that person in both agencies, the case
kind, notable events and the noise applied). The same options always give
byte-identical files. `iter_feed_records` streams the same records without
writing them. Names, numbers and areas are invented: no real person's data.
"""

from __future__ import annotations

from sync.synth.options import DEFAULT_TODAY, NoiseKind, SynthOptions, SynthSummary
from sync.synth.stream import iter_feed_records, iter_subjects, write_synthetic_feeds

__all__ = [
    "DEFAULT_TODAY",
    "NoiseKind",
    "SynthOptions",
    "SynthSummary",
    "iter_feed_records",
    "iter_subjects",
    "write_synthetic_feeds",
]
