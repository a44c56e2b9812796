"""A saved run renders again exactly as it printed: the JSON rebuilds the
typed results, and the Markdown is a pure function of them."""
import json
from pathlib import Path

import pytest

import repro
from test_report import ASYNC, SYNC, report, with_ramp
from test_study import study_report


def round_trip(r):
    return repro.report_from_json(json.loads(json.dumps(repro.report_to_json(r))), "run.json")


@pytest.mark.parametrize("make", [
    lambda: report(),
    lambda: report(interrupted="SIGINT"),
    study_report,
])
def test_the_json_renders_the_same_markdown(make):
    original = make()
    back = round_trip(original)
    assert repro.render_markdown(back) == repro.render_markdown(original)
    # The typed results themselves come back, not only their rendering.
    assert back.setups == original.setups and back.questions == original.questions
    assert repro.report_to_json(back) == repro.report_to_json(original)


def test_the_report_command_prints_the_saved_run(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(repro.report_to_json(study_report())))
    assert repro.main(["report", str(path)]) == 0
    assert capsys.readouterr().out == repro.render_markdown(study_report())


def write(tmp_path, content):
    path = tmp_path / "run.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


GOOD = repro.report_to_json(report(setups=(SYNC, ASYNC)))


@pytest.mark.parametrize("content, message", [
    ("not json {", "is not JSON (Expecting value, line 1)"),
    ("1" * 5000, "is not a run that repro wrote (ValueError)"),
    ("[" * 200000, "is not a run that repro wrote (RecursionError)"),
    ({"hello": "world"}, "is not a run that repro wrote (no schema and setups in it)"),
    ([1, 2], "is not a run that repro wrote"),
    ({**GOOD, "schema": 1}, "has JSON schema 1; this repro reads schema 8"),
    ({**GOOD, "schema": 99}, "has JSON schema 99"),
    ({**GOOD, "settings": {"top": 3}}, "is not a run that repro wrote (settings has no field"),
    ({**GOOD, "setups": [{"name": "x"}]}, "is not a run that repro wrote (setups[0] has no field"),
])
def test_a_file_that_is_not_a_saved_run_is_one_line_and_exit_2(tmp_path, capsys, content,
                                                                 message):
    assert repro.main(["report", write(tmp_path, content)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("repro.py: error: ")


def test_a_missing_file_is_one_line_and_exit_2(tmp_path, capsys):
    assert repro.main(["report", str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "No such file or directory" in err and err.count("\n") == 1


# --- compare ---------------------------------------------------------------------------

def faster(result, factor):
    """The same setup, its throughput scaled and its knee moved by factor."""
    ramps = tuple(repro.dataclasses.replace(r, steps=tuple(
        repro.dataclasses.replace(s, level=round(s.level * factor), rps=s.rps * factor,
                                  arrival_rps=s.arrival_rps * factor,
                                  completion_rps=s.completion_rps * factor)
        for s in r.steps)) for r in result.ramps)
    return repro.dataclasses.replace(result, ramps=ramps)


def test_compare_golden(tmp_path, capsys, monkeypatch):
    before = report()
    env = repro.dataclasses.replace(before.environment,
                                    packages={**before.environment.packages, "Django": "6.0.1"})
    after = report(setups=(SYNC, faster(ASYNC, 2.0)), environment=env,
                   settings=with_ramp(before.settings, think_time=0.5),
                   started="2026-11-26 10:00 UTC", command="python repro.py --think-time 0.5")
    # Relative names: a temp dir's path would change the table's widths.
    monkeypatch.chdir(tmp_path)
    for name, r in (("before.json", before), ("after.json", after)):
        Path(name).write_text(json.dumps(repro.report_to_json(r)))
    assert repro.main(["compare", "before.json", "after.json"]) == 0
    text = capsys.readouterr().out
    from test_report import check_golden
    check_golden("compare.md", text)
    assert "runs differ on async (B did better)" in text
    assert "think_time 1.0 (A), 0.5 (B)" in text


def test_compare_refuses_runs_of_different_kinds(tmp_path, capsys):
    users = write(tmp_path, GOOD)
    rate = tmp_path / "rate.json"
    rate.write_text(json.dumps(repro.report_to_json(report(
        settings=with_ramp(report().settings, open_loop=True)))))
    assert repro.main(["compare", users, str(rate)]) == 2
    err = capsys.readouterr().err
    assert "ramps users" in err and "compare two runs of the same kind" in err


def test_compare_of_a_missing_file_is_one_line_and_exit_2(tmp_path, capsys):
    assert repro.main(["compare", write(tmp_path, GOOD), str(tmp_path / "b.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


# --- the chart -------------------------------------------------------------------------

def png_size(path):
    import struct
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_a_run_gets_one_row_of_panels_and_a_study_one_per_question(tmp_path):
    pytest.importorskip("matplotlib")
    run, study = tmp_path / "run.png", tmp_path / "study.png"
    run.write_bytes(repro.render_chart(report()))
    study.write_bytes(repro.render_chart(study_report()))
    (w1, h1), (w2, h2) = png_size(run), png_size(study)
    assert w1 == w2 == 1300
    # Three questions: three rows of the same height, and one caption.
    assert h2 - 60 == pytest.approx(3 * (h1 - 60), abs=2)


def test_report_draws_the_chart_of_a_saved_run(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    saved, chart = tmp_path / "run.json", tmp_path / "run.png"
    saved.write_text(json.dumps(repro.report_to_json(report())))
    assert repro.main(["report", str(saved), "--chart", str(chart)]) == 0
    assert png_size(chart)[0] == 1300
    assert capsys.readouterr().out == repro.render_markdown(report())


def test_a_chart_that_cannot_be_written_is_refused_up_front(tmp_path, capsys):
    assert repro.main(["--chart", str(tmp_path / "no" / "dir.png")]) == 2
    assert "cannot write --chart" in capsys.readouterr().err


# --- the Locust file -------------------------------------------------------------------

def locustfile(*args):
    config = repro.parse_config(["locustfile", *args])
    return repro.render_locustfile(config)


def test_the_locustfile_carries_repro_users_and_plan():
    text = locustfile("async+pooled", "--users", "40", "--think-time", "0.5", "--timeout", "7")
    namespace = {}
    code = compile(text, "locustfile.py", "exec")  # valid Python, whatever Locust's version
    assert "PLAN = [10, 20, 30, 40]" in text
    # 2 x (0.5 s think + 1 s window) to settle, then Locust's 10 s percentile
    # window and 2 s for its whole-second rows.
    assert "HOLD = 15.0" in text
    assert "THINK = 0.5" in text and "network_timeout = 7.0" in text
    assert "self.client.get('/async-sql/'" in text
    assert "python repro.py serve async+pooled --port 8000" in text
    assert code.co_filename == "locustfile.py" and not namespace


def test_a_locustfile_for_a_url_takes_its_host_and_path():
    text = locustfile("http://10.0.0.5:8080/orders/?page=2", "--ramp", "linear", "--users", "30",
                      "--step", "15")
    assert "host = 'http://10.0.0.5:8080'" in text
    assert "self.client.get('/orders/?page=2'" in text
    assert "PLAN = [15, 30]" in text


@pytest.mark.parametrize("args, message", [
    (["locustfile", "nginx"], "unknown setup 'nginx'"),
    (["locustfile", "https://x.example/"], "not https"),
    (["locustfile", "sync", "--ramp", "search"], "invalid choice: 'search'"),
])
def test_bad_locustfile_input_is_one_line_and_exit_2(args, message, capsys):
    assert repro.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def wrong(path, value):
    """GOOD with one field, at path, set to value."""
    data = json.loads(json.dumps(GOOD))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize("path, value, named", [
    (("setups", 0, "view"), "nope", "setups[0].view is 'nope', not one of sync-sql"),
    (("seconds",), None, "the run.seconds is None, not a number"),
    (("setups", 0, "repeats", 0, "steps", 0, "p50_ms"), "x",
     "setups[0].repeats[0].steps[0].p50_ms is 'x', not a number"),
    (("setups", 0, "repeats", 0, "steps", 0, "users"), "10",
     "setups[0].repeats[0].steps[0].users is '10', not a whole number"),
    (("setups", 0, "repeats", 0, "steps", 0, "requests"), -1,
     "steps[0].requests is -1, not a whole number of at least 0"),
    (("environment", "cpu_count"), "two", "environment.cpu_count is 'two'"),
    (("settings", "think_time"), "1", "settings.think_time is '1', not a number"),
    (("settings", "step"), 0, "settings.step is 0, not a whole number of at least 1"),
    (("settings", "ramp"), "fast", "settings.ramp is 'fast', not one of search"),
    (("questions",), [{"id": 99, "cells": [], "skipped": []}], "questions[0].id is 99"),
    (("questions",), [{"id": [1], "cells": [], "skipped": []}], "questions[0].id is [1], not one"),
    (("setups", 0, "server"), {"x": 1}, "setups[0].server is {'x': 1}, not one of"),
    (("settings", "load_processes"), None, "settings.load_processes is None, not a whole number"),
])
def test_a_saved_run_with_a_field_of_the_wrong_kind_is_one_line_naming_it_and_exit_2(
        tmp_path, capsys, path, value, named):
    bad = write(tmp_path, wrong(path, value))
    for argv in (["report", bad], ["compare", bad, bad]):
        assert repro.main(argv) == 2
        err = capsys.readouterr().err
        assert "is not a run that repro wrote" in err and err.count("\n") == 1, err
        assert named in err, err


@pytest.mark.parametrize("path, named", [
    (("settings",), "the run has no field settings"),
    (("environment",), "the run has no field environment"),
    (("setups", 0, "repeats"), "setups[0] has no field repeats"),
    (("setups", 0, "repeats", 0, "steps"), "setups[0].repeats[0] has no field steps"),
    (("setups", 0, "repeats", 0, "steps", 0, "p95_ms"),
     "setups[0].repeats[0].steps[0] has no field p95_ms"),
])
def test_a_saved_run_missing_a_field_is_one_line_naming_it_and_exit_2(
        tmp_path, capsys, path, named):
    data = wrong(path, None)
    node = data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    assert repro.main(["report", write(tmp_path, data)]) == 2
    err = capsys.readouterr().err
    assert "is not a run that repro wrote" in err and err.count("\n") == 1, err
    assert named in err, err


def test_a_chart_of_a_run_where_nothing_succeeded_is_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    failed = repro.dataclasses.replace(
        ASYNC, ramps=tuple(repro.dataclasses.replace(r, steps=tuple(
            repro.dataclasses.replace(s, p50_ms=None, p95_ms=None, p99_ms=None, rps=0.0)
            for s in r.steps)) for r in ASYNC.ramps))
    (tmp_path / "x.png").write_bytes(repro.render_chart(report(setups=(failed,))))
    assert (tmp_path / "x.png").stat().st_size > 1000


@pytest.mark.parametrize("argv, message", [
    (["--chart", "x.txt"], "--chart draws a PNG"),
    (["--chart", "/tmp/same.png", "--json", "/tmp/same.png"], "name the same file"),
    (["ramp", "http://[::1/"], "is not a valid URL"),
    (["ramp", "http://me:secret@127.0.0.1:8000/"], "user or password"),
    (["ramp", "http://127.0.0.1:8000/\u00e9"], "must be percent-encoded"),
    (["ramp", "http://127.0.0.1:0/"], "port 0 is no port"),
])
def test_more_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert repro.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "secret" not in err


# --- Locust's stats history, read back ------------------------------------------------
# Two real histories that Locust 2.47 wrote running repro's locustfile
# (--users 16 --step 4 --ramp linear --timeout 2) against `serve
# sync+upstream` and `serve async+upstream`, each with one worker and a
# 200 ms upstream API.

DATA = Path(__file__).resolve().parent / "data"
SYNC_CSV, ASYNC_CSV = DATA / "locust_sync_stats_history.csv", DATA / "locust_async_stats_history.csv"
HEADER = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,"
          "99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response "
          "Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,"
          "Total Average Content Size")


def history(rows, endpoint=True):
    """A stats history: (second, users, total requests, total failures, p50)
    per row, Aggregated, with an endpoint's row before each."""
    lines = [HEADER]
    for second, users, total, failed, p50 in rows:
        p = "N/A" if p50 is None else p50
        values = f"0.0,0.0,{p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{total},{failed},0,0,0,0,0"
        if endpoint:
            lines.append(f"{second},{users},GET,/view/,{values}")
        lines.append(f"{second},{users},,Aggregated,{values}")
    return lines


def test_locust_history_report_golden(capsys):
    from test_report import check_golden
    assert repro.main(["report", "--locust", str(SYNC_CSV), str(ASYNC_CSV)]) == 0
    text = capsys.readouterr().out
    check_golden("report_locust.md", text.replace(str(DATA) + "/", ""))


def test_locust_levels_are_the_counts_it_held_and_their_last_ten_seconds():
    rows = [(100, 0, 0, 0, None)]
    rows += [(101 + i, 10, 5 * i, 0, 20) for i in range(4)]  # 10 users for 4 s
    rows += [(105, 15, 20, 0, 22)]  # spawning: one row at 15 users
    rows += [(106 + i, 20, 22 + 9 * i, i // 7, 30 + i) for i in range(16)]  # 20 users, 16 s
    report, [run] = repro.locust_report([("h.csv", iter(history(rows)))], "cmd")
    [setup] = report.setups
    assert run == repro.LocustRun("h.csv", 1, ())
    low, high = setup.ramps[0].by_level
    assert (low.level, high.level) == (10, 20) and setup.name == "/view/"
    # 10 users: held 4 s, so its percentiles mix in what came before; its
    # totals moved from the second row on (seconds 102 to 104).
    assert (low.requests, low.rps, low.p50_ms, low.seconds) == (10, 5.0, 20, 4.0)
    assert repro.locust_mixed(low) and not repro.locust_mixed(high)
    # 20 users: the last 10 s (seconds 111 to 121): 90 requests, 2 failed.
    assert (high.requests, high.failures, high.settle_seconds, high.seconds) == (90, 2, 5.0, 16.0)
    assert high.rps == pytest.approx(8.8) and high.p50_ms == 45
    assert report.settings.ramp.step == 10 and report.settings.plan == (10, 20)


def test_a_master_moves_its_totals_every_three_seconds_and_the_rate_holds():
    """In distributed mode Locust's master adds its workers' counts when they
    report: the rate is taken between rows where the totals moved.  A
    percentile Locust could not compute (0) is taken from an earlier row."""
    rows = [(100 + i, 30, 30 * (i // 3 * 3), 0, 0 if i == 19 else 50) for i in range(20)]
    report, _ = repro.locust_report([("m.csv", iter(history(rows)))], "cmd")
    [s] = report.setups[0].ramps[0].steps
    assert s.rps == 30.0 and s.requests == 270 and s.p50_ms == 50


def test_a_history_saved_with_a_bom_and_crlf_reads_the_same(tmp_path, capsys):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + SYNC_CSV.read_bytes().replace(b"\n", b"\r\n"))
    assert repro.main(["report", "--locust", str(path)]) == 0
    assert "|     8 |       46 |         0 |   4.6 |" in capsys.readouterr().out


BAD_LOCUST = [
    (None, "cannot read {path}: No such file or directory"),
    (b"\xff\xfe\x00", "is not UTF-8 text"),
    ('{"schema": 2}', "is not a Locust stats history (no 'Timestamp' column)"),
    ("Type,Name,Request Count,Failure Count\nGET,/,3,0\n",
     "is not a Locust stats history (no 'Timestamp' column)"),
    ("\n".join(history([(1, 10, 5, 0, 20)])).replace(",10,", ",ten,"),
     "line 3: 'ten' in column 'User Count' is not a whole number"),
    ("\n".join(history([(1 + i, 10, 5 * i, 0, 20) for i in range(5)], endpoint=False)),
     "was written without --csv-full-history"),
    ("\n".join(history([(1, 10, 5, 0, 20), (2, 20, 9, 0, 20)])), "holds no level of users"),
    ("\n".join(history([(1 + i, 10, 0, 0, None) for i in range(5)])), "holds no level of users"),
    ("", "is not a Locust stats history (no 'Timestamp' column)"),
    (HEADER + "\n", "has no rows of Locust's totals"),
    ("\n".join(history([(1, 10, 5, 0, 20), (1, 10, 9, 0, 20)])),
     "line 5: the time does not move on"),
    ("\n".join(history([(1, 10, 5, 0, 20), (99, 10, 9, 0, 20)])),
     "line 5: 98 s after the row before"),
    ("\n".join(history([(1, 10, 50, 0, 20), (2, 10, 9, 0, 20)])),
     "line 5: Locust's totals go down, so its stats were reset"),
    ("\n".join(history([(1, 10, 5, 7, 20)])), "line 3: more failures than requests"),
    ("\n".join(history([(1, 10, 5, 0, 20)])).replace(",10,", "," + "9" * 5000 + ","),
     "line 3: '999999999999999999999999999999...' in column 'User Count' is not a whole "
     "number"),
    (HEADER + "\n1,10,,Aggregated,0.0\n", "line 2 does not have the header's 24 fields"),
]


@pytest.mark.parametrize("content, message", BAD_LOCUST)
def test_a_file_that_is_not_a_locust_history_is_one_line_and_exit_2(tmp_path, capsys, content,
                                                                     message):
    path = tmp_path / "h.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert repro.main(["report", "--locust", str(path)]) == 2
    err = capsys.readouterr().err
    assert message.format(path=path) in err and err.count("\n") == 1, err


@pytest.mark.parametrize("args, message", [
    (["report"], "give one of them"),
    (["report", "run.json", "--locust", "h.csv"], "give one of them"),
    (["report", "--locust", str(SYNC_CSV), str(DATA / ".." / "data" / SYNC_CSV.name)],
     "are the same file"),
])
def test_report_takes_a_saved_run_or_locust_history(args, message, capsys):
    assert repro.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_a_locust_history_draws_a_chart(tmp_path):
    pytest.importorskip("matplotlib")
    chart = tmp_path / "locust.png"
    assert repro.main(["report", "--locust", str(SYNC_CSV), "--chart", str(chart)]) == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_renderer_bug_is_a_traceback_not_bad_input(tmp_path, monkeypatch):
    """The loader checks every field itself: what it lets through renders.
    A renderer that fails on a valid file is a bug, and says so with its
    traceback, not with "not a run that repro wrote"."""
    good = write(tmp_path, GOOD)

    def broken(_report):
        return {}["a renderer's bug"]

    monkeypatch.setattr(repro, "render_markdown", broken)
    with pytest.raises(KeyError, match="a renderer's bug"):
        repro.main(["report", good])
