"""The report is a pure function of recorded results: golden Markdown and JSON."""
import json
import os
import re
from pathlib import Path

import pytest

import repro
from repro import Environment, RampResult, Report, SetupResult, StepStats

GOLDEN = Path(__file__).parent / "golden"


def steps(rows, order=None, windows=()):
    out = []
    for i, (level, requests, failures, rps, p50) in enumerate(rows):
        out.append(StepStats(
            level=level, order=(order or list(range(1, len(rows) + 1)))[i], requests=requests,
            failures=failures, failures_by_kind={"http_500": failures} if failures else {},
            rps=rps, arrival_rps=rps, completion_rps=rps, p50_ms=p50,
            p95_ms=None if p50 is None else p50 * 1.4, p99_ms=None if p50 is None else p50 * 1.9,
            client_cpu_pct=level / 30, client_cpu_ms=0.25, settle_seconds=1.0 + level / 1000,
            seconds=3.0 + level / 100, windows=2 if level in windows else 1))
    return tuple(out)


ENV = Environment(
    cpu_model="Test CPU 3000", cpu_count=2, memory="8.0 GiB", os="TestOS 1, Linux 6.1 x86_64",
    python="3.11.7",
    packages={"Django": "5.2.19", "gunicorn": "27.0.1", "uvicorn": "0.54.0", "asyncpg": "0.32.0"},
    uvicorn_stack="event loop asyncio (uvloop not installed), HTTP parser h11 (httptools not "
                  "installed)",
    postgres_version="15.18", postgres_source="private throwaway cluster from /usr/lib/pg/bin, "
                                              "md5 password auth",
    max_connections=100, postgres_private=True, container=None, virtual_machine=True)

SETTINGS = repro.Settings(
    setups=("sync", "async"),
    ramp=repro.RampSettings(top=60, step=10, step_seconds=1.5, min_requests=50, kind="search",
                            think_time=1.0, timeout=30.0, repeat=1, load_processes=1),
    server=repro.ServerSettings(workers=4), plan=(), max_connections=100, dsn=None)


def with_ramp(settings, **changes):
    """settings, with changes to how the load ramps."""
    return repro.dataclasses.replace(settings, ramp=repro.dataclasses.replace(settings.ramp,
                                                                            **changes))

FINDINGS_NONE = {"Internal Server Error:": 0, "too many clients": 0, "WORKER TIMEOUT": 0}

SYNC_RAMP = RampResult(driver="psycopg2 2.9.13", cpu_ms={"server": 9.8, "postgres": 6.1},
                       max_db_connections=4,
    steps=steps([(10, 100, 0, 10.0, 17.3), (20, 50, 0, 20.0, 18.0), (40, 80, 0, 40.0, 36.0),
                 (60, 94, 0, 47.0, 420.0), (30, 60, 0, 30.0, 19.5), (35, 70, 0, 35.0, 36.5)],
                order=[1, 2, 3, 4, 5, 6], windows=(35, 40)),
    stop_reason="completed", warmup="16 requests, 4 of 4 workers answered",
    log_findings=FINDINGS_NONE)
SYNC = SetupResult(repro.NAMED_CELLS["sync"], ramps=(SYNC_RAMP,))

ASYNC_RAMP = RampResult(driver="asyncpg 0.32.0", cpu_ms={"server": 13.2, "postgres": 8.9},
                        max_db_connections=100,
    steps=steps([(10, 100, 0, 10.0, 21.1), (20, 40, 0, 20.0, 45.0), (40, 70, 40, 15.0, 300.0),
                 (30, 58, 2, 28.0, 60.0), (25, 50, 1, 24.0, 47.0)]),
    stop_reason="completed", warmup="24 requests, 4 of 4 workers answered",
    log_findings={"Internal Server Error:": 102, "too many clients": 102, "WORKER TIMEOUT": 0})
ASYNC = SetupResult(repro.NAMED_CELLS["async"], ramps=(ASYNC_RAMP,))


def report(**changes):
    base = Report(command="python repro.py --users 60", started="2026-11-25 09:00 UTC",
                  environment=ENV, settings=SETTINGS, setups=(SYNC, ASYNC), seconds=95.4,
                  db_limit_rps=410.0, connect_ms=2.1)
    return repro.dataclasses.replace(base, **changes)


def check_golden(name, text):
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_markdown_report_golden():
    check_golden("report.md", repro.render_markdown(report()))


def test_interrupted_report_with_a_failed_setup_golden():
    failed = SetupResult(repro.NAMED_CELLS["async"], ramps=(RampResult(
        steps=(), stop_reason="not measured",
        error="Gunicorn + uvicorn_worker.UvicornWorker (ASGI) (async view) did not start: it "
              "exited with code 3; last lines of its log:\n[ERROR] Worker failed to boot.",
        log_findings={}),))
    sync_ramp = repro.dataclasses.replace(SYNC_RAMP, steps=SYNC_RAMP.steps[:3],
                                          stop_reason="interrupted at 60 users (that step is "
                                                      "not counted)",
                                          ended_as="interrupted at 60 users", interrupted=True)
    sync = repro.dataclasses.replace(SYNC, ramps=(sync_ramp,))
    text = repro.render_markdown(report(setups=(sync, failed), interrupted="SIGINT"))
    check_golden("report_interrupted.md", text)


def test_repeats_report_golden():
    """Three repeats: medians with ranges, one table per repeat, and a
    winner only where every repeat agrees."""
    def varied(ramp, factor):
        return repro.dataclasses.replace(ramp, steps=tuple(
            repro.dataclasses.replace(s, p50_ms=s.p50_ms * factor, rps=s.rps * factor)
            for s in ramp.steps))
    sync = repro.dataclasses.replace(SYNC, ramps=(SYNC_RAMP, varied(SYNC_RAMP, 1.05),
                                                  varied(SYNC_RAMP, 0.97)))
    async_ramp2 = repro.dataclasses.replace(ASYNC_RAMP, steps=steps(
        [(10, 100, 0, 10.0, 20.0), (20, 40, 0, 20.0, 30.0), (40, 70, 0, 39.0, 50.0),
         (60, 94, 0, 55.0, 100.0)]))
    async_ = repro.dataclasses.replace(ASYNC, ramps=(ASYNC_RAMP, async_ramp2, ASYNC_RAMP))
    settings = with_ramp(SETTINGS, repeat=3)
    check_golden("report_repeats.md", repro.render_markdown(
        report(setups=(sync, async_), settings=settings, command="python repro.py --repeat 3")))


def test_open_loop_report_golden():
    settings = with_ramp(SETTINGS, open_loop=True, top=60, max_in_flight=1000)
    check_golden("report_arrival.md", repro.render_markdown(
        report(settings=settings, command="python repro.py --arrival 60")))


def test_a_busy_load_generator_and_an_unsteady_window_are_called_out():
    busy = repro.dataclasses.replace(SYNC_RAMP.steps[3], client_cpu_pct=91.0, arrival_rps=60.0,
                                     completion_rps=47.0)
    ramp = repro.dataclasses.replace(SYNC_RAMP, steps=SYNC_RAMP.steps[:3] + (busy,))
    sync = repro.dataclasses.replace(SYNC, ramps=(ramp,))
    text = repro.render_markdown(report(setups=(sync, ASYNC)))
    assert ("Warning: the load generator used 80% or more of a core at 60 users; those steps "
            "may measure the client, not the server.") in text
    assert ("\\* Not steady at 60 users: requests sent and responses completed per second "
            "(sent/s and done/s, which counts failed responses too) differ by more than "
            "5%.") in text
    # req/s, sent/s and done/s side by side: the reader can check the mark.
    assert re.search(r"\|\s+47\.0 \* \|\s+60\.0 \|\s+47\.0 \|", text)
    plain = repro.render_markdown(report())
    assert "Warning" not in plain and "Not steady" not in plain


def test_thresholds_in_the_summary_follow_the_rules():
    summary = repro.render_summary(report())
    assert [c.strip() for c in summary[2].split("|")[1:8]] == [
        "sync", "35", "none up to 60", "43.5", "not clear", "17.3 ms", "completed"]
    sync, async_ = SYNC.thresholds, ASYNC.thresholds
    assert (sync.slowdown, sync.errors, sync.peak_rps, sync.peak_level) == (35, None, 47.0, 60)
    # The plateau, above the slowdown threshold: 40 and 60 users.
    assert sync.capacity_rps == pytest.approx((40 + 47) / 2)
    assert (async_.slowdown, async_.errors, async_.peak_level) == (20, 25, 30)
    # Nothing between the thresholds: the slowdown threshold's own window.
    assert async_.capacity_rps == 20.0


def test_the_2021_table_says_whether_repro_ran_in_a_container():
    boxed = repro.dataclasses.replace(ENV, container="docker", postgres_private=False)
    text = repro.render_markdown(report(environment=boxed))
    assert "| this run        |" in text
    assert "Test CPU 3000, 2 cores, in a container, PostgreSQL given by DSN, repro.py" in text
    assert "| Machine       | virtual machine, in a container (docker)" in text
    text = repro.render_markdown(report())
    assert "Test CPU 3000, 2 cores, no container, private PostgreSQL, repro.py" in text


def test_json_has_every_field_the_issues_name():
    data = json.loads(json.dumps(repro.report_to_json(report())))
    assert data["schema"] == repro.SCHEMA
    assert data["command"] == "python repro.py --users 60"
    assert data["environment"]["postgres_version"] == "15.18"
    assert data["settings"]["ramp"] == "search" and data["settings"]["unit"] == "users"
    sync, async_ = data["setups"]
    assert (sync["name"], sync["slowdown_at"], sync["errors_at"]) == ("sync", 35, None)
    assert (sync["peak_rps"], sync["peak_at"]) == (47.0, 60)
    assert sync["capacity_rps"] == pytest.approx(43.5)
    assert sync["plateau_spread"] == pytest.approx((47 - 40) / 43.5)
    assert (sync["limited_by"], async_["limited_by"]) == ("unclear", "unclear")
    assert (async_["slowdown_at"], async_["errors_at"]) == (20, 25)
    [repeat] = async_["repeats"]
    assert (repeat["slowdown_at"], repeat["errors_at"]) == (20, 25)
    assert repeat["ended"] == "completed"
    assert repeat["cpu_ms_per_request"]["client"] == pytest.approx(0.25)
    step = repeat["steps"][3]  # in order of level: 10, 20, 25, 30, 40
    assert {"users", "order", "requests", "failures", "rps", "arrival_rps", "completion_rps",
            "steady", "p50_ms", "p95_ms", "p99_ms", "client_cpu_pct", "failures_by_kind",
            "settle_seconds", "seconds", "error_rate"} <= set(step)
    assert step["failures_by_kind"] == {"http_500": 2}
    assert step["users"] == 30 and step["requests"] == 58 and step["failures"] == 2
    assert "sustained_rps" not in sync
    assert (data["db_limit_rps"], data["connect_ms"]) == (410.0, 2.1)
    assert sync["cpu_ms_per_request"] == {"server": 9.8, "postgres": 6.1, "client": 0.25}
    assert (sync["max_db_connections"], async_["max_db_connections"]) == (4, 100)


def test_json_of_an_open_loop_run_names_steps_by_rate_and_the_sustained_rate():
    settings = with_ramp(SETTINGS, open_loop=True)
    data = repro.report_to_json(report(settings=settings))
    sync = data["setups"][0]
    assert sync["sustained_rps"] == 30
    assert [s["rate"] for s in sync["repeats"][0]["steps"]] == [10, 20, 30, 35, 40, 60]


@pytest.mark.parametrize("rows, expected", [
    ([["a", "1"], ["bbb", "22"]], ["| x   |  y |", "|-----|---:|", "| a   |  1 |", "| bbb | 22 |"]),
    ([], ["| x | y |", "|---|--:|"]),
])
def test_md_table(rows, expected):
    assert repro.md_table(["x", "y"], rows, "lr") == expected


def test_any_set_of_cells_is_compared_two_by_two_golden():
    """Three cells, none of them 2021's async: every pair gets its
    comparisons and a verdict worded for what the pair is, and the 2021
    section says what it cannot compare."""
    orm = SetupResult(repro.Cell("async-orm", "uvicorn", "pooled"),
                      ramps=(repro.dataclasses.replace(ASYNC_RAMP, driver="Django ORM over "
                                                                          "psycopg 3.3.9"),))
    gthread = SetupResult(repro.Cell("sync-sql", "gunicorn-gthread", workload="upstream"),
                          ramps=(repro.dataclasses.replace(SYNC_RAMP,
                                                           cpu_ms={"upstream": 0.08}),))
    check_golden("report_cells.md", repro.render_markdown(
        report(setups=(SYNC, orm, gthread), command="python repro.py --setups sync,"
                                                    "async-orm@uvicorn+pooled,"
                                                    "sync-sql@gunicorn-gthread+upstream")))


def test_json_names_each_cell_by_its_axes():
    orm = SetupResult(repro.Cell("async-orm", "uvicorn", "pooled", as_2021=True),
                      ramps=(repro.dataclasses.replace(ASYNC_RAMP, driver="Django ORM over "
                                                                          "psycopg 3.3.9"),))
    data = repro.report_to_json(report(setups=(SYNC, orm)))
    sync, cell = data["setups"]
    assert (sync["name"], sync["view"], sync["server"], sync["connections"], sync["workload"],
            sync["as_2021"], sync["driver"]) == ("sync", "sync-sql", "gunicorn-sync", "per-query",
                                                 "db", False, "psycopg2 2.9.13")
    assert (cell["name"], cell["view"], cell["connections"], cell["as_2021"]) == \
        ("async-orm@uvicorn+pooled+2021", "async-orm", "pooled", True)


# --- the answer first ------------------------------------------------------------

def outside_details(text):
    """The lines a reader sees with every <details> folded."""
    seen, depth = [], 0
    for line in text.splitlines():
        opens, closes = line.count("<details>"), line.count("</details>")
        if depth == 0 and not opens:
            seen.append(line)
        depth += opens - closes
    assert depth == 0, "a <details> left open"
    return seen


def verdict_line(text):
    return next(i for i, line in enumerate(text.splitlines(), start=1)
                if line.startswith("**On this machine") or line.startswith("**Against"))


@pytest.mark.parametrize("name", ["report.md", "report_interrupted.md", "report_repeats.md",
                                  "report_arrival.md", "report_cells.md", "report_locust.md",
                                  "report_study.md"])
def test_every_report_leads_with_its_verdict_and_folds_the_rest(name):
    text = (GOLDEN / name).read_text()
    assert verdict_line(text) <= 5
    outside = outside_details(text)
    assert len(outside) <= 40, "\n".join(outside)
    # What stays unfolded: the title, the verdict, the summary, where it ran.
    assert not any(line.startswith("## ") for line in outside)


def test_a_whole_study_fits_forty_lines_unfolded():
    """Every question's cells (the sweep's probed, the others ramped): the
    answers and the summary stay above the fold."""
    waits, server = repro.DEFAULT_WAITS, repro.ServerSettings()
    probe = repro.dataclasses.replace(SYNC_RAMP, probe=True)
    cells = dict.fromkeys(c for q in repro.QUESTIONS.values() for c in q.cells(waits, server))
    setups = tuple(SetupResult(c, (SYNC_RAMP,) if repro.CONNECTIONS[c.connections].runs_out
                               else (), probes=(probe,)) for c in cells)
    asked = tuple(repro.Asked(q.id, q.cells(waits, server)) for q in repro.QUESTIONS.values())
    text = repro.render_markdown(report(setups=setups, questions=asked))
    assert len(setups) >= 19
    assert verdict_line(text) <= 5
    assert len(outside_details(text)) <= 40, "\n".join(outside_details(text))
