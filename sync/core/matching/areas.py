"""Areas: the probation region a record's area code stands for.

A probation record's area is a probation region code; a police record's is a
police force code. Each force lies in one probation region, so two records of
either agency are compared on region. An unknown code is no evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

PROBATION_REGIONS: frozenset[str] = frozenset(
    ("NW", "NE", "YH", "GM", "EM", "WM", "EE", "WALES", "LONDON", "KSS", "SW", "SC")
)

_FORCES_BY_REGION: Mapping[str, tuple[str, ...]] = {
    "LONDON": ("MET", "CITY"),
    "NW": ("LANC", "MERS", "CUMB", "CHES"),
    "GM": ("GMP",),
    "NE": ("NUMB", "DURH", "CLEV"),
    "YH": ("NYKS", "WYKS", "SYKS", "HUMB"),
    "EM": ("LINCS", "NOTTS", "DERBY", "LEICS", "NHANTS"),
    "WM": ("WMID", "STAFFS", "WARKS", "WMERC"),
    "EE": ("BEDS", "CAMBS", "ESSEX", "HERTS", "NORF", "SUFF"),
    "KSS": ("KENT", "SURREY", "SUSSEX"),
    "SC": ("TVP", "HANTS"),
    "SW": ("DORSET", "DEVC", "ASP", "GLOS", "WILTS"),
    "WALES": ("DYFP", "GWENT", "NWALES", "SWALES"),
}

REGION_OF_FORCE: Mapping[str, str] = MappingProxyType(
    {force: region for region, forces in _FORCES_BY_REGION.items() for force in forces}
)


def region_of(area: str) -> str | None:
    """The probation region of a region or force code; `None` when unknown."""
    code = area.strip().upper()
    if code in PROBATION_REGIONS:
        return code
    return REGION_OF_FORCE.get(code)
