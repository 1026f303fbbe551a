"""Articles to stories: online clustering with time, words, vectors and entities.

The public API is re-exported here; see :mod:`aggregator.cluster.online` for how it decides.
"""

from aggregator.cluster.online import (
    Assignment,
    ClusterDoc,
    Clusterer,
    ClusterSettings,
    Merge,
    Split,
)

__all__ = ["Assignment", "ClusterDoc", "ClusterSettings", "Clusterer", "Merge", "Split"]
