"""Argument checking: one line on stderr, exit code 2, never a traceback."""
import os
import subprocess
import sys

import pytest

import repro
from conftest import ROOT


ENCODE = ("--dsn has characters that must be percent-encoded (in a password, @ as %40, / as "
          "%2F, ? as %3F, # as %23, % as %25)")


ONE_LEVEL = ("{} is not above --step {}, so the ramp would measure one level, and the baseline "
             "takes two; give a top above --step (e.g. {}), or a smaller --step")


@pytest.mark.parametrize("argv, message", [
    (["--users", "abc"], "argument --users: 'abc' is not a whole number from 1 to 100000 "
                         "(see --help)"),
    (["--users", "0"], "argument --users: '0' is not a whole number from 1 to 100000 (see --help)"),
    (["--users", "99999999999999999999"], "argument --users: '99999999999999999999' is not a "
                                          "whole number from 1 to 100000 (see --help)"),
    (["--step", "0"], "argument --step: '0' is not a whole number of at least 1 (see --help)"),
    (["--think-time", "-1"], "argument --think-time: '-1' is not a number of seconds, 0 or more "
                             "(see --help)"),
    (["--step-seconds", "0"], "argument --step-seconds: '0' is not a number of seconds above 0 "
                              "(see --help)"),
    (["--timeout", "nan"], "argument --timeout: 'nan' is not a number of seconds above 0 "
                           "(see --help)"),
    (["--workers", "1.5"], "argument --workers: '1.5' is not a whole number from 1 to 256 "
                           "(see --help)"),
    (["--workers", "100000"], "argument --workers: '100000' is not a whole number from 1 to 256 "
                              "(see --help)"),
    (["--max-connections", "3"], "argument --max-connections: '3' is not a whole number from 10 "
                                 "to 10000 (see --help)"),
    (["--max-connections", "999999999"], "argument --max-connections: '999999999' is not a whole "
                                         "number from 10 to 10000 (see --help)"),
    (["--json", ""], "--json needs a file name"),
    (["--setups", "sync,turbo"], "unknown setup 'turbo': give sync, async or "
                                 "VIEW@SERVER[+pooled|+persistent][+upstream[=MS]|+slow-db][+2021], "
                                 "with VIEW one of sync-sql, async-sql, sync-orm, async-orm and "
                                 "SERVER one of gunicorn-sync, gunicorn-gthread, uvicorn, "
                                 "uvicorn-standard, gunicorn-asgi, granian"),
    (["--setups", "async+turbo"], "unknown option +turbo in setup 'async+turbo'; choose from "
                                  "+per-query, +pooled, +persistent, +db, +upstream[=MS], "
                                  "+slow-db, +2021"),
    (["--setups", "async+persistent"],
     "setup 'async+persistent': +persistent keeps one connection per worker thread, and asyncpg "
     "runs one query at a time on a connection while an event loop serves many requests at "
     "once: give +pooled for the async SQL view"),
    (["--setups", "sync+upstream=soon"], "setup 'sync+upstream=soon' gives the wait 'soon'; give "
                                         "milliseconds, more than 0 and at most 60000, as in "
                                         "+upstream=300"),
    (["--setups", "sync+upstream=0"], "setup 'sync+upstream=0' gives the wait '0'; give "
                                      "milliseconds, more than 0 and at most 60000, as in "
                                      "+upstream=300"),
    (["--setups", "sync+slow-db=5"], "unknown option +slow-db=5 in setup 'sync+slow-db=5'; "
                                     "choose from +per-query, +pooled, +persistent, +db, "
                                     "+upstream[=MS], +slow-db, +2021"),
    (["--setups", " , "], "--setups names no setup; give sync, async or "
                          "VIEW@SERVER[+pooled|+persistent][+upstream[=MS]|+slow-db][+2021]"),
    (["--setups", "async+pooled", "--pool-size", "30"],
     "pools of --pool-size 30 in --workers 4 could open 120 connections, more than the 95 that "
     "max_connections 100 leaves; lower --pool-size or --workers, or raise --max-connections"),
    (["--upstream-ms", "-1"], "argument --upstream-ms: '-1' is not a number of milliseconds, 0 to "
                              "60000 (see --help)"),
    (["--threads", "0"], "argument --threads: '0' is not a whole number from 1 to 1000 "
                         "(see --help)"),
    (["--bogus"], "unrecognized arguments: --bogus (see --help)"),
    (["serve"], "the following arguments are required: SETUP (see --help)"),
    (["serve", "sync-orm@nginx"], "unknown setup 'sync-orm@nginx': give sync, async or "
                                  "VIEW@SERVER[+pooled|+persistent][+upstream[=MS]|+slow-db][+2021], "
                                  "with VIEW one of sync-sql, async-sql, sync-orm, async-orm and "
                                  "SERVER one of gunicorn-sync, gunicorn-gthread, uvicorn, "
                                  "uvicorn-standard, gunicorn-asgi, granian"),
    (["serve", "sync", "--port", "70000"], "argument --port: '70000' is not a port number from 1 "
                                           "to 65535 (see --help)"),
    (["--dsn", "mysql://x@localhost/db"], "--dsn must be a URL like "
                                          "postgresql://user:password@host:5432/db (key=value "
                                          "connection strings are not supported)"),
    (["--dsn", "host=db password=hunter2"], "--dsn must be a URL like "
                                            "postgresql://user:password@host:5432/db (key=value "
                                            "connection strings are not supported)"),
    (["--dsn", "postgresql://u:hunter2@[x/db"], "--dsn is not a valid URL: "
                                                "'postgresql://u:***@[x/db'"),
    (["--dsn", "postgresql://u:PW%ZZx@127.0.0.1:1/db"], ENCODE),
    (["--dsn", "postgresql://u:PW%00x@127.0.0.1:1/db"], ENCODE),
    (["--dsn", "postgresql://u:PW?x@127.0.0.1:1/db"], ENCODE),
    (["--dsn", "postgresql://u:PW@x@127.0.0.1:1/db"], ENCODE),
    (["--dsn", "postgresql://u:p@127.0.0.1:1/%ff"], "--dsn has a percent-escape that is not "
                                                     "UTF-8 text (such as %ff); percent-encode "
                                                     "the UTF-8 bytes of each character"),
    (["--json", "a" * 300], f"cannot write --json {'a' * 300}: give a file in a directory you "
                            f"can write to"),
    (["--json", "/dev/null"], "--json /dev/null is not a regular file; give a file name"),
    (["--dsn", "postgresql://u:hunter2@h:99999/db"], "--dsn is not a valid URL: "
                                                     "'postgresql://u:***@h:99999/db'"),
    (["--ds", "postgresql://u:hunter2@h/db"], "unrecognized arguments: --ds "
                                              "postgresql://u:***@h/db (see --help)"),
    (["--json", "/no/such/dir/out.json"], "cannot write --json /no/such/dir/out.json: give a "
                                          "file in a directory you can write to"),
    (["--dsn", "postgresql://u:secret@127.0.0.1:5432/db", "--max-connections", "50"],
     "--max-connections sets up the private cluster only; with a DSN, set max_connections on "
     "that server instead"),
    (["--ramp", "zigzag"], "argument --ramp: 'zigzag' is not one of search, adaptive, linear "
                           "(see --help)"),
    (["--repeat", "0"], "argument --repeat: '0' is not a whole number from 1 to 50 (see --help)"),
    (["--repeat", "51"], "argument --repeat: '51' is not a whole number from 1 to 50 "
                         "(see --help)"),
    (["--arrival", "0"], "argument --arrival: '0' is not a whole number of requests per second "
                         "from 1 to 100000 (see --help)"),
    (["--arrival", "50", "--users", "40"], "--users ramps closed-loop users and --arrival an "
                                           "arrival rate; give one of them"),
    (["--max-in-flight", "10"], "--max-in-flight applies to --arrival only; closed-loop users "
                                "have one request in flight each"),
    (["--arrival", "50", "--max-in-flight", "0"], "argument --max-in-flight: '0' is not a whole "
                                                  "number of at least 1 (see --help)"),
    (["--load-processes", "65"], "argument --load-processes: '65' is not a whole number from 1 "
                                 "to 64 (see --help)"),
    # One level has nothing to be slower than, and would be its own baseline.
    (["--step", "400"], ONE_LEVEL.format("--users 300 (the default)", 400, 800)),
    (["--users", "10"], ONE_LEVEL.format("--users 10", 10, 20)),
    (["--arrival", "20", "--step", "20"], ONE_LEVEL.format("--arrival 20", 20, 40)),
    (["ramp", "http://127.0.0.1:9/", "--users", "5"], ONE_LEVEL.format("--users 5", 10, 20)),
    (["locustfile", "sync", "--users", "5"], ONE_LEVEL.format("--users 5", 10, 20)),
    # The later option would silently replace the earlier.
    (["--setups", "sync+pooled+upstream+slow-db"],
     "setup 'sync+pooled+upstream+slow-db' gives two workload options (+upstream, +slow-db), and "
     "a setup has one; to measure both, give two setups: --setups sync+pooled+upstream,"
     "sync+pooled+slow-db"),
    (["serve", "async+per-query+pooled"],
     "setup 'async+per-query+pooled' gives two connections options (+per-query, +pooled), and a "
     "setup has one; to measure both, give two setups: --setups async+per-query,async+pooled"),
    (["--setups", "async+2021+2021"], "setup 'async+2021+2021' gives +2021 twice; give it once"),
])
def test_bad_arguments_get_one_line_and_exit_2(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert repro.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"repro.py: error: {message}\n"


def test_unreachable_dsn_exits_2_with_the_password_masked(capsys, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with __import__("socket").socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert repro.main(["--dsn", f"postgresql://me:hunter2@127.0.0.1:{port}/db", "--users", "20"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"repro.py: error: cannot connect to the database given by --dsn "
                          f"(postgresql://me:***@127.0.0.1:{port}/db): ")
    assert "hunter2" not in err


def test_database_url_is_used_when_no_dsn_is_given(capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://me:pw@127.0.0.1:1/db")
    assert repro.main(["--users", "20"]) == 2
    err = capsys.readouterr().err
    assert "given by DATABASE_URL (postgresql://me:***@127.0.0.1:1/db)" in err


def test_mask_and_password_read_the_user_info_alike():
    # A '/' before the ':' puts the '@' in the path or query: no password.
    dsn = "postgres://h/db?user=a:b@c"
    assert repro.dsn_password(dsn) is None
    assert repro.mask_dsn(dsn) == dsn
    repro.check_dsn(dsn, "--dsn")  # no UsageError
    assert repro.dsn_password("postgresql://u:p%40w@h:5432/db") == "p%40w"


def test_driver_errors_never_echo_the_password():
    dsn = "postgresql://me:s3cr%2Fet@127.0.0.1:1/db"
    message = 'could not connect: password "s3cr/et" or s3cr%2Fet or s3cr, et'
    assert repro.scrub(message, dsn) == 'could not connect: password "***" or *** or ***, ***'


def test_temp_dir_postgres_cannot_put_its_socket_in(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    odd = tmp_path / "a,b"
    odd.mkdir()
    monkeypatch.setenv("TMPDIR", str(odd))
    monkeypatch.setattr(repro.tempfile, "tempdir", None)
    monkeypatch.setattr(repro, "unprivileged_user", lambda: None)
    assert repro.main(["--users", "20"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"repro.py: error: PostgreSQL cannot put its socket under the temp dir "
                          f"{odd} (a comma, or too long a path)")
    assert os.listdir(odd) == []


def test_port_in_use_for_serve(capsys, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert repro.main(["serve", "sync", "--port", str(port)]) == 2
    assert capsys.readouterr().err == (f"repro.py: error: port {port} on 127.0.0.1 is in use; "
                                       f"pick another with --port or leave it out\n")


def test_no_postgres_anywhere_names_the_three_ways_out(capsys, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(repro, "find_postgres_bindir", lambda: None)
    assert repro.main(["--users", "20"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "install PostgreSQL" in err and "docker compose up -d" in err and "--dsn" in err


def test_help_exits_0(capsys):
    assert repro.main(["--help"]) == 0
    assert "--users N" in capsys.readouterr().out


def test_a_real_process_prints_no_traceback():
    proc = subprocess.run([sys.executable, str(ROOT / "repro.py"), "--users", "abc"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == ("repro.py: error: argument --users: 'abc' is not a whole number "
                           "from 1 to 100000 (see --help)\n")


@pytest.mark.parametrize("dsn, masked", [
    ("postgresql://u:p%40ss@h:5/db?sslmode=require&password=x",
     "postgresql://u:***@h:5/db?sslmode=require&password=***"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("postgresql://u:p@s/s@h/db", "postgresql://u:***@h/db"),
    ("postgres://h/db?user=a@b", "postgres://h/db?user=a@b"),
    ("host=x password='a b' user=z", "host=x password=*** user=z"),
    ("postgresql://u:pw@[x/db", "postgresql://u:***@[x/db"),
])
def test_mask_dsn(dsn, masked):
    assert repro.mask_dsn(dsn) == masked


def test_import_has_no_side_effects():
    code = ("import os, sys; sys.path.insert(0, %r); import repro, django.conf; "
            "print(django.conf.settings.configured, len(os.listdir('/proc/self/task')))" % str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60).stdout.split()
    assert out == ["False", "1"]


def test_a_top_between_one_and_two_steps_measures_two_levels_and_is_accepted():
    assert repro.parse_config(["--users", "15"]).ramp.top == 15
    assert repro.linear_plan(15, 10) == [10, 15]


def test_command_line_in_the_report_masks_the_password():
    config = repro.parse_config(["--dsn", "postgresql://u:pw@h/db", "--users", "50"])
    assert repro.command_line(config) == "python repro.py --dsn 'postgresql://u:***@h/db' --users 50"
    config = repro.parse_config(["--dsn=postgresql://u:pw@h/db"])
    assert repro.command_line(config) == "python repro.py '--dsn=postgresql://u:***@h/db'"


def requirement_lines():
    """requirements.txt as (distribution, lowest version), extras dropped.
    A line with a marker is left out: it installs only where it has wheels,
    and the server that needs it says when it is missing."""
    pairs = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and ";" not in line:
            name, _, lowest = line.partition(">=")
            pairs.append((name.split("[")[0].strip().lower(), lowest.strip()))
    return pairs


def test_help_lists_each_axis_in_words(capsys):
    assert repro.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "upstream  the two queries and one call to a slow HTTP API (+upstream=MS: a wait of " \
           "its own)" in out
    assert "persistent" in out and "Workload(" not in out and "<function" not in out


def test_the_dependency_check_knows_every_line_of_requirements_txt():
    assert [(dist, lowest) for _, dist, lowest in repro.REQUIREMENTS] == requirement_lines()


def test_what_installs_only_on_some_machines_is_what_a_server_says_it_misses(monkeypatch):
    marked = [line.split(">=")[0] for line in (ROOT / "requirements.txt").read_text().splitlines()
              if ";" in line.split("#")[0]]
    assert marked == ["granian", "py-spy"]
    monkeypatch.setitem(sys.modules, "granian", None)
    assert "pip install granian" in repro.SERVERS["granian"].missing()
    for module in ("uvloop", "httptools"):  # uvicorn[standard]'s
        monkeypatch.setitem(sys.modules, module, None)
    assert repro.SERVERS["uvicorn-standard"].missing() == (
        "uvloop and httptools are not installed: pip install 'uvicorn[standard]'")


@pytest.mark.parametrize("module, dist", [(m, d) for m, d, _ in repro.REQUIREMENTS])
def test_each_missing_package_is_named_in_one_line(monkeypatch, capsys, module, dist):
    # find_spec answers None for a module whose sys.modules entry is None:
    # to repro this Python lacks just that package.
    monkeypatch.setitem(sys.modules, module, None)
    assert repro.main(["--users", "20"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"repro.py: error: missing Python packages: {dist}; ")
    assert "pip install -r requirements.txt" in err


def test_too_old_a_package_is_named_with_the_version_it_needs(monkeypatch, capsys):
    monkeypatch.setattr(repro, "REQUIREMENTS", (("django", "django", "99.1"),))
    assert repro.main([]) == 2
    version = repro.package_version("django")
    assert capsys.readouterr().err == (f"repro.py: error: missing Python packages: django "
                                       f"{version} (needs 99.1 or newer); run: pip install -r "
                                       f"requirements.txt\n" if sys.prefix != sys.base_prefix
                                       else f"repro.py: error: missing Python packages: django "
                                       f"{version} (needs 99.1 or newer); set up with: python3 "
                                       f"-m venv .venv && . .venv/bin/activate, then: pip "
                                       f"install -r requirements.txt\n")


def test_a_python_without_any_requirement_gets_the_set_up_commands():
    # -S: no site-packages at all, as a fresh system Python.
    proc = subprocess.run([sys.executable, "-S", str(ROOT / "repro.py")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    dists = ", ".join(dist for _, dist, _ in repro.REQUIREMENTS)
    assert proc.stderr == (f"repro.py: error: missing Python packages: {dists}; set up with: "
                           f"python3 -m venv .venv && . .venv/bin/activate, then: pip install "
                           f"-r requirements.txt\n")
    assert proc.stdout == ""


def test_the_options_make_one_config():
    config = repro.parse_config(["--arrival", "200", "--step", "20", "--repeat", "3",
                                 "--max-in-flight", "64", "--setups", "async"])
    ramp = config.ramp
    assert (ramp.open_loop, ramp.top, ramp.unit, ramp.step) == (True, 200, "req/s", 20)
    assert (ramp.repeat, ramp.max_in_flight) == (3, 64)
    assert config.setups == (repro.Cell("async-sql", "uvicorn"),)
    config = repro.parse_config([])
    ramp = config.ramp
    assert (ramp.open_loop, ramp.top, ramp.unit, ramp.kind) == (False, 300, "users", "search")
    assert repro.load_processes(config) == 1


def test_more_load_processes_only_when_one_would_need_more_than_half_a_core():
    cores = os.cpu_count()
    assert repro.load_processes(repro.parse_config(["--arrival", "5000"])) == 1
    assert repro.load_processes(repro.parse_config(["--arrival", "5001"])) == min(2, cores)
    assert repro.load_processes(repro.parse_config(["--users", "100", "--think-time", "0"])) \
        == cores
    assert repro.load_processes(repro.parse_config(["--load-processes", "3"])) == 3


def test_json_that_even_root_cannot_write_is_refused_up_front(capsys, tmp_path):
    assert repro.main(["--json", "/proc/version"]) == 2
    assert capsys.readouterr().err == ("repro.py: error: cannot write --json /proc/version: give "
                                       "a file in a directory you can write to\n")
    # A file the check had to make is gone again.
    assert repro.main(["--json", str(tmp_path / "new.json"), "--setups", "nope"]) == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, cell, name", [
    ("sync", repro.Cell("sync-sql", "gunicorn-sync"), "sync"),
    ("async+pooled", repro.Cell("async-sql", "uvicorn", "pooled"), "async+pooled"),
    ("async-sql@uvicorn+2021", repro.Cell("async-sql", "uvicorn", as_2021=True), "async+2021"),
    ("sync-orm@gunicorn-gthread+upstream+pooled",
     repro.Cell("sync-orm", "gunicorn-gthread", "pooled", "upstream"),
     "sync-orm@gunicorn-gthread+pooled+upstream"),
    ("sync-sql@uvicorn+slow-db", repro.Cell("sync-sql", "uvicorn", workload="slow-db"),
     "sync-sql@uvicorn+slow-db"),
])
def test_a_setup_is_a_cell_with_a_short_name(text, cell, name):
    assert repro.parse_cell(text) == cell
    assert cell.name == name
    assert repro.parse_cell(name) == cell  # the name reads back as the same cell


def test_as_2021_applies_to_every_setup():
    config = repro.parse_config(["--setups", "sync,async-orm@uvicorn", "--as-2021"])
    assert [c.as_2021 for c in config.setups] == [True, True]
    assert [c.name for c in config.setups] == ["sync+2021", "async-orm@uvicorn+2021"]


def test_a_server_that_cannot_run_here_is_refused_up_front(monkeypatch, capsys):
    server = repro.dataclasses.replace(repro.SERVERS["uvicorn"], name="faraway",
                                       missing=lambda: "faraway is not installed: pip install "
                                                       "faraway")
    monkeypatch.setitem(repro.SERVERS, "faraway", server)
    assert repro.main(["--setups", "async-sql@faraway"]) == 2
    assert capsys.readouterr().err == ("repro.py: error: setup async-sql@faraway cannot run here: "
                                       "faraway is not installed: pip install faraway\n")


def test_help_lists_every_value_of_every_axis(capsys):
    assert repro.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for value in [*repro.VIEWS, *repro.SERVERS, *repro.CONNECTIONS, *repro.WORKLOADS]:
        assert value in text
