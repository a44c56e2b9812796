"""The study: questions are data, answers are pure functions of results."""
import json
import re

import pytest

import repro
from repro import Asked, Cell, SetupResult
from test_report import ASYNC, ASYNC_RAMP, SYNC, SYNC_RAMP, check_golden, report, steps

POOLED_SYNC = Cell("sync-sql", "gunicorn-sync", "pooled")
POOLED_ASYNC = Cell("async-sql", "uvicorn", "pooled")
ASYNC_2021 = Cell("async-sql", "uvicorn", as_2021=True)

# The async setup made slower by its 2021 settings: slowdown at 20 users.
SLOWER_RAMP = repro.dataclasses.replace(ASYNC_RAMP, steps=steps(
    [(10, 100, 0, 10.0, 30.0), (20, 40, 0, 18.0, 80.0), (40, 70, 40, 12.0, 400.0),
     (30, 58, 2, 17.0, 200.0), (25, 50, 1, 17.0, 120.0)]))


CTX = repro.LimitContext(cores=2, server=repro.ServerSettings(), db_limit_rps=None,
                         max_connections=100)


def result(cell, ramp):
    return SetupResult(cell, (ramp,))


def answer(question, cells, setups):
    return repro.answer_question(repro.QUESTIONS[question], Asked(question, tuple(cells)),
                                 setups, 10, "users", CTX)


def words(a, figures=False):
    return repro.answer_words(a, {}, figures)


def test_each_question_is_data_whose_cells_can_all_be_named():
    for q in repro.QUESTIONS.values():
        cells = q.cells((), repro.DEFAULT_WAITS)
        assert len(cells) >= 2, q.id
        for cell in cells:
            # Its name reads back as the same cell, installed or not; a cell
            # whose server is not installed here is refused by name.
            assert repro.cell_named(cell.name) == cell
            missing = repro.SERVERS[cell.server].missing()
            if missing:
                with pytest.raises(repro.UsageError, match=f"setup {re.escape(cell.name)} "
                                                           f"cannot run here: "):
                    repro.parse_cell(cell.name)
            else:
                assert repro.parse_cell(cell.name) == cell
        for _label, a, b in q.pairs:
            assert a in cells and b in cells


def test_a_winner_that_changes_with_the_factor_is_put_down_to_the_factor():
    setups = [SYNC, ASYNC, result(POOLED_SYNC, SYNC_RAMP), result(POOLED_ASYNC, SYNC_RAMP)]
    a = answer(1, [s.cell for s in setups], setups)
    assert words(a) == ("The connections changed the outcome: a new connection for each query: "
                        "`sync` did better; pooled: no reliable difference. By capacity: `sync`, "
                        "`sync+pooled` and `async+pooled` tie for best; `async` did worst.")
    assert words(a, figures=True) == (
        "The connections changed the outcome: a new connection for each query: `sync` did "
        "better (slowdown 35 vs 20 users, errors ≥ 60 vs 25 users, capacity 44 vs 20 req/s); "
        "pooled: no reliable difference (capacity 44 vs 44 req/s). By capacity: `sync` (44 req/s), `sync+pooled` (44 "
        "req/s) and `async+pooled` (44 req/s) tie for best; `async` (20 req/s) did worst.")
    assert a.winner is None and a.factor_changed
    assert [[x.name for x in g] for g in a.ranking] == [["sync", "sync+pooled", "async+pooled"],
                                                         ["async"]]
    assert len(a.pairs) == 6


def test_the_same_winner_either_way_is_not_put_down_to_the_factor():
    setups = [SYNC, ASYNC, result(POOLED_SYNC, SYNC_RAMP), result(POOLED_ASYNC, ASYNC_RAMP)]
    a = answer(1, [s.cell for s in setups], setups)
    assert a.factor_changed is False
    assert words(a).startswith("Not the connections: the same side did better either way "
                               "(a new connection for each query: `sync` did better; pooled: "
                               "`sync+pooled` did better).")


def test_one_setup_better_than_each_other_is_the_winner():
    setups = [result(ASYNC_2021, SLOWER_RAMP), SYNC, result(POOLED_SYNC, SLOWER_RAMP)]
    a = answer(2, [s.cell for s in setups], setups)
    assert a.winner == "sync"
    assert words(a) == "`sync` did best; `async+2021` and `sync+pooled` did worst."
    assert words(a, figures=True) == ("`sync` (44 req/s) did best; `async+2021` (18 req/s) and "
                                      "`sync+pooled` (18 req/s) did worst.")


def test_a_pair_question_names_its_winner():
    setups = [result(ASYNC.cell, SYNC_RAMP), result(ASYNC_2021, SLOWER_RAMP)]
    a = answer(5, [ASYNC.cell, ASYNC_2021], setups)
    assert (words(a), a.winner) == ("With and without 2021's settings: `async` did better.",
                                    "async")


def test_a_question_with_cells_not_measured_says_so():
    a = answer(5, [ASYNC.cell, ASYNC_2021], [ASYNC])
    assert (words(a), a.winner) == ("Not answered: async+2021 was not measured.", None)


def test_question_6_takes_the_async_cell_with_the_highest_peak():
    assert repro.best_async_base(()) == POOLED_ASYNC
    fast = result(POOLED_ASYNC, SYNC_RAMP)
    orm = result(Cell("async-orm", "uvicorn"), ASYNC_RAMP)
    assert repro.best_async_base([SYNC, ASYNC, orm, fast]) == POOLED_ASYNC
    assert repro.best_async_base([SYNC, orm]) == orm.cell
    cells = repro.QUESTIONS[6].cells([SYNC, orm], repro.DEFAULT_WAITS)
    assert [c.server for c in cells] == [s.name for s in repro.SERVERS.values()
                                         if s.interface == "asgi"]
    assert {c.view for c in cells} == {"async-orm"}


def study_report():
    setups = (SYNC, ASYNC, result(POOLED_SYNC, SYNC_RAMP), result(POOLED_ASYNC, SYNC_RAMP),
              result(ASYNC_2021, SLOWER_RAMP),
              result(Cell("async-sql", "gunicorn-asgi", "pooled"), SLOWER_RAMP))
    asked = (Asked(1, tuple(s.cell for s in setups[:4])),
             Asked(5, (ASYNC.cell, ASYNC_2021)),
             Asked(6, (POOLED_ASYNC, Cell("async-sql", "gunicorn-asgi", "pooled")),
                   ("async+pooled@granian: granian is not installed: pip install granian",)))
    return report(setups=setups, questions=asked, seconds=612.0,
                  command="python repro.py study --questions 1,5,6 --users 60")


def test_study_report_golden():
    check_golden("report_study.md", repro.render_markdown(study_report()))


def test_study_json_lists_each_question_with_its_answer_and_winner():
    data = json.loads(json.dumps(repro.report_to_json(study_report())))
    assert [q["id"] for q in data["questions"]] == [1, 5, 6]
    q6 = data["questions"][2]
    assert q6["cells"] == ["async+pooled", "async-sql@gunicorn-asgi+pooled"]
    assert q6["winner"] == "async+pooled"
    assert q6["skipped"] == ["async+pooled@granian: granian is not installed: pip install granian"]
    assert data["questions"][1]["answer"] == ("With and without 2021's settings: no reliable "
                                              "difference.")
    assert data["questions"][1]["answer_detail"] == (
        "With and without 2021's settings: no reliable difference (capacity 20 vs 18 req/s).")
    assert data["questions"][0]["ranking"] == [["sync", "sync+pooled", "async+pooled"], ["async"]]
    assert q6["answer"] == "`async+pooled` did best; `async-sql@gunicorn-asgi+pooled` did worst."
    assert "questions" not in repro.report_to_json(report())


@pytest.mark.parametrize("text, expected", [("1,3", (1, 3)), ("3, 1,3", (1, 3)), ("6", (6,))])
def test_questions_are_picked_by_number(text, expected):
    assert repro.question_list(text) == expected


@pytest.mark.parametrize("argv, message", [
    (["study", "--questions", "8"], "'8' is not a question; give numbers from 1, 2, 3, 4, 5, 6, "
                                    "7"),
    (["study", "--waits", "10,x"], "'x' is not a wait; give milliseconds"),
    (["study", "--waits", "100"], "a sweep needs two waits or more"),
    (["study", "--waits", "0,100"], "'0' is not a wait"),
    (["study", "--questions", "1,x"], "'x' is not a question"),
    (["study", "--setups", "sync"], "study picks its setups from its questions"),
    (["study", "--as-2021"], "--as-2021 does not apply to study"),
])
def test_bad_study_input_is_one_line_and_exit_2(argv, message, capsys):
    assert repro.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_study_config_knows_its_cells_before_it_measures():
    config = repro.parse_config(["study", "--questions", "2,3"])
    assert config.questions == (2, 3)
    assert {c.workload for c in config.setups} == {"upstream", "slow-db"}


def test_a_difference_within_the_study_margin_names_no_winner_in_the_answer():
    """44% slower by the rule's 15% is a winner; 20% is not past the study's
    25%: the line says so, and the answer names no winner."""
    close = repro.dataclasses.replace(SYNC_RAMP, steps=steps(
        [(10, 100, 0, 10.0, 17.3), (20, 50, 0, 20.0, 18.0), (40, 80, 0, 36.0, 36.0),
         (60, 94, 0, 35.0, 420.0), (30, 60, 0, 30.0, 19.5), (35, 70, 0, 34.0, 36.5)]))
    setups = [SYNC, result(POOLED_SYNC, close)]
    a = repro.answer_question(repro.QUESTIONS[2], Asked(2, tuple(s.cell for s in setups)),
                              setups, 10, "users", CTX)
    [pair] = a.pairs
    # Capacity 43.5 against 35.5 req/s: 18% apart.
    assert [c.winner for c in pair.by_rule.comparisons] == [None, None, "sync"]
    assert pair.past_margin.winners == []
    assert a.winner is None
    assert words(a) == "`sync` and `sync+pooled` tie within the study's margin of 25%."


def test_the_groups_between_best_and_worst_are_named_too():
    def scaled(ramp, factor):
        return repro.dataclasses.replace(ramp, steps=tuple(
            repro.dataclasses.replace(s, rps=s.rps * factor) for s in ramp.steps))
    middle = Cell("sync-sql", "gunicorn-gthread", "pooled", "upstream")
    setups = [result(Cell("sync-sql", "gunicorn-sync", "pooled", "upstream"), SYNC_RAMP),
              result(middle, scaled(SYNC_RAMP, 0.7)),
              result(Cell("async-sql", "uvicorn", "pooled", "upstream"), ASYNC_RAMP)]
    a = answer(2, [s.cell for s in setups], setups)
    assert [[x.name for x in g] for g in a.ranking] == [
        ["sync+pooled+upstream"], ["sync-sql@gunicorn-gthread+pooled+upstream"],
        ["async+pooled+upstream"]]
    assert words(a, figures=True) == (
        "`sync+pooled+upstream` (44 req/s) did best; then "
        "`sync-sql@gunicorn-gthread+pooled+upstream` (30 req/s); `async+pooled+upstream` "
        "(20 req/s) did worst.")
