"""The static leaderboard site (``medganbench leaderboard publish``).

Owns: building and swapping in the site (:mod:`~medganbench.site.build`), its index and dataset pages
(:mod:`~medganbench.site.pages`) and run pages (:mod:`~medganbench.site.runs`), HTML helpers (:mod:`~medganbench.site.html`), charts
(:mod:`~medganbench.site.charts`), assets (:mod:`~medganbench.site.assets`), reproduce commands
(:mod:`~medganbench.site.reproduce`), the external track and provenance
(:mod:`~medganbench.site.external`), keeping data locations off every page
(:mod:`~medganbench.site.locations`) and the Hub upload (:mod:`~medganbench.site.hub`).

May import: core, data, errors, leaderboard, run.
"""

from medganbench.site.build import SiteSummary, publish_site

__all__ = ["SiteSummary", "publish_site"]
