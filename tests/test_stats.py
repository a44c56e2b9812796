"""Pure logic: percentiles, step statistics, thresholds, the ramp's plan,
comparisons."""
import random

import pytest

import repro
from repro import Sample, StepStats, StepWindow


def step(level, p50, requests=100, failures=0, rps=None, kind="http_500", order=1,
         arrival=None):
    rps = float(level if rps is None else rps)
    return StepStats(
        level=level, order=order, requests=requests, failures=failures,
        failures_by_kind={kind: failures} if failures else {},
        rps=rps, arrival_rps=rps if arrival is None else arrival, completion_rps=rps,
        p50_ms=p50, p95_ms=None if p50 is None else p50 * 1.5,
        p99_ms=None if p50 is None else p50 * 2, client_cpu_pct=5.0, client_cpu_ms=0.2,
        settle_seconds=1.0, seconds=2.0)


# --- percentiles ----------------------------------------------------------

@pytest.mark.parametrize("values, q, expected", [
    ([], 50, None),
    ([7.0], 99, 7.0),
    ([1, 2, 3, 4], 50, 2.5),
    ([1, 2, 3, 4, 5], 50, 3),
    ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 95, 95.5),
    ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 99, 99.1),
    ([1, 2, 3], 0, 1),
    ([1, 2, 3], 100, 3),
])
def test_percentile_interpolates_between_closest_ranks(values, q, expected):
    result = repro.percentile(values, q)
    assert result == pytest.approx(expected) if expected is not None else result is None


# --- one step ---------------------------------------------------------------

def test_a_step_counts_the_requests_that_ended_in_its_window():
    window = StepWindow(level=3, order=2, start=9.0, window_start=10.0, window_end=12.0,
                        end=12.0, cpu_seconds=0.35, sent=6)
    samples = [
        Sample(8.5, 9.5, "ok"),         # ended while settling: no step's
        Sample(9.0, 10.0, "ok"),        # ends at window_start: counted
        Sample(9.5, 10.1, "ok"),        # sent while settling, ended in the window: counted
        Sample(10.0, 10.010, "ok"),
        Sample(10.5, 10.530, "ok"),
        Sample(11.0, 11.020, "http_500"),
        Sample(11.4, 11.9, "timeout"),
        Sample(11.5, 12.400, "ok"),     # still in flight at the window's end: not counted
        Sample(11.9, 12.0, "ok"),       # ends at window_end: the next window's
    ]
    s = repro.step_stats(window, samples)
    assert (s.level, s.order) == (3, 2)
    assert s.requests == 6
    assert s.failures == 2
    assert s.failures_by_kind == {"http_500": 1, "timeout": 1}
    assert s.error_rate == pytest.approx(1 / 3)
    assert s.rps == pytest.approx(2.0)  # 4 successes completed in a 2 s window
    assert s.arrival_rps == pytest.approx(3.0)  # 6 sent, as the load generator counted
    assert s.completion_rps == pytest.approx(3.0)  # 6 of any kind completed
    assert s.steady
    assert s.p50_ms == pytest.approx(315.0)  # of 10, 30, 600 and 1000 ms
    assert s.p95_ms == pytest.approx(600.0 + 0.85 * 400.0)
    assert s.client_cpu_pct == pytest.approx(350 / 30)  # 0.35 s of CPU in 3 s
    assert s.client_cpu_ms == pytest.approx(50.0)  # 0.35 s for the 7 completed during the step
    assert s.settle_seconds == pytest.approx(1.0)
    assert s.seconds == pytest.approx(3.0)


def test_without_the_count_sent_a_window_counts_the_samples_sent_in_it():
    window = StepWindow(3, 1, 9.0, 10.0, 12.0, 12.0, 0.0)
    samples = [Sample(9.5, 10.1, "ok"), Sample(10.5, 10.6, "ok"), Sample(11.5, 12.5, "ok")]
    assert repro.step_stats(window, samples).arrival_rps == pytest.approx(1.0)


def test_requests_that_end_while_a_step_settles_count_for_no_step():
    first = StepWindow(10, 1, 0.0, 1.0, 2.0, 2.0, 0.0)
    second = StepWindow(20, 2, 2.0, 3.4, 4.4, 4.4, 0.0)
    samples = [Sample(1.5, 1.6, "ok"), Sample(1.9, 2.5, "ok"), Sample(3.0, 3.1, "ok"),
               Sample(3.3, 3.6, "ok"), Sample(4.0, 4.45, "ok")]
    a, b = (repro.step_stats(w, samples) for w in (first, second))
    assert (a.requests, b.requests) == (1, 1)  # 2.5 and 3.1 fell while settling, 4.45 after


def test_a_window_is_steady_when_arrivals_and_completions_agree_within_five_percent():
    assert step(10, 20.0, rps=100, arrival=104.9).steady
    assert not step(10, 20.0, rps=100, arrival=105.5).steady
    assert step(10, None, rps=0, arrival=0).steady


def test_step_without_successes_has_no_latency():
    window = StepWindow(5, 1, 0.0, 0.0, 31.0, 31.0, 0.1)
    s = repro.step_stats(window, [Sample(0.1, 30.1, "timeout"), Sample(0.2, 0.3, "connection")])
    assert (s.requests, s.failures, s.rps, s.p50_ms, s.p99_ms) == (2, 2, 0.0, None, None)


# --- thresholds ---------------------------------------------------------------

def test_no_slowdown_and_no_errors_are_reported_as_not_reached():
    steps = [step(u, 20.0 + u / 100) for u in (10, 20, 30, 40)]
    t = repro.find_thresholds(steps)
    assert (t.slowdown, t.errors, t.max_level) == (None, None, 40)
    assert t.baseline_ms == 20.1
    assert (t.peak_rps, t.peak_level) == (40.0, 40)
    assert (t.plateau_spread, t.sustained) == (None, 40)
    assert repro.fmt_threshold(t.slowdown, t.max_level) == "none up to 40"


def test_slowdown_needs_twice_the_baseline_median_confirmed_by_the_next_step():
    steps = [step(10, 20.0), step(20, 39.9), step(30, 40.0), step(40, 80.0), step(50, 90.0)]
    t = repro.find_thresholds(steps)
    assert t.slowdown == 30
    assert t.sustained == 20


def test_errors_from_the_first_step():
    steps = [step(10, 20.0, failures=5), step(20, 21.0, failures=10), step(30, 22.0, failures=30)]
    t = repro.find_thresholds(steps)
    assert t.errors == 10
    assert t.slowdown is None
    assert t.sustained is None


def test_error_threshold_is_one_percent():
    steps = [step(10, 20.0, requests=200, failures=1), step(20, 20.0, requests=200, failures=2),
             step(30, 20.0, requests=200, failures=3)]
    assert repro.find_thresholds(steps).errors == 20


def test_noisy_baseline_median_ignores_outliers_and_a_lone_spike():
    window = StepWindow(10, 1, 0.0, 0.0, 2.0, 2.0, 0.0)
    lowest = repro.step_stats(window, [Sample(0.1 * i, 0.1 * i + d, "ok") for i, d in
                                       enumerate([0.020, 0.021, 0.019, 0.900, 0.020])])
    assert lowest.p50_ms == pytest.approx(20.0)
    # 50 users is one noisy step, not a slowdown; 80 is where it stays slow.
    steps = [lowest, step(20, 22.0), step(30, 25.0), step(40, 24.0), step(50, 60.0),
             step(60, 26.0), step(70, 30.0), step(80, 45.0), step(90, 70.0)]
    t = repro.find_thresholds(steps)
    assert t.baseline_ms == pytest.approx(20.0)
    assert t.slowdown == 80
    # The highest level below both thresholds that itself held up: not 50.
    assert t.sustained == 70


def test_a_lone_failing_step_is_not_the_error_threshold():
    steps = [step(10, 20.0), step(20, 20.0, failures=3), step(30, 20.0), step(40, 20.0)]
    assert repro.find_thresholds(steps).errors is None


def test_last_step_needs_no_confirmation():
    steps = [step(10, 20.0), step(20, 20.0), step(30, 50.0, failures=2)]
    t = repro.find_thresholds(steps)
    assert (t.slowdown, t.errors) == (30, 30)


def test_step_without_successful_response_counts_as_slowed_down():
    steps = [step(10, 20.0), step(20, 30.0), step(30, None, failures=100), step(40, None, failures=100)]
    t = repro.find_thresholds(steps)
    assert (t.slowdown, t.errors) == (30, 30)


def test_lowest_step_without_successes_is_slowed_down_already():
    steps = [step(10, None, failures=100, rps=0), step(20, None, failures=100, rps=0)]
    t = repro.find_thresholds(steps)
    assert (t.baseline_ms, t.slowdown, t.errors) == (None, 10, 10)
    assert (t.peak_rps, t.peak_level) == (0.0, None)


def test_plateau_spread_runs_from_the_slowdown_up_to_not_including_the_errors():
    steps = [step(10, 20.0), step(20, 21.0), step(40, 50.0, rps=100), step(60, 80.0, rps=110),
             step(80, 120.0, rps=90), step(100, 150.0, rps=40, failures=10),
             step(120, 200.0, rps=30, failures=20)]
    t = repro.find_thresholds(steps)
    assert (t.slowdown, t.errors) == (40, 100)
    # From the first level above the slowdown threshold: 60 and 80 users.
    assert t.plateau_spread == pytest.approx((110 - 90) / 100)
    assert t.capacity_rps == pytest.approx(100)
    # Without errors, the plateau runs to the highest level.
    t = repro.find_thresholds(steps[:5])
    assert t.plateau_spread == pytest.approx((110 - 90) / 100)
    # One level is no plateau: its capacity is that window's, with no spread.
    t = repro.find_thresholds(steps[:4])
    assert (t.plateau_spread, t.capacity_rps) == (None, 110)
    # Nothing above the threshold: the threshold's own level.
    t = repro.find_thresholds(steps[:3])
    assert (t.slowdown, t.plateau_spread, t.capacity_rps) == (40, None, 100)
    # Never slowed down: no capacity.
    assert repro.find_thresholds(steps[:2]).capacity_rps is None


def test_the_plateau_is_of_its_steady_windows_or_of_all_where_fewer_than_two_are():
    filling = dict(arrival=150)  # 150 sent a second, about 100 completed: not steady
    steps = [step(10, 20.0), step(20, 21.0), step(40, 50.0, rps=100),
             step(60, 80.0, rps=70, **filling), step(80, 120.0, rps=110),
             step(90, 130.0, rps=100), step(100, 150.0, rps=40, failures=10)]
    assert [s.level for s in repro.plateau_windows(steps, 40, 100)] == [80, 90]
    t = repro.find_thresholds(steps)
    assert t.plateau_spread == pytest.approx((110 - 100) / 105)
    assert t.capacity_rps == pytest.approx(105)
    # One steady window: all of them count, the unsteady 70 req/s too.
    steps[4] = step(80, 120.0, rps=110, arrival=170)
    assert [s.level for s in repro.plateau_windows(steps, 40, 100)] == [60, 80, 90]
    t = repro.find_thresholds(steps)
    assert t.plateau_spread == pytest.approx((110 - 70) / 100)
    assert t.capacity_rps == pytest.approx(100)
    assert repro.plateau_windows(steps, None, 100) == []
    # A window that drained a backlog (more done than sent) counted more than
    # the setup serves: left out where others did not drain.
    steps[3] = step(60, 80.0, rps=140, arrival=100)
    assert steps[3].draining
    assert [s.level for s in repro.plateau_windows(steps, 40, 100)] == [80, 90]
    assert repro.find_thresholds(steps).capacity_rps == pytest.approx(105)
    every = [step(level, 20.0 + level, rps=100, arrival=50) for level in (10, 20, 40, 60)]
    assert [s.level for s in repro.plateau_windows(every, 20, None)] == [40, 60]


def test_a_ramp_says_which_windows_its_plateau_spread_is_of():
    steps = [step(10, 20.0), step(20, 21.0), step(40, 50.0, rps=100), step(60, 80.0, rps=110),
             step(80, 120.0, rps=90)]
    text = "\n".join(repro.render_ramp(repro.RampResult(tuple(steps), "completed"), "users"))
    assert ("Capacity 100.0 req/s, the median at 60 and 80 users (its steady windows); "
            "plateau spread 20%: 90.0 to 110.0 req/s.") in text
    unsteady = [s if s.level < 60 else repro.dataclasses.replace(s, arrival_rps=2 * s.rps)
                for s in steps]
    text = "\n".join(repro.render_ramp(repro.RampResult(tuple(unsteady), "completed"), "users"))
    assert ("Capacity 100.0 req/s, the median at 60 and 80 users (those that did not drain, "
            "fewer than two being steady); plateau spread 20%: 90.0 to 110.0 req/s.") in text
    # Only the plateau's windows: not the unsteady one, nor those past the errors.
    mixed = [step(10, 20.0), step(20, 21.0), step(40, 50.0, rps=100),
             step(60, 80.0, rps=130, arrival=200), step(80, 120.0, rps=90),
             step(90, 130.0, rps=100), step(100, 150.0, rps=140, failures=10),
             step(120, 200.0, rps=30, failures=20)]
    text = "\n".join(repro.render_ramp(repro.RampResult(tuple(mixed), "completed"), "users"))
    assert "at 80 and 90 users (its steady windows); plateau spread 11%: 90.0 to 100.0" in text
    # Without a slowdown threshold there is no plateau to speak of.
    flat = [step(level, 20.0) for level in (10, 20, 40)]
    assert "Capacity" not in "\n".join(repro.render_ramp(
        repro.RampResult(tuple(flat), "completed"), "users"))


def test_ramp_stopped_early_after_two_steps_above_half_errors():
    steps = [step(10, 20.0), step(20, 30.0, failures=20), step(30, 60.0, failures=51),
             step(40, 80.0, failures=50)]
    assert repro.early_stop_reason(steps[:3]) is None
    assert repro.early_stop_reason(steps[:4]) is None  # 50% is not above 50%
    steps[3] = step(40, 80.0, failures=70)
    reason = repro.early_stop_reason(steps)
    assert reason == "stopped at 40: more than 50% of requests failed for 2 steps in a row"
    t = repro.find_thresholds(steps)
    assert (t.slowdown, t.errors, t.max_level) == (30, 20, 40)


def test_peak_throughput_prefers_the_lower_level_on_a_tie():
    steps = [step(10, 20.0, rps=10), step(20, 20.0, rps=30), step(30, 20.0, rps=30),
             step(40, 20.0, rps=25)]
    t = repro.find_thresholds(steps)
    assert (t.peak_rps, t.peak_level) == (30.0, 20)


def test_no_steps_at_all():
    t = repro.find_thresholds([])
    assert t == repro.Thresholds(None, None, None, 0.0, None, 0, None, None, 0, 0, None)


def test_most_common_failure():
    steps = [step(10, 20.0, failures=3, kind="timeout"), step(20, 20.0, failures=2, kind="http_500"),
             step(30, 20.0, failures=2, kind="http_500")]
    assert repro.most_common_failure(steps) == "http_500"
    assert repro.most_common_failure([step(10, 20.0)]) is None


# --- repeats ---------------------------------------------------------------------

def thresholds(slowdown, errors, max_level=300, peak=100.0, baseline=20.0):
    return repro.Thresholds(baseline, slowdown, errors, peak, 100, max_level, 0.1, 50,
                            max_level, max_level)


def test_the_median_of_repeats_ranks_a_threshold_not_reached_above_all_reached():
    each = [thresholds(110, None), thresholds(130, 250), thresholds(121, None)]
    t = repro.median_thresholds(each)
    assert (t.slowdown, t.errors, t.max_level) == (121, None, 300)
    # An even count gives the lower middle one: a level that was measured.
    t = repro.median_thresholds(each[:2])
    assert (t.slowdown, t.errors) == (110, 250)
    assert repro.median_thresholds(each[:1]) == each[0]


def test_threshold_range_over_repeats():
    assert repro.threshold_range([(110, 300), (130, 300), (121, 300)]) == "110-130"
    assert repro.threshold_range([(250, 300), (None, 300)]) == "250 to >300"
    assert repro.threshold_range([(None, 300), (None, 300)]) == ">300"
    assert repro.threshold_range([(90, 300)]) == "90"
    # Not reached up to 60 is only known to lie above 60: below 200.
    assert repro.threshold_range([(200, 300), (210, 300), (None, 60)]) == ">60 to 210"
    assert repro._with_range("100", [(100, 300), (100, 150)]) == "100"


# --- the ramp's plan ------------------------------------------------------------

def test_linear_plan():
    assert repro.linear_plan(50, 10) == [10, 20, 30, 40, 50]
    assert repro.linear_plan(25, 10) == [10, 20, 25]
    assert repro.linear_plan(5, 10) == [5]


def test_adaptive_plan_adds_step_or_ten_percent():
    assert repro.adaptive_plan(300, 10) == [
        10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 121, 133, 146, 161, 177, 195, 215, 237,
        261, 287, 300]
    assert repro.adaptive_plan(5, 10) == [5]
    assert repro.adaptive_plan(30, 7) == [7, 14, 21, 28, 30]


@pytest.mark.parametrize("top, step_", [(300, 10), (400, 10), (1000, 5), (77, 3)])
def test_adaptive_plan_never_steps_more_than_step_or_ten_percent(top, step_):
    plan = repro.adaptive_plan(top, step_)
    assert plan[-1] == top and plan == sorted(set(plan))
    for low, high in zip(plan, plan[1:]):
        assert high - low <= max(step_, round(low * 1.1) - low)


class Model:
    """A made-up server: its median and error rate at each level."""

    def __init__(self, knee, errors_from=None, base=20.0, noisy=()):
        self.knee, self.errors_from, self.base, self.noisy = knee, errors_from, base, set(noisy)

    def measure(self, level, order):
        slow = level >= self.knee or level in self.noisy
        p50 = self.base * (3 if slow else 1 + level / self.knee / 2)
        failures = 10 if self.errors_from is not None and level >= self.errors_from else 0
        return step(level, p50, failures=failures, order=order)


def search(model, top=300, step_=10):
    steps = []
    while (level := repro.search_next(steps, top, step_)) is not None:
        assert level not in {s.level for s in steps}, "a level measured twice"
        steps.append(model.measure(level, len(steps) + 1))
    return [s.level for s in steps], repro.find_thresholds(sorted(steps, key=lambda s: s.level))


@pytest.mark.parametrize("model, order, slowdown, errors", [
    # Like the sync setup: saturated at about 125 users, no errors.
    (Model(125), [10, 40, 80, 160, 20, 110, 133, 121, 300], 133, None),
    # Like the async setup: slow from about 70, errors from about 195.
    (Model(70, 195), [10, 40, 80, 20, 60, 70, 160, 300, 213, 176, 194, 234], 70, 213),
    # Never saturated up to the top: every doubling, nothing to narrow.
    (Model(1000), [10, 40, 80, 160, 300, 20], None, None),
    # Broken from the start: the lowest level already fails.
    (Model(1000, 0), [10, 40, 80, 160, 300, 20], None, 10),
    # A lone slow level is not a threshold: one fine step above refutes it,
    # once the bisection below it found nothing lower (that costs steps).
    (Model(125, noisy=[40]), [10, 40, 20, 30, 50, 100, 200, 146, 121, 133, 300], 133, None),
    (Model(125, noisy=[80]), [10, 40, 80, 20, 60, 70, 90, 180, 133, 110, 121, 146, 300],
     133, None),
    # A threshold right above the lowest level: the bisection measures 20.
    (Model(15), [10, 40, 20, 80, 160, 300], 20, None),
])
def test_knee_search_golden(model, order, slowdown, errors):
    levels, t = search(model)
    assert levels == order
    assert (t.slowdown, t.errors) == (slowdown, errors)


@pytest.mark.parametrize("seed", range(40))
def test_knee_search_finds_what_a_ramp_of_fine_steps_finds(seed):
    """Against made-up servers, each threshold of the search lies within one
    fine step above the true one, as the adaptive ramp's (which measures
    every level) does."""
    rng = random.Random(seed)
    knee = rng.randint(15, 400)
    errors = rng.choice([None, rng.randint(15, 400)])
    model, top = Model(knee, errors), rng.choice([300, 400, 1000])
    _, found = search(model, top)
    fine = [model.measure(level, 1) for level in repro.adaptive_plan(top, 10)]
    expected = repro.find_thresholds(fine, 10)
    for ours, theirs, true in ((found.slowdown, expected.slowdown, knee),
                               (found.errors, expected.errors, errors)):
        if theirs is None:
            assert ours is None
        else:
            assert true <= ours <= repro.fine_up(true, 10), (knee, errors, top)
            assert true <= theirs <= repro.fine_up(true, 10), (knee, errors, top)


def test_knee_search_takes_fewer_levels_than_a_ramp_of_fine_steps():
    assert len(search(Model(125))[0]) == 9
    assert len(search(Model(70, 195))[0]) == 12
    assert len(repro.adaptive_plan(300, 10)) == 22


def test_fixed_ramps_stop_early_when_most_requests_fail():
    next_level = repro.RAMPS["linear"].next_level
    steps = [step(10, 20.0), step(20, 60.0, failures=60), step(30, 80.0, failures=70)]
    assert next_level(steps[:2], 50, 10) == 30
    assert next_level(steps, 50, 10) is None
    assert next_level([step(10, 20.0)] * 5, 50, 10) is None  # the plan is done


# --- comparisons and the verdict ----------------------------------------------------

R = repro.Reached


def made(metric, winner, decided=True):
    """A comparison that came out as given: winner "sync" or "async" (or
    another name, against "other"), or None."""
    if winner is None:
        return repro.Comparison(metric, R("sync", 50, 300), R("async", 50, 300),
                                repro.Decision.TIE if decided else repro.Decision.NEITHER)
    loser = "other" if winner not in ("sync", "async") else ({"sync", "async"} - {winner}).pop()
    return repro.Comparison(metric, R(winner, 100, 300), R(loser, 50, 300), repro.Decision.WON)


def verdict(comparisons, a=repro.SIDES_2021[0], b=repro.SIDES_2021[1], where="here"):
    return repro.render_verdict(repro.outcome_of(comparisons, a, b), where)


def test_thresholds_within_fifteen_percent_are_no_substantial_difference():
    c = repro.compare_thresholds("Slowdown", R("sync", 140, 300), R("async", 121, 300), 10)
    assert c.winner is None
    assert repro.comparison_text(c) == ("Slowdown: sync at 140 users, async at 121 users: no substantial difference "
                      "(14% apart; the rule needs more than 15% and more than one step of 10).")


def test_one_step_apart_is_never_substantial():
    c = repro.compare_thresholds("Slowdown", R("sync", 20, 300), R("async", 10, 300), 10)
    assert c.winner is None


def test_a_threshold_reached_later_wins():
    c = repro.compare_thresholds("Slowdown", R("sync", 140, 300), R("async", 80, 300), 10)
    assert c.winner == "sync"
    assert repro.comparison_text(c) == ("Slowdown: sync at 140 users, async at 80 users: sync holds 75% more "
                      "users before it is reached.")


def test_thresholds_of_arrival_rates_say_so():
    c = repro.compare_thresholds("Slowdown", R("sync", 140, 300, "req/s"),
                                 R("async", 80, 300, "req/s"), 10)
    assert repro.comparison_text(c) == ("Slowdown: sync at 140 req/s, async at 80 req/s: sync holds 75% more "
                      "req/s before it is reached.")


def test_a_threshold_not_reached_is_a_lower_bound():
    c = repro.compare_thresholds("Errors", R("sync", None, 300), R("async", 215, 300), 10)
    assert c.winner == "sync"
    assert repro.comparison_text(c) == ("Errors: sync none up to 300 users, async at 215 users: sync holds at least "
                      "40% more users before it is reached.")
    # Not reached up to 200 says nothing against a threshold at 190.
    c = repro.compare_thresholds("Errors", R("sync", None, 200), R("async", 190, 300), 10)
    assert (c.winner, c.decided) == (None, False)
    assert repro.comparison_text(c) == ("Errors: sync none up to 200 users, async at 190 users: sync holds at least "
                      "as much; whether substantially more, a ramp beyond 200 users would tell.")
    # A tie with a bound: the bound is the higher one.
    c = repro.compare_thresholds("Errors", R("sync", 30, 30), R("async", None, 30), 10)
    assert (c.winner, c.decided) == (None, False)
    assert repro.comparison_text(c).startswith("Errors: sync at 30 users, async none up to 30 users: async holds at "
                             "least as much")
    # Nor, when the ramp was cut short at 100, against one at 200.
    c = repro.compare_thresholds("Errors", R("sync", None, 100), R("async", 200, 300), 10)
    assert (c.winner, c.decided) == (None, False)
    assert repro.comparison_text(c) == ("Errors: sync none up to 100 users, async at 200 users: cannot tell which "
                      "holds more; sync was measured clear of it only up to 100 users.")
    both = repro.compare_thresholds("Errors", R("sync", None, 300), R("async", None, 300), 10)
    assert (both.winner, both.decided) == (None, False)
    assert repro.comparison_text(both) == "Errors: neither setup reached it (sync up to 300, async up to 300 users)."


def test_peak_rates():
    c = repro.compare_rates("Capacity", repro.Rate("sync", 135.5, True), repro.Rate("async", 105.5, True))
    assert c.winner == "sync"
    assert repro.comparison_text(c) == ("Capacity: sync 135.5 req/s, async 105.5 req/s: async reaches only "
                      "78% of sync's.")
    assert repro.compare_rates("Capacity", repro.Rate("sync", 100.0, True), repro.Rate("async", 90.0, True)).winner \
        is None


def test_a_peak_the_load_never_saturated_decides_nothing():
    # Neither was slowed down: both peaks are only what the load asked for.
    c = repro.compare_rates("Capacity", repro.Rate("sync", 300.0, False), repro.Rate("async", 290.0, False))
    assert (c.winner, c.decided) == (None, False)
    assert repro.comparison_text(c) == ("Capacity: sync 300.0 req/s, async 290.0 req/s: cannot tell; the load "
                      "never slowed async down, so the most it served is not its capacity.")
    # The lower one unsaturated: it might have gone higher.
    c = repro.compare_rates("Capacity", repro.Rate("sync", 120.0, True), repro.Rate("async", 80.0, False))
    assert (c.winner, c.decided) == (None, False)
    # The higher one unsaturated: it is higher at least.
    c = repro.compare_rates("Capacity", repro.Rate("sync", 120.0, False), repro.Rate("async", 80.0, True))
    assert (c.winner, c.decided) == ("sync", True)


def ramp_with(slowdown, errors, peak=100.0):
    levels = [10, 20, 40, 44, 80, 88, 160, 176, 300]
    steps = []
    for i, level in enumerate(levels, start=1):
        slow = slowdown is not None and level >= slowdown
        steps.append(step(level, 60.0 if slow else 20.0, rps=min(level, peak), order=i,
                          failures=10 if errors is not None and level >= errors else 0))
    return repro.RampResult(tuple(steps), "completed")


def setup(name, *ramps):
    return repro.SetupResult(repro.NAMED_CELLS[name], tuple(ramps))


def test_a_winner_only_when_every_repeat_agrees():
    sync = setup("sync", ramp_with(160, None), ramp_with(160, None), ramp_with(80, None))
    async_ = setup("async", ramp_with(40, 160), ramp_with(40, 160), ramp_with(80, 160))
    slowdown, errors, peak = repro.compare_setups(sync, async_, 10, "users")
    assert slowdown.winner is None
    assert repro.comparison_text(slowdown) == (
        "Slowdown: sync at 160 users, async at 40 users: sync holds 300% more users before it "
        "is reached; but the 3 repeats do not all agree (better: sync, sync, neither), so this "
        "is within the noise.")
    assert errors.winner == "sync"
    assert repro.comparison_text(errors) == (
        "Errors: sync none up to 300 users, async at 160 users: sync holds at least 88% more "
        "users before it is reached, in each of the 3 repeats.")
    assert peak.winner is None


def test_one_repeat_is_compared_as_it_is():
    one = repro.compare_setups(setup("sync", ramp_with(160, None)),
                               setup("async", ramp_with(40, 160)), 10, "users")
    # async's capacity (80 req/s at 44-88 users) is 80% of sync's (100 at 176-300).
    assert [c.winner for c in one] == ["sync", "sync", "sync"]
    assert repro.comparison_text(one[0]).endswith("before it is reached.")


def test_verdict_says_what_was_not_decided():
    comparisons = [made("Slowdown", None), made("Errors", None, decided=False),
                   made("Capacity", None)]
    assert verdict(comparisons) == (
        "No substantial difference shown, but errors could not be told (ramp further): whether "
        "the async view made this app faster here cannot be told yet.")
    assert repro.outcome_of(comparisons).paid_off is None


@pytest.mark.parametrize("winners, decided, paid_off", [
    (["async", None, None], [True, False, True], True),
    (["sync", None, None], [True, False, True], False),
    (["sync", "async", None], [True] * 3, False),
    ([None, None, None], [True] * 3, False),
    ([None, None, None], [True, True, False], None),
])
def test_whether_async_paid_off_is_yes_no_or_cannot_tell(winners, decided, paid_off):
    metrics = ["Slowdown", "Errors", "Capacity"]
    comparisons = [made(m, w, d) for m, w, d in zip(metrics, winners, decided)]
    assert repro.outcome_of(comparisons).paid_off is paid_off


def test_a_peak_tie_needs_both_setups_saturated():
    c = repro.compare_rates("Capacity", repro.Rate("sync", 1000.0, True), repro.Rate("async", 900.0, False))
    assert (c.winner, c.decided) == (None, False)
    assert "never slowed async down" in repro.comparison_text(c)


def test_a_ramp_cut_short_does_not_confirm_its_highest_level():
    steps = (step(10, 20.0, order=1), step(20, 20.0, order=2), step(40, 90.0, order=3))
    done = repro.RampResult(steps, "completed")
    cut = repro.RampResult(steps, "interrupted at 80 users (that step is not counted)",
                           interrupted=True)
    assert done.thresholds.slowdown == 40
    assert cut.thresholds.slowdown is None
    # Nor does it say there was no slowdown up to 40: only up to 20.
    assert (cut.thresholds.slowdown_up_to, cut.thresholds.errors_up_to) == (20, 40)
    assert (done.thresholds.slowdown_up_to, done.thresholds.max_level) == (40, 40)


def test_none_up_to_stops_below_the_unconfirmed_levels_a_ramp_was_cut_short_at():
    # Cut short while slowed at its highest level: clear only below it.
    steps = [step(10, 20.0), step(20, 25.0), step(30, 30.0), step(40, 90.0), step(50, 95.0)]
    assert repro.find_thresholds(steps[:3] + steps[4:], last_counts=False).slowdown_up_to == 30
    assert repro.find_thresholds(steps, last_counts=False).slowdown == 40
    lone = [step(10, 20.0), step(20, 20.0), step(30, 90.0), step(40, 30.0), step(50, 95.0)]
    t = repro.find_thresholds(lone, last_counts=False)
    assert (t.slowdown, t.slowdown_up_to, t.errors_up_to) == (None, 40, 50)
    assert repro.find_thresholds(lone).slowdown == 50  # not cut short: the last one counts
    # Every level flagged: clear up to none of them.
    t = repro.find_thresholds([step(10, None)], last_counts=False)
    assert (t.slowdown, t.slowdown_up_to) == (None, 0)
    assert repro.fmt_threshold(t.slowdown, t.slowdown_up_to) == "not confirmed"


def test_a_flagged_level_left_open_below_the_top_is_not_clear_either():
    # Slowed at 80, and the next level measured, 160, lies more than two
    # fine steps higher: the search would have measured between them.
    steps = [step(10, 20.0), step(20, 20.0), step(40, 22.0), step(80, 45.0), step(160, 30.0)]
    assert repro.find_thresholds(steps, last_counts=False).slowdown_up_to == 40
    # A completed ramp counts that lone level as noise, as before.
    assert repro.find_thresholds(steps).slowdown_up_to == 160


def test_the_median_of_repeats_bounds_none_by_the_repeats_that_found_none():
    cut = repro.find_thresholds([step(10, 20.0), step(20, 20.0), step(40, 21.0),
                                 step(50, 90.0), step(55, 95.0)], last_counts=False)
    assert cut.slowdown == 50  # cut short, but confirmed at 55
    clear = thresholds(None, None, max_level=200)
    t = repro.median_thresholds([cut, clear, clear])
    assert (t.slowdown, t.slowdown_up_to) == (None, 200)
    # Where the median is a threshold reached, the bound is not used.
    t = repro.median_thresholds([cut, cut, clear])
    assert t.slowdown == 50


def test_comparisons_use_the_bound_of_none_not_the_highest_level():
    # Cut short at 160 while slowed there: none up to 80, not 160.
    cut = repro.Thresholds(20.0, None, None, 100.0, 160, 160, None, 80, 80, 160)
    other = thresholds(121, None)
    slowdown, errors, _ = repro.compare_thresholds_of("sync", cut, "async", other, 10, "users")
    assert repro.comparison_text(slowdown) == ("Slowdown: sync none up to 80 users, async at 121 users: cannot tell "
                             "which holds more; sync was measured clear of it only up to 80 "
                             "users.")
    assert repro.comparison_text(errors).startswith("Errors: neither setup reached it (sync up to 160, async up "
                                  "to 300 users)")
    nothing = repro.Thresholds(None, None, None, 0.0, None, 10, None, None, 0, 0)
    slowdown, errors, _ = repro.compare_thresholds_of("sync", nothing, "async", other, 10, "users")
    assert repro.comparison_text(slowdown).endswith("sync was measured clear of it at no level.")
    assert repro.comparison_text(errors) == ("Errors: neither setup reached it (sync not confirmed, async none up "
                           "to 300 users).")


@pytest.mark.parametrize("winners, decided, expected", [
    ([None, None, None], [True] * 3, "No substantial difference on any measure: the async view "
                                     "did not make this app faster here."),
    (["async", None, None], [True] * 3, "The async setup did better on slowdown and no worse on "
                                        "the rest: async paid off here."),
    (["async", None, None], [True, False, True], "The async setup did better on slowdown "
                                                 "(errors undecided): async paid off here."),
    (["sync", "sync", "sync"], [True] * 3, "The sync setup did better on slowdown, errors and "
                                           "capacity: async did not pay off here."),
    (["sync", "async", None], [True] * 3, "Mixed: async did better on errors, sync on slowdown."),
])
def test_verdict(winners, decided, expected):
    metrics = ["Slowdown", "Errors", "Capacity"]
    comparisons = [made(m, w, d) for m, w, d in zip(metrics, winners, decided)]
    assert verdict(comparisons) == expected
    assert verdict(comparisons, where="in 2021") == expected.replace(" here.", " in 2021.")


@pytest.mark.parametrize("winners, expected", [
    ([None, None, None], "No substantial difference on any measure between sync-sql@gunicorn-sync "
                         "and sync-sql@gunicorn-gthread here."),
    ([None, "sync-sql@gunicorn-gthread", None], "The sync-sql@gunicorn-gthread setup did better on "
                                                "errors and no worse on the rest here."),
])
def test_a_verdict_between_two_sync_views_says_nothing_of_async(winners, expected):
    a, b = repro.Side("sync-sql@gunicorn-sync", False), repro.Side("sync-sql@gunicorn-gthread", False)
    metrics = ["Slowdown", "Errors", "Capacity"]
    comparisons = [made(m, None) if w is None else repro.Comparison(
        m, R(w, 100, 300), R(a.name, 50, 300), repro.Decision.WON) for m, w in zip(metrics, winners)]
    assert verdict(comparisons, a, b) == expected


def test_a_verdict_names_whichever_side_is_async():
    a, b = repro.Side("async-orm@uvicorn", True), repro.Side("sync-orm@gunicorn-sync", False)
    comparisons = [repro.Comparison("Slowdown", R("async-orm@uvicorn", 100, 300),
                                    R("sync-orm@gunicorn-sync", 50, 300), repro.Decision.WON),
                   made("Errors", None), made("Capacity", None)]
    assert verdict(comparisons, a, b) == ("The async-orm@uvicorn setup did better on slowdown "
                                                 "and no worse on the rest: async paid off here.")


# --- the data ---------------------------------------------------------------------

def test_rows_have_the_original_shape():
    rows = repro.pokemon_rows()
    assert len(rows) == 800 and all(len(r) == len(repro.COLUMNS) == 13 for r in rows)
    assert [r[0] for r in rows] == list(range(1, 801))
    assert rows == sorted(rows, key=lambda r: (r[1], r[2]))
    assert [r[1] for r in rows].count(repro.DETAIL_NUMBER) == 1
    assert rows == repro.pokemon_rows()  # the same every time


def test_a_filling_window_counts_for_the_peak_and_not_for_the_plateau():
    # 97 users: 140 sent a second, 120 completed: a queue filling, the
    # server busy throughout.
    steps = [step(10, 20.0), step(20, 20.0), step(80, 60.0, rps=90),
             step(97, 120.0, rps=120, arrival=140), step(107, 150.0, rps=91),
             step(118, 160.0, rps=95)]
    t = repro.find_thresholds(steps)
    assert (t.peak_rps, t.peak_level) == (120.0, 97)
    # The plateau, from above the threshold at 80: the steady 107 and 118.
    assert t.plateau_spread == pytest.approx((95 - 91) / 93)
    assert not steps[3].steady and not steps[3].draining


def test_peak_and_plateau_leave_out_windows_that_drained():
    # 88 users: 106 completions a second against 91 sent, a queue draining.
    steps = [step(10, 20.0), step(20, 20.0), step(80, 60.0, rps=90), step(88, 90.0, rps=106,
                                                                           arrival=91),
             step(97, 120.0, rps=93), step(107, 150.0, rps=91)]
    t = repro.find_thresholds(steps)
    assert t.slowdown == 80
    assert (t.peak_rps, t.peak_level) == (93.0, 97)
    assert t.plateau_spread == pytest.approx((93 - 91) / 92)
    # All filling: all count.
    unsteady = [repro.dataclasses.replace(s, arrival_rps=s.rps * 2) for s in steps]
    assert repro.find_thresholds(unsteady).peak_rps == 106.0


@pytest.mark.parametrize("winners, decided, expected", [
    (["async", None, None], [True] * 3, "On this machine, async paid off"),
    (["sync", None, "sync"], [True] * 3, "On this machine, async did not pay off"),
    ([None, None, None], [True] * 3, "On this machine, async made no substantial difference"),
    (["sync", "async", None], [True] * 3,
     "On this machine, async paid off on errors and not on slowdown"),
    ([None, None, None], [True, False, True],
     "On this machine, whether async pays off could not be told yet"),
])
def test_the_headline_answers_whether_async_paid_off(winners, decided, expected):
    metrics = ["Slowdown", "Errors", "Capacity"]
    comparisons = [made(m, w, d) for m, w, d in zip(metrics, winners, decided)]
    assert repro.headline(repro.outcome_of(comparisons), "On this machine") == expected


def test_the_headline_of_two_setups_neither_or_both_async():
    a, b = repro.Side("sync-sql@gunicorn-sync", False), repro.Side("sync-sql@gunicorn-gthread", False)
    won = repro.Comparison("Capacity", repro.Rate(b.name, 120.0, True),
                           repro.Rate(a.name, 60.0, True), repro.Decision.WON)
    o = repro.outcome_of([made("Slowdown", None), made("Errors", None), won], a, b)
    assert repro.headline(o, "Here") == ("Here, `sync-sql@gunicorn-gthread` did better than "
                                         "`sync-sql@gunicorn-sync`")
    o = repro.outcome_of([made("Slowdown", None), made("Errors", None), made("Capacity", None)],
                         a, b)
    assert repro.headline(o, "Here") == ("Here, `sync-sql@gunicorn-sync` and "
                                         "`sync-sql@gunicorn-gthread` did alike")
