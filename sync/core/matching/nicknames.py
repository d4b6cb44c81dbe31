"""A small built-in table of forename diminutives and spellings for the matcher.

Each group holds a formal forename and the short forms commonly recorded for
it, or the ways one name is commonly spelt or transliterated (`MUHAMMAD`,
`MOHAMMED`; `SEAN`, `SHAUN`); two forenames are nicknames of each other when
some group holds both. Names are in the matcher's cleaned form (upper case,
letters only).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

NICKNAME_GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split())
    for group in (
        "WILLIAM BILL BILLY WILL WILLIE LIAM",
        "ROBERT BOB BOBBY ROB ROBBIE BERT",
        "JAMES JIM JIMMY JAMIE",
        "ANTHONY TONY ANT",
        "RICHARD RICK RICKY DICK RICH RICHIE",
        "JOHN JACK JOHNNY JON",
        "JONATHAN JON JONNY",
        "MICHAEL MIKE MICK MICKY MICKEY",
        "CHRISTOPHER CHRIS KIT",
        "STEPHEN STEVEN STEVE STEVIE",
        "THOMAS TOM TOMMY",
        "DAVID DAVE DAVEY",
        "DANIEL DAN DANNY",
        "JOSEPH JOE JOEY",
        "EDWARD ED EDDIE TED TEDDY NED",
        "ALEXANDER ALEX SANDY ALEC",
        "ANDREW ANDY DREW",
        "BENJAMIN BEN BENNY",
        "CHARLES CHARLIE CHAS CHUCK",
        "FREDERICK FRED FREDDIE",
        "GEORGE GEORDIE",
        "HENRY HARRY HAL",
        "KENNETH KEN KENNY",
        "LAWRENCE LAURENCE LARRY",
        "MATTHEW MATT MATTY",
        "NICHOLAS NICK NICKY",
        "PATRICK PAT PADDY",
        "PETER PETE",
        "PHILIP PHILLIP PHIL",
        "RAYMOND RAY",
        "RONALD RON RONNIE",
        "SAMUEL SAM SAMMY",
        "TERENCE TERRY",
        "TIMOTHY TIM TIMMY",
        "GERALD GERRY JERRY",
        "GARY GARRY GAZ",
        "DOUGLAS DOUG DOUGIE",
        "DONALD DON DONNIE",
        "LEONARD LEN LENNY LEO",
        "ALBERT AL ALBIE",
        "ALFRED ALF ALFIE",
        "NATHAN NATHANIEL NATE NAT",
        "VINCENT VINCE VINNY",
        "GREGORY GREG",
        "JEFFREY GEOFFREY JEFF GEOFF",
        "STUART STEWART STU",
        "ZACHARY ZAC ZACK",
        "JOSHUA JOSH",
        "ELIZABETH LIZ BETH BETTY LIZZIE",
        "MARGARET MAGGIE PEGGY MEG",
        "CATHERINE KATHERINE KATE KATIE CATH KATHY",
        "SUSAN SUE SUSIE",
        "REBECCA BECKY BECCA",
        "SAMANTHA SAM SAMMY",
        "JENNIFER JENNY JEN",
        # One name, spelt or transliterated in the ways officers record it, where the
        # spellings are too far apart for the fuzzy levels (`MARK`/`MARC` are not).
        "MUHAMMAD MUHAMMED MOHAMMED MOHAMMAD MOHAMED MOHAMAD MOHAMMUD MOHAMUD",
        "SEAN SHAUN SHAWN",
        "YUSUF YUSEF YOUSEF YOUSSEF YOUSUF",
        "ALAN ALLEN",  # `ALLAN` is near enough to each already
        "GRAHAM GRAEME",
        "LEE LEIGH",
        "JACOB JAKUB JAKE",
        "PAUL PAWEL",
        "PETER PIOTR",
        "CATHERINE KATHRYN CATHRYN",
    )
)


def _index_groups(groups: tuple[frozenset[str], ...]) -> Mapping[str, frozenset[int]]:
    """Map each name to the numbers of the groups that hold it."""
    index: dict[str, set[int]] = defaultdict(set)
    for number, group in enumerate(groups):
        for name in group:
            index[name].add(number)
    return {name: frozenset(numbers) for name, numbers in index.items()}


_GROUPS_OF: Mapping[str, frozenset[int]] = _index_groups(NICKNAME_GROUPS)


def are_nicknames(first: str, second: str) -> bool:
    """True when two different cleaned forenames share a nickname group."""
    if first == second:
        return False
    groups = _GROUPS_OF.get(first)
    return groups is not None and not groups.isdisjoint(_GROUPS_OF.get(second, frozenset()))
