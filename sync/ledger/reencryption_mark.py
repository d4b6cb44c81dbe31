"""The mark a ledger carries while its personal data is re-encrypted under a new at-rest key.

`arms-sync ledger reencrypt` sets the mark in `ledger_meta` before it rewrites
any row and removes it in the transaction that makes the new key the ledger's
own. While it is set, the ledger holds values under two keys: nothing else
opens the ledger (`bind_data_key`) and no run or cycle starts (`insert_run`),
so nothing is written under a key that is about to be retired.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from sync.errors import LedgerError
from sync.ledger import schema

REENCRYPTION_MARK = "at_rest_reencryption"
# A second `ledger reencrypt` while one runs is refused, so this advice is safe either way.
_FINISH_IT = "run `arms-sync ledger reencrypt` again to finish it."


def reencryption_target(conn: Connection) -> str | None:
    """The encryption check (`aead_check`) of the key the ledger is being re-encrypted
    under, if it is."""
    table = schema.settings_kv
    return conn.execute(
        select(table.c.value).where(table.c.key == REENCRYPTION_MARK)
    ).scalar_one_or_none()


def reencryption_underway(place: str) -> LedgerError:
    """The refusal of anything that would use a ledger in the middle of a re-encryption."""
    return LedgerError(
        f"The ledger {place} is being re-encrypted under a new at-rest key; "
        f"wait for it to finish, or, if it was cut short, {_FINISH_IT}"
    )


def refuse_while_reencrypting(conn: Connection) -> None:
    """Raise inside `conn`'s transaction if the ledger is being re-encrypted."""
    if reencryption_target(conn) is not None:
        raise LedgerError(
            "A run cannot start while the ledger is being re-encrypted under a new "
            f"at-rest key; wait for it to finish, or, if it was cut short, {_FINISH_IT}"
        )
