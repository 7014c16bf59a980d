"""The org directory behind access decisions, on each backend: the tree as of any day from the
Rep events, effective dates respected, kept current from new events only."""

from __future__ import annotations

from datetime import timedelta

from application import clock
from tests.helpers import META


def test_the_directory_answers_the_tree_on_any_day(runtime):
    org, directory = runtime.ledger.org, runtime.directory
    today = clock.today()
    soon, later = today + timedelta(days=10), today + timedelta(days=20)
    director = org.hire_rep(META, name="总监", level="director", team="总部", region="全国").id
    m = org.hire_rep(META, name="经理甲", level="manager", team="华东一组", region="华东", manager_id=director).id
    n = org.hire_rep(META, name="经理乙", level="manager", team="华南一组", region="华南", manager_id=director).id
    a = org.hire_rep(META, name="代表甲", level="mid", team="华东一组", region="华东", manager_id=m).id
    b = org.hire_rep(META, name="代表乙", level="junior", team="华东一组", region="华东", manager_id=m).id
    assert directory.subtree(m, today) == {m, a, b}
    assert directory.subtree(director, today) == {director, m, n, a, b}
    assert directory.ancestors(a, today) == [m, director]
    assert sorted(directory.members(today, "team:华东一组")) == sorted([m, a, b])
    assert directory.canonical(a.upper()) == a and directory.canonical("not-a-uuid") is None

    # recorded now, effective later: nothing moves before the date
    org.transfer_rep(META, a, manager_id=n, team="华南一组", region="华南", effective_from=soon, reason="调岗")
    org.change_rep_level(META, a, level="senior", effective_from=later, reason="晋升")
    assert directory.subtree(m, today) == {m, a, b} and directory.subtree(n, today) == {n}
    assert directory.subtree(m, soon) == {m, b} and directory.subtree(n, soon) == {n, a}
    assert directory.attrs(a, soon)["team"] == "华南一组" and directory.ancestors(a, soon) == [n, director]
    assert [directory.level(a, day) for day in (today, soon, later)] == ["mid", "mid", "senior"]
    starter = org.hire_rep(META, name="新人", level="junior", team="t", region="r", hired_on=soon).id
    assert [directory.is_active(starter, day) for day in (today, soon)] == [False, True]
    assert directory.attrs(starter, today) is None and directory.members(today, "team:t") == []

    # a late-recorded change effective earlier folds in at its date, not at the end
    org.transfer_rep(META, b, manager_id=n, team="华南一组", region="华南", effective_from=today, reason="补录")
    assert directory.subtree(n, today) == {n, b} and directory.subtree(n, soon) == {n, a, b}


def test_the_directory_catches_up_from_where_it_was(runtime):
    org, directory = runtime.ledger.org, runtime.directory
    assert directory.catch_up() == runtime.source.head()
    first = org.hire_rep(META, name="经理", level="manager", team="t", region="r").id
    assert directory.position < runtime.source.head()  # nothing read until asked
    assert directory.subtree(first, clock.today()) == {first}
    assert directory.position == runtime.source.head()
    # a second directory built from scratch over the same store agrees (nothing lost incrementally)
    second = org.hire_rep(META, name="代表", level="mid", team="t", region="r", manager_id=first).id
    fresh = type(directory)(runtime.source, batch=1)  # one event per read: the batch loop too
    assert fresh.subtree(first, clock.today()) == directory.subtree(first, clock.today()) == {first, second}
    assert fresh.position == directory.position == runtime.source.head()
