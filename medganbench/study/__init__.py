"""Reader studies: blinded real-vs-synthetic trials built from runs, answered in a browser, scored
with the statistics radiologists report (docs/reader-study.md).

Owns: the study's files, read back as hostile files (:mod:`~medganbench.study.formats`: the
manifest, the answer key, a reader's answers); building a study from run folders
(:mod:`~medganbench.study.create`) and its reader's page (:mod:`~medganbench.study.page`);
the statistics (:mod:`~medganbench.study.stats`), scoring a study's answers
(:mod:`~medganbench.study.score`) and its leaderboard rows on the ``reader-study`` track
(:mod:`~medganbench.study.rows`).

May import: core, errors, fileio, leaderboard, run, trained.
"""
