"""Articles to stories: online clustering with time, words, vectors and entities.

The public API is re-exported here; see :mod:`aggregator.cluster.online` for how it decides,
:mod:`aggregator.cluster.pool` for a story's pooled evidence and :mod:`aggregator.cluster.terms`
for the words it compares.
"""

from aggregator.cluster.constraints import Constraints, Correction
from aggregator.cluster.model import Assignment, ClusterDoc, ClusterSettings, Merge, Split
from aggregator.cluster.online import Clusterer

__all__ = [
    "Assignment",
    "ClusterDoc",
    "ClusterSettings",
    "Clusterer",
    "Constraints",
    "Correction",
    "Merge",
    "Split",
]
