"""Automotive news aggregator: feeds in many languages, full text, clustered into stories."""

__version__ = "0.1.0"
USER_AGENT = f"automotive-aggregator/{__version__} (+https://github.com/automotive-aggregator)"
