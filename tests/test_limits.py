"""What limits a setup: each rule of repro.LIMITS on synthetic results."""
import pytest

import repro
from repro import Cell, LimitContext, RampResult, SetupResult
from test_report import steps

CTX = LimitContext(cores=2, server=repro.ServerSettings(workers=4, threads=8, upstream_ms=100.0,
                                                      db_ms=20.0),
                   db_limit_rps=2000.0, max_connections=100)


def setup(cell, capacity, baseline_ms, cpu_ms, saturated=True, findings=None, errors=False):
    """A setup whose baseline median is baseline_ms, slowed down from 40 users
    (where saturated) with `capacity` req/s above that, spending cpu_ms (by
    process group) per request."""
    slow = 4 * baseline_ms if saturated else baseline_ms
    rows = [(10, 100, 0, 10.0, baseline_ms), (20, 50, 0, 20.0, baseline_ms),
            (40, 80, 0, capacity, slow), (60, 90, 0, capacity, slow),
            (80, 100, 50 if errors else 0, capacity, slow), (100, 100, 60 if errors else 0,
                                                             capacity, slow)]
    ramp = RampResult(steps(rows), "completed", cpu_ms=dict(cpu_ms), max_db_connections=97,
                      log_findings=findings or {})
    return SetupResult(cell, (ramp,))


SYNC, GTHREAD = repro.NAMED_CELLS["sync"], Cell("sync-sql", "gunicorn-gthread")


def test_the_cores_when_the_capacity_is_what_the_cpu_per_request_allows():
    # 10 + 9.25 ms of CPU a request, and the load generator's 0.25 (of the
    # steps), on 2 cores: 103 req/s at most.
    x = repro.limit_of(setup(SYNC, 95.0, 15.0, {"server": 10.0, "postgres": 9.25}), CTX)
    assert (x.kind, x.cores) == ("cores", 2)
    assert x.bound_rps == pytest.approx(2000 / 19.5)
    assert repro.limit_label(x) == "the 2 cores (103)"
    assert repro.limit_words(x) == "the 2 cores (19.5 ms of CPU per request allow 103 req/s)"


def test_the_workers_when_the_capacity_is_workers_over_the_service_time():
    # 4 workers, 40 ms a request: 100 req/s; the CPU would allow 400.
    x = repro.limit_of(setup(SYNC, 92.0, 40.0, {"server": 3.0, "postgres": 2.0}), CTX)
    assert (x.kind, x.slots, x.slot_name) == ("slots", 4, "workers")
    assert x.bound_rps == pytest.approx(100.0)
    assert repro.limit_label(x) == "its 4 workers (100)"


def test_gthread_serves_workers_times_threads():
    # 32 threads, 320 ms a request: 100 req/s.
    x = repro.limit_of(setup(GTHREAD, 100.0, 320.0, {"server": 2.0}), CTX)
    assert (x.kind, x.slots, x.slot_name) == ("slots", 32, "threads")


def test_the_upstream_wait_when_the_workers_mostly_wait():
    # 4 sync workers, each request 110 ms, 100 of them waiting on the API: 36 req/s.
    cell = Cell("sync-sql", "gunicorn-sync", "pooled", "upstream")
    x = repro.limit_of(setup(cell, 37.0, 110.0, {"server": 3.0}), CTX)
    assert (x.kind, x.wait, x.wait_ms) == ("wait", "upstream API", 100.0)
    assert repro.limit_label(x) == "its 4 workers waiting on the upstream API (36)"
    assert repro.limit_words(x) == ("its 4 workers waiting on the upstream API (each request "
                                    "110 ms, 100 of them waiting: 36 req/s at most)")


def test_an_event_loop_has_no_slots_to_run_out_of():
    cell = Cell("async-sql", "uvicorn", "pooled", "upstream")
    x = repro.limit_of(setup(cell, 37.0, 110.0, {"server": 3.0}), CTX)
    assert x.kind == "unclear"


def test_postgresql_itself():
    ctx = repro.dataclasses.replace(CTX, db_limit_rps=100.0)
    x = repro.limit_of(setup(SYNC, 95.0, 10.0, {"server": 1.0}), ctx)
    assert x.kind == "postgres"


def test_the_lowest_bound_of_those_near_the_capacity():
    # The cores allow 100 req/s, the workers 105: both within 15% of 98.
    x = repro.limit_of(setup(SYNC, 98.0, 38.1, {"server": 20.0}), CTX)
    assert x.kind == "cores"


def test_nothing_reached_when_the_load_never_slowed_it_down():
    x = repro.limit_of(setup(SYNC, 95.0, 15.0, {"server": 19.5}, saturated=False), CTX)
    assert x.kind == "none" and repro.limit_label(x) == "nothing reached"


def test_not_clear_when_the_capacity_lies_near_no_bound():
    x = repro.limit_of(setup(SYNC, 50.0, 15.0, {"server": 10.0}), CTX)
    assert x.kind == "unclear" and repro.limit_words(x) == ""


def test_not_known_for_a_server_repro_did_not_start():
    url = SetupResult(None, setup(SYNC, 50.0, 15.0, {}).ramps, url="http://x/")
    assert repro.limit_of(url, CTX).kind == "unknown"


def test_errors_are_postgresql_s_connections_when_it_refused_them():
    findings = {repro.REFUSED: 120}
    x = repro.limit_of(setup(SYNC, 95.0, 15.0, {"server": 19.25}, findings=findings,
                             errors=True), CTX)
    assert (x.kind, x.refused, x.held, x.max_connections) == ("cores", 120, 97, 100)
    assert repro.limit_label(x) == "the 2 cores (103); errors: PostgreSQL's connections"
    # Refused connections without an error threshold: not what its errors are.
    x = repro.limit_of(setup(SYNC, 95.0, 15.0, {"server": 19.5}, findings=findings), CTX)
    assert x.refused == 0
