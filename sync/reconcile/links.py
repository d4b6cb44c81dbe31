"""Manual `link` and `unlink` of two person records, previewed before they apply.

A link adds a `MANUAL` edge between the two records; an unlink keeps them
apart in every later pass even if an identifier links them. The latest act on
a pair wins. Applying either also closes any open review item for the pair.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from sqlalchemy import ColumnElement, Connection, Table, and_, or_, select, update

from sync.app import App
from sync.audit.chain import AuditKind
from sync.audit.pipeline_hooks import person_ref
from sync.core.decide import (
    DecisionInputs,
    Decisions,
    LinkAct,
    Pair,
    latest_link_acts,
    ordered_pair,
    pair_through_merges,
)
from sync.core.records import RecordRef
from sync.errors import UsageError
from sync.ledger.codec import field_key
from sync.ledger.moments import as_utc
from sync.ledger.tables_manual import manual_links, review_items
from sync.local_day import day_in_england
from sync.reconcile.acts import Actor, AuditNote, new_act_id, require_person
from sync.reconcile.apply import ManualAct, preview_or_apply
from sync.reconcile.manual_inputs import ACTION_LINK, ACTION_UNLINK
from sync.reconcile.preview import ActOutcome

LINK_PREFIX = "LNK"
UNLINK_PREFIX = "UNL"


def _check_pair(app: App, a: RecordRef, b: RecordRef, action: str) -> None:
    if a == b:
        raise UsageError("A record cannot be linked to or unlinked from itself.")
    one_agency = a.agency == b.agency  # then only their places tell them apart
    with app.ledger.engine.connect() as conn:
        require_person(conn, a, "first" if one_agency else "")
        require_person(conn, b, "second" if one_agency else "")
        latest = _latest_act_on(conn, *ordered_pair(a, b))
    if latest is not None and latest.action == action:
        raise UsageError(_already_done(action, latest))


@dataclass(frozen=True, slots=True)
class _StoredAct:
    """A stored link or unlink: its id, action, operator and time."""

    id: str
    action: str
    operator: str
    created_at: datetime


def _latest_act_on(conn: Connection, low: RecordRef, high: RecordRef) -> _StoredAct | None:
    """The latest link or unlink stored for exactly this pair of records, if any."""
    table = manual_links
    query = (
        select(table.c.id, table.c.action, table.c.operator, table.c.created_at)
        .where(_pair_matches(low, high, table))
        .order_by(table.c.created_at.desc(), table.c.id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return None if row is None else _StoredAct(*row)


def _already_done(action: str, latest: _StoredAct) -> str:
    """Why the same act again is refused: the act that stands, who made it and when."""
    done = "linked" if action == ACTION_LINK else "kept apart"
    day = day_in_england(as_utc(latest.created_at)).isoformat()
    return (
        f"The two records are already {done} by {latest.id} "
        f"(by {latest.operator} on {day}); nothing to do."
    )


def _with_act(inputs: DecisionInputs, a: RecordRef, b: RecordRef, link: bool) -> DecisionInputs:
    """The inputs with one more act, made after every stored one."""
    return replace(inputs, link_acts=(*inputs.link_acts, LinkAct(a, b, link)))


def link(app: App, a: RecordRef, b: RecordRef, actor: Actor, *, apply: bool) -> ActOutcome:
    """Preview, and with `apply` store, a manual link of two person records."""
    return _act(app, a, b, actor, apply=apply, action=ACTION_LINK)


def unlink(app: App, a: RecordRef, b: RecordRef, actor: Actor, *, apply: bool) -> ActOutcome:
    """Preview, and with `apply` store, keeping two person records apart."""
    return _act(app, a, b, actor, apply=apply, action=ACTION_UNLINK)


def _act(
    app: App, a: RecordRef, b: RecordRef, actor: Actor, *, apply: bool, action: str
) -> ActOutcome:
    _check_pair(app, a, b, action)
    linking = action == ACTION_LINK
    act_id = new_act_id(LINK_PREFIX if linking else UNLINK_PREFIX)
    low, high = ordered_pair(a, b)
    with app.ledger.engine.connect() as conn:
        settled = _open_review_ids(conn, (low, high))

    def change(current: DecisionInputs) -> DecisionInputs:
        return _with_act(current, a, b, linking)

    def write(conn: Connection) -> None:
        conn.execute(
            manual_links.insert().values(
                id=act_id,
                action=action,
                a_agency=str(low.agency),
                a_person_id=low.person_id,
                b_agency=str(high.agency),
                b_person_id=high.person_id,
                operator=actor.operator,
                reason=app.ledger.codec.encode_text(
                    field_key(manual_links.name, act_id, "reason"), actor.reason
                ),
                created_at=app.clock(),
            )
        )
        _resolve_review_items(conn, app, (low, high), action, actor)

    note = AuditNote(
        AuditKind.COMBINATION if linking else AuditKind.ALTERATION,
        "manual link of person records" if linking else "manual unlink of person records",
        (person_ref(a), person_ref(b), f"link:{act_id}"),
    )
    pair = (person_ref(a), person_ref(b))
    act = ManualAct(
        act_id,
        change,
        write,
        note,
        refs=frozenset({a, b}),
        preview_refs=pair,
        explain=partial(_explained, a, b, action, settled),
    )
    return preview_or_apply(app, actor, act, apply=apply)


def _explained(
    a: RecordRef,
    b: RecordRef,
    action: str,
    settled: tuple[int, ...],
    inputs: DecisionInputs,
    decisions: Decisions,
) -> tuple[str, ...]:
    """The preview's notes: a pair the agency merged, then (for a link) the unlinks it
    lifts or brings together, then the open link review of the pair it settles."""
    notes = _merged_by_their_agency(a, b, action, decisions)
    if action == ACTION_LINK:
        notes += _unlinked_pairs_joined(a, b, inputs, decisions)
    return notes + tuple(_settled_note(item, action) for item in settled)


def _settled_note(item_id: int, action: str) -> str:
    """The sentence for the open link review of the pair that the act settles."""
    decided = "one person" if action == ACTION_LINK else "two people, kept apart"
    return f"This act settles link review {item_id}: its two records are {decided}."


def _open_review_of(pair: tuple[RecordRef, RecordRef]) -> ColumnElement[bool]:
    """The open link-review items of exactly this pair of records (either way round)."""
    a, b = pair
    table = review_items
    return and_(
        table.c.resolved_at.is_(None),
        or_(_pair_matches(a, b, table), _pair_matches(b, a, table)),
    )


def _open_review_ids(conn: Connection, pair: tuple[RecordRef, RecordRef]) -> tuple[int, ...]:
    """The ids of the pair's open link-review items, oldest first."""
    table = review_items
    found = conn.execute(
        select(table.c.id).where(_open_review_of(pair)).order_by(table.c.id)
    ).scalars()
    return tuple(int(item_id) for item_id in found)


def _unlinked_pairs_joined(
    a: RecordRef, b: RecordRef, inputs: DecisionInputs, decisions: Decisions
) -> tuple[str, ...]:
    """A sentence for each unlink this link lifts through an agency's merge, then for each
    unlink still standing whose two records end up in the linked subject.

    Acts count per pair of the people their records now mean (`latest_link_acts`),
    as in the decision pass. An unlink forbids only the direct edge between its
    two records, so a link elsewhere can join them through other records; the
    operator is told either way. Relinking the very pair unlinked says nothing.
    """
    merged_into = decisions.merged_into
    people = partial(pair_through_merges, merged_into=merged_into)
    subject_of = {ref: s.subject_id for s in decisions.subjects for ref in s.members}
    linked = subject_of.get(merged_into.get(a, a))
    if linked is None:
        return ()

    def joined(pair: Pair) -> bool:
        return subject_of.get(pair[0]) == linked == subject_of.get(pair[1])

    before = latest_link_acts(inputs.link_acts[:-1], people)
    after = latest_link_acts(inputs.link_acts, people)
    named = ordered_pair(a, b)
    lifted = [
        _lifted_note(act)
        for pair, act in sorted(before.items())
        if not act.link
        and after[pair].link
        and ordered_pair(act.a, act.b) != named
        and joined(pair)
    ]
    standing = [
        _joined_note(act) for pair, act in sorted(after.items()) if not act.link and joined(pair)
    ]
    return (*lifted, *standing)


def _named(act: LinkAct) -> str:
    first, second = ordered_pair(act.a, act.b)
    return f"{first.agency}:{first.person_id} and {second.agency}:{second.person_id}"


def _lifted_note(act: LinkAct) -> str:
    return (
        f"An operator unlinked {_named(act)}; this link names the same people (one of "
        "the records has since been merged by its agency), so it lifts that unlink."
    )


def _joined_note(act: LinkAct) -> str:
    return (
        f"An operator unlinked {_named(act)}; with this link they are in one subject "
        "through other links (an unlink keeps only their direct link apart)."
    )


def _merged_by_their_agency(
    a: RecordRef, b: RecordRef, action: str, decisions: Decisions
) -> tuple[str, ...]:
    """The sentence for a pair the agency's own merge records made one person, if they did.

    An operator's act cannot part what an agency merged, nor join it again: a
    merged-away record means its merge target in every pass.
    """
    merged_into = decisions.merged_into
    if merged_into.get(a, a) != merged_into.get(b, b):
        return ()
    both = f"{a.agency}:{a.person_id} and {b.agency}:{b.person_id}"
    if action == ACTION_LINK:
        return (
            f"The {a.agency} system has already merged {both} into one person record; "
            "the link adds nothing.",
        )
    return (
        f"The {a.agency} system has merged {both} into one person record; the unlink "
        f"keeps them apart only once {a.agency} undoes that merge in its own system.",
    )


def _pair_matches(first: RecordRef, second: RecordRef, table: Table) -> ColumnElement[bool]:
    """Rows of `table` (manual acts, review items) naming the pair in this order."""
    return and_(
        table.c.a_agency == str(first.agency),
        table.c.a_person_id == first.person_id,
        table.c.b_agency == str(second.agency),
        table.c.b_person_id == second.person_id,
    )


def _resolve_review_items(
    conn: Connection, app: App, pair: tuple[RecordRef, RecordRef], action: str, actor: Actor
) -> None:
    conn.execute(
        update(review_items)
        .where(_open_review_of(pair))
        .values(resolved_at=app.clock(), resolved_by=actor.operator, resolution=action)
    )
