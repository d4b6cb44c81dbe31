"""Invented word lists the synthetic generator draws from: names, nicknames, areas.

Every list here is made up for test data: common British surnames and forenames
with no link to any real person's record, and a share of cases for each of the
43 police forces. Which probation region covers a force is the matcher's table
(`sync.core.matching.areas`), and every nickname drawn here is one the matcher's
table knows, so synthetic feeds test the matcher on what it claims to know.
"""

from __future__ import annotations

from itertools import accumulate
from types import MappingProxyType

from sync.core.matching.areas import REGION_OF_FORCE


def _names(text: str) -> tuple[str, ...]:
    """A comma-separated list, one tuple entry per name (names may hold spaces)."""
    return tuple(" ".join(name.split()) for name in text.split(",") if name.strip())


COMMON_SURNAMES = _names(
    """
    SMITH, JONES, WILLIAMS, TAYLOR, BROWN, DAVIES, EVANS, WILSON, THOMAS, JOHNSON,
    ROBERTS, ROBINSON, THOMPSON, WRIGHT, WALKER, WHITE, EDWARDS, HUGHES, GREEN, HALL,
    LEWIS, HARRIS, CLARKE, PATEL, JACKSON, WOOD, TURNER, MARTIN, COOPER, HILL, WARD,
    MORRIS, MOORE, CLARK, LEE, KING, BAKER, HARRISON, MORGAN, ALLEN, JAMES, SCOTT,
    PHILLIPS, WATSON, DAVIS, PARKER, PRICE, BENNETT, YOUNG, GRIFFITHS, MITCHELL, KELLY,
    COOK, CARTER, RICHARDSON, BAILEY, COLLINS, BELL, SHAW, MURPHY, MILLER, COX,
    RICHARDS, KHAN, MARSHALL, ANDERSON, SIMPSON, ELLIS, ADAMS, SINGH, BEGUM, WILKINSON,
    FOSTER, CHAPMAN, POWELL, WEBB, ROGERS, GRAY, MASON, ALI, HUNT, HUSSAIN, CAMPBELL,
    MATTHEWS, OWEN, PALMER, HOLMES, MILLS, BARNES, KNIGHT, LLOYD, BUTLER, RUSSELL,
    BARKER, FISHER, STEVENS, JENKINS, MURRAY, DIXON, HARVEY
    """
)
RARE_SURNAMES = _names(
    """
    O'BRIEN, O'CONNOR, O'NEILL, D'ARCY, O'SULLIVAN, MCDONALD, MCKENZIE, MACLEOD,
    MCGRATH, SMITH-JONES, ASHWORTH-HALE, PRYCE-DAVIES, LLEWELLYN, FAIRWEATHER, QUIGLEY,
    ACHTERBERG, WINTERBOTTOM, ENTWISTLE, HALLIWELL, POSTLETHWAITE, ARKWRIGHT,
    BLENKINSOP, CRABTREE, DUCKWORTH, FEATHERSTONE, GREENHALGH, HIGGINBOTHAM,
    ICKERINGILL, JAGGER, KERSHAW, LONGBOTTOM, MOTTERSHEAD, NETTLESHIP, OLDROYD,
    PICKERSGILL, RAMSBOTTOM, SIDEBOTTOM, TWEEDALE, UTTLEY, VARLEY, WHITTINGHAM, YARDLEY,
    ZOUCH, OKONKWO, ADEBAYO, NOWAK, KOWALSKI, CHOWDHURY, RAHMAN, NGUYEN, DE SOUZA, VAN
    DER BERG, MACINTYRE, ST JOHN, LE FEVRE, FFRENCH, AP RHYS
    """
)
MALE_FORENAMES = _names(
    """
    John, David, Michael, Paul, Andrew, Mark, James, Richard, Peter, Stephen, Robert,
    Christopher, Ian, Gary, Steven, Simon, Anthony, Thomas, Daniel, Matthew, William,
    Kevin, Lee, Jason, Darren, Craig, Wayne, Neil, Martin, Alan, Scott, Adam, Ryan,
    Jamie, Luke, Dean, Carl, Shaun, Graham, Keith, Barry, Colin, Philip, Edward, Joseph,
    Samuel, Benjamin, Nicholas, Alexander, Liam, Kieran, Callum, Connor, Mohammed,
    Tariq, Imran, Piotr, Tomasz, Declan, Gareth, Rhys, Dafydd, Ewan, Hamish, Terence,
    Clifford
    """
)
FEMALE_FORENAMES = _names(
    """
    Sarah, Claire, Emma, Lisa, Michelle, Karen, Nicola, Joanne, Rachel, Louise, Helen,
    Susan, Elizabeth, Katherine, Margaret, Jennifer, Amanda, Kelly, Donna, Tracey,
    Julie, Samantha, Gemma, Laura, Hannah, Zoe, Aisha, Fatima, Siobhan, Bethan, Carys
    """
)
MALE_MIDDLE_NAMES = ("James", "John", "Lee", "Paul", "Anthony", "Michael", "David")
FEMALE_MIDDLE_NAMES = ("Marie", "Ann", "Louise", "Jane", "Elizabeth")

NICKNAMES = MappingProxyType(
    {
        "William": ("Bill", "Will", "Billy"),
        "Robert": ("Bob", "Rob", "Bobby"),
        "James": ("Jim", "Jimmy", "Jamie"),
        "Anthony": ("Tony",),
        "Michael": ("Mike", "Mick"),
        "David": ("Dave",),
        "Stephen": ("Steve",),
        "Steven": ("Steve",),
        "Christopher": ("Chris",),
        "Thomas": ("Tom", "Tommy"),
        "Daniel": ("Dan", "Danny"),
        "Joseph": ("Joe",),
        "Richard": ("Dick", "Rick", "Richie"),
        "Andrew": ("Andy", "Drew"),
        "Peter": ("Pete",),
        "Edward": ("Ed", "Ted", "Eddie"),
        "Alexander": ("Alex",),
        "Samuel": ("Sam",),
        "Benjamin": ("Ben",),
        "Nicholas": ("Nick",),
        "Matthew": ("Matt",),
        "Terence": ("Terry",),
        "Elizabeth": ("Liz", "Beth"),
        "Katherine": ("Kate", "Kathy"),
        "Susan": ("Sue",),
        "Margaret": ("Maggie", "Peggy"),
        "Jennifer": ("Jenny",),
        "Samantha": ("Sam",),
    }
)
MALE_FORMAL_NAMES = tuple(name for name in MALE_FORENAMES if name in NICKNAMES)
FEMALE_FORMAL_NAMES = tuple(name for name in FEMALE_FORENAMES if name in NICKNAMES)

COMMON_FULL_NAMES = (
    ("John", "SMITH"),
    ("David", "JONES"),
    ("Michael", "WILLIAMS"),
    ("James", "BROWN"),
    ("Paul", "TAYLOR"),
)

# Each police force as `FORCE:SHARE`: a rough share of cases (larger forces hold more).
_FORCE_SHARES = tuple(
    entry.split(":")
    for entry in _names(
        """
    MET:30, CITY:1, LANC:9, GMP:11, MERS:7, CUMB:2, CHES:4, NUMB:5, DURH:3, CLEV:3, NYKS:4,
    WYKS:9, SYKS:5, HUMB:4, LINCS:3, NOTTS:4, DERBY:4, LEICS:4, NHANTS:3, WMID:10, STAFFS:4,
    WARKS:2, WMERC:4, BEDS:2, CAMBS:3, ESSEX:6, HERTS:4, NORF:3, SUFF:3, KENT:6, SURREY:3,
    SUSSEX:5, TVP:7, HANTS:6, DORSET:3, DEVC:5, ASP:5, GLOS:2, WILTS:2, DYFP:2, GWENT:2,
    NWALES:3, SWALES:5
        """
    )
)
# Each force with the probation region that covers it.
POLICE_FORCES = tuple((force, REGION_OF_FORCE[force]) for force, _ in _FORCE_SHARES)
FORCE_CUM_WEIGHTS = tuple(accumulate(int(share) for _, share in _FORCE_SHARES))

# Common surnames are drawn far more often than rare ones (rough Zipf shape).
SURNAMES = COMMON_SURNAMES + RARE_SURNAMES
SURNAME_CUM_WEIGHTS = tuple(
    accumulate(
        [1000 // (rank + 5) for rank in range(len(COMMON_SURNAMES))] + [1] * len(RARE_SURNAMES)
    )
)
MALE_FORENAME_CUM_WEIGHTS = tuple(
    accumulate(200 // (rank + 4) + 1 for rank in range(len(MALE_FORENAMES)))
)
