"""The demo corpus: a month of automotive news from sixteen fictional outlets, served offline.

``DemoCorpus.load(Path("data/demo"))`` reads the outlets and events; ``DemoServer`` serves them
as feeds and pages on 127.0.0.1 as of a chosen moment, so the normal refresh runs against it and
its results can be scored against ``data/demo/gold.jsonl``.
"""

from aggregator.demo.corpus import DemoArticle, DemoCorpus, DemoOutlet
from aggregator.demo.server import DemoServer

__all__ = ["DemoArticle", "DemoCorpus", "DemoOutlet", "DemoServer"]
