"""The report is a pure function of recorded results: golden Markdown and JSON."""
import json
import os
from pathlib import Path

import pytest

import repro
from repro import Environment, Report, SetupResult, StepStats

GOLDEN = Path(__file__).parent / "golden"


def steps(rows):
    out = []
    for users, requests, failures, rps, p50 in rows:
        out.append(StepStats(
            users=users, requests=requests, failures=failures,
            failures_by_kind={"http_500": failures} if failures else {},
            rps=rps, p50_ms=p50, p95_ms=None if p50 is None else p50 * 1.4,
            p99_ms=None if p50 is None else p50 * 1.9, client_cpu_pct=users / 30,
            seconds=2.0 + users / 100))
    return tuple(out)


ENV = Environment(
    cpu_model="Test CPU 3000", cpu_count=2, memory="8.0 GiB", os="TestOS 1, Linux 6.1 x86_64",
    python="3.11.7",
    packages={"Django": "5.2.19", "gunicorn": "27.0.1", "uvicorn": "0.54.0", "asyncpg": "0.32.0"},
    uvicorn_stack="event loop asyncio (uvloop not installed), HTTP parser h11 (httptools not "
                  "installed)",
    postgres_version="15.18", postgres_source="private throwaway cluster from /usr/lib/pg/bin",
    max_connections=100)

SETTINGS = repro.Settings(
    setups=("sync", "async"), users=60, step=10, step_seconds=2.0, min_requests=50,
    ramp="adaptive", plan=(10, 20, 30, 40, 50, 60), think_time=1.0, timeout=30.0, workers=4,
    max_connections=100, dsn=None)

SYNC = SetupResult(
    name="sync", view="sync", server="Gunicorn, sync workers (WSGI)",
    steps=steps([(10, 20, 0, 10.0, 17.3), (20, 40, 0, 20.0, 18.0), (30, 60, 0, 30.0, 19.5),
                 (40, 80, 0, 40.0, 36.0), (50, 92, 0, 46.0, 210.0), (60, 94, 0, 47.0, 420.0)]),
    stop_reason="completed", warmup="16 requests, 4 of 4 workers answered",
    log_findings={"Internal Server Error:": 0, "too many clients": 0, "WORKER TIMEOUT": 0})

ASYNC = SetupResult(
    name="async", view="async", server="Gunicorn + uvicorn_worker.UvicornWorker (ASGI)",
    steps=steps([(10, 20, 0, 10.0, 21.1), (20, 40, 0, 20.0, 45.0), (30, 58, 2, 28.0, 60.0),
                 (40, 70, 40, 15.0, 300.0), (50, 80, 60, 10.0, 900.0)]),
    stop_reason="stopped at 50 users: more than 50% of requests failed for 2 steps in a row",
    warmup="24 requests, 4 of 4 workers answered",
    log_findings={"Internal Server Error:": 102, "too many clients": 102, "WORKER TIMEOUT": 0})


def report(**changes):
    base = Report(command="python repro.py --users 60", started="2026-11-25 09:00 UTC",
                  environment=ENV, settings=SETTINGS, setups=(SYNC, ASYNC), seconds=95.4)
    return repro.dataclasses.replace(base, **changes)


def check_golden(name, text):
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_markdown_report_golden():
    check_golden("report.md", repro.render_markdown(report()))


def test_interrupted_report_with_a_failed_setup_golden():
    failed = SetupResult(name="async", view="async", server=ASYNC.server, steps=(),
                         stop_reason="not measured",
                         error="Gunicorn + uvicorn_worker.UvicornWorker (ASGI) (async view) did "
                               "not start: it exited with code 3; last lines of its log:\n"
                               "[ERROR] Worker failed to boot.",
                         log_findings={})
    sync = repro.dataclasses.replace(SYNC, steps=SYNC.steps[:3],
                                     stop_reason="interrupted at 40 users (that step is not "
                                                 "counted)")
    text = repro.render_markdown(report(setups=(sync, failed), interrupted="SIGINT"))
    check_golden("report_interrupted.md", text)


def test_a_busy_load_generator_is_called_out():
    busy = repro.dataclasses.replace(SYNC.steps[-1], client_cpu_pct=91.0)
    sync = repro.dataclasses.replace(SYNC, steps=SYNC.steps[:-1] + (busy,))
    text = repro.render_markdown(report(setups=(sync, ASYNC)))
    assert ("Warning: the load generator used 80% or more of a core at 60 users; those steps "
            "may measure the client, not the server.") in text
    assert "Warning" not in repro.render_markdown(report())


def test_thresholds_in_the_summary_follow_the_rules():
    sync, async_ = SYNC.thresholds, ASYNC.thresholds
    assert (sync.slowdown_users, sync.error_users, sync.peak_rps, sync.peak_users) == \
        (40, None, 47.0, 60)
    assert (async_.slowdown_users, async_.error_users, async_.peak_users) == (20, 30, 30)


def test_json_has_every_field_the_issue_names():
    data = json.loads(json.dumps(repro.report_to_json(report())))
    assert data["command"] == "python repro.py --users 60"
    assert data["environment"]["postgres_version"] == "15.18"
    assert data["settings"]["plan"] == [10, 20, 30, 40, 50, 60]
    sync, async_ = data["setups"]
    assert (sync["name"], sync["slowdown_users"], sync["error_users"]) == ("sync", 40, None)
    assert (sync["peak_rps"], sync["peak_users"]) == (47.0, 60)
    assert (async_["slowdown_users"], async_["error_users"]) == (20, 30)
    step = async_["steps"][2]
    assert {"users", "requests", "failures", "rps", "p50_ms", "p95_ms", "p99_ms",
            "client_cpu_pct", "failures_by_kind"} <= set(step)
    assert step["failures_by_kind"] == {"http_500": 2}
    assert step["users"] == 30 and step["requests"] == 58 and step["failures"] == 2


@pytest.mark.parametrize("rows, expected", [
    ([["a", "1"], ["bbb", "22"]], ["| x   |  y |", "|-----|---:|", "| a   |  1 |", "| bbb | 22 |"]),
    ([], ["| x | y |", "|---|--:|"]),
])
def test_md_table(rows, expected):
    assert repro.md_table(["x", "y"], rows, "lr") == expected
