"""The probabilistic person matcher (pure core).

Cleans person records, blocks them into candidate pairs, scores each pair in
the Fellegi-Sunter manner and decides links and pairs for review. See
`docs/matching.md` for the comparisons, weights, thresholds and blocking rules.
"""

from sync.core.matching.decisions import JOIN_THRESHOLD, REVIEW_THRESHOLD, MatchedBy
from sync.core.matching.matcher import (
    DuplicateRecordError,
    Link,
    MatchIndex,
    MatchResult,
    ReviewPair,
    match_population,
)

__all__ = [
    "JOIN_THRESHOLD",
    "REVIEW_THRESHOLD",
    "DuplicateRecordError",
    "Link",
    "MatchIndex",
    "MatchResult",
    "MatchedBy",
    "ReviewPair",
    "match_population",
]
