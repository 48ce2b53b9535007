"""The static leaderboard site (``medganbench leaderboard publish``).

Owns: building and swapping in the site (:mod:`~medganbench.site.build`), its index and dataset pages
(:mod:`~medganbench.site.pages`) and run pages (:mod:`~medganbench.site.runs`), HTML helpers (:mod:`~medganbench.site.html`), charts
(:mod:`~medganbench.site.charts`, on the shared SVG parts of :mod:`~medganbench.site.svg`), a
group's dot-and-whisker chart (:mod:`~medganbench.site.whiskers`), training curves (runs'
histories read by :mod:`~medganbench.site.history`, drawn by :mod:`~medganbench.site.curves`,
placed on pages by :mod:`~medganbench.site.training`), assets (:mod:`~medganbench.site.assets`), reproduce commands
(:mod:`~medganbench.site.reproduce`), the external track and provenance
(:mod:`~medganbench.site.external`), keeping data locations off every page
(:mod:`~medganbench.site.locations`) and the Hub upload (:mod:`~medganbench.site.hub`).

May import: core, data, errors, leaderboard, run.
"""

from medganbench.site.build import SiteSummary, publish_site

__all__ = ["SiteSummary", "publish_site"]
