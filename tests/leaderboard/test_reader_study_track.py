"""Reader-study rows (``track="reader-study"``): grouped apart from computed metrics, last, and
never ranked; titled and shown as a reader study."""

from __future__ import annotations

from medganbench.leaderboard.ranking import ranked_groups
from medganbench.leaderboard.seeds import aggregate_groups
from medganbench.leaderboard.titles import READER_STUDY_MARK, group_title, is_reader_study
from medganbench.site.pages import dataset_body
from tests.leaderboard.rows import make_row, table_of


def _rows() -> list[dict]:
    computed = [
        make_row(run_id=f"run-{m}", model=m, value=v) for m, v in (("a", 20.0), ("b", 25.0))
    ]
    study = [
        make_row(
            run_id=f"study-{m}",
            model=m,
            track="reader-study",
            metric="reader-accuracy",
            higher_is_better=False,
            value=v,
        )
        for m, v in (("a", 0.9), ("b", 0.55))
    ]
    return study + computed


def test_reader_study_rows_form_their_own_group_after_the_computed_ones() -> None:
    groups = ranked_groups(table_of(*_rows()))
    assert [g.key["track"] for g in groups] == ["budgeted", "reader-study"]


def test_a_reader_study_group_is_not_ranked() -> None:
    study = ranked_groups(table_of(*_rows()))[1]
    assert study.ranked_by is None and all(r.rank is None for r in study.rows)
    (aggregated,) = [g for g in aggregate_groups(table_of(*_rows())) if is_reader_study(g)]
    assert all(e.rank is None for e in aggregated.entries)


def test_a_reader_study_group_is_titled_as_one() -> None:
    study = ranked_groups(table_of(*_rows()))[1]
    assert READER_STUDY_MARK in group_title(study)


def test_the_dataset_page_shows_reader_studies_in_their_own_section_last() -> None:
    groups = aggregate_groups(table_of(*_rows()))
    html = dataset_body(groups, [], runs=4)
    assert html.index('<section id="g0">') < html.index('<section id="reader-studies">')
    studies = html.split('<section id="reader-studies">', 1)[1]
    assert "reader-accuracy" in studies and "not ranked" in studies.lower()
