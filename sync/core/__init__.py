"""The pure core: records, identifiers, linking, policy, duplicate rules. No I/O here."""
