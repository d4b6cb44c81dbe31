"""Deterministic synthetic agency feeds, with the truth they were built from.

`sync.synth.stream.write_synthetic_feeds(out_dir, SynthOptions(subjects, seed,
noise, today))` writes `probation.jsonl`, `police.jsonl` (feed v1) and
`truth.jsonl` (one line per real person: every person record of that person in
both agencies, the case kind, notable events and the noise applied). The same
options (`sync.synth.options`) always give byte-identical files.
`iter_feed_records` streams the same records without writing them. Names,
numbers and areas are invented: no real person's data.

The package itself imports nothing, so a command that needs only the options
(`run`'s default dates) does not build the generator's vocabulary.
"""
