"""The audit log required by Part 3 of the Data Protection Act 2018 (s.62).

Every collection, alteration, consultation, disclosure, combination and erasure
is appended to a hash-chained, append-only log of metadata (time, actor,
purpose, recipient, record references), never personal data. `chain` holds the
pure hashing and verification, `log` the `AuditLog` that writes and reads it,
`tables` its tables, and `pipeline_hooks` the calls the sync pipeline makes.
"""
