"""The static leaderboard site (``medganbench leaderboard publish``)."""

from medganbench.site.build import SiteSummary, publish_site

__all__ = ["SiteSummary", "publish_site"]
