"""The wait sweep (question 7): the probe's plan, the bounds, the crossover
rule and the report, from synthetic results modelled on a real sweep."""
import json
import math

import pytest

import repro
from repro import Asked, Cell, RampResult, SetupResult
from test_ramp import FakeClock, FakeDriver
from test_report import SETTINGS, check_golden, report, steps

WAITS = (10.0, 100.0, 1000.0)
SYNC_BASE = Cell("sync-sql", "gunicorn-sync", "pooled", "upstream")
GTHREAD_BASE = Cell("sync-sql", "gunicorn-gthread", "pooled", "upstream")
ASYNC_BASE = Cell("async-sql", "uvicorn", "pooled", "upstream")
CTX = repro.LimitContext(cores=2, server=repro.ServerSettings(), db_limit_rps=None,
                         max_connections=100)

# (base, wait) -> the probe's levels as (users, requests, rps, p50 ms), and
# the CPU per request of the server and PostgreSQL.  Each request holds a
# worker for 12 ms besides the wait; sync workers have 4 slots, gthread 32;
# the cores allow 2000 / (CPU ms + 0.25 ms of the load generator).
PROBES = {
    (SYNC_BASE, 10.0): ([(1, 20, 45.0, 22.0), (6, 200, 125.0, 45.0), (12, 240, 130.0, 90.0)],
                        (11.0, 3.75)),
    (SYNC_BASE, 100.0): ([(1, 9, 8.9, 112.0), (6, 70, 35.0, 170.0), (12, 75, 35.2, 340.0)],
                         (11.0, 3.75)),
    (SYNC_BASE, 1000.0): ([(1, 5, 1.0, 1012.0), (6, 12, 3.9, 1520.0), (12, 12, 3.9, 3040.0)],
                          (11.0, 3.75)),
    (GTHREAD_BASE, 10.0): ([(1, 20, 45.0, 22.0), (48, 300, 96.0, 480.0),
                            (96, 310, 98.0, 960.0)], (15.0, 4.75)),
    (GTHREAD_BASE, 100.0): ([(1, 9, 8.9, 112.0), (48, 300, 95.0, 500.0),
                             (96, 300, 97.0, 990.0)], (15.0, 4.75)),
    # Under its slots bound (31.6) by more than 25%: the report names the gap.
    (GTHREAD_BASE, 1000.0): ([(1, 5, 1.0, 1012.0), (48, 60, 20.0, 2400.0),
                              (96, 60, 20.5, 4700.0)], (15.0, 4.75)),
    (ASYNC_BASE, 10.0): ([(1, 20, 50.0, 20.0), (16, 210, 100.0, 160.0),
                          (32, 220, 105.0, 300.0)], (13.0, 4.75)),
    (ASYNC_BASE, 100.0): ([(1, 9, 9.5, 105.0), (18, 200, 104.0, 170.0),
                           (36, 220, 110.0, 330.0)], (13.0, 4.75)),
    (ASYNC_BASE, 1000.0): ([(1, 5, 1.0, 1004.0), (167, 210, 104.0, 1600.0),
                            (334, 215, 108.0, 3100.0)], (13.0, 4.75)),
}


def probe_result(base, wait):
    levels, (server, postgres) = PROBES[(base, wait)]
    ramp = RampResult(steps=steps([(u, n, 0, rps, p50) for u, n, rps, p50 in levels]),
                      stop_reason="completed", probe=True, driver="psycopg2 2.9.13",
                      cpu_ms={"server": server, "postgres": postgres}, max_db_connections=8)
    return SetupResult(repro.dataclasses.replace(base, wait_ms=wait), (), probes=(ramp,))


# --upstream-ms apart from every wait here: no point is question 2's cell.
SERVER = repro.ServerSettings(upstream_ms=250.0)
SETUPS = tuple(probe_result(base, wait) for wait in WAITS
               for base in (SYNC_BASE, GTHREAD_BASE, ASYNC_BASE))
ASKED = Asked(7, repro.QUESTIONS[7].cells(WAITS, SERVER))
CTX = repro.dataclasses.replace(CTX, server=SERVER)


def sweep_report():
    st = repro.dataclasses.replace(SETTINGS, waits=WAITS, server=SERVER,
                                   setups=tuple(c.name for c in ASKED.cells))
    return report(command="python repro.py study --questions 7 --waits 10,100,1000",
                  settings=st, setups=SETUPS, questions=(ASKED,), seconds=140.0)


def test_the_sweep_asks_three_pooled_cells_at_each_wait_shortest_first():
    cells = repro.QUESTIONS[7].cells((1000.0, 10.0), SERVER)
    assert [c.name for c in cells] == [
        "sync+pooled+upstream=10", "sync-sql@gunicorn-gthread+pooled+upstream=10",
        "async+pooled+upstream=10", "sync+pooled+upstream=1000",
        "sync-sql@gunicorn-gthread+pooled+upstream=1000", "async+pooled+upstream=1000"]
    assert all(repro.cell_named(c.name) == c for c in cells)


def test_at_the_runs_upstream_wait_a_point_is_question_2s_cell_measured_once_for_both():
    server = repro.ServerSettings(upstream_ms=100.0)
    swept = repro.QUESTIONS[7].cells((10.0, 100.0), server)
    q2 = repro.QUESTIONS[2].cells((10.0, 100.0), server)
    assert [c.name for c in swept[3:]] == [
        "sync+pooled+upstream", "sync-sql@gunicorn-gthread+pooled+upstream",
        "async+pooled+upstream"]
    assert set(swept[3:]) <= set(q2)
    sequence = repro.study_sequence([Asked(2, q2), Asked(7, swept)])
    probed = [m.setup for m in sequence if m.probe]
    assert len(probed) == len(set(probed)) == len(set(q2) | set(swept))


def test_a_probe_starts_with_one_user_then_enough_for_its_lower_bound_and_doubles():
    low = steps([(1, 5, 0, 1.0, 1012.0)])[0]
    # Four slots held 1012 ms each allow 3.95 req/s; 1.5 times what that
    # keeps in progress is 6 users, and never fewer than the slots.
    assert repro.probe_first_level(low, 4, None) == 6
    assert repro.probe_first_level(low, 32, 25.0) == 38  # the expected 25 req/s binds
    assert repro.probe_first_level(low, None, 110.0) == math.ceil(1.5 * 110 * 1.012)
    assert repro.probe_first_level(low, None, None) == repro.PROBE_FIRST
    first = lambda low: 6
    assert repro.probe_next([], first, 2048) == 1
    levels = steps([(1, 5, 0, 1.0, 1012.0), (6, 12, 0, 3.0, 1500.0), (12, 12, 0, 3.9, 3000.0),
                    (24, 12, 0, 4.0, 6000.0)])
    assert [repro.probe_next(levels[:n], first, 2048) for n in (1, 2, 3, 4)] == [6, 12, 24, None]
    assert repro.probe_next(levels[:2], first, 10) == 10  # at most the top
    erring = steps([(1, 5, 0, 1.0, 10.0), (6, 100, 50, 3.0, 15.0)])
    assert repro.probe_next(erring, first, 2048) is None


def test_a_probe_holds_the_higher_of_its_two_saturated_levels_or_says_it_never_saturated():
    saturated = steps([(1, 5, 0, 1.0, 10.0), (8, 90, 0, 100.0, 50.0), (16, 95, 0, 96.0, 160.0)])
    assert repro.probe_capacity(saturated) == (100.0, True)
    rising = steps([(1, 5, 0, 1.0, 10.0), (8, 90, 0, 50.0, 50.0), (16, 95, 0, 90.0, 160.0)])
    assert repro.probe_capacity(rising) == (90.0, False)  # a lower bound
    assert repro.probe_capacity(rising[:1]) == (None, False)
    # Errors at twice the users past saturation are the overload's: the
    # throughput still stopped rising.
    overloaded = steps([(1, 5, 0, 1.0, 10.0), (8, 90, 0, 100.0, 50.0), (16, 95, 5, 92.0, 900.0)])
    assert repro.probe_capacity(overloaded) == (100.0, True)
    # Errors where the throughput still rose: not saturated, a lower bound.
    erring = steps([(1, 5, 0, 1.0, 10.0), (8, 90, 0, 50.0, 50.0), (16, 95, 5, 90.0, 900.0)])
    assert repro.probe_capacity(erring) == (90.0, False)


def test_a_window_of_a_probe_lasts_its_median_latencies():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.8, think_time=0.0)
    rules = repro.StepRules(spread=0.0, seconds=0.5, min_requests=10, max_seconds=2.5,
                            latencies=3)
    window = repro.measure_step(driver, 20, 1, rules, None, clock, lambda: None)
    # Three waves of users, each 0.8 s apart, not the 0.5 s asked for.
    assert window.window_end - window.window_start == pytest.approx(2.4, abs=2 * repro.TICK)


def test_the_bounds_are_the_slots_over_the_time_a_request_holds_one_and_the_cores():
    sync, gthread, async_ = SETUPS[-3:]  # at 1000 ms
    b = repro.bounds_of(sync, CTX)
    assert (b.slots, b.hold_ms) == (4, 1012.0)
    assert b.slots_rps == pytest.approx(4000 / 1012)
    assert b.cpu_ms == pytest.approx(11.0 + 3.75 + 0.25)  # the load generator's too
    assert b.cores_rps == pytest.approx(2000 / 15.0)
    assert (b.predicted_rps, b.limited_by) == (pytest.approx(4000 / 1012), "slots")
    assert repro.off_prediction(3.9, b) is None  # 1% under
    g = repro.bounds_of(gthread, CTX)
    assert g.slots_rps == pytest.approx(32000 / 1012)
    assert repro.off_prediction(20.5, g) == pytest.approx(20.5 / (32000 / 1012) - 1)
    a = repro.bounds_of(async_, CTX)
    assert (a.slots, a.slots_rps, a.limited_by) == (None, None, "cores")
    assert a.predicted_rps == pytest.approx(2000 / 18.0)
    early = repro.bounds_of(SETUPS[0], CTX)  # sync workers at 10 ms: the cores bind
    assert early.limited_by == "cores" and early.slots_rps == pytest.approx(4000 / 22)


A, ALIKE, UNTOLD = repro.Told.A, repro.Told.ALIKE, repro.Told.UNTOLD


@pytest.mark.parametrize("said, crossover", [
    ({10: ALIKE, 100: A, 1000: A}, 100),
    # Beaten at 30 ms, not at 100: the crossover is where it stays beaten.
    ({30: A, 100: ALIKE, 300: A}, 300),
    ({10: ALIKE, 100: ALIKE}, None),
    # Not told at the longest wait: no crossover is told.
    ({10: A, 100: UNTOLD}, None),
    # Not told below it: still from where every longer wait is beaten.
    ({10: UNTOLD, 100: A, 1000: A}, 100),
    ({10: A, 100: A}, 10),
])
def test_the_crossover_is_the_wait_from_which_on_the_async_view_beat_the_other(said, crossover):
    assert repro.crossover(said) == crossover


def rates(name, values):
    return [repro.Rate(name, v, saturated) for v, saturated in values]


def relation(fast, other):
    """Capacity round by round, as sweep_of builds it."""
    return repro.Relation("Capacity", "fast", "other", tuple(
        (k, repro.compare_rates("Capacity", a, b),
         repro.compare_rates("Capacity", a, b, repro.RELIABLY_WITHIN))
        for k, (a, b) in enumerate(zip(rates("fast", fast), rates("other", other)), start=1)),
        wanted=len(fast))


@pytest.mark.parametrize("fast, other, said", [
    # Under 75% of the async view in every round: beaten.
    ([(100, True), (90, True)], [(50, True), (60, True)], A),
    # Exactly 75% is not beaten; within 15% in every round: not beaten.
    ([(100, True), (100, True)], [(75, True), (90, True)], UNTOLD),
    ([(100, True), (100, True)], [(90, True), (120, True)], ALIKE),
    # Beaten in one round, within 15% in the other: not told.
    ([(100, True), (100, True)], [(50, True), (95, True)], UNTOLD),
    # A lower bound is never beaten; the faster one's lower bound still beats.
    ([(100, True), (100, True)], [(20, False), (20, False)], UNTOLD),
    ([(100, False), (100, False)], [(50, True), (50, True)], A),
])
def test_at_each_wait_the_rounds_tell_beaten_not_beaten_or_nothing(fast, other, said):
    assert repro.crossing(relation(fast, other)) is said


def test_one_round_of_two_tells_nothing():
    one = relation([(100, True)], [(50, True)])
    assert repro.crossing(repro.dataclasses.replace(one, wanted=2)) is UNTOLD
    assert repro.crossing(one) is A


def test_the_sweep_answer_names_the_crossovers():
    [(_q, _asked, a)] = sweep_report().answers()
    assert a.sweep.faster == "async+pooled+upstream"
    assert a.sweep.crossovers == (("sync+pooled+upstream", 100.0),
                                  ("sync-sql@gunicorn-gthread+pooled+upstream", 1000.0))
    assert not a.answered and a.ranking == ()
    # 4 slots x 1000 / (75% of the 111 req/s the cores allow the async view),
    # less the 12 ms each request holds a worker besides the wait.
    (_, sync), (_, gthread) = a.sweep.predicted
    assert sync == pytest.approx(4000 / (0.75 * 2000 / 18.0) - 12)
    assert gthread == pytest.approx(32000 / (0.75 * 2000 / 18.0) - 12)


def test_sweep_report_golden():
    text = repro.render_markdown(sweep_report())
    check_golden("report_sweep.md", text)
    assert "| setup | view |" not in text  # no ramped setup: no summary table of them
    assert "-35%: more than 25% off" in text


def test_the_sweep_json_carries_each_point_and_the_crossovers_and_reads_back(tmp_path):
    data = repro.report_to_json(sweep_report())
    assert list(data["settings"]["waits"]) == list(WAITS)
    point = data["setups"][-1]
    assert point["name"] == "async+pooled+upstream=1000"
    probe = point["probe"]
    assert (probe["upstream_ms"], probe["capacity_rps"], probe["limited_by"]) == (
        1000.0, 108.0, "cores")
    assert probe["rounds"] == {"1": 108.0} and probe["over_cores"] == []
    assert probe["bounds"] == {"slots": None, "cores": pytest.approx(2000 / 18.0)}
    assert data["setups"][-3]["probe"]["bounds"]["slots"] == pytest.approx(4000 / 1012)
    assert point["repeats"] == [] and point["probes"][0]["round"] == 1
    [q7] = data["questions"]
    assert q7["crossovers"] == {"sync+pooled+upstream": 100.0,
                                "sync-sql@gunicorn-gthread+pooled+upstream": 1000.0}
    assert q7["crossings"]["sync+pooled+upstream"] == {"10": "not beaten", "100": "beaten",
                                                       "1000": "beaten"}
    assert set(q7["predicted_crossovers"]) == set(q7["crossovers"])
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(data))
    again = repro.load_run(str(path))
    assert repro.render_markdown(again) == repro.render_markdown(sweep_report())


def test_a_sweep_chart_is_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    png = repro.render_chart(sweep_report())
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_persistent_connections_under_asgi_carry_django_s_advice_against_them():
    ramp = RampResult(steps=steps([(10, 100, 0, 10.0, 20.0)]), stop_reason="completed")
    st = SETTINGS

    def notes(name):
        return " ".join(repro.cell_notes(SetupResult(repro.cell_named(name), (ramp,)), st))
    advice = "Django's documentation advises against persistent connections under ASGI"
    assert advice in notes("async-orm@uvicorn+persistent")
    assert advice in notes("sync-orm@uvicorn+persistent")
    assert advice not in notes("sync-orm@gunicorn-sync+persistent")
    assert advice not in notes("async-orm@uvicorn+pooled")
    assert "persistent connections (CONN_MAX_AGE 600, CONN_HEALTH_CHECKS on)" in \
        repro.describe_cell(repro.cell_named("sync-orm@gunicorn-sync+persistent"))


def test_past_its_first_level_a_probe_spreads_its_users_over_that_level_s_time():
    rules = repro.StepRules(spread=0.0, seconds=2.0, min_requests=10, max_seconds=10.0)
    low = steps([(1, 5, 0, 1.0, 1012.0)])
    first = repro.probe_rules(rules, ())
    assert (first.min_requests, first.spread, first.latencies) == (
        repro.PROBE_LOW_REQUESTS, 0.0, 0)
    later = repro.probe_rules(rules, low)
    assert (later.min_requests, later.spread, later.latencies) == (
        10, pytest.approx(1.012), repro.PROBE_LATENCIES)


def test_a_point_over_its_own_cores_bound_tells_nothing_of_its_wait():
    over = repro.dataclasses.replace(relation([(100, True), (100, True)], [(50, True), (50, True)]),
                                     void="async+pooled+upstream=300: capacity over its own "
                                          "cores bound")
    assert repro.crossing(over) is UNTOLD
