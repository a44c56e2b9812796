"""The real thing, small: a private PostgreSQL, real Gunicorn and Uvicorn
workers, a real aiohttp load, through the command line.  Every test also
checks that no process and no temp dir outlives repro."""
import csv
import io
import json
import os
import re
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

import repro
from conftest import ROOT, STALL_SECONDS

pytestmark = pytest.mark.integration

SMALL = ["--users", "20", "--step", "10", "--step-seconds", "1", "--min-requests", "1"]
FAST = ["--step-seconds", "1", "--min-requests", "1"]


@pytest.fixture
def sandbox():
    """TMPDIR and a marker in the environment of everything repro starts, so
    that leftovers can be found by what they inherited, whatever they are."""
    # Under /tmp, not pytest's 0700 tmp_path: as root, PostgreSQL runs as
    # another user, who must reach the temp dir.
    tmp = Path(tempfile.mkdtemp(prefix="repro-test-"))
    tmp.chmod(0o755)
    mark = uuid.uuid4().hex
    env = dict(os.environ, TMPDIR=str(tmp), REPRO_TEST_MARK=mark, PYTHONUNBUFFERED="1")
    env.pop("DATABASE_URL", None)
    yield Sandbox(tmp, mark, env)
    leftovers = processes_marked(mark)
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    remaining = os.listdir(tmp)
    subprocess.run(["rm", "-rf", str(tmp)])
    assert not leftovers, f"processes left behind: {leftovers}"
    assert not remaining, f"left in TMPDIR: {remaining}"


class Sandbox:
    def __init__(self, tmp, mark, env):
        self.tmp, self.mark, self.env = tmp, mark, env

    def run(self, *args):
        """Run repro to the end; its exit code, stdout and stderr."""
        proc = self.start(*args)
        out, err = finish(proc)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def run_json(self, *args):
        """Run repro with --json to a file outside TMPDIR; its process and the JSON."""
        out_json = self.tmp.parent / f"{self.mark}.json"
        try:
            proc = self.run(*args, "--json", str(out_json))
            assert proc.returncode == 0, proc.stderr
            return proc, json.loads(out_json.read_text())
        finally:
            out_json.unlink(missing_ok=True)

    def start(self, *args):
        return subprocess.Popen([sys.executable, str(ROOT / "repro.py"), *args], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def signal_when(self, pattern, signum, *args):
        """Run repro, send it signum once stderr shows pattern; its exit
        code, stdout and stderr."""
        proc = self.start(*args)
        stderr = Lines(proc.stderr)
        stderr.wait_for(pattern)
        proc.send_signal(signum)
        out, err = finish(proc, stderr=stderr)
        return proc.returncode, out, err

    def assert_clean(self):
        deadline = time.monotonic() + 5
        while processes_marked(self.mark) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_marked(self.mark) == []
        assert os.listdir(self.tmp) == []


def processes_marked(mark):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"REPRO_TEST_MARK={mark}".encode() in environ and state != "Z":
            found.append(int(pid))
    return found


class Lines:
    """A child's output, line by line, read in a thread so that waiting for
    a line can give up on a child that stalls (STALL_SECONDS without a line)."""

    def __init__(self, stream):
        self.queue, self.seen = queue.Queue(), []
        self.last = time.monotonic()  # when the latest line came
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            self.last = time.monotonic()
            self.queue.put(line)
        self.queue.put(None)

    def wait_for(self, pattern, stall=STALL_SECONDS):
        """The first line from now on that matches pattern; an error when
        the output ends without one, or stalls for `stall` seconds."""
        while True:
            try:
                line = self.queue.get(timeout=1.0)
            except queue.Empty:
                if time.monotonic() - self.last < stall:
                    continue
                break
            if line is None:
                break
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.seen)}")

    def so_far(self):
        """What came until now, without waiting."""
        while True:
            try:
                line = self.queue.get_nowait()
            except queue.Empty:
                return "".join(self.seen)
            if line is None:
                return "".join(self.seen)
            self.seen.append(line)

    def rest(self):
        """Everything, once the stream has ended (its writer exited)."""
        lines = []
        while (line := self.queue.get(timeout=STALL_SECONDS)) is not None:
            lines.append(line)
        return "".join(self.seen + lines)


def finish(proc, stdout=None, stderr=None, stall=STALL_SECONDS):
    """Wait for the child, both pipes drained all along (by the Lines
    given, or new ones), for as long as it shows signs of life: an error
    when neither pipe has had a line for `stall` seconds.  Its whole stdout
    and stderr."""
    stdout, stderr = stdout or Lines(proc.stdout), stderr or Lines(proc.stderr)
    while proc.poll() is None:
        if time.monotonic() - max(stdout.last, stderr.last) > stall:
            raise AssertionError(f"silent for {stall:.0f} s: {proc.args}; its stderr so far "
                                 f"ends:\n{stderr.so_far()[-3000:]}")
        try:
            proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass
    return stdout.rest(), stderr.rest()


def check_profiles(report, data, out):
    """Samples for each setup, shares that add up, each server's own code
    in its stacks, the stacks written by cell."""
    assert "<details><summary>Where the CPU goes: each server's samples by package" in report
    assert re.search(r"Where the difference comes from, by the profiles below: async (spent "
                     r"[\d.]+ ms (more|less) server CPU per request than sync|and sync spent "
                     r"alike)", report)
    profiles = {s["name"]: s["profile"] for s in data["setups"]}
    assert data["unprofiled"] == {}
    for name, profile in profiles.items():
        assert profile["level"] == 20 and profile["samples"] > 0
        assert sum(g["share"] for g in profile["groups"].values()) == pytest.approx(1.0)
        assert profile["rps_without"] > 0 and profile["rps_with"] > 0
        assert profile["overhead"] == pytest.approx(
            1 - profile["rps_with"] / profile["rps_without"])
        assert profile["server_cpu_ms"] > 0 and profile["profiler_cpu_ms"] > 0
        assert profile["top_frames"] and profile["p50_with"] > 0
        assert profile["file"] == str(out / f"{name}.folded")
    stacks = {name: repro.parse_collapsed(iter((out / f"{name}.folded").read_text()
                                               .splitlines())) for name in profiles}
    files = {name: {repro.frame_file(f).split("/")[0] for stack, _ in s for f in stack}
             for name, s in stacks.items()}
    assert {"asyncio", "uvicorn"} <= files["async"]
    assert "gunicorn" in files["sync"] and "uvicorn" not in files["sync"]


def test_small_run_end_to_end(sandbox):
    """Two setups ramped, then profiled: py-spy starts each server and
    samples it after the ramps."""
    out = sandbox.tmp.parent / f"{sandbox.mark}-profiles"
    try:
        proc, data = sandbox.run_json(*SMALL, "--profile", str(out), "--profile-users", "20",
                                      "--profile-seconds", "1")
        check_profiles(proc.stdout, data, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    report = proc.stdout
    lines = report.splitlines()
    assert lines[0] == "# Do async Django views make this app faster?"
    assert lines[2].startswith("**On this machine, ")  # the verdict, first
    assert re.match(r"\| setup +\| +slowdown at \| +errors at \| +capacity req/s \| limited by",
                    lines[4])
    for summary in ("Each measure compared by the rules, and 2021 beside this run",
                    "Why: the CPU each request cost", "sync: what it is, and its 2 steps",
                    "async: what it is, and its 2 steps", "How it was measured"):
        assert f"<details><summary>{summary}" in report
    assert "private throwaway cluster" in report
    assert re.search(r"\| sync +\| .* \| completed +\|", report)
    assert re.search(r"\| async +\| .* \| completed +\|", report)
    # 20 users slow neither down: the run cannot tell, and says so.
    assert re.search(r"This run's sync and async (agree|disagree|could not tell)", report)
    # Progress went to stderr, one line per step.
    assert len(re.findall(r"(sync|async) +\d+ users", proc.stderr)) == 4

    assert data["schema"] == repro.SCHEMA
    assert data["db_limit_rps"] > 0 and data["connect_ms"] > 0
    assert [s["name"] for s in data["setups"]] == ["sync", "async"]
    assert data["settings"]["ramp"] == "search" and data["settings"]["top"] == 20
    assert re.match(r"\d+\.\d+", data["environment"]["postgres_version"])
    assert data["environment"]["max_connections"] == 100
    for setup in data["setups"]:
        [ramp] = setup["repeats"]
        assert ramp["stop_reason"] == "completed" and ramp["error"] is None
        assert [s["users"] for s in ramp["steps"]] == [10, 20]
        for step in ramp["steps"]:
            # 10 users thinking 1 s for a 1 s window: about one request each.
            assert step["requests"] >= step["users"] * 0.5
            assert step["failures"] == 0 and step["p50_ms"] > 0
            assert step["p50_ms"] <= step["p95_ms"] <= step["p99_ms"]
            assert 0 < step["client_cpu_pct"] < 100
            assert step["settle_seconds"] >= 1.0  # one think time at least
        # The load generator is lighter than what it measures: an HTTP
        # request against Django's handling of it and two queries.
        cpu = ramp["cpu_ms_per_request"]
        assert 0 < cpu["client"] < cpu["server"]
        assert ramp["cpu_ms_per_request"]["postgres"] > 0
        # Sampled ten times a second all through the ramp: a count, not None.
        # A connection per query lives a few ms and may slip by every
        # sample, so 0 is possible; more than two per user is not: each of
        # the 20 users has one request in flight, and a request holds at most
        # two connections at once (async's two queries run side by side,
        # sync's one after the other).
        held = ramp["max_db_connections"]
        assert isinstance(held, int) and 0 <= held <= 2 * 20, held
        assert setup["peak_rps"] > 0 and setup["peak_at"] in (10, 20)
    sandbox.assert_clean()


def test_sigint_mid_ramp_prints_what_was_measured_and_leaves_nothing(sandbox):
    code, out, err = sandbox.signal_when(r"sync +40 users", signal.SIGINT, "--users", "300",
                                         "--step", "10", *FAST)
    assert code == -signal.SIGINT, err  # died by the signal, as a shell expects
    assert "**Interrupted (SIGINT): what was measured until then.**" in out
    assert re.search(r"\| sync +\| .* \| interrupted at \d+ users +\|", out)
    assert "async: what it is" not in out
    assert re.search(r"^\| +40 \| 2 \| ", out, re.M)  # the steps measured are in the table
    sandbox.assert_clean()


@pytest.mark.parametrize("moment, signum", [
    (r"starting a private PostgreSQL", signal.SIGTERM),
    (r"sync: starting Gunicorn", signal.SIGINT),
])
def test_signal_during_setup_leaves_nothing(sandbox, moment, signum):
    returncode, out, err = sandbox.signal_when(moment, signum, *SMALL)
    assert returncode == -signum, err
    assert out == ""
    assert f"interrupted by {signal.Signals(signum).name} before anything was measured" in err
    sandbox.assert_clean()


def test_sigterm_while_the_second_setup_starts_reports_the_first(sandbox):
    code, out, err = sandbox.signal_when(r"async: starting", signal.SIGTERM, *SMALL)
    assert code == -signal.SIGTERM, err
    assert "**Interrupted (SIGTERM)" in out
    assert re.search(r"\| sync +\| .* \| completed +\|", out)
    assert "async: what it is" not in out
    sandbox.assert_clean()


def test_a_signal_during_the_last_teardown_keeps_the_report_and_its_exit_code(sandbox):
    # The last step's line: what follows is teardown.
    code, out, err = sandbox.signal_when(r"sync +10 users", signal.SIGTERM, "--setups", "sync",
                                         "--users", "10", "--step", "5", *FAST)
    assert code == -signal.SIGTERM, err
    assert "Interrupted" not in out
    assert re.search(r"\| sync +\| .* \| completed +\|", out)
    assert "repro.py: SIGTERM came while shutting down; the run had finished" in err
    sandbox.assert_clean()


def gunicorn_master(parent_pid, interface):
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat[1]) == parent_pid and f"make_app('{interface}')" in cmdline:
            return int(pid)
    return None


def test_a_server_that_dies_is_reported_and_the_other_setup_still_runs(sandbox):
    proc = sandbox.start("--users", "40", "--step", "10", *FAST)
    stderr = Lines(proc.stderr)
    stderr.wait_for(r"sync +10 users")
    master = gunicorn_master(proc.pid, "wsgi")
    assert master is not None
    os.kill(master, signal.SIGKILL)
    out, err = finish(proc, stderr=stderr)
    assert proc.returncode == 1, err
    assert re.search(r"\| sync +\| .* \| server died at \d+ users +\|", out)
    assert "exited with code -9; last lines of its log:" in out
    assert "Booting worker" in out  # the log tail is in the report
    assert re.search(r"\| async +\| .* \| completed +\|", out)
    sandbox.assert_clean()


def test_a_server_that_never_starts_is_an_error_with_its_log_tail(tmp_path):
    broken = repro.Server("broken", "Gunicorn with a worker class that does not exist",
                          "wsgi", repro._gunicorn("no_such_module.NoWorker"))
    db = repro.Database("postgresql://nobody@127.0.0.1:1/none", "nowhere", "0", 0)
    with pytest.raises(repro.ReproError) as failure:
        with repro.running_server(broken, repro.VIEWS["sync-sql"], repro.AppSettings(), db, 1, 1,
                                  tmp_path / "log", repro.StopFlag()):
            pass
    message = str(failure.value)
    assert "did not start" in message and "last lines of its log" in message
    assert "no_such_module" in message


def test_serve_keeps_a_setup_running_until_ctrl_c(sandbox):
    # With --profile, py-spy starts the server: it still serves, and stops.
    proc = sandbox.start("serve", "async", "--workers", "2", "--profile")
    stdout = Lines(proc.stdout)
    url = stdout.wait_for(r"^http://127\.0\.0\.1:\d+/async-sql/$").strip()
    with urllib.request.urlopen(url, timeout=STALL_SECONDS) as response:
        body = response.read().decode()
        assert response.status == 200
    assert "<dt>name</dt><dd>Pikachu</dd>" in body
    assert body.count("<li>") == repro.ROW_COUNT
    # Enough CPU for samples on any machine: a slower one is sampled more.
    for _ in range(40):
        with urllib.request.urlopen(url, timeout=STALL_SECONDS) as response:
            response.read()
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc, stdout=stdout)
    assert proc.returncode == -signal.SIGINT
    assert err.endswith("repro.py: stopped\n")
    # What the server's CPU went to while it served, printed as it stopped.
    assert re.search(r"^\*\*async\*\*, while it served: \d+ samples\.$", out, re.M), out
    assert re.search(r"^\| templates +\| +\d+% \|$", out, re.M), out
    sandbox.assert_clean()


def test_external_dsn_is_used_and_only_repro_table_is_touched(sandbox, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(sandbox.tmp))
    monkeypatch.setenv("REPRO_TEST_MARK", sandbox.mark)
    import psycopg2
    with tempfile.TemporaryDirectory() as work:
        os.chmod(work, 0o755)
        with repro.private_postgres(Path(work), 50, repro.StopFlag()) as db:
            conn = psycopg2.connect(db.dsn)
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("CREATE TABLE mine (x int)")
                cur.execute("INSERT INTO mine VALUES (42)")
            dsn, password = db.dsn, repro.dsn_password(db.dsn)
            assert password and len(password) >= 32  # the private cluster's, of this run
            proc = sandbox.run("--dsn", dsn, "--setups", "async", "--users", "20",
                               "--step-seconds", "1", "--min-requests", "15")
            assert proc.returncode == 0, proc.stderr
            assert "given by --dsn: postgresql://repro:***@127.0.0.1" in proc.stdout
            assert "max_connections 50" in proc.stdout
            assert password not in proc.stdout + proc.stderr
            # 10 users for a 1 s window: the window grew to hold 15 requests.
            assert re.search(r"^\| +10 \| 1 \| +(1[5-9]|2\d) \| ", proc.stdout, re.M), proc.stdout
            with conn.cursor() as cur:
                cur.execute("SELECT x FROM mine")
                assert cur.fetchall() == [(42,)]
                cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                            "ORDER BY 1")
                assert cur.fetchall() == [("mine",), (repro.TABLE,)]
                cur.execute(f"SELECT count(*) FROM {repro.TABLE}")
                assert cur.fetchone() == (repro.ROW_COUNT,)
            conn.close()
    sandbox.assert_clean()


def test_seeding_is_idempotent_and_deterministic(tmp_path):
    import psycopg2
    with tempfile.TemporaryDirectory() as work:
        os.chmod(work, 0o755)
        with repro.private_postgres(Path(work), 20, repro.StopFlag()) as db:
            repro.seed_database(db.dsn)
            repro.seed_database(db.dsn)
            conn = psycopg2.connect(db.dsn)
            with conn.cursor() as cur:
                cur.execute(f"SELECT * FROM {repro.TABLE} ORDER BY id")
                rows = cur.fetchall()
                cur.execute(repro.detail_sql(repro.TABLE))
                detail = cur.fetchall()
            conn.close()
    assert rows == repro.pokemon_rows()
    assert len(detail) == 1 and detail[0][2] == "Pikachu"


def test_no_other_os_user_gets_into_the_private_cluster(sandbox):
    if os.geteuid() != 0:
        pytest.skip("acting as another OS user (nobody) needs root")
    import pwd
    nobody = pwd.getpwnam("nobody")
    psql = repro.find_postgres_bindir() / "psql"
    proc = sandbox.start("serve", "sync", "--workers", "1")
    stdout = Lines(proc.stdout)
    try:
        url = stdout.wait_for(r"^http://127\.0\.0\.1:\d+/sync-sql/$").strip()
        hint = stdout.wait_for(r"^PostgreSQL: ")
        assert re.match(r"PostgreSQL: postgresql://repro:\*\*\*@127\.0\.0\.1:\d+/postgres "
                        r"\(password in \S+, readable by you only", hint), hint
        # Where the cluster listens, as it says itself: line 5 of
        # postmaster.pid is its socket directory, line 6 its TCP address.
        [pidfile] = sandbox.tmp.glob("repro-*/postgres/data/postmaster.pid")
        lines = pidfile.read_text().splitlines()
        port, sockdir, address = lines[3], lines[4], lines[5]
        assert address == "127.0.0.1"
        attempts = []
        for host in (address, sockdir, "localhost", "::1"):
            for role in ("repro", "postgres"):
                attempt = subprocess.run(
                    [str(psql), "-w", "-h", host, "-p", port, "-U", role, "-d", "postgres",
                     "-c", "SELECT 1"], user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[],
                    env={"PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "60"}, cwd="/",
                    capture_output=True, text=True, timeout=STALL_SECONDS)
                attempts.append((host, role, attempt.returncode, attempt.stderr.strip()))
        let_in = [a for a in attempts if a[2] == 0]
        assert not let_in, let_in
        # Refused for a reason that holds, not because psql itself broke.
        reasons = " ".join(a[3] for a in attempts)
        assert "no password supplied" in reasons and "Permission denied" in reasons, attempts
        with urllib.request.urlopen(url, timeout=STALL_SECONDS) as response:
            assert response.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        finish(proc, stdout=stdout)
    assert proc.returncode == -signal.SIGINT
    sandbox.assert_clean()


def test_repeats_run_interleaved_and_report_medians(sandbox):
    proc, data = sandbox.run_json("--users", "10", "--step", "5", "--repeat", "2", *FAST)
    starts = re.findall(r"(sync|async)#(\d): starting", proc.stderr)
    # The second repeat in the reverse order of the first.
    assert starts == [("sync", "1"), ("async", "1"), ("async", "2"), ("sync", "2")]
    for setup in data["setups"]:
        assert len(setup["repeats"]) == 2
        medians = sorted(r["baseline_ms"] for r in setup["repeats"])
        assert setup["baseline_ms"] == medians[0]  # the lower middle of two
    assert "**sync, repeat 2**" in proc.stdout and "**async, repeat 1**" in proc.stdout
    assert "2 repeats, interleaved" in proc.stdout
    sandbox.assert_clean()


# A capacity by design, the same on any machine: one sync worker whose view
# waits UPSTREAM_MS for an API answers at most BOUND_RPS requests a second,
# and fewer by what its own queries and Django cost.  Closed-loop users
# thinking 1 s each come back every 1 s + latency, so that 2 users never
# queue (2 x 0.2 s < 1.2 s), while 8 users need 8 x 0.2 s or more per round:
# they queue for at least 8 x 0.2 - 1 = 0.6 s, three times the wait alone,
# however fast the machine.  Only a machine that took over a second of CPU
# for two queries could queue 2 users.
UPSTREAM_MS = 200
BOUND_RPS = 1000 / UPSTREAM_MS
BOUNDED = ["--setups", "sync+upstream", "--workers", "1", "--upstream-ms", str(UPSTREAM_MS),
           "--step", "2", *FAST]


def test_open_loop_ramps_the_arrival_rate(sandbox):
    # 2 req/s is under half the bound, 8 req/s over one and a half times it.
    proc, data = sandbox.run_json("--arrival", "8", *BOUNDED)
    assert data["settings"]["unit"] == "req/s" and data["settings"]["open_loop"]
    [setup] = data["setups"]
    [ramp] = setup["repeats"]
    by_rate = {s["rate"]: s for s in ramp["steps"]}
    assert {2, 8} <= set(by_rate) and ramp["restarts"] >= 1
    for s in ramp["steps"]:
        window = s["seconds"] - s["settle_seconds"]
        # Sent on schedule, whatever the answers: within a request of the
        # rate asked for.
        assert abs(s["arrival_rps"] - s["rate"]) * window <= 1.0 + 1e-6, s
        # Never more answered than the worker can: one at a time, each
        # taking UPSTREAM_MS at least (plus one that straddles the window).
        assert s["rps"] * window <= BOUND_RPS * window + 1, s
        assert s["failures"] == 0
    # Held where the server can, and not where it cannot.
    assert by_rate[2]["steady"] and not by_rate[8]["steady"]
    assert 2 <= setup["sustained_rps"] < 8
    assert setup["slowdown_at"] is not None and 2 < setup["slowdown_at"] <= 8
    assert re.search(rf"\| sync\+upstream +\| .* \| +{setup['sustained_rps']} \(≈ \d+ users\) \|",
                     proc.stdout)
    assert "open loop, up to 1000 in flight" in proc.stdout
    sandbox.assert_clean()


def test_ctrl_c_stops_a_shell_loop_of_runs(sandbox):
    """Ctrl-C in a terminal reaches the whole foreground process group: the
    shell and repro.  repro cleans up and dies by the signal, so the shell
    stops its loop, as it does for any well-behaved program."""
    marker = sandbox.tmp / "runs"
    script = (f"for i in 1 2 3; do echo $i >> {marker}; "
              f"{sys.executable} {ROOT / 'repro.py'} --users 300 {' '.join(FAST)}; done")
    # As a terminal's shell has it: a test run in the background of a shell
    # without job control (CI under nohup, say) inherits SIGINT ignored, and
    # a shell that ignores SIGINT goes on with its loop whatever repro does.
    shell = subprocess.Popen(["bash", "-c", script], env=sandbox.env, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    stderr = Lines(shell.stderr)
    stderr.wait_for(r"sync +40 users")
    os.killpg(shell.pid, signal.SIGINT)
    out, err = finish(shell, stderr=stderr)
    assert shell.returncode == -signal.SIGINT, err
    assert marker.read_text() == "1\n"  # the loop went no further
    marker.unlink()
    assert "**Interrupted (SIGINT)" in out
    sandbox.assert_clean()


def alive(pid):
    """Whether pid runs (a zombie waiting for its parent does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_second_ctrl_c_skips_the_graceful_shutdowns(sandbox):
    proc = sandbox.start("serve", "sync", "--workers", "1")
    stdout = Lines(proc.stdout)
    stdout.wait_for(r"^Press Ctrl-C to stop")
    master = gunicorn_master(proc.pid, "wsgi")
    # A server that no longer reacts: a graceful stop waits for it in vain
    # for STOP_GRACE_SECONDS, then kills it.
    os.kill(master, signal.SIGSTOP)
    proc.send_signal(signal.SIGINT)
    first = time.monotonic()
    time.sleep(1.0)
    assert proc.poll() is None and alive(master)  # still waiting for the server to stop
    proc.send_signal(signal.SIGINT)
    give_up = time.monotonic() + STALL_SECONDS
    while alive(master) and time.monotonic() < give_up:
        time.sleep(0.05)
    # Killed before its grace ran out: the only way it ends sooner is that
    # the second Ctrl-C cut the wait short.
    assert time.monotonic() - first < repro.STOP_GRACE_SECONDS
    finish(proc, stdout=stdout)
    assert proc.returncode == -signal.SIGINT
    sandbox.assert_clean()


def test_the_search_measures_below_an_overload_on_a_fresh_server(sandbox):
    # The bounded worker: 2 users never queue, 8 users queue past twice the
    # baseline.  The search jumps from 2 to 8 (four times --step), then goes
    # back down to 4 on a restarted server.
    proc, data = sandbox.run_json("--users", "16", *BOUNDED)
    [ramp] = data["setups"][0]["repeats"]
    orders = [s["order"] for s in ramp["steps"]]
    levels = [s["users"] for s in sorted(ramp["steps"], key=lambda s: s["order"])]
    assert levels[:3] == [2, 8, 4] and sorted(orders) == list(range(1, len(levels) + 1))
    assert ramp["restarts"] >= 1
    assert proc.stderr.count("sync+upstream: restarting the server") == ramp["restarts"]
    assert 2 < data["setups"][0]["slowdown_at"] <= 8
    assert "before a lower level" in proc.stdout
    sandbox.assert_clean()


def test_inherited_gunicorn_settings_do_not_reach_the_server(sandbox):
    # --daemon would move Gunicorn out of repro's process group and reach.
    sandbox.env["GUNICORN_CMD_ARGS"] = "--daemon"
    proc = sandbox.run("--setups", "sync", "--users", "10", "--step", "5", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"\| sync +\| .* \| completed +\|", proc.stdout)
    sandbox.assert_clean()


def test_a_closed_stdout_gets_one_line_not_a_traceback(sandbox):
    script = f"{sys.executable} {ROOT / 'repro.py'} --setups sync --users 10 --step 5 {' '.join(FAST)} | true"
    proc = subprocess.run(["bash", "-c", script + "; echo ${PIPESTATUS[0]} >&2"], env=sandbox.env,
                          capture_output=True, text=True, timeout=STALL_SECONDS)
    assert "Traceback" not in proc.stderr
    assert ("repro.py: standard output was closed; the report was not written in full "
            "(--json FILE keeps it)") in proc.stderr
    assert proc.stderr.rstrip().endswith("1")
    sandbox.assert_clean()


def test_a_signal_during_a_restart_keeps_what_was_measured(sandbox):
    # The bounded worker overloads at 8 users, the second level: the search
    # restarts the server to go back down.
    code, out, err = sandbox.signal_when(r"sync\+upstream: restarting the server", signal.SIGINT,
                                         "--users", "16", *BOUNDED)
    assert code == -signal.SIGINT, err
    assert "**Interrupted (SIGINT): what was measured until then.**" in out
    assert re.search(r"\| sync\+upstream +\| .* \| interrupted at \d+ users +\|", out)
    assert re.search(r"^\| +2 \| 1 \| ", out, re.M) and re.search(r"^\| +8 \| 2 \| ", out, re.M)
    sandbox.assert_clean()


def test_each_new_value_of_each_axis_runs(sandbox):
    """Views (both ORMs), servers (gthread, Gunicorn's ASGI worker, Uvicorn
    on uvloop and httptools, Granian where installed), pooled and persistent
    connections and both new workloads, each in one setup of a short ramp."""
    import importlib.util
    cells = ["sync-orm@gunicorn-gthread+persistent", "async-orm@gunicorn-asgi+pooled",
             "sync+pooled+slow-db", "async+upstream", "async-sql@uvicorn-standard+pooled"]
    if importlib.util.find_spec("granian"):
        cells.append("async-sql@granian")
    proc, data = sandbox.run_json("--setups", ",".join(cells), "--users", "10", "--step", "5", *FAST,
                                  "--upstream-ms", "50", "--db-ms", "30")
    by_name = {s["name"]: s for s in data["setups"]}
    assert list(by_name) == cells
    for name, setup in by_name.items():
        [ramp] = setup["repeats"]
        assert ramp["stop_reason"] == "completed" and ramp["error"] is None, name
        assert ramp["steps"][0]["failures"] == 0, name
    kept = by_name["sync-orm@gunicorn-gthread+persistent"]
    assert kept["driver"].startswith("Django ORM over psycopg 3")
    # One connection kept per thread that served: 4 workers of 8 threads at most.
    assert 1 <= kept["max_db_connections"] <= 4 * repro.DEFAULT_THREADS
    assert "CONN_MAX_AGE 600, CONN_HEALTH_CHECKS on" in proc.stdout
    assert by_name["async-orm@gunicorn-asgi+pooled"]["connections"] == "pooled"
    # One asyncpg pool per worker: never more connections than the pools hold.
    # Pools keep a connection open, so the sampler sees them all the time.
    standard = by_name["async-sql@uvicorn-standard+pooled"]
    assert 1 <= standard["max_db_connections"] <= 4 * repro.DEFAULT_POOL_SIZE
    assert "UvicornWorker (ASGI; the uvloop loop, the httptools parser)" in proc.stdout
    assert by_name["sync+pooled+slow-db"]["driver"].startswith("psycopg2")
    # Two queries that each wait 30 ms: slower than that, whatever else.
    assert by_name["sync+pooled+slow-db"]["baseline_ms"] >= 60
    # The API answers after 50 ms: the view cannot be faster.
    assert by_name["async+upstream"]["baseline_ms"] >= 50
    # The upstream API's CPU is measured for the one cell that calls it, and
    # for no other.  In ticks of 10 ms a short ramp may not fill one, so it
    # may read 0; but the API only sleeps and answers, so it never costs
    # more than the view that queries, renders and calls it.
    assert [name for name, setup in by_name.items()
            if "upstream" in setup["cpu_ms_per_request"]] == ["async+upstream"]
    cpu = by_name["async+upstream"]["cpu_ms_per_request"]
    assert 0 <= cpu["upstream"] <= cpu["server"]
    assert "Under ASGI" not in proc.stdout  # no sync view under ASGI here
    sandbox.assert_clean()


def test_serve_a_new_cell_with_its_upstream_api_and_stop_it(sandbox):
    proc = sandbox.start("serve", "sync-sql@uvicorn+pooled+upstream", "--workers", "1",
                         "--upstream-ms", "20")
    stdout = Lines(proc.stdout)
    url = stdout.wait_for(r"^http://127\.0\.0\.1:\d+/sync-sql/$").strip()
    with urllib.request.urlopen(url, timeout=STALL_SECONDS) as response:
        assert response.status == 200
        assert response.headers["X-Repro-Driver"].startswith("psycopg2")
        assert response.read().decode().count("<li>") == repro.ROW_COUNT
    upstream = [pid for pid in processes_marked(sandbox.mark)
                if b"upstream_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(upstream) == 1
    proc.send_signal(signal.SIGINT)
    finish(proc, stdout=stdout)
    assert proc.returncode == -signal.SIGINT
    sandbox.assert_clean()


def test_sigint_mid_ramp_stops_the_upstream_api_too(sandbox):
    code, out, err = sandbox.signal_when(r"async\+upstream +10 users", signal.SIGINT,
                                         "--setups", "async+upstream", "--users", "300", *FAST)
    assert code == -signal.SIGINT, err
    assert "**Interrupted (SIGINT)" in out
    sandbox.assert_clean()


def test_a_study_measures_in_rounds_the_second_in_reverse_with_the_gauge_before_each(sandbox):
    """Question 5 in two rounds: each cell probed once a round, round 2 in
    the reverse order of round 1 and from where round 1 saturated, the
    machine's gauge before each round and after the last; the answer from
    both rounds; saved and rendered again, the same report."""
    proc, data = sandbox.run_json("study", "--questions", "5", "--rounds", "2", "--users", "10",
                                  "--step", "5", *FAST, "--workers", "1")
    began = re.findall(r"\] (async(?:\+2021)?)#(\d)( probe)?: starting", proc.stderr)
    first = [(name, bool(probe)) for name, n, probe in began if n == "1"]
    second = [(name, bool(probe)) for name, n, probe in began if n == "2"]
    assert first == [("async", True), ("async+2021", True)]
    assert second == first[::-1]
    assert len(re.findall(r"the machine's gauge: PostgreSQL alone, \d+ pairs", proc.stderr)) == 3
    assert [g["round"] for g in data["gauge"]] == [1, 2, 3]
    assert all(g["pairs_rps"] > 0 for g in data["gauge"])
    [q5] = data["questions"]
    assert q5["cells"] == ["async", "async+2021"]
    for setup in data["setups"]:
        assert setup["repeats"] == []  # question 5 asks for no thresholds
        assert [r["round"] for r in setup["probes"]] == [1, 2]
        assert all(p["probe"] and p["steps"][0]["users"] == 1 for p in setup["probes"])
        assert set(setup["probe"]["rounds"]) == {"1", "2"}
        # Each step its own CPU: the server's, PostgreSQL's, the load generator's.
        steps = [s for p in setup["probes"] for s in p["steps"]]
        assert all({"server", "postgres", "client"} <= set(s["cpu_seconds"]) for s in steps)
    assert q5["answer"] and f"Answer: {q5['answer']}" in proc.stdout
    assert q5["answer_detail"] in proc.stdout
    assert "The machine's gauge (PostgreSQL alone" in proc.stdout \
        or "**Caution: the machine changed speed under the study**" in proc.stdout
    assert proc.stdout.splitlines()[2].startswith("**On this machine, ")
    # Saved and rendered again: the same report, to the byte.
    saved = sandbox.tmp.parent / f"{sandbox.mark}-saved.json"
    try:
        saved.write_text(json.dumps(data))
        again = sandbox.run("report", str(saved))
        compared = sandbox.run("compare", str(saved), str(saved))
    finally:
        saved.unlink(missing_ok=True)
    assert again.returncode == 0, again.stderr
    assert again.stdout == proc.stdout
    assert compared.returncode == 0 and "- Question 5 (2021's settings): the same answer." in \
        compared.stdout
    sandbox.assert_clean()


def test_the_wait_sweep_probes_each_cell_at_each_wait_beside_its_bounds(sandbox):
    """Question 7 on real servers: each point probed to saturation, its
    bounds from what it measured, the crossovers named; nothing left."""
    chart = sandbox.tmp.parent / f"{sandbox.mark}-sweep.png"
    try:
        proc, data = sandbox.run_json("study", "--questions", "7", "--waits", "20,200",
                                      "--rounds", "1", "--workers", "1", "--threads", "4",
                                      "--chart", str(chart))
        assert chart.stat().st_size > 10_000
    finally:
        chart.unlink(missing_ok=True)
    assert data["settings"]["waits"] == [20, 200]
    points = {s["name"]: s["probe"] for s in data["setups"]}
    assert len(points) == 6
    for name, p in points.items():
        assert p["upstream_ms"] == (20 if name.endswith("=20") else 200)
        [probe] = next(s for s in data["setups"] if s["name"] == name)["probes"]
        assert probe["probe"] and probe["steps"][0]["users"] == 1
        assert p["capacity_rps"] > 0 and p["bounds"]["cores"] > 0
        assert p["limited_by"] in ("slots", "cores")
        # The low-load time holds the wait, and little more on 2 idle cores.
        assert p["upstream_ms"] <= p["low_load_ms"] < p["upstream_ms"] + 500
        if name.startswith("async"):
            assert p["bounds"]["slots"] is None
        else:
            # No server serves more than its slots allow (workers, or
            # workers x threads, each request held for its low-load time).
            slots = 1 if name.startswith("sync+") else 4
            assert p["bounds"]["slots"] == pytest.approx(slots * 1000 / p["low_load_ms"])
            assert p["capacity_rps"] <= (1 + repro.PREDICTION_WITHIN) * p["bounds"]["slots"]
    [q7] = data["questions"]
    assert set(q7["crossovers"]) == {"sync+pooled+upstream",
                                     "sync-sql@gunicorn-gthread+pooled+upstream"}
    assert all(w in (20, 200, None) for w in q7["crossovers"].values())
    assert "| wait ms | setup " in proc.stdout and f"Answer: {q7['answer']}" in proc.stdout
    sandbox.assert_clean()


def test_on_a_terminal_progress_is_one_updating_line(sandbox):
    """stderr on a pseudo-terminal: the steps update a status line in place
    with the time left; the report on stdout is the same as ever."""
    import pty
    main_fd, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, str(ROOT / "repro.py"), "--setups", "sync",
                                 *SMALL], env=sandbox.env, stdout=subprocess.PIPE,
                                stderr=terminal, text=True)
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(main_fd, 4096)
            except OSError:  # the other end closed: repro is done with stderr
                break
            if not chunk:
                break
            chunks.append(chunk)
        stdout, _ = proc.communicate(timeout=STALL_SECONDS)
    finally:
        os.close(main_fd)
    shown = b"".join(chunks).decode()
    assert proc.returncode == 0, shown
    assert re.search(r"\r\x1b\[K\[ *[\d.]+s\] sync: step \d+, 10 users, [\d.]+ req/s, median "
                     r"[\d.]+ ms, no errors; about [\d a-z]+ left", shown)
    assert not re.search(r"sync +10 users #1", shown)  # no plain step lines
    assert "| capacity req/s |" in stdout
    sandbox.assert_clean()


class Endpoint:
    """An HTTP server of the test's own, in threads: a team's endpoint that
    repro did not start and cannot restart."""

    def __init__(self, delay, status=200):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                time.sleep(delay)
                body = b"ok"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/view/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_ramp_points_the_same_method_at_your_own_endpoints(sandbox):
    fast, slow = Endpoint(0.005), Endpoint(0.05)
    try:
        proc, data = sandbox.run_json("ramp", fast.url, slow.url, *SMALL)
    finally:
        fast.close()
        slow.close()
    assert [s["url"] for s in data["setups"]] == [fast.url, slow.url]
    assert data["settings"]["urls"] == [fast.url, slow.url]
    for setup in data["setups"]:
        [ramp] = setup["repeats"]
        assert ramp["stop_reason"] == "completed" and ramp["restarts"] == 0
        assert [s["users"] for s in ramp["steps"]] == [10, 20]
        assert all(s["failures"] == 0 for s in ramp["steps"])
    # The slow one waits 50 ms for each answer, the fast one 5 ms: each is
    # measured at its own URL, whatever else each answer costs.
    fast_ms, slow_ms = (s["baseline_ms"] for s in data["setups"])
    assert slow_ms >= 50 and fast_ms >= 5 and slow_ms > fast_ms
    assert f"<details><summary>{fast.url}: what it is" in proc.stdout
    assert proc.stdout.splitlines()[2].startswith("**Against these endpoints, ")
    assert "PostgreSQL" not in proc.stdout and "2021" not in proc.stdout
    sandbox.assert_clean()


def test_ramp_warns_after_the_warm_up_when_no_request_got_200(sandbox):
    missing = Endpoint(0.001, status=404)
    try:
        proc, data = sandbox.run_json("ramp", missing.url, *SMALL)
    finally:
        missing.close()
    lines = proc.stderr.splitlines()
    warm = next(i for i, x in enumerate(lines) if "warm-up: 10 requests" in x)
    assert "0 answered 200" in lines[warm]
    assert "no request of the warm-up got 200" in lines[warm + 1], proc.stderr
    assert all(s["failures"] == s["requests"] > 0 for s in data["setups"][0]["repeats"][0]["steps"])
    sandbox.assert_clean()


@pytest.mark.parametrize("args, message", [
    (["ramp", "http://127.0.0.1:9/"], "does not answer"),
    (["ramp", "https://example.org/"], "not https"),
    (["ramp", "ftp://example.org/"], "is not an http:// URL"),
    (["ramp", "http://127.0.0.1:9/", "--workers", "2"], "--workers concerns repro's own"),
    (["ramp", "http://127.0.0.1:9/", "--dsn=postgresql://x@y/z"], "--dsn concerns repro's own"),
])
def test_ramp_refuses_what_it_cannot_measure_in_one_line(sandbox, args, message):
    proc = sandbox.run(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    sandbox.assert_clean()


def answers_within(url, seconds, deadline=60):
    """Wait until one GET of url is answered within `seconds`: an overload's
    backlog has drained."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        began = time.monotonic()
        try:
            urllib.request.urlopen(url, timeout=seconds).read()
            if time.monotonic() - began < seconds:
                return
        except OSError:
            pass
    raise AssertionError(f"{url} still slow after {deadline} s")


def test_locust_and_repro_find_the_same_thresholds_on_one_served_setup(sandbox):
    """The exported locustfile runs headless under Locust (a test
    dependency) against `serve`; its stats history, read by report --locust,
    gives the thresholds repro's own ramp found on the same server within
    one level of the plan, and the same peak within 15%.  One sync worker
    whose view waits 200 ms for an upstream API completes about 4.6 req/s:
    8 users slow it down, and 16 users wait past the 2 s timeout."""
    port = repro.free_port()
    served = sandbox.start("serve", "sync+upstream", "--workers", "1", "--upstream-ms", "200",
                           "--port", str(port))
    stdout = Lines(served.stdout)
    url = f"http://127.0.0.1:{port}/sync-sql/"
    stdout.wait_for(rf"^{re.escape(url)}$")
    plan = ["--users", "16", "--step", "4", "--ramp", "linear", "--timeout", "2"]
    out = sandbox.tmp.parent / f"{sandbox.mark}-locust"
    out.mkdir()
    try:
        ours, data = sandbox.run_json("ramp", url, *plan)
        assert ours.returncode == 0, ours.stderr[-2000:]
        answers_within(url, 1.0)
        text = sandbox.run("locustfile", "sync+upstream", *plan).stdout
        assert "PLAN = [4, 8, 12, 16]" in text and "HOLD = 16.0" in text
        (out / "locustfile.py").write_text(text.replace("127.0.0.1:8000", f"127.0.0.1:{port}"))
        locust = subprocess.run([sys.executable, "-m", "locust", "-f", "locustfile.py",
                                 "--headless", "--csv", "result", "--csv-full-history",
                                 "--only-summary"], cwd=out, capture_output=True, text=True,
                                timeout=STALL_SECONDS)  # it holds 4 levels for 16 s
        # Locust exits 1 when it recorded a failure or an exception, else 0.
        # Its user code raised nothing, and 16 users wait past the 2 s
        # timeout: failures, so 1.
        with open(out / "result_stats.csv", newline="") as f:
            [total] = [row for row in csv.DictReader(f) if row["Name"] == "Aggregated"]
        with open(out / "result_exceptions.csv", newline="") as f:
            exceptions = list(csv.DictReader(f))
        assert exceptions == [], exceptions
        assert int(total["Request Count"]) > 0 and int(total["Failure Count"]) > 0, total
        assert locust.returncode == 1, locust.stderr[-2000:]
        history = out / "result_stats_history.csv"
        report = sandbox.run("report", "--locust", str(history), "--chart", str(out / "l.png"))
        theirs, _ = repro.load_locust([str(history)], "report --locust")
    finally:
        subprocess.run(["rm", "-rf", str(out)])
        served.send_signal(signal.SIGINT)
        finish(served, stdout=stdout)
    assert report.returncode == 0, report.stderr
    assert "<details><summary>/sync-sql/: its 4 levels" in report.stdout
    assert "<details><summary>What Locust's stats history tells" in report.stdout
    [setup] = theirs.setups
    assert [s.level for s in setup.ramps[0].by_level] == [4, 8, 12, 16]
    t = setup.thresholds
    [mine] = data["setups"]
    for key, theirs_at in (("slowdown_at", t.slowdown), ("errors_at", t.errors)):
        assert mine[key] is not None and theirs_at is not None, (key, mine[key], theirs_at)
        assert abs(mine[key] - theirs_at) <= 4, (key, mine[key], theirs_at)
    assert abs(t.peak_rps - mine["peak_rps"]) <= 0.15 * max(t.peak_rps, mine["peak_rps"])
    sandbox.assert_clean()


def test_where_py_spy_cannot_sample_the_setup_is_named_with_why_and_the_rest_goes_on(
        tmp_path, monkeypatch):
    """A py-spy that may not trace (as where ptrace is forbidden): the
    sampled server never starts, nothing else is held, and the reason is one
    line; the next setup is still tried."""
    fake = tmp_path / "py-spy"
    # What py-spy 0.4 prints where ptrace is forbidden (src/main.rs), and its exit code.
    fake.write_text("#!/bin/sh\necho \"Permission Denied: Try running again with elevated "
                    "permissions by going 'sudo !!'\" >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(repro, "py_spy", lambda: str(fake))
    mark = uuid.uuid4().hex  # inherited by everything started here, as in the sandbox
    monkeypatch.setenv("REPRO_TEST_MARK", mark)
    config = repro.parse_config(["--setups", "sync,async", "--profile", "--profile-users", "5",
                                 "--profile-seconds", "1", "--min-requests", "1"])
    stop, progress = repro.StopFlag(), repro.Progress(io.StringIO())
    # Where PostgreSQL's own user can reach it, as repro's own temp dirs are.
    work = Path(tempfile.mkdtemp(prefix="repro-test-"))
    try:
        with repro.prepared_database(config, work, stop, progress) as db:
            profiles, why = repro.profile_setups(
                [repro.SetupResult(cell, ()) for cell in config.setups], config, db, work, stop,
                progress, None)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    denied = ("py-spy: Permission Denied: Try running again with elevated permissions by going "
              "'sudo !!'")
    assert profiles == {} and why == {"sync": denied, "async": denied}
    assert f"sync profile: not taken: {denied}" in progress.out.getvalue()
    deadline = time.monotonic() + 5
    while processes_marked(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_marked(mark) == []


def test_a_signal_during_the_profiles_keeps_the_ramps_and_leaves_nothing(sandbox):
    """Ctrl-C while py-spy samples: the ramps are reported, the profiles
    that were cut short are named, and py-spy, its server and its workers
    are gone."""
    code, out, err = sandbox.signal_when(r"sync profile: py-spy samples", signal.SIGINT,
                                         "--setups", "sync", *SMALL, "--profile",
                                         "--profile-users", "10", "--profile-seconds", "2")
    assert code == -signal.SIGINT, err[-2000:]
    assert out.startswith("# Do async Django views make this app faster?")
    assert "**Interrupted (SIGINT): what was measured until then.**" in out
    assert re.search(r"\| sync +\| .* \| completed +\|", out)
    assert "\nNot profiled: sync: interrupted.\n" in out
    sandbox.assert_clean()
