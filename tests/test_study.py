"""The study: questions are data, measured in rounds; answers are pure
functions of the results, told only where every round agrees."""
import io
import json
import re

import pytest

import repro
from repro import Asked, Cell, RampResult, SetupResult, Told
from test_report import ASYNC_RAMP, SETTINGS, SYNC_RAMP, check_golden, report, steps, with_ramp

CTX = repro.LimitContext(cores=2, server=repro.ServerSettings(), db_limit_rps=None,
                         max_connections=100)
TWO_ROUNDS = with_ramp(SETTINGS, repeat=2)


def cell(name):
    return repro.cell_named(name)


def probe(capacity, round_=1, cpu=(10.0, 2.0), saturated=True, driver="psycopg2 2.9.13"):
    """A saturation probe that held `capacity` (or, unsaturated, served it
    still rising); the CPU per request of the server and PostgreSQL."""
    last = (capacity * 0.99, capacity) if saturated else (capacity * 0.5, capacity)
    return RampResult(steps=steps([(1, 10, 0, 20.0, 10.0), (8, 100, 0, last[0], 50.0),
                                   (16, 100, 0, last[1], 100.0)]),
                      stop_reason="completed", probe=True, round=round_,
                      driver=driver, cpu_ms={"server": cpu[0], "postgres": cpu[1]})


def probed(name, *capacities, cpu=(10.0, 2.0), ramps=()):
    driver = ramps[0].driver if ramps else "psycopg2 2.9.13"  # one driver a cell
    return SetupResult(cell(name), tuple(ramps), probes=tuple(
        probe(c, k, cpu, driver=driver) for k, c in enumerate(capacities, start=1)))


def answer(question, setups, rounds=2, cells=None):
    cells = cells or [s.cell for s in setups]
    return repro.answer_question(repro.QUESTIONS[question], Asked(question, tuple(cells)),
                                 setups, 10, "users", CTX, rounds)


def words(a, figures=False):
    return repro.answer_words(a, {}, figures)


def tiers(a):
    return [([x.name for x in t.cells], t.alike) for t in a.ranking]


# --- Questions and rounds ----------------------------------------------------

def test_each_question_is_data_whose_cells_can_all_be_named():
    for q in repro.QUESTIONS.values():
        cells = q.cells(repro.DEFAULT_WAITS, repro.ServerSettings())
        assert len(cells) >= 2, q.id
        for c in cells:
            # Its name reads back as the same cell, installed or not; a cell
            # whose server is not installed here is refused by name.
            assert repro.cell_named(c.name) == c
            missing = repro.SERVERS[c.server].missing()
            if missing:
                with pytest.raises(repro.UsageError, match=f"setup {re.escape(c.name)} "
                                                           f"cannot run here: "):
                    repro.parse_cell(c.name)
            else:
                assert repro.parse_cell(c.name) == c
        for _label, a, b in q.pairs:
            assert a in cells and b in cells


def test_question_6_asks_question_1s_pooled_async_cell_on_each_asgi_server():
    cells = repro.QUESTIONS[6].cells(repro.DEFAULT_WAITS, repro.ServerSettings())
    assert [c.server for c in cells] == [s.name for s in repro.SERVERS.values() if s.asgi]
    assert cells[0] == cell("async+pooled") in repro.QUESTIONS[1].cells((), None)


@pytest.mark.parametrize("round_, order", [(1, "abcd"), (2, "dcba"), (3, "bcda"), (4, "adcb"),
                                           (5, "cdab")])
def test_each_round_has_an_order_of_its_own_the_second_the_first_reversed(round_, order):
    assert "".join(repro.round_order(list("abcd"), round_)) == order


def test_a_study_measures_each_cell_once_a_round_beside_the_questions_that_share_it():
    server = repro.ServerSettings()
    asked = [Asked(q.id, q.cells(repro.DEFAULT_WAITS, server)) for q in repro.QUESTIONS.values()]
    sequence = repro.study_sequence(asked)
    ramped = [m.setup.name for m in sequence if not m.probe]
    probes = [m.setup for m in sequence if m.probe]
    assert len(probes) == len(set(probes)) == len({c for q in asked for c in q.cells})
    # A new connection per query is ramped too where a question asks for its
    # thresholds (questions 1 and 4; not 5, whose question is the settings),
    # and ramped before it is probed.
    assert ramped == ["sync", "async", "sync-orm@gunicorn-sync", "async-orm@uvicorn"]
    first = {m.setup: i for i, m in reversed(list(enumerate(sequence)))}
    for m in sequence:
        if not m.probe:
            assert sequence[first[m.setup] + 1] == repro.Measurement(m.setup, True)
    # Questions 5 and 6 share a cell with question 1 and come right after it;
    # question 7 shares question 2's cells at --upstream-ms.
    order = list(dict.fromkeys(next(q.id for q in asked if m.setup in q.cells)
                               for m in sequence))
    assert order == [1, 5, 6, 2, 7, 3, 4]


def test_rounds_measure_every_item_each_round_in_its_order_with_the_gauge_between():
    calls, readings = [], iter([1300.0, 1100.0, 1250.0])
    a, b = cell("sync"), cell("sync+pooled")
    items = [repro.Measurement(a), repro.Measurement(a, True), repro.Measurement(b, True)]

    def one(item, round_):
        calls.append((item.setup.name, item.probe, round_))
        return RampResult(steps=steps([(1, 10, 0, 10.0, 10.0)]), stop_reason="completed",
                          probe=item.probe)

    rounds = repro.Rounds(2, repro.StopFlag(), repro.Progress(stream=io.StringIO()))
    rounds.measure(items, one, lambda: next(readings))
    assert calls == [("sync", False, 1), ("sync", True, 1), ("sync+pooled", True, 1),
                     ("sync+pooled", True, 2), ("sync", True, 2), ("sync", False, 2)]
    assert rounds.gauge == [repro.GaugeReading(1, 1300.0), repro.GaugeReading(2, 1100.0),
                            repro.GaugeReading(3, 1250.0)]
    [a, b] = rounds.setups()
    assert [r.round for r in a.ramps] == [1, 2] and [r.round for r in a.probes] == [1, 2]
    assert b.ramps == () and [r.round for r in b.probes] == [1, 2]


def test_a_later_round_probes_from_where_the_cell_saturated_before():
    config = repro.parse_config(["study"])
    c = cell("sync-sql@gunicorn-gthread+pooled+upstream")
    low = steps([(1, 16, 0, 8.0, 119.0)])
    fresh = repro.probe_plan(c, config, [])
    assert fresh(()) == 1 and fresh(low) == 48  # 1.5 x the 32 threads' bound, at 119 ms
    before = RampResult(steps=steps([(1, 16, 0, 8.0, 119.0), (48, 100, 0, 72.0, 460.0),
                                     (96, 100, 0, 87.0, 1000.0), (192, 100, 0, 101.0, 1400.0),
                                     (384, 100, 0, 97.0, 3400.0)]),
                        stop_reason="completed", probe=True)
    again = repro.probe_plan(c, config, [SetupResult(c, (), probes=(before,))])
    assert again(()) == 1 and again(low) == 192 and again(low + steps([(192, 100, 0, 99.0,
                                                                         1400.0)])) == 384


def test_a_signal_ends_the_rounds_with_what_was_measured():
    stop = repro.StopFlag()

    def one(item, round_):
        if round_ == 2:
            stop.set(2)
        return RampResult(steps=steps([(1, 10, 0, 10.0, 10.0)]), stop_reason="completed")

    rounds = repro.Rounds(3, stop, repro.Progress(stream=io.StringIO()))
    rounds.measure([repro.Measurement(cell("sync")), repro.Measurement(cell("async"))], one,
                   lambda: 1000.0)
    assert [len(rs) for rs in rounds.results.values()] == [1, 2]
    assert len(rounds.gauge) == 2  # none after a round cut short
    assert rounds.interrupted() == "SIGINT"


# --- Medians, ranges and agreement ----------------------------------------------

def test_a_cell_s_capacity_is_the_median_of_its_rounds_with_their_range():
    x = repro.ranked_of(probed("async+pooled", 80.0, 90.0, 84.0), CTX)
    assert (x.rate.value, x.low, x.high, x.rate.saturated) == (84.0, 80.0, 90.0, True)
    assert repro.capacity_text(x) == "84 req/s, 80-90"
    assert repro.capacity_text(x, unit=False) == "84.0 (80-90)"
    two = repro.ranked_of(probed("async+pooled", 80.0, 90.0), CTX)
    assert two.rate.value == 85.0  # the median of two is their mean
    unsaturated = SetupResult(cell("sync"), (), probes=(probe(50.0, 1, saturated=False),
                                                       probe(60.0, 2)))
    assert repro.ranked_of(unsaturated, CTX).rate.bound  # not every round saturated


@pytest.mark.parametrize("a, b, told, disagree", [
    # Past the study's margin (the other under 75%) in every round.
    ((100, 110), (70, 80), Told.A, False),
    ((70, 80), (100, 110), Told.B, False),
    # Within a run's 15% in every round: alike.
    ((100, 110), (90, 100), Told.ALIKE, False),
    # Past the margin in one round, alike in the other: the rounds disagree.
    ((100, 100), (70, 95), Told.UNTOLD, True),
    # One way in one round, the other way in the other.
    ((100, 70), (70, 100), Told.UNTOLD, True),
    # 20% apart in each: more than the rule, less than the margin.
    ((100, 100), (80, 80), Told.UNTOLD, False),
])
def test_two_cells_are_told_apart_only_where_every_round_agrees(a, b, told, disagree):
    [capacity] = repro.relations_of(probed("sync+pooled", *a), probed("async+pooled", *b),
                                    10, "users", 2)
    assert (capacity.told, capacity.disagree) == (told, disagree)


def test_a_round_that_measured_one_cell_only_tells_nothing():
    [capacity] = repro.relations_of(probed("sync+pooled", 100.0, 100.0),
                                    probed("async+pooled", 50.0), 10, "users", 2)
    assert len(capacity.rounds) == 1 and capacity.told is Told.UNTOLD


def servers_of(question, *capacities):
    """Question 2's or 3's four cells (sync workers, gthread, the async view,
    the sync view on Uvicorn), each probed in two rounds."""
    cells = repro.QUESTIONS[question].cells((), repro.ServerSettings())
    return [probed(c.name, *rounds) for c, rounds in zip(cells, capacities)]


def test_ranks_are_drawn_only_where_every_cell_above_beat_every_cell_below():
    setups = servers_of(2, (40.0, 42.0), (100.0, 120.0), (125.0, 100.0), (95.0, 70.0))
    a = answer(2, setups)
    # gthread and the async view alike; the sync view on Uvicorn not told
    # apart from either (19% and 30% apart in round 2); sync workers beaten
    # by all three in both rounds.
    assert tiers(a) == [(["sync-sql@gunicorn-gthread+pooled+upstream", "async+pooled+upstream",
                          "sync-sql@uvicorn+pooled+upstream"], False),
                        (["sync+pooled+upstream"], True)]
    assert a.winner is None and a.ranking[0].disagree
    assert words(a) == (
        "`sync-sql@gunicorn-gthread+pooled+upstream`, `async+pooled+upstream` and "
        "`sync-sql@uvicorn+pooled+upstream`, not told apart, did best; `sync+pooled+upstream` "
        "did worst.")
    assert words(a, figures=True) == (
        "`sync-sql@gunicorn-gthread+pooled+upstream` (110 req/s, 100-120), "
        "`async+pooled+upstream` (112 req/s, 100-125) and `sync-sql@uvicorn+pooled+upstream` "
        "(82 req/s, 70-95), not told apart (the rounds disagree), did best; "
        "`sync+pooled+upstream` (41 req/s, 40-42) did worst.")


def test_a_rank_not_told_apart_names_the_two_of_it_the_rounds_did_tell_apart():
    setups = servers_of(3, (62.0, 70.0), (97.0, 88.0), (115.0, 116.0), (76.0, 74.0))
    a = answer(3, setups)
    # gthread lies between the async view and the others in some round:
    # no line is drawn, yet the async view held more than two of them.
    assert len(a.ranking) == 1
    assert a.ranking[0].told == (("async+pooled+slow-db", "sync+pooled+slow-db"),
                                 ("async+pooled+slow-db", "sync-sql@uvicorn+pooled+slow-db"))
    assert words(a) == (
        "`sync+pooled+slow-db`, `sync-sql@gunicorn-gthread+pooled+slow-db`, "
        "`async+pooled+slow-db` and `sync-sql@uvicorn+pooled+slow-db` are not told apart (in "
        "every round `async+pooled+slow-db` held more than `sync+pooled+slow-db` and "
        "`async+pooled+slow-db` held more than `sync-sql@uvicorn+pooled+slow-db`).")
    assert repro.claims(a)[("Capacity", "async+pooled+slow-db", "sync+pooled+slow-db")] == (
        "async+pooled+slow-db")


def test_a_question_whose_cells_are_all_alike_says_they_tie():
    a = answer(6, [probed("async+pooled", 100.0, 110.0),
                   probed("async-sql@gunicorn-asgi+pooled", 95.0, 105.0)])
    assert tiers(a) == [(["async+pooled", "async-sql@gunicorn-asgi+pooled"], True)]
    assert words(a) == ("`async+pooled` and `async-sql@gunicorn-asgi+pooled` tie within a "
                        "run's 15% in every round.")


def test_one_cell_better_than_each_other_in_every_round_is_the_winner():
    a = answer(6, [probed("async+pooled", 100.0, 110.0),
                   probed("async-sql@gunicorn-asgi+pooled", 60.0, 70.0),
                   probed("async-sql@uvicorn-standard+pooled", 62.0, 66.0)])
    assert a.winner == "async+pooled"
    assert tiers(a) == [(["async+pooled"], True), (["async-sql@gunicorn-asgi+pooled",
                                                     "async-sql@uvicorn-standard+pooled"], True)]
    assert words(a) == ("`async+pooled` did best; `async-sql@gunicorn-asgi+pooled` and "
                        "`async-sql@uvicorn-standard+pooled`, alike, did worst.")


# --- The pairs a question weighs -----------------------------------------------------

def ramp(round_, scale=1.0, ramp_=SYNC_RAMP):
    """A ramp whose req/s (and so its capacity) is scaled."""
    return repro.dataclasses.replace(ramp_, round=round_, steps=tuple(
        repro.dataclasses.replace(s, rps=s.rps * scale) for s in ramp_.steps))


def question_1(pooled_async):
    return [probed("sync", 44.0, 46.0, ramps=(ramp(1), ramp(2))),
            probed("async", 20.0, 22.0, ramps=(ramp(1, ramp_=ASYNC_RAMP), ramp(2, ramp_=ASYNC_RAMP))),
            probed("sync+pooled", 100.0, 110.0), probed("async+pooled", *pooled_async)]


def test_the_same_winner_either_way_is_not_put_down_to_the_factor():
    a = answer(1, question_1((60.0, 66.0)))
    assert a.factor_changed is False
    assert words(a) == (
        "Not the connections: the same side did better either way (a new connection for each "
        "query: `sync` did better; pooled: `sync+pooled` did better). By capacity: "
        "`sync+pooled` did best; then `async+pooled`; then `sync`; `async` did worst.")
    assert words(a, figures=True).startswith(
        "Not the connections: the same side did better either way (a new connection for each "
        "query: `sync` did better (slowdown 35 vs 20 users, errors ≥ 60 vs 25 users, capacity "
        "45 vs 21 req/s); pooled: `sync+pooled` did better (capacity 105 vs 63 req/s)).")


def test_a_winner_that_changes_with_the_factor_is_put_down_to_the_factor():
    a = answer(1, question_1((100.0, 105.0)))
    assert a.factor_changed
    assert words(a).startswith("The connections changed the outcome: a new connection for each "
                               "query: `sync` did better; pooled: alike.")


def test_a_pair_the_rounds_do_not_tell_leaves_the_factor_untold_with_the_figures():
    a = answer(1, question_1((60.0, 100.0)))
    assert a.factor_changed is None
    assert words(a, figures=True).startswith(
        "Not told whether the connections change the outcome: a new connection for each "
        "query: `sync` did better (slowdown 35 vs 20 users, errors ≥ 60 vs 25 users, capacity "
        "45 vs 21 req/s); pooled: not told: capacity: the rounds disagree (100 vs 60, 110 vs "
        "100 req/s).")


def test_a_pair_is_won_only_where_no_round_put_the_other_ahead_on_any_measure():
    # The second ramp of async+2021 slowed down at 60 users, past sync's 35.
    late = ramp(2, ramp_=repro.dataclasses.replace(SYNC_RAMP, steps=steps(
        [(10, 100, 0, 10.0, 17.3), (20, 50, 0, 20.0, 18.0), (40, 80, 0, 40.0, 20.0),
         (60, 94, 0, 47.0, 420.0), (50, 90, 0, 45.0, 20.0), (55, 92, 0, 46.0, 40.0)])))
    setups = [probed("async", 60.0, 62.0, ramps=(ramp(1), ramp(2))),
              probed("async+2021", 40.0, 41.0, ramps=(ramp(1), late))]
    [pair] = answer(5, setups).weighed
    assert [r.told for r in pair.relations] == [Told.UNTOLD, Told.ALIKE, Told.A]
    assert pair.told is Told.UNTOLD and pair.winner is None
    assert repro.pair_words(pair, figures=False) == "not told"


def test_a_question_with_cells_not_measured_says_so():
    a = answer(5, [probed("async", 60.0, 62.0)], cells=[cell("async"), cell("async+2021")])
    assert (words(a), a.winner) == ("Not answered: async+2021 was not measured or not ranked.",
                                    None)


# --- What a cell's own figures contradict, and the gauge ----------------------------------

def test_a_capacity_over_what_its_own_cpu_allows_the_cores_is_not_ranked():
    # 10 + 2 + 0.25 ms of CPU per request allow 163 req/s on 2 cores; 200 lies
    # more than 15% above that in round 2.
    over = SetupResult(cell("async-sql@granian+pooled"), (), probes=(
        probe(150.0, 1), probe(200.0, 2)))
    x = repro.ranked_of(over, CTX)
    assert x.over_cores == (2,) and not x.ranked
    assert x.cores_rps == pytest.approx(2000 / 12.25)
    a = answer(6, [probed("async+pooled", 100.0, 110.0), over,
                   probed("async-sql@gunicorn-asgi+pooled", 60.0, 66.0)])
    assert [x.name for x in a.unranked] == ["async-sql@granian+pooled"]
    assert a.winner == "async+pooled"
    capacity = next(p for p in a.pairs if p.b == "async-sql@granian+pooled").relations[-1]
    assert capacity.told is Told.UNTOLD and "over its own cores bound" in capacity.void
    assert words(a, figures=True).endswith(
        "; not ranked: `async-sql@granian+pooled` (its capacity, 175 req/s, lies more than 15% "
        "above the 163 its own CPU per request allows the cores).")
    # The median, 175 req/s, lies within 15% of 163: as a run's limit, the cores.
    assert repro.limit_of(over, CTX).kind == "cores"
    limit = repro.limit_of(SetupResult(over.cell, (), probes=over.probes[1:]), CTX)
    assert limit.kind == "inconsistent" and limit.capacity_rps == 200.0
    assert repro.limit_label(limit) == "inconsistent: over the cores (163)"


def test_the_cpu_a_capacity_cost_is_that_of_the_steps_it_comes_from():
    # Each window's CPU, over its successful requests (10, 100 and 100).
    held = [repro.dataclasses.replace(s, cpu_seconds={"server": cpu, "client": 0.1})
            for s, cpu in zip(steps([(1, 10, 0, 20.0, 10.0), (8, 100, 0, 90.0, 50.0),
                                     (16, 100, 0, 92.0, 100.0)]), (0.5, 2.0, 2.2))]
    run = RampResult(steps=tuple(held), stop_reason="completed", probe=True,
                     cpu_ms={"server": 30.0})
    # The level that held the most of the last two: its capacity, and its CPU.
    assert [s.level for s in run.capacity_steps] == [16]
    assert run.capacity == (92.0, True)
    assert run.saturated_cpu_ms == {"client": pytest.approx(1.0), "server": pytest.approx(22.0)}
    assert repro.cpu_ms_of(held[:1]) == {"client": 10.0, "server": 50.0}
    # Steps that did not record it: the whole ramp's.
    old = repro.dataclasses.replace(run, steps=steps([(1, 10, 0, 20.0, 10.0),
                                                      (8, 100, 0, 90.0, 50.0)]))
    assert old.saturated_cpu_ms == {"server": 30.0, "client": 0.25}
    plateau = ramp(1).capacity_steps
    t = ramp(1).thresholds
    assert [s.level for s in plateau] == [s.level for s in repro.plateau_windows(
        ramp(1).by_level, t.slowdown, t.errors)]


def gauged(*values):
    return report(settings=TWO_ROUNDS, gauge=tuple(repro.GaugeReading(k, v)
                                                   for k, v in enumerate(values, start=1)))


def test_the_gauge_says_where_the_machine_changed_speed_under_the_study():
    assert repro.gauge_words(gauged(1300.0, 1250.0, 1350.0)) == (
        "The machine's gauge (PostgreSQL alone: the list and the detail query over 4 kept "
        "connections, pairs a second, the median of 5 one-second readings) read 1,300 before "
        "round 1, 1,250 before round 2 and 1,350 after the last: it moved by 8%, within 15%.")
    slowed = repro.gauge_words(gauged(1600.0, 1300.0, 1100.0))
    assert slowed.startswith("**Caution: the machine changed speed under the study**, by 38% "
                             "((max - min) / median, more than 15%).")
    assert repro.gauge_words(gauged(1300.0)) == ""


# --- The report and its JSON --------------------------------------------------------------

def study_report():
    setups = tuple(question_1((60.0, 66.0))) + (
        probed("async+2021", 19.0, 21.0, ramps=(ramp(1, 0.9, ASYNC_RAMP), ramp(2, 0.9, ASYNC_RAMP))),
        probed("async-sql@gunicorn-asgi+pooled", 45.0, 62.0))
    asked = (Asked(1, tuple(s.cell for s in setups[:4])),
             Asked(5, (cell("async"), cell("async+2021"))),
             Asked(6, (cell("async+pooled"), cell("async-sql@gunicorn-asgi+pooled")),
                   ("async-sql@granian+pooled: granian is not installed: pip install granian",)))
    return report(setups=setups, questions=asked, seconds=612.0, settings=TWO_ROUNDS,
                  gauge=(repro.GaugeReading(1, 1300.0), repro.GaugeReading(2, 1150.0),
                         repro.GaugeReading(3, 1280.0)),
                  command="python repro.py study --questions 1,5,6 --users 60")


def test_study_report_golden():
    check_golden("report_study.md", repro.render_markdown(study_report()))


def test_study_json_lists_each_question_with_its_answer_and_reads_back(tmp_path):
    data = json.loads(json.dumps(repro.report_to_json(study_report())))
    assert [q["id"] for q in data["questions"]] == [1, 5, 6]
    q1, q5, q6 = data["questions"]
    assert q6["cells"] == ["async+pooled", "async-sql@gunicorn-asgi+pooled"]
    assert q6["skipped"] == ["async-sql@granian+pooled: granian is not installed: "
                             "pip install granian"]
    assert q6["ranking"] == [{"cells": ["async+pooled", "async-sql@gunicorn-asgi+pooled"],
                              "alike": False}]
    assert q1["ranking"][0] == {"cells": ["sync+pooled"], "alike": True}
    assert q1["winner"] == "sync+pooled" and q6["winner"] is None
    assert q5["answer"] == "With and without 2021's settings: alike."
    assert data["gauge"] == [{"round": 1, "pairs_rps": 1300.0}, {"round": 2, "pairs_rps": 1150.0},
                             {"round": 3, "pairs_rps": 1280.0}]
    sync = data["setups"][0]
    assert [r["round"] for r in sync["repeats"]] == [1, 2]
    assert sync["probe"]["rounds"] == {"1": 44.0, "2": 46.0}
    assert "questions" not in repro.report_to_json(report())
    path = tmp_path / "study.json"
    path.write_text(json.dumps(data))
    assert repro.render_markdown(repro.load_run(str(path))) == repro.render_markdown(
        study_report())


def test_a_study_chart_is_drawn():
    pytest.importorskip("matplotlib")
    png = repro.render_chart(study_report())
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


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
    (["study", "--repeat", "3"], "study measures in rounds: give --rounds N"),
    (["study", "--rounds", "0"], "'0' is not a whole number from 1 to 50"),
])
def test_bad_study_input_is_one_line_and_exit_2(argv, message, capsys):
    assert repro.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_study_config_knows_its_cells_and_rounds_before_it_measures():
    config = repro.parse_config(["study", "--questions", "2,3"])
    assert config.questions == (2, 3) and config.ramp.repeat == repro.DEFAULT_ROUNDS
    assert {c.workload for c in config.setups} == {"upstream", "slow-db"}
    assert repro.parse_config(["study", "--rounds", "3"]).ramp.repeat == 3


def test_two_studies_compared_say_where_they_agree_and_where_they_contradict():
    a = study_report()
    same = repro.render_compare(a, a, ("a.json", "a.json"))
    assert "- Question 1 (Is it async, or the connections?): the same answer." in same
    assert same.rstrip().splitlines()[-3] == (
        "By the study's rules the two contradict each other in no question: each pair either "
        "is told alike in both, or is not told in one.")
    # In B the pooled async cell held what the pooled sync cell held: question
    # 1 tells the pair the other way; question 6 tells what A did not.
    faster = probed("async+pooled", 100.0, 105.0)
    b = repro.dataclasses.replace(a, setups=tuple(faster if s.name == "async+pooled" else s
                                                  for s in a.setups))
    claims = repro.claims(b.answers()[0][2])
    assert claims[("Capacity", "async+pooled", "sync+pooled")] == "alike"
    text = repro.render_compare(a, b, ("a.json", "b.json"))
    assert ("- **Question 1 (Is it async, or the connections?): A and B contradict each other**: "
            "A: capacity: `sync+pooled` did better than `async+pooled`, B: capacity: "
            "`async+pooled` and `sync+pooled` alike.") in text
    assert ("- Question 6 (Which ASGI server?): no contradiction; told in B only: capacity: "
            "`async+pooled` did better than `async-sql@gunicorn-asgi+pooled`.") in text
    assert "By the study's rules the two contradict each other in question 1." in text


def test_what_a_sweep_tells_is_each_wait_beaten_or_not():
    from test_sweep import sweep_report
    [(_q, _asked, a)] = sweep_report().answers()
    told = repro.claims(a)
    assert told[("Beaten", "sync+pooled+upstream", 10.0)] == "not beaten"
    assert told[("Beaten", "sync+pooled+upstream", 100.0)] == "beaten"
    assert repro.claim_words(("Beaten", "sync+pooled+upstream", 100.0), "beaten") == (
        "`sync+pooled+upstream` beaten at 100 ms")
