"""The ledger's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

The ledger is the service's memory: the current version of every feed record,
the rejected lines, the subjects and how their records were linked, the
ownership timelines, the flags with their first-seen and last-seen times, and
the bookkeeping that makes runs resumable. Alembic migrations in
`sync/ledger/migrations` create and upgrade these tables in place; this module
is the source they are generated from.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

AGENCY = 16
RECORD_TYPE = 16
REF = 64
TIMESTAMP_KEY = 32
DIGEST = 64
SUBJECT_ID = 40

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("as_of", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("summary", Text),
    # in_process or distributed (`sync/ledger/runs.py`); None: recorded before runs had kinds.
    Column("kind", String(16)),
)

records = Table(
    "records",
    metadata,
    Column("agency", String(AGENCY), primary_key=True),
    Column("rtype", String(RECORD_TYPE), primary_key=True),
    Column("rid", String(REF), primary_key=True),
    Column("updated_at", String(TIMESTAMP_KEY), nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("person_id", String(REF)),
    Column("digest", String(DIGEST), nullable=False),
    Column("payload", LargeBinary),
    Column("pnc_key", String(DIGEST)),
    Column("cro_key", String(DIGEST)),
    Column("warnings", Text),
    Column("applied_run", Integer, nullable=False),
)

rejects = Table(
    "rejects",
    metadata,
    Column("fingerprint", String(DIGEST), primary_key=True),
    Column("agency", String(AGENCY), nullable=False),
    Column("source", String(200), nullable=False),
    Column("position", String(64), nullable=False),
    Column("record_type", String(RECORD_TYPE)),
    Column("record_id", String(REF)),
    # The agency a line of the other agency's says it belongs to (else None).
    Column("record_agency", String(AGENCY)),
    Column("reason", Text, nullable=False),
    # The line itself, encrypted; None once its record's agency deleted the record.
    Column("raw", LargeBinary),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen_run", Integer, nullable=False),
    # The run that settled the line, kept when its record is deleted (the record's
    # own row then names the deletion's run); None: judged from the record's row.
    Column("fixed_run", Integer),
    Index("ix_rejects_record", "record_type", "record_id"),
)

orphans = Table(
    "orphans",
    metadata,
    Column("agency", String(AGENCY), primary_key=True),
    Column("rtype", String(RECORD_TYPE), primary_key=True),
    Column("rid", String(REF), primary_key=True),
    Column("missing_person_id", String(REF), nullable=False),
    # Why the record was not applied: `missing-person`, `merge-loop` or `merge-superseded`.
    Column("cause", String(RECORD_TYPE), nullable=False, server_default="missing-person"),
)

subjects = Table(
    "subjects",
    metadata,
    Column("subject_id", String(SUBJECT_ID), primary_key=True),
    Column("created_run", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
)

subject_members = Table(
    "subject_members",
    metadata,
    Column("agency", String(AGENCY), primary_key=True),
    Column("person_id", String(REF), primary_key=True),
    Column("subject_id", String(SUBJECT_ID), nullable=False, index=True),
    Column("matched_by", String(32), nullable=False),
    Column("weight", Float),
    Column("merged_into", String(REF)),
)

links = Table(
    "links",
    metadata,
    Column("subject_id", String(SUBJECT_ID), nullable=False, index=True),
    Column("a_agency", String(AGENCY), primary_key=True),
    Column("a_person_id", String(REF), primary_key=True),
    Column("b_agency", String(AGENCY), primary_key=True),
    Column("b_person_id", String(REF), primary_key=True),
    Column("matched_by", String(32), nullable=False),
    Column("weight", Float),
)

segments = Table(
    "segments",
    metadata,
    Column("subject_id", String(SUBJECT_ID), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("start", Date),
    Column("end", Date),
    Column("owner", String(16), nullable=False),
    Column("rule", String(32), nullable=False),
    Column("mandatory", Boolean, nullable=False),
    Column("policy", String(32), nullable=False),
)

flags = Table(
    "flags",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("subject_id", String(SUBJECT_ID), nullable=False, index=True),
    Column("agency", String(AGENCY)),
    Column("assessment_id", String(REF)),
    Column("person_ids", Text, nullable=False),
    Column("reference_date", Date),
    Column("owner_at_reference_date", String(16)),
    Column("rule_at_reference_date", String(32)),
    # The rule the flag's agency is told at the reference date (`sync.core.told`): its
    # report view gives it. None: stored before it was kept, with `OUT-UNDER-18`.
    Column("rule_told", String(32)),
    Column("counterpart", Text),
    Column("redundant", Boolean),
    Column("area", String(32)),
    Column("assessment_status", String(16)),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    # The as-of date of the run that first raised the flag (or the UTC day it ran,
    # when earlier): reports file a flag without a reference date under it (None:
    # stored before it was kept).
    Column("first_seen_as_of", Date),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    # When the flag was last raised: first seen, or raised again after it closed. A
    # resolution made before it no longer holds (None: stored before revision 0020).
    Column("raised_at", DateTime(timezone=True)),
    Index("ix_flags_open", "closed_at", "kind"),
)

overrides = Table(
    "overrides",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("subject_id", String(SUBJECT_ID), nullable=False, index=True),
    Column("owner", String(16), nullable=False),
    Column("start", Date, nullable=False),
    Column("end", Date),
    Column("operator", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", String(100)),
    Column("revoke_reason", Text),
)

# The person records an override's subject held when the override was made: it
# stays with the subject holding most of them, wherever re-linking takes them.
override_records = Table(
    "override_records",
    metadata,
    Column("override_id", String(40), primary_key=True),
    Column("agency", String(AGENCY), primary_key=True),
    Column("person_id", String(REF), primary_key=True),
)

# An override that belongs to another subject than the one it is stored under (its
# records joined another subject, or split from the rest) is re-pointed by the pass
# that stored it; each move is kept here.
override_moves = Table(
    "override_moves",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("override_id", String(40), nullable=False, index=True),
    Column("from_subject_id", String(SUBJECT_ID), nullable=False),
    Column("to_subject_id", String(SUBJECT_ID), nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("moved_at", DateTime(timezone=True), nullable=False),
)

# The records each subject id last held when a pass made it vanish (its records
# joined other subjects, or were all deleted): where they are now says where to look.
former_members = Table(
    "former_members",
    metadata,
    Column("subject_id", String(SUBJECT_ID), primary_key=True),
    Column("agency", String(AGENCY), primary_key=True),
    Column("person_id", String(REF), primary_key=True),
    Column("run_id", Integer, nullable=False),
)

settings_kv = Table(
    "ledger_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

received_envelopes = Table(
    "received_envelopes",
    metadata,
    Column("msg_id", String(64), primary_key=True),
    Column("digest", String(DIGEST), nullable=False),
    Column("sender", String(AGENCY), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

feed_cursors = Table(
    "feed_cursors",
    metadata,
    Column("agency", String(AGENCY), primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("cursor", Text, nullable=False),
    # The number of the page the cursor follows, within the pull; 0 once the pull ended.
    Column("pull_pages", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Until when a gateway asked (`Retry-After`) not to be called for its feed.
feed_waits = Table(
    "feed_waits",
    metadata,
    Column("agency", String(AGENCY), primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("not_before", DateTime(timezone=True), nullable=False),
    Column("asked_at", DateTime(timezone=True), nullable=False),
)

notice_state = Table(
    "notice_state",
    metadata,
    Column("agency", String(AGENCY), primary_key=True),
    Column("notice_key", String(300), primary_key=True),
    Column("digest", String(DIGEST), nullable=False),
    Column("notice_id", String(40), nullable=False),
    Column("updated_run", Integer, nullable=False),
)

notices = Table(
    "notices",
    metadata,
    Column("notice_id", String(40), primary_key=True),
    Column("agency", String(AGENCY), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject_id", String(SUBJECT_ID), nullable=False, index=True),
    Column("replaces", String(40)),
    Column("batch_id", String(64), nullable=False, index=True),
    Column("created_run", Integer, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("agency", String(AGENCY), nullable=False),
    Column("position", Integer, nullable=False),
    Column("envelope", LargeBinary, nullable=False),
    Column("sealed_batch", LargeBinary, nullable=False),
    Column("notice_count", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", String(200)),
    # The end of the wait the gateway asked for (Retry-After) at the last failure, if any.
    Column("wait_asked_until", DateTime(timezone=True)),
    # When the batch was first offered to the gateway, written (and committed) before the
    # call: a batch never offered may be sealed again freely (`sync.delivery`).
    Column("offered_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("receipt", LargeBinary),
    Index("ix_outbox_pending", "agency", "delivered_at", "position"),
)


from sync.audit import tables as _audit_tables  # noqa: F401,E402
from sync.ledger import tables_cycle as _tables_cycle  # noqa: E402,F401
from sync.ledger import tables_manual as _tables_manual  # noqa: F401,E402
