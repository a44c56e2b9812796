"""A step's timing, on an injected clock: the settling, the window, the
minimum requests, the window's end; and the run_ramp loop.  Nothing sleeps: the
fake driver below plays closed-loop users against a server of known
latency, moving the clock forward when polled."""
import heapq
import itertools
import math
import os

import pytest

import repro
from test_stats import step


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class FakeDriver:
    """What a LoadDriver offers measure_step, simulated: each user sends,
    waits latency(start) seconds, thinks, sends again."""

    def __init__(self, clock, latency, think_time=1.0):
        self.clock, self.latency, self.think = clock, latency, think_time
        self.events = []  # (time, seq, kind, user)
        self.seq = itertools.count()
        self.users = 0
        self.active = set()
        self.retiring_users = set()
        self.in_flight = {}  # user -> start
        self.samples = []
        self.started = 0
        self.cpu_seconds = 0.0
        self.as_of = -math.inf
        self.levels = []

    def set_level(self, level, spread):
        self.levels.append(level)
        now = self.clock()
        if level > len(self.active):
            new = level - len(self.active)
            for j in range(new):
                user = self.users = self.users + 1
                self.active.add(user)
                heapq.heappush(self.events, (now + spread * j / new, next(self.seq), "send", user))
        else:
            for user in sorted(self.active)[level:]:
                self.active.discard(user)
                if user in self.in_flight:
                    self.retiring_users.add(user)

    def poll(self, timeout):
        until = self.clock() + timeout
        while self.events and self.events[0][0] <= until:
            when, _, kind, user = heapq.heappop(self.events)
            self.clock.now = when
            if kind == "send" and user in self.active:
                self.started += 1
                self.in_flight[user] = when
                heapq.heappush(self.events, (when + self.latency(when), next(self.seq), "end", user))
            elif kind == "end":
                start = self.in_flight.pop(user)
                self.samples.append(repro.Sample(start, when, "ok"))
                self.cpu_seconds += 0.0002
                self.retiring_users.discard(user)
                if user in self.active:
                    heapq.heappush(self.events, (when + self.think, next(self.seq), "send", user))
        self.clock.now = until
        self.as_of = until

    @property
    def newest(self):
        return self.as_of

    @property
    def cpu_each(self):
        return [self.cpu_seconds]

    @property
    def oldest_in_flight(self):
        return min(self.in_flight.values(), default=None)

    @property
    def retiring(self):
        return len(self.retiring_users)


RULES = repro.StepRules(spread=1.0, seconds=2.0, min_requests=10, max_seconds=10.0)


def measure(driver, clock, level, previous=None, rules=RULES, check=None):
    return repro.measure_step(driver, level, 1, rules, previous, clock, check or (lambda: None))


def stats_with_p50(ms):
    return repro.StepStats(10, 1, 10, 0, {}, 10.0, 10.0, 10.0, ms, ms, ms, 1.0, 0.2, 1.0, 3.0)


def test_a_step_settles_one_think_time_plus_the_previous_median():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.02)
    window = measure(driver, clock, 20, previous=stats_with_p50(400.0))
    assert window.start == 100.0
    # 1 s of think time + 0.4 s, to the next tick.
    assert window.window_start - window.start == pytest.approx(1.4, abs=repro.TICK)
    # The first step has no previous one: one think time.
    clock2 = FakeClock()
    first = measure(FakeDriver(clock2, lambda start: 0.02), clock2, 20)
    assert first.window_start - first.start == pytest.approx(1.0, abs=repro.TICK)


def test_the_window_lasts_its_seconds_when_requests_are_plenty():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.02)
    window = measure(driver, clock, 50)  # 50 users: about 49 requests a second
    assert window.window_end - window.window_start == pytest.approx(2.0, abs=repro.TICK)
    stats = repro.step_stats(window, driver.samples)
    assert stats.requests >= 90 and stats.steady


def test_the_window_waits_for_the_minimum_requests():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.02)
    # 2 users send about 2 requests a second: 10 requests take about 5 s.
    window = measure(driver, clock, 2)
    held = window.window_end - window.window_start
    assert 4.0 <= held <= 6.0
    stats = repro.step_stats(window, driver.samples)
    assert stats.requests >= 10


def test_the_minimum_counts_requests_that_ended_in_the_window():
    clock = FakeClock()
    # From 101.5 s on, requests take 1.5 s: most of those sent in a 2 s
    # window have not ended by its end.
    driver = FakeDriver(clock, lambda start: 0.02 if start < 101.5 else 1.5)
    rules = repro.dataclasses.replace(RULES, min_requests=30)
    window = measure(driver, clock, 20, rules=rules)
    assert repro.step_stats(window, driver.samples).requests >= 30


class LaggingDriver(FakeDriver):
    """Two load generator processes, one reporting 40 ms behind the other:
    samples that end after as_of are already in."""

    def poll(self, timeout):
        super().poll(timeout)
        self.as_of = self.clock() - 0.04

    @property
    def newest(self):
        return self.clock()


def test_the_minimum_counts_only_what_ended_before_every_process_reported():
    for level in range(2, 9):
        clock = FakeClock()
        driver = LaggingDriver(clock, lambda start: 0.02)
        window = measure(driver, clock, level)
        stats = repro.step_stats(window, driver.samples)
        held = window.window_end - window.window_start
        assert stats.requests >= RULES.min_requests or held >= RULES.max_seconds, level


def test_the_window_gives_up_on_the_minimum_at_its_longest():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.02, think_time=5.0)
    window = measure(driver, clock, 1)  # one request every 5 s: never 10 in 10 s
    assert window.window_end - window.window_start == pytest.approx(10.0, abs=repro.TICK)


def test_a_step_settles_until_the_queue_has_turned_over_once():
    clock = FakeClock()
    # Saturated: whatever the previous step said, requests now take 3 s.
    driver = FakeDriver(clock, lambda start: 3.0)
    window = measure(driver, clock, 20, previous=stats_with_p50(20.0))
    # Every request in flight when the window opens was sent after the new
    # users had all started (1 s): one think time plus about 3 s.
    assert window.window_start - window.start >= 3.9
    assert all(s.start >= window.start + 1.0 for s in driver.samples
               if s.end > window.window_start)


def test_settling_gives_up_at_its_longest():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 60.0)  # never turns over within the step
    window = measure(driver, clock, 5)
    assert window.window_start - window.start == pytest.approx(1.0 + 10.0, abs=repro.TICK)
    # With a request timeout longer than that, settling waits up to it: by
    # then every request of the previous level has ended, if only by timing out.
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 60.0)
    window = measure(driver, clock, 5, rules=repro.dataclasses.replace(RULES, timeout=30.0))
    assert window.window_start - window.start == pytest.approx(1.0 + 30.0, abs=repro.TICK)


def test_settling_waits_for_slow_requests_up_to_the_request_timeout():
    clock = FakeClock()
    # The users' first requests, sent while they start, take 20 s; later
    # ones 20 ms.  A window opened before the slow ones had ended would
    # count them for this level.
    driver = FakeDriver(clock, lambda start: 20.0 if start < 101.0 else 0.02)
    window = measure(driver, clock, 5, rules=repro.dataclasses.replace(RULES, timeout=30.0))
    # The last of them was sent just before 101 s and ends 20 s later.
    assert 20.0 <= window.window_start - window.start <= 21.0 + repro.TICK
    stats = repro.step_stats(window, driver.samples)
    assert stats.requests > 0 and stats.p99_ms == pytest.approx(20.0)


def test_a_step_counts_what_ended_in_its_window_and_ends_with_it():
    clock = FakeClock()

    def latency(start):
        if 101.1 <= start < 101.3:
            return 1.5  # sent early in the window, ends in it
        if 102.5 <= start < 102.7:
            return 3.0  # sent late, ends after it
        return 0.02

    driver = FakeDriver(clock, latency)
    window = measure(driver, clock, 20)
    assert window.window_end - window.window_start == pytest.approx(2.0, abs=repro.TICK)
    # No wait for the late ones: they are still in flight when the step ends.
    assert window.end == window.window_end
    late = [start for start in driver.in_flight.values() if 102.5 <= start < 102.7]
    assert late
    stats = repro.step_stats(window, driver.samples)
    assert stats.p99_ms == pytest.approx(1500.0, rel=0.01)
    assert stats.requests == sum(1 for s in driver.samples
                                 if window.window_start <= s.end < window.window_end)
    # Sent: every request that went out in the window, the late ones too.
    assert stats.arrival_rps * 2.0 == pytest.approx(
        sum(1 for s in driver.samples if window.window_start <= s.start < window.window_end)
        + len(late), abs=1)


def test_after_a_ramp_down_the_window_waits_for_the_retired_users():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 2.5)  # saturated: every request takes 2.5 s
    measure(driver, clock, 40)
    while not any(user > 10 for user in driver.in_flight):
        driver.poll(repro.TICK)
    still = dict(driver.in_flight)
    window = measure(driver, clock, 10, previous=stats_with_p50(10.0), rules=RULES)
    # Retired users had requests in flight until up to 2.5 s after the ramp down.
    last_retired_end = max(start + 2.5 for user, start in still.items() if user > 10)
    assert window.window_start >= last_retired_end
    assert driver.levels == [40, 10]


CYCLE_RULES = repro.StepRules(spread=1.0, seconds=1.0, min_requests=10, max_seconds=5.0, cycle=1.0)


def test_the_window_lasts_one_cycle_by_the_latency_of_what_ended_in_it():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.8)
    window = measure(driver, clock, 40, rules=CYCLE_RULES)
    # It opens once the first requests (sent over 100-101 s) have ended, at
    # about 101.8 s, before any request sent since has: those that end in
    # the window took 0.8 s, so one cycle is 1.8 s, not the 1 s of thinking.
    assert window.window_start == pytest.approx(101.8, abs=repro.TICK)
    assert window.window_end - window.window_start == pytest.approx(1.8, abs=2 * repro.TICK)
    stats = repro.step_stats(window, driver.samples)
    # Each user came back once: one request per user, no wave counted twice.
    assert stats.requests == 40 and stats.steady


def test_the_cycle_leaves_out_the_quicker_requests_that_ended_while_settling():
    clock = FakeClock()
    # Sent before 101 s: 0.2 s; from then on: 0.8 s.  The window's own take 0.8 s.
    driver = FakeDriver(clock, lambda start: 0.2 if start < 101.0 else 0.8)
    window = measure(driver, clock, 40, rules=CYCLE_RULES)
    assert window.window_end - window.window_start == pytest.approx(1.8, abs=2 * repro.TICK)


def test_the_cycle_is_the_think_time_plus_the_median_latency():
    assert repro._cycle(CYCLE_RULES, [0.1, 3.0, 0.5]) == pytest.approx(1.5)
    assert repro._cycle(CYCLE_RULES, []) == 0.0
    open_loop = repro.dataclasses.replace(CYCLE_RULES, cycle=0.0)
    assert repro._cycle(open_loop, [0.1, 3.0, 0.5]) == 0.0


def test_a_cycle_longer_than_the_longest_window_wins():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.8)
    # At most 1.2 s, and 1000 requests it will never get: one cycle, 1.8 s, still.
    rules = repro.StepRules(spread=1.0, seconds=1.0, min_requests=1000, max_seconds=1.2,
                            cycle=1.0)
    window = measure(driver, clock, 40, rules=rules)
    assert window.window_end - window.window_start == pytest.approx(1.8, abs=2 * repro.TICK)


def test_a_second_window_lasts_two_cycles():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.8)
    twice = repro.measure_step(driver, 40, 1, CYCLE_RULES, None, clock, lambda: None,
                               lambda w: True)
    assert twice.windows == 2
    assert twice.window_end - twice.window_start == pytest.approx(3.6, abs=2 * repro.TICK)
    assert repro.step_stats(twice, driver.samples).requests == 80


def test_a_second_window_holds_as_long_again_and_counts_both():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.02 if start < 103.1 else 0.05)
    seen = []

    def again(window):
        seen.append(window)
        return True

    window = measure(driver, clock, 50, rules=RULES)
    clock2 = FakeClock()
    driver2 = FakeDriver(clock2, lambda start: 0.02 if start < 103.1 else 0.05)
    twice = repro.measure_step(driver2, 50, 1, RULES, None, clock2, lambda: None, again)
    # Asked once, of the first window, which is the one measured without `again`.
    assert len(seen) == 1 and seen[0].window_end == pytest.approx(window.window_end, abs=0.01)
    assert (window.windows, twice.windows) == (1, 2)
    # The same window, held twice as long: 4 s.
    assert twice.window_start == window.window_start
    assert twice.window_end - twice.window_start == pytest.approx(4.0, abs=repro.TICK)
    first, both = repro.step_stats(window, driver.samples), repro.step_stats(twice, driver2.samples)
    assert first.p50_ms == pytest.approx(20.0) and first.p99_ms == pytest.approx(20.0)
    # Both windows count: the 20 ms requests of the first, the 50 ms ones sent from 103.1 s on.
    assert both.p99_ms == pytest.approx(50.0)
    assert both.requests == sum(1 for s in driver2.samples
                                if twice.window_start <= s.end < twice.window_end)
    assert both.requests >= 1.9 * first.requests
    assert both.settle_seconds == pytest.approx(first.settle_seconds)
    assert both.windows == 2


def test_a_second_window_waits_for_twice_the_minimum_requests():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.02)
    # 2 users: about 2 requests a second; 10 requests, then 20, take 5 and 10 s.
    rules = repro.dataclasses.replace(RULES, max_seconds=30.0)
    twice = repro.measure_step(driver, 2, 1, rules, None, clock, lambda: None, lambda w: True)
    stats = repro.step_stats(twice, driver.samples)
    assert stats.requests >= 2 * rules.min_requests
    assert 9.0 <= twice.window_end - twice.window_start <= 11.0


def test_a_second_window_after_one_cut_short_may_last_twice_as_long():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.02, think_time=5.0)
    # One user, a request every 5 s: the minimum is never met, and a window
    # lasts its longest, 3 s; held for a second one, 6 s.
    rules = repro.dataclasses.replace(RULES, max_seconds=3.0)
    twice = repro.measure_step(driver, 1, 1, rules, None, clock, lambda: None, lambda w: True)
    assert twice.windows == 2
    assert twice.window_end - twice.window_start == pytest.approx(6.0, abs=repro.TICK)


@pytest.mark.parametrize("p50, baseline, near", [
    (32.0, 20.0, True),  # 80% of the rule's 40 ms
    (31.9, 20.0, False),
    (39.9, 20.0, True),
    (40.0, 20.0, True),  # slowed, but only just
    (49.9, 20.0, True),
    (50.0, 20.0, False),  # 125% of the rule: slowed beyond doubt
    (35.0, None, False),  # nothing to judge by yet
    (None, 20.0, False),  # no successful response: counts as slowed
])
def test_near_the_slowdown_threshold(p50, baseline, near):
    assert repro.is_near_slowdown(stats_with_p50(p50), baseline) is near


class KneeDriver(FakeDriver):
    """A server whose latency at 40 users or more climbs 1.7 s after the
    level is set: 36 ms (under the 40 ms the rule asks of a 20 ms
    baseline, but near it), then 80 ms."""

    def __init__(self, clock):
        super().__init__(clock, self.knee)
        self.set_at = clock()

    def set_level(self, level, spread):
        self.set_at = self.clock()
        super().set_level(level, spread)

    def knee(self, start):
        if self.levels[-1] < 40:
            return 0.02
        return 0.036 if start < self.set_at + 1.7 else 0.08


def test_run_ramp_holds_a_step_near_the_slowdown_threshold_for_a_second_window():
    clock = FakeClock()
    driver = KneeDriver(clock)
    run = repro.run_ramp(driver, config(top=40, step_seconds=1.0), clock, lambda: None,
                         lambda s: None)
    by_level = {s.level: s for s in run.steps}
    assert by_level[10].windows == 1 and by_level[10].p50_ms == pytest.approx(20.0)
    # At 40 users the first window read 36 ms, near the rule's 40; most of
    # the requests of both windows took 80 ms: slowed down.
    assert by_level[40].windows == 2 and by_level[40].p50_ms >= 40.0
    t = repro.find_thresholds(sorted(run.steps, key=lambda s: s.level))
    assert t.slowdown == 40
    # The first window alone: 36 ms, not slowed down.
    clock = FakeClock()
    driver = KneeDriver(clock)
    driver.set_level(10, 1.0)
    one = repro.measure_step(driver, 40, 1, repro.StepRules(1.0, 1.0, 10, 5.0, cycle=1.0),
                             None, clock, lambda: None)
    assert one.windows == 1 and repro.step_stats(one, driver.samples).p50_ms == pytest.approx(36.0)


def test_a_failed_check_stops_the_step():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.02)

    def check():
        if clock.now > 101.0:
            raise repro.RampStopped("server died", "log tail")

    with pytest.raises(repro.RampStopped):
        measure(driver, clock, 10, check=check)


def config(**changes):
    ramp = dict(top=80, step=10, step_seconds=2.0, min_requests=10)
    return repro.Config(setups=("sync",), ramp=repro.RampSettings(**{**ramp, **changes}))


def test_run_ramp_follows_the_search_and_reports_each_step():
    clock = FakeClock()
    # A server that saturates at about 45 users: latency grows with them.
    driver = FakeDriver(clock, lambda start: 0.02)
    levels = []

    def latency(start):
        return 0.02 if driver.levels[-1] < 45 else 0.02 * driver.levels[-1] / 10

    driver.latency = latency
    restarts = []

    def restart():
        restarts.append(driver.levels[-1])

    # A meter that reads a made-up CPU clock: 1 ms of CPU per request sent.
    run = repro.run_ramp(driver, config(), clock, lambda: None, lambda s: levels.append(s.level),
                         restart, lambda: {"server": driver.started * 0.001, "nowhere": None})
    steps, restarted = run.steps, run.restarts
    assert (run.reason, run.error, run.interrupted) == ("completed", None, False)
    assert levels == [s.level for s in steps] == [10, 40, 80, 20, 60, 50]
    # A fresh server before each level below a slowed one: 20 (below 80) and
    # 50 (below 60); none before 60 (going up).
    assert driver.levels == [10, 40, 80, 0, 20, 60, 0, 50]
    assert restarts == [0, 0] and restarted == 2
    t = repro.find_thresholds(sorted(steps, key=lambda s: s.level))
    assert t.slowdown == 50
    # CPU per successful request over the measured steps: about 1 ms, and
    # nothing for a group the meter could not read.
    assert run.cpu_ms()["server"] == pytest.approx(1.0, rel=0.15)
    assert "nowhere" not in run.cpu_ms()


def test_run_ramp_keeps_the_steps_measured_before_it_was_stopped():
    clock = FakeClock()
    driver = FakeDriver(clock, lambda start: 0.02)

    def check():
        if len(driver.levels) == 3:
            raise repro.RampStopped("interrupted", interrupted=True)

    run = repro.run_ramp(driver, config(), clock, check, lambda s: None)
    assert [s.level for s in run.steps] == [10, 40]
    assert run.reason == "interrupted at 80 users (that step is not counted)"
    assert run.interrupted and run.error is None


def test_a_lower_level_after_an_overload_needs_a_fresh_server():
    calm = stats_with_p50(20.0)
    slowed = repro.dataclasses.replace(calm, level=80, p50_ms=80.0)
    failing = repro.dataclasses.replace(calm, level=80, failures=5)
    ramp = [calm, slowed]
    assert not repro.needs_fresh_server(ramp, [calm], 5)  # nothing was overloaded
    assert not repro.needs_fresh_server(ramp, [calm, slowed], 120)  # going up
    assert repro.needs_fresh_server(ramp, [calm, slowed], 57)
    assert repro.needs_fresh_server(ramp, [calm, failing], 57)
    # Slowed by the ramp's baseline, not by this server's own lowest step.
    assert repro.needs_fresh_server(ramp, [slowed], 57)
    assert not repro.needs_fresh_server(ramp, [], 57)


def test_a_level_past_a_confirmed_slowdown_threshold_stays_on_the_overloaded_server():
    """A ramp that only went up would reach it on a server overloaded since
    the threshold, not on a fresh one."""
    calm = stats_with_p50(20.0)
    slowed = [repro.dataclasses.replace(calm, level=level, p50_ms=80.0) for level in (80, 88)]
    failing = repro.dataclasses.replace(calm, level=300, p50_ms=900.0, failures=5)
    ramp = [calm, *slowed, failing]
    assert not repro.needs_fresh_server(ramp, [failing], 213, 10)
    assert not repro.needs_fresh_server(ramp, [failing], 80, 10)  # the threshold itself
    assert repro.needs_fresh_server(ramp, [failing], 79, 10)
    # Not confirmed (88 is more than two fine steps above 60): a fresh server.
    lone = [calm, repro.dataclasses.replace(calm, level=60, p50_ms=80.0),
            repro.dataclasses.replace(calm, level=88, p50_ms=80.0), failing]
    assert repro.needs_fresh_server(lone, [failing], 213, 10)


# --- progress on stderr -----------------------------------------------------------

def test_progress_without_a_terminal_prints_plain_lines():
    import io
    out, clock = io.StringIO(), FakeClock()
    p = repro.Progress(out, clock, tty=False)
    p.line("starting")
    clock.now += 2.5
    p.step("sync", step(40, 20.0), "users")
    assert out.getvalue().splitlines() == [
        "[   0.0s] starting",
        "[   2.5s] " + repro.step_line("sync", step(40, 20.0), "users")]


def test_a_step_of_two_windows_says_so_in_its_progress_line():
    once = step(40, 20.0)
    twice = repro.dataclasses.replace(once, windows=2)
    assert not repro.step_line("sync", once, "users").endswith("(two windows)")
    assert repro.step_line("sync", twice, "users") == (
        repro.step_line("sync", once, "users") + " (two windows)")


def test_progress_on_a_terminal_updates_one_line_with_the_time_left():
    import io
    out, clock = io.StringIO(), FakeClock()
    p = repro.Progress(out, clock, tty=True)
    p.planned = 3
    p.line("starting")
    p.setup_began()
    clock.now += 50
    p.setup_ended()  # one setup: 50 s
    p.setup_began()
    clock.now += 20
    p.step("async", step(80, 35.0, failures=2), "users")
    # 30 s left of this one, 50 s for the last.
    assert out.getvalue().endswith("\r\x1b[K[  70.0s] async: step 1, 80 users, 80.0 req/s, "
                                   "median 35.0 ms, 2 failed (2%); about 1 min 20 s left")
    p.line("async: restarting")
    assert out.getvalue().endswith("\r\x1b[K[  70.0s] async: restarting\n" + p.status)
    p.finish()
    assert out.getvalue().endswith("\n")


def test_the_status_line_fits_the_terminal():
    """A status line that wrapped could not be rewritten in place."""
    import pty
    import struct
    import termios
    import fcntl
    main_fd, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 60, 0, 0))
    try:
        with open(terminal, "w", closefd=False) as out:
            p = repro.Progress(out, FakeClock(), tty=True)
            p.step("async-sql@gunicorn-asgi+pooled+upstream", step(80, 35.0), "users")
            assert len(p.status) == 59 and p.status.endswith("…")
    finally:
        os.close(main_fd)
        os.close(terminal)
