"""Cryptographic adapters: key rings, sealed envelopes, sealed files, at-rest protection.

The public API, re-exported here:

- keys on disk: `generate_party`, `rotate`, `revoke`, `list_keys`, `load_keyring`,
  `load_data_key`; values `Party`, `KeyInfo`, `KeyRing`, `KeyStatus`, `KeyUse`;
- envelopes: `seal`, `open_envelope`, `verify_outer`, `looks_like_envelope`,
  `Opened`, `Header`, `ReplayGuard`, `ReplayVerdict`, `InMemoryReplayGuard`;
- sealed files: `seal_lines`, `open_lines`;
- at rest: `DataKey`, `FieldCipher`.
"""

from sync.crypto.at_rest import DataKey, FieldCipher
from sync.crypto.envelope import Opened, looks_like_envelope, open_envelope, seal, verify_outer
from sync.crypto.header import CONTENT_TYPE_FEED, CONTENT_TYPE_NOTICES, Header
from sync.crypto.keyring import (
    generate_party,
    list_keys,
    load_data_key,
    load_keyring,
    revoke,
    rotate,
)
from sync.crypto.keys import KeyInfo, KeyRing, KeyStatus, KeyUse, Party
from sync.crypto.replay import InMemoryReplayGuard, ReplayGuard, ReplayVerdict
from sync.crypto.sealed_file import open_lines, seal_lines

__all__ = [
    "CONTENT_TYPE_FEED",
    "CONTENT_TYPE_NOTICES",
    "DataKey",
    "FieldCipher",
    "Header",
    "InMemoryReplayGuard",
    "KeyInfo",
    "KeyRing",
    "KeyStatus",
    "KeyUse",
    "Opened",
    "Party",
    "ReplayGuard",
    "ReplayVerdict",
    "generate_party",
    "list_keys",
    "load_data_key",
    "load_keyring",
    "looks_like_envelope",
    "open_envelope",
    "open_lines",
    "revoke",
    "rotate",
    "seal",
    "seal_lines",
    "verify_outer",
]
