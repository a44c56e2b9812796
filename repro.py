#!/usr/bin/env python3
"""Do async Django views make my app faster?  The 2021 experiment, in one command.

In 2021 a developer load-tested two Django views: a sync view querying
PostgreSQL with psycopg2 under Gunicorn's sync workers, and an async view
querying with asyncpg under Gunicorn with Uvicorn workers.  Thresholds were
read off Locust charts by eye and the conclusion was that async did not pay
off.  This script rebuilds that experiment (same data shape, same queries,
same servers, same closed-loop users), measures it, and prints a Markdown
report with the thresholds found by stated rules and a conclusion derived
from the numbers.

    python repro.py                 # both setups, 10..300 users
    python repro.py --users 400     # ramp up to 400 users
    python repro.py serve async     # keep one setup running for your own tools

The file reads top-down: constants, data types, statistics and thresholds,
report rendering, the Django app, process management, the load generator,
orchestration, the command line and main().
"""

from __future__ import annotations

if __name__ == "__main__":
    # Ctrl-C before main() takes over (while importing): die by the signal,
    # as a shell expects, not with a KeyboardInterrupt traceback.  Only when
    # run as a script; `import repro` changes nothing.
    import signal as _signal
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)

import argparse
import asyncio
import contextlib
import dataclasses
import glob
import hashlib
import json
import math
import os
import platform
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

PROG = "repro.py"

# The one table repro ever creates, fills or drops in a database.
TABLE = "repro_pokemon"
DB_USER = "repro"  # the private cluster's only role
ROW_COUNT = 800
DETAIL_NUMBER = 25
LIST_SQL = f"SELECT * FROM {TABLE} ORDER BY number"
DETAIL_SQL = f"SELECT * FROM {TABLE} WHERE number = {DETAIL_NUMBER}"

# Threshold rules.  They are printed under the summary table, so the words
# and the numbers live side by side here.
SLOWDOWN_FACTOR = 2.0
ERROR_RATE = 0.01
STOP_ERROR_RATE = 0.5
STOP_AFTER_STEPS = 2
SIMILAR_WITHIN = 0.15
RESOLUTION = 0.10  # the adaptive ramp's largest step, as a share of the users
# Above this share of one core, the load generator may be what limits a step.
CLIENT_CPU_WARNING = 80.0

DEFAULT_USERS = 300
DEFAULT_STEP = 10
DEFAULT_STEP_SECONDS = 2.0
DEFAULT_MIN_REQUESTS = 50
DEFAULT_THINK_TIME = 1.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_WORKERS = 4
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_RAMP = "adaptive"
MAX_USERS = 100_000
MAX_WORKERS = 256

# A step's window also waits for --min-requests requests (medians of a
# handful of requests are noise), but never beyond this many times
# --step-seconds.
MAX_WINDOW_FACTOR = 5

# Deadlines for things that normally take about a second.
POSTGRES_START_SECONDS = 30.0
SERVER_START_SECONDS = 60.0
WARMUP_SECONDS = 20.0
STOP_GRACE_SECONDS = 10.0
TICK = 0.05

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}

# requirements.txt, as (module to import, distribution, lowest version); a
# test keeps the two equal.  Checked before anything starts, so that a
# Python without them gets one line instead of a traceback.
REQUIREMENTS = (
    ("django", "django", "5.2"),
    ("asyncpg", "asyncpg", "0.29"),
    ("psycopg2", "psycopg2-binary", "2.9"),
    ("gunicorn", "gunicorn", "23"),
    ("uvicorn", "uvicorn", "0.30"),
    ("uvicorn_worker", "uvicorn-worker", "0.2"),
    ("aiohttp", "aiohttp", "3.9"),
)
SETUP_COMMANDS = ("python3 -m venv .venv && . .venv/bin/activate",
                  "pip install -r requirements.txt")
REPORTED_PACKAGES = (
    "Django", "gunicorn", "uvicorn", "uvicorn-worker", "asyncpg",
    "psycopg2-binary", "psycopg2", "aiohttp", "uvloop", "httptools",
)

# Environment variables that carry one run's settings into the server
# processes, which import this file as a module.
ENV_DSN = "REPRO_DSN"
ENV_SECRET = "REPRO_SECRET_KEY"

# Lines in a server log that explain failures; counted per setup.
LOG_FINDINGS = {
    "Internal Server Error:": "errors logged by Django (HTTP 500)",
    "too many clients": "PostgreSQL refused a connection: too many clients already",
    "WORKER TIMEOUT": "Gunicorn killed a worker that took longer than its timeout",
}

# ---------------------------------------------------------------------------
# Data types
# ---------------------------------------------------------------------------


class ReproError(Exception):
    """Anything that stops repro; main() turns it into one line."""

    exit_code = EXIT_FAILED


class UsageError(ReproError):
    """Bad input: a one-line message and exit 2."""

    exit_code = EXIT_USAGE


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived; the signal number picks the exit
    code.  Not a ReproError: handlers of failures must not swallow it."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum
        self.exit_code = EXIT_SIGNAL.get(signum, EXIT_FAILED)


class StopFlag:
    """Set by signal handlers (which do nothing else); polled everywhere."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None

    def set(self, signum: int, _frame=None) -> None:
        self.signum = signum

    def __bool__(self) -> bool:
        return self.signum is not None

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)


@dataclass(frozen=True)
class Config:
    command: str  # "run" or "serve"
    argv: tuple[str, ...]
    setups: tuple[str, ...]
    users: int = DEFAULT_USERS
    step: int = DEFAULT_STEP
    step_seconds: float = DEFAULT_STEP_SECONDS
    min_requests: int = DEFAULT_MIN_REQUESTS
    ramp: str = DEFAULT_RAMP
    think_time: float = DEFAULT_THINK_TIME
    timeout: float = DEFAULT_TIMEOUT
    workers: int = DEFAULT_WORKERS
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    dsn: Optional[str] = None
    dsn_origin: Optional[str] = None  # "--dsn" or "DATABASE_URL"
    json_path: Optional[str] = None
    port: Optional[int] = None

    @property
    def plan(self) -> list[int]:
        return RAMPS[self.ramp](self.users, self.step)


@dataclass(frozen=True)
class Sample:
    """One request as the load generator saw it.  Times are perf_counter()."""

    start: float
    end: float
    outcome: str  # "ok", "timeout", "connection" or "http_<status>"


@dataclass(frozen=True)
class StepWindow:
    """One step of a ramp.  Requests that start in [start, window_end) count
    for it; the step lasts until every one of them has ended (end)."""

    users: int
    start: float
    window_end: float
    end: float
    cpu_seconds: float  # the load generator's own CPU time during the step


@dataclass(frozen=True)
class StepStats:
    users: int
    requests: int
    failures: int
    failures_by_kind: dict[str, int]
    rps: float  # successful responses per second of the measuring window
    p50_ms: Optional[float]  # latency percentiles of successful responses
    p95_ms: Optional[float]
    p99_ms: Optional[float]
    client_cpu_pct: float  # of one core
    seconds: float  # how long the step was held, its tail included

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Thresholds:
    baseline_ms: Optional[float]
    slowdown_users: Optional[int]
    error_users: Optional[int]
    peak_rps: float
    peak_users: Optional[int]
    max_users: int  # the highest step measured: "none up to max_users"


@dataclass(frozen=True)
class SetupResult:
    name: str
    view: str
    server: str
    steps: tuple[StepStats, ...]
    stop_reason: str  # "completed", or why the ramp ended early
    warmup: str = ""
    error: Optional[str] = None  # the setup could not be measured (fully)
    log_findings: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False  # a signal cut its ramp short

    @property
    def thresholds(self) -> Thresholds:
        return find_thresholds(self.steps)


@dataclass(frozen=True)
class Environment:
    cpu_model: str
    cpu_count: int
    memory: str
    os: str
    python: str
    packages: dict[str, str]
    uvicorn_stack: str
    postgres_version: str
    postgres_source: str
    max_connections: int


@dataclass(frozen=True)
class Settings:
    """What of the Config a report needs to be read (passwords masked)."""
    setups: tuple[str, ...]
    users: int
    step: int
    step_seconds: float
    min_requests: int
    ramp: str
    plan: tuple[int, ...]
    think_time: float
    timeout: float
    workers: int
    max_connections: Optional[int]  # of the private cluster; None with a DSN
    dsn: Optional[str]


@dataclass(frozen=True)
class Report:
    command: str
    started: str
    environment: Environment
    settings: Settings
    setups: tuple[SetupResult, ...]
    seconds: float
    interrupted: Optional[str] = None


# ---------------------------------------------------------------------------
# Statistics and thresholds (pure functions of recorded samples)
# ---------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> Optional[float]:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    rank = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def step_stats(window: StepWindow, samples: Sequence[Sample]) -> StepStats:
    """Statistics of the samples that started inside the step's window."""
    counted = [s for s in samples if window.start <= s.start < window.window_end]
    latencies = sorted((s.end - s.start) * 1000.0 for s in counted if s.outcome == "ok")
    failures_by_kind: dict[str, int] = {}
    for s in counted:
        if s.outcome != "ok":
            failures_by_kind[s.outcome] = failures_by_kind.get(s.outcome, 0) + 1
    window_seconds = window.window_end - window.start
    held = window.end - window.start
    return StepStats(
        users=window.users,
        requests=len(counted),
        failures=len(counted) - len(latencies),
        failures_by_kind=dict(sorted(failures_by_kind.items())),
        rps=len(latencies) / window_seconds if window_seconds > 0 else 0.0,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        client_cpu_pct=100.0 * window.cpu_seconds / held if held > 0 else 0.0,
        seconds=held,
    )


def _first_confirmed(flags: Sequence[bool]) -> Optional[int]:
    """Index of the first step whose flag holds at that step and at the next
    one (a lone noisy step does not set a threshold; the last step needs no
    confirmation, there is nothing after it)."""
    for i, flag in enumerate(flags):
        if flag and (i == len(flags) - 1 or flags[i + 1]):
            return i
    return None


def find_thresholds(steps: Sequence[StepStats]) -> Thresholds:
    if not steps:
        return Thresholds(None, None, None, 0.0, None, 0)
    baseline = steps[0].p50_ms
    # A step without one successful response counts as slowed down; without
    # a baseline, no other step can be judged slow.
    slowed = [s.p50_ms is None or (baseline is not None and s.p50_ms >= SLOWDOWN_FACTOR * baseline)
              for s in steps]
    slowdown = _first_confirmed(slowed)
    erring = [s.requests > 0 and s.error_rate >= ERROR_RATE for s in steps]
    errors = _first_confirmed(erring)
    peak = max(steps, key=lambda s: (s.rps, -s.users))
    return Thresholds(
        baseline_ms=baseline,
        slowdown_users=None if slowdown is None else steps[slowdown].users,
        error_users=None if errors is None else steps[errors].users,
        peak_rps=peak.rps,
        peak_users=peak.users if peak.rps > 0 else None,
        max_users=steps[-1].users,
    )


def early_stop_reason(steps: Sequence[StepStats]) -> Optional[str]:
    """Why a ramp that is clearly past both thresholds should stop, or None."""
    last = steps[-STOP_AFTER_STEPS:]
    if len(last) == STOP_AFTER_STEPS and all(s.error_rate > STOP_ERROR_RATE for s in last):
        return (f"stopped at {last[-1].users} users: more than {STOP_ERROR_RATE:.0%} "
                f"of requests failed for {STOP_AFTER_STEPS} steps in a row")
    return None


def linear_plan(users: int, step: int) -> list[int]:
    """step, 2*step, ... users: the plain Locust-style ramp."""
    plan = list(range(step, users + 1, step))
    if not plan or plan[-1] != users:
        plan.append(users)
    return plan


def adaptive_plan(users: int, step: int) -> list[int]:
    """Each step adds `step` users or RESOLUTION of the users already there,
    whichever is more.  A threshold is then known to within one step, which
    is never coarser than the linear ramp's where the step is below
    RESOLUTION of the threshold, nor coarser than RESOLUTION elsewhere; and
    a ramp to 300 takes 22 steps instead of 30."""
    plan = [min(step, users)]
    while plan[-1] < users:
        plan.append(min(users, max(plan[-1] + step, round(plan[-1] * (1 + RESOLUTION)))))
    return plan


RAMPS = {"adaptive": adaptive_plan, "linear": linear_plan}


def most_common_failure(steps: Sequence[StepStats]) -> Optional[str]:
    totals: dict[str, int] = {}
    for s in steps:
        for kind, n in s.failures_by_kind.items():
            totals[kind] = totals.get(kind, 0) + n
    if not totals:
        return None
    return max(sorted(totals), key=lambda k: totals[k])


# Comparing two setups.  A difference is substantial when it is more than
# SIMILAR_WITHIN of the larger value and more than one ramp step.

@dataclass(frozen=True)
class Comparison:
    metric: str
    winner: Optional[str]  # the better setup's name, or None: no substantial difference
    text: str
    decided: bool = True  # False: the ramp did not go far enough to tell


@dataclass(frozen=True)
class Reached:
    """One setup's threshold: at `users`, or (None) not up to `max_users`."""
    name: str
    users: Optional[int]
    max_users: int

    @property
    def value(self) -> int:
        # A threshold not reached is only known to lie above the highest step.
        return self.max_users if self.users is None else self.users

    def text(self) -> str:
        return f"{self.name} {fmt_threshold(self.users, self.max_users, prose=True)}"


def compare_thresholds(metric: str, a: Reached, b: Reached, step: int) -> Comparison:
    """Higher is better: a threshold reached later means more users served.
    A threshold not reached is only a lower bound, which decides the
    comparison only when even the bound is substantially higher."""
    both = f"{a.text()}, {b.text()}"
    if a.users is None and b.users is None:
        return Comparison(metric, None, f"{metric}: neither setup reached it "
                          f"({a.name} up to {a.max_users}, {b.name} up to {b.max_users} users).",
                          decided=False)
    # On a tie the bound is higher: its true value lies above it.
    high, low = sorted((a, b), key=lambda r: (r.value, r.users is None), reverse=True)
    if low.users is None:
        return Comparison(metric, None, f"{metric}: {both}: cannot tell which holds more; "
                          f"{low.name} was measured up to {low.max_users} users only.",
                          decided=False)
    diff = (high.value - low.value) / high.value
    substantial = diff > SIMILAR_WITHIN and high.value - low.value > step
    if not substantial and high.users is None:
        return Comparison(metric, None, f"{metric}: {both}: {high.name} holds at least as many "
                          f"users; whether substantially more, a ramp beyond {high.max_users} "
                          f"users would tell.", decided=False)
    if not substantial:
        return Comparison(metric, None, f"{metric}: {both}: no substantial difference "
                          f"({diff:.0%} apart; the rule needs more than {SIMILAR_WITHIN:.0%} "
                          f"and more than one step of {step}).")
    more = "at least " if high.users is None else ""
    return Comparison(metric, high.name, f"{metric}: {both}: {high.name} holds {more}"
                      f"{high.value / low.value - 1:.0%} more users before it is reached.")


def compare_rates(metric: str, a: str, a_val: float, b: str, b_val: float) -> Comparison:
    high, low = (a, b) if a_val >= b_val else (b, a)
    high_val, low_val = max(a_val, b_val), min(a_val, b_val)
    diff = (high_val - low_val) / high_val if high_val else 0.0
    both = f"{a} {a_val:.1f} req/s, {b} {b_val:.1f} req/s"
    if diff <= SIMILAR_WITHIN:
        return Comparison(metric, None, f"{metric}: {both}: no substantial difference "
                          f"({diff:.0%} apart).")
    return Comparison(metric, high, f"{metric}: {both}: {low} reaches only "
                      f"{low_val / high_val:.0%} of {high}'s.")


def compare_setups(a: SetupResult, b: SetupResult, step: int) -> list[Comparison]:
    ta, tb = a.thresholds, b.thresholds
    return [
        compare_thresholds("Slowdown", Reached(a.name, ta.slowdown_users, ta.max_users),
                           Reached(b.name, tb.slowdown_users, tb.max_users), step),
        compare_thresholds("Errors", Reached(a.name, ta.error_users, ta.max_users),
                           Reached(b.name, tb.error_users, tb.max_users), step),
        compare_rates("Peak throughput", a.name, ta.peak_rps, b.name, tb.peak_rps),
    ]


def verdict(comparisons: Sequence[Comparison], where: str = "here") -> str:
    async_wins = [c.metric.lower() for c in comparisons if c.winner == "async"]
    sync_wins = [c.metric.lower() for c in comparisons if c.winner == "sync"]
    undecided = [c.metric.lower() for c in comparisons if not c.decided]
    if not async_wins and not sync_wins:
        if undecided:
            return (f"No substantial difference shown ({_join(undecided)} undecided: ramp to more "
                    f"users with --users): the async view did not make this app faster {where}.")
        return ("No substantial difference on any measure: the async view did not make "
                f"this app faster {where}.")
    rest = " and no worse on the rest" if len(async_wins + sync_wins) < len(comparisons) else ""
    if async_wins and not sync_wins:
        return f"The async setup did better on {_join(async_wins)}{rest}: async paid off {where}."
    if sync_wins and not async_wins:
        return (f"The sync setup did better on {_join(sync_wins)}{rest}: async did not pay off "
                f"{where}.")
    return (f"Mixed: async did better on {_join(async_wins)}, sync on {_join(sync_wins)}.")


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# ---------------------------------------------------------------------------
# Report rendering (pure functions of a Report)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Published:
    slowdown_users: int
    error_users: int


# Read off Locust charts by eye in 2021 ("~130 users" and so on).
PUBLISHED_2021 = {"sync": Published(130, 310), "async": Published(100, 280)}
PUBLISHED_MACHINE = "8-core AMD, Docker (app and Postgres containers), Locust, read by eye"
PUBLISHED_STEP = 10


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """A Markdown table padded to line up in a terminal; align is 'l'/'r' per column."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" if a == "r" else "-" * (w + 2)
                          for w, a in zip(widths, align)) + "|"
    return [line(headers), rule, *(line(r) for r in rows)]


def fmt_ms(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def fmt_threshold(users: Optional[int], max_users: int, prose: bool = False) -> str:
    if prose:
        return f"none up to {max_users} users" if users is None else f"at {users} users"
    return f"none up to {max_users}" if users is None else str(users)


def fmt_kind(kind: Optional[str]) -> str:
    if kind is None:
        return "none"
    if kind.startswith("http_"):
        return "HTTP " + kind[5:]
    return {"timeout": "timeout", "connection": "connection error"}.get(kind, kind)


def fmt_duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def threshold_rules(step: int, ramp: str) -> list[str]:
    resolution = (f"within {step} users or {RESOLUTION:.0%}, whichever is more" if ramp == "adaptive"
                  else f"within {step} users")
    return [
        f"- **Slowdown at**: the lowest user count whose median latency is at least "
        f"{SLOWDOWN_FACTOR:g}x the baseline (the median of the lowest step), and still is at "
        f"the next step; a step without one successful response counts as slowed down.",
        f"- **Errors at**: the lowest user count where {ERROR_RATE:.0%} or more of the requests "
        f"fail (timeout, connection error or an HTTP status other than 200), and still do "
        f"at the next step.",
        "- A lone noisy step does not set a threshold; the last step measured needs no "
        "confirmation. Latencies are of successful responses. A threshold not reached is "
        "\"none up to N\", N being the highest step measured.",
        f"- A step counts the requests that started in its window (see Ramp above) and holds "
        f"until all of them have ended; req/s is successful responses per second of that "
        f"window. A threshold lies above the step before the one named: {resolution}.",
        f"- client CPU % is the load generator's own CPU time per second, in % of one core; "
        f"near 100% the load generator, not the server, would be the limit.",
        f"- Two setups differ substantially when the smaller value is more than "
        f"{SIMILAR_WITHIN:.0%} below the larger and more than one step ({step} users) away.",
    ]


def render_environment(report: Report) -> list[str]:
    env, st = report.environment, report.settings
    packages = ", ".join(f"{name} {version}" for name, version in env.packages.items())
    rows = [
        ["CPU", f"{env.cpu_model} ({env.cpu_count} cores)"],
        ["Memory", env.memory],
        ["OS", env.os],
        ["Python", env.python],
        ["Packages", packages],
        ["Uvicorn stack", env.uvicorn_stack],
        ["PostgreSQL", f"{env.postgres_version}, {env.postgres_source}, "
                       f"max_connections {env.max_connections}"],
        ["Servers", f"{st.workers} Gunicorn workers per setup; Django DEBUG=False, "
                    f"startproject middleware, asyncio debug off"],
        ["Load", f"closed loop (like Locust), aiohttp, one connection per user; think time "
                 f"{st.think_time:g} s, timeout {st.timeout:g} s"],
        ["Ramp", f"{st.ramp}, {len(st.plan)} steps: {' '.join(map(str, st.plan))} users; each "
                 f"measured for {st.step_seconds:g} s and at least {st.min_requests} requests "
                 f"(at most {MAX_WINDOW_FACTOR * st.step_seconds:g} s)"],
    ]
    return md_table(["", ""], rows, "ll")


def short_reason(stop_reason: str) -> str:
    """'stopped at 50 users: more than ...' -> 'stopped at 50 users'."""
    return stop_reason.split(":")[0].split(" (")[0]


def render_summary(setups: Sequence[SetupResult]) -> list[str]:
    rows = []
    for r in setups:
        t = r.thresholds
        peak = f"{t.peak_rps:.1f} ({t.peak_users})" if t.peak_users else "-"
        rows.append([
            r.name, fmt_threshold(t.slowdown_users, t.max_users) if r.steps else "-",
            fmt_threshold(t.error_users, t.max_users) if r.steps else "-", peak,
            fmt_ms(t.baseline_ms) + (" ms" if t.baseline_ms is not None else ""),
            fmt_kind(most_common_failure(r.steps)) if r.steps else "-",
            short_reason(r.stop_reason),
        ])
    return md_table(["setup", "slowdown at", "errors at", "peak req/s (users)",
                     "baseline median", "most common error", "ramp"], rows, "lrrrrll")


def render_steps(result: SetupResult) -> list[str]:
    rows = []
    for s in result.steps:
        http = sum(n for k, n in s.failures_by_kind.items() if k.startswith("http_"))
        rows.append([
            str(s.users), str(s.requests),
            f"{s.failures} ({100 * s.error_rate:.0f}%)" if s.failures else "0",
            str(s.failures_by_kind.get("timeout", 0)),
            str(s.failures_by_kind.get("connection", 0)), str(http),
            f"{s.rps:.1f}", fmt_ms(s.p50_ms), fmt_ms(s.p95_ms), fmt_ms(s.p99_ms),
            f"{s.client_cpu_pct:.0f}", f"{s.seconds:.1f}",
        ])
    return md_table(["users", "requests", "failures", "timeouts", "conn. errors", "HTTP errors",
                     "req/s", "p50 ms", "p95 ms", "p99 ms", "client CPU %", "held s"],
                    rows, "rrrrrrrrrrrr")


def render_published(report: Report, by_name: dict[str, SetupResult]) -> list[str]:
    env = report.environment
    ours = []
    for name in PUBLISHED_2021:
        r = by_name.get(name)
        if r is None or not r.steps:
            ours += ["-", "-"]
        else:
            t = r.thresholds
            ours += [fmt_threshold(t.slowdown_users, t.max_users),
                     fmt_threshold(t.error_users, t.max_users)]
    published = []
    for p in PUBLISHED_2021.values():
        published += [f"~{p.slowdown_users}", f"~{p.error_users}"]
    where = "no Docker" if "private" in env.postgres_source else "Postgres given by DSN"
    rows = [
        ["2021, published", *published, PUBLISHED_MACHINE],
        ["this run", *ours, f"{env.cpu_model}, {env.cpu_count} cores, {where}, repro.py"],
    ]
    return md_table(["", "sync: slowdown", "sync: errors", "async: slowdown", "async: errors",
                     "machine"], rows, "lrrrrl")


def published_comparisons() -> list[Comparison]:
    s, a = PUBLISHED_2021["sync"], PUBLISHED_2021["async"]
    return [
        compare_thresholds("Slowdown", Reached("sync", s.slowdown_users, s.slowdown_users),
                           Reached("async", a.slowdown_users, a.slowdown_users), PUBLISHED_STEP),
        compare_thresholds("Errors", Reached("sync", s.error_users, s.error_users),
                           Reached("async", a.error_users, a.error_users), PUBLISHED_STEP),
    ]


def _async_paid_off(comparisons: Sequence[Comparison]) -> bool:
    winners = {c.winner for c in comparisons} - {None}
    return winners == {"async"}


def render_conclusion(report: Report, by_name: dict[str, SetupResult]) -> list[str]:
    sync, async_ = by_name.get("sync"), by_name.get("async")
    if sync is None or async_ is None or not sync.steps or not async_.steps:
        missing = [n for n, r in (("sync", sync), ("async", async_)) if r is None or not r.steps]
        return [f"No conclusion: the {_join(missing)} setup has no measurements in this run."]
    step = report.settings.step
    ours = compare_setups(sync, async_, step)
    lines = [f"- {c.text}" for c in ours]
    lines += ["", f"**{verdict(ours)}**", ""]
    theirs = published_comparisons()
    agree = _async_paid_off(ours) == _async_paid_off(theirs)
    lines.append(
        f"The 2021 numbers, by the same rule: {' '.join(c.text for c in theirs)} "
        f"{verdict(theirs, 'in 2021')} This run {'agrees' if agree else 'disagrees'} with 2021 on "
        f"whether async paid off.")
    if report.interrupted or sync.error or async_.error:
        lines += ["", "Caution: this run was cut short (see the ramp column); the thresholds are "
                      "those of the steps measured."]
    return lines


def render_markdown(report: Report) -> str:
    by_name = {r.name: r for r in report.setups}
    out = ["# Do async Django views make this app faster?", "",
           f"`{report.command}`  ", f"started {report.started}, took {fmt_duration(report.seconds)}"]
    if report.interrupted:
        out += ["", f"**Interrupted ({report.interrupted}): what was measured until then.**"]
    out += ["", "## Environment", "", *render_environment(report)]
    out += ["", "## Summary", "", *render_summary(report.setups), "",
            *threshold_rules(report.settings.step, report.settings.ramp)]
    for r in report.setups:
        out += ["", f"## {r.name}: {r.view} view on {r.server}", ""]
        if r.steps:
            out += render_steps(r)
            out.append("")
        out.append(f"Ramp: {r.stop_reason}. Warm-up: {r.warmup or '-'}.")
        busy = [s.users for s in r.steps if s.client_cpu_pct >= CLIENT_CPU_WARNING]
        if busy:
            out.append(f"Warning: the load generator used {CLIENT_CPU_WARNING:.0f}% or more of a "
                       f"core at {_join([str(u) for u in busy])} users; those steps may measure "
                       f"the client, not the server.")
        for pattern, count in r.log_findings.items():
            if count:
                out.append(f"Server log: {count} x {LOG_FINDINGS[pattern]}.")
        if r.error:
            out += ["", "```text", r.error.rstrip(), "```"]
    out += ["", "## 2021 and this run", "", *render_published(report, by_name)]
    out += ["", "## Conclusion", "", *render_conclusion(report, by_name)]
    return "\n".join(out) + "\n"


def report_to_json(report: Report) -> dict:
    setups = []
    for r in report.setups:
        t = r.thresholds
        setups.append({
            "name": r.name, "view": r.view, "server": r.server,
            "slowdown_users": t.slowdown_users, "error_users": t.error_users,
            "peak_rps": t.peak_rps, "peak_users": t.peak_users,
            "baseline_ms": t.baseline_ms, "max_users": t.max_users,
            "stop_reason": r.stop_reason, "warmup": r.warmup, "error": r.error,
            "log_findings": r.log_findings,
            "steps": [{**dataclasses.asdict(s), "error_rate": s.error_rate} for s in r.steps],
        })
    return {
        "command": report.command, "started": report.started, "seconds": report.seconds,
        "interrupted": report.interrupted,
        "environment": dataclasses.asdict(report.environment),
        "settings": dataclasses.asdict(report.settings), "setups": setups,
    }


# ---------------------------------------------------------------------------
# The data: 800 generated rows with the original table's shape
# ---------------------------------------------------------------------------

COLUMNS = (
    ("id", "bigint PRIMARY KEY"), ("number", "integer NOT NULL"),
    ("name", "varchar(100) NOT NULL"), ("type1", "varchar(50) NOT NULL"),
    ("type2", "varchar(50) NOT NULL"), ("hp", "integer NOT NULL"),
    ("attack", "integer NOT NULL"), ("defense", "integer NOT NULL"),
    ("sp_atk", "integer NOT NULL"), ("sp_def", "integer NOT NULL"),
    ("speed", "integer NOT NULL"), ("generation", "integer NOT NULL"),
    ("legendary", "boolean NOT NULL"),
)
TYPES = ("Normal", "Fire", "Water", "Grass", "Electric", "Ice", "Fighting", "Poison", "Ground",
         "Flying", "Psychic", "Bug", "Rock", "Ghost", "Dragon", "Dark", "Steel", "Fairy")
SYLLABLES = ("bul", "ba", "saur", "char", "man", "der", "squir", "tle", "ka", "chu", "ra", "mew",
             "zu", "bat", "gol", "ee", "vee", "dra", "ni", "gyr", "dos", "lap", "snor", "lax",
             "ar", "ti", "cu", "no", "mol", "tres", "gen", "gar", "lu", "gi", "ho", "oh")
# Where each generation's numbers end, as in the 721-entry national index.
GENERATION_ENDS = (151, 251, 386, 493, 649, 721)


def pokemon_rows() -> list[tuple]:
    """The same 800 rows on every machine: 721 numbers, 79 of them twice
    (alternate forms), ordered by (number, name); number 25 appears once."""
    rng = random.Random(2021)
    distinct = GENERATION_ENDS[-1]
    base_names = {n: "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
                  for n in range(1, distinct + 1)}
    base_names[DETAIL_NUMBER] = "Pikachu"
    forms = rng.sample(range(DETAIL_NUMBER + 1, distinct + 1), ROW_COUNT - distinct)
    entries = [(n, base_names[n]) for n in range(1, distinct + 1)]
    entries += [(n, f"{base_names[n]} Mega") for n in forms]
    rows = []
    for row_id, (number, name) in enumerate(sorted(entries), start=1):
        type1 = rng.choice(TYPES)
        type2 = rng.choice([t for t in TYPES if t != type1]) if rng.random() < 0.5 else ""
        stats = [rng.randint(20, 160) for _ in range(6)]
        generation = next(g for g, end in enumerate(GENERATION_ENDS, start=1) if number <= end)
        rows.append((row_id, number, name, type1, type2, *stats, generation, rng.random() < 0.08))
    return rows


def seed_database(dsn: str) -> None:
    """Create and fill repro's own table; safe to run again and again."""
    import psycopg2
    from psycopg2.extras import execute_values

    wanted = [name for name, _ in COLUMNS]
    conn = None
    try:
        conn = psycopg2.connect(dsn, connect_timeout=10)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name = %s "
                        "ORDER BY ordinal_position", (TABLE,))
            present = [r[0] for r in cur.fetchall()]
            if present and present != wanted:
                cur.execute(f"DROP TABLE {TABLE}")
            columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
            cur.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({columns})")
            cur.execute(f"DELETE FROM {TABLE}")
            execute_values(cur, f"INSERT INTO {TABLE} VALUES %s", pokemon_rows())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"ANALYZE {TABLE}")
    except psycopg2.Error as e:
        raise ReproError(f"could not create and fill table {TABLE}: {first_line(str(e))}; "
                         f"repro needs a database user that may create tables") from None
    finally:
        if conn is not None:
            conn.close()


# ---------------------------------------------------------------------------
# The Django app (configured only inside the server processes)
# ---------------------------------------------------------------------------

TEMPLATES_INLINE = {
    "base.html": (
        "<!doctype html>\n<html><head><title>{{ title }}</title></head>\n<body>\n"
        "<h1>{{ title }}</h1>\n{% block main %}{% endblock main %}\n</body></html>\n"
    ),
    "pokemon.html": (
        '{% extends "base.html" %}\n{% block main %}\n'
        "<p>The two queries took {{ duration|floatformat:3 }} seconds.</p>\n"
        "<dl>\n{% for field, value in pokemon.items %}"
        "<dt>{{ field }}</dt><dd>{{ value }}</dd>\n{% endfor %}</dl>\n"
        "<ul>\n{% for p in pokemons %}<li>{{ p.number }} {{ p.name }}</li>\n{% endfor %}</ul>\n"
        "{% endblock main %}\n"
    ),
}

# What `django-admin startproject` generates; the original kept it.
STARTPROJECT_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
]
STARTPROJECT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def configure_django(dsn: str, secret_key: str) -> None:
    import types

    import django
    from django.conf import settings
    from django.urls import path

    if settings.configured:
        return
    # A module object, not a dotted path: the URLconf lives in this file,
    # whatever name the file was imported under, and resolvers hash it.
    urls = types.ModuleType("repro_urls")
    urls.urlpatterns = [path(v.path.lstrip("/"), v.func, name=v.name) for v in VIEWS.values()]
    settings.configure(
        DEBUG=False,
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "[::1]"],
        ROOT_URLCONF=urls,
        INSTALLED_APPS=STARTPROJECT_APPS,
        MIDDLEWARE=STARTPROJECT_MIDDLEWARE,
        # No Django database: the views talk to PostgreSQL with the drivers
        # directly, as in 2021 ("there is no async ORM yet").
        DATABASES={},
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.debug",
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ],
                "loaders": [("django.template.loaders.cached.Loader",
                             [("django.template.loaders.locmem.Loader", TEMPLATES_INLINE)])],
            },
        }],
        USE_TZ=True,
        # Errors go to the server log, where repro counts their causes.
        LOGGING={
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"stderr": {"class": "logging.StreamHandler"}},
            "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR",
                                           "propagate": False}},
        },
        REPRO_DSN=dsn,
    )
    django.setup()


def fetch_list_sync(dsn: str) -> list[dict]:
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        cur = conn.cursor()
        cur.execute(LIST_SQL)
        rows = cur.fetchmany(1000)
        cur.close()
    finally:
        conn.close()
    return [{"number": r[1], "name": r[2]} for r in rows]


def fetch_detail_sync(dsn: str) -> dict:
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        cur = conn.cursor()
        cur.execute(DETAIL_SQL)
        row = cur.fetchone()
        names = [c.name for c in cur.description]
        cur.close()
    finally:
        conn.close()
    return dict(zip(names, row))


async def fetch_list_async(dsn: str) -> list[dict]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            cursor = await conn.cursor(LIST_SQL)
            rows = await cursor.fetch(1000)
    finally:
        await conn.close()
    return [{"number": r["number"], "name": r["name"]} for r in rows]


async def fetch_detail_async(dsn: str) -> dict:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            cursor = await conn.cursor(DETAIL_SQL)
            row = await cursor.fetchrow()
    finally:
        await conn.close()
    return dict(row)


def render_pokemon(request, title: str, pokemon: dict, pokemons: list[dict], started: float):
    from django.shortcuts import render

    response = render(request, "pokemon.html", {
        "title": title, "pokemon": pokemon, "pokemons": pokemons,
        "duration": time.perf_counter() - started,
    })
    # Lets the warm-up see that every worker has served requests.
    response["X-Repro-Worker"] = str(os.getpid())
    return response


def sync_view(request):
    from django.conf import settings

    started = time.perf_counter()
    pokemons = fetch_list_sync(settings.REPRO_DSN)
    pokemon = fetch_detail_sync(settings.REPRO_DSN)
    return render_pokemon(request, "sync view", pokemon, pokemons, started)


async def async_view(request):
    from django.conf import settings

    started = time.perf_counter()
    pokemons, pokemon = await asyncio.gather(fetch_list_async(settings.REPRO_DSN),
                                             fetch_detail_async(settings.REPRO_DSN))
    return render_pokemon(request, "async view", pokemon, pokemons, started)


@dataclass(frozen=True)
class View:
    name: str
    path: str
    func: Callable
    description: str


VIEWS = {
    "sync": View("sync", "/sync/", sync_view,
                 "psycopg2, list then detail query, a new connection per query"),
    "async": View("async", "/async/", async_view,
                  "asyncpg, both queries at once (asyncio.gather), a new connection per query"),
}


def make_app(interface: str):
    """Gunicorn's entry point in each worker: repro:make_app('wsgi'|'asgi')."""
    configure_django(os.environ[ENV_DSN], os.environ[ENV_SECRET])
    if interface == "wsgi":
        from django.core.wsgi import get_wsgi_application
        return get_wsgi_application()
    from django.core.asgi import get_asgi_application
    return get_asgi_application()


# ---------------------------------------------------------------------------
# Process management: PostgreSQL and the servers
# ---------------------------------------------------------------------------

def first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text.strip()


def _split_userinfo(dsn: str) -> Optional[tuple[str, str, str, str]]:
    """(scheme, user, password, '@' and the rest) of a URL that carries a
    password, else None.  The user info ends at the last '@': a password
    may hold an unescaped '@', '/' or '?'.  A '/' before the ':' means the
    '@' belongs to the path or query, not to a password."""
    scheme, sep, rest = dsn.partition("://")
    at = rest.rfind("@")
    user, colon, password = rest[:max(at, 0)].partition(":")
    if not sep or at < 0 or not colon or "/" in user:
        return None
    return scheme, user, password, rest[at:]


def mask_dsn(dsn: str) -> str:
    """The DSN with its password, in any of the places one can be, as ***.
    Masking a little too much beats leaking."""
    masked = re.sub(r"(password\s*=\s*)('[^']*'|[^&\s]*)", r"\1***", dsn, flags=re.I)
    parts = _split_userinfo(masked)
    if parts is None:
        return masked
    scheme, user, _, tail = parts
    return f"{scheme}://{user}:***{tail}"


def dsn_password(dsn: str) -> Optional[str]:
    parts = _split_userinfo(dsn)
    return None if parts is None else parts[2]


def scrub(text: str, dsn: str) -> str:
    """A driver's error message with every form of the DSN's password, and
    every piece of it a parser could have split off, replaced by ***."""
    password = dsn_password(dsn)
    if not password:
        return text
    forms = {password, urllib.parse.unquote(password)}
    forms |= {piece for form in list(forms) for piece in re.split(r"[@/?#:]", form)}
    for form in sorted((f for f in forms if len(f) >= 2), key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _die_with_parent(sig: int) -> Optional[Callable[[], None]]:
    """A preexec_fn that makes the child get `sig` if repro itself dies
    (even by SIGKILL), so no server outlives it.  Linux only."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, sig, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)
    return preexec


@dataclass
class ManagedProcess:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def died_message(self) -> str:
        return (f"{self.name} exited with code {self.popen.returncode}; "
                f"last lines of its log:\n{tail(self.log_path)}")


@dataclass(frozen=True)
class RunAs:
    """The unprivileged user PostgreSQL runs as when repro runs as root."""
    uid: int
    gid: int
    name: str

    def popen_kwargs(self) -> dict:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _reachable_by(path: Path, who: RunAs) -> bool:
    """Whether `who` may enter path and every directory above it."""
    import stat
    for directory in (path, *path.parents):
        st = directory.stat()
        if st.st_uid == who.uid:
            bit = stat.S_IXUSR
        elif st.st_gid == who.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def unprivileged_user() -> Optional[RunAs]:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return RunAs(entry.pw_uid, entry.pw_gid, name)
    raise ReproError("PostgreSQL refuses to run as root, and there is no 'postgres' or "
                     "'nobody' user to run it as; run repro as a normal user")


@contextlib.contextmanager
def managed_process(name: str, argv: Sequence[str], log_path: Path, *, stop_signal: int,
                    env: Optional[dict] = None, cwd: Optional[Path] = None,
                    run_as: Optional[RunAs] = None) -> Iterator[ManagedProcess]:
    """Start a process in its own process group (so a terminal's Ctrl-C
    reaches repro only, which then stops things in order) and always stop
    it, and anything it started, on the way out."""
    extra = run_as.popen_kwargs() if run_as else {}
    # Owner-only: a server's log may quote what it was connected with.
    with os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        popen = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, cwd=cwd, start_new_session=True,
            preexec_fn=_die_with_parent(stop_signal), **extra)
    try:
        yield ManagedProcess(name, popen, log_path)
    finally:
        stop_process(popen, stop_signal)


def stop_process(popen: subprocess.Popen, stop_signal: int) -> None:
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            popen.send_signal(stop_signal)
        try:
            popen.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    # Whatever is left of the group (workers, backends) goes too, and is
    # gone, not merely signalled, when this returns.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(STOP_GRACE_SECONDS)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while _group_alive(popen.pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies do not count:
    they hold nothing, and an init that does not reap would keep them)."""
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pgid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def wait_until(ready: Callable[[], bool], proc: ManagedProcess, deadline_seconds: float,
               stop: StopFlag, what: str) -> None:
    deadline = time.monotonic() + deadline_seconds
    while True:
        stop.check()
        # Dead first: a port race could let some other server answer.
        if not proc.alive():
            raise ReproError(f"{what} did not start: {proc.died_message()}")
        if ready():
            return
        if time.monotonic() > deadline:
            raise ReproError(f"{what} did not answer within {deadline_seconds:.0f} s; "
                             f"last lines of its log:\n{tail(proc.log_path)}")
        time.sleep(TICK)


@dataclass(frozen=True)
class Database:
    dsn: str
    source: str  # where it came from, for the report (password masked)
    version: str
    max_connections: int
    password_file: Optional[Path] = None  # the private cluster's, readable by its owner only


POSTGRES_GLOBS = (
    "/usr/lib/postgresql/*/bin",            # Debian, Ubuntu
    "/usr/pgsql-*/bin",                     # RHEL, Fedora (PGDG)
    "/opt/homebrew/opt/postgresql*/bin",    # Homebrew, Apple silicon
    "/usr/local/opt/postgresql*/bin",       # Homebrew, Intel
    "/opt/homebrew/bin", "/usr/local/bin",
    "/Applications/Postgres.app/Contents/Versions/*/bin",
    "/usr/local/pgsql/bin",
)


def _version_key(path: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", path)]


def find_postgres_bindir() -> Optional[Path]:
    """Where initdb and postgres are: PATH, pg_config --bindir, usual places."""
    candidates: list[Path] = []
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 timeout=10).stdout.strip()
            if out:
                candidates.append(Path(out))
    for pattern in POSTGRES_GLOBS:
        candidates += [Path(p) for p in sorted(glob.glob(pattern), key=_version_key, reverse=True)]
    for bindir in candidates:
        if all(os.access(bindir / exe, os.X_OK) for exe in ("initdb", "postgres")):
            return bindir
    return None


def query_database(dsn: str) -> tuple[str, int]:
    import psycopg2
    conn = psycopg2.connect(dsn, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            version = cur.fetchone()[0]
            cur.execute("SHOW max_connections")
            max_connections = int(cur.fetchone()[0])
    finally:
        conn.close()
    return version.split(" ")[0], max_connections


def external_database(dsn: str, origin: str) -> Database:
    import psycopg2
    try:
        version, max_connections = query_database(dsn)
    except psycopg2.Error as e:
        raise UsageError(f"cannot connect to the database given by {origin} "
                         f"({mask_dsn(dsn)}): {scrub(first_line(str(e)), dsn)}; check the URL "
                         f"and that the server is running") from None
    return Database(dsn, f"given by {origin}: {mask_dsn(dsn)}", version, max_connections)


NO_POSTGRES = (
    "no PostgreSQL found: no DSN given (--dsn or DATABASE_URL) and no initdb/postgres "
    "binaries on PATH or in the usual places. Either install PostgreSQL's server "
    "(e.g. apt-get install postgresql, brew install postgresql), or run "
    "'docker compose up -d' and pass the DSN the README shows, or pass --dsn URL"
)


@contextlib.contextmanager
def private_postgres(workdir: Path, max_connections: int, stop: StopFlag) -> Iterator[Database]:
    """A throwaway cluster in workdir, on a free loopback port, stopped on exit."""
    bindir = find_postgres_bindir()
    if bindir is None:
        raise UsageError(NO_POSTGRES)
    run_as = unprivileged_user()
    if run_as is not None and not _reachable_by(workdir.parent, run_as):
        raise UsageError(f"repro runs as root, so PostgreSQL runs as '{run_as.name}', who cannot "
                         f"reach the temp dir {workdir.parent}; set TMPDIR to a directory that "
                         f"user can reach, e.g. TMPDIR=/tmp")
    home = workdir / "postgres"
    datadir, sockdir = home / "data", home / "socket"
    # PostgreSQL reads -k as a comma-separated list, and a Unix socket's
    # path has room for about 107 bytes.
    if "," in str(sockdir) or len(str(sockdir / ".s.PGSQL.65535.lock")) > 107:
        raise UsageError(f"PostgreSQL cannot put its socket under the temp dir {workdir.parent} "
                         f"(a comma, or too long a path); set TMPDIR to a short directory, "
                         f"e.g. TMPDIR=/tmp")
    progress(f"starting a private PostgreSQL from {bindir}")
    home.mkdir()
    sockdir.mkdir(mode=0o700)
    if run_as is not None:
        # The cluster's owner must reach its directory, and nothing more.
        workdir.chmod(0o711)
        for d in (home, sockdir):
            os.chown(d, run_as.uid, run_as.gid)
    # Anyone on the machine can reach a loopback port: only a client that
    # knows this run's password gets in (no 'trust' anywhere).  md5, as the
    # 2021 postgres image used: SCRAM would add about 2 ms of client CPU to
    # each of the views' connections (measured here), a cost 2021 never paid.
    password = secrets.token_hex(24)
    password_file = workdir / "postgres-password"
    write_private(password_file, password + "\n")
    hashed = home / "pwfile"
    write_private(hashed, "md5" + hashlib.md5((password + DB_USER).encode()).hexdigest() + "\n",
                  run_as)
    log_path = workdir / "postgres.log"
    try:
        initdb = subprocess.run(
            [str(bindir / "initdb"), "-D", str(datadir), "--no-sync", "-U", DB_USER,
             f"--pwfile={hashed}", "--auth=md5", "-E", "UTF8", "--locale=C"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=home, start_new_session=True, timeout=120,
            **(run_as.popen_kwargs() if run_as else {}))
    finally:
        hashed.unlink(missing_ok=True)
    stop.check()
    if initdb.returncode != 0:
        raise ReproError(f"initdb failed (code {initdb.returncode}):\n"
                         f"{initdb.stdout.decode(errors='replace')[-2000:]}")
    # Only repro's user, only over loopback TCP or the owner-only socket
    # directory, only with the password: no replication, no other role.
    (datadir / "pg_hba.conf").write_text(PG_HBA.format(user=DB_USER))
    major = postgres_major_version(bindir)
    for attempt in range(3):
        port = free_port()
        dsn = f"postgresql://{DB_USER}:{password}@127.0.0.1:{port}/postgres"
        argv = [str(bindir / "postgres"), "-D", str(datadir), "-p", str(port), "-k", str(sockdir),
                "-c", "listen_addresses=127.0.0.1", "-c", f"max_connections={max_connections}"]
        if major >= 18:
            # 18 and later warn on every md5 login; nobody reads those here.
            argv += ["-c", "md5_password_warnings=off"]
        # SIGINT is PostgreSQL's fast shutdown.
        with managed_process("PostgreSQL", argv, log_path, stop_signal=signal.SIGINT,
                             cwd=home, run_as=run_as) as proc:
            started = _wait_for_postgres(proc, dsn, stop, last_try=attempt == 2)
            if started:
                version, actual_max = query_database(dsn)  # it just accepted a connection
                yield Database(dsn, f"private throwaway cluster from {bindir}, md5 password "
                                    f"auth", version, actual_max, password_file)
                return


PG_HBA = """\
# repro's private cluster: its own user, with this run's password, only.
local all {user} md5
host  all {user} 127.0.0.1/32 md5
"""


def write_private(path: Path, text: str, owner: Optional[RunAs] = None) -> None:
    """A file only its owner can read, from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        if owner is not None:
            os.fchown(f.fileno(), owner.uid, owner.gid)
        f.write(text)


def postgres_major_version(bindir: Path) -> int:
    """From 'postgres (PostgreSQL) 15.18'; 0 if it cannot tell."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True,
                             text=True, timeout=30).stdout
        found = re.search(r"\)\s*(\d+)", out)
        if found:
            return int(found.group(1))
    return 0


def _wait_for_postgres(proc: ManagedProcess, dsn: str, stop: StopFlag, last_try: bool) -> bool:
    """True once it accepts connections; False if another process took its
    port in the meantime (worth another try with a new port)."""
    try:
        wait_until(lambda: _accepts_connections(dsn), proc, POSTGRES_START_SECONDS, stop,
                   "PostgreSQL")
        return True
    except ReproError:
        if not last_try and not proc.alive() and "could not bind" in tail(proc.log_path):
            return False
        raise


def _accepts_connections(dsn: str) -> bool:
    import psycopg2
    try:
        psycopg2.connect(dsn, connect_timeout=2).close()
        return True
    except psycopg2.OperationalError:
        return False


@contextlib.contextmanager
def open_database(config: Config, workdir: Path, stop: StopFlag) -> Iterator[Database]:
    if config.dsn:
        yield external_database(config.dsn, config.dsn_origin or "--dsn")
    else:
        with private_postgres(workdir, config.max_connections, stop) as db:
            yield db


@dataclass(frozen=True)
class Server:
    name: str
    description: str
    interface: str  # "wsgi" or "asgi"
    worker_class: str


SERVERS = {
    "gunicorn-sync": Server("gunicorn-sync", "Gunicorn, sync workers (WSGI)", "wsgi", "sync"),
    "gunicorn-uvicorn": Server("gunicorn-uvicorn",
                               "Gunicorn + uvicorn_worker.UvicornWorker (ASGI)",
                               "asgi", "uvicorn_worker.UvicornWorker"),
}


@dataclass(frozen=True)
class Setup:
    name: str
    view: str
    server: str


SETUPS = {
    "sync": Setup("sync", view="sync", server="gunicorn-sync"),
    "async": Setup("async", view="async", server="gunicorn-uvicorn"),
}


def package_version(name: str) -> Optional[str]:
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def gunicorn_argv(server: Server, port: int, workers: int) -> list[str]:
    script = Path(__file__).resolve()
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--worker-class", server.worker_class,
            "--chdir", str(script.parent), "--pythonpath", str(script.parent)]
    version = tuple(_version_key(package_version("gunicorn") or "0"))
    if version >= (25, 1):
        # Two servers at once would collide on $HOME/.gunicorn/gunicorn.ctl.
        argv.append("--no-control-socket")
    return argv + [f"{script.stem}:make_app({server.interface!r})"]


@dataclass
class RunningServer:
    process: ManagedProcess
    base_url: str


# Straight to loopback: an http_proxy in the environment must not intercept.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _view_answers(url: str) -> Optional[int]:
    """The HTTP status our server answers with, None while nothing answers."""
    import http.client
    try:
        with _NO_PROXY.open(url, timeout=5) as response:
            # Only repro's views send this header: not some other server.
            return response.status if response.headers.get("X-Repro-Worker") else None
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return None


@contextlib.contextmanager
def running_server(server: Server, view: View, db: Database, workers: int, log_path: Path,
                   stop: StopFlag, port: Optional[int] = None) -> Iterator[RunningServer]:
    port = port or free_port()
    env = dict(os.environ)
    env[ENV_DSN] = db.dsn
    env[ENV_SECRET] = secrets.token_urlsafe(50)
    # The 2021 image ran with asyncio debug mode on; here it is off (the
    # report says so), so an inherited setting must not leak in.
    env.pop("PYTHONASYNCIODEBUG", None)
    argv = gunicorn_argv(server, port, workers)
    base_url = f"http://127.0.0.1:{port}"
    status: list[Optional[int]] = [None]

    def answers() -> bool:
        status[0] = _view_answers(base_url + view.path)
        return status[0] is not None

    # SIGTERM: a graceful stop, so requests still queued when the load ends
    # finish instead of leaving tracebacks that look like errors.
    with managed_process(f"{server.description} ({view.name} view)", argv, log_path,
                         stop_signal=signal.SIGTERM, env=env) as proc:
        wait_until(answers, proc, SERVER_START_SECONDS, stop, proc.name)
        if status[0] != 200:
            raise ReproError(f"{proc.name} answers {view.path} with HTTP {status[0]}; "
                             f"last lines of its log:\n{tail(log_path)}")
        yield RunningServer(proc, base_url)


def log_findings(log_path: Path) -> dict[str, int]:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return {}
    return {pattern: text.count(pattern) for pattern in LOG_FINDINGS}


# ---------------------------------------------------------------------------
# The load generator (it only records; statistics are computed elsewhere)
# ---------------------------------------------------------------------------

class LoadRecorder:
    """Appends what happened; knows what is still in flight."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.in_flight: dict[int, float] = {}
        self.started = 0

    def begin(self) -> tuple[int, float]:
        self.started += 1
        start = time.perf_counter()
        self.in_flight[self.started] = start
        return self.started, start

    def finish(self, token: int, start: float, outcome: Optional[str]) -> None:
        """outcome None: the request was abandoned (the ramp ended)."""
        if outcome is not None:
            self.samples.append(Sample(start, time.perf_counter(), outcome))
        del self.in_flight[token]

    def oldest_in_flight(self) -> Optional[float]:
        return min(self.in_flight.values(), default=None)


async def fetch_once(session, url: str) -> tuple[str, Optional[str]]:
    """One GET: its outcome and the worker that answered it."""
    import aiohttp
    try:
        async with session.get(url, allow_redirects=False) as response:
            await response.read()
            outcome = "ok" if response.status == 200 else f"http_{response.status}"
            return outcome, response.headers.get("X-Repro-Worker")
    except asyncio.TimeoutError:  # before OSError: TimeoutError is one
        return "timeout", None
    except (aiohttp.ClientError, OSError):
        return "connection", None


def client_session(timeout: float, force_close: bool = False):
    import aiohttp
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0 if force_close else 1, force_close=force_close),
        timeout=aiohttp.ClientTimeout(total=timeout),
        cookie_jar=aiohttp.DummyCookieJar())


async def closed_loop_user(session, url: str, think_time: float, first_delay: float,
                           recorder: LoadRecorder) -> None:
    """Like a Locust user with wait_time = between(t, t): request, wait for
    the response, think, repeat.  One user is one client session."""
    await asyncio.sleep(first_delay)
    while True:
        token, start = recorder.begin()
        outcome = None
        try:
            outcome, _ = await fetch_once(session, url)
        except Exception as e:  # a client-side surprise is a failure too, not a hang
            outcome = f"client_{type(e).__name__}"
        finally:
            recorder.finish(token, start, outcome)
        await asyncio.sleep(think_time)


async def until_stopped(awaitable, stop: StopFlag):
    """Await, but give up within a tick of Ctrl-C."""
    task = asyncio.ensure_future(awaitable)
    while not task.done():
        await asyncio.wait({task}, timeout=TICK)
        if stop and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            stop.check()
    return task.result()


async def warm_up(url: str, workers: int, server: ManagedProcess, stop: StopFlag) -> str:
    """Send requests on fresh connections until every worker has answered a
    few; none of them is counted."""
    seen: dict[str, int] = {}
    sent = 0
    deadline = time.monotonic() + WARMUP_SECONDS
    async with client_session(WARMUP_SECONDS, force_close=True) as session:
        while time.monotonic() < deadline:
            batch = asyncio.gather(*(fetch_once(session, url) for _ in range(2 * workers)))
            results = await until_stopped(batch, stop)
            if not server.alive():
                raise ReproError(f"during warm-up, {server.died_message()}")
            sent += len(results)
            for outcome, worker in results:
                if outcome == "ok" and worker:
                    seen[worker] = seen.get(worker, 0) + 1
            if len(seen) >= workers and min(seen.values()) >= 3:
                break
    text = f"{sent} requests, {len(seen)} of {workers} workers answered"
    return text if len(seen) >= workers else text + " (not every worker was warmed up)"


@dataclass(frozen=True)
class RampRecord:
    windows: tuple[StepWindow, ...]
    samples: tuple[Sample, ...]
    steps: tuple[StepStats, ...]  # step_stats() of each window, computed as the ramp went
    stop_reason: str
    error: Optional[str] = None  # the server's death, with its log tail
    interrupted: bool = False


async def run_ramp(url: str, plan: Sequence[int], config: Config, stop: StopFlag,
                   server: ManagedProcess, on_step: Callable[[StepStats], None]) -> RampRecord:
    recorder = LoadRecorder()
    windows: list[StepWindow] = []
    steps: list[StepStats] = []
    users: list[asyncio.Task] = []
    sessions = []

    def record(reason: str, error: Optional[str] = None, interrupted: bool = False) -> RampRecord:
        return RampRecord(tuple(windows), tuple(recorder.samples), tuple(steps), reason, error,
                          interrupted)

    try:
        for target in plan:
            start, cpu_start = time.perf_counter(), time.process_time()
            first_sample, first_request = len(recorder.samples), recorder.started
            new = target - len(users)
            for i in range(new):
                session = client_session(config.timeout)
                sessions.append(session)
                # New users start at evenly spread moments of one think time,
                # as if each had just had a response: the arrival rate is the
                # steady state's from the step's first moment, with no herd.
                delay = config.think_time * i / new
                users.append(asyncio.create_task(
                    closed_loop_user(session, url, config.think_time, delay, recorder)))
            window_end = None
            while True:
                if stop:
                    return record(f"interrupted at {target} users (that step is not counted)",
                                  interrupted=True)
                if not server.alive():
                    return record(f"server died at {target} users (that step is not counted)",
                                  server.died_message())
                now = time.perf_counter()
                if window_end is None:
                    # The window lasts --step-seconds, and longer (up to
                    # MAX_WINDOW_FACTOR times) until it holds enough requests
                    # for a median worth the name.
                    enough = recorder.started - first_request >= config.min_requests
                    if now >= start + config.step_seconds and (
                            enough or now >= start + MAX_WINDOW_FACTOR * config.step_seconds):
                        window_end = now
                else:
                    oldest = recorder.oldest_in_flight()
                    if oldest is None or oldest >= window_end:
                        break
                await asyncio.sleep(TICK)
            windows.append(StepWindow(target, start, window_end, time.perf_counter(),
                                      time.process_time() - cpu_start))
            # Requests of this step started after it did, so ended after
            # everything recorded before it: no need to look further back.
            steps.append(step_stats(windows[-1], recorder.samples[first_sample:]))
            on_step(steps[-1])
            early = early_stop_reason(steps)
            if early:
                return record(early)
        return record("completed")
    finally:
        for task in users:
            task.cancel()
        await asyncio.gather(*users, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


# ---------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------

_PROGRESS_START = [0.0]


def progress(message: str) -> None:
    if not _PROGRESS_START[0]:
        _PROGRESS_START[0] = time.monotonic()
    elapsed = time.monotonic() - _PROGRESS_START[0]
    print(f"[{elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)


def step_line(setup: str, s: StepStats) -> str:
    return (f"{setup:<6} {s.users:>5} users {s.requests:>6} requests {s.failures:>5} failed "
            f"{s.rps:>7.1f} req/s  p50 {fmt_ms(s.p50_ms):>6} ms  p99 {fmt_ms(s.p99_ms):>6} ms  "
            f"client CPU {s.client_cpu_pct:>3.0f}%  {s.seconds:.1f} s")


@contextlib.contextmanager
def prepared_database(config: Config, stop: StopFlag) -> Iterator[tuple[Path, Database]]:
    """A private temp dir and a seeded database, both gone on the way out."""
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="repro-"))
        stack.callback(remove_tree, workdir)
        db = stack.enter_context(open_database(config, workdir, stop))
        try:
            seed_database(db.dsn)
        except ReproError as e:
            # A DSN whose user may not create tables is bad input; a private
            # cluster that cannot be seeded is repro's own failure.
            raise (UsageError(str(e)) if config.dsn else e) from None
        progress(f"PostgreSQL {db.version} ready ({db.source}); table {TABLE} seeded")
        yield workdir, db


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        print(f"{PROG}: warning: could not remove {path}", file=sys.stderr)


def run_setup(setup: Setup, db: Database, config: Config, workdir: Path,
              stop: StopFlag) -> SetupResult:
    """Measure one setup.  A server that fails is reported, not raised; an
    interruption before the ramp starts is raised (nothing to report)."""
    view, server = VIEWS[setup.view], SERVERS[setup.server]
    log_path = workdir / f"{setup.name}-server.log"
    plan = config.plan
    result = dict(name=setup.name, view=view.name, server=server.description)
    progress(f"{setup.name}: starting {server.description} with {config.workers} workers")
    try:
        with running_server(server, view, db, config.workers, log_path, stop) as running:
            url = running.base_url + view.path
            warmup = asyncio.run(warm_up(url, config.workers, running.process, stop))
            progress(f"{setup.name}: warm-up: {warmup}; ramping {plan[0]}..{plan[-1]} users")
            ramp = asyncio.run(run_ramp(url, plan, config, stop, running.process,
                                        lambda s: progress(step_line(setup.name, s))))
    except ReproError as e:
        return SetupResult(**result, steps=(), stop_reason="not measured", error=str(e),
                           log_findings=log_findings(log_path))
    return SetupResult(**result, steps=ramp.steps, stop_reason=ramp.stop_reason, warmup=warmup,
                       error=ramp.error, log_findings=log_findings(log_path),
                       interrupted=ramp.interrupted)


def read_cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    if sys.platform == "darwin":
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                 capture_output=True, text=True, timeout=5).stdout.strip()
            if out:
                return out
    return platform.processor() or platform.machine() or "unknown CPU"


def read_memory() -> str:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB"
    return "unknown"


def read_os() -> str:
    name = ""
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                name = line.split("=", 1)[1].strip().strip('"') + ", "
    return f"{name}{platform.system()} {platform.release()} {platform.machine()}"


def collect_environment(db: Database) -> Environment:
    import importlib.util
    packages = {n: v for n in REPORTED_PACKAGES if (v := package_version(n))}
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio (uvloop not installed)"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11 (httptools not installed)"
    return Environment(
        cpu_model=read_cpu_model(), cpu_count=os.cpu_count() or 0, memory=read_memory(),
        os=read_os(), python=platform.python_version(), packages=packages,
        uvicorn_stack=f"event loop {loop}, HTTP parser {http}",
        postgres_version=db.version, postgres_source=db.source,
        max_connections=db.max_connections)


def report_settings(config: Config) -> Settings:
    return Settings(
        setups=config.setups, users=config.users, step=config.step,
        step_seconds=config.step_seconds, min_requests=config.min_requests, ramp=config.ramp,
        plan=tuple(config.plan), think_time=config.think_time, timeout=config.timeout,
        workers=config.workers, max_connections=None if config.dsn else config.max_connections,
        dsn=mask_dsn(config.dsn) if config.dsn else None)


def command_line(config: Config) -> str:
    """The command as typed, with any password in a DSN masked."""
    words, after_dsn = [], False
    for word in config.argv:
        if after_dsn:
            word = mask_dsn(word)
        elif word.startswith("--dsn="):
            word = "--dsn=" + mask_dsn(word[len("--dsn="):])
        after_dsn = word == "--dsn"
        words.append(shlex.quote(word))
    return " ".join(["python", PROG, *words])


def run_benchmark(config: Config, stop: StopFlag) -> Report:
    began, started = time.monotonic(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results: list[SetupResult] = []
    interrupted = None
    with prepared_database(config, stop) as (workdir, db):
        environment = collect_environment(db)
        for name in config.setups:
            try:
                results.append(run_setup(SETUPS[name], db, config, workdir, stop))
            except Interrupted:
                if not results:
                    raise  # nothing measured: nothing to report
            if stop:
                break
    # A signal that came while the last server was stopping cut nothing short.
    if stop and (len(results) < len(config.setups) or results[-1].interrupted):
        interrupted = signal.Signals(stop.signum).name
    return Report(command=command_line(config), started=started, environment=environment,
                  settings=report_settings(config), setups=tuple(results),
                  seconds=time.monotonic() - began, interrupted=interrupted)


def database_hint(db: Database) -> str:
    """How to reach the database yourself (pgbench, psql), password masked."""
    where = f"PostgreSQL: {mask_dsn(db.dsn)}"
    if db.password_file is None:
        return where
    return (f"{where} (password in {db.password_file}, readable by you only: "
            f"PGPASSWORD=$(cat {db.password_file}) psql ...)")


def serve(config: Config, stop: StopFlag) -> None:
    """Keep one setup running until a signal (which main() turns into 130/143)."""
    setup = SETUPS[config.setups[0]]
    view, server = VIEWS[setup.view], SERVERS[setup.server]
    with prepared_database(config, stop) as (workdir, db), running_server(
            server, view, db, config.workers, workdir / "server.log", stop, config.port) as running:
        print(f"{setup.name}: {view.name} view ({view.description}) on {server.description}, "
              f"{config.workers} workers, PostgreSQL {db.version} ({db.source})\n"
              f"{running.base_url}{view.path}\n"
              f"{database_hint(db)}\n"
              f"Press Ctrl-C to stop.", flush=True)
        while True:
            stop.check()
            if not running.process.alive():
                raise ReproError(running.process.died_message())
            time.sleep(TICK)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    def __init__(self, **kwargs):
        # No abbreviations: '--ds URL' would slip past the password masking.
        super().__init__(allow_abbrev=False, **kwargs)

    def error(self, message: str):
        # argparse echoes the arguments it rejects: mask any password in them.
        message = re.sub(r"\S+://\S+", lambda m: mask_dsn(m.group()), mask_dsn(message))
        raise UsageError(f"{message} (see --help)")


def _choice(registry: dict) -> Callable[[str], str]:
    """A registry key; argparse's own message for choices differs between
    Python versions."""
    def parse(text: str) -> str:
        if text not in registry:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(registry)}")
        return text
    return parse


def _number(kind: type, check: Callable[[float], bool], wanted: str) -> Callable[[str], float]:
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}") from None
        if not (math.isfinite(value) and check(value)):
            raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}")
        return value
    return parse


positive_int = _number(int, lambda v: v >= 1, "a whole number of at least 1")
user_count = _number(int, lambda v: 1 <= v <= MAX_USERS, f"a whole number from 1 to {MAX_USERS}")
worker_count = _number(int, lambda v: 1 <= v <= MAX_WORKERS,
                       f"a whole number from 1 to {MAX_WORKERS}")
positive_float = _number(float, lambda v: v > 0, "a number of seconds above 0")
non_negative_float = _number(float, lambda v: v >= 0, "a number of seconds, 0 or more")
port_number = _number(int, lambda v: 1 <= v <= 65535, "a port number from 1 to 65535")
# PostgreSQL itself takes up to 262143, if the machine has the memory.
connections = _number(int, lambda v: 10 <= v <= 10000, "a whole number from 10 to 10000")


def _add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dsn", metavar="URL",
                        help="use this PostgreSQL database (postgresql://user:pass@host:port/db; "
                             "default: $DATABASE_URL, else a private throwaway cluster)")
    parser.add_argument("--max-connections", type=connections, metavar="N",
                        help=f"max_connections of the private cluster "
                             f"(default {DEFAULT_MAX_CONNECTIONS}, as stock PostgreSQL)")
    parser.add_argument("--workers", type=worker_count, default=DEFAULT_WORKERS, metavar="N",
                        help=f"Gunicorn workers per server (default {DEFAULT_WORKERS})")


def build_parsers() -> tuple[Parser, Parser]:
    run = Parser(prog=PROG, description="Reproduce the 2021 async-vs-sync Django load test and "
                 "print a Markdown report. 'python repro.py serve SETUP' keeps one setup running.")
    run.add_argument("--users", type=user_count, default=DEFAULT_USERS, metavar="N",
                     help=f"ramp up to N concurrent users (default {DEFAULT_USERS})")
    run.add_argument("--step", type=positive_int, default=DEFAULT_STEP, metavar="N",
                     help=f"add N users per step (default {DEFAULT_STEP})")
    run.add_argument("--step-seconds", type=positive_float, default=DEFAULT_STEP_SECONDS,
                     metavar="S", help=f"measuring window of each step (default "
                     f"{DEFAULT_STEP_SECONDS:g}); a step also holds until its requests end")
    run.add_argument("--min-requests", type=positive_int, default=DEFAULT_MIN_REQUESTS,
                     metavar="N", help=f"a step's window also lasts until N requests have "
                     f"started in it, up to {MAX_WINDOW_FACTOR}x --step-seconds "
                     f"(default {DEFAULT_MIN_REQUESTS})")
    run.add_argument("--ramp", type=_choice(RAMPS), default=DEFAULT_RAMP, metavar="{%s}"
                     % ",".join(RAMPS),
                     help="adaptive (default): each step adds --step users or 10%% of the "
                          "users, whichever is more; linear: always --step users")
    run.add_argument("--think-time", type=non_negative_float, default=DEFAULT_THINK_TIME,
                     metavar="S", help=f"pause after each response (default {DEFAULT_THINK_TIME:g})")
    run.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT, metavar="S",
                     help=f"request timeout; a timeout is an error (default {DEFAULT_TIMEOUT:g})")
    run.add_argument("--setups", default=",".join(SETUPS), metavar="LIST",
                     help=f"comma-separated setups to run (default {','.join(SETUPS)})")
    run.add_argument("--json", dest="json_path", metavar="FILE",
                     help="also write the whole report as JSON to FILE")
    _add_database_options(run)

    serve_parser = Parser(prog=f"{PROG} serve", description="Start PostgreSQL and one setup's "
                          "server, print its URL and keep them running until Ctrl-C.")
    serve_parser.add_argument("setup", type=_choice(SETUPS), metavar="SETUP",
                              help=f"which setup to serve: {', '.join(SETUPS)}")
    serve_parser.add_argument("--port", type=port_number, metavar="P",
                              help="port on 127.0.0.1 (default: a free one)")
    _add_database_options(serve_parser)
    return run, serve_parser


def parse_config(argv: Sequence[str]) -> Config:
    run_parser, serve_parser = build_parsers()
    serving = bool(argv) and argv[0] == "serve"
    args = (serve_parser if serving else run_parser).parse_args(argv[1:] if serving else argv)

    dsn, origin = args.dsn, "--dsn"
    if dsn is None and os.environ.get("DATABASE_URL"):
        dsn, origin = os.environ["DATABASE_URL"], "DATABASE_URL"
    if dsn is not None:
        check_dsn(dsn, origin)
        if args.max_connections is not None:
            raise UsageError("--max-connections sets up the private cluster only; with a DSN, "
                             "set max_connections on that server instead")
    common = dict(argv=tuple(argv), workers=args.workers, dsn=dsn,
                  dsn_origin=origin if dsn else None,
                  max_connections=args.max_connections or DEFAULT_MAX_CONNECTIONS)
    if serving:
        if args.port is not None:
            check_port(args.port)
        return Config(command="serve", setups=(args.setup,), port=args.port, **common)

    if args.json_path is not None:
        check_writable(args.json_path)
    # Each setup once, in the order given.
    setups = tuple(dict.fromkeys(s.strip() for s in args.setups.split(",") if s.strip()))
    unknown = [s for s in setups if s not in SETUPS]
    if unknown or not setups:
        raise UsageError(f"unknown setup {', '.join(unknown) or '(none)'} in --setups; "
                         f"choose from {', '.join(SETUPS)}")
    return Config(command="run", setups=setups, users=args.users, step=args.step,
                  step_seconds=args.step_seconds, min_requests=args.min_requests,
                  ramp=args.ramp, think_time=args.think_time,
                  timeout=args.timeout, json_path=args.json_path, **common)


def check_dsn(dsn: str, origin: str) -> None:
    """A URL both drivers read the same way, or a UsageError that does not
    echo what might be a password."""
    if not re.match(r"postgres(ql)?://", dsn):
        # Not echoed: a key=value DSN may carry a password anywhere.
        raise UsageError(f"{origin} must be a URL like postgresql://user:password@host:5432/db "
                         f"(key=value connection strings are not supported)")
    password = dsn_password(dsn) or ""
    if re.search(r"[@/?#]", password) or re.search(r"%(?![0-9A-Fa-f]{2})|%00", dsn):
        raise UsageError(f"{origin} has characters that must be percent-encoded (in a password, "
                         f"@ as %40, / as %2F, ? as %3F, # as %23, % as %25)")
    try:
        urllib.parse.urlsplit(dsn).port  # noqa: B018 -- parsing the port is what raises
    except ValueError:
        raise UsageError(f"{origin} is not a valid URL: {mask_dsn(dsn)!r}") from None


def check_port(port: int) -> None:
    with socket.socket() as s:
        # As Gunicorn binds it: a port in TIME_WAIT is free to use.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except PermissionError:
            raise UsageError(f"no permission to listen on port {port}; pick one above 1023 "
                             f"with --port") from None
        except OSError:
            raise UsageError(f"port {port} on 127.0.0.1 is in use; pick another with --port "
                             f"or leave it out") from None


def check_writable(path: str) -> None:
    if not path:
        raise UsageError("--json needs a file name")
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK) or (
            target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(f"cannot write --json {path}: give a file in a directory you can "
                         f"write to")


def missing_requirements() -> list[str]:
    """Each requirement this Python lacks, or has in too old a version."""
    import importlib.util
    from importlib import metadata
    problems = []
    for module, dist, lowest in REQUIREMENTS:
        if importlib.util.find_spec(module) is None:
            problems.append(dist)
            continue
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            # psycopg2 may come as psycopg2 rather than psycopg2-binary.
            continue
        if _version_key(version)[:3] < _version_key(lowest):
            problems.append(f"{dist} {version} (needs {lowest} or newer)")
    return problems


def check_dependencies() -> None:
    missing = missing_requirements()
    if not missing:
        return
    in_venv = sys.prefix != sys.base_prefix
    how = (f"run: {SETUP_COMMANDS[1]}" if in_venv else
           f"set up with: {SETUP_COMMANDS[0]}, then: {SETUP_COMMANDS[1]}")
    raise UsageError(f"missing Python packages: {', '.join(missing)}; {how}")


def raise_open_file_limit(users: int) -> None:
    """One socket per user, plus the servers'; the default soft limit of
    1024 is too low for large ramps."""
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = users + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(hard, max(wanted, 4096))
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raise UsageError(f"--users {users} needs about {wanted} open files but the limit is "
                         f"{soft}; raise it with 'ulimit -n {wanted}' or use fewer users")


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stop = StopFlag()
    previous = {sig: signal.signal(sig, stop.set) for sig in EXIT_SIGNAL}
    serving = False
    try:
        config = parse_config(argv)
        serving = config.command == "serve"
        check_dependencies()
        raise_open_file_limit(config.users)
        if serving:
            serve(config, stop)  # returns only by raising
        report = run_benchmark(config, stop)
        sys.stdout.write(render_markdown(report))
        sys.stdout.flush()
        code = EXIT_FAILED if any(r.error for r in report.setups) else EXIT_OK
        if stop:
            # Even when it only came during the final teardown: a caller who
            # sent a signal gets the signal's exit code.
            code = EXIT_SIGNAL[stop.signum]
            if not report.interrupted:
                print(f"{PROG}: {signal.Signals(stop.signum).name} came while shutting down; "
                      f"the run had finished", file=sys.stderr)
        if config.json_path:
            try:
                Path(config.json_path).write_text(json.dumps(report_to_json(report), indent=2))
            except OSError as e:
                print(f"{PROG}: error: cannot write --json {config.json_path}: {e.strerror}",
                      file=sys.stderr)
                code = code or EXIT_FAILED
        return code
    except Interrupted as e:
        print(f"{PROG}: {'stopped' if serving else e}"
              f"{'' if serving else ' before anything was measured'}", file=sys.stderr)
        return e.exit_code
    except ReproError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else EXIT_OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
