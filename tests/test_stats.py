"""Pure logic: percentiles, step statistics, thresholds, ramp plans, comparisons."""
import pytest

import repro
from repro import Sample, StepStats, StepWindow


def step(users, p50, requests=100, failures=0, rps=None, kind="http_500"):
    return StepStats(
        users=users, requests=requests, failures=failures,
        failures_by_kind={kind: failures} if failures else {},
        rps=float(users if rps is None else rps), p50_ms=p50,
        p95_ms=None if p50 is None else p50 * 1.5, p99_ms=None if p50 is None else p50 * 2,
        client_cpu_pct=5.0, seconds=2.0)


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

def test_step_counts_only_requests_that_start_in_its_window():
    window = StepWindow(users=3, start=10.0, window_end=12.0, end=12.5, cpu_seconds=0.25)
    samples = [
        Sample(9.9, 10.1, "ok"),        # started before the step: not counted
        Sample(10.0, 10.010, "ok"),
        Sample(10.5, 10.530, "ok"),
        Sample(11.0, 11.020, "http_500"),
        Sample(11.5, 12.400, "ok"),     # ends in the step's tail: counted
        Sample(11.9, 12.0, "timeout"),
        Sample(12.0, 12.1, "ok"),       # starts at window_end: next step's business
    ]
    s = repro.step_stats(window, samples)
    assert s.users == 3
    assert s.requests == 5
    assert s.failures == 2
    assert s.failures_by_kind == {"http_500": 1, "timeout": 1}
    assert s.error_rate == pytest.approx(0.4)
    assert s.rps == pytest.approx(1.5)  # 3 successes in a 2 s window
    assert s.p50_ms == pytest.approx(30.0)
    assert s.p95_ms == pytest.approx(30.0 + 0.9 * 870.0)
    assert s.client_cpu_pct == pytest.approx(10.0)  # 0.25 s of CPU in 2.5 s
    assert s.seconds == pytest.approx(2.5)


def test_step_without_successes_has_no_latency():
    window = StepWindow(5, 0.0, 1.0, 31.0, 0.1)
    s = repro.step_stats(window, [Sample(0.1, 30.1, "timeout"), Sample(0.2, 0.3, "connection")])
    assert (s.requests, s.failures, s.rps, s.p50_ms, s.p99_ms) == (2, 2, 0.0, None, None)


def test_ramp_stats_assigns_each_sample_to_one_step():
    windows = [StepWindow(1, 0.0, 1.0, 1.2, 0.0), StepWindow(2, 1.2, 2.2, 2.3, 0.0)]
    samples = [Sample(0.5, 0.6, "ok"), Sample(1.1, 1.3, "ok"), Sample(1.5, 1.6, "ok"),
               Sample(2.0, 2.25, "ok")]
    first, second = (repro.step_stats(w, samples) for w in windows)
    assert (first.requests, second.requests) == (1, 2)


# --- thresholds ---------------------------------------------------------------

def test_no_slowdown_and_no_errors_are_reported_as_not_reached():
    steps = [step(u, 20.0 + u / 100) for u in (10, 20, 30, 40)]
    t = repro.find_thresholds(steps)
    assert (t.slowdown_users, t.error_users, t.max_users) == (None, None, 40)
    assert t.baseline_ms == 20.1
    assert (t.peak_rps, t.peak_users) == (40.0, 40)
    assert repro.fmt_threshold(t.slowdown_users, t.max_users) == "none up to 40"


def test_slowdown_needs_twice_the_baseline_median_confirmed_by_the_next_step():
    steps = [step(10, 20.0), step(20, 39.9), step(30, 40.0), step(40, 80.0), step(50, 90.0)]
    assert repro.find_thresholds(steps).slowdown_users == 30


def test_errors_from_the_first_step():
    steps = [step(10, 20.0, failures=5), step(20, 21.0, failures=10), step(30, 22.0, failures=30)]
    t = repro.find_thresholds(steps)
    assert t.error_users == 10
    assert t.slowdown_users is None


def test_error_threshold_is_one_percent():
    steps = [step(10, 20.0, requests=200, failures=1), step(20, 20.0, requests=200, failures=2),
             step(30, 20.0, requests=200, failures=3)]
    assert repro.find_thresholds(steps).error_users == 20


def test_noisy_baseline_median_ignores_outliers_and_a_lone_spike():
    window = StepWindow(10, 0.0, 2.0, 2.0, 0.0)
    lowest = repro.step_stats(window, [Sample(0.1 * i, 0.1 * i + d, "ok") for i, d in
                                       enumerate([0.020, 0.021, 0.019, 0.900, 0.020])])
    assert lowest.p50_ms == pytest.approx(20.0)
    # 50 users is one noisy step, not a slowdown; 80 is where it stays slow.
    steps = [lowest, step(20, 22.0), step(30, 25.0), step(40, 24.0), step(50, 60.0),
             step(60, 26.0), step(70, 30.0), step(80, 45.0), step(90, 70.0)]
    t = repro.find_thresholds(steps)
    assert t.baseline_ms == pytest.approx(20.0)
    assert t.slowdown_users == 80


def test_a_lone_failing_step_is_not_the_error_threshold():
    steps = [step(10, 20.0), step(20, 20.0, failures=3), step(30, 20.0), step(40, 20.0)]
    assert repro.find_thresholds(steps).error_users is None


def test_last_step_needs_no_confirmation():
    steps = [step(10, 20.0), step(20, 20.0), step(30, 50.0, failures=2)]
    t = repro.find_thresholds(steps)
    assert (t.slowdown_users, t.error_users) == (30, 30)


def test_step_without_successful_response_counts_as_slowed_down():
    steps = [step(10, 20.0), step(20, 30.0), step(30, None, failures=100), step(40, None, failures=100)]
    t = repro.find_thresholds(steps)
    assert (t.slowdown_users, t.error_users) == (30, 30)


def test_lowest_step_without_successes_is_slowed_down_already():
    steps = [step(10, None, failures=100, rps=0), step(20, None, failures=100, rps=0)]
    t = repro.find_thresholds(steps)
    assert (t.baseline_ms, t.slowdown_users, t.error_users) == (None, 10, 10)
    assert (t.peak_rps, t.peak_users) == (0.0, None)


def test_ramp_stopped_early_after_two_steps_above_half_errors():
    steps = [step(10, 20.0), step(20, 30.0, failures=20), step(30, 60.0, failures=51),
             step(40, 80.0, failures=50)]
    assert repro.early_stop_reason(steps[:3]) is None
    assert repro.early_stop_reason(steps[:4]) is None  # 50% is not above 50%
    steps[3] = step(40, 80.0, failures=70)
    reason = repro.early_stop_reason(steps)
    assert reason == ("stopped at 40 users: more than 50% of requests failed for 2 steps in a row")
    t = repro.find_thresholds(steps)
    assert (t.slowdown_users, t.error_users, t.max_users) == (30, 20, 40)


def test_peak_throughput_prefers_fewer_users_on_a_tie():
    steps = [step(10, 20.0, rps=10), step(20, 20.0, rps=30), step(30, 20.0, rps=30),
             step(40, 20.0, rps=25)]
    t = repro.find_thresholds(steps)
    assert (t.peak_rps, t.peak_users) == (30.0, 20)


def test_no_steps_at_all():
    t = repro.find_thresholds([])
    assert t == repro.Thresholds(None, None, None, 0.0, None, 0)


def test_most_common_failure():
    steps = [step(10, 20.0, failures=3, kind="timeout"), step(20, 20.0, failures=2, kind="http_500"),
             step(30, 20.0, failures=2, kind="http_500")]
    assert repro.most_common_failure(steps) == "http_500"
    assert repro.most_common_failure([step(10, 20.0)]) is None


# --- ramp plans ------------------------------------------------------------------

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


@pytest.mark.parametrize("users, step", [(300, 10), (400, 10), (1000, 5), (77, 3)])
def test_adaptive_plan_never_steps_more_than_step_or_ten_percent(users, step):
    plan = repro.adaptive_plan(users, step)
    assert plan[-1] == users and plan == sorted(set(plan))
    for low, high in zip(plan, plan[1:]):
        assert high - low <= max(step, round(low * 1.1) - low)


# --- comparisons and the verdict ----------------------------------------------------

R = repro.Reached


def test_thresholds_within_fifteen_percent_are_no_substantial_difference():
    c = repro.compare_thresholds("Slowdown", R("sync", 140, 300), R("async", 121, 300), 10)
    assert c.winner is None
    assert c.text == ("Slowdown: sync at 140 users, async at 121 users: no substantial difference "
                      "(14% apart; the rule needs more than 15% and more than one step of 10).")


def test_one_step_apart_is_never_substantial():
    c = repro.compare_thresholds("Slowdown", R("sync", 20, 300), R("async", 10, 300), 10)
    assert c.winner is None


def test_a_threshold_reached_later_wins():
    c = repro.compare_thresholds("Slowdown", R("sync", 140, 300), R("async", 80, 300), 10)
    assert c.winner == "sync"
    assert c.text == ("Slowdown: sync at 140 users, async at 80 users: sync holds 75% more "
                      "users before it is reached.")


def test_a_threshold_not_reached_is_a_lower_bound():
    c = repro.compare_thresholds("Errors", R("sync", None, 300), R("async", 215, 300), 10)
    assert c.winner == "sync"
    assert c.text == ("Errors: sync none up to 300 users, async at 215 users: sync holds at least "
                      "40% more users before it is reached.")
    # Not reached up to 200 says nothing against a threshold at 190.
    c = repro.compare_thresholds("Errors", R("sync", None, 200), R("async", 190, 300), 10)
    assert (c.winner, c.decided) == (None, False)
    assert c.text == ("Errors: sync none up to 200 users, async at 190 users: sync holds at least "
                      "as many users; whether substantially more, a ramp beyond 200 users would "
                      "tell.")
    # A tie with a bound: the bound is the higher one.
    c = repro.compare_thresholds("Errors", R("sync", 30, 30), R("async", None, 30), 10)
    assert (c.winner, c.decided) == (None, False)
    assert c.text.startswith("Errors: sync at 30 users, async none up to 30 users: async holds at "
                             "least as many users")
    # Nor, when the ramp was cut short at 100, against one at 200.
    c = repro.compare_thresholds("Errors", R("sync", None, 100), R("async", 200, 300), 10)
    assert (c.winner, c.decided) == (None, False)
    assert c.text == ("Errors: sync none up to 100 users, async at 200 users: cannot tell which "
                      "holds more; sync was measured up to 100 users only.")
    both = repro.compare_thresholds("Errors", R("sync", None, 300), R("async", None, 300), 10)
    assert (both.winner, both.decided) == (None, False)
    assert both.text == "Errors: neither setup reached it (sync up to 300, async up to 300 users)."


def test_rates():
    c = repro.compare_rates("Peak throughput", "sync", 135.5, "async", 105.5)
    assert c.winner == "sync"
    assert c.text == ("Peak throughput: sync 135.5 req/s, async 105.5 req/s: async reaches only "
                      "78% of sync's.")
    assert repro.compare_rates("Peak throughput", "sync", 100.0, "async", 90.0).winner is None


def test_verdict_says_what_was_not_decided():
    comparisons = [repro.Comparison("Slowdown", None, ""),
                   repro.Comparison("Errors", None, "", decided=False),
                   repro.Comparison("Peak throughput", None, "")]
    assert repro.verdict(comparisons) == (
        "No substantial difference shown (errors undecided: ramp to more users with --users): "
        "the async view did not make this app faster here.")


@pytest.mark.parametrize("winners, expected", [
    ([None, None, None], "No substantial difference on any measure: the async view did not make "
                         "this app faster here."),
    (["async", None, None], "The async setup did better on slowdown and no worse on the rest: "
                            "async paid off here."),
    (["sync", "sync", "sync"], "The sync setup did better on slowdown, errors and peak "
                               "throughput: async did not pay off here."),
    (["sync", "async", None], "Mixed: async did better on errors, sync on slowdown."),
])
def test_verdict(winners, expected):
    metrics = ["Slowdown", "Errors", "Peak throughput"]
    comparisons = [repro.Comparison(m, w, "") for m, w in zip(metrics, winners)]
    assert repro.verdict(comparisons) == expected
    assert repro.verdict(comparisons, "in 2021") == expected.replace(" here.", " in 2021.")


# --- the data ---------------------------------------------------------------------

def test_rows_have_the_original_shape():
    rows = repro.pokemon_rows()
    assert len(rows) == 800 and all(len(r) == len(repro.COLUMNS) == 13 for r in rows)
    assert [r[0] for r in rows] == list(range(1, 801))
    assert rows == sorted(rows, key=lambda r: (r[1], r[2]))
    assert [r[1] for r in rows].count(repro.DETAIL_NUMBER) == 1
    assert rows == repro.pokemon_rows()  # the same every time


# --- the load generator's bookkeeping ----------------------------------------------

def test_a_client_side_surprise_is_a_failure_not_a_hang():
    """A request that raises must leave nothing in flight, or its step would
    wait for it forever."""
    import asyncio

    class Exploding:
        def get(self, url, **kwargs):
            raise RuntimeError("boom")

    async def one_user():
        recorder = repro.LoadRecorder()
        task = asyncio.create_task(repro.closed_loop_user(Exploding(), "http://x/", 10.0, 0.0,
                                                          recorder))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return recorder

    recorder = asyncio.run(one_user())
    assert [s.outcome for s in recorder.samples] == ["client_RuntimeError"]
    assert recorder.in_flight == {}
