"""--profile's grouping, differences, report and JSON: pure functions of the
stacks py-spy recorded.  The stacks in tests/data are a real py-spy run's
(`python repro.py --users 60 --profile DIR --profile-seconds 5`, 2 vCPU AMD
EPYC, 2026-12-03): sync held 60 users, async 50, each after its ramp."""
import gzip
import json
from pathlib import Path

import pytest

import repro
from repro import RampResult, SetupResult
from test_report import ASYNC, SYNC, SYNC_RAMP, check_golden, report, steps

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"


def recorded(name):
    with gzip.open(DATA / f"profile_{name}.folded.gz", "rt") as f:
        return repro.parse_collapsed(iter(f.read().splitlines()))


@pytest.mark.parametrize("frame, group", [
    ("get_response (django/core/handlers/base.py:140)", "django"),
    ("QuerySet.__iter__ (django/db/models/query.py:400)", "orm"),
    ("ForNode.render (django/template/defaulttags.py:243)", "templates"),
    ("do_for (django/templatetags/i18n.py:1)", "templates"),
    ("get_language (django/utils/translation/trans_real.py:327)", None),
    ("_CVar.__getattr__ (asgiref/local.py:60)", "asgiref"),
    ("BaseEventLoop._run_once (asyncio/base_events.py:1922)", "event_loop"),
    ("run (uvloop/__init__.py:105)", "event_loop"),
    ("SyncWorker.handle (gunicorn/workers/sync.py:135)", "http_server"),
    ("H11Protocol.data_received (uvicorn/protocols/http/h11_impl.py:1)", "http_server"),
    ("Connection.next_event (h11/_connection.py:1)", "http_server"),
    ("serve (granian/server.py:1)", "http_server"),
    ("connect (psycopg2/__init__.py:122)", "driver"),
    ("Cursor.fetch (asyncpg/cursor.py:281)", "driver"),
    ("ConnectionPool.getconn (psycopg_pool/pool.py:1)", "driver"),
    ("fetch_list_sync (repro.py:867)", "view"),
    ("ThreadPoolExecutor.submit (concurrent/futures/thread.py:175)", "stdlib"),
    ("Thread.run (threading.py:982)", "stdlib"),
    ("_run_code (<frozen runpy>:88)", "stdlib"),
    ("current_async_library (sniffio/_impl.py:1)", "other"),
    ('process 30167:"/venv/bin/python -m gunicorn repro:make_app(\'asgi\')"', None),
])
def test_each_frame_falls_in_its_group(frame, group):
    assert repro.frame_group(frame) == group


def test_a_sample_counts_to_the_innermost_frame_that_belongs_to_a_group():
    process = 'process 1:"python -m gunicorn"'
    served = (process, "Worker.run (gunicorn/workers/sync.py:1)",
              "render (django/template/base.py:1)")
    # Django's helpers belong to no group: their time is the template's.
    assert repro.sample_group((*served, "localize (django/utils/formats.py:208)",
                               "get_language (django/utils/translation/__init__.py:211)")) \
        == "templates"
    # asgiref's Local, called by a helper, is asgiref's.
    assert repro.sample_group((*served, "localize (django/utils/formats.py:208)",
                               "_CVar.__getattr__ (asgiref/local.py:60)")) == "asgiref"
    assert repro.sample_group(served[:2]) == "http_server"
    assert repro.sample_group((process,)) == "other"  # no Python frame at all
    assert repro.self_frame(served) == "render (django/template/base.py)"
    assert repro.self_frame((process,)) == "(no Python frame)"


def test_samples_taken_while_importing_are_the_server_starting_and_left_out():
    stacks = [(("p", "load (gunicorn/app/base.py:1)", "_find_and_load (<frozen importlib._bootstrap>:1)",
                "<module> (django/db/models/query.py:1)"), 7),
              (("p", "handle (gunicorn/workers/sync.py:1)"), 3)]
    counts = repro.count_stacks(stacks)
    assert (counts.samples, counts.starting) == (3, 7)
    assert counts.by_group["http_server"] == 3 and counts.by_group["orm"] == 0


def test_the_collapsed_format_is_read_and_other_lines_skipped():
    lines = ["a (x.py:1);b (y.py:2) 5", "", "py-spy> Samples: 3", "c (z.py:3) 2"]
    assert repro.parse_collapsed(iter(lines)) == [(("a (x.py:1)", "b (y.py:2)"), 5),
                                                 (("c (z.py:3)",), 2)]


@pytest.mark.parametrize("name, expected", [
    # templates, asgiref and event_loop counted again with awk, apart from repro.
    ("sync", {"samples": 285, "starting": 93, "django": 9, "orm": 0, "templates": 167,
              "asgiref": 49, "event_loop": 1, "http_server": 10, "driver": 7, "view": 35,
              "stdlib": 7, "other": 0}),
    ("async", {"samples": 330, "starting": 150, "django": 3, "orm": 0, "templates": 126,
               "asgiref": 84, "event_loop": 30, "http_server": 4, "driver": 12, "view": 20,
               "stdlib": 50, "other": 1}),
])
def test_recorded_stacks_group_as_they_did(name, expected):
    stacks = recorded(name)
    counts = repro.count_stacks(stacks)
    assert counts.samples + counts.starting == sum(n for _, n in stacks)
    assert sum(counts.by_group.values()) == counts.samples
    assert {"samples": counts.samples, "starting": counts.starting, **counts.by_group} == expected


def test_recorded_stacks_show_each_server_in_its_own_frames():
    """Not only innermost: the async server's stacks run through the event
    loop and Uvicorn, the sync one's through Gunicorn's sync worker."""
    def files(name):
        return {repro.frame_file(f).split("/")[0] for stack, _ in recorded(name) for f in stack}
    assert {"asyncio", "uvicorn", "uvicorn_worker", "asgiref", "asyncpg"} <= files("async")
    assert "gunicorn" in files("sync") and "psycopg2" in files("sync")
    assert not {"uvicorn", "asyncpg"} & files("sync")


def profiled(result, name, cpu_ms, without, with_it):
    counts = repro.count_stacks(recorded(name))
    profile = repro.profile_of(counts, 60 if name == "sync" else 50, cpu_ms, without, with_it,
                               p50_without=30.0, p50_with=31.5, profiler_cpu_ms=1.2,
                               file=f"prof/{name}.folded")
    return repro.dataclasses.replace(result, profile=profile)


def profiled_report():
    return report(setups=(profiled(SYNC, "sync", 16.2, 56.2, 56.9),
                          profiled(ASYNC, "async", 25.0, 42.7, 40.9)))


def test_the_shares_add_up_and_the_ms_follow_from_the_cpu_per_request():
    p = profiled_report().setups[1].profile
    assert sum(p.shares.values()) == pytest.approx(1.0)
    assert sum(p.ms_per_request(g) for g in repro.PROFILE_GROUPS) == pytest.approx(25.0)
    assert p.overhead == pytest.approx(1 - 40.9 / 42.7)
    assert len(p.top_frames) == repro.TOP_FRAMES
    assert p.top_frames[0] == ("_DefaultLocal.__getattr__ (asgiref/local.py)", 48 / 330)


def test_the_difference_names_the_groups_that_make_most_of_it():
    [pair] = repro.profile_pairs(profiled_report().setups)
    assert (pair.a.name, pair.b.name) == ("sync", "async")
    assert pair.total_ms == pytest.approx(25.0 - 16.2)
    assert [d.group for d in pair.main] == ["asgiref", "stdlib", "event_loop"]


def test_main_contributors_take_two_at_least_and_stop_at_the_share():
    D = repro.GroupDifference
    assert [d.group for d in repro.main_contributors(
        [D("templates", 0, 9), D("asgiref", 0, 1), D("stdlib", 0, 0.5)])] == ["templates",
                                                                               "asgiref"]
    # Against the total's direction: not a contributor.
    assert [d.group for d in repro.main_contributors(
        [D("view", 1, 0), D("asgiref", 0, 2), D("stdlib", 0, 1), D("driver", 0, 1)])] \
        == ["asgiref", "stdlib"]
    # Three at most, where two make up less than the share.
    assert [d.group for d in repro.main_contributors(
        [D(g, 0, 1) for g in ("asgiref", "stdlib", "driver", "view")])] \
        == ["asgiref", "stdlib", "driver"]
    assert repro.main_contributors([D("view", 1, 1)]) == ()


def test_the_profiles_in_the_report_golden():
    check_golden("report_profile.md", repro.render_markdown(profiled_report()))


def test_why_names_what_the_difference_is_made_of():
    text = repro.render_markdown(profiled_report())
    why = text[text.index("<summary>Why:"):]
    assert why.splitlines()[2] == (
        "Where the difference comes from, by the profiles below: async spent 8.8 ms more "
        "server CPU per request than sync (25.0 against 16.2 ms, at the level profiled, on "
        "fresh servers); by group, asgiref +3.6 (its top function: "
        "`_DefaultLocal.__getattr__`), the standard library +3.4 (its top function: "
        "`ThreadPoolExecutor.submit`), asyncio and the event loop +2.2; together +9.2 ms, the "
        "other groups -0.4 ms.")


def test_a_difference_within_what_fresh_servers_differ_by_is_called_alike():
    sync = profiled(SYNC, "sync", 16.2, 56.2, 56.9)
    close = profiled(ASYNC, "async", 16.2 * (1 + repro.PROFILE_NOISE) - 0.1, 42.7, 40.9)
    [pair] = repro.profile_pairs([sync, close])
    assert pair.alike
    assert repro.difference_words(pair).startswith(
        "async spent 3.1 ms more server CPU per request than sync (19.3 against 16.2 ms, at the "
        "level profiled, on fresh servers; within the 20% two fresh servers differ by, so the "
        "total may be noise); by group, the standard library +")
    [pair] = repro.profile_pairs([sync, profiled(ASYNC, "async", 16.2, 42.7, 40.9)])
    assert pair.alike and pair.total_ms == pytest.approx(0.0)


def test_an_async_view_is_set_beside_the_sync_view_of_its_kind():
    def cell(text, name):
        return profiled(SetupResult(repro.parse_cell(text), SYNC.ramps), name, 10.0, 50, 50)
    setups = [cell("sync", "sync"), cell("sync-orm@gunicorn-sync", "sync"),
              cell("async-orm@uvicorn", "async"), cell("async", "async"),
              cell("async+pooled", "async")]
    assert [(p.a.name, p.b.name) for p in repro.profile_pairs(setups)] == [
        ("sync-orm@gunicorn-sync", "async-orm@uvicorn"), ("sync", "async")]


def test_a_profile_holds_the_slowdown_threshold_or_else_the_peak():
    t = SYNC.thresholds
    assert t.slowdown is not None and repro.profile_level(SYNC, 1.0) == t.slowdown
    # A ramp that never slowed down: its peak.
    calm = repro.dataclasses.replace(SYNC_RAMP, steps=SYNC_RAMP.steps[:2])
    flat = repro.SetupResult(SYNC.cell, (calm,))
    assert flat.thresholds.slowdown is None
    assert repro.profile_level(flat, 1.0) == flat.thresholds.peak_level
    # A cell a study only probed: the users that keep it at its capacity
    # with the think time: 100 req/s x (1 s + 20 ms).
    probe = RampResult(steps=steps([(1, 10, 0, 50.0, 20.0), (8, 100, 0, 99.0, 80.0),
                                    (16, 100, 0, 100.0, 160.0)]), stop_reason="completed",
                       probe=True)
    assert repro.profile_level(repro.SetupResult(SYNC.cell, (), probes=(probe,)), 1.0) == 102


def test_a_report_without_profiles_says_why_in_one_line():
    missing = "py-spy is not installed here (pip install py-spy)"
    text = repro.render_markdown(report(unprofiled={"sync": missing, "async": missing}))
    assert "\nNot profiled: py-spy is not installed here (pip install py-spy).\n" in text
    assert "Where the difference comes from" not in text
    text = repro.render_markdown(report(unprofiled={"sync": "interrupted", "async": missing}))
    assert ("\nNot profiled: sync: interrupted; async: py-spy is not installed here (pip "
            "install py-spy).\n" in text)


def test_profiles_go_through_the_json_and_back():
    original = profiled_report()
    data = json.loads(json.dumps(repro.report_to_json(original)))
    entry = data["setups"][1]["profile"]
    assert entry["samples"] == 330 and entry["overhead"] == pytest.approx(1 - 40.9 / 42.7)
    assert (entry["rate"], entry["seconds"], entry["p50_with"]) == (repro.PROFILE_RATE, 15.0, 31.5)
    assert entry["groups"]["asgiref"] == {"share": 84 / 330, "ms_per_request": 84 / 330 * 25.0}
    assert entry["top_frames"][0] == {"frame": "_DefaultLocal.__getattr__ (asgiref/local.py)",
                                      "share": 48 / 330}
    back = repro.report_from_json(data, "run.json")
    assert [r.profile for r in back.setups] == [r.profile for r in original.setups]
    assert repro.render_markdown(back) == repro.render_markdown(original)
    assert data["setups"][0]["profile"] is not None
    assert json.loads(json.dumps(repro.report_to_json(report())))["setups"][0]["profile"] is None


def test_a_profile_of_an_unknown_group_is_one_line_naming_it(tmp_path, capsys):
    data = repro.report_to_json(profiled_report())
    data["setups"][0]["profile"]["groups"]["numpy"] = {"share": 0.1, "ms_per_request": 1.0}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    assert repro.main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "setups[0].profile.groups.numpy is not a group of code repro knows" in err


def test_py_spy_said_reads_its_errors_and_its_count_of_failed_samples(tmp_path):
    log = tmp_path / "server.log"
    log.write_text("[INFO] Booting worker\npy-spy> Wrote raw flamegraph data to 'x'. "
                   "Samples: 285 Errors: 3\nError: Permission denied (os error 13)\n")
    assert repro.py_spy_said(log) == (3, "Error: Permission denied (os error 13)")
    # What py-spy 0.4 prints where ptrace is forbidden (src/main.rs).
    denied = "Permission Denied: Try running again with elevated permissions by going 'sudo !!'"
    log.write_text(f"{denied}\n")
    assert repro.py_spy_said(log) == (0, denied)
    assert repro.py_spy_said(tmp_path / "none.log") == (0, "")


def test_py_spy_starts_the_server_and_samples_the_gil_holder():
    argv = repro.py_spy_argv("/venv/bin/py-spy", Path("/w/sync.folded"))
    assert argv[:3] == ["/venv/bin/py-spy", "record", "--subprocesses"]
    assert "--gil" in argv and argv[-1] == "--"
    assert argv[argv.index("--rate") + 1] == str(repro.PROFILE_RATE)


@pytest.mark.parametrize("args, message", [
    (["--profile-users", "50"], "--profile-users sets up --profile; give --profile too"),
    (["--profile-seconds", "5"], "--profile-seconds sets up --profile; give --profile too"),
    (["--profile", str(ROOT / "README.md")], "README.md is not a directory"),
    (["--profile", "--profile-users", "400"],
     "--profile-users 400 is above the ramp's top (300 users); give a top of at least 400"),
    (["ramp", "http://127.0.0.1:9/", "--profile"], "--profile concerns repro's own servers"),
    (["ramp", "http://127.0.0.1:9/", "--profile-users", "5"],
     "--profile-users concerns repro's own servers"),
])
def test_profile_options_given_wrong_are_one_line_and_exit_2(capsys, args, message):
    assert repro.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_profile_settings_come_from_the_options(tmp_path):
    config = repro.parse_config(["--profile", str(tmp_path / "p"), "--profile-users", "40",
                                 "--profile-seconds", "3"])
    assert config.profile == repro.ProfileSettings(users=40, seconds=3.0,
                                                   directory=str(tmp_path / "p"))
    assert repro.parse_config(["--profile"]).profile == repro.ProfileSettings()
    assert repro.parse_config([]).profile is None
    assert repro.parse_config(["study", "--profile"]).profile == repro.ProfileSettings()
    assert repro.parse_config(["serve", "async", "--profile"]).profile == repro.ProfileSettings()


def test_without_py_spy_the_run_says_why_and_goes_on(monkeypatch):
    monkeypatch.setattr(repro, "py_spy", lambda: None)
    profiles, why = repro.profile_setups([SYNC], repro.parse_config(["--profile"]), None,
                                         Path("."), repro.StopFlag(), None, None)
    assert profiles == {} and why == {"sync": "py-spy is not installed here (pip install py-spy)"}


def test_a_signal_ends_the_profiles_and_names_those_it_cut_short(monkeypatch):
    taken = []

    def profile_setup(result, *_args):
        if taken:
            raise repro.Interrupted(repro.signal.SIGINT)
        taken.append(result.name)
        return profiled(result, "sync", 16.2, 56.2, 56.9).profile, ""
    monkeypatch.setattr(repro, "py_spy", lambda: "/bin/py-spy")
    monkeypatch.setattr(repro, "profile_setup", profile_setup)
    pooled = SetupResult(repro.parse_cell("sync+pooled"), SYNC.ramps)
    profiles, missing = repro.profile_setups([SYNC, ASYNC, pooled], repro.parse_config(["--profile"]),
                                             None, Path("."), repro.StopFlag(), None, None)
    assert list(profiles) == [SYNC.cell]
    assert missing == {"async": "interrupted", "sync+pooled": "interrupted"}
