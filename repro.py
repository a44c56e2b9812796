#!/usr/bin/env python3
# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "django>=5.2",
#     "asyncpg>=0.29",
#     "psycopg2-binary>=2.9",
#     "psycopg[binary]>=3.2",
#     "psycopg-pool>=3.2",
#     "gunicorn>=23",
#     "uvicorn[standard]>=0.30",
#     "uvicorn-worker>=0.2",
#     "aiohttp>=3.9",
#     "matplotlib>=3.7",
#     "granian>=2.0; platform_python_implementation == 'CPython' and platform_machine in 'x86_64 AMD64 aarch64 arm64'",
#     "py-spy>=0.4; platform_machine in 'x86_64 AMD64 aarch64 arm64'",
# ]
# ///
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
    python repro.py --repeat 3      # each setup three times, interleaved
    python repro.py --arrival 300   # open loop: ramp the arrival rate instead
    python repro.py serve async     # keep one setup running for your own tools
    python repro.py study           # the questions behind the 2021 result
    python repro.py --profile prof/ # also: where each server's CPU goes (py-spy)
    python repro.py report run.json # render a saved run (--json) again
    python repro.py ramp http://staging:8000/view/   # your own endpoints

The file reads top-down: each section uses only those above it, except
main() and the table of commands (tests/sections.py checks it).  Its
sections: constants; errors, signals and small helpers; a setup (a cell);
the data; the Django app and its views; the servers; naming a setup;
settings; records and statistics; process management; the load generator;
the ramp's plan; the measuring method; profiles; results; comparing two setups; what
limits a setup; the study; the report; report rendering; the JSON that
--json writes; the progress display; the environment; running setups; a
Locust file with repro's users and step plan; reading Locust's stats history
back; the command line.
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
import collections
import contextlib
import csv
import dataclasses
import enum
import errno
import glob
import hashlib
import io
import heapq
import itertools
import json
import math
import os
import platform
import random
import re
import secrets
import selectors
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import types
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence


# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

PROG = "repro.py"
SCHEMA = 8  # of the JSON that --json writes (7: profiles; 8: a study's rounds, probes, gauge)

# The one table repro ever creates, fills or drops in a database.
TABLE = "repro_pokemon"
DB_USER = "repro"  # the private cluster's only role
ROW_COUNT = 800
DETAIL_NUMBER = 25
# The slow-db workload reads this view of the table, which makes each query
# wait in PostgreSQL first, as a database that is not memory-resident would.
SLOW_TABLE = "repro_pokemon_slow"

# Threshold rules.  They are printed under the summary table, so the words
# and the numbers live side by side here.
SLOWDOWN_FACTOR = 2.0
ERROR_RATE = 0.01
STOP_ERROR_RATE = 0.5
STOP_AFTER_STEPS = 2
SIMILAR_WITHIN = 0.15
# A study's answer names a winner only past this: the rule's 15% and 10% more
# for what one cell moves between runs by itself (docs/measurements.md,
# "Study runs").
RELIABLY_WITHIN = 0.25
RESOLUTION = 0.10  # a fine step: 10% of the level, or --step if that is more
# A study measures in rounds (--rounds): a machine whose speed moves within a
# minute makes one measurement of a cell a sample, not a figure.  Before each
# round, and after the last, it takes the machine's gauge: PostgreSQL alone,
# the median of this many one-second readings; where the gauge moved by more
# than GAUGE_MOVED ((max - min) / median), the report says so.
DEFAULT_ROUNDS = 2
GAUGE_READINGS = 5
GAUGE_MOVED = 0.15
# The wait sweep (question 7).  Its probe: closed-loop users with no think
# time, PROBE_HEADROOM times as many as the lower bound needs in progress,
# doubled until a doubling gains less than PROBE_GAIN in throughput
# (saturated).  A capacity more than PREDICTION_WITHIN from the lower of the
# bounds is a gap the report names.
DEFAULT_WAITS = (10.0, 30.0, 100.0, 300.0, 1000.0)
PROBE_GAIN = 0.10
PROBE_HEADROOM = 1.5
PROBE_FIRST = 16  # users, where no bound is known yet
PROBE_TOP = 2048
PROBE_SECONDS = 2.0
PROBE_MIN_REQUESTS = 10
PROBE_LOW_REQUESTS = 3  # at its first level: one user's time varies little
PROBE_LATENCIES = 2  # a window lasts this many median latencies at least
PREDICTION_WITHIN = 0.25
COARSE_FACTOR = 2  # the search's coarse step: the level doubles
# A window whose arrivals and completions differ by more than this share
# did not measure a steady state: the report says so.
STEADY_WITHIN = 0.05
# A step whose median lies near the slowdown rule's latency (at least this
# share of it, and under it divided by this) is held for a second window and
# counts both: near a knee one short window's median falls on either side by
# chance, and the latency is still climbing after a step up
# (docs/measurements.md, "The second window").  Both sides, so that it
# biases neither way.
NEAR_SLOWDOWN = 0.8
# Above this share of one core, the load generator may be what limits a step.
CLIENT_CPU_WARNING = 80.0

DEFAULT_USERS = 300
DEFAULT_STEP = 10
DEFAULT_STEP_SECONDS = 1.0
# Enough for a low-load median; more does not hold the baseline still, as
# the machine moves it more than the sample does (docs/measurements.md, "The
# baseline").
DEFAULT_MIN_REQUESTS = 30
DEFAULT_THINK_TIME = 1.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_WORKERS = 4
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_RAMP = "search"
DEFAULT_MAX_IN_FLIGHT = 1000
DEFAULT_REPEAT = 1
MAX_USERS = 100_000
MAX_RATE = 100_000
MAX_WORKERS = 256
MAX_REPEAT = 50
MAX_LOAD_PROCESSES = 64
DEFAULT_POOL_SIZE = 10  # connections per worker process, pooled cells
DEFAULT_THREADS = 8  # per gthread worker
DEFAULT_UPSTREAM_MS = 100.0  # the upstream workload's slow HTTP API
DEFAULT_DB_MS = 20.0  # the slow-db workload's wait per query
MAX_WAIT_MS = 60_000  # a wait longer than a minute is not a view's
# Persistent connections' CONN_MAX_AGE, in seconds: a common production value
# (dj-database-url's default); any value longer than a run does the same.
PERSISTENT_MAX_AGE = 600
# Connections of max_connections that repro keeps for itself (seeding, the
# readiness checks) and PostgreSQL for superusers; pools get the rest.
RESERVED_CONNECTIONS = 5

# A step's window also waits for --min-requests requests (medians of a
# handful of requests are noise), but never beyond this many times
# --step-seconds.
MAX_WINDOW_FACTOR = 5
# In open loop nobody thinks: a new rate settles for this long, plus the
# previous step's median latency.
OPEN_LOOP_SETTLE = 1.0
# One load generator process per this many requests per second the ramp can
# ask for, up to one per core (docs/measurements.md, "The load generator").
RATE_PER_LOAD_PROCESS = 5000
# --profile: py-spy samples each server process this many times a second.
# Each sample stops the process, and py-spy's own CPU competes for the
# cores: on two, 100 a second (py-spy's default) cost 13% of the req/s and
# 0.65 of a core, 25 a second cost no more than two fresh servers differ
# by anyway (docs/measurements.md, "Profiles").
PROFILE_RATE = 25
DEFAULT_PROFILE_SECONDS = 15.0
# Two fresh servers at the same level differ by up to this in CPU per
# request by themselves (docs/measurements.md, "Profiles"): a sync and an
# async profile closer than that spent alike.
PROFILE_NOISE = 0.20


DB_LIMIT_CONNECTIONS = 4
DB_LIMIT_SECONDS = 1.0
CONNECT_SAMPLES = 30

# Deadlines for things that normally take about a second.
POSTGRES_START_SECONDS = 30.0
SERVER_START_SECONDS = 60.0
LOADGEN_START_SECONDS = 30.0
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
    ("psycopg", "psycopg", "3.2"),
    ("psycopg_pool", "psycopg-pool", "3.2"),
    ("gunicorn", "gunicorn", "23"),
    ("uvicorn", "uvicorn", "0.30"),
    ("uvicorn_worker", "uvicorn-worker", "0.2"),
    ("aiohttp", "aiohttp", "3.9"),
    ("matplotlib", "matplotlib", "3.7"),
)
SETUP_COMMANDS = ("python3 -m venv .venv && . .venv/bin/activate",
                  "pip install -r requirements.txt")
REPORTED_PACKAGES = (
    "Django", "gunicorn", "uvicorn", "uvicorn-worker", "granian", "asyncpg",
    "psycopg2-binary", "psycopg2", "psycopg", "psycopg-binary", "psycopg-pool", "aiohttp",
    "uvloop", "httptools", "py-spy",
)

# Environment variables that carry one run's settings into the server
# processes, which import this file as a module.
ENV_DSN = "REPRO_DSN"
ENV_SECRET = "REPRO_SECRET_KEY"
ENV_APP = "REPRO_APP"
# Set where py-spy started the server: py-spy stops only the master (by
# SIGKILL), so each worker stops itself when its master is gone.
ENV_PROFILED = "REPRO_PROFILED"

# Lines in a server log that explain failures; counted per setup.
LOG_FINDINGS = {
    "Internal Server Error:": "errors logged by Django (HTTP 500)",
    "too many clients": "PostgreSQL refused a connection: too many clients already",
    "WORKER TIMEOUT": "Gunicorn killed a worker that took longer than its timeout",
}


# ---------------------------------------------------------------------------
# Errors, signals, and small helpers: text and numbers, package versions,
# looking at loopback
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
    """Set by signal handlers (which do nothing else); polled everywhere.
    A second signal means: hurry, skip graceful shutdowns."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self.count = 0

    def set(self, signum: int, _frame=None) -> None:
        self.signum = self.signum or signum
        self.count += 1

    def __bool__(self) -> bool:
        return self.signum is not None

    @property
    def hurry(self) -> bool:
        return self.count >= 2

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)


def _prctl() -> Optional[Callable[..., int]]:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def die_with_parent(sig: int, parent: int,
                    prctl: Optional[Callable[..., int]] = None) -> None:
    """This process gets `sig` when its parent dies (even by SIGKILL), or
    at once if `parent` already has.  Linux only; elsewhere nothing.  A
    child between fork and exec passes `prctl`, found before the fork: it
    must not load a library then."""
    prctl = prctl or _prctl()
    if prctl is None:
        return
    prctl(1, sig, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text.strip()


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """A Markdown table padded to line up in a terminal; align is 'l'/'r' per column."""
    rows = [[c.replace("|", "\\|") for c in r] for r in rows]  # a URL may hold one
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


def fmt_threshold(level: Optional[int], up_to: int, unit: str = "users",
                  prose: bool = False) -> str:
    if level is None and up_to == 0:
        return "not confirmed"  # cut short with every level measured flagged
    if prose:
        return f"none up to {up_to} {unit}" if level is None else f"at {level} {unit}"
    return f"none up to {up_to}" if level is None else str(level)

FAILURE_NAMES = {"timeout": "timeout", "connection": "connection error",
                 "protocol": "malformed response",
                 "locust": "failed (kind: Locust's _failures.csv)"}


# What a verdict calls the failures of a kind; a kind not named here (an
# HTTP status has its own words) is left unsaid.
FAILURE_KINDS_IN_PROSE = {"timeout": "timeouts", "connection": "connection errors",
                          "protocol": "malformed responses", "http_500": "HTTP 500s",
                          "http_502": "HTTP 502s", "http_503": "HTTP 503s"}


def fmt_kind(kind: Optional[str]) -> str:
    if kind is None:
        return "none"
    if kind.startswith("http_"):
        return "HTTP " + kind[5:]
    return FAILURE_NAMES.get(kind, kind)


def fmt_duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def fmt_rate(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.0f}"


def fmt_share(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.0%}"


def _version_key(path: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", path)]


def package_version(name: str) -> Optional[str]:
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# Straight to loopback: an http_proxy in the environment must not intercept.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Got:
    """What one GET got: an answer of any status, or why there was none."""
    status: Optional[int]  # None: no HTTP answer at all
    headers: Mapping[str, str]  # looked up without regard to case
    body: bytes = b""
    problem: str = ""  # why there was no answer


def http_get(url: str, timeout: float) -> Got:
    """One GET, straight to the address given, whatever it answers."""
    import http.client
    try:
        with _NO_PROXY.open(url, timeout=timeout) as response:
            return Got(response.status, response.headers, response.read())
    except urllib.error.HTTPError as e:
        return Got(e.code, e.headers)
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
        return Got(None, {}, problem=str(getattr(e, "reason", e)))


# ---------------------------------------------------------------------------
# A setup (a cell): one value of each axis; the registries of views and
# servers come with their code, below
# ---------------------------------------------------------------------------

# The workload is the axis of a cell whose registry comes first: the
# connections, views and servers come with their code, below.  Each key is
# what the CLI, the report and the JSON call it.
@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    table: str = TABLE  # what its queries read
    waits_on: str = ""  # what a request waits on beyond its work, if anything
    # (the servers' settings, the cell's own wait or None) -> how long, in ms
    wait_ms: Callable[[Any, Optional[float]], float] = lambda _server, _own: 0.0
    calls_upstream: bool = False  # the views call the upstream API
    own_wait: bool = False  # a cell may give its own wait (+upstream=300)

    def note(self, wait_ms: float, view_is_async: bool, cpu_ms: Optional[float]) -> str:
        """What a request waits on, for a cell's notes (cpu_ms: the upstream
        API's, per request)."""
        if self.calls_upstream:
            return (f"The upstream API answers after {wait_ms:g} ms"
                    + (f"; it used {cpu_ms:.2f} ms of CPU per request" if cpu_ms is not None
                       else "")
                    + (" (the async views call it alongside their queries)" if view_is_async
                       else " (after the queries)") + ".")
        if self.waits_on:  # in each of the two queries
            return f"Each query waits {wait_ms / 2:g} ms in PostgreSQL first."
        return ""


WORKLOADS = {w.name: w for w in (
    Workload("db", "the two queries"),
    Workload("upstream", "the two queries and one call to a slow HTTP API",
             waits_on="upstream API", calls_upstream=True, own_wait=True,
             wait_ms=lambda server, own: server.upstream_ms if own is None else own),
    Workload("slow-db", "the two queries, each waiting in PostgreSQL first (pg_sleep)",
             table=SLOW_TABLE, waits_on="database", wait_ms=lambda server, _own: 2 * server.db_ms),
)}


@dataclass(frozen=True)
class Cell:
    """One value of each axis: what one setup is made of."""
    view: str  # a key of VIEWS
    server: str  # a key of SERVERS
    connections: str = "per-query"
    workload: str = "db"
    as_2021: bool = False  # DEBUG and asyncio debug mode on, as the original ran
    wait_ms: Optional[float] = None  # its workload's own wait; None: the run's

    @property
    def name(self) -> str:
        """Short, and saying what it is: 'async', 'sync-orm@uvicorn+pooled'."""
        base = next((alias for alias, cell in NAMED_CELLS.items()
                     if (cell.view, cell.server) == (self.view, self.server)),
                    f"{self.view}@{self.server}")
        extras = [self.connections] if self.connections != Cell.connections else []
        if self.wait_ms is not None:
            extras.append(f"{self.workload}={self.wait_ms:g}")
        elif self.workload != Cell.workload:
            extras.append(self.workload)
        extras += ["2021"] if self.as_2021 else []
        return "+".join([base, *extras])


# The 2021 setups: the sync view on Gunicorn's sync workers, the async view
# on Uvicorn's workers, each query on a connection of its own.
NAMED_CELLS = {"sync": Cell("sync-sql", "gunicorn-sync"), "async": Cell("async-sql", "uvicorn")}


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


def seed_database(dsn: str, slow_ms: Optional[float] = None) -> None:
    """Create and fill repro's own table, and the view of it that the
    slow-db workload reads (when slow_ms is given); safe to run again and
    again."""
    import psycopg2
    from psycopg2.extras import execute_values

    wanted = [name for name, _ in COLUMNS]
    conn = None
    try:
        conn = psycopg2.connect(dsn, connect_timeout=10)
        with conn, conn.cursor() as cur:
            cur.execute(f"DROP VIEW IF EXISTS {SLOW_TABLE}")
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
            if slow_ms is not None:
                # Materialized: the wait happens once per query, whatever the plan.
                cur.execute(f"CREATE VIEW {SLOW_TABLE} AS WITH wait AS MATERIALIZED "
                            f"(SELECT pg_sleep({float(slow_ms) / 1000.0!r})) "
                            f"SELECT {TABLE}.* FROM {TABLE}, wait")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"ANALYZE {TABLE}")
    except psycopg2.Error as e:
        raise ReproError(f"could not create and fill table {TABLE}: {first_line(str(e))}; "
                         f"repro needs a database user that may create tables and views") from None
    finally:
        if conn is not None:
            conn.close()


# ---------------------------------------------------------------------------
# The Django app (configured only inside the server processes) and its views
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


@dataclass(frozen=True)
class AppSettings:
    """What a server process needs to know of its cell, beyond the view,
    which the URL picks: carried in one environment variable."""
    cell: Cell = Cell("sync-sql", "gunicorn-sync")
    pool_size: int = DEFAULT_POOL_SIZE
    upstream_url: Optional[str] = None

    @property
    def table(self) -> str:
        return WORKLOADS[self.cell.workload].table

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "AppSettings":
        data = json.loads(text)
        return cls(**{**data, "cell": Cell(**data["cell"])})


def configure_django(dsn: str, secret_key: str, app: AppSettings) -> None:
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
    parts = urllib.parse.urlsplit(dsn)
    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": urllib.parse.unquote(parts.path.lstrip("/")) or "postgres",
        "USER": urllib.parse.unquote(parts.username or ""),
        "PASSWORD": urllib.parse.unquote(parts.password or ""),
        "HOST": parts.hostname or "", "PORT": parts.port or 5432,
        **CONNECTIONS[app.cell.connections].django(app.pool_size),
    }
    settings.configure(
        DEBUG=app.cell.as_2021,
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "[::1]"],
        ROOT_URLCONF=urls,
        INSTALLED_APPS=STARTPROJECT_APPS,
        MIDDLEWARE=STARTPROJECT_MIDDLEWARE,
        # For the ORM views only; the SQL views talk to PostgreSQL with the
        # drivers directly, as in 2021 ("there is no async ORM yet").
        DATABASES={"default": database},
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
        REPRO_APP=app,
        REPRO_STATE=ServerState(),
    )
    django.setup()


def list_sql(table: str) -> str:
    return f"SELECT * FROM {table} ORDER BY number"


def detail_sql(table: str) -> str:
    return f"SELECT * FROM {table} WHERE number = {DETAIL_NUMBER}"


@dataclass
class ServerState:
    """Pools, clients and the model, made once per server process (and, for
    asyncio, once per event loop: asyncpg pools and aiohttp sessions are
    bound to the loop they were made in).  Django's settings hold the one
    of the process: configure_django() makes it."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    sync_pool: object = None
    sync_slots: Optional[threading.BoundedSemaphore] = None
    async_pools: dict = field(default_factory=dict)
    sessions: dict = field(default_factory=dict)
    kept: threading.local = field(default_factory=threading.local)
    model: object = None
    drivers: dict = field(default_factory=dict)


def server_state() -> ServerState:
    from django.conf import settings
    return settings.REPRO_STATE


@contextlib.contextmanager
def _new_sync(dsn: str, _app: AppSettings):
    """psycopg2: a new connection for the query (2021)."""
    import psycopg2
    conn = psycopg2.connect(dsn)
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def _pooled_sync(dsn: str, app: AppSettings):
    """psycopg2: a connection of this process's pool."""
    from psycopg2.pool import ThreadedConnectionPool
    state = server_state()
    with state.lock:
        if state.sync_pool is None:
            state.sync_pool = ThreadedConnectionPool(1, app.pool_size, dsn)
            # psycopg2's pool refuses when empty; a request waits for a
            # connection instead, as the other pools make it.
            state.sync_slots = threading.BoundedSemaphore(app.pool_size)
    pool = state.sync_pool
    if not state.sync_slots.acquire(timeout=DEFAULT_TIMEOUT):
        raise RuntimeError("no connection of the pool came free")
    try:
        conn = pool.getconn()
        try:
            yield conn
        finally:
            conn.rollback()
            pool.putconn(conn)
    finally:
        state.sync_slots.release()


@contextlib.contextmanager
def _kept_sync(dsn: str, _app: AppSettings):
    """psycopg2: the connection this thread keeps open, as Django keeps one
    per thread with CONN_MAX_AGE; one found closed is replaced (as
    CONN_HEALTH_CHECKS does), one that failed is closed."""
    import psycopg2
    kept = server_state().kept
    conn = getattr(kept, "conn", None)
    if conn is None or conn.closed:
        conn = kept.conn = psycopg2.connect(dsn)
    try:
        yield conn
        conn.rollback()
    except Exception:
        conn.close()
        raise


@contextlib.asynccontextmanager
async def _new_async(dsn: str, _app: AppSettings):
    """asyncpg: a new connection for the query (2021)."""
    import asyncpg
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _pooled_async(dsn: str, app: AppSettings):
    """asyncpg: a connection of a pool made in this event loop."""
    import asyncpg
    loop, state = asyncio.get_running_loop(), server_state()
    making = state.async_pools.get(loop)
    if making is None:
        # The first request starts the pool and the others of the loop wait
        # for that one: a pool each would hold connections past the size.
        async def make() -> asyncpg.Pool:
            return await asyncpg.create_pool(dsn, min_size=1, max_size=app.pool_size)
        making = state.async_pools[loop] = loop.create_task(make())
    try:
        pool = await making
    except Exception:
        if state.async_pools.get(loop) is making:  # the next request tries again
            del state.async_pools[loop]
        raise
    async with pool.acquire() as conn:
        yield conn


@dataclass(frozen=True)
class Connections:
    """How a cell's views get their connections: each entry carries what the
    SQL views do and the settings Django's ORM gets."""
    name: str
    sql: str  # what the SQL views do, in words
    orm: str  # what the ORM views do, in words
    sync: Callable  # (dsn, app) -> a context manager giving a psycopg2 connection
    async_: Callable  # (dsn, app) -> an async one giving an asyncpg connection
    django: Callable[[int], dict]  # the pool size -> the DATABASES entry's settings
    pools: bool = False  # a pool of --pool-size in each worker process
    # Under load it runs PostgreSQL out of connections: a study question that
    # asks for thresholds ramps such a cell as a run does (where its errors
    # start is part of the answer), besides probing its capacity.
    runs_out: bool = False
    # (view) -> why this view cannot have these connections, or ""
    refuses: Callable[[Any], str] = lambda _view: ""
    # (view, server) -> what Django's documentation says against it, or ""
    advised_against: Callable[[Any, Any], str] = lambda _view, _server: ""


def _no_kept_asyncpg(view) -> str:
    return ("" if not view.is_async or view.orm else
            "+persistent keeps one connection per worker thread, and asyncpg runs one query "
            "at a time on a connection while an event loop serves many requests at once: "
            "give +pooled for the async SQL view")


def _kept_under_asgi(view, server) -> str:
    return ("Django's documentation advises against persistent connections under ASGI: each "
            "request runs in a thread of its own, so they are not reused and may leak; it "
            "points to the pool instead" if view.orm and server.asgi else "")


CONNECTIONS = {c.name: c for c in (
    Connections("per-query", "a new connection for each query",
                "a new connection for each request (Django's default)", _new_sync, _new_async,
                lambda _size: {"CONN_MAX_AGE": 0}, runs_out=True),
    # Django's pool wants CONN_MAX_AGE 0 as well.
    Connections("pooled", "a connection pool per worker process (psycopg2's; asyncpg's, made "
                          "in the worker's event loop)",
                "Django's psycopg 3 connection pool, one per worker process", _pooled_sync,
                _pooled_async,
                lambda size: {"CONN_MAX_AGE": 0,
                              "OPTIONS": {"pool": {"min_size": 1, "max_size": size,
                                                   "timeout": 30}}}, pools=True),
    Connections("persistent", "one connection kept open per worker thread (psycopg2)",
                f"Django's persistent connections (CONN_MAX_AGE {PERSISTENT_MAX_AGE}, "
                f"CONN_HEALTH_CHECKS on)", _kept_sync, _new_async,
                lambda _size: {"CONN_MAX_AGE": PERSISTENT_MAX_AGE, "CONN_HEALTH_CHECKS": True},
                refuses=_no_kept_asyncpg, advised_against=_kept_under_asgi),
)}


def sync_connection(dsn: str, app: AppSettings):
    return CONNECTIONS[app.cell.connections].sync(dsn, app)


def async_connection(dsn: str, app: AppSettings):
    return CONNECTIONS[app.cell.connections].async_(dsn, app)


def fetch_list_sync(dsn: str, app: AppSettings) -> list[dict]:
    with sync_connection(dsn, app) as conn:
        cur = conn.cursor()
        cur.execute(list_sql(app.table))
        rows = cur.fetchmany(1000)
        cur.close()
    return [{"number": r[1], "name": r[2]} for r in rows]


def fetch_detail_sync(dsn: str, app: AppSettings) -> dict:
    with sync_connection(dsn, app) as conn:
        cur = conn.cursor()
        cur.execute(detail_sql(app.table))
        row = cur.fetchone()
        names = [c.name for c in cur.description]
        cur.close()
    return dict(zip(names, row))


async def fetch_list_async(dsn: str, app: AppSettings) -> list[dict]:
    async with async_connection(dsn, app) as conn:
        async with conn.transaction():
            cursor = await conn.cursor(list_sql(app.table))
            rows = await cursor.fetch(1000)
    return [{"number": r["number"], "name": r["name"]} for r in rows]


async def fetch_detail_async(dsn: str, app: AppSettings) -> dict:
    async with async_connection(dsn, app) as conn:
        async with conn.transaction():
            cursor = await conn.cursor(detail_sql(app.table))
            row = await cursor.fetchrow()
    return dict(row)


def pokemon_model():
    """The table as a Django model (unmanaged: repro seeds it itself), made
    once Django is set up."""
    state = server_state()
    from django.conf import settings
    from django.db import models
    if state.model is None:
        kinds = {"bigint PRIMARY KEY": lambda: models.BigIntegerField(primary_key=True),
                 "boolean NOT NULL": models.BooleanField}
        fields = {}
        for name, kind in COLUMNS:
            if kind.startswith("varchar"):
                fields[name] = models.CharField(max_length=int(re.findall(r"\d+", kind)[0]))
            else:
                fields[name] = kinds.get(kind, models.IntegerField)()
        meta = type("Meta", (), {"app_label": "repro", "managed": False,
                                 "db_table": settings.REPRO_APP.table})
        state.model = type("Pokemon", (models.Model,),
                                 {"__module__": __name__, "Meta": meta, **fields})
    return state.model


def _as_dict(obj) -> dict:
    return {name: getattr(obj, name) for name, _ in COLUMNS}


def call_upstream_sync(url: str) -> None:
    """A blocking call, as a sync view makes it."""
    got = http_get(url, DEFAULT_TIMEOUT)
    if got.status != 200:
        raise ReproError(f"the upstream API answered {got.status or got.problem}")


async def call_upstream_async(url: str) -> None:
    """aiohttp, one session (and its kept-alive connections) per loop."""
    state = server_state()
    import aiohttp
    loop = asyncio.get_running_loop()
    session = state.sessions.get(loop)
    if session is None:
        session = state.sessions.setdefault(loop, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), trust_env=False))
    async with session.get(url) as response:
        await response.read()


def driver_of(view: str) -> str:
    """Which database driver, in which version, the view used: read off
    the module the server process loaded for it."""
    state = server_state()
    if view not in state.drivers:
        import importlib
        if VIEWS[view].orm:
            from django.db import connection
            module, prefix = connection.Database, "Django ORM over "
        else:
            module = importlib.import_module(VIEWS[view].driver)
            prefix = ""
        version = str(getattr(module, "__version__", "")).split(" ")[0]
        state.drivers[view] = f"{prefix}{module.__name__} {version}".strip()
    return state.drivers[view]


def render_pokemon(request, view: str, pokemon: dict, pokemons, started: float):
    from django.shortcuts import render

    response = render(request, "pokemon.html", {
        "title": f"{view} view", "pokemon": pokemon, "pokemons": pokemons,
        "duration": time.perf_counter() - started,
    })
    # Lets the warm-up see that every worker has served requests, and which
    # driver the view used.
    response["X-Repro-Worker"] = str(os.getpid())
    response["X-Repro-Driver"] = driver_of(view)
    return response


def sync_sql_view(request):
    from django.conf import settings
    app = settings.REPRO_APP
    started = time.perf_counter()
    pokemons = fetch_list_sync(settings.REPRO_DSN, app)
    pokemon = fetch_detail_sync(settings.REPRO_DSN, app)
    if app.upstream_url:
        call_upstream_sync(app.upstream_url)
    return render_pokemon(request, "sync-sql", pokemon, pokemons, started)


async def async_sql_view(request):
    from django.conf import settings
    app = settings.REPRO_APP
    started = time.perf_counter()
    work = [fetch_list_async(settings.REPRO_DSN, app), fetch_detail_async(settings.REPRO_DSN, app)]
    if app.upstream_url:
        work.append(call_upstream_async(app.upstream_url))
    pokemons, pokemon, *_ = await asyncio.gather(*work)
    return render_pokemon(request, "async-sql", pokemon, pokemons, started)


def sync_orm_view(request):
    from django.conf import settings
    app = settings.REPRO_APP
    started = time.perf_counter()
    model = pokemon_model()
    pokemons = list(model.objects.order_by("number"))
    pokemon = _as_dict(model.objects.get(number=DETAIL_NUMBER))
    if app.upstream_url:
        call_upstream_sync(app.upstream_url)
    return render_pokemon(request, "sync-orm", pokemon, pokemons, started)


async def async_orm_view(request):
    from django.conf import settings
    app = settings.REPRO_APP
    started = time.perf_counter()
    model = pokemon_model()

    async def orm():
        return ([p async for p in model.objects.order_by("number")],
                _as_dict(await model.objects.aget(number=DETAIL_NUMBER)))
    work = [orm()]
    if app.upstream_url:
        work.append(call_upstream_async(app.upstream_url))
    (pokemons, pokemon), *_ = await asyncio.gather(*work)
    return render_pokemon(request, "async-orm", pokemon, pokemons, started)


@dataclass(frozen=True)
class View:
    name: str
    func: Callable
    is_async: bool
    orm: bool
    description: str
    driver: str = ""  # the module of the SQL views' driver (the ORM's is Django's)

    @property
    def path(self) -> str:
        return f"/{self.name}/"


VIEWS = {v.name: v for v in (
    View("sync-sql", sync_sql_view, False, False,
         "sync view, psycopg2: the list query, then the detail query", "psycopg2"),
    View("async-sql", async_sql_view, True, False,
         "async view, asyncpg: both queries at once (asyncio.gather), each in a transaction "
         "through a cursor", "asyncpg"),
    View("sync-orm", sync_orm_view, False, True,
         "sync view, the Django ORM: order_by(\"number\"), then get(number=25)"),
    View("async-orm", async_orm_view, True, True,
         "async view, the async ORM: async for over order_by(\"number\"), then aget(number=25)"),
)}


def make_app(interface: str):
    """Gunicorn's entry point in each worker: repro:make_app('wsgi'|'asgi')."""
    app = AppSettings.from_json(os.environ[ENV_APP])
    if os.environ.get(ENV_PROFILED):
        die_with_parent(signal.SIGTERM, os.getppid())
    configure_django(os.environ[ENV_DSN], os.environ[ENV_SECRET], app)
    if interface == "wsgi":
        from django.core.wsgi import get_wsgi_application
        return get_wsgi_application()
    from django.core.asgi import get_asgi_application
    return get_asgi_application()


def make_asgi_app():
    """Granian's factory entry point."""
    return make_app("asgi")


# ---------------------------------------------------------------------------
# The servers: how each is started, and how many requests it serves at once
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Server:
    name: str
    description: str
    interface: str  # "wsgi" or "asgi"
    # (port, workers, threads, interface) -> the command; see command()
    argv: Callable[[int, int, int, str], list[str]]
    missing: Callable[[], Optional[str]] = lambda: None  # why it cannot run here, or None
    # (workers, threads) -> how many requests it serves at once; None: as
    # many as come (an event loop, or a thread for each request).
    slots: Optional[Callable[[int, int], int]] = None
    slot_name: str = "workers"

    @property
    def asgi(self) -> bool:
        return self.interface == "asgi"

    def command(self, port: int, workers: int, threads: int) -> list[str]:
        return self.argv(port, workers, threads, self.interface)

    def slots_at(self, workers: int, threads: int) -> Optional[int]:
        """How many requests it serves at once; None: as many as come."""
        return self.slots(workers, threads) if self.slots else None


def _gunicorn(worker_class: str,
              threads: bool = False) -> Callable[[int, int, int, str], list[str]]:
    def argv(port: int, workers: int, thread_count: int, interface: str) -> list[str]:
        script = Path(__file__).resolve()
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                   "--workers", str(workers), "--worker-class", worker_class,
                   "--chdir", str(script.parent), "--pythonpath", str(script.parent)]
        if threads:
            command += ["--threads", str(thread_count)]
        if tuple(_version_key(package_version("gunicorn") or "0")) >= (25, 1):
            # Two servers at once would collide on $HOME/.gunicorn/gunicorn.ctl.
            command.append("--no-control-socket")
        return command + [f"{script.stem}:make_app({interface!r})"]
    return argv


def _granian(port: int, workers: int, _threads: int, interface: str) -> list[str]:
    script = Path(__file__).resolve()
    return [sys.executable, "-m", "granian", "--interface", interface, "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--working-dir", str(script.parent),
            "--factory", f"{script.stem}:make_asgi_app"]


def _gunicorn_at_least(version: tuple[int, ...]) -> Callable[[], Optional[str]]:
    def missing() -> Optional[str]:
        have = package_version("gunicorn") or "0"
        if tuple(_version_key(have)) < version:
            wanted = ".".join(map(str, version))
            return f"it needs gunicorn {wanted} or newer (this is {have}): pip install " \
                   f"'gunicorn>={wanted}'"
        return None
    return missing


def _modules_missing(*modules: str, install: str) -> Callable[[], Optional[str]]:
    def missing() -> Optional[str]:
        import importlib.util
        absent = [m for m in modules if not importlib.util.find_spec(m)]
        return (f"{' and '.join(absent)} {'is' if len(absent) == 1 else 'are'} not installed: "
                f"pip install {install}" if absent else None)
    return missing


SERVERS = {s.name: s for s in (
    Server("gunicorn-sync", "Gunicorn, sync workers (WSGI)", "wsgi", _gunicorn("sync"),
           slots=lambda workers, _threads: workers),
    Server("gunicorn-gthread", "Gunicorn, gthread workers (WSGI)", "wsgi",
           _gunicorn("gthread", threads=True),
           slots=lambda workers, threads: workers * threads, slot_name="threads"),
    # As in 2021: plain uvicorn, whatever else is installed.
    Server("uvicorn", "Gunicorn + uvicorn_worker.UvicornH11Worker (ASGI; the asyncio loop, "
                      "the h11 parser)", "asgi",
           _gunicorn("uvicorn_worker.UvicornH11Worker")),
    # What `pip install 'uvicorn[standard]'` gives, and most deployments run.
    Server("uvicorn-standard", "Gunicorn + uvicorn_worker.UvicornWorker (ASGI; the uvloop loop, "
                               "the httptools parser)", "asgi",
           _gunicorn("uvicorn_worker.UvicornWorker"),
           _modules_missing("uvloop", "httptools", install="'uvicorn[standard]'")),
    Server("gunicorn-asgi", "Gunicorn's own ASGI worker, -k asgi, beta (ASGI; uvloop where "
                            "installed)", "asgi",
           _gunicorn("asgi"), _gunicorn_at_least((24,))),
    Server("granian", "Granian (ASGI; its own HTTP stack in Rust, uvloop where installed)",
           "asgi", _granian, _modules_missing("granian", install="granian")),
)}


# ---------------------------------------------------------------------------
# Naming a setup: what the CLI, the report and the JSON call a cell
# ---------------------------------------------------------------------------

CELL_SYNTAX = "VIEW@SERVER[+pooled|+persistent][+upstream[=MS]|+slow-db][+2021]"


def parse_cell(text: str) -> Cell:
    """A cell that can run here, by its name."""
    cell = cell_named(text)
    missing = SERVERS[cell.server].missing()
    if missing:
        raise UsageError(f"setup {cell.name} cannot run here: {missing}")
    return cell


def cell_named(text: str) -> Cell:
    """'sync', 'async', or VIEW@SERVER with options: 'async+pooled',
    'sync-orm@uvicorn+pooled+upstream'."""
    base, *options = text.strip().split("+")
    view, at, server = base.partition("@")
    if base in NAMED_CELLS:
        cell = NAMED_CELLS[base]
    elif at and view in VIEWS and server in SERVERS:
        cell = Cell(view, server)
    else:
        raise UsageError(f"unknown setup {text!r}: give {', '.join(NAMED_CELLS)} or "
                         f"{CELL_SYNTAX}, with VIEW one of {', '.join(VIEWS)} and SERVER one "
                         f"of {', '.join(SERVERS)}")
    given: dict[str, str] = {}  # axis -> the option that set it
    for option in options:
        name, has_wait, wait = option.partition("=")
        if option in CONNECTIONS:
            axis, cell = "connections", dataclasses.replace(cell, connections=option)
        elif name in WORKLOADS and (not has_wait or WORKLOADS[name].own_wait):
            axis, cell = "workload", dataclasses.replace(
                cell, workload=name, wait_ms=_wait_of(wait, text) if has_wait else None)
        elif option == "2021":
            axis, cell = "2021", dataclasses.replace(cell, as_2021=True)
        else:
            choices = [*CONNECTIONS, *(w.name + ("[=MS]" if w.own_wait else "")
                                       for w in WORKLOADS.values()), "2021"]
            raise UsageError(f"unknown option +{option} in setup {text!r}; choose from "
                             f"{', '.join('+' + c for c in choices)}")
        if axis in given:
            # The later one would silently replace the earlier.
            if given[axis] == option:
                raise UsageError(f"setup {text!r} gives +{option} twice; give it once")
            one, other = ("+".join([base, *(o for o in options if o != drop)])
                          for drop in (option, given[axis]))
            raise UsageError(f"setup {text!r} gives two {axis} options (+{given[axis]}, "
                             f"+{option}), and a setup has one; to measure both, give two "
                             f"setups: --setups {one},{other}")
        given[axis] = option
    refusal = CONNECTIONS[cell.connections].refuses(VIEWS[cell.view])
    if refusal:
        raise UsageError(f"setup {text!r}: {refusal}")
    return cell


def wait_ms_of(text: str) -> Optional[float]:
    """A wait as a cell (+upstream=300) or --waits gives it, in ms: more
    than 0 and at most MAX_WAIT_MS; None for anything else."""
    try:
        wait = float(text)
    except ValueError:
        return None
    return wait if math.isfinite(wait) and 0 < wait <= MAX_WAIT_MS else None


def _wait_of(text: str, setup: str) -> float:
    wait = wait_ms_of(text)
    if wait is None:
        raise UsageError(f"setup {setup!r} gives the wait {text!r}; give milliseconds, more "
                         f"than 0 and at most {MAX_WAIT_MS}, as in +upstream=300")
    return wait


# ---------------------------------------------------------------------------
# Settings: what a run, its ramps and its servers are told
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RampSettings:
    """How the load ramps: what the ramps of a run, of `ramp URL` and of a
    Locust file are told."""
    top: int = DEFAULT_USERS  # the highest level: users, or req/s in open loop
    open_loop: bool = False  # ramp the arrival rate (req/s), not users
    step: int = DEFAULT_STEP
    step_seconds: float = DEFAULT_STEP_SECONDS
    min_requests: int = DEFAULT_MIN_REQUESTS
    kind: str = DEFAULT_RAMP  # a key of RAMPS
    think_time: float = DEFAULT_THINK_TIME
    timeout: float = DEFAULT_TIMEOUT
    repeat: int = DEFAULT_REPEAT
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    load_processes: Optional[int] = None  # None: one per RATE_PER_LOAD_PROCESS

    @property
    def unit(self) -> str:
        return "req/s" if self.open_loop else "users"


@dataclass(frozen=True)
class ServerSettings:
    """What repro's own servers and views are told, beyond their cell."""
    workers: int = DEFAULT_WORKERS
    threads: int = DEFAULT_THREADS  # per gthread worker
    pool_size: int = DEFAULT_POOL_SIZE  # connections per worker process, pooled cells
    upstream_ms: float = DEFAULT_UPSTREAM_MS  # the upstream workload's slow HTTP API
    db_ms: float = DEFAULT_DB_MS  # the slow-db workload's wait per query


@dataclass(frozen=True)
class ProfileSettings:
    """--profile: each setup's server sampled by py-spy after its ramps."""
    users: Optional[int] = None  # the level held (--profile-users); None: profile_level's
    seconds: float = DEFAULT_PROFILE_SECONDS  # the window, with and without sampling
    directory: Optional[str] = None  # where each setup's stacks are written


@dataclass(frozen=True)
class Config:
    """What a command was told, built once from its arguments."""
    argv: tuple[str, ...] = ()
    setups: tuple[Cell, ...] = ()
    ramp: RampSettings = RampSettings()
    server: ServerSettings = ServerSettings()
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    dsn: Optional[str] = None
    dsn_origin: Optional[str] = None  # "--dsn" or "DATABASE_URL"
    json_path: Optional[str] = None
    chart_path: Optional[str] = None  # a PNG of the latencies and req/s
    port: Optional[int] = None  # serve's
    questions: tuple[int, ...] = ()  # a study's: keys of QUESTIONS
    waits: tuple[float, ...] = DEFAULT_WAITS  # the wait sweep's (question 7), in ms
    run_files: tuple[str, ...] = ()  # report and compare: the JSON of saved runs
    locust_files: tuple[str, ...] = ()  # report --locust: Locust's stats histories
    urls: tuple[str, ...] = ()  # ramp and locustfile: endpoints of servers that are not repro's
    profile: Optional[ProfileSettings] = None  # run, study, serve: --profile


def check_pools(config: Config, max_connections: int) -> None:
    """Pools that all workers together could fill past max_connections are
    refused: the run would measure PostgreSQL refusing them."""
    if not any(CONNECTIONS[c.connections].pools for c in config.setups):
        return
    room = max_connections - RESERVED_CONNECTIONS
    if config.server.workers * config.server.pool_size > room:
        raise UsageError(f"pools of --pool-size {config.server.pool_size} in --workers "
                         f"{config.server.workers} could open "
                         f"{config.server.workers * config.server.pool_size} "
                         f"connections, more than the {room} that max_connections "
                         f"{max_connections} leaves; lower --pool-size or --workers"
                         + ("" if config.dsn else ", or raise --max-connections"))


# ---------------------------------------------------------------------------
# Records and statistics: what the load generator saw, and thresholds (pure
# functions of the records)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    """One request as the load generator saw it.  Times are perf_counter(),
    which is one clock for all processes of the machine.  In open loop,
    start is when the request was due, not when it went out."""

    start: float
    end: float
    outcome: str  # "ok", "timeout", "connection", "http_<status>", "protocol"


@dataclass(frozen=True)
class StepWindow:
    """One step of a ramp.  The load changed at start; it settled until
    window_start; requests that ended in [window_start, window_end) count
    for the step, which ended at end (the window's end, as the load
    generator reported it)."""

    level: int  # users, or req/s in open loop
    order: int  # 1 for the first step measured, and so on
    start: float
    window_start: float
    window_end: float
    end: float
    cpu_seconds: float  # the load generator's own CPU time during the step, all processes
    cpu_busiest: Optional[float] = None  # that of its busiest process (None: cpu_seconds)
    sent: Optional[int] = None  # requests sent in the window (None: those of the samples)
    windows: int = 1  # 2: held for a second window near the slowdown threshold
    # CPU seconds of each process group in the window ("client": the load
    # generator), where a meter was read at its start and its end.
    cpu_window: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StepStats:
    level: int
    order: int
    requests: int  # ended in the window, answered or failed
    failures: int
    failures_by_kind: dict[str, int]
    rps: float  # successful responses completed per second of the window
    arrival_rps: float  # requests started per second of the window
    completion_rps: float  # responses of any kind completed per second of the window
    p50_ms: Optional[float]  # latency percentiles of successful responses
    p95_ms: Optional[float]
    p99_ms: Optional[float]
    client_cpu_pct: float  # of one core, by the busiest load generator process
    client_cpu_ms: Optional[float]  # per request that ended during the step
    settle_seconds: float
    seconds: float  # how long the step was held, settling included
    windows: int = 1  # 2: held for a second window near the slowdown threshold
    # The CPU seconds each process group spent in the window ("client": the
    # load generator): with its successful responses, the step's own CPU per
    # request, of the same seconds as its req/s.  Empty where not measured.
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def draining(self) -> bool:
        """More completed than was sent: a queue went down during the window."""
        high = max(self.arrival_rps, self.completion_rps)
        return self.completion_rps - self.arrival_rps > STEADY_WITHIN * high

    @property
    def steady(self) -> bool:
        """Arrivals and completions agree: the window saw a steady state,
        not a queue filling up or draining."""
        high = max(self.arrival_rps, self.completion_rps)
        return high == 0 or abs(self.arrival_rps - self.completion_rps) <= STEADY_WITHIN * high


@dataclass(frozen=True)
class Thresholds:
    baseline_ms: Optional[float]
    slowdown: Optional[int]  # a level: users, or req/s in open loop
    errors: Optional[int]
    peak_rps: float
    peak_level: Optional[int]
    max_level: int  # the highest step measured
    plateau_spread: Optional[float]  # (max - min) / median of req/s on the plateau
    sustained: Optional[int]  # the highest level measured below both thresholds
    # A threshold not reached lies above this level: "none up to N".
    slowdown_up_to: int
    errors_up_to: int
    # The throughput it holds once saturated: the median req/s of its
    # plateau's windows; None where the load never slowed it down.
    capacity_rps: Optional[float] = None

    @property
    def held(self) -> tuple[float, bool]:
        """Its capacity, and True; where it has none, the most it served (a
        lower bound), and False."""
        return (self.capacity_rps, True) if self.capacity_rps is not None else (self.peak_rps,
                                                                                  False)


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
    """A step's statistics, of the requests that ended in its window, as
    Locust and wrk count them: throughput, latencies and failures.  The
    step settled until every request in flight had been sent at its level,
    so each of them was, and in a steady state those that ended in a window
    are like those sent in it, with no wait for the slowest to end."""
    low, high = window.window_start, window.window_end
    counted = [s for s in samples if low <= s.end < high]
    latencies = sorted((s.end - s.start) * 1000.0 for s in counted if s.outcome == "ok")
    failures_by_kind: dict[str, int] = {}
    for s in counted:
        if s.outcome != "ok":
            failures_by_kind[s.outcome] = failures_by_kind.get(s.outcome, 0) + 1
    sent = (window.sent if window.sent is not None
            else sum(1 for s in samples if low <= s.start < high))
    during = sum(1 for s in samples if window.start <= s.end < window.end)
    seconds = high - low
    held = window.end - window.start
    return StepStats(
        level=window.level,
        order=window.order,
        requests=len(counted),
        failures=len(counted) - len(latencies),
        failures_by_kind=dict(sorted(failures_by_kind.items())),
        rps=len(latencies) / seconds if seconds > 0 else 0.0,
        arrival_rps=sent / seconds if seconds > 0 else 0.0,
        completion_rps=len(counted) / seconds if seconds > 0 else 0.0,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        client_cpu_pct=100.0 * (window.cpu_seconds if window.cpu_busiest is None
                                else window.cpu_busiest) / held if held > 0 else 0.0,
        client_cpu_ms=1000.0 * window.cpu_seconds / during if during else None,
        settle_seconds=window.window_start - window.start,
        seconds=held,
        windows=window.windows,
        cpu_seconds=dict(window.cpu_window),
    )


def baseline_of(steps: Sequence[StepStats]) -> Optional[float]:
    """The lower of the two lowest levels' medians (given in order of level).
    Both are low load; the search measures them at different moments (the
    second one last), so that a passing disturbance of the machine, which
    only ever adds latency, does not set the baseline."""
    medians = [s.p50_ms for s in steps[:2] if s.p50_ms is not None]
    return min(medians) if medians else None


def is_slowed(s: StepStats, baseline: Optional[float]) -> bool:
    """Its median is at least SLOWDOWN_FACTOR times the baseline.  A step
    without one successful response counts as slowed down; without a
    baseline no other step can be judged slow."""
    return s.p50_ms is None or (baseline is not None and s.p50_ms >= SLOWDOWN_FACTOR * baseline)


def is_near_slowdown(s: StepStats, baseline: Optional[float]) -> bool:
    """Its median is close to the slowdown rule's latency, either side: a
    second window decides (NEAR_SLOWDOWN)."""
    if s.p50_ms is None or baseline is None:
        return False
    limit = SLOWDOWN_FACTOR * baseline
    return NEAR_SLOWDOWN * limit <= s.p50_ms < limit / NEAR_SLOWDOWN


def is_erring(s: StepStats) -> bool:
    return s.requests > 0 and s.error_rate >= ERROR_RATE


def slowed_flags(steps: Sequence[StepStats]) -> list[bool]:
    """Per step, given in order of level: is it slowed down?"""
    baseline = baseline_of(steps)
    return [is_slowed(s, baseline) for s in steps]


def erring_flags(steps: Sequence[StepStats]) -> list[bool]:
    return [is_erring(s) for s in steps]


def fine_up(level: int, step: int) -> int:
    """One fine step up: `step` more, or RESOLUTION more, whichever is more."""
    return max(level + step, round(level * (1 + RESOLUTION)))


def confirms(level: int, above: int, step: int) -> bool:
    """Whether a level measured above `level` is near enough to confirm a
    threshold there: at most two fine steps higher."""
    return above <= fine_up(fine_up(level, step), step)


def _first_confirmed(flags: Sequence[bool], levels: Sequence[int], step: int,
                     last_counts: bool = True) -> Optional[int]:
    """Index of the first step whose flag holds at that step and at the next
    level measured, at most two fine steps higher (a lone noisy step does
    not set a threshold).  The highest step needs no confirmation when
    nothing above it was to be measured."""
    for i, flag in enumerate(flags):
        if not flag:
            continue
        if i == len(flags) - 1:
            if last_counts:
                return i
        elif flags[i + 1] and confirms(levels[i], levels[i + 1], step):
            return i
    return None


def find_thresholds(steps: Sequence[StepStats], step: int = DEFAULT_STEP,
                    last_counts: bool = True) -> Thresholds:
    """Thresholds of one ramp's steps, given in order of level; `step` is
    its fine step; last_counts: whether the highest level needs no
    confirmation (the ramp was not cut short)."""
    if not steps:
        return Thresholds(None, None, None, 0.0, None, 0, None, None, 0, 0)
    slowed, erring = slowed_flags(steps), erring_flags(steps)
    levels = [s.level for s in steps]
    slowdown = _first_confirmed(slowed, levels, step, last_counts)
    errors = _first_confirmed(erring, levels, step, last_counts)
    # Completions never outrun what the server can do while a queue fills
    # (it is busy throughout), so a filling window counts for the peak; one
    # that drained a backlog might have counted it, so it does not (unless
    # every window drained).  Past the knee most windows fill for a while:
    # steady windows alone put the async upstream cell's peak at half its
    # throughput.
    peak = max([s for s in steps if not s.draining] or steps, key=lambda s: (s.rps, -s.level))
    plateau = [s.rps for s in plateau_windows(
        steps, None if slowdown is None else steps[slowdown].level,
        None if errors is None else steps[errors].level)]
    spread = None
    if len(plateau) >= 2 and statistics.median(plateau) > 0:
        spread = (max(plateau) - min(plateau)) / statistics.median(plateau)
    capacity = statistics.median(plateau) if plateau else None
    limit = min((i for i in (slowdown, errors) if i is not None), default=len(steps))
    fine = [s.level for s, slow, err in zip(steps[:limit], slowed, erring) if not (slow or err)]
    return Thresholds(
        baseline_ms=baseline_of(steps),
        slowdown=None if slowdown is None else steps[slowdown].level,
        errors=None if errors is None else steps[errors].level,
        peak_rps=peak.rps,
        peak_level=peak.level if peak.rps > 0 else None,
        max_level=steps[-1].level,
        plateau_spread=spread,
        sustained=fine[-1] if fine else None,
        slowdown_up_to=_clear_up_to(slowed, levels, step, last_counts),
        errors_up_to=_clear_up_to(erring, levels, step, last_counts),
        capacity_rps=capacity,
    )


def plateau_windows(steps: Sequence[StepStats], slowdown: Optional[int],
                    errors: Optional[int]) -> list[StepStats]:
    """The windows of a setup's plateau, where it is saturated and its
    throughput should hold still: the levels measured above the slowdown
    threshold (at the threshold itself the server is often not saturated
    yet), up to, not including, the error threshold; the threshold's own
    level where no level lies between the two.  Of those, the steady ones
    where two or more are; else those that did not drain (one that drained a
    backlog counted more than the setup serves, as the peak's rule already
    knew: docs/measurements.md, 2026-12-07 and 08); all only where every one
    drained."""
    if slowdown is None:
        return []
    on = ([s for s in steps if s.level > slowdown and (errors is None or s.level < errors)]
          or [s for s in steps if s.level == slowdown])
    steady = [s for s in on if s.steady]
    return steady if len(steady) >= 2 else [s for s in on if not s.draining] or on


def cpu_ms_of(steps: Sequence[StepStats]) -> Optional[dict[str, float]]:
    """CPU per successful request of each process group over these steps'
    windows, from each step's own record (None where a step has none, or
    nothing succeeded): the CPU a capacity cost, measured in the same
    seconds as it, on a machine whose speed moves within a minute.  Over the
    window, not the step: after a step up, settling spends CPU on requests
    that end in the window (docs/measurements.md, 2026-12-07 and 08)."""
    if not steps or any(not s.cpu_seconds for s in steps):
        return None
    ok = sum(s.requests - s.failures for s in steps)
    groups = set.intersection(*(set(s.cpu_seconds) for s in steps))
    if not ok:
        return None
    return {g: 1000.0 * sum(s.cpu_seconds[g] for s in steps) / ok for g in sorted(groups)}


def _clear_up_to(flags: Sequence[bool], levels: Sequence[int], step: int,
                 last_counts: bool) -> int:
    """The level up to which a threshold that was not found is known not to
    lie: the highest level measured.  A ramp cut short may have left a
    flagged level (slowed, or erring) open, neither confirmed nor refuted
    by a level measured within two fine steps above it: the ramp would
    have gone on to tell, so only the levels below it count as clear."""
    if not last_counts:
        for i, flag in enumerate(flags):
            if flag and (i == len(flags) - 1 or not confirms(levels[i], levels[i + 1], step)):
                return levels[i - 1] if i else 0
    return levels[-1] if levels else 0


def _rank(v: tuple[Optional[int], int]) -> float:
    """A threshold (level, up_to) as a number to sort by: one not reached
    is only known to lie above up_to."""
    return v[1] + 0.5 if v[0] is None else v[0]


def _median_level(values: Sequence[tuple[Optional[int], int]]) -> tuple[Optional[int], int]:
    """Median of (level, up_to) pairs; the lower middle one for an even
    count, so that it is a level that was measured."""
    return sorted(values, key=_rank)[(len(values) - 1) // 2]


def median_thresholds(each: Sequence[Thresholds]) -> Thresholds:
    if not each:
        return find_thresholds(())
    if len(each) == 1:
        return each[0]
    slowdown, _ = _median_level([(t.slowdown, t.slowdown_up_to) for t in each])
    errors, _ = _median_level([(t.errors, t.errors_up_to) for t in each])
    peak = statistics.median_low([t.peak_rps for t in each])
    peak_t = next(t for t in each if t.peak_rps == peak)
    spreads = [t.plateau_spread for t in each if t.plateau_spread is not None]
    baselines = [t.baseline_ms for t in each if t.baseline_ms is not None]
    sustained = [t.sustained for t in each if t.sustained is not None]
    capacities = [t.capacity_rps for t in each if t.capacity_rps is not None]
    lowest_top = min(t.max_level for t in each)
    return Thresholds(
        baseline_ms=statistics.median_low(baselines) if baselines else None,
        slowdown=slowdown, errors=errors, peak_rps=peak, peak_level=peak_t.peak_level,
        max_level=lowest_top,
        plateau_spread=statistics.median_low(spreads) if spreads else None,
        sustained=statistics.median_low(sustained) if sustained else None,
        # "none up to N" must name a level every repeat that did not reach
        # the threshold was clear up to.
        slowdown_up_to=min((t.slowdown_up_to for t in each if t.slowdown is None),
                           default=lowest_top),
        errors_up_to=min((t.errors_up_to for t in each if t.errors is None),
                         default=lowest_top),
        # Saturated where the median slowdown was reached: the median of
        # the repeats that were.
        capacity_rps=(statistics.median_low(capacities) if slowdown is not None and capacities
                      else None),
    )


def threshold_range(values: Sequence[tuple[Optional[int], int]]) -> str:
    """'100-121' over the repeats' (level, up_to); a level not reached
    shows as '>N'."""
    def text(v: tuple[Optional[int], int]) -> str:
        return f">{v[1]}" if v[0] is None else str(v[0])
    ranked = sorted(values, key=_rank)
    low, high = text(ranked[0]), text(ranked[-1])
    if low == high:
        return low
    return f"{low}-{high}" if ">" not in low + high else f"{low} to {high}"


def early_stop_reason(steps: Sequence[StepStats]) -> Optional[str]:
    """Why a fixed ramp that is clearly past both thresholds should stop."""
    last = steps[-STOP_AFTER_STEPS:]
    if len(last) == STOP_AFTER_STEPS and all(s.error_rate > STOP_ERROR_RATE for s in last):
        return (f"stopped at {last[-1].level}: more than {STOP_ERROR_RATE:.0%} "
                f"of requests failed for {STOP_AFTER_STEPS} steps in a row")
    return None


def most_common_failure(steps: Sequence[StepStats]) -> Optional[str]:
    totals: dict[str, int] = {}
    for s in steps:
        for kind, n in s.failures_by_kind.items():
            totals[kind] = totals.get(kind, 0) + n
    if not totals:
        return None
    return max(sorted(totals), key=lambda k: totals[k])


# ---------------------------------------------------------------------------
# Process management: PostgreSQL, the servers, the upstream API
# ---------------------------------------------------------------------------

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
    parent, prctl = os.getpid(), _prctl()
    return (lambda: die_with_parent(sig, parent, prctl)) if prctl else None


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
                    run_as: Optional[RunAs] = None, pass_fds: Sequence[int] = (),
                    stop: Optional[StopFlag] = None) -> Iterator[ManagedProcess]:
    """Start a process in its own process group (so a terminal's Ctrl-C
    reaches repro only, which then stops things in order) and always stop
    it, and anything it started, on the way out."""
    extra = run_as.popen_kwargs() if run_as else {}
    # Owner-only: a server's log may quote what it was connected with.
    with os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        popen = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, cwd=cwd, start_new_session=True, pass_fds=tuple(pass_fds),
            preexec_fn=_die_with_parent(stop_signal), **extra)
    try:
        yield ManagedProcess(name, popen, log_path)
    finally:
        stop_process(popen, stop_signal, stop)


def stop_process(popen: subprocess.Popen, stop_signal: int, stop: Optional[StopFlag] = None) -> None:
    """Ask it to stop, give it STOP_GRACE_SECONDS (none after a second
    Ctrl-C), then kill its whole group and wait until the group is gone."""
    if popen.poll() is None and not (stop is not None and stop.hurry):
        with contextlib.suppress(ProcessLookupError):
            popen.send_signal(stop_signal)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while (popen.poll() is None and time.monotonic() < deadline
               and not (stop is not None and stop.hurry)):
            time.sleep(0.01)
    # Whatever is left of the group (workers, backends) goes too, and is
    # gone, not merely signalled, when this returns.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(STOP_GRACE_SECONDS)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while _group_alive(popen.pid) and time.monotonic() < deadline:
        time.sleep(0.01)


@dataclass(frozen=True)
class ProcStat:
    """What /proc/<pid>/stat says of a process that repro needs."""
    ppid: int
    pgrp: int
    zombie: bool
    cpu_ticks: int  # its own CPU time and that of the children it waited for


def proc_stats() -> Optional[dict[int, ProcStat]]:
    """Every process of the machine, from /proc; None where there is none."""
    if not os.path.isdir("/proc"):
        return None
    stats = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            # The command name, in parentheses, may hold spaces and parentheses.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone since the listing
        stats[int(pid)] = ProcStat(ppid=int(fields[1]), pgrp=int(fields[2]),
                                   zombie=fields[0] == "Z",
                                   cpu_ticks=sum(int(f) for f in fields[11:15]))
    return stats


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies do not count:
    they hold nothing, and an init that does not reap would keep them)."""
    stats = proc_stats()
    if stats is None:
        try:
            os.killpg(pgid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False
    return any(p.pgrp == pgid and not p.zombie for p in stats.values())


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
    pid: Optional[int] = None  # the private cluster's postmaster, whose CPU repro can read


POSTGRES_GLOBS = (
    "/usr/lib/postgresql/*/bin",            # Debian, Ubuntu
    "/usr/pgsql-*/bin",                     # RHEL, Fedora (PGDG)
    "/opt/homebrew/opt/postgresql*/bin",    # Homebrew, Apple silicon
    "/usr/local/opt/postgresql*/bin",       # Homebrew, Intel
    "/opt/homebrew/bin", "/usr/local/bin",
    "/Applications/Postgres.app/Contents/Versions/*/bin",
    "/usr/local/pgsql/bin",
)


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
def private_postgres(workdir: Path, max_connections: int, stop: StopFlag,
                     say: Callable[[str], None] = lambda _line: None) -> Iterator[Database]:
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
    say(f"starting a private PostgreSQL from {bindir}")
    home.mkdir()
    sockdir.mkdir(mode=0o700)
    if run_as is not None:
        # The cluster's owner must reach its directory, and nothing more.
        workdir.chmod(0o711)
        for d in (home, sockdir):
            os.chown(d, run_as.uid, run_as.gid)
    # Anyone on the machine can reach a loopback port: only a client that
    # knows this run's password gets in (no 'trust' anywhere).  md5, as the
    # 2021 postgres image used: SCRAM would add client CPU to each of the
    # views' connections, a cost 2021 never paid.
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
                             cwd=home, run_as=run_as, stop=stop) as proc:
            started = _wait_for_postgres(proc, dsn, stop, last_try=attempt == 2)
            if started:
                version, actual_max = query_database(dsn)  # it just accepted a connection
                yield Database(dsn, f"private throwaway cluster from {bindir}, md5 password "
                                    f"auth", version, actual_max, password_file, proc.popen.pid)
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
def open_database(config: Config, workdir: Path, stop: StopFlag,
                  say: Callable[[str], None]) -> Iterator[Database]:
    if config.dsn:
        yield external_database(config.dsn, config.dsn_origin or "--dsn")
    else:
        with private_postgres(workdir, config.max_connections, stop, say) as db:
            yield db


@dataclass
class RunningServer:
    process: ManagedProcess
    base_url: str


def _view_answers(url: str) -> Optional[int]:
    """The HTTP status our server answers with, None while nothing answers."""
    got = http_get(url, 5)
    # An error is an answer; a success only with the header that repro's
    # views send, not from some other server.
    return got.status if got.status != 200 or got.headers.get("X-Repro-Worker") else None


@contextlib.contextmanager
def running_server(server: Server, view: View, app: AppSettings, db: Database, workers: int,
                   threads: int, log_path: Path, stop: StopFlag,
                   port: Optional[int] = None, wrap: Sequence[str] = ()) -> Iterator[RunningServer]:
    """The server, ready; with `wrap`, started by that command (a profiler
    that runs it and follows its processes)."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items()
           # The servers' own settings from the environment could change the
           # server measured, or daemonize it out of repro's reach.
           if k != "GUNICORN_CMD_ARGS" and not k.startswith("GRANIAN_")}
    env[ENV_DSN] = db.dsn
    env[ENV_SECRET] = secrets.token_urlsafe(50)
    env[ENV_APP] = app.to_json()
    # The 2021 image ran with asyncio debug mode on; by default it is off
    # (the report says so), so an inherited setting must not leak in.
    env.pop("PYTHONASYNCIODEBUG", None)
    env.pop(ENV_PROFILED, None)
    if wrap:
        env[ENV_PROFILED] = "1"
    if app.cell.as_2021:
        env["PYTHONASYNCIODEBUG"] = "1"
    argv = [*wrap, *server.command(port, workers, threads)]
    base_url = f"http://127.0.0.1:{port}"
    status: list[Optional[int]] = [None]

    def answers() -> bool:
        status[0] = _view_answers(base_url + view.path)
        return status[0] is not None

    # SIGTERM: a graceful stop, so requests still queued when the load ends
    # finish instead of leaving tracebacks that look like errors.  py-spy
    # writes what it sampled on SIGINT only, then kills what it started.
    with managed_process(f"{server.description} ({view.name} view)", argv, log_path,
                         stop_signal=signal.SIGINT if wrap else signal.SIGTERM, env=env, stop=stop,
                         cwd=Path(__file__).resolve().parent) as proc:
        wait_until(answers, proc, SERVER_START_SECONDS, stop, proc.name)
        if status[0] != 200:
            raise ReproError(f"{proc.name} answers {view.path} with HTTP {status[0]}; "
                             f"last lines of its log:\n{tail(log_path)}")
        yield RunningServer(proc, base_url)


def upstream_main(port: int) -> None:
    """Entry point of the upstream API process (see upstream_api()): it
    answers every GET of /api/MS after MS milliseconds, on loopback, many at
    a time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # repro stops it
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
    wrong = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"

    def delay_of(head: bytes) -> Optional[float]:
        match = re.match(rb"GET /api/(\d+(?:\.\d+)?) ", head)
        return float(match.group(1)) / 1000.0 if match else None

    class Answer(asyncio.Protocol):
        def connection_made(self, transport) -> None:
            self.transport, self.buffer = transport, b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
                delay = delay_of(head)
                asyncio.get_running_loop().call_later(
                    delay or 0.0, self.reply, wrong if delay is None else answer)

        def reply(self, what: bytes) -> None:
            if not self.transport.is_closing():
                self.transport.write(what)

    async def answer_forever() -> None:
        server = await asyncio.get_running_loop().create_server(Answer, "127.0.0.1", port,
                                                                backlog=4096)
        await server.serve_forever()

    asyncio.run(answer_forever())


@dataclass
class Upstream:
    process: ManagedProcess
    base_url: str

    def url_for(self, wait_ms: float) -> str:
        """Where the API answers after wait_ms."""
        return f"{self.base_url}/api/{wait_ms:g}"


@contextlib.contextmanager
def upstream_api(workdir: Path, stop: StopFlag) -> Iterator[Upstream]:
    """The slow HTTP API that the upstream workload's views call, started
    and stopped like the servers; each request's path says how slow."""
    port = free_port()
    script = Path(__file__).resolve()
    code = (f"import sys; sys.path.insert(0, {str(script.parent)!r}); import {script.stem}; "
            f"{script.stem}.upstream_main({port})")
    base_url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        return http_get(f"{base_url}/api/0", 5).body == b"ok"

    with managed_process("the upstream API", [sys.executable, "-c", code],
                         workdir / "upstream.log", stop_signal=signal.SIGTERM, stop=stop) as proc:
        wait_until(answers, proc, SERVER_START_SECONDS, stop, proc.name)
        yield Upstream(proc, base_url)


def tree_cpu_seconds(root: int, own: bool = True) -> Optional[float]:
    """CPU time of a process (unless not `own`: a profiler that started the
    server), of its live descendants, and of the children each has waited
    for (PostgreSQL's exited backends, Gunicorn's replaced workers), where
    /proc tells."""
    stats = proc_stats() or {}
    if root not in stats:
        return None
    children: dict[int, list[int]] = {}
    for pid, p in stats.items():
        children.setdefault(p.ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += stats[pid].cpu_ticks if own or pid != root else 0
        todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> Optional[float]:
    """A process's own CPU time (and its waited-for children's)."""
    stat = (proc_stats() or {}).get(pid)
    return None if stat is None else stat.cpu_ticks / os.sysconf("SC_CLK_TCK")


def py_spy() -> Optional[str]:
    """py-spy's executable: beside this Python's (a virtualenv's, run
    without activating it), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def py_spy_argv(executable: str, out: Path) -> list[str]:
    """py-spy starting a server and sampling it and its workers until
    SIGINT.  Started by py-spy, the server is its child: where
    kernel.yama.ptrace_scope is 1 (stock Debian and Ubuntu) a normal user may
    trace only their own descendants.  --gil: one sample per process, of the
    thread that holds the GIL, the one running Python code; without it,
    py-spy counts threads that wait on a queue (the idle workers of the
    thread pools asgiref hands sync code to) as busy (docs/measurements.md,
    "Profiles")."""
    return [executable, "record", "--subprocesses", "--gil", "--rate", str(PROFILE_RATE),
            "--format", "raw", "--output", str(out), "--"]


def py_spy_said(log: Path) -> tuple[int, str]:
    """From a log py-spy wrote to: its count of failed samples, and its
    last error line ('' if none)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    counts = re.findall(r"Samples: \d+ Errors: (\d+)", text)
    # How py-spy says it may not trace: "Permission Denied: Try running
    # again with elevated permissions ...", "This program requires root on
    # OSX.", or "Error: ..." for the rest.
    errors = [line for line in text.splitlines()
              if line.startswith(("Error:", "Permission Denied", "This program requires root"))]
    return (int(counts[-1]) if counts else 0), (errors[-1] if errors else "")


def log_findings(log_path: Path) -> dict[str, int]:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return {}
    return {pattern: text.count(pattern) for pattern in LOG_FINDINGS}


# ---------------------------------------------------------------------------
# The load generator: its own process(es), it only records.  A minimal
# HTTP/1.1 client on non-blocking sockets: aiohttp spent 0.8-0.9 ms of CPU
# per request here and Locust's FastHttpUser 0.55-0.86 ms; this spends
# about a third of Locust's, so that the client disturbs the two shared
# cores as little as possible.
# ---------------------------------------------------------------------------

class ProtocolError(Exception):
    """A response that cannot be read as HTTP/1.x."""


MAX_HEAD = 65536


@dataclass(frozen=True)
class HttpTarget:
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> "HttpTarget":
        try:
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname
        except ValueError:
            raise UsageError(f"{url!r} is not a valid URL; give one like "
                             f"http://staging.example:8000/path/") from None
        if parts.username is not None or parts.password is not None:
            raise UsageError("a URL with a user or password in it is not supported; ramp an "
                             "endpoint that needs no login")
        if not url.isascii() or any(c.isspace() for c in url):
            raise UsageError(f"{url!r} has characters that must be percent-encoded (spaces, "
                             f"non-ASCII)")
        if parts.scheme == "https":
            raise UsageError(f"{url}: repro's load generator speaks plain HTTP/1.1, not https; "
                             f"ramp the http:// address behind the TLS terminator")
        if parts.scheme != "http" or not host:
            raise UsageError(f"{url!r} is not an http:// URL; give one like "
                             f"http://staging.example:8000/path/")
        try:
            port = parts.port
        except ValueError:
            raise UsageError(f"{url!r} has no valid port") from None
        if port == 0:
            raise UsageError(f"{url!r}: port 0 is no port; give the one the server listens on")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(host, 80 if port is None else port, path)

    @property
    def request(self) -> bytes:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (f"GET {self.path} HTTP/1.1\r\nHost: {host}:{self.port}\r\n"
                f"User-Agent: repro\r\nAccept: */*\r\n\r\n").encode()


class ResponseReader:
    """An HTTP/1.x response, fed as it arrives: its status, whether the
    connection stays open, and when it is complete (by Content-Length,
    chunks, or the server closing the connection)."""
    __slots__ = ("head", "status", "keep_alive", "left", "chunked", "until_close", "buf",
                 "skip", "last", "got_bytes")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.head = self.buf = b""
        self.status, self.keep_alive, self.left = 0, False, -1  # -1: reading the head
        self.chunked = self.until_close = self.last = self.got_bytes = False
        self.skip = 0

    def feed(self, data: bytes) -> bool:
        """True once the response is complete."""
        self.got_bytes = True
        if self.left == -1:
            data = self.head + data
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > MAX_HEAD:
                    raise ProtocolError("response head too long")
                self.head = data
                return False
            self.head = b""
            self._read_head(data[:end])
            data = data[end + 4:]
            if self.left == -2:  # an interim 1xx response: the real one follows
                self.left = -1
                return self.feed(data) if data else False
        if self.chunked:
            return self._read_chunks(data)
        if self.until_close:
            return False
        self.left -= len(data)
        if self.left < 0:
            raise ProtocolError("more bytes than Content-Length")
        return self.left == 0

    def closed(self) -> bool:
        """The server closed the connection: was that the end of the body?"""
        return self.until_close

    def _read_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        if not version.startswith(b"HTTP/1."):
            raise ProtocolError("not an HTTP/1.x status line")
        try:
            self.status = int(rest[:3])
        except ValueError:
            raise ProtocolError("no status code") from None
        length, connection, chunked = None, b"", False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise ProtocolError("bad Content-Length") from None
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                connection = value.strip().lower()
        self.keep_alive = (connection != b"close" if version == b"HTTP/1.1"
                           else connection == b"keep-alive")
        if 100 <= self.status < 200:
            self.left = -2
        elif self.status in (204, 304):
            self.left = 0
        elif chunked:
            self.chunked, self.left = True, 0
        elif length is not None:
            self.left = length
        else:
            self.until_close, self.keep_alive, self.left = True, False, 0

    def _read_chunks(self, data: bytes) -> bool:
        buf = self.buf + data if self.buf else data
        while True:
            if self.skip:
                n = min(self.skip, len(buf))
                self.skip -= n
                buf = buf[n:]
                if self.skip:
                    self.buf = b""
                    return False
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise ProtocolError("chunk size line too long")
                self.buf = buf
                return False
            line, buf = buf[:end], buf[end + 2:]
            if self.last:  # trailers, up to an empty line
                if not line:
                    self.buf = b""
                    return True
                continue
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise ProtocolError("bad chunk size") from None
            if size == 0:
                self.last = True
            else:
                self.skip = size + 2  # the chunk and its CRLF


class Request:
    """One GET, from when it was due (its start) to its outcome."""
    __slots__ = ("start", "callback", "conn", "done", "retried")

    def __init__(self, start: float, callback: Callable) -> None:
        self.start, self.callback = start, callback
        self.conn: Optional[Connection] = None
        self.done = self.retried = False


class Connection:
    """One TCP connection to the server, carrying one request at a time."""
    __slots__ = ("gen", "sock", "reader", "out", "connecting", "req", "used", "events")

    def __init__(self, gen: "LoadGenerator") -> None:
        self.gen, self.reader, self.req, self.used, self.out = gen, ResponseReader(), None, 0, b""
        self.sock: Optional[socket.socket] = socket.socket(gen.family, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connecting = True
        self.events = selectors.EVENT_WRITE
        err = self.sock.connect_ex(gen.address)
        if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            self.sock.close()
            raise OSError(err, os.strerror(err))
        gen.selector.register(self.sock, self.events, self)

    def begin(self, req: Request) -> None:
        self.req, req.conn = req, self
        self.reader.reset()
        self.used += 1
        self.out = self.gen.request_bytes
        if not self.connecting:
            self._write()

    def _want(self, events: int) -> None:
        if events != self.events:
            self.events = events
            self.gen.selector.modify(self.sock, events, self)

    def _write(self) -> None:
        try:
            sent = self.sock.send(self.out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return self.broken()
        self.out = self.out[sent:]
        self._want(selectors.EVENT_WRITE if self.out else selectors.EVENT_READ)

    def on_event(self, mask: int) -> None:
        if self.sock is None:  # closed earlier in the same batch of events
            return
        if self.connecting:
            if self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                return self.broken()
            self.connecting = False
            return self._write() if self.req is not None else self._want(selectors.EVENT_READ)
        if self.out:
            return self._write()
        try:
            data = self.sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return self.broken()
        if self.req is None:  # the server closed (or spoke on) an idle connection
            return self.close()
        if not data:
            return self.complete() if self.reader.closed() else self.broken()
        try:
            done = self.reader.feed(data)
        except ProtocolError:
            req = self.req
            self.close()
            return self.gen.finish(req, "protocol")
        if done:
            self.complete()

    def complete(self) -> None:
        req, status = self.req, self.reader.status
        self.req = None
        if not self.reader.keep_alive:
            self.close()
        self.gen.finish(req, "ok" if status == 200 else f"http_{status}")

    def broken(self) -> None:
        """Refused, reset or closed before the response was complete."""
        req = self.req
        reused_and_silent = self.used > 1 and not self.reader.got_bytes
        self.close()
        if req is None or req.done:
            return
        if reused_and_silent and not req.retried:
            # The server closed a kept-alive connection just as it was
            # reused: like any HTTP client, try once more on a new one.
            req.retried = True
            return self.gen.transmit(req, None)
        self.gen.finish(req, "connection")

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.gen.selector.unregister(self.sock)
            self.sock.close()
            self.sock = None
        self.req = None


class User:
    """A closed-loop user, like a Locust user with wait_time = between(t, t):
    request, wait for the response, think, repeat; one connection, kept."""
    __slots__ = ("gen", "conn", "active", "retiring", "busy")

    def __init__(self, gen: "LoadGenerator") -> None:
        self.gen, self.conn, self.active, self.retiring, self.busy = gen, None, True, False, False

    def fire(self) -> None:
        if self.active:
            self.busy = True
            self.gen.send(self.gen.clock(), self.conn, self.done)

    def done(self, _req: Request, _outcome: str, conn: Optional[Connection]) -> None:
        self.busy, self.conn = False, conn
        if self.retiring:
            self.stop()
            self.gen.retiring.discard(self)
        elif self.active:
            self.gen.at(self.gen.clock() + self.gen.think_time, self.fire)

    def retire(self) -> None:
        """Stop after the request in flight, if any: the server is left with
        nothing abandoned."""
        if self.busy:
            self.retiring = True
            self.gen.retiring.add(self)
        else:
            self.stop()

    def stop(self) -> None:
        self.active = False
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# What repro and a load generator process tell each other through their
# pipe: small records, sent as (name, values) so that either side may be
# __main__ or the imported module.
@dataclass(frozen=True)
class SetUsers:
    """Run this many closed-loop users; new ones start spread over `spread`
    seconds, offset by `phase` of it (the share of the processes before)."""
    count: int
    spread: float
    phase: float
    command: int  # numbered, so that a Tick can say it was carried out

    def apply(self, gen: "LoadGenerator") -> None:
        gen.set_users(self.count, self.spread, self.phase)
        gen.applied = self.command


@dataclass(frozen=True)
class SetRate:
    """Send requests at this rate, on a schedule offset by `phase`."""
    rate: float
    phase: float
    command: int

    def apply(self, gen: "LoadGenerator") -> None:
        gen.set_rate(self.rate, self.phase)
        gen.applied = self.command


@dataclass(frozen=True)
class Stop:
    """Abandon what is in flight, report once more and end."""

    def apply(self, gen: "LoadGenerator") -> None:
        gen.running = False


@dataclass(frozen=True)
class Tick:
    """A load generator's report, every TICK: the requests that ended since
    the last, as (start, end, outcome) tuples, and where it stands."""
    as_of: float  # its clock when it sent this
    samples: list
    started: int  # requests sent so far
    oldest: Optional[float]  # when the oldest request in flight (or waiting) was due
    retiring: int  # users told to stop, still finishing a request
    cpu: float  # its CPU seconds so far
    applied: int  # the last command it carried out


MESSAGES = {m.__name__: m for m in (SetUsers, SetRate, Stop, Tick)}


def send_message(pipe, message: object) -> None:
    pipe.send((type(message).__name__,
               tuple(getattr(message, f.name) for f in dataclasses.fields(message))))


def receive_message(pipe) -> object:
    name, values = pipe.recv()
    return MESSAGES[name](*values)


class LoadGenerator:
    """The event loop of one load generator process.  It obeys the commands
    that come through its pipe (a number of users, or an arrival rate) and
    sends back, every TICK, what it recorded."""

    def __init__(self, target: HttpTarget, timeout: float, think_time: float,
                 max_in_flight: int, pipe, clock: Callable[[], float] = time.perf_counter):
        self.clock, self.pipe = clock, pipe
        info = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)[0]
        self.family, self.address = info[0], info[4]
        self.request_bytes = target.request
        self.timeout, self.think_time, self.max_in_flight = timeout, think_time, max_in_flight
        self.selector = selectors.DefaultSelector()
        self.timers: list = []  # (when, seq, callback)
        self.deadlines: list = []  # (when, seq, request)
        self.seq = itertools.count()
        self.batch: list[tuple[float, float, str]] = []
        self.started = 0
        self.in_flight: dict[Request, float] = {}
        self.users: list[User] = []
        self.retiring: set[User] = set()
        self.idle: list[Connection] = []  # open loop: kept-alive, not in use
        self.waiting: collections.deque = collections.deque()  # open loop: due beyond the cap
        self.rate_epoch, self.interval, self.next_due = 0, 0.0, 0.0
        self.applied = 0  # the last command carried out
        self.running = True

    # Timers and requests ------------------------------------------------

    def at(self, when: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self.timers, (when, next(self.seq), callback))

    def send(self, start: float, conn: Optional[Connection], callback: Callable) -> None:
        req = Request(start, callback)
        self.started += 1
        self.in_flight[req] = start
        heapq.heappush(self.deadlines, (start + self.timeout, next(self.seq), req))
        self.transmit(req, conn)

    def transmit(self, req: Request, conn: Optional[Connection]) -> None:
        if conn is None or conn.sock is None:
            try:
                conn = Connection(self)
            except OSError:
                return self.finish(req, "connection")
        conn.begin(req)

    def finish(self, req: Request, outcome: str) -> None:
        if req.done:
            return
        req.done = True
        del self.in_flight[req]
        self.batch.append((req.start, self.clock(), outcome))
        conn = req.conn
        reusable = conn if conn is not None and conn.sock is not None and conn.req is None else None
        req.callback(req, outcome, reusable)

    def expire(self, now: float) -> None:
        while self.deadlines and self.deadlines[0][0] <= now:
            req = heapq.heappop(self.deadlines)[2]
            if not req.done:
                if req.conn is not None:
                    req.conn.close()
                self.finish(req, "timeout")

    # Closed loop ----------------------------------------------------------

    def set_users(self, count: int, spread: float, phase: float) -> None:
        if count > len(self.users):
            new, now = count - len(self.users), self.clock()
            for j in range(new):
                user = User(self)
                self.users.append(user)
                # Evenly spread over one think time, as if each had just had
                # a response: the arrival rate is the steady state's at once.
                self.at(now + spread * (j + phase) / new, user.fire)
        else:
            for user in self.users[count:]:
                user.retire()
            del self.users[count:]

    # Open loop --------------------------------------------------------------

    def set_rate(self, rate: float, phase: float) -> None:
        self.rate_epoch += 1
        # Requests still waiting for a place were due at the old rate: they
        # are abandoned, not sent to what may be a new server.
        self.waiting.clear()
        if rate <= 0:
            return
        self.interval = 1.0 / rate
        self.next_due = self.clock() + phase * self.interval
        epoch = self.rate_epoch
        self.at(self.next_due, lambda: self._due(epoch))

    def _due(self, epoch: int) -> None:
        if epoch != self.rate_epoch:
            return
        now = self.clock()
        while self.next_due <= now:
            self.started += 1
            self._launch(self.next_due)
            self.next_due += self.interval
        self.at(self.next_due, lambda: self._due(epoch))

    def _launch(self, due: float) -> None:
        if len(self.in_flight) >= self.max_in_flight:
            self.waiting.append(due)
            return
        if due + self.timeout <= self.clock():  # waited out its whole timeout
            # Ended now: a sample never ends before the tick that reports it.
            self.batch.append((due, self.clock(), "timeout"))
            return
        conn = None
        while self.idle and conn is None:
            candidate = self.idle.pop()
            conn = candidate if candidate.sock is not None else None
        self.started -= 1  # send() counts it again
        self.send(due, conn, self._open_done)

    def _open_done(self, _req: Request, _outcome: str, conn: Optional[Connection]) -> None:
        if conn is not None:
            self.idle.append(conn)
        while self.waiting and len(self.in_flight) < self.max_in_flight:
            self._launch(self.waiting.popleft())

    # The loop -------------------------------------------------------------

    def command(self) -> None:
        while self.pipe.poll():
            receive_message(self.pipe).apply(self)

    def report(self) -> None:
        oldest = min(self.in_flight.values(), default=None)
        if self.waiting:
            oldest = self.waiting[0] if oldest is None else min(oldest, self.waiting[0])
        send_message(self.pipe, Tick(self.clock(), self.batch, self.started, oldest,
                                     len(self.retiring), time.process_time(), self.applied))
        self.batch = []

    def run(self) -> None:
        self.selector.register(self.pipe.fileno(), selectors.EVENT_READ, None)
        next_report = self.clock()
        while self.running:
            now = self.clock()
            while self.timers and self.timers[0][0] <= now:
                heapq.heappop(self.timers)[2]()
            self.expire(now)
            if now >= next_report:
                self.report()
                next_report = now + TICK
            wake = next_report
            if self.timers:
                wake = min(wake, self.timers[0][0])
            if self.deadlines:
                wake = min(wake, self.deadlines[0][0])
            for key, mask in self.selector.select(max(0.0, wake - self.clock())):
                if key.data is None:
                    self.command()
                else:
                    key.data.on_event(mask)
        # The ramp is over: what is still in flight is abandoned, not recorded.
        for req in list(self.in_flight):
            if req.conn is not None:
                req.conn.close()
        self.in_flight.clear()
        for user in self.users:
            user.stop()
        for conn in self.idle:
            conn.close()
        self.report()


def load_generator_main(fd: int, spec: str) -> None:
    """Entry point of a load generator process (see load_generator())."""
    from multiprocessing.connection import Connection as Pipe
    # repro stops it through its pipe, or with SIGTERM; a Ctrl-C is repro's.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = json.loads(spec)
    pipe = Pipe(fd)
    generator = LoadGenerator(HttpTarget(**settings["target"]), settings["timeout"],
                              settings["think_time"], settings["max_in_flight"], pipe)
    with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError):
        generator.run()


class LoadDriver:
    """repro's side of the load generator processes: it tells them the
    level and gathers what they recorded, as one."""

    def __init__(self, pipes: list, processes: list[ManagedProcess], open_loop: bool) -> None:
        self.pipes, self.processes, self.open_loop = pipes, processes, open_loop
        self.samples: list[Sample] = []
        self.ticks: list[Optional[Tick]] = [None] * len(pipes)  # each process's latest
        self.commands = 0

    def set_level(self, level: int, spread: float) -> None:
        self.commands += 1
        count = len(self.pipes)
        for i, pipe in enumerate(self.pipes):
            share = level // count + (1 if i < level % count else 0)
            message = (SetRate(level / count, i / count, self.commands) if self.open_loop else
                       SetUsers(share, spread, i / count, self.commands))
            try:
                send_message(pipe, message)
            except OSError:
                raise self._died(i) from None

    def poll(self, timeout: float) -> None:
        from multiprocessing.connection import wait
        for pipe in wait(self.pipes, timeout):
            i = self.pipes.index(pipe)
            try:
                for _ in range(1000):
                    if not pipe.poll():
                        break
                    tick = receive_message(pipe)
                    self.samples.extend(Sample(*s) for s in tick.samples)
                    self.ticks[i] = tick
            except (EOFError, OSError):
                raise self._died(i) from None

    def _died(self, i: int) -> ReproError:
        proc = self.processes[i]
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(1)
        return ReproError(f"the load generator stopped: {proc.died_message()}")

    def _all(self, name: str) -> list:
        return [getattr(t, name) for t in self.ticks if t is not None]

    @property
    def current(self) -> bool:
        """Every process has reported since carrying out the last command."""
        return all(t is not None and t.applied == self.commands for t in self.ticks)

    @property
    def as_of(self) -> float:
        """Every sample that ended before this is in (each process reports
        its samples before the tick that moves its time past them)."""
        return min(self._all("as_of")) if self.current else -math.inf

    @property
    def newest(self) -> float:
        """The time of the latest report of any process."""
        return max(self._all("as_of")) if self.current else -math.inf

    @property
    def started(self) -> int:
        return sum(self._all("started"))

    @property
    def oldest_in_flight(self) -> Optional[float]:
        return min((o for o in self._all("oldest") if o is not None), default=None)

    @property
    def retiring(self) -> int:
        return sum(self._all("retiring"))

    @property
    def cpu_each(self) -> list[float]:
        """CPU seconds so far of each process."""
        return [t.cpu if t is not None else 0.0 for t in self.ticks]

    def wait_ready(self, stop: StopFlag) -> None:
        deadline = time.monotonic() + LOADGEN_START_SECONDS
        while not all(t is not None for t in self.ticks):
            stop.check()
            self.poll(TICK)
            for proc in self.processes:
                if not proc.alive():
                    raise ReproError(f"the load generator did not start: {proc.died_message()}")
            if time.monotonic() > deadline:
                raise ReproError(f"the load generator did not start within "
                                 f"{LOADGEN_START_SECONDS:.0f} s")


def stop_generator(pipe) -> None:
    with contextlib.suppress(OSError):
        send_message(pipe, Stop())
    pipe.close()


def load_processes(config: Config) -> int:
    """Enough processes that none needs much more than half a core."""
    if config.ramp.load_processes:
        return config.ramp.load_processes
    most = config.ramp.top if config.ramp.open_loop else (
        config.ramp.top / config.ramp.think_time if config.ramp.think_time > 0 else math.inf)
    cores = os.cpu_count() or 1
    return max(1, min(cores, math.ceil(most / RATE_PER_LOAD_PROCESS) if math.isfinite(most)
                      else cores))


@contextlib.contextmanager
def load_generator(url: str, config: Config, workdir: Path,
                   stop: StopFlag) -> Iterator[LoadDriver]:
    """The load generator processes, each started like the servers (its
    own process group, gone with repro) and talked to through a socket
    pair."""
    from multiprocessing.connection import Connection as Pipe
    target = HttpTarget.parse(url)
    count = load_processes(config)
    script = Path(__file__).resolve()
    with contextlib.ExitStack() as stack:
        pipes, processes = [], []
        for i in range(count):
            ours, theirs = socket.socketpair()
            spec = json.dumps({"target": dataclasses.asdict(target), "timeout": config.ramp.timeout,
                               "think_time": config.ramp.think_time,
                               "max_in_flight": max(1, config.ramp.max_in_flight // count)})
            code = (f"import sys; sys.path.insert(0, {str(script.parent)!r}); "
                    f"import {script.stem}; {script.stem}.load_generator_main("
                    f"{theirs.fileno()}, {spec!r})")
            try:
                proc = stack.enter_context(managed_process(
                    f"load generator {i + 1}", [sys.executable, "-c", code],
                    workdir / f"loadgen-{i + 1}.log", stop_signal=signal.SIGTERM,
                    pass_fds=[theirs.fileno()], stop=stop))
            except BaseException:
                ours.close()
                raise
            finally:
                theirs.close()
            pipe = Pipe(ours.detach())
            # First of all: told to stop, and its pipe closed, so that it stops
            # even if it missed the word.
            stack.callback(stop_generator, pipe)
            pipes.append(pipe)
            processes.append(proc)
        driver = LoadDriver(pipes, processes, config.ramp.open_loop)
        driver.wait_ready(stop)
        yield driver


def warm_up(url: str, workers: int, server: ManagedProcess,
            stop: StopFlag) -> tuple[str, str]:
    """Send requests on fresh connections until every worker has answered a
    few; none of them is counted.  They run in daemon threads, so that a
    signal ends the warm-up at once, whatever they still wait for.  What it
    saw, and the database driver the view said it used."""
    drivers: set[str] = set()

    def fetch(answers: list, i: int) -> None:
        got = http_get(url, WARMUP_SECONDS)
        if got.status == 200:
            answers[i] = got.headers.get("X-Repro-Worker")
            drivers.add(got.headers.get("X-Repro-Driver", ""))

    seen: dict[str, int] = {}
    sent = 0
    deadline = time.monotonic() + WARMUP_SECONDS
    while time.monotonic() < deadline:
        answers: list[Optional[str]] = [None] * (2 * workers)
        threads = [threading.Thread(target=fetch, args=(answers, i), daemon=True)
                   for i in range(len(answers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                stop.check()
                thread.join(TICK)
        if not server.alive():
            raise ReproError(f"during warm-up, {server.died_message()}")
        sent += len(answers)
        for worker in filter(None, answers):
            seen[worker] = seen.get(worker, 0) + 1
        if len(seen) >= workers and min(seen.values()) >= 3:
            break
    text = f"{sent} requests, {len(seen)} of {workers} workers answered"
    if len(seen) < workers:
        text += " (not every worker was warmed up)"
    return text, ", ".join(sorted(filter(None, drivers)))


# ---------------------------------------------------------------------------
# The ramp's plan: which level to measure next (pure functions of the steps)
# ---------------------------------------------------------------------------

def linear_plan(top: int, step: int) -> list[int]:
    """step, 2*step, ... top: the plain Locust-style ramp."""
    plan = list(range(step, top + 1, step))
    if not plan or plan[-1] != top:
        plan.append(top)
    return plan


def adaptive_plan(top: int, step: int) -> list[int]:
    """Fine steps all the way: a threshold is known to within one step, and
    a ramp to 300 takes 22 steps instead of 30."""
    plan = [min(step, top)]
    while plan[-1] < top:
        plan.append(min(top, fine_up(plan[-1], step)))
    return plan


def _between(low: int, high: int, step: int) -> int:
    """The middle of the fine steps from low up to high (the lower one of
    two), so that each half is a whole number of fine steps: 40..80 by 10
    is bisected at 60, then 70, and never leaves a gap one user wider than
    a fine step to bisect again."""
    grid = [low]
    while fine_up(grid[-1], step) < high:
        grid.append(fine_up(grid[-1], step))
    grid.append(high)
    return grid[max(1, (len(grid) - 1) // 2)]


def search_next(steps: Sequence[StepStats], top: int, step: int) -> Optional[int]:
    """The knee search.  It starts at the lowest level (`step`), jumps to
    four times it, then doubles the level until a threshold shows; the gap
    below it is bisected until it is one fine step wide, and a fine step
    above the lowest level found over the threshold confirms it (or shows it
    was noise) where no level measured within two fine steps above does;
    and the doubling goes on for the other threshold, up to `top`.  Before the first bisection (or last)
    comes twice the lowest level, the second low-load window of the
    baseline, some time after the first.  Each threshold thus ends up
    between measured levels one fine step apart, as on a ramp of fine steps,
    without measuring every level far below or above it."""
    if not steps:
        return min(step, top)
    by_level = sorted(steps, key=lambda s: s.level)
    levels = [s.level for s in by_level]
    highest = levels[-1]
    second = 2 * step if 2 * step < top and 2 * step not in levels else None
    for flags in (slowed_flags(by_level), erring_flags(by_level)):
        for i, flag in enumerate(flags):
            if not flag:
                continue
            last = i == len(levels) - 1
            gap = i > 0 and levels[i] > fine_up(levels[i - 1], step)
            if not last and confirms(levels[i], levels[i + 1], step):
                if not flags[i + 1]:
                    continue  # a lone noisy level: not a threshold
            elif not gap and not (last and highest >= top):
                return min(top, fine_up(levels[i], step))  # confirm it, one fine step up
            # The threshold, or a level still to be confirmed: its
            # confirmation waits until the bisection below it is done, which
            # mostly finds the threshold lower (confirmed there by this
            # level) and so saves a step far into the overload.  The second
            # baseline window comes first, as it may move the threshold.
            if gap:
                return second or _between(levels[i - 1], levels[i], step)
            break
        else:
            if highest < top:
                coarse = 4 * step if highest == step else highest * COARSE_FACTOR
                return min(top, max(fine_up(highest, step), coarse))
    return second


def _fixed(plan: Callable[[int, int], list[int]]) -> Callable[..., Optional[int]]:
    def next_level(steps: Sequence[StepStats], top: int, step: int) -> Optional[int]:
        levels = plan(top, step)
        if early_stop_reason(steps) or len(steps) >= len(levels):
            return None
        return levels[len(steps)]
    return next_level


@dataclass(frozen=True)
class RampKind:
    name: str
    next_level: Callable[..., Optional[int]]  # (steps, top, step) -> the next level, or None
    plan: Optional[Callable[[int, int], list[int]]]  # the fixed ramps' levels
    description: str
    percent_steps: bool = True  # a fine step is 10% of the level where that is more than --step


RAMPS = {
    "search": RampKind("search", search_next, None,
                       "doubles the level until a threshold shows, then bisects the gap below "
                       "it to one fine step"),
    "adaptive": RampKind("adaptive", _fixed(adaptive_plan), adaptive_plan,
                         "every fine step up, one after the other"),
    "linear": RampKind("linear", _fixed(linear_plan), linear_plan,
                       "every --step up, one after the other", percent_steps=False),
}


def probe_first_level(low: StepStats, slots: Optional[int], expected_rps: Optional[float]) -> int:
    """The users a saturation probe goes to after its low-load level: with
    no think time, users = rate x the time a request takes, so PROBE_HEADROOM
    times what the lower of its known bounds needs (the slots, one request
    each for that time; the rate expected from a shorter wait), and one per
    slot at least."""
    hold = (low.p50_ms or 0.0) / 1000.0
    rates = [r for r in (slots / hold if slots and hold else None, expected_rps) if r]
    if not rates or not hold:
        return max(PROBE_FIRST, slots or 0)
    return max(2, slots or 0, math.ceil(PROBE_HEADROOM * min(rates) * hold))


def probe_saturated(steps: Sequence[StepStats]) -> bool:
    """The last doubling (past the low-load level) gained less than PROBE_GAIN."""
    return len(steps) >= 3 and steps[-1].rps < (1 + PROBE_GAIN) * steps[-2].rps


def probe_next(steps: Sequence[StepStats], first: Callable[[StepStats], int],
               top: int) -> Optional[int]:
    """A saturation probe's levels: one user (the time a request takes at low
    load), then first(that step) users, doubled until saturated, erring, or
    at top."""
    if not steps:
        return 1
    last = steps[-1]
    if is_erring(last) or last.level >= top or probe_saturated(steps):
        return None
    return min(top, max(2, first(last)) if len(steps) == 1 else 2 * last.level)


def probe_capacity(steps: Sequence[StepStats]) -> tuple[Optional[float], bool]:
    """What a probe held once saturated (its last doubling gained less than
    PROBE_GAIN, whether or not that level erred): the higher of its last two
    levels' successful req/s, and True; unsaturated, the most a level past
    the first served (a lower bound), and False."""
    if probe_saturated(steps):  # errors past it are the overload's, not the capacity's
        return max(steps[-1].rps, steps[-2].rps), True
    served = [s.rps for s in steps[1:]]
    return (max(served) if served else None), False


# ---------------------------------------------------------------------------
# The measuring method: a step, a ramp on the plan just above, and when
# the server must start afresh
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StepRules:
    """How a step is timed: the settling, then the window."""
    spread: float  # new users start over this long (one think time); in open loop, settle this long
    seconds: float  # the window lasts at least this long,
    min_requests: int  # and until this many requests have ended in it,
    max_seconds: float  # but no longer than this; settling gets as long again at most,
    timeout: float = 0.0  # or until the requests time out, if that is longer
    cycle: float = 0.0  # closed loop: the think time; a window lasts a user's whole cycle
    latencies: int = 0  # and at least this many median latencies (probe_rules)


class RampStopped(Exception):
    """The ramp cannot go on: the server died (error) or a signal came."""

    def __init__(self, reason: str, error: Optional[str] = None, interrupted: bool = False):
        super().__init__(reason)
        self.reason, self.error, self.interrupted = reason, error, interrupted


def measure_step(driver: LoadDriver, level: int, order: int, rules: StepRules,
                 previous: Optional[StepStats], clock: Callable[[], float],
                 check: Callable[[], None],
                 again: Callable[[StepWindow], bool] = lambda window: False,
                 meter: Callable[[], Mapping[str, Optional[float]]] = dict) -> StepWindow:
    """Move the load to `level` and measure it.

    The step settles for one think time (the new users' first requests are
    spread over it) plus the previous step's median latency, and until
    every request still in flight was sent after that think time: the queue
    has turned over once at the new level, however long it has grown or
    shrunk.  After a ramp down it also waits for the retired users' last
    requests to end.  It gives up after rules.max_seconds or the request
    timeout, whichever is longer: by then every request of the previous
    level has ended, if only by timing out, so what ends in the window was
    sent at this level (requests that never end are the exception).

    The window then lasts rules.seconds, and at least one user cycle: one
    think time plus the median latency of the requests that ended in the
    window so far.  With a fixed think time, closed-loop users come back in
    waves, one per cycle, and a window shorter than a cycle would count a
    wave's crest or trough.  (The requests that ended while settling would
    not tell the cycle: right after a step up, most of them were sent at
    the lower level, and those sent at this one are the quick ones.)  It
    also lasts until enough requests have ended in it, but no longer than
    rules.max_seconds (or one cycle, if that is longer).  What ended in the
    window is the step's: the next step begins at once, with no wait for
    the requests still in flight (they were sent at this level, but are
    like those that ended in the window, which were too).

    Where `again` says so of the window, it goes on for as long and as many
    requests again, and the step counts both: near the slowdown threshold,
    where one window's median may fall on either side (NEAR_SLOWDOWN).

    `meter` (CPU seconds so far of each process group) is read when the
    window opens and when it closes, as is the load generator's own CPU:
    the window's CPU, of the same seconds as its requests."""
    start = clock()
    cpu_start = driver.cpu_each
    driver.set_level(level, rules.spread)
    spread_end = start + rules.spread
    settled = spread_end + ((previous.p50_ms or 0.0) / 1000.0 if previous else 0.0)
    give_up = spread_end + max(rules.max_seconds, rules.timeout)
    window_start = None
    first_started, seconds, longest = 0, rules.seconds, rules.max_seconds
    windows, need = 1, rules.min_requests
    scanned = len(driver.samples)  # samples looked at
    latencies: list[float] = []  # of the requests that ended in the window
    pending: list[tuple[float, float]] = []  # (end, latency): in the window, but after as_of
    while True:
        check()
        driver.poll(TICK)
        if window_start is None:
            oldest = driver.oldest_in_flight
            turned_over = oldest is None or oldest >= spread_end
            reported = driver.as_of  # what the conditions below were true at
            if reported >= start and ((reported >= settled and driver.retiring == 0
                                       and turned_over) or reported >= give_up):
                # At the newest report: each process had turned over by its
                # own, and a request that ended before it may have been one
                # sent earlier.  The count of requests sent is as of then.
                window_start, first_started = driver.newest, driver.started
                cpu_from, client_from = meter(), sum(driver.cpu_each)
        else:
            # Those that ended by as_of are all in; later ones wait their turn.
            pending.extend((s.end, s.end - s.start) for s in driver.samples[scanned:]
                           if s.end >= window_start)
            scanned = len(driver.samples)
            latencies.extend(latency for end, latency in pending if end < driver.as_of)
            pending = [(end, latency) for end, latency in pending if end >= driver.as_of]
            held = driver.as_of - window_start
            if (held >= seconds and (len(latencies) >= need or held >= longest)
                    and held >= windows * max(_cycle(rules, latencies),
                                              rules.latencies * _median(latencies))):
                used = [b - a for a, b in zip(cpu_start, driver.cpu_each)]
                groups = {g: seconds - cpu_from[g] for g, seconds in meter().items()
                          if seconds is not None and cpu_from.get(g) is not None}
                window = StepWindow(level, order, start, window_start, driver.as_of,
                                    driver.as_of, sum(used), max(used, default=0.0),
                                    sent=driver.started - first_started, windows=windows,
                                    cpu_window={**groups,
                                                "client": sum(driver.cpu_each) - client_from})
                if windows > 1 or not again(window):
                    return window
                windows += 1
                seconds, longest, need = 2 * seconds, 2 * longest, 2 * need


def _median(latencies: list[float]) -> float:
    return sorted(latencies)[len(latencies) // 2] if latencies else 0.0


def _cycle(rules: StepRules, latencies: list[float]) -> float:
    """A closed-loop user's cycle, by the latencies so far: think time plus
    their median (0 in open loop, or before any request ended)."""
    if not rules.cycle or not latencies:
        return 0.0
    return rules.cycle + _median(latencies)


def needs_fresh_server(steps: Sequence[StepStats], on_this_server: Sequence[StepStats],
                       level: int, step: int = DEFAULT_STEP) -> bool:
    """Whether `level` must wait for a restarted server: it lies below a
    level this server was already measured at, this server has been
    slowed down or has failed since it started, and `level` lies below the
    slowdown threshold, if one is confirmed.  A level is measured as a ramp
    that only went up would find it: a server can stay slower for a while
    after an overload, but a ramp reaches a level past its slowdown
    threshold on a server overloaded since that threshold, not on a fresh
    one (docs/measurements.md, "Hysteresis")."""
    if not any(level < s.level for s in on_this_server):
        return False
    by_level = sorted(steps, key=lambda s: s.level)
    slowdown = find_thresholds(by_level, step, last_counts=False).slowdown
    if slowdown is not None and level >= slowdown:
        return False
    baseline = baseline_of(by_level)
    return any(is_slowed(s, baseline) or is_erring(s) for s in on_this_server)


@dataclass
class RampRun:
    """What run_ramp saw: its steps, why it ended, the server's death (or
    None), whether a signal cut it short, how often the server restarted for
    a lower level, and the CPU seconds of each process group the meter
    reads, with the successful requests, over the measured windows."""
    steps: tuple[StepStats, ...]
    reason: str
    short: str = ""  # the reason in a few words
    error: Optional[str] = None
    interrupted: bool = False
    restarts: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    ok_requests: int = 0

    def cpu_ms(self) -> dict[str, float]:
        return ({group: 1000.0 * seconds / self.ok_requests
                 for group, seconds in self.cpu_seconds.items()} if self.ok_requests else {})


def probe_rules(rules: StepRules, steps: Sequence[StepStats]) -> StepRules:
    """A probe's first level needs few requests: one user's time varies
    little.  Past it, new users start spread over that time, and a window
    lasts PROBE_LATENCIES median latencies: users with no think time that
    started at once come back in bursts one latency apart, and a window
    would count a whole burst more or less."""
    if not steps:
        return dataclasses.replace(rules, min_requests=PROBE_LOW_REQUESTS)
    return dataclasses.replace(rules, latencies=PROBE_LATENCIES,
                               spread=(steps[0].p50_ms or 0.0) / 1000.0)


def step_rules(ramp: RampSettings, seconds: float) -> StepRules:
    """A ramp's steps, and a profile's level, with windows of `seconds`."""
    return StepRules(spread=OPEN_LOOP_SETTLE if ramp.open_loop else ramp.think_time,
                     seconds=seconds, min_requests=ramp.min_requests,
                     max_seconds=MAX_WINDOW_FACTOR * seconds, timeout=ramp.timeout,
                     cycle=0.0 if ramp.open_loop else ramp.think_time)


def run_ramp(driver: LoadDriver, config: Config, clock: Callable[[], float],
             check: Callable[[], None], on_step: Callable[[StepStats], None],
             restart: Optional[Callable[[], None]] = None,
             meter: Callable[[], dict[str, Optional[float]]] = dict,
             probe: Optional[Callable[[Sequence[StepStats]], Optional[int]]] = None) -> RampRun:
    """Steps chosen by the ramp's plan, until it has none left.  With
    `probe` (a saturation probe's plan, probe_next) the levels are its, none
    is held for a second window, and the CPU counts from the second level
    on: the first is its low-load level."""
    kind = RAMPS[config.ramp.kind]

    def next_level(steps: Sequence[StepStats]) -> Optional[int]:
        return probe(steps) if probe else kind.next_level(steps, config.ramp.top, config.ramp.step)

    rules = step_rules(config.ramp, config.ramp.step_seconds)
    run = RampRun(steps=(), reason="completed")
    steps: list[StepStats] = []
    on_this_server: list[StepStats] = []
    level = None
    try:
        while (level := next_level(steps)) is not None:
            # None: a server repro did not start, which it cannot restart.
            if restart is not None and needs_fresh_server(steps, on_this_server, level,
                                                          config.ramp.step):
                # Users off, the server killed with whatever it still does
                # (nothing of it is measured), a new one on the same port.
                driver.set_level(0, 0.0)
                restart()
                run.restarts += 1
                on_this_server = []
            baseline = baseline_of(sorted(steps, key=lambda s: s.level))
            window = measure_step(
                driver, level, len(steps) + 1,
                probe_rules(rules, steps) if probe else rules,
                on_this_server[-1] if on_this_server else None, clock, check,
                again=lambda w: not probe and is_near_slowdown(step_stats(w, driver.samples),
                                                               baseline), meter=meter)
            steps.append(step_stats(window, driver.samples))
            if len(steps) > 1 or not probe:
                for group, seconds in window.cpu_window.items():
                    if group != "client":
                        run.cpu_seconds[group] = run.cpu_seconds.get(group, 0.0) + seconds
                run.ok_requests += steps[-1].requests - steps[-1].failures
            on_this_server.append(steps[-1])
            on_step(steps[-1])
        early = early_stop_reason(steps)
        run.reason = early or "completed"
        run.short = f"stopped at {steps[-1].level}" if early else "completed"
    except RampStopped as e:
        run.short = f"{e.reason} at {level} {config.ramp.unit}"
        run.error, run.interrupted = e.error, e.interrupted
    except Interrupted:  # while a server restarted
        run.short, run.interrupted = f"interrupted at {level} {config.ramp.unit}", True
    except ReproError as e:  # the load generator or a restart failed: keep what was measured
        run.short, run.error = f"stopped at {level} {config.ramp.unit}", str(e)
    else:
        run.steps = tuple(steps)
        return run
    run.reason = f"{run.short} (that step is not counted)"
    run.steps = tuple(steps)
    return run


# ---------------------------------------------------------------------------
# Profiles: where a server's CPU goes, by package (pure functions of the
# stacks py-spy recorded)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CodeGroup:
    """A group of code a sample can fall in, by py-spy's short file names:
    a package's directory or a module's file (the longest that matches
    wins)."""
    name: str  # its key in the JSON
    label: str
    files: tuple[str, ...] = ()


PROFILE_GROUPS = {g.name: g for g in (
    CodeGroup("django", "Django's request handling", ("django/",)),
    CodeGroup("orm", "Django's ORM and database layer", ("django/db/",)),
    CodeGroup("templates", "templates", ("django/template/", "django/templatetags/")),
    CodeGroup("asgiref", "asgiref", ("asgiref/",)),
    CodeGroup("event_loop", "asyncio and the event loop", ("asyncio/", "uvloop/")),
    CodeGroup("http_server", "the HTTP server and its parser",
              ("gunicorn/", "uvicorn/", "uvicorn_worker/", "h11/", "httptools/", "granian/")),
    CodeGroup("driver", "the database driver",
              ("psycopg2/", "psycopg/", "psycopg_pool/", "psycopg_c/", "asyncpg/")),
    CodeGroup("view", "the view's own code (repro.py)", ("repro.py",)),
    CodeGroup("stdlib", "the standard library"),  # by module name: stdlib_file
    CodeGroup("other", "other"),  # any other package, and stacks with no group in them
)}
# Django's shared helpers (translation, lazy objects, functional tools) are in
# no group: their time counts to the part of Django, or whatever else, that
# called them.
NO_GROUP = ("django/utils/",)
# A sample taken while a module was being imported is the server starting,
# not serving: it is left out.
IMPORTING = "<frozen importlib._bootstrap"
TOP_FRAMES = 10


def frame_file(frame: str) -> str:
    """The file of one of py-spy's frames, 'function (file:line)'; '' for
    the process frames it puts at the root ('process 12:"command"')."""
    if frame.startswith("process ") or not frame.endswith(")") or " (" not in frame:
        return ""
    return frame[frame.rindex(" (") + 2:-1].rsplit(":", 1)[0]


def stdlib_file(path: str) -> bool:
    if path.startswith("<frozen "):
        return True
    top = path.split("/", 1)[0]
    return top.removesuffix(".py") in sys.stdlib_module_names


def frame_group(frame: str) -> Optional[str]:
    """The group a frame belongs to; None for a process frame or a shared
    helper of Django's (NO_GROUP)."""
    path = frame_file(frame)
    if not path or path.startswith(NO_GROUP):
        return None
    best, length = None, 0
    for g in PROFILE_GROUPS.values():
        for prefix in g.files:
            if (path == prefix or path.startswith(prefix)) and len(prefix) > length:
                best, length = g.name, len(prefix)
    if best is not None:
        return best
    return "stdlib" if stdlib_file(path) else "other"


def parse_collapsed(lines: Iterator[str]) -> list[tuple[tuple[str, ...], int]]:
    """py-spy's raw output (the collapsed format flame graph tools read):
    'frame;frame;... count', outermost first.  Lines that are not stacks are
    skipped."""
    stacks = []
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack.endswith((")", '"')) and count.isdigit():
            stacks.append((tuple(stack.split(";")), int(count)))
    return stacks


def sample_group(stack: Sequence[str]) -> str:
    """The innermost frame that belongs to a group names the sample's."""
    for frame in reversed(stack):
        group = frame_group(frame)
        if group is not None:
            return group
    return "other"


def self_frame(stack: Sequence[str]) -> str:
    """A stack's innermost frame without its line ('function (file)'), or
    '(no Python frame)'."""
    for frame in reversed(stack):
        if frame_file(frame):
            return frame.rsplit(":", 1)[0] + ")"
    return "(no Python frame)"


@dataclass(frozen=True)
class StackCounts:
    """What the stacks of one profile add up to."""
    samples: int  # those counted
    by_group: dict[str, int]
    by_frame: dict[str, int]  # self time: samples whose innermost frame this is
    starting: int  # left out: taken while a module was being imported


def count_stacks(stacks: Sequence[tuple[tuple[str, ...], int]]) -> StackCounts:
    by_group = {g: 0 for g in PROFILE_GROUPS}
    by_frame: dict[str, int] = {}
    samples = starting = 0
    for stack, count in stacks:
        if any(frame_file(f).startswith(IMPORTING) for f in stack):
            starting += count
            continue
        samples += count
        by_group[sample_group(stack)] += count
        frame = self_frame(stack)
        by_frame[frame] = by_frame.get(frame, 0) + count
    return StackCounts(samples, by_group, by_frame, starting)


@dataclass(frozen=True)
class Profile:
    """Where one setup's server processes spent their CPU, sampled by py-spy
    at one level held steady, beside the same level held without sampling
    (on a fresh server each)."""
    level: int  # users, or req/s in open loop
    samples: int
    shares: dict[str, float]  # of the samples, by group (PROFILE_GROUPS)
    top_frames: tuple[tuple[str, float], ...]  # the most self time, share of the samples
    server_cpu_ms: Optional[float]  # per successful request, at level, without sampling
    rps_without: Optional[float]
    rps_with: Optional[float]
    p50_without: Optional[float] = None  # ms: where req/s cannot move (below saturation,
    p50_with: Optional[float] = None  # or in open loop), the latency shows the cost
    profiler_cpu_ms: Optional[float] = None  # py-spy's own CPU per request: the cores' loss
    starting: int = 0  # samples left out: the server starting (importing)
    errors: int = 0  # samples py-spy failed to take
    file: str = ""  # where the stacks were written, if they were
    rate: int = PROFILE_RATE  # samples a second, of each process
    seconds: float = DEFAULT_PROFILE_SECONDS  # each window, at least

    @property
    def overhead(self) -> Optional[float]:
        """The throughput sampling cost: 1 - with / without."""
        if not self.rps_with or not self.rps_without:
            return None
        return 1.0 - self.rps_with / self.rps_without

    def ms_per_request(self, group: str) -> Optional[float]:
        if self.server_cpu_ms is None:
            return None
        return self.shares.get(group, 0.0) * self.server_cpu_ms


def profile_of(counts: StackCounts, level: int, server_cpu_ms: Optional[float],
               rps_without: Optional[float], rps_with: Optional[float],
               **more) -> Profile:
    total = counts.samples or 1
    top = sorted(counts.by_frame.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FRAMES]
    return Profile(level, counts.samples, {g: n / total for g, n in counts.by_group.items()},
                   tuple((f, n / total) for f, n in top), server_cpu_ms, rps_without, rps_with,
                   starting=counts.starting, **more)


@dataclass(frozen=True)
class GroupDifference:
    group: str
    a_ms: float
    b_ms: float

    @property
    def ms(self) -> float:
        return self.b_ms - self.a_ms


def profile_difference(a: Profile, b: Profile) -> tuple[GroupDifference, ...]:
    """Each group's CPU per request in b minus in a, the largest (either
    way) first; empty where either lacks its CPU per request."""
    if a.server_cpu_ms is None or b.server_cpu_ms is None:
        return ()
    rows = [GroupDifference(g, a.ms_per_request(g) or 0.0, b.ms_per_request(g) or 0.0)
            for g in PROFILE_GROUPS]
    return tuple(sorted(rows, key=lambda d: -abs(d.ms)))


def main_contributors(diffs: Sequence[GroupDifference], most: int = 3,
                      share: float = 0.8) -> tuple[GroupDifference, ...]:
    """The fewest groups (two at least, `most` at most) whose differences,
    in the direction of the total, make up `share` of it."""
    total = sum(d.ms for d in diffs)
    if not diffs or total == 0:
        return ()
    same_way = [d for d in diffs if d.ms * total > 0]
    chosen: list[GroupDifference] = []
    for d in same_way:
        chosen.append(d)
        if len(chosen) >= 2 and (sum(c.ms for c in chosen) / total >= share
                                 or len(chosen) == most):
            break
    return tuple(chosen)


# ---------------------------------------------------------------------------
# Results: what a ramp and a setup measured
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RampResult:
    """One ramp of one setup: a repeat."""
    steps: tuple[StepStats, ...]  # in the order measured
    stop_reason: str  # "completed", or why the ramp ended early
    warmup: str = ""
    error: Optional[str] = None  # the setup could not be measured (fully)
    log_findings: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False  # a signal cut its ramp short
    restarts: int = 0  # the server started afresh for a lower level
    step: int = DEFAULT_STEP  # the ramp's fine step
    driver: str = ""  # the database driver the view said it used
    # CPU per successful request over the measured steps, by process group:
    # "server", "postgres", "upstream" (where each could be measured).
    cpu_ms: dict[str, float] = field(default_factory=dict)
    max_db_connections: Optional[int] = None  # the most open at once during the ramp
    ended_as: str = ""  # how it ended, in a few words ("": as stop_reason says)
    probe: bool = False  # a saturation probe's (probe_next), not a ramp's
    round: int = 1  # the round (a run's repeat) it was measured in

    @property
    def capacity(self) -> tuple[Optional[float], bool]:
        """What it held once saturated, and whether it was (a probe's, or a
        ramp's capacity); unsaturated, the most it served, a lower bound."""
        return probe_capacity(self.steps) if self.probe else self.thresholds.held

    @property
    def capacity_steps(self) -> tuple[StepStats, ...]:
        """The steps its capacity comes from: a probe's level that held the
        most of its last two once saturated (of all past its first where
        not); a ramp's plateau."""
        if self.probe:
            held = self.steps[-2:] if probe_saturated(self.steps) else self.steps[1:]
            return (max(held, key=lambda s: s.rps),) if held else ()
        t = self.thresholds
        return tuple(plateau_windows(self.by_level, t.slowdown, t.errors))

    @property
    def saturated_cpu_ms(self) -> dict[str, float]:
        """CPU per successful request of each process group ("client": the
        load generator) at the steps its capacity comes from; where the
        steps did not record it, or there is no capacity, over all it
        measured."""
        own = cpu_ms_of(self.capacity_steps)
        if own is not None:
            return own
        client = self.client_cpu_ms
        return {**self.cpu_ms, **({"client": client} if client is not None else {})}

    @property
    def ended(self) -> str:
        return self.ended_as or self.stop_reason

    @property
    def by_level(self) -> tuple[StepStats, ...]:
        return tuple(sorted(self.steps, key=lambda s: s.level))

    @property
    def thresholds(self) -> Thresholds:
        # A ramp cut short did not measure above its highest level: that one
        # is not confirmed by being the last.
        return find_thresholds(self.by_level, self.step,
                               last_counts=not (self.interrupted or self.error))

    @property
    def client_cpu_ms(self) -> Optional[float]:
        """The load generator's CPU per request, over the whole ramp."""
        sent = [(s.client_cpu_ms, s.requests) for s in self.steps if s.client_cpu_ms is not None]
        weight = sum(n for _, n in sent)
        return sum(ms * n for ms, n in sent) / weight if weight else None


@dataclass(frozen=True)
class SetupResult:
    cell: Optional[Cell]  # None for a URL that `ramp` was pointed at
    ramps: tuple[RampResult, ...]  # one per repeat (a study's round), in the order run
    url: Optional[str] = None  # the endpoint, for `ramp`
    profile: Optional[Profile] = None  # --profile's, after the ramps
    probes: tuple[RampResult, ...] = ()  # a study's saturation probes, one per round

    @property
    def name(self) -> str:
        return self.url if self.cell is None else self.cell.name

    @property
    def driver(self) -> str:
        """The database driver the view said it used."""
        return next((r.driver for r in (*self.ramps, *self.probes) if r.driver), "")

    @property
    def capacity_runs(self) -> tuple[RampResult, ...]:
        """What its capacity comes from: its probes where it has them, else
        its ramps."""
        return self.probed or self.measured

    def cpu_ms(self, group: str) -> Optional[float]:
        """CPU per successful request of a process group ("client" too) at
        the steps its capacity comes from, the median over the repeats (of
        two, their mean, as the capacity's median is)."""
        values = [r.saturated_cpu_ms.get(group) for r in self.capacity_runs]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    @property
    def max_db_connections(self) -> Optional[int]:
        values = [r.max_db_connections for r in (*self.measured, *self.probed)
                  if r.max_db_connections is not None]
        return max(values) if values else None

    @property
    def measured(self) -> tuple[RampResult, ...]:
        """Its ramps that measured something."""
        return tuple(r for r in self.ramps if r.steps)

    @property
    def thresholds(self) -> Thresholds:
        """Each measure's median over the repeats (the lower middle one for
        an even count, so that it is a level that was measured)."""
        return median_thresholds([r.thresholds for r in self.measured])

    @property
    def error(self) -> Optional[str]:
        return next((r.error for r in (*self.ramps, *self.probes) if r.error), None)

    @property
    def probed(self) -> tuple[RampResult, ...]:
        """Its saturation probes that measured something."""
        return tuple(r for r in self.probes if r.steps)

    @property
    def probe_capacity(self) -> tuple[Optional[float], bool]:
        """The probes' capacity, the median over the rounds, and whether
        each was saturated."""
        found = [r.capacity for r in self.probed if r.capacity[0] is not None]
        if not found:
            return None, False
        return (statistics.median(c for c, _ in found), all(ok for _, ok in found))

    @property
    def capacity(self) -> tuple[Optional[float], bool]:
        """What it held once saturated, and whether it was: its probes', the
        median over the rounds, where it has them; else its ramps' (the
        most served, unsaturated, where the load never slowed it down)."""
        return self.probe_capacity if self.probed else self.thresholds.held

    @property
    def service_ms(self) -> Optional[float]:
        """How long a request takes at low load: its probes' first level,
        else its ramps' baseline."""
        return self.low_load_ms if self.probed else self.thresholds.baseline_ms

    @property
    def low_load_ms(self) -> Optional[float]:
        """A probe's first level: the time a request takes with no other in
        progress, the median over the rounds."""
        values = [r.steps[0].p50_ms for r in self.probed if r.steps[0].p50_ms]
        return statistics.median(values) if values else None

    @property
    def interrupted(self) -> bool:
        return any(r.interrupted for r in (*self.ramps, *self.probes))


# ---------------------------------------------------------------------------
# Comparing two setups: outcomes as data (which setup won on which measure,
# by what ratio, whether it could be told).  A difference is substantial
# when it is more than SIMILAR_WITHIN of the larger value and more than one
# ramp step.  Only the renderers turn outcomes into sentences.
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Reached:
    """One setup's threshold: at `level`, or (None) none up to `up_to`."""
    name: str
    level: Optional[int]
    up_to: int
    unit: str = "users"

    @property
    def value(self) -> int:
        # A threshold not reached is only known to lie above up_to.
        return self.up_to if self.level is None else self.level

    @property
    def bound(self) -> bool:
        """Only a lower bound: not reached."""
        return self.level is None

    def text(self) -> str:
        return f"{self.name} {fmt_threshold(self.level, self.up_to, self.unit, prose=True)}"


@dataclass(frozen=True)
class Rate:
    """One setup's throughput: its capacity where the load saturated it,
    else only the most it delivered, which is a lower bound."""
    name: str
    rps: float
    saturated: bool

    @property
    def value(self) -> float:
        return self.rps

    @property
    def bound(self) -> bool:
        return not self.saturated


class Decision(enum.Enum):
    """How a comparison came out; the renderer has a sentence for each."""
    WON = "won"  # one is substantially better
    TIE = "tie"  # no substantial difference
    NEITHER = "neither"  # neither setup reached the threshold
    LOW_CLEAR = "low clear"  # the lower one never reached it: it may hold more
    AT_LEAST = "at least"  # the higher never reached it, and is not yet substantially higher
    UNSATURATED = "unsaturated"  # a throughput that is not a capacity decides nothing


UNDECIDED = (Decision.NEITHER, Decision.LOW_CLEAR, Decision.AT_LEAST, Decision.UNSATURATED)


@dataclass(frozen=True)
class Comparison:
    """Two setups on one measure.  Higher is better on every measure."""
    metric: str  # "Slowdown", "Errors" or "Capacity"
    a: Reached | Rate
    b: Reached | Rate
    decision: Decision
    within: float = SIMILAR_WITHIN
    step: int = 0
    # Each repeat pair's winner (None: neither), where the setups ran repeats.
    repeats: tuple[Optional[str], ...] = ()

    @property
    def high(self) -> Reached | Rate:
        """The better one (on a tie of values, the bound: its true value lies above)."""
        return max((self.a, self.b), key=lambda v: (v.value, v.bound))

    @property
    def low(self) -> Reached | Rate:
        return self.b if self.high is self.a else self.a

    @property
    def ratio(self) -> float:
        """The better value over the other (1.0 for two zeros)."""
        return self.high.value / self.low.value if self.low.value else (
            1.0 if not self.high.value else math.inf)

    @property
    def noisy(self) -> bool:
        """The medians differ, but not every repeat says so."""
        return self.decision is Decision.WON and any(w != self.high.name for w in self.repeats)

    @property
    def winner(self) -> Optional[str]:
        return self.high.name if self.decision is Decision.WON and not self.noisy else None

    @property
    def decided(self) -> bool:
        return self.decision not in UNDECIDED


def compare_thresholds(metric: str, a: Reached, b: Reached, step: int,
                       within: float = SIMILAR_WITHIN) -> Comparison:
    """Higher is better: a threshold reached later means more load served.
    A threshold not reached is only a lower bound, which decides the
    comparison only when even the bound is substantially higher."""
    c = Comparison(metric, a, b, Decision.TIE, within, step)
    high, low = c.high, c.low
    if a.bound and b.bound:
        return dataclasses.replace(c, decision=Decision.NEITHER)
    if low.bound:
        return dataclasses.replace(c, decision=Decision.LOW_CLEAR)
    diff = (high.value - low.value) / high.value
    substantial = diff > within and high.value - low.value > step
    if not substantial:
        return dataclasses.replace(c, decision=Decision.AT_LEAST if high.bound else Decision.TIE)
    return dataclasses.replace(c, decision=Decision.WON)


def compare_rates(metric: str, a: Rate, b: Rate, within: float = SIMILAR_WITHIN) -> Comparison:
    """A throughput that is not a capacity (the load never saturated the
    setup) is only a lower bound: it loses nothing, and wins only where
    it is substantially higher even so."""
    c = Comparison(metric, a, b, Decision.TIE, within)
    high, low = c.high, c.low
    diff = (high.value - low.value) / high.value if high.value else 0.0
    if low.bound or (high.bound and diff <= within):
        return dataclasses.replace(c, decision=Decision.UNSATURATED)
    return dataclasses.replace(c, decision=Decision.WON if diff > within else Decision.TIE)


def rate_of(name: str, t: Thresholds) -> Rate:
    """A setup's capacity, or the most it delivered where it has none."""
    return Rate(name, *t.held)


def compare_thresholds_of(name_a: str, ta: Thresholds, name_b: str, tb: Thresholds, step: int,
                          unit: str, within: float = SIMILAR_WITHIN) -> list[Comparison]:
    return [
        compare_thresholds("Slowdown", Reached(name_a, ta.slowdown, ta.slowdown_up_to, unit),
                           Reached(name_b, tb.slowdown, tb.slowdown_up_to, unit), step, within),
        compare_thresholds("Errors", Reached(name_a, ta.errors, ta.errors_up_to, unit),
                           Reached(name_b, tb.errors, tb.errors_up_to, unit), step, within),
        compare_rates("Capacity", rate_of(name_a, ta), rate_of(name_b, tb), within),
    ]


def compare_setups(a: SetupResult, b: SetupResult, step: int, unit: str,
                   within: float = SIMILAR_WITHIN) -> list[Comparison]:
    """By the medians; with repeats, a winner only where every repeat agrees."""
    overall = compare_thresholds_of(a.name, a.thresholds, b.name, b.thresholds, step, unit,
                                    within)
    # Repeat i of one with repeat i of the other: they ran next to each other.
    pairs = [(ra, rb) for ra, rb in zip(a.ramps, b.ramps) if ra.steps and rb.steps]
    if len(pairs) < 2:
        return overall
    each = [compare_thresholds_of(a.name, ra.thresholds, b.name, rb.thresholds, step, unit,
                                  within) for ra, rb in pairs]
    return [dataclasses.replace(c, repeats=tuple(e[i].winner for e in each))
            for i, c in enumerate(overall)]


@dataclass(frozen=True)
class Side:
    """One of two setups compared: its name, and whether its view is async."""
    name: str
    is_async: bool


SIDES_2021 = (Side("sync", False), Side("async", True))


@dataclass(frozen=True)
class Outcome:
    """Two setups compared on every measure, as data: who won what."""
    a: Side
    b: Side
    comparisons: tuple[Comparison, ...]

    def wins(self, side: Side) -> list[str]:
        return [c.metric.lower() for c in self.comparisons if c.winner == side.name]

    @property
    def winners(self) -> list[Side]:
        return [side for side in (self.a, self.b) if self.wins(side)]

    @property
    def winner(self) -> Optional[Side]:
        """The side that did better on some measure and worse on none."""
        return self.winners[0] if len(self.winners) == 1 else None

    @property
    def mixed(self) -> bool:
        return len(self.winners) == 2

    @property
    def noisy(self) -> list[str]:
        return [c.metric.lower() for c in self.comparisons if c.noisy]

    @property
    def undecided(self) -> list[str]:
        return [c.metric.lower() for c in self.comparisons if not c.decided or c.noisy]

    @property
    def told(self) -> bool:
        """Whether any measure could be told at all."""
        return any(c.decided for c in self.comparisons)

    @property
    def async_side(self) -> Optional[Side]:
        """The async one, where exactly one of the two is."""
        if self.a.is_async != self.b.is_async:
            return self.a if self.a.is_async else self.b
        return None

    @property
    def paid_off(self) -> Optional[bool]:
        """Whether the async side did better and nothing worse; None when
        it could not be told."""
        if self.winners:
            return self.winner is not None and self.winner == self.async_side
        return None if self.undecided else False


def outcome_of(comparisons: Sequence[Comparison], a: Side = SIDES_2021[0],
               b: Side = SIDES_2021[1]) -> Outcome:
    return Outcome(a, b, tuple(comparisons))


def comparison_text(c: Comparison) -> str:
    """One comparison in a sentence, with its figures."""
    high, low, metric = c.high, c.low, c.metric
    if isinstance(high, Rate):
        both = f"{c.a.name} {c.a.value:.1f} req/s, {c.b.name} {c.b.value:.1f} req/s"
        unsaturated = low if low.bound else high
        said = {
            Decision.UNSATURATED: f"cannot tell; the load never slowed {unsaturated.name} down, "
                                  f"so the most it served is not its capacity",
            Decision.TIE: f"no substantial difference ({1 - 1 / c.ratio:.0%} apart)",
            Decision.WON: f"{low.name} reaches only {1 / c.ratio:.0%} of {high.name}'s",
        }[c.decision]
        text = f"{metric}: {both}: {said}"
    else:
        unit, both = c.a.unit, f"{c.a.text()}, {c.b.text()}"
        if c.decision is Decision.NEITHER:
            bounds = (both if 0 in (c.a.up_to, c.b.up_to) else  # 0: not confirmed, nor clear
                      f"{c.a.name} up to {c.a.up_to}, {c.b.name} up to {c.b.up_to} {unit}")
            return f"{metric}: neither setup reached it ({bounds})."
        said = {
            Decision.LOW_CLEAR: f"cannot tell which holds more; {low.name} was measured clear "
                                f"of it " + (f"only up to {low.up_to} {unit}" if low.up_to
                                             else "at no level"),
            Decision.AT_LEAST: f"{high.name} holds at least as much; whether substantially "
                               f"more, a ramp beyond {high.up_to} {unit} would tell",
            Decision.TIE: f"no substantial difference ({1 - 1 / c.ratio:.0%} apart; the rule "
                          f"needs more than {c.within:.0%} and more than one step of {c.step})",
            Decision.WON: f"{high.name} holds {'at least ' if high.bound else ''}"
                          f"{c.ratio - 1:.0%} more {unit} before it is reached",
        }[c.decision]
        text = f"{metric}: {both}: {said}"
    if c.decision is Decision.WON and c.repeats:
        n = len(c.repeats)
        if c.noisy:
            said = ", ".join(w or "neither" for w in c.repeats)
            return (f"{text}; but the {n} repeats do not all agree (better: {said}), so this is "
                    f"within the noise.")
        return f"{text}, in each of the {n} repeats."
    return f"{text}."


def render_verdict(o: Outcome, where: str = "here") -> str:
    """An outcome in one sentence.  When exactly one side's view is async,
    the sentence answers the question of 2021: did async pay off?"""
    a, b, async_side = o.a, o.b, o.async_side
    question = (f"whether the async view made this app faster {where}" if async_side else
                f"which of {a.name} and {b.name} does better {where}")
    if not o.winners:
        if o.noisy:
            return (f"The repeats do not agree on {_join(o.noisy)}: the difference is within the "
                    f"noise, so {question} cannot be told (run more repeats, or on a quieter "
                    f"machine).")
        if o.undecided:
            return (f"No substantial difference shown, but {_join(o.undecided)} could not be "
                    f"told (ramp further): {question} cannot be told yet.")
        if async_side:
            return ("No substantial difference on any measure: the async view did not make "
                    f"this app faster {where}.")
        return f"No substantial difference on any measure between {a.name} and {b.name} {where}."
    if o.mixed:
        first = async_side or a
        second = b if first is a else a
        return (f"Mixed: {first.name} did better on {_join(o.wins(first))}, {second.name} on "
                f"{_join(o.wins(second))}.")
    winner = o.winner
    # What the winner did not win was either a tie or could not be told.
    ties = len(o.comparisons) - len(o.wins(winner)) - len(o.undecided)
    rest = (" and no worse on the rest" if ties and not o.undecided else
            f" ({_join(o.undecided)} undecided)" if o.undecided else "")
    did = f"The {winner.name} setup did better on {_join(o.wins(winner))}{rest}"
    if async_side is None:
        return f"{did} {where}."
    return f"{did}: async {'paid off' if winner == async_side else 'did not pay off'} {where}."


# ---------------------------------------------------------------------------
# What limits a setup: each rule is an entry of LIMITS, which bounds the
# throughput it allows from what the run measured; the setup's capacity
# names the one it came near.
# ---------------------------------------------------------------------------

# A capacity within this share of a bound is that bound's doing.
LIMIT_WITHIN = 0.15

CPU_GROUPS = {"server": "server", "postgres": "PostgreSQL", "client": "load generator",
              "upstream": "upstream API"}


@dataclass(frozen=True)
class LimitContext:
    """What the rules need beyond the setup's own results."""
    cores: int
    server: ServerSettings
    db_limit_rps: Optional[float]  # PostgreSQL alone, as measured in the run
    max_connections: Optional[int]


@dataclass(frozen=True)
class Limit:
    """What held a setup, as data."""
    kind: str  # a key of LIMITS
    capacity_rps: Optional[float] = None
    bound_rps: Optional[float] = None  # what that limit allows
    cpu_ms: Optional[float] = None  # CPU per request, all processes
    cores: int = 0
    slots: Optional[int] = None  # requests the server serves at once
    slot_name: str = ""  # what a slot is: "workers", "threads"
    service_ms: Optional[float] = None  # how long a request holds one, at low load
    wait: str = ""  # what a request waits on, where it waits
    wait_ms: Optional[float] = None
    # Its errors: PostgreSQL refusing connections ("too many clients"), and
    # the most connections it held, of max_connections.
    refused: int = 0
    held: Optional[int] = None
    max_connections: Optional[int] = None


@dataclass(frozen=True)
class LimitKind:
    name: str
    rule: str  # the rule, for the report's folded rules
    noun: Callable[[Limit], str]  # what held the setup, without figures
    # (setup, context) -> the Limit it would be, with the req/s it allows;
    # None where the run did not measure what it needs.
    bound: Optional[Callable[[SetupResult, LimitContext], Optional[Limit]]] = None
    # What held the setup, with the figures its rule used ('' where nothing
    # that can be named did: the summary says which).
    words: Callable[[Limit], str] = lambda x: ""
    foreign: bool = False  # it can be said of a server repro did not start

    def label(self, x: Limit) -> str:
        """Short, with what it allows in req/s, for the summary table."""
        return self.noun(x) + (f" ({x.bound_rps:.0f})" if x.bound_rps is not None else "")


def cores_allow(cpu_ms: Mapping[str, Optional[float]], cores: int) -> Optional[Limit]:
    """What the cores allow at this CPU per request of each process group."""
    total = sum(c for g in CPU_GROUPS if (c := cpu_ms.get(g)) is not None)
    if not total or not cores:
        return None
    return Limit("cores", bound_rps=1000.0 * cores / total, cpu_ms=total, cores=cores)


def _cores_bound(r: SetupResult, ctx: LimitContext) -> Optional[Limit]:
    return cores_allow({g: r.cpu_ms(g) for g in CPU_GROUPS}, ctx.cores)


def _slots_bound(r: SetupResult, ctx: LimitContext) -> Optional[Limit]:
    server = SERVERS[r.cell.server]
    baseline = r.service_ms
    slots = server.slots_at(ctx.server.workers, ctx.server.threads)
    if slots is None or not baseline:
        return None
    workload = WORKLOADS[r.cell.workload]
    wait, wait_ms = workload.waits_on, workload.wait_ms(ctx.server, r.cell.wait_ms)
    # Mostly waiting: the wait, not the work, is what the slots run out on.
    kind = "wait" if wait and 2 * wait_ms >= baseline else "slots"
    return Limit(kind, bound_rps=1000.0 * slots / baseline, slots=slots,
                 slot_name=server.slot_name, service_ms=baseline, wait=wait, wait_ms=wait_ms)


def _postgres_bound(_r: SetupResult, ctx: LimitContext) -> Optional[Limit]:
    return None if not ctx.db_limit_rps else Limit("postgres", bound_rps=ctx.db_limit_rps)


LIMITS = {k.name: k for k in (
    LimitKind("cores", f"**the cores**: its capacity lies within {LIMIT_WITHIN:.0%} of what the "
                       f"machine's cores allow at the CPU it cost per request, all processes "
                       f"together (cores x 1000 / CPU ms per request)",
              lambda x: f"the {x.cores} cores", _cores_bound,
              lambda x: f"the {x.cores} cores ({x.cpu_ms:.1f} ms of CPU per request allow "
                        f"{x.bound_rps:.0f} req/s)"),
    LimitKind("slots", f"**the workers** (or threads): its capacity lies within "
                       f"{LIMIT_WITHIN:.0%} of what they serve, one request each at a time "
                       f"(workers, or workers x threads for gthread, x 1000 / the baseline "
                       f"median in ms)", lambda x: f"its {x.slots} {x.slot_name}", _slots_bound,
              lambda x: f"its {x.slots} {x.slot_name} ({x.slots} at a time, "
                        f"{x.service_ms:.0f} ms each: {x.bound_rps:.0f} req/s)"),
    LimitKind("wait", "**the wait**: as the workers, where a request spends half its baseline "
                      "or more waiting on the upstream API or the database",
              lambda x: f"its {x.slots} {x.slot_name} waiting on the {x.wait}",
              words=lambda x: f"its {x.slots} {x.slot_name} waiting on the {x.wait} (each "
                              f"request {x.service_ms:.0f} ms, {x.wait_ms:.0f} of them "
                              f"waiting: {x.bound_rps:.0f} req/s at most)"),
    LimitKind("postgres", f"**PostgreSQL**: its capacity lies within {LIMIT_WITHIN:.0%} of what "
                          f"PostgreSQL alone served in this run",
              lambda x: "PostgreSQL itself", _postgres_bound,
              lambda x: f"PostgreSQL itself (alone it served {x.bound_rps:.0f} pairs of "
                        f"queries a second)"),
    LimitKind("none", "**nothing reached**: the load never slowed it down",
              lambda x: "nothing reached", foreign=True),
    LimitKind("unclear", "**not clear**: it slowed down, but its capacity lies near none of "
                         "those bounds", lambda x: "not clear"),
    LimitKind("inconsistent", f"**inconsistent**: its capacity lies more than "
                              f"{LIMIT_WITHIN:.0%} above what the cores allow at its own CPU per "
                              f"request, so one of the two figures is off (a study does not "
                              f"rank it)", lambda x: "inconsistent: over the cores"),
    LimitKind("unknown", "**not known**: a server repro did not start, whose CPU and workers "
                         "it cannot see", lambda x: "not known", foreign=True),
)}
# A setup's errors are PostgreSQL's connections when its server log has
# PostgreSQL refusing them.
REFUSED = "too many clients"


def over_cores(capacity: Optional[float], cores: Optional[Limit]) -> bool:
    """A capacity more than LIMIT_WITHIN above what the cores allow at the
    CPU per request measured with it: figures that contradict each other."""
    return (capacity is not None and cores is not None
            and capacity > (1 + LIMIT_WITHIN) * cores.bound_rps)


def limit_of(r: SetupResult, ctx: LimitContext) -> Limit:
    """The bound a setup's capacity came near (the lowest, where several
    did), with what its errors came from.  A study's cell is held to its
    probes' capacity, and its ramps say where its errors came from."""
    t = r.thresholds
    refused = sum(x.log_findings.get(REFUSED, 0) for x in r.measured)
    errors = dict(refused=refused if t.errors is not None else 0, held=r.max_db_connections,
                  max_connections=ctx.max_connections)
    capacity, saturated = r.capacity
    if not saturated:
        return Limit("none", **errors)
    if r.cell is None:
        return Limit("unknown", capacity_rps=capacity, **errors)
    cores = _cores_bound(r, ctx)
    if over_cores(capacity, cores):
        return dataclasses.replace(cores, kind="inconsistent", capacity_rps=capacity, **errors)
    near = [x for kind in LIMITS.values() if kind.bound
            and (x := kind.bound(r, ctx)) is not None
            and abs(capacity - x.bound_rps) <= LIMIT_WITHIN * x.bound_rps]
    if not near:
        return Limit("unclear", capacity_rps=capacity, **errors)
    return dataclasses.replace(min(near, key=lambda x: x.bound_rps), capacity_rps=capacity,
                               **errors)


@dataclass(frozen=True)
class Bounds:
    """What each limit allows a probed setup (the wait sweep), in req/s."""
    slots: Optional[int]  # requests it serves at once; None: as many as come
    hold_ms: Optional[float]  # how long a request holds one: its time at low load
    slots_rps: Optional[float]  # slots x 1000 / hold_ms
    cpu_ms: Optional[float]  # CPU per request, all processes, saturated
    cores_rps: Optional[float]  # cores x 1000 / cpu_ms

    @property
    def predicted_rps(self) -> Optional[float]:
        known = [x for x in (self.slots_rps, self.cores_rps) if x is not None]
        return min(known) if known else None

    @property
    def limited_by(self) -> Optional[str]:
        """The binding bound: "slots" or "cores"."""
        if self.predicted_rps is None:
            return None
        return "slots" if self.slots_rps == self.predicted_rps else "cores"


def bounds_of(r: SetupResult, ctx: LimitContext) -> Bounds:
    """A probed setup's bounds.  The async view's event loop holds as many
    requests as come, and its pool holds a connection for a query, not
    through the wait: it has no slots bound."""
    slots, cores = _slots_bound(r, ctx), _cores_bound(r, ctx)
    return Bounds(SERVERS[r.cell.server].slots_at(ctx.server.workers, ctx.server.threads),
                  r.low_load_ms, slots.bound_rps if slots else None,
                  cores.cpu_ms if cores else None, cores.bound_rps if cores else None)


def off_prediction(capacity: Optional[float], bounds: Bounds) -> Optional[float]:
    """How far the capacity lies from the prediction, as a share of it, where
    that is more than PREDICTION_WITHIN (None: within, or not known)."""
    predicted = bounds.predicted_rps
    if capacity is None or not predicted:
        return None
    off = capacity / predicted - 1
    return off if abs(off) > PREDICTION_WITHIN else None


# ---------------------------------------------------------------------------
# The study: each question is data (its cells, and the pairs it weighs on
# their own), measured in rounds; its answer comes from the same comparisons
# as a run's conclusion, told only where every round says the same, so
# nothing here knows which cell is "sync" or "async".
# ---------------------------------------------------------------------------

def _with(cell: Cell, **axes) -> Cell:
    return dataclasses.replace(cell, **axes)


@dataclass(frozen=True)
class Question:
    id: int
    title: str
    about: str  # what its cells vary, and what they hold equal
    # (the sweep's waits, the servers' settings) -> its cells
    cells: Callable[[tuple[float, ...], ServerSettings], tuple[Cell, ...]]
    # Pairs weighed on their own, each with a label; where their winners
    # differ, `factor` (what the pairs differ in) changed the outcome.
    pairs: tuple[tuple[str, Cell, Cell], ...] = ()
    factor: str = ""
    sweep: bool = False  # its answer is where the async view overtakes, over a swept wait
    # Its cells that run PostgreSQL out of connections are ramped for their
    # thresholds: where their errors start is part of its answer.
    thresholds: bool = False


def _fixed_cells(*cells: Cell) -> Callable[..., tuple[Cell, ...]]:
    return lambda _waits, _server: cells


def _servers_of(workload: str) -> tuple[Cell, ...]:
    """Sync workers, gthread, the async view on Uvicorn and the sync view on
    Uvicorn, pooled so that only the workload differs from question 1."""
    sync = _with(NAMED_CELLS["sync"], connections="pooled", workload=workload)
    return (sync, _with(sync, server="gunicorn-gthread"),
            _with(NAMED_CELLS["async"], connections="pooled", workload=workload),
            _with(sync, server=NAMED_CELLS["async"].server))


def _pooled_or_not(number: int, title: str, about: str, label: str, a: Cell, b: Cell,
                   *more: str) -> Question:
    """Two cells each without and with pools (and with the connections
    `more` names): do the connections change which of them does better?"""
    kinds = ("pooled", *more)
    variants = [(k, _with(a, connections=k), _with(b, connections=k)) for k in kinds]
    return Question(number, title, about,
                    _fixed_cells(a, b, *(c for _, ca, cb in variants for c in (ca, cb))),
                    pairs=((label, a, b), *variants), factor="the connections",
                    thresholds=True)


def _sweep_cells(waits: tuple[float, ...], server: ServerSettings) -> tuple[Cell, ...]:
    """Sync workers, gthread and the async view on Uvicorn, pooled, calling
    the upstream API; each wait in turn, shortest first.  At --upstream-ms
    a point is question 2's cell itself, measured once for both."""
    sync = _with(NAMED_CELLS["sync"], connections="pooled", workload="upstream")
    bases = (sync, _with(sync, server="gunicorn-gthread"),
             _with(NAMED_CELLS["async"], connections="pooled", workload="upstream"))
    return tuple(_with(base, wait_ms=None if w == server.upstream_ms else w)
                 for w in sorted(waits) for base in bases)


_SYNC, _ASYNC = NAMED_CELLS["sync"], NAMED_CELLS["async"]
_SYNC_ORM, _ASYNC_ORM = Cell("sync-orm", _SYNC.server), Cell("async-orm", _ASYNC.server)
QUESTIONS = {q.id: q for q in (
    _pooled_or_not(1, "Is it async, or the connections?",
                   "2021's two setups, each with a new connection for each query (as in 2021) "
                   "and with a connection pool per worker process.",
                   "a new connection for each query", _SYNC, _ASYNC),
    Question(2, "A slow upstream API",
             "Each view also calls an HTTP API that answers after --upstream-ms: sync workers, "
             "gthread workers, the async view on Uvicorn and the sync view on Uvicorn, all "
             "pooled.", lambda _w, _s: _servers_of("upstream")),
    Question(3, "A slow database",
             "Each query also waits --db-ms in PostgreSQL: the servers of question 2, all "
             "pooled.", lambda _w, _s: _servers_of("slow-db")),
    _pooled_or_not(4, "The ORM today",
                   "The sync ORM on sync workers and the async ORM on Uvicorn, with Django's "
                   "connection per request, with its psycopg 3 pool, and with persistent "
                   "connections (CONN_MAX_AGE), which Django's documentation advises against "
                   "under ASGI.",
                   "a connection per request", _SYNC_ORM, _ASYNC_ORM, "persistent"),
    Question(5, "2021's settings",
             "2021's async setup with and without the settings it ran with (DEBUG on, asyncio "
             "debug mode on).",
             _fixed_cells(_ASYNC, _with(_ASYNC, as_2021=True)),
             pairs=(("with and without 2021's settings", _ASYNC, _with(_ASYNC, as_2021=True)),)),
    Question(6, "Which ASGI server?",
             "Question 1's async view with pools (async+pooled) on each ASGI server available "
             "here.",
             lambda _w, _s: tuple(_with(_ASYNC, connections="pooled", server=s.name)
                                  for s in SERVERS.values() if s.asgi)),
    Question(7, "How long may a request wait?",
             "The upstream API's wait swept over --waits: sync workers, gthread workers and the "
             "async view on Uvicorn, all pooled, each at the capacity a saturation probe finds, "
             "beside what its slots and the cores allow.", _sweep_cells, sweep=True),
)}


THRESHOLD_QUESTIONS = [str(q.id) for q in QUESTIONS.values() if q.thresholds]


@dataclass(frozen=True)
class Asked:
    """A question as a study ran it: the cells measured for it, and those
    skipped, each with why."""
    id: int
    cells: tuple[Cell, ...]
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class Measurement:
    """One thing a round measures: a setup's ramp (a cell's, or a URL's), or
    a cell's saturation probe."""
    setup: Any  # a Cell, or a URL
    probe: bool = False


def round_order(items: Sequence, round_: int) -> list:
    """The order of a round: the first as given, the second reversed, so
    that a drift of the machine one way over the two hits every item alike
    (on average); each further pair of rounds starts one item later."""
    shift = (round_ - 1) // 2 % max(1, len(items))
    turned = [*items[shift:], *items[:shift]]
    return turned if round_ % 2 else turned[::-1]


def study_sequence(asked: Sequence[Asked]) -> tuple[Measurement, ...]:
    """A study's measurements in its first round's order: question by
    question, each question that shares a cell with one placed before it
    right after that one (a shared cell is measured once a round, beside
    both); each cell once: its ramp first where a question asks for its
    thresholds (it runs PostgreSQL out of connections), then its probe."""
    todo, placed = list(asked), []
    while todo:
        group = [todo.pop(0)]
        for q in list(todo):  # in order; one sharing with one just placed joins
            if any(set(q.cells) & set(g.cells) for g in group):
                group.append(q)
                todo.remove(q)
        placed += group
    ramped = {c for q in asked if QUESTIONS[q.id].thresholds for c in q.cells
              if CONNECTIONS[c.connections].runs_out}
    cells = dict.fromkeys(c for q in placed for c in q.cells)
    return tuple(m for c in cells for m in (
        *([Measurement(c)] if c in ramped else []), Measurement(c, True)))


class Told(enum.Enum):
    """What the rounds tell of two cells on one measure."""
    A = "a"  # the first did better past the study's margin, in every round
    B = "b"  # the second did
    ALIKE = "alike"  # no substantial difference by a run's rule, in every round
    UNTOLD = "not told"  # the rounds disagree, or lie between the two rules


def round_told(by_rule: Comparison, past: Comparison) -> Told:
    """One round's word on two cells: who did better past the study's margin;
    alike by a run's rule (or neither reached a threshold); else neither (more
    apart than the rule, less than the margin, or a bound that tells nothing)."""
    if past.decision is Decision.WON:
        return Told.A if past.high is past.a else Told.B
    if by_rule.decision in (Decision.TIE, Decision.NEITHER):
        return Told.ALIKE
    return Told.UNTOLD


@dataclass(frozen=True)
class Relation:
    """Two cells on one measure, round by round: each round compared by a
    run's rule and past the study's margin."""
    metric: str
    a: str
    b: str
    rounds: tuple[tuple[int, Comparison, Comparison], ...]  # (round, by the rule, past the margin)
    wanted: int = 1  # the study's rounds: fewer measured tell nothing
    void: str = ""  # why nothing is told whatever the rounds say

    @property
    def each(self) -> tuple[Told, ...]:
        return tuple(round_told(by_rule, past) for _, by_rule, past in self.rounds)

    @property
    def told(self) -> Told:
        each = set(self.each)
        if self.void or len(self.rounds) < self.wanted or len(each) != 1:
            return Told.UNTOLD
        return each.pop()

    @property
    def winner(self) -> Optional[str]:
        return {Told.A: self.a, Told.B: self.b}.get(self.told)

    @property
    def disagree(self) -> bool:
        """Some rounds say one thing, some another."""
        return len(set(self.each)) > 1

    def said_by_any(self, name: str) -> bool:
        """Whether any round put `name` ahead past the margin."""
        mine = Told.A if name == self.a else Told.B
        return mine in self.each

    def values(self, name: str) -> list[Reached | Rate]:
        """`name`'s value in each round."""
        return [(by_rule.a, by_rule.b)[name != self.a] for _, by_rule, _ in self.rounds]


@dataclass(frozen=True)
class Ranked:
    """A cell's capacity over the rounds: the median (saturated only if every
    round was), its range, and the rounds whose capacity its own CPU per
    request contradicts."""
    name: str
    rate: Rate
    low: float
    high: float
    over_cores: tuple[int, ...] = ()
    cores_rps: Optional[float] = None  # the median of what the cores allowed each round

    @property
    def ranked(self) -> bool:
        return not self.over_cores


def rates_by_round(r: SetupResult) -> dict[int, Rate]:
    """Each round's capacity of a cell: its probe's, else its ramp's."""
    return {run.round: Rate(r.name, *run.capacity) for run in r.capacity_runs
            if run.capacity[0] is not None}


def ranked_of(r: SetupResult, ctx: LimitContext) -> Optional[Ranked]:
    rates = rates_by_round(r)
    if not rates:
        return None
    values = [x.value for x in rates.values()]
    bounds = {run.round: cores_allow(run.saturated_cpu_ms, ctx.cores) for run in r.capacity_runs}
    over = tuple(k for k, x in sorted(rates.items())
                 if x.saturated and over_cores(x.value, bounds.get(k)))
    allowed = [b.bound_rps for b in bounds.values() if b is not None]
    return Ranked(r.name, Rate(r.name, statistics.median(values),
                               all(x.saturated for x in rates.values())),
                  min(values), max(values), over,
                  statistics.median(allowed) if allowed else None)


def contradicted(*cells: Optional[Ranked]) -> str:
    """Why two cells tell nothing of each other: those of them whose
    capacity their own CPU per request contradicts ("" where none does)."""
    over = [x.name for x in cells if x is not None and not x.ranked]
    return f"{_join(over)}: capacity over its own cores bound" if over else ""


def relations_of(a: SetupResult, b: SetupResult, step: int, unit: str, wanted: int,
                 void: str = "") -> tuple[Relation, ...]:
    """Two cells round by round, on each measure both measured: the
    thresholds where both were ramped, and capacity."""
    out = []
    ta = {x.round: x.thresholds for x in a.measured}
    tb = {x.round: x.thresholds for x in b.measured}
    both = sorted(set(ta) & set(tb))
    for metric, level, up_to in (("Slowdown", "slowdown", "slowdown_up_to"),
                                 ("Errors", "errors", "errors_up_to")):
        if not both:
            break
        rounds = []
        for k in both:
            x = Reached(a.name, getattr(ta[k], level), getattr(ta[k], up_to), unit)
            y = Reached(b.name, getattr(tb[k], level), getattr(tb[k], up_to), unit)
            rounds.append((k, compare_thresholds(metric, x, y, step),
                           compare_thresholds(metric, x, y, step, RELIABLY_WITHIN)))
        out.append(Relation(metric, a.name, b.name, tuple(rounds), wanted))
    ca, cb = rates_by_round(a), rates_by_round(b)
    rounds = tuple((k, compare_rates("Capacity", ca[k], cb[k]),
                    compare_rates("Capacity", ca[k], cb[k], RELIABLY_WITHIN))
                   for k in sorted(set(ca) & set(cb)))
    out.append(Relation("Capacity", a.name, b.name, rounds, wanted, void))
    return tuple(out)


@dataclass(frozen=True)
class PairAnswer:
    """Two of a question's cells, on every measure both have."""
    label: str  # the question's name for the pair, or "A and B"
    a: str
    b: str
    relations: tuple[Relation, ...]

    def wins(self, name: str) -> list[Relation]:
        return [r for r in self.relations if r.winner == name]

    @property
    def told(self) -> Told:
        """A (or B): it did better on some measure in every round, and no
        round put the other ahead on any; ALIKE: alike on every measure;
        else not told (a mixed pair included: see `mixed`)."""
        for mine, other, told in ((self.a, self.b, Told.A), (self.b, self.a, Told.B)):
            if self.wins(mine) and not any(r.said_by_any(other) for r in self.relations):
                return told
        if all(r.told is Told.ALIKE for r in self.relations):
            return Told.ALIKE
        return Told.UNTOLD

    @property
    def winner(self) -> Optional[str]:
        return {Told.A: self.a, Told.B: self.b}.get(self.told)

    @property
    def mixed(self) -> bool:
        """Each did better on some measure, in every round."""
        return bool(self.wins(self.a)) and bool(self.wins(self.b))


@dataclass(frozen=True)
class Tier:
    """Cells the rounds do not tell apart, ranked together: alike in every
    round, or not told apart."""
    cells: tuple[Ranked, ...]
    alike: bool
    disagree: bool = False  # some two of them: the rounds said different things
    # Two of them that the rounds did tell apart, (the better, the other):
    # others between them keep the line from being drawn.
    told: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SweepPoint:
    """One cell of the sweep at one wait, over the rounds."""
    name: str
    base: str  # its name without the wait: the line it lies on
    wait_ms: float
    capacity_rps: Optional[float]  # the median over the rounds
    saturated: bool  # False: the capacity is a lower bound
    bounds: Bounds
    users: int  # the most the probe ran
    low: Optional[float] = None  # the range over the rounds
    high: Optional[float] = None


@dataclass(frozen=True)
class Sweep:
    """A sweep question's answer: its points, and for each other cell what
    the rounds said at each wait: Told.A where the async view beat it by the
    margin in every round, Told.ALIKE where in no round it came within a
    run's rule of that, else not told."""
    points: tuple[SweepPoint, ...]
    faster: Optional[str]  # the async view's cell, by its base name
    said: tuple[tuple[str, tuple[tuple[float, Told], ...]], ...]  # other -> (wait, told)
    # Where the bounds put each crossover (predicted_crossover)
    predicted: tuple[tuple[str, Optional[float]], ...] = ()

    @property
    def crossovers(self) -> tuple[tuple[str, Optional[float]], ...]:
        """For each other cell, the wait from which on the async view beat it
        in every round (None: not at the longest wait)."""
        return tuple((other, crossover(dict(waits))) for other, waits in self.said)

    @property
    def untold(self) -> tuple[tuple[str, tuple[float, ...]], ...]:
        return tuple((other, tuple(w for w, t in waits if t is Told.UNTOLD))
                     for other, waits in self.said)


@dataclass(frozen=True)
class Answer:
    """A question's answer, as data: the renderer words it."""
    pairs: tuple[PairAnswer, ...]  # every two cells measured
    weighed: tuple[PairAnswer, ...]  # the pairs the question weighs on their own
    factor: str  # what those pairs differ in
    ranking: tuple[Tier, ...]  # by capacity, best first
    unranked: tuple[Ranked, ...]  # cells whose capacity their own CPU contradicts
    missing: tuple[str, ...]  # cells the question asked for but nothing measured
    sweep: Optional[Sweep] = None  # a sweep question's

    @property
    def answered(self) -> bool:
        return sum(len(t.cells) for t in self.ranking) >= 2

    @property
    def winner(self) -> Optional[str]:
        """The one cell that did best past the margin in every round, if one did."""
        if len(self.ranking) > 1 and len(self.ranking[0].cells) == 1:
            return self.ranking[0].cells[0].name
        return None

    @property
    def worst(self) -> Optional[Tier]:
        return self.ranking[-1] if len(self.ranking) > 1 else None

    @property
    def factor_changed(self) -> Optional[bool]:
        """Whether the weighed pairs came out differently (None: no factor,
        a single pair, or one of them not told)."""
        if len(self.weighed) < 2 or not self.factor:
            return None
        said = [p.told for p in self.weighed]
        if Told.UNTOLD in said:
            return None
        return len(set(said)) > 1


def ranking_of(ranked: Sequence[Ranked], capacity: Mapping[frozenset, Relation]
               ) -> tuple[Tier, ...]:
    """Tiers, best first: a line is drawn between two ranks only where every
    cell above it did better than every cell below it, past the margin, in
    every round.  Within a tier, the cells keep the order they were given: a
    tie reads the same whichever came out ahead this time."""
    if not ranked:
        return ()
    given = {x.name: i for i, x in enumerate(ranked)}
    order = sorted(ranked, key=lambda x: (-x.rate.value, x.rate.bound))

    def beats(x: Ranked, y: Ranked) -> bool:
        return capacity[frozenset((x.name, y.name))].winner == x.name
    cuts = [i for i in range(1, len(order))
            if all(beats(x, y) for x in order[:i] for y in order[i:])]
    tiers = []
    for start, end in zip([0, *cuts], [*cuts, len(order)]):
        cells = sorted(order[start:end], key=lambda x: given[x.name])
        pairs = [capacity[frozenset((x.name, y.name))]
                 for x, y in itertools.combinations(cells, 2)]
        told = tuple((p.winner, p.b if p.winner == p.a else p.a) for p in pairs if p.winner)
        tiers.append(Tier(tuple(cells), all(p.told is Told.ALIKE for p in pairs),
                          any(p.disagree for p in pairs), told))
    return tuple(tiers)


def crossover(said: Mapping[float, Told]) -> Optional[float]:
    """The wait from which on (at it and at every longer wait measured) the
    faster cell beat the other by the margin in every round (Told.A).  None:
    not at the longest wait."""
    found = None
    for wait in sorted(said, reverse=True):
        if said[wait] is not Told.A:
            break
        found = wait
    return found


def crossing(relation: Relation) -> Told:
    """At one wait: A (beaten) where the faster cell beat the other past the
    margin in every round; ALIKE (not beaten) where in every round it did
    not even do so by a run's rule (the other within it, or ahead); else not
    told."""
    def each(by_rule: Comparison, past: Comparison) -> Told:
        if past.decision is Decision.WON and past.high is past.a:
            return Told.A
        if by_rule.decision is Decision.TIE or (by_rule.decision is Decision.WON
                                                and by_rule.high is by_rule.b):
            return Told.ALIKE
        return Told.UNTOLD
    said = {each(by_rule, past) for _, by_rule, past in relation.rounds}
    if relation.void or len(relation.rounds) < relation.wanted or len(said) != 1:
        return Told.UNTOLD
    return said.pop()


# What the rounds said of a wait of the sweep (crossing), in words: the
# report, the JSON and the claims compared across studies use these.
CROSSING_WORDS = {Told.A: "beaten", Told.ALIKE: "not beaten", Told.UNTOLD: "not told"}


def base_name(cell: Cell) -> str:
    """A swept cell's name without its wait: the line its points lie on."""
    return dataclasses.replace(cell, wait_ms=None).name


def sweep_of(asked: Asked, by_cell: dict[Cell, SetupResult], ctx: LimitContext,
             wanted: int) -> Sweep:
    points = []
    lines: dict[str, list[tuple[SweepPoint, SetupResult]]] = {}  # shortest wait first
    fast = None  # the async view's base
    for cell in asked.cells:
        r = by_cell.get(cell)
        if r is None or not r.probed:
            continue
        capacity, saturated = r.probe_capacity
        caps = [c for c, _ in (p.capacity for p in r.probed) if c is not None]
        point = SweepPoint(cell.name, base_name(cell),
                           WORKLOADS[cell.workload].wait_ms(ctx.server, cell.wait_ms), capacity,
                           saturated, bounds_of(r, ctx),
                           max((s.level for m in r.probed for s in m.steps), default=0),
                           min(caps, default=None), max(caps, default=None))
        points.append(point)
        lines.setdefault(point.base, []).append((point, r))
        if fast is None and VIEWS[cell.view].is_async:
            fast = point.base
    others = [b for b in lines if fast and b != fast]

    def said(other: str) -> dict[float, Told]:
        mine = {p.wait_ms: r for p, r in lines[fast]}
        return {p.wait_ms: crossing(relations_of(
            mine[p.wait_ms], r, 1, "users", wanted,
            contradicted(ranked_of(mine[p.wait_ms], ctx), ranked_of(r, ctx)))[-1])
            for p, r in lines[other] if p.wait_ms in mine}
    return Sweep(tuple(points), fast, tuple((b, tuple(sorted(said(b).items()))) for b in others),
                 tuple((b, predicted_crossover([p for p, _ in lines[fast]],
                                               [p for p, _ in lines[b]])) for b in others))


def predicted_crossover(faster: Sequence[SweepPoint],
                        other: Sequence[SweepPoint]) -> Optional[float]:
    """The wait at which the other's slots bound falls to (1 - RELIABLY_WITHIN)
    of what the cores allow the faster one (both medians over the waits):
    slots x 1000 / that - the other's service time.  None: no slots bound."""
    cores = [p.bounds.cores_rps for p in faster if p.bounds.cores_rps]
    held = [(p.bounds.slots, p.bounds.hold_ms - p.wait_ms) for p in other
            if p.bounds.slots and p.bounds.hold_ms]
    if not cores or not held:
        return None
    service = statistics.median(ms for _, ms in held)
    return max(0.0, held[0][0] * 1000.0 / ((1 - RELIABLY_WITHIN) * statistics.median(cores))
               - service)


def rank_by_capacity(results: Sequence[SetupResult],
                     within: float = RELIABLY_WITHIN) -> tuple[tuple[Rate, ...], ...]:
    """A run's setups in tied groups, best first: each within `within` of its
    group's best.  A setup the load never saturated ranks by the most it
    served, a lower bound."""
    rates = sorted((rate_of(r.name, r.thresholds) for r in results),
                   key=lambda x: (-x.value, x.bound))
    groups: list[list[Rate]] = []
    for rate in rates:
        if groups and rate.value >= (1 - within) * groups[-1][0].value:
            groups[-1].append(rate)
        else:
            groups.append([rate])
    order = {r.name: i for i, r in enumerate(results)}
    return tuple(tuple(sorted(g, key=lambda x: order[x.name])) for g in groups)


def sides(a: SetupResult, b: SetupResult) -> tuple[Side, Side]:
    """The pair as a verdict sees it.  Whether async paid off is asked
    only of two setups alike but for the view and its server: otherwise
    what differs is more than the view."""
    if a.cell is None or b.cell is None:  # a URL: what it runs is not known
        return Side(a.name, False), Side(b.name, False)
    same = all(getattr(a.cell, axis) == getattr(b.cell, axis)
               for axis in ("connections", "workload", "as_2021"))
    return (Side(a.name, same and VIEWS[a.cell.view].is_async),
            Side(b.name, same and VIEWS[b.cell.view].is_async))


def answer_question(question: Question, asked: Asked, setups: Sequence[SetupResult],
                    step: int, unit: str, ctx: LimitContext, wanted: int = 1) -> Answer:
    """Every two of the question's measured cells, round by round, the
    pairs the question weighs, and the cells ranked by capacity, told only
    where every round agrees; for a sweep question, its sweep instead.  A
    cell whose capacity its own CPU per request contradicts decides nothing."""
    by_cell = {r.cell: r for r in setups if r.capacity_runs}
    results = [by_cell[c] for c in asked.cells if c in by_cell]
    missing = tuple(c.name for c in asked.cells if c not in by_cell)
    if question.sweep:
        return Answer((), (), "", (), (), missing, sweep_of(asked, by_cell, ctx, wanted))
    ranked = {r.name: x for r in results if (x := ranked_of(r, ctx)) is not None}

    def pair(label: str, a: SetupResult, b: SetupResult) -> PairAnswer:
        return PairAnswer(label, a.name, b.name, relations_of(
            a, b, step, unit, wanted, contradicted(ranked.get(a.name), ranked.get(b.name))))
    pairs = tuple(pair(f"{a.name} and {b.name}", a, b)
                  for a, b in itertools.combinations(results, 2))
    weighed = tuple(pair(label, by_cell[a], by_cell[b])
                    for label, a, b in question.pairs if a in by_cell and b in by_cell)
    capacity = {frozenset((p.a, p.b)): p.relations[-1] for p in pairs}
    order = [ranked[r.name] for r in results if r.name in ranked]
    return Answer(pairs, weighed, question.factor,
                  ranking_of([x for x in order if x.ranked], capacity),
                  tuple(x for x in order if not x.ranked), missing)


def claims(answer: Answer) -> dict[tuple, str]:
    """What an answer tells, pair by pair and measure by measure (who did
    better, or "alike"); what it does not tell is absent.  Two runs of a
    study contradict each other where they tell a pair differently."""
    told = {}
    for p in answer.pairs:
        for r in p.relations:
            if r.told is not Told.UNTOLD:
                told[(r.metric, *sorted((r.a, r.b)))] = r.winner or "alike"
    for other, waits in answer.sweep.said if answer.sweep else ():
        for wait, said in waits:
            if said is not Told.UNTOLD:
                told[("Beaten", other, wait)] = CROSSING_WORDS[said]
    return told


# ---------------------------------------------------------------------------
# The report: what a run produced, and where
# ---------------------------------------------------------------------------

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
    postgres_private: bool = True
    container: Optional[str] = None  # what repro detected it runs in, if any
    virtual_machine: bool = False


@dataclass(frozen=True)
class Settings:
    """What of the Config a report needs to be read (passwords masked)."""
    setups: tuple[str, ...]  # names of cells, or the URLs ramped
    ramp: RampSettings  # load_processes: as many as ran
    server: ServerSettings
    plan: tuple[int, ...] = ()  # the fixed ramps' levels; empty for the search
    max_connections: Optional[int] = None  # of the private cluster; None with a DSN
    dsn: Optional[str] = None
    urls: tuple[str, ...] = ()  # `ramp`: endpoints of servers that are not repro's
    waits: tuple[float, ...] = ()  # the wait sweep's, where a study ran it


@dataclass(frozen=True)
class GaugeReading:
    """The machine's speed, taken before a round of a study (after the last:
    `round` one past it): PostgreSQL alone, the median of GAUGE_READINGS."""
    round: int
    pairs_rps: Optional[float]


@dataclass(frozen=True)
class Report:
    command: str
    started: str
    environment: Optional[Environment]  # None: not known (Locust's CSV names no machine)
    settings: Settings
    setups: tuple[SetupResult, ...]
    seconds: float
    interrupted: Optional[str] = None
    db_limit_rps: Optional[float] = None  # the two queries straight against PostgreSQL
    connect_ms: Optional[float] = None  # opening one connection to it
    questions: tuple[Asked, ...] = ()  # a study's, in the order asked
    unprofiled: dict[str, str] = field(default_factory=dict)  # --profile: setup -> why not
    gauge: tuple[GaugeReading, ...] = ()  # a study's, round by round

    @property
    def ramped(self) -> tuple[SetupResult, ...]:
        """The setups ramped (a study probes some cells only)."""
        return tuple(r for r in self.setups if r.ramps)

    def limit_context(self) -> LimitContext:
        env = self.environment
        return LimitContext(cores=env.cpu_count if env else 0, server=self.settings.server,
                            db_limit_rps=self.db_limit_rps,
                            max_connections=env.max_connections if env else None)

    def answers(self) -> list[tuple[Question, Asked, Answer]]:
        st, ctx = self.settings, self.limit_context()
        return [(QUESTIONS[a.id], a, answer_question(QUESTIONS[a.id], a, self.setups, st.ramp.step,
                                                     st.ramp.unit, ctx, st.ramp.repeat))
                for a in self.questions]


@dataclass(frozen=True)
class ProfilePair:
    """A sync setup's profile beside the async one that differs from it in
    the view and the server only: what the difference is made of."""
    a: SetupResult  # the sync one
    b: SetupResult  # the async one
    differences: tuple[GroupDifference, ...]  # largest first
    main: tuple[GroupDifference, ...]  # those that make up most of the total

    @property
    def total_ms(self) -> float:
        return sum(d.ms for d in self.differences)

    @property
    def alike(self) -> bool:
        """Closer than two fresh servers of one setup may be (PROFILE_NOISE)."""
        most = max(self.a.profile.server_cpu_ms, self.b.profile.server_cpu_ms)
        return abs(self.total_ms) <= PROFILE_NOISE * most


def profile_pairs(setups: Sequence[SetupResult]) -> list[ProfilePair]:
    """Each profiled async setup with the first profiled sync setup of the
    same kind of view (SQL or ORM), connections, workload and settings."""
    profiled = [r for r in setups if r.profile is not None and r.cell is not None]

    def rest(cell: Cell) -> tuple:
        return (VIEWS[cell.view].orm, cell.connections, cell.workload, cell.as_2021,
                cell.wait_ms)

    pairs = []
    for b in profiled:
        if not VIEWS[b.cell.view].is_async:
            continue
        a = next((r for r in profiled if not VIEWS[r.cell.view].is_async
                  and rest(r.cell) == rest(b.cell)), None)
        if a is not None:
            diffs = profile_difference(a.profile, b.profile)
            if diffs:
                pairs.append(ProfilePair(a, b, diffs, main_contributors(diffs)))
    return pairs


# ---------------------------------------------------------------------------
# Report rendering (pure functions of a Report: Markdown, and the chart's PNG
# bytes)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Published:
    slowdown_users: int
    error_users: int


# Read off Locust charts by eye in 2021 ("~130 users" and so on).
PUBLISHED_2021 = {"sync": Published(130, 310), "async": Published(100, 280)}
PUBLISHED_MACHINE = "8-core AMD, Docker (app and Postgres containers), Locust, read by eye"
PUBLISHED_STEP = 10


def difference_rule(st: Settings) -> str:
    """When two setups differ, as every comparison's text applies it."""
    return (f"- Two setups differ substantially when the smaller value is more than "
            f"{SIMILAR_WITHIN:.0%} below the larger and, for thresholds, more than one step "
            f"({st.ramp.step} {st.ramp.unit}) away. Throughput counts as a setup's capacity "
            "only if the "
            f"load slowed it down; the most a setup served without slowing down is a lower "
            f"bound, which decides nothing unless even it is substantially higher.")


def capacity_rule() -> str:
    return ("- **Capacity**: the throughput a setup holds once saturated: the median req/s of "
            "its plateau's windows. Its plateau runs from the first level measured above the "
            "slowdown threshold (at the threshold itself a server is often not saturated yet) "
            "up to, not including, the error threshold (the threshold's own level where none "
            "lies between); of those, the steady windows where two or more are, else those that "
            "did not drain (a draining window counted a backlog), else all. A "
            "setup the load never slowed down has no capacity: the most it served is only a "
            "lower bound (≥ in the summary). **Plateau spread**: (max - min) / median of the "
            "same windows' req/s: how still throughput held. **Peak req/s** is the highest "
            "req/s of one window that was steady or filling up (a draining window may have "
            "counted a backlog): one short window, kept for reference.")


def limit_rules(own_servers: bool = True) -> list[str]:
    """How the summary's "limited by" is read: every rule for repro's own
    servers, those that apply to answers alone for others'."""
    kinds = [k for k in LIMITS.values() if own_servers or k.foreign]
    refused = (f" Where its server log has PostgreSQL refusing connections (\"{REFUSED}\"), "
               f"its errors are PostgreSQL's connections." if own_servers else "")
    return ["- **Limited by** names the bound a setup's capacity came near; where several "
            "did, the lowest. " + "; ".join(k.rule for k in kinds) + "." + refused]


@dataclass(frozen=True)
class Records:
    """Whose records the rules read, and the words that differ for them."""
    confirming: str  # the level that confirms a threshold
    empty: str  # what counts as slowed down for want of a latency
    failing: str  # which requests count as failed
    own: bool  # repro's own load generator: it says how it measured each step


REPRO_RECORDS = Records(
    "the next level measured", "a step without one successful response",
    "fail (a timeout, a connection error, an HTTP status other than 200 or a malformed "
    "response)", own=True)
LOCUST_RECORDS = Records("the next level", "a level without one answer",
                         "Locust counted failed", own=False)


def threshold_rules(st: Settings, records: Records = REPRO_RECORDS) -> list[str]:
    """The rules a report's thresholds and conclusion follow, as they apply
    to the records it reads."""
    unit = st.ramp.unit
    lines = [
        f"- **Slowdown at**: the lowest level whose median latency is at least "
        f"{SLOWDOWN_FACTOR:g}x the baseline (the lower of the two lowest levels' medians), and "
        f"still is at {records.confirming}; {records.empty} counts as slowed down.",
        f"- **Errors at**: the lowest level where {ERROR_RATE:.0%} or more of the requests "
        f"{records.failing}, and still do at {records.confirming}.",
    ]
    if not records.own:
        return lines + [
            "- The next level must be at most two fine steps higher (a fine step: the lowest "
            f"level, {st.ramp.step} {unit}, or {RESOLUTION:.0%}, whichever is more): a lone "
            "noisy level does not set a threshold. A threshold lies above the level just below "
            "it: it is known to one level of the plan Locust ran.",
            capacity_rule(),
            difference_rule(st),
            *limit_rules(own_servers=False),
        ]
    resolution = (f"within {st.ramp.step} {unit} or {RESOLUTION:.0%}, whichever is more"
                  if RAMPS[st.ramp.kind].percent_steps
                  else f"within {st.ramp.step} {unit}")
    lines += [
        "- The next level measured above must be at most two fine steps higher: a lone noisy "
        "step does not set a threshold. The highest level measured needs no confirmation, "
        "unless the ramp was cut short. "
        "Latencies are of successful responses. A threshold not reached is \"none up to N\", "
        "N being the highest level measured (of a ramp cut short, the highest below the levels "
        "it left unconfirmed).",
        f"- A threshold lies above the level measured just below it: {resolution}.",
        "- req/s counts the successful responses completed during a step's window, and "
        "latencies and failures are of the requests that ended in it, as Locust and wrk count "
        "them; each was sent at the step's level, unless settling gave up. Where the requests "
        "sent and the responses completed per second (sent/s and done/s in the steps; done/s "
        "counts failed responses too) "
        f"differ by more than {STEADY_WITHIN:.0%}, the window did not see a steady state: its "
        "req/s is marked *.",
        capacity_rule(),
        "- client CPU % is the load generator's own CPU time per second, in % of one core (of "
        "its busiest process); near 100% the load generator, not the server, would be the "
        "limit.",
        *limit_rules(own_servers=not st.urls),
        difference_rule(st),
    ]
    if st.ramp.open_loop:
        lines.append(f"- **Sustained**: the highest rate measured below both thresholds (its "
                     f"median within {SLOWDOWN_FACTOR:g}x the lowest rate's, under "
                     f"{ERROR_RATE:.0%} errors); the users it corresponds to are that rate "
                     f"times (think time + its median latency).")
    if st.ramp.repeat > 1:
        lines.append(f"- With {st.ramp.repeat} repeats (run interleaved, one setup after the "
                     "other, the second time in the reverse order of the first), "
                     f"each value is the median (the lower middle one of an even count) with "
                     f"the range in brackets; a comparison names a winner only when every "
                     f"repeat does.")
    return lines


def machine_kind(env: Environment) -> str:
    parts = [f"in a container ({env.container})" if env.container else "not in a container"]
    if env.virtual_machine:
        parts.insert(0, "virtual machine")
    return ", ".join(parts)


def render_environment(report: Report) -> list[str]:
    env, st = report.environment, report.settings
    ramping, servers = st.ramp, st.server
    packages = ", ".join(f"{name} {version}" for name, version in env.packages.items())
    processes = f"{ramping.load_processes} process{'es' if ramping.load_processes > 1 else ''}"
    load = (f"open loop, up to {ramping.max_in_flight} in flight" if ramping.open_loop else
            f"closed loop, think time {ramping.think_time:g} s") + (
        f", timeout {ramping.timeout:g} s; repro's HTTP/1.1 client in {processes}")
    if st.plan:
        ramp = f"{ramping.kind}, {len(st.plan)} steps: {' '.join(map(str, st.plan))} {ramping.unit}"
    else:
        ramp = (f"{ramping.kind} from {ramping.step} to {ramping.top} {ramping.unit}, fine step "
                f"{ramping.step} {ramping.unit} or {RESOLUTION:.0%}")
    if ramping.repeat > 1:
        ramp += f"; {ramping.repeat} repeats, interleaved"
    rows = [
        ["CPU", f"{env.cpu_model} ({env.cpu_count} cores)"],
        ["Memory", env.memory],
        ["Machine", machine_kind(env)],
        ["OS", env.os],
        ["Python", env.python],
        ["Packages", packages],
        ["Uvicorn stack", env.uvicorn_stack],
        ["PostgreSQL", f"{env.postgres_version}, {env.postgres_source}, "
                       f"max_connections {env.max_connections}"],
        ["Servers", f"{servers.workers} workers per server ({servers.threads} threads each for "
                    f"gthread); "
                    f"startproject middleware; Django DEBUG and asyncio debug mode off "
                    f"(on for +2021 setups)"],
        ["Load", load],
        ["Ramp", ramp],
    ]
    if st.urls:  # the machine is the load's; the servers and their database are not repro's
        rows = [row for row in rows if row[0] not in ("Uvicorn stack", "PostgreSQL", "Servers")]
        rows.insert(0, ["Endpoints", f"{', '.join(st.urls)}: not repro's servers, described by "
                                     f"nothing here; this is the machine the load came from"])
    return md_table(["", ""], rows, "ll")


def render_method(st: Settings) -> list[str]:
    """How the load was made and each step measured, in words."""
    ramping = st.ramp
    if ramping.open_loop:
        load = (f"- **Load**: open loop. GETs go out on a fixed schedule whatever the answers, "
                f"at most {ramping.max_in_flight} in flight; a request due beyond that waits, and "
                f"its latency counts from when it was due.")
    else:
        load = (f"- **Load**: closed loop, like Locust's users: each user sends a GET, waits "
                f"for the answer and thinks {ramping.think_time:g} s, on one connection kept alive "
                f"where the server allows. New users start evenly spread over one think time.")
    if st.plan:
        ramp = (f"- **Ramp**: {RAMPS[ramping.kind].description}: "
                f"{' '.join(map(str, st.plan))} {ramping.unit}.")
    else:
        ramp = (f"- **Ramp**: a search from {ramping.step} to {ramping.top} {ramping.unit}. "
                "From the lowest level "
                f"it jumps to four times it, then doubles the level until a threshold shows. "
                f"Bisection narrows the gap below it to one fine step ({ramping.step} "
                f"{ramping.unit} or "
                f"{RESOLUTION:.0%}, whichever is more), and a fine step above the lowest level "
                f"over the threshold confirms it, unless a level measured within two fine steps "
                f"above did; then the doubling goes on for the other threshold. Twice the "
                f"lowest level is "
                f"measured before the first bisection, a while after the lowest: the second "
                f"window of the baseline. The # column gives the order in which the levels were "
                f"measured. " + (
                    "repro cannot restart a server it did not start: a level below one that "
                    "slowed the server down is measured on the same server, which may still "
                    "be slower for a while after the overload." if st.urls else
                    "A level below one that slowed the server down or made it fail is "
                    "measured on a restarted server, since a server can stay slower for a "
                    "while after an overload, unless it lies at or above a slowdown threshold "
                    "already confirmed: a ramp that only went up would reach it on an "
                    "overloaded server too."))
    longest = MAX_WINDOW_FACTOR * ramping.step_seconds  # of a window, and of settling
    gives_up = max(longest, ramping.timeout)  # settling, as measure_step has it
    if ramping.open_loop:
        step = (f"- **Each step** settles for {OPEN_LOOP_SETTLE:g} s plus the previous step's "
                f"median latency, and until every request in flight was sent after that (it "
                f"gives up after {gives_up:g} s). Its window then lasts {ramping.step_seconds:g} s "
                f"and until {ramping.min_requests} requests have ended in it, at most "
                f"{longest:g} s.")
    else:
        step = (f"- **Each step** settles for one think time plus the previous step's median "
                f"latency, and until every request in flight was sent after that think time: "
                f"the queue has turned over once at the new level (after a ramp down, the "
                f"retired users' last requests have ended too); it gives up after "
                f"{gives_up:g} s. Its window then lasts "
                f"{ramping.step_seconds:g} s, and at least one user cycle (think time plus the "
                "median "
                f"latency of what ended in it, failures too): with a fixed think time users "
                f"come back in waves, and a shorter window would catch a crest or a trough. It "
                f"also lasts until {ramping.min_requests} requests have ended in it, at most "
                f"{longest:g} s (or one cycle).")
    again = (f" A step whose median lies near the slowdown rule's latency (from "
             f"{NEAR_SLOWDOWN:.0%} of it to {1 / NEAR_SLOWDOWN:.0%}, by the baseline "
             f"measured so far) is held for a second "
             f"window, as long and with as many requests again, and counts both († in the "
             f"steps' table): near a knee one short window's median falls on either side of "
             f"the line by chance, and right after a step up the latency is still climbing.")
    sweep = [] if not st.waits else [
        f"- **The wait sweep** (question 7) measures each cell at each wait "
        f"({', '.join(f'{w:g}' for w in st.waits)} ms) with a saturation probe instead of a "
        f"ramp, on a server started for it. In a closed loop, users = rate x (think time + "
        f"the time a request takes), so a long wait needs many users, and the probe sets "
        f"them from the point's own bounds rather than from --users: one user first (the "
        f"time a request takes at low load), then {PROBE_HEADROOM:g} times the users the "
        f"lower known bound needs (slots, or the capacity at the next shorter wait; "
        f"{PROBE_FIRST} where neither is known) and at least one per slot, with no think "
        f"time, doubled until a doubling gains less than {PROBE_GAIN:.0%} in throughput "
        f"(at most {PROBE_TOP}). New users start spread over the first level's time (users "
        f"with no think time that start at once come back in bursts). Each level settles as "
        f"a step does, then its window lasts {PROBE_SECONDS:g} s, at least {PROBE_LATENCIES} "
        f"median latencies, and until {PROBE_MIN_REQUESTS} "
        f"requests ({PROBE_LOW_REQUESTS} at the first level) have ended in it or "
        f"{MAX_WINDOW_FACTOR * PROBE_SECONDS:g} s have passed."]
    return [load, ramp, step + " The step counts what ended in its window, all of it sent at "
            "its level once the queue has turned over, and the next step begins at once."
            + again, *sweep]


def sustained_users(ramp: RampResult, think_time: float) -> Optional[float]:
    """Closed-loop users that the sustained rate corresponds to (Little's law)."""
    t = ramp.thresholds
    step = next((s for s in ramp.steps if s.level == t.sustained), None)
    if step is None or step.p50_ms is None:
        return None
    return step.level * (think_time + step.p50_ms / 1000.0)


def _with_range(median: str, values: Sequence[tuple[Optional[int], int]]) -> str:
    """The median, and the range over the repeats where they differ."""
    spread = threshold_range(values)
    return median if len({_rank(v) for v in values}) == 1 else f"{median} ({spread})"


def limits_of(report: Report) -> dict[str, Limit]:
    ctx = report.limit_context()
    return {r.name: limit_of(r, ctx) for r in report.setups if r.capacity_runs}


def fmt_capacity(t: Thresholds) -> str:
    """A capacity, or (≥) the most served by a setup never saturated."""
    return f"{t.capacity_rps:.1f}" if t.capacity_rps is not None else f"≥ {t.peak_rps:.1f}"


def limit_label(x: Limit) -> str:
    errors = "; errors: PostgreSQL's connections" if x.refused else ""
    return LIMITS[x.kind].label(x) + errors


def render_summary(report: Report, axes: bool = False) -> list[str]:
    """One row per setup; with axes, the cell's value of each axis too."""
    st, limits = report.settings, limits_of(report)
    rows = []
    for r in report.ramped:
        t, ramps = r.thresholds, r.measured
        each = [x.thresholds for x in ramps]
        cell = ([r.cell.view, r.cell.server, r.cell.connections, r.cell.workload
                 + (" (2021 settings)" if r.cell.as_2021 else "")] if axes else [])
        ended = ", ".join(dict.fromkeys(x.ended for x in r.ramps)) or "not measured"
        if not ramps:
            rows.append([r.name, *cell, "-", "-", "-", "-", "-", ended]
                        + (["-"] if st.ramp.open_loop else []))
            continue
        capacity = fmt_capacity(t)
        caps = sorted(x.capacity_rps for x in each if x.capacity_rps is not None)
        if len(each) > 1 and len(caps) > 1 and t.capacity_rps is not None:
            capacity += f" ({caps[0]:.1f}-{caps[-1]:.1f})"
        row = [
            r.name, *cell,
            _with_range(fmt_threshold(t.slowdown, t.slowdown_up_to),
                        [(x.slowdown, x.slowdown_up_to) for x in each]),
            _with_range(fmt_threshold(t.errors, t.errors_up_to),
                        [(x.errors, x.errors_up_to) for x in each]),
            capacity, limit_label(limits[r.name]),
            fmt_ms(t.baseline_ms) + (" ms" if t.baseline_ms is not None else ""),
            ended,
        ]
        if st.ramp.open_loop:
            users = [u for x in ramps if (u := sustained_users(x, st.ramp.think_time)) is not None]
            row.append("-" if t.sustained is None else
                       f"{t.sustained} (≈ {statistics.median_low(users):.0f} users)" if users
                       else str(t.sustained))
        rows.append(row)
    headers = ["setup", *(["view", "server", "connections", "workload"] if axes else []),
               "slowdown at", "errors at", "capacity req/s", "limited by", "baseline median",
               "ramp"]
    align = "l" + ("llll" if axes else "") + "rrrlrl"
    if st.ramp.open_loop:
        headers.append("sustained req/s")
        align += "r"
    return md_table(headers, rows, align)


# --- The verdict: outcomes and limits in sentences, figures included --------

def threshold_words(t: Thresholds, unit: str) -> str:
    """'slowed down at 100 users', or where it did not."""
    if t.slowdown is not None:
        return f"slowed down at {t.slowdown} {unit}"
    if t.slowdown_up_to == 0:
        return "could not be told to slow down or not"
    return f"did not slow down up to {t.slowdown_up_to} {unit}"


def limit_words(x: Limit) -> str:
    """What held a setup, with the figures its rule used."""
    return LIMITS[x.kind].words(x)


def setup_words(r: SetupResult, x: Limit, unit: str) -> str:
    """One setup's thresholds, capacity and limit, as a clause."""
    t = r.thresholds
    said = f"`{r.name}` {threshold_words(t, unit)}"
    if t.capacity_rps is not None:
        said += f" and held {t.capacity_rps:.0f} req/s once saturated"
    else:
        said += f", serving up to {t.peak_rps:.0f} req/s"
    limit = limit_words(x)
    return said + (f", limited by {limit}" if limit else "")


def error_words(r: SetupResult, x: Limit, unit: str) -> Optional[str]:
    t = r.thresholds
    if t.errors is None:
        return None
    if x.refused:
        held = (f" ({x.held} of {x.max_connections} in use)"
                if x.held is not None and x.max_connections else "")
        return (f"`{r.name}`'s errors, from {t.errors} {unit}, are PostgreSQL refusing "
                f"connections{held}")
    kind = most_common_failure([s for ramp in r.measured for s in ramp.steps])
    mostly = f", mostly {FAILURE_KINDS_IN_PROSE[kind]}" if kind in FAILURE_KINDS_IN_PROSE else ""
    return f"`{r.name}` failed from {t.errors} {unit}{mostly}"


def headline(o: Outcome, where: str) -> str:
    """The verdict of two setups, without figures."""
    a, b, async_side = o.a, o.b, o.async_side
    if async_side is not None:
        other = b if async_side is a else a
        if o.mixed:
            return (f"{where}, async paid off on {_join(o.wins(async_side))} and not on "
                    f"{_join(o.wins(other))}")
        if o.paid_off:
            return f"{where}, async paid off"
        if o.paid_off is False:
            return (f"{where}, async did not pay off" if o.winner else
                    f"{where}, async made no substantial difference")
        if o.noisy:
            return f"{where}, whether async pays off is within the noise"
        return f"{where}, whether async pays off could not be told yet"
    if o.mixed:
        return (f"{where}, `{a.name}` did better on {_join(o.wins(a))}, `{b.name}` on "
                f"{_join(o.wins(b))}")
    if o.winner:
        loser = b if o.winner is a else a
        return f"{where}, `{o.winner.name}` did better than `{loser.name}`"
    if o.told and not o.undecided:
        return f"{where}, `{a.name}` and `{b.name}` did alike"
    return f"{where}, which of `{a.name}` and `{b.name}` does better could not be told yet"


def verdict_lines(report: Report) -> list[str]:
    """The answer, first: a sentence without figures, in bold, then the
    figures that carry it."""
    st = report.settings
    measured = [r for r in report.setups if r.measured]
    where = ("On this machine" if not st.urls else
             "Against this endpoint" if len(st.urls) == 1 else "Against these endpoints")
    if not measured:
        return ["**Nothing was measured.**"]
    limits = limits_of(report)
    figures = "; ".join(setup_words(r, limits[r.name], st.ramp.unit) for r in measured)
    errors = [e for r in measured if (e := error_words(r, limits[r.name], st.ramp.unit))]
    if len(measured) == 1:
        # Nothing to compare: the one setup's figures are the verdict.
        out = f"**{where}, {figures}.**"
    else:
        if len(measured) == 2:
            a, b = measured
            said = headline(outcome_of(compare_setups(a, b, st.ramp.step, st.ramp.unit),
                                       *sides(a, b)),
                            where)
        else:
            best = rank_by_capacity(measured, SIMILAR_WITHIN)[0]
            said = (f"{where}, `{best[0].name}` held the most" if len(best) == 1 else
                    f"{where}, {_join([f'`{x.name}`' for x in best])} held the most, alike")
        out = f"**{said}.** {figures}."
    if errors:
        out += f" {'; '.join(errors)}."
    return [out]


# --- The folded parts ------------------------------------------------------------

def render_steps(ramp: RampResult, unit: str) -> list[str]:
    rows = []
    for s in ramp.by_level:
        http = sum(n for k, n in s.failures_by_kind.items() if k.startswith("http_"))
        timeouts, conn = s.failures_by_kind.get("timeout", 0), s.failures_by_kind.get("connection", 0)
        rows.append([
            str(s.level), str(s.order), str(s.requests),
            f"{s.failures} ({100 * s.error_rate:.0f}%)" if s.failures else "0",
            str(timeouts), str(conn), str(http), str(s.failures - timeouts - conn - http),
            f"{s.rps:.1f}" + ("" if s.steady else " *"), f"{s.arrival_rps:.1f}",
            f"{s.completion_rps:.1f}",
            fmt_ms(s.p50_ms), fmt_ms(s.p95_ms), fmt_ms(s.p99_ms),
            f"{s.client_cpu_pct:.0f}",
            f"{s.settle_seconds:.1f}", f"{s.seconds:.1f}" + (" †" if s.windows > 1 else ""),
        ])
    return md_table([unit, "#", "requests", "failures", "timeouts", "conn. errors",
                     "HTTP errors", "other errors", "req/s", "sent/s", "done/s", "p50 ms",
                     "p95 ms", "p99 ms", "client CPU %", "settled s", "held s"],
                    rows, "rrrrrrrrrrrrrrrrr")


def folded(summary: str, lines: Sequence[str]) -> list[str]:
    """Lines that GitHub and the Django forum show folded under a summary
    line; a terminal shows them as they are, between two tag lines."""
    return [f"<details><summary>{summary}</summary>", "", *lines, "", "</details>"]


def plateau_line(ramp: RampResult, unit: str, steadiness: bool = True) -> Optional[str]:
    """Which windows the capacity and plateau spread are of, and their
    req/s: so that a reader can check them against the steps.  steadiness:
    whether the steps know it (Locust's do not)."""
    if ramp.probe:
        capacity, saturated = ramp.capacity
        if capacity is None:
            return None
        last = ramp.steps[-2:] if saturated else ramp.steps[1:]
        return (f"Capacity {capacity:.1f} req/s, the most of the levels "
                f"{_join([str(s.level) for s in last])} {unit}"
                + (f": the last doubling gained less than {PROBE_GAIN:.0%}." if saturated else
                   ": it never saturated, a lower bound."))
    t = ramp.thresholds
    if t.capacity_rps is None:
        return None
    plateau = plateau_windows(ramp.by_level, t.slowdown, t.errors)
    rates = [s.rps for s in plateau]
    levels = _join([str(s.level) for s in plateau])
    where = f"{levels} {unit}" if unit == "users" else f"offered rates of {levels} {unit}"
    which = ""
    if steadiness:
        which = (" (its steady windows)" if all(s.steady for s in plateau)
                 else " (those that did not drain, fewer than two being steady)"
                 if not any(s.draining for s in plateau)
                 else " (all its windows, fewer than two being steady and every one draining)")
    spread = (f"; plateau spread {t.plateau_spread:.0%}: {min(rates):.1f} to {max(rates):.1f} "
              f"req/s" if t.plateau_spread is not None else "")
    return f"Capacity {t.capacity_rps:.1f} req/s, the median at {where}{which}{spread}."


def render_ramp(ramp: RampResult, unit: str) -> list[str]:
    out: list[str] = []
    if ramp.steps:
        out += render_steps(ramp, unit)
        out.append("")
    cpu = ramp.client_cpu_ms
    restarts = (f" The server was restarted {ramp.restarts} time{'s' if ramp.restarts > 1 else ''} "
                f"before a lower level." if ramp.restarts else "")
    out.append(f"{'Probe' if ramp.probe else 'Ramp'}: {ramp.stop_reason}. Warm-up: "
               f"{ramp.warmup or '-'}.{restarts}"
               + (f" Load generator: {cpu:.2f} ms of CPU per request." if cpu is not None else ""))
    plateau = plateau_line(ramp, unit)
    if plateau:
        out += ["", plateau]
    unsteady = [str(s.level) for s in ramp.by_level if not s.steady]
    if unsteady:
        out.append("")
        out.append(f"\\* Not steady at {_join(unsteady)} {unit}: requests sent and responses "
                   f"completed per second (sent/s and done/s, which counts failed responses "
                   f"too) differ by more than {STEADY_WITHIN:.0%}.")
    again = [str(s.level) for s in ramp.by_level if s.windows > 1]
    if again:
        out.append("")
        out.append(f"† Held for a second window at {_join(again)} {unit}: the first one's "
                   f"median was near the slowdown rule's latency.")
    busy = [str(s.level) for s in ramp.by_level if s.client_cpu_pct >= CLIENT_CPU_WARNING]
    if busy:
        out.append("")
        out.append(f"Warning: the load generator used {CLIENT_CPU_WARNING:.0f}% or more of a "
                   f"core at {_join(busy)} {unit}; those steps may measure the client, not the "
                   f"server.")
    findings = [f"{count} x {LOG_FINDINGS[pattern]}" for pattern, count in
                ramp.log_findings.items() if count]
    if findings:
        out += ["", f"Server log: {'; '.join(findings)}."]
    if ramp.error:
        out += ["", "```text", ramp.error.rstrip(), "```"]
    return out


def reproducing_2021(setups: Sequence[SetupResult]) -> dict[str, Optional[SetupResult]]:
    """For each 2021 setup, the measured setup of this run that reproduces
    it: the same view, server, connections and workload (with the 2021
    settings, if both ran), or None."""
    found: dict[str, Optional[SetupResult]] = {}
    for alias, cell in NAMED_CELLS.items():
        same = [r for r in setups if r.measured and r.cell is not None
                and dataclasses.replace(r.cell, as_2021=False) == cell]
        found[alias] = max(same, key=lambda r: r.cell.as_2021, default=None)
    return found


def render_published(report: Report) -> list[str]:
    env = report.environment
    ours = []
    for r in reproducing_2021(report.setups).values():
        if r is None:
            ours += ["-", "-"]
        else:
            t = r.thresholds
            ours += [fmt_threshold(t.slowdown, t.slowdown_up_to),
                     fmt_threshold(t.errors, t.errors_up_to)]
    published = []
    for p in PUBLISHED_2021.values():
        published += [f"~{p.slowdown_users}", f"~{p.error_users}"]
    where = "in a container" if env.container else "no container"
    database = "private PostgreSQL" if env.postgres_private else "PostgreSQL given by DSN"
    rows = [
        ["2021, published", *published, PUBLISHED_MACHINE],
        ["this run", *ours, f"{env.cpu_model}, {env.cpu_count} cores, {where}, {database}, "
                            f"repro.py"],
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


def render_comparisons(report: Report) -> list[str]:
    """Every two setups compared by the same rules, measure by measure."""
    st = report.settings
    measured = [r for r in report.setups if r.measured]
    if len(measured) < 2:
        missing = [r.name for r in report.setups if not r.measured]
        return [f"No comparison: the {_join(missing)} setup has no measurements in this run."
                if missing else "No comparison: only one setup ran."]
    lines: list[str] = []
    pairs = list(itertools.combinations(measured, 2))
    for a, b in pairs:
        ours = compare_setups(a, b, st.ramp.step, st.ramp.unit)
        if len(pairs) > 1:
            lines += [f"{a.name} and {b.name}:", ""]
        lines += [f"- {comparison_text(c)}" for c in ours]
        lines += ["", f"**{render_verdict(outcome_of(ours, *sides(a, b)))}**", ""]
    return lines[:-1]


def beside_2021(report: Report) -> list[str]:
    """2021's numbers by the same rule, against the setups that reproduce
    it, whatever else ran."""
    st = report.settings
    if st.ramp.open_loop:
        return ["2021 ramped users, not arrival rates: its numbers are not compared here."]
    sync, async_ = reproducing_2021(report.setups).values()
    theirs = outcome_of(published_comparisons())
    theirs_text = (f"The 2021 numbers, by the same rule: "
                   f"{' '.join(comparison_text(c) for c in theirs.comparisons)} "
                   f"{render_verdict(theirs, where='in 2021')}")
    if sync is None or async_ is None:
        return [f"{theirs_text} This run did not measure both setups of 2021, so it cannot be "
                f"set beside it."]
    ours = outcome_of(compare_setups(sync, async_, st.ramp.step, st.ramp.unit),
                      Side(sync.name, False), Side(async_.name, True))
    if ours.paid_off is None:
        said = (f"This run's {sync.name} and {async_.name} could not tell whether async "
                f"paid off, so they neither agree nor disagree with 2021.")
    else:
        said = (f"This run's {sync.name} and {async_.name} "
                f"{'agree' if ours.paid_off == theirs.paid_off else 'disagree'} with 2021 on "
                f"whether async paid off.")
    return [f"{theirs_text} {said}"]


def describe_cell(cell: Cell) -> str:
    """What a setup is, in words, from the registries."""
    view, server, connections = VIEWS[cell.view], SERVERS[cell.server], CONNECTIONS[cell.connections]
    return (f"{view.description}; {connections.orm if view.orm else connections.sql}; "
            f"{WORKLOADS[cell.workload].description}; on {server.description}")


def cell_notes(r: SetupResult, st: Settings) -> list[str]:
    cell, view, server = r.cell, VIEWS[r.cell.view], SERVERS[r.cell.server]
    notes = [f"Cell: view {cell.view}, server {cell.server}, connections {cell.connections}, "
             f"workload {cell.workload}{', 2021 settings' if cell.as_2021 else ''}."
             + (f" Database driver, as the view reported it: {r.driver}." if r.driver else "")]
    if not view.is_async and server.asgi:
        notes.append("Under ASGI, Django runs this sync view in a thread of its own for each "
                     "request.")
    if view.is_async and not server.asgi:
        notes.append("Under WSGI, Django runs this async view in an event loop of its own for "
                     "each request.")
    connections, workload = CONNECTIONS[cell.connections], WORKLOADS[cell.workload]
    if connections.pools:
        notes.append(f"Pools of at most {st.server.pool_size} connections per worker process.")
    advice = connections.advised_against(view, server)
    if advice:
        notes.append(advice + ".")
    notes.append(workload.note(workload.wait_ms(st.server, cell.wait_ms), view.is_async,
                               r.cpu_ms("upstream")))
    if cell.as_2021:
        notes.append("As in 2021: Django DEBUG on, and asyncio debug mode on "
                     "(PYTHONASYNCIODEBUG=1).")
    return [n for n in notes if n]


def signed_ms(value: float) -> str:
    shown = fmt_ms(abs(value))
    return ("" if float(shown) == 0 else "+" if value > 0 else "-") + shown


def signed_share(value: float) -> str:
    shown = fmt_share(abs(value))
    return ("" if shown == "0%" else "+" if value > 0 else "-") + shown


def top_function(p: Profile, group: str) -> str:
    """The function of the group with the most self time in a profile's top
    frames ('' if none is among them)."""
    return next((frame.split(" (")[0] for frame, _ in p.top_frames
                 if frame_group(frame) == group), "")


def difference_words(pair: ProfilePair) -> str:
    """What the async setup's CPU per request differs in from the sync
    one's; where the totals are closer than fresh servers differ, it says so,
    and still names the groups (the async setup's own code, its event loop
    and thread hand-offs, is there whatever the total)."""
    a, b = pair.a.profile, pair.b.profile
    total = (f"{pair.b.name} spent {fmt_ms(abs(pair.total_ms))} ms "
             f"{'more' if pair.total_ms >= 0 else 'less'} server CPU per request than "
             f"{pair.a.name} ({fmt_ms(b.server_cpu_ms)} against {fmt_ms(a.server_cpu_ms)} ms, "
             f"at the level profiled, on fresh servers"
             + (f"; within the {PROFILE_NOISE:.0%} two fresh servers differ by, so the total "
                f"may be noise" if pair.alike else "") + ")")
    if not pair.main:
        return total
    parts = []
    for d in pair.main:
        top = top_function(b if d.ms > 0 else a, d.group)
        parts.append(f"{PROFILE_GROUPS[d.group].label} {signed_ms(d.ms)}"
                     + (f" (its top function: `{top}`)" if top else ""))
    named = sum(d.ms for d in pair.main)
    return (f"{total}; by group, " + ", ".join(parts) + f"; together {signed_ms(named)} ms, "
            f"the other groups {signed_ms(pair.total_ms - named) or '0.0'} ms")


def render_why(report: Report) -> list[str]:
    """What explains the capacities: PostgreSQL's own limit, the CPU each
    request cost by process, and the connections PostgreSQL held."""
    if report.settings.urls:
        return []  # nothing of those servers is measured but their answers
    cores, ctx = report.environment.cpu_count, report.limit_context()
    lines = [f"Where the difference comes from, by the profiles below: "
             f"{difference_words(pair)}." for pair in profile_pairs(report.setups)]
    lines += [""] if lines else []
    if report.db_limit_rps is not None:
        lines.append(f"PostgreSQL alone, measured in this run: the list and the detail query "
                     f"straight against it, over {DB_LIMIT_CONNECTIONS} kept connections, "
                     f"{report.db_limit_rps:.0f} pairs a second; opening one connection took "
                     f"{fmt_ms(report.connect_ms)} ms (median of {CONNECT_SAMPLES}).")
    explained = [r for r in report.setups if r.capacity_runs]
    groups = [g for g in CPU_GROUPS if any(r.cpu_ms(g) is not None for r in explained)]
    rows = []
    for r in explained:
        t, allow = r.thresholds, _cores_bound(r, ctx)
        cpu = [r.cpu_ms(g) for g in groups]
        capacity, saturated = r.capacity
        peak = max(s.rps for x in r.probed for s in x.steps) if r.probed else t.peak_rps
        rows.append([
            r.name, "-" if capacity is None else f"{'' if saturated else '≥ '}{capacity:.1f}",
            f"{peak:.1f}", fmt_share(t.plateau_spread),
            fmt_share(peak / report.db_limit_rps) if report.db_limit_rps else "-",
            *[fmt_ms(c) if c is not None else "-" for c in cpu],
            fmt_ms(allow.cpu_ms) if allow else "-",
            fmt_rate(allow.bound_rps) if allow else "-",
            str(r.max_db_connections) if r.max_db_connections is not None else "-",
        ])
    if rows:
        lines += ["", *md_table(
            ["setup", "capacity req/s", "peak req/s", "plateau spread", "of PostgreSQL alone",
             *[f"CPU ms/req: {CPU_GROUPS[g]}" for g in groups], "CPU ms/req: all",
             f"req/s {cores} cores allow", "PostgreSQL connections, most"],
            rows, "l" + "r" * (len(groups) + 7))]
        lines += ["", f"- CPU ms/req: CPU time per successful request of each group of "
                      f"processes, at the steps its capacity comes from (its plateau, or its "
                      f"probe's level that held the most; all its steps where it has none), the median "
                      f"over repeats: measured in the same minutes as the capacity, on a "
                      f"machine whose speed moves within a minute. The "
                      f"{cores} cores allow about {cores} x 1000 / (all of it) requests a second: "
                      f"where a capacity comes near that, the machine's CPU is the limit, "
                      f"whatever the server; where it stays far below, something else is "
                      f"(workers, connections, PostgreSQL).",
                  "- PostgreSQL connections, most: the most connections open at once to the "
                  "database during the ramp, repro's own probe not counted."]
    return lines


def profile_words(r: SetupResult, unit: str) -> str:
    p = r.profile
    cost = (f"without sampling and with it, {p.rps_without:.1f} and {p.rps_with:.1f} req/s "
            f"({signed_share(-p.overhead)})" if p.overhead is not None else "")
    if cost and p.p50_without is not None and p.p50_with is not None:
        cost += f", median {fmt_ms(p.p50_without)} and {fmt_ms(p.p50_with)} ms"
    spy = (f"py-spy's own CPU {fmt_ms(p.profiler_cpu_ms)} ms per request"
           if p.profiler_cpu_ms is not None else "")
    return "; ".join(x for x in (
        f"**{r.name}**, {p.level} {unit} held: {p.samples} samples"
        + (f" ({p.errors} failed)" if p.errors else ""), cost, spy,
        f"stacks in `{p.file}`" if p.file else "") if x) + "."


def profile_tables(p: Profile) -> list[str]:
    """A profile's samples by group, then its top frames."""
    per_request = p.server_cpu_ms is not None
    rows = [[PROFILE_GROUPS[g].label, fmt_share(p.shares.get(g, 0.0)),
             *([fmt_ms(p.ms_per_request(g))] if per_request else [])] for g in PROFILE_GROUPS]
    frames = [[f"`{frame}`", fmt_share(share)] for frame, share in p.top_frames]
    return [*md_table(["where", "share of samples", *(["CPU ms/req"] if per_request else [])],
                      rows, "lrr"), "",
            *md_table([f"the {len(frames)} frames with the most self time", "share"],
                      frames, "lr")]


def render_profile(r: SetupResult, unit: str) -> list[str]:
    return [profile_words(r, unit), "", *profile_tables(r.profile)]


def render_served_profile(name: str, p: Profile) -> str:
    """serve --profile's: its samples while it served, no level held."""
    if not p.samples:
        return f"Not profiled: py-spy took no sample of {name}'s server."
    return "\n".join([f"**{name}**, while it served: {p.samples} samples"
                      + (f" ({p.errors} failed)" if p.errors else "")
                      + (f"; stacks in `{p.file}`" if p.file else "") + ".", "",
                      *profile_tables(p)])


def unprofiled_words(unprofiled: Mapping[str, str]) -> str:
    reasons = set(unprofiled.values())
    if len(reasons) == 1 and len(unprofiled) > 1:
        return f"Not profiled: {reasons.pop()}."
    return "Not profiled: " + "; ".join(f"{name}: {why}" for name, why in unprofiled.items()) + "."


def render_profiles(report: Report) -> list[str]:
    """Where each profiled server's CPU went, each setup and each sync and
    async pair; why those not profiled were not."""
    profiled = [r for r in report.setups if r.profile is not None]
    lines = [unprofiled_words(report.unprofiled), ""] if report.unprofiled else []
    if not profiled:
        return lines[:-1]
    unit, first = report.settings.ramp.unit, profiled[0].profile
    lines += [f"py-spy sampled each server process {first.rate} times a second, taking "
              f"the stack of the thread that held the GIL, in a window of {first.seconds:g} s "
              f"at least, at one level held after the ramps (its slowdown threshold, where "
              f"requests queue but the setup is steady, or its peak where it has none; or "
              f"--profile-users) on a fresh server that py-spy started; the same level on "
              f"another fresh server, unsampled, gave the req/s, the median and the CPU per "
              f"request without sampling. A sample counts to the innermost "
              f"frame that belongs to a group: Django's shared helpers (django/utils) count "
              f"to their caller, and C code to the Python code that called it (psycopg2 is "
              f"C: its work shows under the view's own code, at the lines that call it). "
              f"CPU ms/req: the share times the server's CPU per request; CPU that ran "
              f"without the GIL (system calls, C code that let it go) is spread in "
              f"proportion.", ""]
    for pair in profile_pairs(report.setups):
        rows = [[PROFILE_GROUPS[d.group].label, fmt_ms(d.a_ms), fmt_ms(d.b_ms), signed_ms(d.ms)]
                for d in pair.differences]
        lines += [difference_words(pair) + ".", "",
                  *md_table(["where", f"{pair.a.name} ms/req", f"{pair.b.name} ms/req",
                             "difference"], rows, "lrrr"), ""]
    for r in profiled:
        lines += [*render_profile(r, unit), ""]
    return lines[:-1]


def render_setup(r: SetupResult, st: Settings) -> list[str]:
    """One setup: what it is, and its steps, repeat by repeat."""
    if r.cell is None:
        out = [f"GET {r.url}, ramped by repro. Its server is not repro's: repro describes and "
               f"restarts nothing of it."]
    else:
        out = [f"{describe_cell(r.cell)}.", "", " ".join(cell_notes(r, st))]
    # A study's rounds; a run's repeats, numbered as they ran.
    each = "round" if r.probes else "repeat"
    for i, ramp in enumerate(r.ramps, start=1):
        if len(r.ramps) > 1 or st.ramp.repeat > 1:
            out += ["", f"**{r.name}, {each} {ramp.round if r.probes else i}**"]
        out += ["", *render_ramp(ramp, st.ramp.unit)]
    for probe in r.probes:
        out += ["", f"**{r.name}, its probe" + (f", round {probe.round}**" if st.ramp.repeat > 1
                                                  else "**"),
                "", *render_ramp(probe, "users")]
    return out


def setup_summary(r: SetupResult) -> str:
    """The summary line of a setup's folded steps."""
    steps = sum(len(x.steps) for x in (*r.ramps, *r.probes))
    runs = [f"{len(r.ramps)} {'ramps' if r.probes else 'repeats'}"] if len(r.ramps) > 1 else []
    runs += [f"{len(r.probes)} probes"] if len(r.probes) > 1 else []
    return (f"{r.name}: what it is, and its {steps} step{'s' if steps != 1 else ''}"
            + (f" in {_join(runs)}" if runs else ""))


def render_folds(folds: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """Folded parts one after the other: a tag line needs no blank line
    before the next one."""
    return [line for summary, lines in folds for line in folded(summary, lines)]


def render_header(report: Report, title: str) -> list[str]:
    out = [f"# {title}", ""]
    if report.interrupted:
        out += [f"**Interrupted ({report.interrupted}): what was measured until then.**", ""]
    return out


def render_origin(report: Report) -> list[str]:
    """Where the figures come from, in one line."""
    env = report.environment
    return [f"`{report.command}`, started {report.started}, took "
            f"{fmt_duration(report.seconds)}, on {env.cpu_model} ({env.cpu_count} cores, "
            f"{machine_kind(env)})."]


def render_caution(report: Report, what: str) -> list[str]:
    if report.interrupted or any(r.error for r in report.setups):
        return ["", f"Caution: this {what} was cut short (see the ramp column); its figures are "
                    f"those of the steps measured."]
    return []


def how_measured(report: Report, rules: Sequence[str]) -> tuple[str, list[str]]:
    return ("How it was measured: the machine, the packages, the method and the rules",
            [*render_environment(report), "", *render_method(report.settings), "", *rules])


def render_markdown(report: Report) -> str:
    if report.questions:
        return render_study(report)
    st = report.settings
    out = render_header(report, "Do async Django views make this app faster?")
    out += [*verdict_lines(report), "", *render_summary(report), "", *render_origin(report)]
    out += render_caution(report, "run")
    compared = render_comparisons(report)
    if not st.urls:
        compared += ["", *([*render_published(report), ""] if not st.ramp.open_loop else []),
                     *beside_2021(report)]
    folds = [("Each measure compared by the rules" + ("" if st.urls else ", and 2021 beside "
                                                      "this run"), compared)]
    why = render_why(report)
    if why:
        folds.append(("Why: the CPU each request cost, PostgreSQL alone, the connections it "
                      "held", why))
    profiles = render_profiles(report)
    if profiles:
        folds.append(("Where the CPU goes: each server's samples by package (py-spy)", profiles))
    folds += [(setup_summary(r), render_setup(r, st)) for r in report.setups]
    folds.append(how_measured(report, threshold_rules(st)))
    return "\n".join(out + ["", *render_folds(folds)]) + "\n"


# --- The study's answers ----------------------------------------------------------

def rate_words(rate: Rate) -> str:
    return f"{'at least ' if rate.bound else ''}{rate.value:.0f} req/s"


def value_text(v: Reached | Rate) -> str:
    """A value as a pair's figures give it: '≥' where it is only a bound."""
    return f"{'≥ ' if v.bound else ''}{v.value:.0f}"


def unit_of(v: Reached | Rate) -> str:
    return "req/s" if isinstance(v, Rate) else v.unit


def median_text(values: Sequence[Reached | Rate]) -> str:
    """The median over the rounds, '≥' where every round's is a bound."""
    return (f"{'≥ ' if all(v.bound for v in values) else ''}"
            f"{statistics.median(v.value for v in values):.0f}")


def won_words(p: PairAnswer, name: str) -> str:
    """What `name` won, with the medians: 'slowdown 100 vs 80 users'."""
    other = p.b if name == p.a else p.a
    return ", ".join(f"{r.metric.lower()} {median_text(r.values(name))} vs "
                     f"{median_text(r.values(other))} {unit_of(r.values(name)[0])}"
                     for r in p.wins(name))


def rounds_text(r: Relation) -> str:
    """Each round's figures of a relation: '84 vs 72, 70 vs 80 req/s'."""
    return ", ".join(f"{value_text(x.a)} vs {value_text(x.b)}" for _, x, _ in r.rounds) + (
        f" {unit_of(r.rounds[0][1].a)}" if r.rounds else "")


def untold_reason(disagree: bool) -> str:
    return ("the rounds disagree" if disagree else
            f"more than a run's {SIMILAR_WITHIN:.0%} apart, not the study's {RELIABLY_WITHIN:.0%}")


def pair_words(p: PairAnswer, figures: bool) -> str:
    """A pair's outcome over the rounds, in a few words."""
    if p.winner is not None:
        return f"`{p.winner}` did better" + (f" ({won_words(p, p.winner)})" if figures else "")
    if p.mixed:
        return "mixed" + (f" ({won_words(p, p.a)}; {won_words(p, p.b)})" if figures else "")
    capacity = p.relations[-1]
    if p.told is Told.ALIKE:
        return "alike" + (f" (capacity {median_text(capacity.values(p.a))} vs "
                          f"{median_text(capacity.values(p.b))} req/s)" if figures else "")
    untold = [r for r in p.relations if r.told is Told.UNTOLD]
    return "not told" + (": " + "; ".join(
        f"{r.metric.lower()}: " + (r.void if r.void else
                                   f"{untold_reason(r.disagree)} ({rounds_text(r)})")
        for r in untold) if figures else "")


def capacity_text(x: Ranked, unit: bool = True) -> str:
    """'84 req/s, 80-90': the median over the rounds, and their range."""
    spread = f"{x.low:.0f}-{x.high:.0f}" if f"{x.low:.0f}" != f"{x.high:.0f}" else ""
    if not unit:
        return (f"{'≥ ' if x.rate.bound else ''}{x.rate.value:.1f}"
                + (f" ({spread})" if spread else ""))
    return rate_words(x.rate) + (f", {spread}" if spread else "")


def ranked_words(x: Ranked, figures: bool) -> str:
    return f"`{x.name}` ({capacity_text(x)})" if figures else f"`{x.name}`"


def apart_words(t: Tier, figures: bool) -> str:
    """Why a tier's cells are not told apart, and the two of them that were."""
    said = [untold_reason(t.disagree)] if figures else []
    if t.told:
        said.append("in every round " + _join([f"`{a}` held more than `{b}`"
                                               for a, b in t.told]))
    return f" ({'; '.join(said)})" if said else ""


def tier_words(t: Tier, figures: bool) -> str:
    """A tier's cells, and how they stand to each other where there are two or more."""
    names = _join([ranked_words(x, figures) for x in t.cells])
    if len(t.cells) < 2:
        return names
    return f"{names}, " + ("alike" if t.alike else "not told apart" + apart_words(t, figures))


def ranking_words(answer: Answer, limits: dict[str, Limit], figures: bool) -> str:
    """Who did best, who tied, who did worst and what held it, and who the
    rounds did not tell apart."""
    tiers = answer.ranking
    if len(tiers) == 1:
        [t] = tiers
        said = (f"{_join([ranked_words(x, figures) for x in t.cells])} "
                + (f"tie within a run's {SIMILAR_WITHIN:.0%} in every round" if t.alike else
                   "are not told apart" + apart_words(t, figures)))
    else:
        top, worst = tiers[0], tiers[-1]
        said = (f"{ranked_words(top.cells[0], figures)} did best" if len(top.cells) == 1 else
                f"{_join([ranked_words(x, figures) for x in top.cells])} tie for best"
                if top.alike else f"{tier_words(top, figures)}, did best")
        for middle in tiers[1:-1]:
            said += f"; then {tier_words(middle, figures)}"
        held = [limits[x.name] for x in worst.cells if x.name in limits]
        if figures and len(worst.cells) == 1 and held and limit_words(held[0]):
            said += (f"; `{worst.cells[0].name}` stops at {capacity_text(worst.cells[0])}, "
                     f"limited by {limit_words(held[0])}")
        else:
            named = len(held) == len(worst.cells) and all(x.bound_rps is not None for x in held)
            nouns = {LIMITS[x.kind].noun(x) for x in held}
            because = ""
            if named and len(nouns) == 1:
                because = f", limited by {nouns.pop()}"
            elif named and figures:
                because = " (limited by " + "; ".join(
                    f"`{x.name}`: {LIMITS[h.kind].noun(h)}" for x, h in zip(worst.cells, held)) + ")"
            said += f"; {tier_words(worst, figures)}" + (
                "," if len(worst.cells) > 1 else "") + f" did worst{because}"
    if answer.unranked:
        said += "; not ranked: " + _join([
            f"`{x.name}`" + (f" (its capacity, {x.rate.value:.0f} req/s, lies more than "
                             f"{LIMIT_WITHIN:.0%} above the {x.cores_rps:.0f} its own CPU per "
                             f"request allows the cores)" if figures and x.cores_rps else "")
            for x in answer.unranked])
    return said


def fmt_probe(p: SweepPoint) -> str:
    if p.capacity_rps is None:
        return "-"
    spread = (f" ({p.low:.1f}-{p.high:.1f})" if p.low is not None and p.high is not None
              and f"{p.low:.1f}" != f"{p.high:.1f}" else "")
    return (f"{p.capacity_rps:.1f}" if p.saturated else f"≥ {p.capacity_rps:.1f}") + spread


def sweep_words(sweep: Sweep, figures: bool = False) -> str:
    """The crossovers in a line: from which wait on the async view beat each
    of the others by the study's margin in every round, and where the rounds
    did not tell."""
    waits = sorted({p.wait_ms for p in sweep.points})
    if sweep.faster is None or not sweep.said:
        return "Not answered: the sweep needs the async view and another cell measured."
    beaten, open_ = [], []
    for (other, wait), (_, untold) in zip(sweep.crossovers, sweep.untold):
        if wait is not None:
            below = [w for w in waits if w < wait]
            beaten.append(f"`{other}` from a {wait:g} ms wait on" + (
                f" (at {below[-1]:g} ms not told)" if below and below[-1] in untold else ""))
        elif waits[-1] in untold:
            open_.append(f"`{other}`")
        else:
            beaten.append(f"`{other}` at none of the waits up to {waits[-1]:g} ms")
    text = (f"`{sweep.faster}` beat {_join(beaten)}, by the study's margin "
            f"({RELIABLY_WITHIN:.0%} of capacity) in every round." if beaten else "")
    if open_:
        text += (" " if text else "") + (
            f"Whether `{sweep.faster}` beat {_join(open_)} at {waits[-1]:g} ms is not told "
            f"(the rounds disagree, or lie between the rules).")
    if figures and any(w is not None for _, w in sweep.predicted):
        text += " The bounds put the crossovers at " + _join(
            [f"{w:.0f} ms" if w is not None else "none" for _, w in sweep.predicted]) + (
            " (where the slots allow less than "
            f"{1 - RELIABLY_WITHIN:.0%} of what the cores allow the async view).")
    if figures:
        longest = [p for p in sweep.points if p.wait_ms == waits[-1]]
        text += (f" At {waits[-1]:g} ms: " + ", ".join(
            f"`{p.base}` {fmt_probe(p)} req/s ({p.bounds.limited_by or 'no bound'})"
            for p in longest) + ".")
    return text


def answer_words(answer: Answer, limits: dict[str, Limit], figures: bool = False) -> str:
    """A question's answer in a line.  Without figures, it is what a second
    study should say again, or say is not told."""
    if answer.sweep is not None:
        return sweep_words(answer.sweep, figures) + (
            f" ({_join(list(answer.missing))} not measured.)" if answer.missing else "")
    if not answer.answered:
        missing = [*answer.missing, *(x.name for x in answer.unranked)]
        return (f"Not answered: {_join(missing)} {'was' if len(missing) == 1 else 'were'} not "
                f"measured or not ranked." if missing else "Not answered: it needs two setups.")
    ranked = ranking_words(answer, limits, figures)
    if not answer.weighed:
        text = f"{ranked[0].upper()}{ranked[1:]}."
    else:
        said = "; ".join(f"{p.label}: {pair_words(p, figures)}" for p in answer.weighed)
        changed = answer.factor_changed
        if len(answer.weighed) < 2 or not answer.factor:
            text = f"{said[0].upper()}{said[1:]}."
        elif changed is None:
            text = f"Not told whether {answer.factor} change the outcome: {said}."
        elif not changed and answer.weighed[0].told is Told.ALIKE:
            text = f"Not {answer.factor}: alike either way ({said})."
        elif not changed:
            text = f"Not {answer.factor}: the same side did better either way ({said})."
        else:
            text = f"{answer.factor[0].upper()}{answer.factor[1:]} changed the outcome: {said}."
        if sum(len(t.cells) for t in answer.ranking) > 2:
            text += f" By capacity: {ranked}."
    if answer.missing:
        text += f" ({_join(list(answer.missing))} not measured.)"
    return text


def study_headline(report: Report, answers: Sequence[tuple[Question, Asked, Answer]]) -> str:
    """Where the async view stood, over the questions that set it against
    sync views, by capacity."""
    is_async = {r.name: VIEWS[r.cell.view].is_async for r in report.setups
                if r.cell is not None}
    best, tied, untold, behind = [], [], [], []
    for q, _asked, a in answers:
        views = {is_async.get(x.name) for t in a.ranking for x in t.cells}
        if not a.answered or views != {True, False}:
            continue
        top = {is_async.get(x.name) for x in a.ranking[0].cells}
        if top == {True, False} or len(a.ranking) == 1:
            (tied if a.ranking[0].alike else untold).append(str(q.id))
        else:
            (best if top == {True} else behind).append(str(q.id))
    asked = len(best) + len(tied) + len(untold) + len(behind)
    if not asked:
        return "On this machine, no question answered here set the async view against sync views"

    def which(ids: list[str]) -> str:
        return f"question{'s' if len(ids) > 1 else ''} {_join(ids)}"
    if asked == 1:
        [(ids, did)] = [(ids, did) for ids, did in (
            (best, "did best"), (tied, "tied for best"), (behind, "did worse"),
            (untold, "was not told apart from the best")) if ids]
        return (f"On this machine, by capacity, the async view {did} in the one question that "
                f"set it against sync views ({which(ids)})")
    said = (f"On this machine, by capacity, the async view did best in "
            f"{len(best) if best else 'none'} of the {asked} question{'s' if asked > 1 else ''} "
            f"that set it against sync views" + (f" ({which(best)})" if best else ""))
    rest = ([f"tied for best in {which(tied)}"] if tied else []) + (
        [f"did worse in {which(behind)}"] if behind else []) + (
        [f"was not told apart from the best in {which(untold)}"] if untold else [])
    return said + (f"; it {_join(rest)}" if rest else "")


def relation_text(r: Relation) -> str:
    """One measure of a pair, round by round, and what the rounds tell."""
    unit = unit_of(r.rounds[0][1].a) if r.rounds else ""
    each = "; ".join(f"round {k}: `{r.a}` {value_text(x.a)}, `{r.b}` {value_text(x.b)}"
                     for k, x, _ in r.rounds)
    told = r.told
    if told in (Told.A, Told.B):
        said = (f"`{r.winner}` did better past the study's margin of {RELIABLY_WITHIN:.0%} in "
                f"every round")
    elif told is Told.ALIKE:
        said = f"alike by a run's rule ({SIMILAR_WITHIN:.0%}) in every round"
    elif r.void:
        said = f"not told: {r.void}"
    elif len(r.rounds) < r.wanted:
        said = f"not told: measured in {len(r.rounds)} of {r.wanted} rounds"
    else:
        said = f"not told: {untold_reason(r.disagree)}"
    return f"{r.metric} ({unit}): {each or 'not measured'}: {said}."


def render_question(question: Question, asked: Asked, answer: Answer,
                    limits: dict[str, Limit]) -> list[str]:
    out = [f"**Question {question.id}: {question.title}** {question.about}", ""]
    out.append("Cells: " + (", ".join(f"`{c.name}`" for c in asked.cells) or "none") + ".")
    if asked.skipped:
        out.append("Skipped: " + "; ".join(asked.skipped) + ".")
    if answer.sweep is not None:
        out += ["", *render_sweep(answer.sweep)]
    for pair in answer.pairs:
        out += ["", f"{pair.label}: {pair_words(pair, figures=False)}.", "",
                *[f"- {relation_text(r)}" for r in pair.relations]]
    return out + ["", f"Answer: {answer_words(answer, limits)}"]


def render_sweep(sweep: Sweep) -> list[str]:
    """The sweep's points beside their bounds, and the rules of both."""
    rows = []
    for p in sweep.points:
        b = p.bounds
        off = off_prediction(p.capacity_rps, b)
        rows.append([f"{p.wait_ms:g}", p.base, str(p.users), fmt_probe(p),
                     "-" if b.slots_rps is None else f"{b.slots_rps:.1f} ({b.slots} x 1000 / "
                                                     f"{b.hold_ms:.0f} ms)",
                     "-" if b.cores_rps is None else f"{b.cores_rps:.1f} ({b.cpu_ms:.1f} ms CPU)",
                     "-" if b.predicted_rps is None else f"{b.predicted_rps:.1f}",
                     b.limited_by or "-",
                     "-" if b.predicted_rps is None or p.capacity_rps is None else
                     f"{p.capacity_rps / b.predicted_rps - 1:+.0%}"
                     + (f": more than {PREDICTION_WITHIN:.0%} off" if off is not None else "")])
    crossings = [f"- Against `{other}`: " + ", ".join(f"{w:g} ms {CROSSING_WORDS[t]}"
                                                      for w, t in waits)
                 + "." for other, waits in sweep.said]
    return [*md_table(["wait ms", "setup", "users, most", "capacity req/s", "slots allow",
                       "cores allow", "predicted", "limited by", "measured vs predicted"],
                      rows, "rlrrrrrlr"), "",
            f"What the rounds say of `{sweep.faster}`, wait by wait:" if crossings else "",
            *crossings, *([""] if crossings else []),
            f"- **Capacity** here: what a saturation probe held, the median over the rounds "
            f"with their range: closed-loop users with no think time, doubled until a doubling "
            f"gained less than {PROBE_GAIN:.0%} in throughput; the higher of those two levels "
            f"(≥: never saturated, a lower bound).",
            "- **Slots**: the most requests in progress at once (workers; workers x threads for "
            "gthread) x 1000 / the ms a request holds one: its time at low load (one user), the "
            "wait included. The async view's event loop holds as many as come, and its pool holds "
            "a connection for a query, not through the wait: it has no slots bound.",
            "- **Cores**: cores x 1000 / the CPU ms per request of all processes together, "
            "measured at the level the capacity comes from.",
            f"- **Predicted**: the lower of the two, which names the limit. A capacity more than "
            f"{PREDICTION_WITHIN:.0%} from it is named: something else held the setup.",
            f"- **Crossover**: the wait from which on (there and at every longer wait) the async "
            f"view's capacity beat the other's by the study's margin in every round, the other's "
            f"under {1 - RELIABLY_WITHIN:.0%} of it; not beaten where in every round the other "
            f"held {1 - SIMILAR_WITHIN:.0%} of it or more; otherwise not told. A lower bound is "
            f"never beaten."]


def gauge_words(report: Report) -> str:
    """The machine's gauge over the study, and whether it moved."""
    readings = [g for g in report.gauge if g.pairs_rps is not None]
    if len(readings) < 2:
        return ""
    values = [g.pairs_rps for g in readings]
    moved = (max(values) - min(values)) / statistics.median(values)
    last = max(g.round for g in report.gauge)
    listing = _join([f"{g.pairs_rps:,.0f} " + (f"before round {g.round}" if g.round < last else
                                              "after the last") for g in readings])
    what = (f"The machine's gauge (PostgreSQL alone: the list and the detail query over "
            f"{DB_LIMIT_CONNECTIONS} kept connections, pairs a second, the median of "
            f"{GAUGE_READINGS} one-second readings) read {listing}")
    if moved > GAUGE_MOVED:
        return (f"**Caution: the machine changed speed under the study**, by {moved:.0%} "
                f"((max - min) / median, more than {GAUGE_MOVED:.0%}). {what}. Cells measured at "
                f"different speeds differ by that much on their own: an answer is told only "
                f"where every round agrees.")
    return f"{what}: it moved by {moved:.0%}, within {GAUGE_MOVED:.0%}."


def render_study_summary(report: Report, limits: dict[str, Limit]) -> list[str]:
    """One row per cell of the ramped and probed questions: its axes, its
    capacity over the rounds, what limited it, and its thresholds where it
    was ramped."""
    st = report.settings
    swept = {c for a in report.questions if QUESTIONS[a.id].sweep for c in a.cells}
    asked = {c for a in report.questions if not QUESTIONS[a.id].sweep for c in a.cells}
    rows = []
    ctx = report.limit_context()
    for r in report.setups:
        if r.cell not in asked and r.cell in swept:
            continue
        x = ranked_of(r, ctx)
        t, each = r.thresholds, [m.thresholds for m in r.measured]
        ramped = bool(r.measured)
        rows.append([
            r.name, r.cell.view, r.cell.server, r.cell.connections,
            r.cell.workload + (" (2021 settings)" if r.cell.as_2021 else ""),
            "-" if x is None else capacity_text(x, unit=False),
            limit_label(limits[r.name]) if r.name in limits else "-",
            fmt_ms(r.service_ms) + (" ms" if r.service_ms is not None else ""),
            _with_range(fmt_threshold(t.slowdown, t.slowdown_up_to),
                        [(y.slowdown, y.slowdown_up_to) for y in each]) if ramped else "-",
            _with_range(fmt_threshold(t.errors, t.errors_up_to),
                        [(y.errors, y.errors_up_to) for y in each]) if ramped else "-",
            f"{len(r.probed)} of {st.ramp.repeat}" + (
                f" (ramped in {len(r.measured)})" if r.ramps else ""),
        ])
    return md_table(["setup", "view", "server", "connections", "workload", "capacity req/s",
                     "limited by", "low-load ms", "slowdown at", "errors at", "rounds"],
                    rows, "lllllrlrrrl")


def study_rules(st: Settings) -> list[str]:
    """How a study measures and answers, from the constants it uses."""
    return [
        f"- **Rounds**: each cell is measured once a round, {st.ramp.repeat} rounds, the "
        f"second in the reverse order of the first (so that a drift of the machine one way "
        f"hits every cell alike), question by question, a cell two questions share once a "
        f"round for both. A value is the median over the rounds, with their range.",
        f"- **Capacity**, for every cell: a saturation probe's (closed-loop users with no "
        f"think time, from one user, doubled until a doubling gains less than "
        f"{PROBE_GAIN:.0%}; the higher of the last two levels; a later round starts where "
        f"the cell saturated before). In question"
        f"{'s' if len(THRESHOLD_QUESTIONS) > 1 else ''} {_join(THRESHOLD_QUESTIONS)}, a cell "
        f"that runs PostgreSQL out of connections (a new one per query or request) is also "
        f"ramped as a run ramps, for its slowdown and error thresholds.",
        f"- **Told apart**: a cell did better than another where it held more by the study's "
        f"margin ({RELIABLY_WITHIN:.0%} of the larger: a run's {SIMILAR_WITHIN:.0%}, and "
        f"{RELIABLY_WITHIN - SIMILAR_WITHIN:.0%} more for what a cell moves between runs by "
        f"itself) in every round; two cells are alike where they lay within a run's "
        f"{SIMILAR_WITHIN:.0%} in every round; otherwise the answer says they are not told "
        f"apart (the rounds disagree, or lie between the two). A ranking draws a line "
        f"between two cells only where each cell above it did better than each below it. A "
        f"pair did better where it won a measure in every round and no round put the other "
        f"ahead on any.",
        f"- **Inconsistent**: a cell whose capacity lies more than {LIMIT_WITHIN:.0%} above "
        f"what the cores allow at the CPU per request measured at the same levels, in any "
        f"round, is not ranked: one of its figures is off.",
        f"- **The gauge**: before each round and after the last, PostgreSQL alone (the median "
        f"of {GAUGE_READINGS} one-second readings); where it moved by more than "
        f"{GAUGE_MOVED:.0%} ((max - min) / median), the report says the machine changed speed "
        f"under the study.",
    ]


def render_study(report: Report) -> str:
    st = report.settings
    answers = report.answers()
    limits = limits_of(report)
    out = render_header(report, "Do async Django views make this app faster? The study")
    crossed = [f"Question {q.id}: {sweep_words(a.sweep)}" for q, _asked, a in answers
               if a.sweep is not None and a.sweep.said]
    ranked = any(not q.sweep for q, _asked, _a in answers)
    out += [" ".join(([f"**{study_headline(report, answers)}.**"] if ranked or not crossed
                      else []) + [f"**{c}**" if not ranked and i == 0 else c
                                  for i, c in enumerate(crossed)]), ""]
    out += [f"{q.id}. **{q.title}** {answer_words(a, limits, figures=True)}"
            for q, _asked, a in answers]
    gauge = gauge_words(report)
    out += ["", *([gauge, ""] if gauge else []),
            *(render_study_summary(report, limits) + [""] if ranked else []),
            *render_origin(report)]
    out += render_caution(report, "study")
    questions: list[str] = []
    for q, asked, a in answers:
        questions += ["", *render_question(q, asked, a, limits)]
    folds = [("Each question: its cells, every two compared round by round", questions[1:])]
    why = render_why(report)
    if why:
        folds.append(("Why: the CPU each request cost, PostgreSQL alone, the connections it "
                      "held", why))
    profiles = render_profiles(report)
    if profiles:
        folds.append(("Where the CPU goes: each server's samples by package (py-spy)", profiles))
    if any(r is not None for r in reproducing_2021(report.setups).values()) \
            and not st.ramp.open_loop:
        folds.append(("2021 and this study", [*render_published(report), "",
                                              *beside_2021(report)]))
    setups: list[str] = []
    for r in report.setups:
        setups += folded(setup_summary(r), render_setup(r, st))
    if setups:
        folds.append((f"Each cell: what it is, and its steps ({len(report.setups)})", setups))
    folds.append(how_measured(report, [*threshold_rules(st), *study_rules(st)]))
    return "\n".join(out + ["", *render_folds(folds)]) + "\n"


def claim_words(key: tuple, said: str) -> str:
    """One thing an answer tells, in words."""
    metric, x, y = key
    if metric == "Beaten":
        return f"`{x}` {said} at {y:g} ms"
    if said == "alike":
        return f"{metric.lower()}: `{x}` and `{y}` alike"
    return f"{metric.lower()}: `{said}` did better than `{y if said == x else x}`"


def render_compare_studies(a: Report, b: Report) -> list[str]:
    """Two studies' answers, question by question: the same words, or what
    each tells that the other does not, or where they contradict each other
    (a pair told one way in one and another way in the other)."""
    if not a.questions or not b.questions:
        return []
    la, lb = limits_of(a), limits_of(b)
    in_b = {q.id: answer for q, _asked, answer in b.answers()}
    out, contradicted = ["", "## The study's answers, question by question", ""], []
    for q, _asked, answer in a.answers():
        if q.id not in in_b:
            out.append(f"- Question {q.id}: asked in A only.")
            continue
        other = in_b[q.id]
        ca, cb = claims(answer), claims(other)
        against = [k for k in ca if k in cb and ca[k] != cb[k]]
        if against:
            contradicted.append(str(q.id))
            out.append(f"- **Question {q.id} ({q.title}): A and B contradict each other**: "
                       + "; ".join(f"A: {claim_words(k, ca[k])}, B: {claim_words(k, cb[k])}"
                                   for k in against) + ".")
        elif answer_words(answer, la) == answer_words(other, lb):
            out.append(f"- Question {q.id} ({q.title}): the same answer.")
        else:
            only = [(x, [claim_words(k, cx[k]) for k in cx if k not in cy])
                    for x, cx, cy in (("A", ca, cb), ("B", cb, ca))]
            out.append(f"- Question {q.id} ({q.title}): no contradiction; "
                       + "; ".join(f"told in {x} only: {'; '.join(said)}" for x, said in only
                                   if said) + ".")
    only_b = [str(i) for i in in_b if i not in {x.id for x in a.questions}]
    if only_b:
        out.append(f"- Question{'s' if len(only_b) > 1 else ''} {_join(only_b)}: asked in B "
                   f"only.")
    out += ["", (f"By the study's rules the two contradict each other in question"
                 f"{'s' if len(contradicted) > 1 else ''} {_join(contradicted)}." if contradicted
                 else "By the study's rules the two contradict each other in no question: each "
                      "pair either is told alike in both, or is not told in one.")]
    return out


# Settings that change what a run measures: two runs that differ in one of
# them did not measure alike.
def measuring_settings(st: Settings) -> dict[str, object]:
    """The settings that change what a run measures, by the options' names:
    two runs that differ in one of them did not measure alike."""
    r, s = st.ramp, st.server
    return {"unit": r.unit, "top": r.top, "step": r.step, "step_seconds": r.step_seconds,
            "min_requests": r.min_requests, "ramp": r.kind, "think_time": r.think_time,
            "timeout": r.timeout, "workers": s.workers, "max_connections": st.max_connections,
            "pool_size": s.pool_size, "threads": s.threads, "upstream_ms": s.upstream_ms,
            "db_ms": s.db_ms, "max_in_flight": r.max_in_flight}


def render_compare(a: Report, b: Report, files: tuple[str, str]) -> str:
    """Two saved runs side by side (two machines, or before and after a
    change), and where they differ by the rules a run's conclusion uses:
    for each setup both ran, A's thresholds and peak against B's."""
    ea, eb = a.environment, b.environment
    packages = [name for name in dict.fromkeys([*ea.packages, *eb.packages])
                if ea.packages.get(name) != eb.packages.get(name)]

    def versions(env: Environment) -> str:
        return ", ".join(f"{n} {env.packages.get(n, 'none')}" for n in packages) or "-"

    rows = [["file", *files], ["command", f"`{a.command}`", f"`{b.command}`"],
            ["started", a.started, b.started],
            ["took", fmt_duration(a.seconds), fmt_duration(b.seconds)],
            ["CPU", f"{ea.cpu_model} ({ea.cpu_count} cores)", f"{eb.cpu_model} ({eb.cpu_count} cores)"],
            ["Machine", machine_kind(ea), machine_kind(eb)], ["OS", ea.os, eb.os],
            ["Python", ea.python, eb.python],
            ["PostgreSQL", f"{ea.postgres_version}, {ea.postgres_source}",
             f"{eb.postgres_version}, {eb.postgres_source}"],
            ["Packages that differ", versions(ea), versions(eb)]]
    out = ["# Two runs of repro compared", "", *md_table(["", "A", "B"], rows, "lll")]
    sa, sb = measuring_settings(a.settings), measuring_settings(b.settings)
    differ = [f"{k} {sa[k]!r} (A), {sb[k]!r} (B)" for k in sa if sa[k] != sb[k]]
    if differ:
        out += ["", f"Caution: these settings differ, so the two runs did not measure alike: "
                    f"{'; '.join(differ)}."]
    if a.interrupted or b.interrupted:
        out += ["", "Caution: " + _join([f"{x} was interrupted" for x, r in (("A", a), ("B", b))
                                         if r.interrupted]) + "; its thresholds are those of "
                                                              "the steps measured."]
    st = a.settings
    step = max(a.settings.ramp.step, b.settings.ramp.step)
    in_a = {r.name: r for r in a.setups if r.measured}
    in_b = {r.name: r for r in b.setups if r.measured}
    both = [(r, in_b[name]) for name, r in in_a.items() if name in in_b]
    only = ([f"{name} only in A" for name in in_a if name not in in_b]
            + [f"{name} only in B" for name in in_b if name not in in_a])
    rows = []
    for ra, rb in both:
        ta, tb = ra.thresholds, rb.thresholds
        rows.append([ra.name, fmt_threshold(ta.slowdown, ta.slowdown_up_to),
                     fmt_threshold(tb.slowdown, tb.slowdown_up_to),
                     fmt_threshold(ta.errors, ta.errors_up_to),
                     fmt_threshold(tb.errors, tb.errors_up_to),
                     fmt_capacity(ta), fmt_capacity(tb),
                     fmt_ms(ta.baseline_ms), fmt_ms(tb.baseline_ms)])
    out += ["", "## Setups both ran", ""]
    if rows:
        out += md_table(["setup", "slowdown: A", "slowdown: B", "errors: A", "errors: B",
                         "capacity req/s: A", "capacity req/s: B", "baseline ms: A",
                         "baseline ms: B"], rows, "lrrrrrrrr")
    else:
        out.append("None: the two runs have no measured setup in common.")
    if only:
        out += ["", f"Not compared: {'; '.join(only)}."]
    out += ["", "## Where they differ", ""]
    differing: list[str] = []
    untold: list[str] = []
    for ra, rb in both:
        o = outcome_of(compare_thresholds_of("A", ra.thresholds, "B", rb.thresholds, step,
                                             st.ramp.unit), Side("A", False), Side("B", False))
        said = (f"{o.winner.name} did better" if o.winner else "mixed" if o.mixed else
                "cannot be told yet" if not o.told else "no substantial difference")
        out += [f"{ra.name}:", "", *[f"- {comparison_text(c)}" for c in o.comparisons], "",
                f"  **{ra.name}: {said}.**", ""]
        if o.winners:
            differing.append(f"{ra.name} ({said})")
        elif not o.told:
            untold.append(ra.name)
    if both:
        out.append((f"By the rules, the runs differ on {_join(differing)}." if differing else
                    "By the rules, the runs do not differ on any setup they both ran that could "
                    "be told.") + (f" {_join(untold)} could not be told (ramp further)."
                                   if untold else ""))
    out += render_compare_studies(a, b)
    out += ["", f"The rules are a run's own: two values differ substantially when the smaller "
                f"is more than {SIMILAR_WITHIN:.0%} below the larger and more than one step "
                f"({step} {st.ramp.unit}) away; a throughput counts as a capacity only where the "
                f"load slowed the setup down. A single run is one sample: runs with --repeat "
                "say how far "
                f"a setup moves by itself."]
    return "\n".join(out) + "\n"

def chart_ranking(axes, title: str, answer: Answer, by_name: Mapping[str, SetupResult]) -> None:
    """A question's cells by capacity: a bar at the median over the rounds,
    a dot for each round, a tick where the cores allowed; a colour per tier,
    grey for a cell not ranked."""
    cells = [(x, f"C{i % 10}") for i, t in enumerate(answer.ranking) for x in t.cells]
    cells += [(x, "grey") for x in answer.unranked]
    for y, (x, color) in enumerate(cells):
        axes.barh(y, x.rate.value, color=color, alpha=0.5 if x.rate.bound else 0.8)
        rounds = rates_by_round(by_name[x.name])
        axes.plot([r.value for r in rounds.values()], [y] * len(rounds), "o", color="black",
                  ms=4)
        if x.cores_rps:
            axes.plot([x.cores_rps], [y], "|", color="black", ms=14, mew=2)
    axes.set_yticks(range(len(cells)), [x.name for x, _ in cells], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("capacity, req/s")
    axes.set_title(f"{title}: capacity (bar: the median; dots: each round; tick: what the "
                   f"cores allow; a colour per rank)", fontsize=10)
    axes.grid(alpha=0.3, axis="x")


def chart_groups(report: Report) -> list[tuple[str, list[SetupResult]]]:
    """A row of panels for a run: latency and throughput against the level."""
    if report.questions:
        return []
    return [("", [r for r in report.setups if r.measured])]


def chart_sweep(axes, title: str, sweep: Sweep) -> None:
    """Capacity against the wait, one line per cell, its bounds dashed
    (slots) and dotted (cores): where the lines cross, the crossover."""
    for i, base in enumerate(dict.fromkeys(p.base for p in sweep.points)):
        color, line = f"C{i % 10}", [p for p in sweep.points if p.base == base]
        x = [p.wait_ms for p in line]
        nan = float("nan")
        axes.plot(x, [nan if p.capacity_rps is None else p.capacity_rps for p in line], "-o",
                  color=color, ms=4, label=base)
        ranged = [p for p in line if p.low is not None and p.high is not None]
        axes.vlines([p.wait_ms for p in ranged], [p.low for p in ranged],
                    [p.high for p in ranged], color=color, lw=2, alpha=0.6)
        for attribute, style in (("slots_rps", "--"), ("cores_rps", ":")):
            bound = [getattr(p.bounds, attribute) for p in line]
            if any(b is not None for b in bound):
                axes.plot(x, [nan if b is None else b for b in bound], style, color=color, lw=1)
    axes.set_xscale("log")
    axes.set_yscale("log")
    waits = sorted({p.wait_ms for p in sweep.points})
    axes.set_xticks(waits, [f"{w:g}" for w in waits])
    axes.set_xticks([], minor=True)
    axes.set_xlabel("the upstream API's wait, ms")
    axes.set_ylabel("capacity, req/s")
    axes.set_title(f"{title}: capacity against the wait (dashed: the slots allow; dotted: the "
                   f"cores allow)", fontsize=10)
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=8, loc="lower left")


def render_chart(report: Report, source: Optional[str] = None) -> bytes:
    """A PNG: for each setup, median and p95 latency and req/s against the
    level, with its thresholds marked and the machine named in the caption
    (or, for what repro did not measure itself, where the numbers come
    from)."""
    try:
        import matplotlib
        matplotlib.use("Agg")  # no screen needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError(f"--chart needs matplotlib; run: {SETUP_COMMANDS[1]}") from None
    st, env = report.settings, report.environment
    groups = chart_groups(report)
    answers = [(f"Question {q.id}: {q.title}", a) for q, _asked, a in report.answers()]
    ranked = [(title, a) for title, a in answers if a.sweep is None and a.answered]
    sweeps = [(title, a.sweep) for title, a in answers if a.sweep is not None and a.sweep.points]
    height = len(groups) + len(ranked) + len(sweeps)
    fig, rows = plt.subplots(height, 2, figsize=(13, 3.8 * height + 0.6), squeeze=False)
    by_name = {r.name: r for r in report.setups}
    for i, (title, a) in enumerate(ranked, start=len(groups)):
        for axes in rows[i]:
            axes.remove()
        chart_ranking(fig.add_subplot(height, 1, i + 1), title, a, by_name)
    for i, (title, sweep) in enumerate(sweeps, start=len(groups) + len(ranked)):
        for axes in rows[i]:
            axes.remove()
        chart_sweep(fig.add_subplot(height, 1, i + 1), title, sweep)
    nan = float("nan")
    for (title, results), (latency, throughput) in zip(groups, rows):
        for i, r in enumerate(results):
            color = f"C{i % 10}"
            for k, ramp in enumerate(r.measured):
                steps = ramp.by_level
                x = [s.level for s in steps]
                faint = 1.0 if k == 0 else 0.35  # repeats after the first
                label = r.name if k == 0 else None
                latency.plot(x, [nan if s.p50_ms is None else s.p50_ms for s in steps], "-o",
                             color=color, ms=3, alpha=faint, label=label)
                latency.plot(x, [nan if s.p95_ms is None else s.p95_ms for s in steps], "--",
                             color=color, lw=1, alpha=0.7 * faint)
                throughput.plot(x, [s.rps for s in steps], "-o", color=color, ms=3,
                                alpha=faint, label=label)
            t = r.thresholds
            for axes in (latency, throughput):
                if t.slowdown is not None:
                    axes.axvline(t.slowdown, color=color, ls=":", lw=1.3)
                if t.errors is not None:
                    axes.axvline(t.errors, color=color, ls="-.", lw=1.3)
        if any(s.p50_ms for r in results for x in r.measured for s in x.steps):
            latency.set_yscale("log")  # else nothing succeeded: a log axis has nothing to show
        latency.set_ylabel("latency, ms (median, p95 dashed)")
        throughput.set_ylabel("req/s completed")
        latency.set_title(f"{title} (latency)" if title else "Latency", fontsize=10)
        throughput.set_title(f"{title} (throughput)" if title else "Throughput", fontsize=10)
        for axes in (latency, throughput):
            axes.set_xlabel(st.ramp.unit)
            axes.grid(alpha=0.3)
        if results:
            latency.legend(fontsize=8, loc="upper left")
    source = source or (f"{env.cpu_model}, {env.cpu_count} cores, {machine_kind(env)}, "
                        f"{env.os}; PostgreSQL {env.postgres_version}; started {report.started}.")
    # Two lines of caption under the panels, however many rows there are.
    caption = 0.4 / fig.get_figheight()
    fig.text(0.01, 0.1 * caption, source + ("\nDotted: slowdown threshold; dash-dot: error "
                                            "threshold." if groups else ""), fontsize=8)
    png = io.BytesIO()
    try:
        fig.tight_layout(rect=(0, caption, 1, 1))
        fig.savefig(png, dpi=100, format="png")
    finally:
        plt.close(fig)
    return png.getvalue()


# ---------------------------------------------------------------------------
# The JSON that --json writes, and reading it back
# ---------------------------------------------------------------------------

def _thresholds_json(t: Thresholds) -> dict:
    return {"slowdown_at": t.slowdown, "errors_at": t.errors, "capacity_rps": t.capacity_rps,
            "peak_rps": t.peak_rps, "peak_at": t.peak_level, "baseline_ms": t.baseline_ms,
            "max_level": t.max_level, "slowdown_up_to": t.slowdown_up_to,
            "errors_up_to": t.errors_up_to, "plateau_spread": t.plateau_spread}


class BadField(Exception):
    """A field of a saved run that repro would not have written."""


# How a field's value is read back: checked, and made what the dataclass
# holds.  (value, where) -> value.
Kind = Callable[[object, str], object]


def json_int(low: int = 0) -> Kind:
    def check(v: object, where: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise BadField(f"{where} is {v!r}, not a whole number of at least {low}")
        return v
    return check


def json_number(low: float = 0.0, above: bool = False) -> Kind:
    def check(v: object, where: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v < low or (above and v == low):
            raise BadField(f"{where} is {v!r}, not a number {'above' if above else 'of at least'} "
                           f"{low:g}")
        return v
    return check


def json_text(v: object, where: str) -> str:
    if not isinstance(v, str):
        raise BadField(f"{where} is {v!r}, not text")
    return v


def json_bool(v: object, where: str) -> bool:
    if not isinstance(v, bool):
        raise BadField(f"{where} is {v!r}, not true or false")
    return v


def one_of(registry: Mapping) -> Kind:
    def check(v: object, where: str) -> object:
        if isinstance(v, bool) or not isinstance(v, (str, int)) or v not in registry:
            raise BadField(f"{where} is {v!r}, not one of {', '.join(map(str, registry))}")
        return v
    return check


def json_optional(kind: Kind) -> Kind:
    return lambda v, where: None if v is None else kind(v, where)


def tuple_of(kind: Kind) -> Kind:
    def check(v: object, where: str) -> tuple:
        if not isinstance(v, list):
            raise BadField(f"{where} is {v!r}, not a list")
        return tuple(kind(x, f"{where}[{i}]") for i, x in enumerate(v))
    return check


def mapping_of(kind: Kind) -> Kind:
    def check(v: object, where: str) -> dict:
        if not isinstance(v, dict):
            raise BadField(f"{where} is {v!r}, not an object")
        return {k: kind(x, f"{where}.{k}") for k, x in v.items()}
    return check


def json_record(v: object, where: str) -> dict:
    if not isinstance(v, dict):
        raise BadField(f"{where} is {v!r}, not an object")
    return v


@dataclass(frozen=True)
class JsonField:
    """One field of the JSON: its key, how it is read back, and the
    attribute it comes from and goes to (out and into convert, where the
    JSON says it differently)."""
    key: str
    kind: Kind
    attr: str = ""  # "": the key
    out: Optional[Callable[[object], object]] = None  # the object -> the value written
    into: Optional[Callable[[object, dict], object]] = None  # (value read, its record) -> attribute

    @property
    def name(self) -> str:
        return self.attr or self.key


def kind_of(hint) -> Kind:
    """The Kind of a dataclass field, from its type: where a field needs
    more (a range, a registry), its list says so."""
    import typing
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union and type(None) in args:
        return json_optional(kind_of(next(a for a in args if a is not type(None))))
    if origin is tuple:
        return tuple_of(kind_of(args[0]))
    if origin is dict:
        return mapping_of(kind_of(args[1]))
    return {int: json_int(), float: json_number(), str: json_text, bool: json_bool}[hint]


def fields_of(cls: type, skip: Sequence[str] = (), **given: Kind) -> tuple[JsonField, ...]:
    """A field for each of the dataclass's, read by its type or as given."""
    import typing
    hints = typing.get_type_hints(cls)
    return tuple(JsonField(f.name, given.get(f.name) or kind_of(hints[f.name]))
                 for f in dataclasses.fields(cls) if f.name not in skip)


def json_write(obj: object, fields: Sequence[JsonField]) -> dict:
    return {f.key: f.out(obj) if f.out else getattr(obj, f.name) for f in fields}


def json_read(data: object, fields: Sequence[JsonField], where: str) -> dict:
    """The attributes the fields describe, each checked: a field that is
    missing or wrong is named."""
    data = json_record(data, where)
    values = {}
    for f in fields:
        if f.key not in data:
            raise BadField(f"{where} has no field {f.key}")
        value = f.kind(data[f.key], f"{where}.{f.key}")
        values[f.name] = f.into(value, data) if f.into else value
    return values


STEP_FIELDS = fields_of(StepStats, skip=("level",), order=json_int(1))
ENVIRONMENT_FIELDS = fields_of(Environment)
# The settings are written as one flat record, as they were told.
RAMP_SETTINGS_FIELDS = tuple(
    JsonField("ramp", one_of(RAMPS), "kind") if f.key == "kind" else f
    for f in fields_of(RampSettings, top=json_int(1), step=json_int(1), min_requests=json_int(1),
                       repeat=json_int(1), max_in_flight=json_int(1),
                       load_processes=json_int(1),
                       step_seconds=json_number(0, above=True)))
SERVER_SETTINGS_FIELDS = fields_of(ServerSettings, workers=json_int(1), threads=json_int(1),
                                   pool_size=json_int(1))
SETTINGS_FIELDS = fields_of(Settings, skip=("ramp", "server"))
CELL_FIELDS = fields_of(Cell, view=one_of(VIEWS), server=one_of(SERVERS),
                        connections=one_of(CONNECTIONS), workload=one_of(WORKLOADS))
RAMP_FIELDS = (
    JsonField("stop_reason", json_text),
    JsonField("ended", json_text, "ended_as", out=lambda r: r.ended,
              into=lambda v, d: "" if v == d["stop_reason"] else v),
    JsonField("warmup", json_text), JsonField("error", json_optional(json_text)),
    JsonField("interrupted", json_bool), JsonField("restarts", json_int()),
    JsonField("cpu_ms_per_request", mapping_of(json_optional(json_number())), "cpu_ms",
              out=lambda r: {**r.cpu_ms, "client": r.client_cpu_ms},
              into=lambda v, _d: {k: x for k, x in v.items() if k != "client" and x is not None}),
    JsonField("max_db_connections", json_optional(json_int())),
    JsonField("log_findings", mapping_of(json_int())),
    JsonField("probe", json_bool), JsonField("round", json_int(1)),
)
REPORT_FIELDS = (
    JsonField("command", json_text), JsonField("started", json_text),
    JsonField("unprofiled", mapping_of(json_text)),
    JsonField("seconds", json_number()), JsonField("interrupted", json_optional(json_text)),
    JsonField("db_limit_rps", json_optional(json_number())),
    JsonField("connect_ms", json_optional(json_number())),
)


def _group_shares(v: object, where: str) -> dict[str, float]:
    """A profile's groups: {group: {"share": ..., "ms_per_request": ...}},
    read back as the shares (the ms follow from them)."""
    shares = {}
    for group, record in json_record(v, where).items():
        if group not in PROFILE_GROUPS:
            raise BadField(f"{where}.{group} is not a group of code repro knows "
                           f"({', '.join(PROFILE_GROUPS)})")
        at = f"{where}.{group}"
        shares[group] = json_number()(json_get(json_record(record, at), "share", at), at + ".share")
    return shares


def _frame_share(v: object, where: str) -> tuple[str, float]:
    record = json_record(v, where)
    return (json_text(json_get(record, "frame", where), f"{where}.frame"),
            json_number()(json_get(record, "share", where), f"{where}.share"))


PROFILE_FIELDS = (
    *fields_of(Profile, skip=("shares", "top_frames"), level=json_int(1)),
    JsonField("groups", _group_shares, "shares",
              out=lambda p: {g: {"share": p.shares.get(g, 0.0),
                                 "ms_per_request": p.ms_per_request(g)} for g in PROFILE_GROUPS}),
    JsonField("top_frames", tuple_of(_frame_share),
              out=lambda p: [{"frame": f, "share": x} for f, x in p.top_frames]),
)
QUESTION_FIELDS = (
    JsonField("id", one_of(QUESTIONS)),
    JsonField("cells", tuple_of(json_text)),
    JsonField("skipped", tuple_of(json_text)),
)
GAUGE_FIELDS = fields_of(GaugeReading, round=json_int(1))


def report_to_json(report: Report) -> dict:
    st = report.settings
    level_key = "rate" if st.ramp.open_loop else "users"
    limits = limits_of(report)
    setups = []
    ctx = report.limit_context()
    for r in report.setups:
        t = r.thresholds
        axes = {"url": r.url} if r.cell is None else json_write(r.cell, CELL_FIELDS)
        entry = {"name": r.name, **axes, "driver": r.driver,
                 **(_thresholds_json(t) if r.ramps else {}),
                 "limited_by": limits[r.name].kind if r.name in limits else None,
                 **({"probe": _probe_json(r, ctx)} if r.probes else {}),
                 "max_db_connections": r.max_db_connections,
                 "cpu_ms_per_request": {g: r.cpu_ms(g) for g in CPU_GROUPS
                                        if r.cpu_ms(g) is not None},
                 "profile": None if r.profile is None else {
                     **json_write(r.profile, PROFILE_FIELDS), "overhead": r.profile.overhead}}
        if st.ramp.open_loop:
            entry["sustained_rps"] = t.sustained
        for key, runs in (("repeats", r.ramps), ("probes", r.probes)):
            entry[key] = []
            for ramp in runs:
                rt = ramp.thresholds
                repeat = {**({} if ramp.probe else _thresholds_json(rt)),
                          **json_write(ramp, RAMP_FIELDS)}
                if st.ramp.open_loop:
                    repeat["sustained_rps"] = rt.sustained
                repeat["steps"] = [{level_key: s.level, **json_write(s, STEP_FIELDS),
                                    "error_rate": s.error_rate, "steady": s.steady}
                                   for s in ramp.by_level]
                entry[key].append(repeat)
        setups.append(entry)
    return {
        "schema": SCHEMA, **json_write(report, REPORT_FIELDS),
        "environment": json_write(report.environment, ENVIRONMENT_FIELDS),
        "settings": {**json_write(st, SETTINGS_FIELDS), **json_write(st.ramp, RAMP_SETTINGS_FIELDS),
                     **json_write(st.server, SERVER_SETTINGS_FIELDS), "unit": st.ramp.unit},
        "setups": setups,
        **({"gauge": [json_write(g, GAUGE_FIELDS) for g in report.gauge]} if report.gauge else {}),
        **({"questions": [
            {**json_write(asked, QUESTION_FIELDS), "cells": [c.name for c in asked.cells],
             "title": q.title, "answer": answer_words(a, limits),
             "answer_detail": answer_words(a, limits, figures=True),
             "ranking": [{"cells": [x.name for x in t.cells], "alike": t.alike}
                         for t in a.ranking],
             "unranked": [x.name for x in a.unranked],
             "winner": a.winner,
             **({"crossovers": dict(a.sweep.crossovers),
                 "predicted_crossovers": dict(a.sweep.predicted),
                 "crossings": {other: {f"{w:g}": CROSSING_WORDS[t] for w, t in waits}
                               for other, waits in a.sweep.said}} if a.sweep else {})}
            for q, asked, a in report.answers()]} if report.questions else {}),
    }


def _probe_json(r: SetupResult, ctx: LimitContext) -> dict:
    """A probed cell's figures over the rounds (written, not read back: they
    follow from its steps)."""
    bounds = bounds_of(r, ctx)
    capacity, saturated = r.probe_capacity
    ranked = ranked_of(r, ctx)
    return {"upstream_ms": (WORKLOADS[r.cell.workload].wait_ms(ctx.server, r.cell.wait_ms)
                            if WORKLOADS[r.cell.workload].calls_upstream else None),
            "capacity_rps": capacity, "saturated": saturated,
            "rounds": {str(p.round): p.capacity[0] for p in r.probed},
            "over_cores": list(ranked.over_cores) if ranked else [],
            "bounds": {"slots": bounds.slots_rps, "cores": bounds.cores_rps},
            "predicted_rps": bounds.predicted_rps, "limited_by": bounds.limited_by,
            "low_load_ms": bounds.hold_ms}


def json_get(data: dict, key: str, where: str) -> object:
    if key not in data:
        raise BadField(f"{where} has no field {key}")
    return data[key]


def _report_from(data: dict) -> Report:
    st = json_record(json_get(data, "settings", "the run"), "settings")
    settings = Settings(ramp=RampSettings(**json_read(st, RAMP_SETTINGS_FIELDS, "settings")),
                        server=ServerSettings(**json_read(st, SERVER_SETTINGS_FIELDS, "settings")),
                        **json_read(st, SETTINGS_FIELDS, "settings"))
    level_key = "rate" if settings.ramp.open_loop else "users"
    level = JsonField(level_key, json_int(1), "level")
    setups = []
    for i, entry in enumerate(tuple_of(json_record)(data["setups"], "setups")):
        where = f"setups[{i}]"
        driver = json_read(entry, [JsonField("driver", json_text)], where)["driver"]
        runs: dict[str, list[RampResult]] = {"repeats": [], "probes": []}
        for key, found in runs.items():
            for k, ramp in enumerate(tuple_of(json_record)(json_get(entry, key, where),
                                                           f"{where}.{key}")):
                at = f"{where}.{key}[{k}]"
                records = tuple_of(json_record)(json_get(ramp, "steps", at), f"{at}.steps")
                steps = [StepStats(**json_read(s, (level, *STEP_FIELDS), f"{at}.steps[{n}]"))
                         for n, s in enumerate(records)]
                found.append(RampResult(steps=tuple(sorted(steps, key=lambda s: s.order)),
                                        step=settings.ramp.step, driver=driver,
                                        **json_read(ramp, RAMP_FIELDS, at)))
        ramps, probes = tuple(runs["repeats"]), tuple(runs["probes"])
        profile = json_get(entry, "profile", where)
        if profile is not None:
            profile = Profile(**json_read(profile, PROFILE_FIELDS, f"{where}.profile"))
        if "url" in entry:
            url = json_read(entry, [JsonField("url", json_text)], where)["url"]
            setups.append(SetupResult(None, ramps, url=url, profile=profile))
        else:
            setups.append(SetupResult(Cell(**json_read(entry, CELL_FIELDS, where)), ramps,
                                      profile=profile, probes=probes))
    questions = []
    for i, q in enumerate(tuple_of(json_record)(data.get("questions", []), "questions")):
        asked = json_read(q, QUESTION_FIELDS, f"questions[{i}]")
        try:
            cells = tuple(cell_named(n) for n in asked["cells"])
        except UsageError as e:
            raise BadField(f"questions[{i}].cells: {e}") from None
        questions.append(Asked(asked["id"], cells, asked["skipped"]))
    gauge = tuple(GaugeReading(**json_read(g, GAUGE_FIELDS, f"gauge[{i}]"))
                  for i, g in enumerate(tuple_of(json_record)(data.get("gauge", []), "gauge")))
    env = json_read(json_get(data, "environment", "the run"), ENVIRONMENT_FIELDS, "environment")
    return Report(environment=Environment(**env),
                  settings=settings, setups=tuple(setups), questions=tuple(questions),
                  gauge=gauge, **json_read(data, REPORT_FIELDS, "the run"))


def report_from_json(data: object, source: str) -> Report:
    """The Report that report_to_json wrote, rebuilt, each field checked:
    the Markdown renders from it as the run printed it.  Anything else is
    bad input, and the field that is wrong is named."""
    if not isinstance(data, dict) or "schema" not in data or "setups" not in data:
        raise UsageError(f"{source} is not a run that repro wrote (no schema and setups in it); "
                         f"give a file written by --json")
    if data["schema"] != SCHEMA:
        raise UsageError(f"{source} has JSON schema {data['schema']!r}; this repro reads schema "
                         f"{SCHEMA}: render it with the repro that wrote it, or run again")
    try:
        return _report_from(data)
    except BadField as e:
        raise UsageError(f"{source} is not a run that repro wrote ({e}); give a file written "
                         f"by --json") from None


def load_run(path: str) -> Report:
    """A saved run, read back."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}; give the file that --json "
                         f"wrote") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a text file; give the file that --json wrote") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{path} is not JSON ({e.msg}, line {e.lineno}); give the file "
                         f"that --json wrote") from None
    except (ValueError, RecursionError) as e:  # a number too long, lists nested too deep
        raise UsageError(f"{path} is not a run that repro wrote ({type(e).__name__}); give the "
                         f"file that --json wrote") from None
    return report_from_json(data, path)


# ---------------------------------------------------------------------------
# The progress display (stderr)
# ---------------------------------------------------------------------------

SETUP_SECONDS_GUESS = 60.0  # a default ramp of one setup, until one has been timed


def step_line(label: str, s: StepStats, unit: str) -> str:
    steady = "" if s.steady else " (not steady)"
    return (f"{label:<6} {s.level:>5} {unit} #{s.order:<2} {s.requests:>6} requests "
            f"{s.failures:>5} failed {s.rps:>7.1f} req/s{steady}  p50 {fmt_ms(s.p50_ms):>6} ms  "
            f"p99 {fmt_ms(s.p99_ms):>6} ms  client CPU {s.client_cpu_pct:>3.0f}%  "
            f"{s.seconds:.1f} s" + (" (two windows)" if s.windows > 1 else ""))


class Progress:
    """What stderr shows while repro works: plain lines; on a terminal, the
    steps instead update one status line in place, with the time left."""

    def __init__(self, stream=None, clock: Callable[[], float] = time.monotonic,
                 tty: Optional[bool] = None) -> None:
        self.stream, self.clock, self._tty = stream, clock, tty
        self.start: Optional[float] = None
        self.planned = 0  # setups (ramps) the run means to measure
        self.took: list[float] = []  # how long each finished one took
        self.began: Optional[float] = None  # when the current one began
        self.status = ""

    @property
    def out(self):
        return self.stream or sys.stderr

    @property
    def tty(self) -> bool:
        if self._tty is None:
            self._tty = bool(getattr(self.out, "isatty", lambda: False)())
        return self._tty

    def elapsed(self) -> float:
        if self.start is None:
            self.start = self.clock()
        return self.clock() - self.start

    def line(self, message: str) -> None:
        text = f"[{self.elapsed():6.1f}s] {message}"
        if self.tty and self.status:
            text = f"\r\x1b[K{text}\n{self.status}"
            self.out.write(text)
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def setup_began(self) -> None:
        self.began = self.clock()

    def setup_ended(self) -> None:
        if self.began is not None:
            self.took.append(self.clock() - self.began)
        self.began = None

    def seconds_left(self) -> Optional[float]:
        """The setups still to come at the mean time of those done, and
        what is left of the current one."""
        if not self.planned:
            return None
        each = statistics.mean(self.took) if self.took else SETUP_SECONDS_GUESS
        running = self.clock() - self.began if self.began is not None else 0.0
        after = max(0, self.planned - len(self.took) - (self.began is not None))
        return after * each + (max(0.0, each - running) if self.began is not None else 0.0)

    def step(self, label: str, s: StepStats, unit: str) -> None:
        if not self.tty:
            self.line(step_line(label, s, unit))
            return
        left = self.seconds_left()
        errors = f"{s.failures} failed ({100 * s.error_rate:.0f}%)" if s.failures else "no errors"
        self.status = (f"[{self.elapsed():6.1f}s] {label}: step {s.order}, {s.level} {unit}, "
                       f"{s.rps:.1f} req/s, median {fmt_ms(s.p50_ms)} ms, {errors}"
                       + (f"; about {fmt_duration(left)} left" if left is not None else ""))
        # A line that wraps could not be rewritten in place.
        try:
            width = os.get_terminal_size(self.out.fileno()).columns
        except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
            width = 0
        if 0 < width <= len(self.status):  # 0: not a terminal that says its width
            self.status = self.status[:max(10, width - 2)] + "…"
        self.out.write(f"\r\x1b[K{self.status}")
        self.out.flush()

    def finish(self) -> None:
        """The status line ends, so that what follows starts on a line of its own."""
        if self.tty and self.status:
            self.out.write("\n")
            self.out.flush()
        self.status = ""


# ---------------------------------------------------------------------------
# The environment: the machine, PostgreSQL alone, and the settings a report
# records
# ---------------------------------------------------------------------------

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


def detect_container() -> Optional[str]:
    """What container repro runs in, by what the runtimes leave behind (a
    /.dockerenv alone is not enough: images keep it when they are made into
    virtual machines)."""
    if os.environ.get("container"):  # systemd's convention: podman, lxc, nspawn
        return os.environ["container"]
    if os.path.exists("/run/.containerenv"):
        return "podman"
    with contextlib.suppress(OSError):
        cgroup = Path("/proc/1/cgroup").read_text()
        for marker in ("docker", "kubepods", "containerd", "lxc", "libpod"):
            if marker in cgroup:
                return marker
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            if len(fields) > 4 and fields[4] == "/" and " - overlay " in line:
                return "docker" if os.path.exists("/.dockerenv") else "overlay root file system"
    return None


def detect_virtual_machine() -> bool:
    with contextlib.suppress(OSError):
        return " hypervisor" in Path("/proc/cpuinfo").read_text()
    return False


def collect_environment(db: Optional[Database]) -> Environment:
    """This machine, and the database repro runs (None for `ramp`)."""
    packages = {n: v for n in REPORTED_PACKAGES if (v := package_version(n))}
    standard = SERVERS["uvicorn-standard"].missing()
    return Environment(
        cpu_model=read_cpu_model(), cpu_count=os.cpu_count() or 0, memory=read_memory(),
        os=read_os(), python=platform.python_version(), packages=packages,
        uvicorn_stack="uvicorn: the asyncio loop and the h11 parser; uvicorn-standard: "
                      + (f"not here ({standard})" if standard else
                         f"uvloop {package_version('uvloop')} and httptools "
                         f"{package_version('httptools')}"),
        postgres_version=db.version if db else "", postgres_source=db.source if db else "",
        max_connections=db.max_connections if db else 0,
        postgres_private=db is not None and db.password_file is not None,
        container=detect_container(), virtual_machine=detect_virtual_machine())


def measure_postgres(dsn: str, stop: StopFlag) -> tuple[Optional[float], Optional[float]]:
    """PostgreSQL's own limit for the views' work, measured before the
    setups (postgres_pairs), and what opening one connection costs (the
    median of CONNECT_SAMPLES, ms)."""
    import psycopg2

    took = []
    try:
        for _ in range(CONNECT_SAMPLES):
            stop.check()
            begun = time.perf_counter()
            psycopg2.connect(dsn, connect_timeout=5).close()
            took.append(1000.0 * (time.perf_counter() - begun))
    except psycopg2.Error:
        return None, None
    limit = postgres_pairs(dsn, stop)
    stop.check()
    return limit, statistics.median(took)


def postgres_pairs(dsn: str, stop: StopFlag) -> Optional[float]:
    """The list and detail queries straight against PostgreSQL over
    DB_LIMIT_CONNECTIONS kept connections for DB_LIMIT_SECONDS: pairs a
    second (None where it could not be measured)."""
    import asyncpg

    async def pairs() -> float:
        conns = await asyncio.gather(*(asyncpg.connect(dsn) for _ in range(DB_LIMIT_CONNECTIONS)))
        done, end = 0, time.perf_counter() + DB_LIMIT_SECONDS

        async def loop(conn) -> None:
            nonlocal done
            while time.perf_counter() < end and not stop:
                await conn.fetch(list_sql(TABLE))
                await conn.fetchrow(detail_sql(TABLE))
                done += 1
        try:
            begun = time.perf_counter()
            await asyncio.gather(*(loop(c) for c in conns))
            return done / (time.perf_counter() - begun)
        finally:
            await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)

    try:
        return asyncio.run(pairs())
    except (OSError, asyncpg.PostgresError):
        return None


def report_settings(config: Config) -> Settings:
    kind = RAMPS[config.ramp.kind]
    return Settings(
        setups=tuple(c.name for c in config.setups) or config.urls,
        ramp=dataclasses.replace(config.ramp, load_processes=load_processes(config)),
        server=config.server,
        plan=tuple(kind.plan(config.ramp.top, config.ramp.step)) if kind.plan else (),
        max_connections=None if config.dsn else config.max_connections,
        dsn=mask_dsn(config.dsn) if config.dsn else None, urls=config.urls,
        waits=config.waits if any(QUESTIONS[q].sweep for q in config.questions) else ())


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


# ---------------------------------------------------------------------------
# Running setups: a server for each cell, its ramps, the rounds of a run,
# and serve
# ---------------------------------------------------------------------------

class _ServerFlag(StopFlag):
    """The run's StopFlag as a server sees it, plus a hurry of its own: a
    server stopped for a restart is killed at once, not given time to finish
    what it was doing (none of it is measured)."""

    def __init__(self, stop: StopFlag) -> None:
        super().__init__()
        self.stop, self.restarting = stop, False

    def __bool__(self) -> bool:
        return bool(self.stop)

    def check(self) -> None:
        self.stop.check()

    @property
    def hurry(self) -> bool:
        return self.restarting or self.stop.hurry


def app_settings(cell: Cell, config: Config, upstream: Optional[Upstream]) -> AppSettings:
    workload = WORKLOADS[cell.workload]
    return AppSettings(cell, config.server.pool_size,
                       upstream.url_for(workload.wait_ms(config.server, cell.wait_ms))
                       if workload.calls_upstream and upstream else None)


class ConnectionSampler:
    """The most connections open at once to repro's database, polled ten
    times a second in a thread of its own, over a connection of its own."""

    QUERY = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
             "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")

    def __init__(self, dsn: str) -> None:
        self.dsn, self.most = dsn, None
        self.done = threading.Event()
        self.conn = self.thread = None

    def __enter__(self) -> "ConnectionSampler":
        import psycopg2
        try:
            self.conn = psycopg2.connect(self.dsn, connect_timeout=5)
            self.conn.autocommit = True
        except psycopg2.Error:
            return self  # no slot left, say: the report shows "-"
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def _poll(self) -> None:
        import psycopg2
        with contextlib.suppress(psycopg2.Error), self.conn.cursor() as cur:
            while not self.done.wait(2 * TICK):
                cur.execute(self.QUERY)
                count = cur.fetchone()[0]
                self.most = count if self.most is None else max(self.most, count)

    def __exit__(self, *_exc) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join(5)
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()


def cell_file(cell: Cell) -> str:
    """A cell's name as a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", cell.name)


class SetupServer:
    """One setup's server for one ramp, on one port: started, and started
    afresh when the ramp asks for it."""

    restartable = True
    warning = ""

    def __init__(self, cell: Cell, db: Database, config: Config, workdir: Path,
                 stop: StopFlag, repeat: "int | str", upstream: Optional[Upstream] = None,
                 profiler: Sequence[str] = ()) -> None:
        self.cell, self.upstream, self.profiler = cell, upstream, tuple(profiler)
        self.view, self.server = VIEWS[cell.view], SERVERS[cell.server]
        self.app = app_settings(cell, config, upstream)
        self.db, self.config, self.workdir, self.stop = db, config, workdir, stop
        self.flag = _ServerFlag(stop)
        self.prefix = f"{cell_file(cell)}-{repeat}-server"
        self.driver = ""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{self.view.path}"
        self.logs: list[Path] = []
        self.running: Optional[RunningServer] = None
        self._stack: Optional[contextlib.ExitStack] = None

    def starting(self) -> str:
        return f"starting {self.server.description} with {self.config.server.workers} workers"

    def start(self, _say: Callable[[str], None]) -> str:
        """Start it and warm it up; what the warm-up saw."""
        log = self.workdir / f"{self.prefix}-{len(self.logs) + 1}.log"
        self.logs.append(log)
        self._stack = contextlib.ExitStack()
        try:
            self.running = self._stack.enter_context(running_server(
                self.server, self.view, self.app, self.db, self.config.server.workers,
                self.config.server.threads, log, self.flag, self.port, self.profiler))
            text, self.driver = warm_up(self.url, self.config.server.workers, self.running.process,
                                        self.stop)
            return text
        except BaseException:
            self.close()
            raise

    def close(self, hurry: bool = False) -> None:
        if self._stack is not None:
            self.flag.restarting = hurry
            try:
                self._stack.close()
            finally:
                self._stack, self.flag.restarting = None, False

    def check(self) -> None:
        if self.stop:
            raise RampStopped("interrupted", interrupted=True)
        if self.running is not None and not self.running.process.alive():
            raise RampStopped("server died", self.running.process.died_message())

    def meter(self) -> dict[str, Optional[float]]:
        """CPU time so far of each process group that serves a request."""
        groups = {"server": self.running.process.popen.pid if self.running else None,
                  "postgres": self.db.pid}
        if self.upstream is not None and WORKLOADS[self.cell.workload].calls_upstream:
            groups["upstream"] = self.upstream.process.popen.pid
        # A profiler that started the server is not the server.
        return {g: None if pid is None else tree_cpu_seconds(pid, own=not (
                    g == "server" and self.profiler)) for g, pid in groups.items()}

    def profiler_seconds(self) -> Optional[float]:
        """The CPU time of the profiler that started the server, if one did."""
        if self.running is None or not self.profiler:
            return None
        return process_cpu_seconds(self.running.process.popen.pid)

    def stop_profiler(self) -> None:
        """Have the profiler that started the server write what it sampled
        and stop the server: now, before the load stops."""
        if self.running is not None and self.profiler:
            stop_process(self.running.process.popen, signal.SIGINT, self.flag)

    def sampler(self) -> "ConnectionSampler":
        return ConnectionSampler(self.db.dsn)

    def findings(self) -> dict[str, int]:
        total = {pattern: 0 for pattern in LOG_FINDINGS}
        for log in self.logs:
            for pattern, count in log_findings(log).items():
                total[pattern] += count
        return total


def warm_up_url(url: str, stop: StopFlag, count: int = 10) -> tuple[str, int]:
    """A few requests one after the other, not counted: what was done, and
    how many got 200."""
    answered = 0
    for _ in range(count):
        stop.check()
        answered += http_get(url, WARMUP_SECONDS).status == 200
    return f"{count} requests one after the other, {answered} answered 200", answered


class ForeignServer:
    """An endpoint repro did not start (`ramp URL`): nothing to start,
    restart, meter or sample, only to warm up."""

    restartable = False
    driver = ""
    warning = ""  # what the warm-up found wrong, said after it

    def __init__(self, url: str, stop: StopFlag) -> None:
        self.url, self.stop = url, stop

    def starting(self) -> str:
        return ""

    def start(self, say: Callable[[str], None]) -> str:
        warmup, answered = warm_up_url(self.url, self.stop)
        self.warning = "" if answered else (
            "warning: no request of the warm-up got 200; every step will count errors "
            "(is the path right?)")
        return warmup

    def check(self) -> None:
        if self.stop:
            raise RampStopped("interrupted", interrupted=True)

    def close(self, hurry: bool = False) -> None:
        pass

    def meter(self) -> dict[str, Optional[float]]:
        return {}

    def sampler(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext(types.SimpleNamespace(most=None))

    def findings(self) -> dict[str, int]:
        return {}


def ramp_once(server, label: str, config: Config, workdir: Path, stop: StopFlag,
              progress: Progress,
              probe: Optional[Callable[[Sequence[StepStats]], Optional[int]]] = None
              ) -> RampResult:
    """One ramp of one setup (a SetupServer, or a ForeignServer), or with
    `probe` a saturation probe (config from probe_config).  A server that
    fails is reported, not raised; an interruption before the ramp starts
    is raised (nothing to report)."""
    def say(message: str) -> None:
        progress.line(f"{label}: {message}")

    def restart() -> None:
        say("restarting the server, to measure a lower level on a server that was not "
            "overloaded")
        server.close(hurry=True)
        server.start(say)

    if server.starting():
        say(server.starting())
    try:
        with contextlib.closing(server), \
                load_generator(server.url, config, workdir, stop) as driver:
            warmup = server.start(say)
            say(f"warm-up: {warmup}; " + ("probing for its capacity: users with no think "
                                          "time, doubled until saturated" if probe else
                                          f"ramping up to {config.ramp.top} {config.ramp.unit}"))
            if server.warning:
                say(server.warning)
            with server.sampler() as sampler:
                run = run_ramp(driver, config, time.perf_counter, server.check,
                               lambda s: progress.step(label, s, config.ramp.unit),
                               restart if server.restartable else None, server.meter, probe)
    except ReproError as e:
        say(f"not measured: {first_line(str(e))}")
        return RampResult(steps=(), stop_reason="not measured", error=str(e),
                          log_findings=server.findings(), step=config.ramp.step)
    return RampResult(steps=run.steps, stop_reason=run.reason, ended_as=run.short, warmup=warmup,
                      error=run.error, log_findings=server.findings(),
                      interrupted=run.interrupted, restarts=run.restarts, step=config.ramp.step,
                      driver=server.driver, cpu_ms=run.cpu_ms(),
                      max_db_connections=sampler.most, probe=probe is not None)


def probe_config(config: Config) -> Config:
    """A saturation probe's load: closed-loop users with no think time, in
    short windows; the servers as the run's."""
    return dataclasses.replace(config, ramp=dataclasses.replace(
        config.ramp, top=PROBE_TOP, step=1, think_time=0.0, open_loop=False,
        step_seconds=PROBE_SECONDS, min_requests=PROBE_MIN_REQUESTS, load_processes=None))


def probe_plan(cell: Cell, config: Config, earlier: Sequence[SetupResult]
               ) -> Callable[[Sequence[StepStats]], Optional[int]]:
    """A probe's levels: where it saturated in an earlier round; else from
    its slots, and from the capacity its line held at the longest shorter
    wait measured (a swept cell)."""
    slots = SERVERS[cell.server].slots_at(config.server.workers, config.server.threads)

    def wait(c: Cell) -> float:
        return WORKLOADS[c.workload].wait_ms(config.server, c.wait_ms)
    shorter = [r for r in earlier if r.cell is not None and base_name(r.cell) == base_name(cell)
               and wait(r.cell) < wait(cell) and r.probe_capacity[0]]
    expected = (max(shorter, key=lambda r: wait(r.cell)).probe_capacity[0] if shorter
                else None)
    # Measured in an earlier round: from where it saturated then, doubled to
    # see whether it still does; the levels below were its search for it.
    before = [p.steps[-2].level for r in earlier if r.cell == cell for p in r.probed
              if probe_saturated(p.steps)]
    return lambda steps: probe_next(steps, lambda low: before[-1] if before else
                                    probe_first_level(low, slots, expected), PROBE_TOP)


def recorded_stacks(out: Path) -> StackCounts:
    """What py-spy wrote to `out`, counted."""
    return count_stacks(parse_collapsed(iter(out.read_text(errors="replace").splitlines())))


def keep_stacks(out: Path, directory: Optional[str]) -> tuple[str, str]:
    """py-spy's file copied into --profile's DIR, named by cell: (the copy,
    '') or ('', why it could not be written); ('', '') without a DIR."""
    if not directory:
        return "", ""
    file = str(Path(directory) / out.name)
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, file)
    except OSError as e:
        return "", f"cannot write {file}: {e.strerror}"
    return file, ""


@dataclass(frozen=True)
class Held:
    """One level held on a fresh server for a profile."""
    step: StepStats
    cpu_ms: Optional[float]  # the server's CPU per successful request
    profiler_cpu_ms: Optional[float]  # the profiler's own, where one started the server


def hold_level(server: SetupServer, level: int, config: Config, workdir: Path,
               stop: StopFlag, say: Callable[[str], None]) -> Held:
    """One level held on a fresh server, measured as a ramp's step is (its
    settling counts for the CPU and the requests alike), the profiler
    stopped before the load is."""
    rules = step_rules(config.ramp, config.profile.seconds)
    with contextlib.closing(server), load_generator(server.url, config, workdir, stop) as driver:
        server.start(say)
        if server.profiler:
            say(f"py-spy samples the server, {PROFILE_RATE} times a second")
        before, spy_before = server.meter()["server"], server.profiler_seconds()
        window = measure_step(driver, level, 1, rules, None, time.perf_counter, server.check)
        after, spy_after = server.meter()["server"], server.profiler_seconds()
        server.stop_profiler()
        samples = list(driver.samples)
    ok = sum(1 for x in samples if window.start <= x.end < window.end and x.outcome == "ok")

    def per_request(a: Optional[float], b: Optional[float]) -> Optional[float]:
        return 1000.0 * (b - a) / ok if ok and a is not None and b is not None else None
    return Held(step_stats(window, samples), per_request(before, after),
                per_request(spy_before, spy_after))


def profile_level(r: SetupResult, think_time: float) -> int:
    """The level a profile holds: the slowdown threshold, where requests
    queue (the server is busy) but the setup is still steady; past it, at
    the peak, it may be deep in overload, with errors.  The peak where it
    has no slowdown.  A cell a study only probed: the users that keep it at
    its capacity with the think time (capacity x (think time + its time at
    low load)), where it saturates, as a ramp's users do at the knee."""
    if not r.measured:
        capacity, _ = r.probe_capacity
        return max(1, math.ceil((capacity or 1.0) * (think_time + (r.low_load_ms or 0.0) / 1000)))
    t = r.thresholds
    return t.slowdown or t.peak_level or t.max_level


def profile_setup(result: SetupResult, config: Config, db: Database, workdir: Path,
                  stop: StopFlag, progress: Progress, upstream: Optional[Upstream],
                  executable: str) -> tuple[Optional[Profile], str]:
    """A setup's profile, after its ramps: its level held on a fresh server
    that py-spy started and samples, then on one without it.  (None, why)
    where it could not be; a signal is raised."""
    cell, settings, unit = result.cell, config.profile, config.ramp.unit
    level = settings.users or profile_level(result, config.ramp.think_time)

    def say(message: str) -> None:
        progress.line(f"{cell.name} profile: {message}")

    say(f"{level} {unit} held {settings.seconds:g} s on a fresh server that py-spy starts, then "
        f"on one without it")
    out = workdir / f"{cell_file(cell)}.folded"
    sampled = SetupServer(cell, db, config, workdir, stop, "profiled", upstream,
                          py_spy_argv(executable, out))

    def py_spy_failed(otherwise: str) -> str:
        said = py_spy_said(sampled.logs[-1])[1] if sampled.logs else ""
        return f"py-spy: {said}" if said else first_line(otherwise)
    try:
        # Sampled first: where py-spy cannot sample, nothing else is held.
        with_it = hold_level(sampled, level, config, workdir, stop, say)
        plain = hold_level(SetupServer(cell, db, config, workdir, stop, "plain", upstream),
                           level, config, workdir, stop, say)
    except RampStopped as e:
        if e.interrupted:
            stop.check()
        return None, py_spy_failed(e.error or e.reason)
    except ReproError as e:
        return None, py_spy_failed(str(e))
    errors, said = py_spy_said(sampled.logs[-1])
    if not out.exists():
        return None, f"py-spy wrote no profile ({said or 'it said nothing'})"
    counts = recorded_stacks(out)
    if not counts.samples:
        return None, "py-spy took no sample of the server"
    file, problem = keep_stacks(out, settings.directory)
    if problem:
        return None, problem
    profile = profile_of(counts, level, plain.cpu_ms, plain.step.rps, with_it.step.rps,
                         p50_without=plain.step.p50_ms, p50_with=with_it.step.p50_ms,
                         profiler_cpu_ms=with_it.profiler_cpu_ms, errors=errors, file=file,
                         rate=PROFILE_RATE, seconds=settings.seconds)
    say(f"{plain.step.rps:.1f} req/s without sampling, {with_it.step.rps:.1f} with; "
        f"{counts.samples} samples" + (f", written to {file}" if file else ""))
    return profile, ""


INTERRUPTED = "interrupted"


def profile_setups(setups: Sequence[SetupResult], config: Config, db: Database, workdir: Path,
                   stop: StopFlag, progress: Progress, upstream: Optional[Upstream]
                   ) -> tuple[dict[Cell, Profile], dict[str, str]]:
    """--profile's phase, after every ramp: each measured setup's profile,
    and why each missing one is missing.  A signal ends the phase; what was
    measured is kept."""
    executable = py_spy()
    if executable is None:
        return {}, {r.name: "py-spy is not installed here (pip install py-spy)" for r in setups}
    profiles, missing = {}, {}
    if config.profile.directory:
        try:
            Path(config.profile.directory).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return {}, {r.name: f"cannot make {config.profile.directory}: {e.strerror}"
                        for r in setups}
    for i, r in enumerate(setups):
        try:
            stop.check()
            profile, why = profile_setup(r, config, db, workdir, stop, progress, upstream,
                                         executable)
        except Interrupted:
            missing.update({x.name: INTERRUPTED for x in setups[i:]})
            break
        if profile is not None:
            profiles[r.cell] = profile
        else:
            progress.line(f"{r.name} profile: not taken: {why}")
            missing[r.name] = why
    return profiles, missing


@contextlib.contextmanager
def prepared_database(config: Config, workdir: Path, stop: StopFlag,
                      progress: Progress) -> Iterator[Database]:
    """A seeded database, gone on the way out if repro started it."""
    with open_database(config, workdir, stop, progress.line) as db:
        check_pools(config, db.max_connections)
        slow = any(WORKLOADS[c.workload].table == SLOW_TABLE for c in config.setups)
        try:
            seed_database(db.dsn, config.server.db_ms if slow else None)
        except ReproError as e:
            # A DSN whose user may not create tables is bad input; a private
            # cluster that cannot be seeded is repro's own failure.
            raise (UsageError(str(e)) if config.dsn else e) from None
        progress.line(f"PostgreSQL {db.version} ready ({db.source}); table {TABLE} seeded")
        yield db


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        print(f"{PROG}: warning: could not remove {path}", file=sys.stderr)


def runnable(cells: Sequence[Cell]) -> tuple[list[Cell], list[str]]:
    """The cells that can run here, and why each other one cannot."""
    ok, skipped = [], []
    for cell in cells:
        why = SERVERS[cell.server].missing()
        if why:
            skipped.append(f"{cell.name}: {why}")
        else:
            ok.append(cell)
    return ok, skipped


class Rounds:
    """What the rounds measured so far: each item (a setup's ramp, or a
    cell's probe) once a round, every round in round_order's order, so that
    a drift of the machine hits all alike; before each round, and after the
    last, `gauge` (if given) takes the machine's speed."""

    def __init__(self, rounds: int, stop: StopFlag, progress: Progress) -> None:
        self.rounds, self.stop, self.progress = rounds, stop, progress
        self.results: dict[Measurement, list[RampResult]] = {}  # in the order run
        self.gauge: list[GaugeReading] = []
        self.planned = self.done = 0

    def measure(self, items: Sequence[Measurement], one: Callable[[Measurement, int], RampResult],
                gauge: Optional[Callable[[], Optional[float]]] = None) -> None:
        """one(item, round) for each item, round by round, until a signal."""
        self.planned = self.rounds * len(items)
        self.progress.planned = max(self.progress.planned, self.planned)
        self.results = {item: [] for item in items}
        for round_ in range(1, self.rounds + 2):
            if gauge is not None and not self.stop:
                self.gauge.append(GaugeReading(round_, gauge()))
            if round_ > self.rounds:
                return
            for item in round_order(items, round_):
                self.progress.setup_began()
                try:
                    self.results[item].append(dataclasses.replace(one(item, round_),
                                                                  round=round_))
                    self.done += 1
                except Interrupted:
                    if not self.done:
                        raise  # nothing measured: nothing to report
                finally:
                    self.progress.setup_ended()
                if self.stop:
                    return

    def setups(self, profiles: Mapping[Cell, Profile] = types.MappingProxyType({})
               ) -> tuple[SetupResult, ...]:
        """What was measured, setup by setup, in the order first measured."""
        out = []
        for setup in dict.fromkeys(item.setup for item in self.results):
            ramps = tuple(self.results.get(Measurement(setup), ()))
            probes = tuple(self.results.get(Measurement(setup, True), ()))
            if not ramps and not probes:
                continue
            out.append(SetupResult(None, ramps, url=setup) if isinstance(setup, str) else
                       SetupResult(setup, ramps, profile=profiles.get(setup), probes=probes))
        return tuple(out)

    def interrupted(self, unfinished: bool = False) -> Optional[str]:
        """The signal's name if one cut the run short (one that came while
        the last server was stopping cut nothing short)."""
        cut = any(r.interrupted for rs in self.results.values() for r in rs)
        if self.stop and (self.done < self.planned or cut or unfinished):
            return signal.Signals(self.stop.signum).name
        return None


def gauge_of(dsn: str, stop: StopFlag) -> Optional[float]:
    """The machine's speed now: PostgreSQL alone, the median of
    GAUGE_READINGS one-second readings (one reading moves by a quarter
    within a minute on a shared machine; the median of five much less)."""
    readings = [x for _ in range(GAUGE_READINGS) if not stop
                and (x := postgres_pairs(dsn, stop)) is not None]
    return statistics.median(readings) if readings else None


def study_plan(config: Config) -> tuple[list[Asked], tuple[Measurement, ...]]:
    """The questions asked, each with the cells that can run here (and why
    the others cannot), and the measurements of a round."""
    asked = []
    for number in config.questions:
        cells, skipped = runnable(QUESTIONS[number].cells(config.waits, config.server))
        asked.append(Asked(number, tuple(cells), tuple(skipped)))
    return asked, study_sequence(asked)


def run_measurements(config: Config, stop: StopFlag, progress: Progress) -> Report:
    """Each setup once per repeat, in rounds: repro's own cells on servers
    it starts, or the URLs of `ramp`.  A study measures its cells in rounds,
    each cell once a round however many questions share it, the machine's
    gauge before each round."""
    began, started = time.monotonic(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rounds = Rounds(config.ramp.repeat, stop, progress)
    asked: list[Asked] = []
    db: Optional[Database] = None
    db_limit = connect_ms = None
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="repro-"))
        stack.callback(remove_tree, workdir)
        stack.callback(progress.finish)
        progress.planned = config.ramp.repeat * len(config.setups or config.urls)
        if not config.urls:
            db = stack.enter_context(prepared_database(config, workdir, stop, progress))
        environment = collect_environment(db)
        if db is not None:
            db_limit, connect_ms = measure_postgres(db.dsn, stop)
            progress.line(f"PostgreSQL alone: {fmt_rate(db_limit)} pairs of queries a second "
                          f"over {DB_LIMIT_CONNECTIONS} kept connections; a new connection: "
                          f"{fmt_ms(connect_ms)} ms")
        upstream = (stack.enter_context(upstream_api(workdir, stop))
                    if any(WORKLOADS[c.workload].calls_upstream for c in config.setups)
                    else None)

        def label(setup, round_: int) -> str:
            name = setup if isinstance(setup, str) else setup.name
            return name if config.ramp.repeat == 1 else f"{name}#{round_}"

        def one(item: Measurement, round_: int) -> RampResult:
            if item.probe:
                return probe_one(item.setup, round_)
            setup = item.setup
            server = (ForeignServer(setup, stop) if isinstance(setup, str) else
                      SetupServer(setup, db, config, workdir, stop, round_, upstream))
            return ramp_once(server, label(setup, round_), config, workdir, stop, progress)

        def probe_one(cell: Cell, round_: int) -> RampResult:
            probing = probe_config(config)
            plan = probe_plan(cell, config, rounds.setups())
            server = SetupServer(cell, db, probing, workdir, stop, f"{round_}-probe", upstream)
            return ramp_once(server, f"{label(cell, round_)} probe", probing, workdir, stop,
                             progress, plan)

        def gauge() -> Optional[float]:
            reading = gauge_of(db.dsn, stop)
            progress.line(f"the machine's gauge: PostgreSQL alone, {fmt_rate(reading)} pairs a "
                          f"second (the median of {GAUGE_READINGS} readings)")
            return reading

        if config.questions:
            asked, sequence = study_plan(config)
            progress.line(f"the study: {len(asked)} questions, {len(sequence)} measurements a "
                          f"round, {config.ramp.repeat} rounds")
            rounds.measure(sequence, one, gauge)
        else:
            rounds.measure([Measurement(x) for x in config.setups or config.urls], one)
        profiles: dict[Cell, Profile] = {}
        unprofiled: dict[str, str] = {}
        if config.profile and not stop:
            # The sweep's points are the same code as the other cells, with a longer wait.
            asked_cells = {c for q in asked if not QUESTIONS[q.id].sweep for c in q.cells}
            chosen = [r for r in rounds.setups() if r.cell is not None
                      and (not config.questions or r.cell in asked_cells)]
            unprofiled = {r.name: "its ramp measured nothing" for r in chosen
                          if not r.capacity_runs}
            found, missing = profile_setups([r for r in chosen if r.capacity_runs], config, db,
                                            workdir, stop, progress, upstream)
            profiles, unprofiled = found, {**unprofiled, **missing}
    return Report(command=command_line(config), started=started, environment=environment,
                  settings=report_settings(config), setups=rounds.setups(profiles),
                  unprofiled=unprofiled,
                  seconds=time.monotonic() - began,
                  interrupted=rounds.interrupted(INTERRUPTED in unprofiled.values()),
                  db_limit_rps=db_limit, connect_ms=connect_ms, questions=tuple(asked),
                  gauge=tuple(rounds.gauge))


def check_reachable(url: str, stop: StopFlag) -> None:
    """One GET before anything starts: an endpoint that does not answer at
    all is bad input (one that answers with an error is measured).  In a
    thread of its own, so that a signal ends the wait at once."""
    problem: list[str] = []

    def get() -> None:
        got = http_get(url, 10)
        if got.status is None:  # an error status is an answer
            problem.append(got.problem)

    thread = threading.Thread(target=get, daemon=True)
    thread.start()
    while thread.is_alive():
        stop.check()
        thread.join(TICK)
    if problem:
        raise UsageError(f"{url} does not answer ({problem[0]}); check the address and that "
                         f"its server runs")


def database_hint(db: Database) -> str:
    """How to reach the database yourself (pgbench, psql), password masked."""
    where = f"PostgreSQL: {mask_dsn(db.dsn)}"
    if db.password_file is None:
        return where
    return (f"{where} (password in {db.password_file}, readable by you only: "
            f"PGPASSWORD=$(cat {db.password_file}) psql ...)")


def serve(config: Config, stop: StopFlag, progress: Progress) -> None:
    """Keep one setup running until a signal (which main() turns into 130/143)."""
    cell = config.setups[0]
    view, server = VIEWS[cell.view], SERVERS[cell.server]
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="repro-"))
        stack.callback(remove_tree, workdir)
        db = stack.enter_context(prepared_database(config, workdir, stop, progress))
        upstream = (stack.enter_context(upstream_api(workdir, stop))
                    if WORKLOADS[cell.workload].calls_upstream else None)
        executable = py_spy() if config.profile else None
        if config.profile and executable is None:
            print("Not profiling: py-spy is not installed here (pip install py-spy).")
        out = workdir / f"{cell_file(cell)}.folded"
        wrap = py_spy_argv(executable, out) if executable else ()
        try:
            with running_server(server, view, app_settings(cell, config, upstream), db,
                                config.server.workers, config.server.threads,
                                workdir / "server.log", stop, config.port, wrap) as running:
                processes = [running.process] + ([upstream.process] if upstream else [])
                print(f"{cell.name}: {describe_cell(cell)}; {config.server.workers} workers; "
                      f"PostgreSQL {db.version} ({db.source})\n"
                      f"{running.base_url}{view.path}\n"
                      f"{database_hint(db)}\n"
                      + ("py-spy samples the server; Ctrl-C prints where its CPU went.\n"
                         if wrap else "") +
                      "Press Ctrl-C to stop.", flush=True)
                while True:
                    stop.check()
                    for process in processes:
                        if not process.alive():
                            raise ReproError(process.died_message())
                    time.sleep(TICK)
        finally:
            if wrap:
                print(served_profile(cell, out, workdir / "server.log", config.profile), flush=True)


def served_profile(cell: Cell, out: Path, log: Path, settings: ProfileSettings) -> str:
    """What `serve --profile` prints when it stops: where the server's CPU
    went while it served (the load was yours: no CPU per request)."""
    errors, said = py_spy_said(log)
    if not out.exists():
        return f"Not profiled: py-spy wrote nothing ({said or 'stopped before it could'})."
    file, problem = keep_stacks(out, settings.directory)
    text = render_served_profile(cell.name, profile_of(
        recorded_stacks(out), 1, None, None, None, errors=errors, file=file))
    return text + (f"\n\n{problem}." if problem else "")


# ---------------------------------------------------------------------------
# A Locust file with repro's users and step plan, for load from more than
# one machine (Locust's distributed mode)
# ---------------------------------------------------------------------------

# Locust's stats history gives, each second, the percentiles of about the
# last this many seconds (its CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW).
LOCUST_PERCENTILE_WINDOW = 10
# A level is held for two user cycles (think time + window) to settle, then
# that window, and two seconds more for Locust's whole-second rows.
LOCUST_SETTLE_CYCLES = 2
LOCUST_MARGIN = 2
# A user count Locust shows for fewer rows than this is it spawning between
# levels, not a level.
LOCUST_MIN_ROWS = 3

LOCUST_TEMPLATE = '''\
"""Written by `{command}`.

repro's closed-loop users and step plan for Locust, so that the load can come
from several machines (`locust --master` here, and `locust --worker
--master-host=...` on each load machine).
Each user GETs {path}, waits for the answer (at most {timeout:g} s) and
thinks {think:g} s, as repro's users do; FastHttpUser keeps the connection
alive where the server allows.  The plan steps through the levels below
({unit}), each held for {hold:g} s: {settle} user cycles to settle, then the
{window} s over which Locust's stats history gives its percentiles, which
`repro.py report --locust` reads at each level's end.  The new users of a
level start within one think time.  Locust's own spawning is per second,
not repro's even spread, and its statistics come in one-second buckets.

    {how}
"""
from locust import FastHttpUser, LoadTestShape, constant, task

PLAN = {plan!r}
HOLD = {hold!r}  # seconds at each level
THINK = {think!r}


class ReproUser(FastHttpUser):
    host = {host!r}
    wait_time = constant(THINK)
    network_timeout = {timeout!r}
    connection_timeout = {timeout!r}

    @task
    def view(self):
        self.client.get({path!r}, name={path!r})


class ReproSteps(LoadTestShape):
    def tick(self):
        index = int(self.get_run_time() // HOLD)
        if index >= len(PLAN):
            return None
        added = PLAN[index] - (PLAN[index - 1] if index else 0)
        return PLAN[index], max(1.0, abs(added) / max(THINK, 0.1))
'''


def render_locustfile(config: Config) -> str:
    """The Locust file for a setup (served by `serve`) or a URL: repro's
    think time, timeout and a fixed plan of levels (the search cannot be
    fixed in advance: it goes by what it measures)."""
    plan = (RAMPS[config.ramp.kind].plan or adaptive_plan)(config.ramp.top, config.ramp.step)
    hold = round(LOCUST_SETTLE_CYCLES * (config.ramp.think_time + config.ramp.step_seconds)
                 + LOCUST_PERCENTILE_WINDOW + LOCUST_MARGIN, 1)
    then = ("    locust --headless --csv result --csv-full-history\n"
            "    python repro.py report --locust result_stats_history.csv")
    if config.urls:
        target = HttpTarget.parse(config.urls[0])
        host = f"http://{target.host}:{target.port}"
        path = target.path
        how = f"python repro.py locustfile {config.urls[0]} > locustfile.py\n{then}"
    else:
        cell = config.setups[0]
        host, path = "http://127.0.0.1:8000", VIEWS[cell.view].path
        how = (f"python repro.py serve {cell.name} --port 8000   # then, elsewhere:\n"
               f"    python repro.py locustfile {cell.name} > locustfile.py\n{then}")
    return LOCUST_TEMPLATE.format(command=command_line(config), path=path, host=host,
                                  timeout=config.ramp.timeout, think=config.ramp.think_time,
                                  unit="users", plan=plan, hold=hold, how=how,
                                  settle=LOCUST_SETTLE_CYCLES, window=LOCUST_PERCENTILE_WINDOW)


# ---------------------------------------------------------------------------
# Reading Locust's stats history back: repro's thresholds, summary and
# chart from what Locust wrote (--csv PREFIX --csv-full-history), with what
# its per-second, bucketed statistics cannot tell said in the report
# ---------------------------------------------------------------------------

LOCUST_COLUMNS = ("Timestamp", "User Count", "Type", "Name", "50%", "Total Request Count",
                  "Total Failure Count")
LOCUST_OPTIONAL = ("95%", "99%")  # absent where Locust's PERCENTILES_TO_REPORT was changed
LOCUST_HOW = ("give the _stats_history.csv that 'locust --csv PREFIX --csv-full-history' "
              "writes")
# Locust writes a row a second; a longer silence is not one continuous run.
LOCUST_MAX_GAP = 5
@dataclass(frozen=True)
class LocustRow:
    """One second of Locust's stats history, all endpoints together."""
    second: int
    users: int
    requests: int  # since Locust started, failures included
    failures: int
    p50_ms: Optional[int]  # of about the last LOCUST_PERCENTILE_WINDOW seconds
    p95_ms: Optional[int]
    p99_ms: Optional[int]


def _shown(text: str) -> str:
    """A field quoted in a message, cut short."""
    return repr(text if len(text) <= 30 else text[:30] + "...")


def locust_rows(lines: Iterator[str], source: str) -> tuple[list[LocustRow], list[str]]:
    """The rows of Locust's own total (Type empty, Name "Aggregated") of a
    stats history, and the endpoints in it, checked as Locust writes them:
    a row a second, totals that never go down."""
    reader = csv.DictReader(lines)
    fields = reader.fieldnames or ()
    missing = [c for c in LOCUST_COLUMNS if c not in fields]
    if missing:
        raise UsageError(f"{source} is not a Locust stats history (no {missing[0]!r} column); "
                         f"{LOCUST_HOW}")
    rows: list[LocustRow] = []
    endpoints: list[str] = []
    for record in reader:
        where = f"{source}, line {reader.line_num}"
        if None in record or None in record.values():
            raise UsageError(f"{where} does not have the header's {len(fields)} fields; "
                             f"{LOCUST_HOW}")
        if (record["Type"], record["Name"]) != ("", "Aggregated"):
            if record["Name"] not in endpoints:
                endpoints.append(record["Name"])
            continue
        values: dict[str, Optional[int]] = {}
        for column in (*LOCUST_COLUMNS, *LOCUST_OPTIONAL):
            if column in ("Type", "Name") or column not in record:
                continue
            text = record[column]
            if column.endswith("%") and text == "N/A":
                values[column] = None
                continue
            try:
                value = int(text)
            except ValueError:
                value = -1
            if not 0 <= value < 10**12:
                raise UsageError(f"{where}: {_shown(text)} in column {column!r} is not a whole "
                                 f"number from 0 to 10^12; {LOCUST_HOW}")
            values[column] = value
        row = LocustRow(values["Timestamp"], values["User Count"],
                        values["Total Request Count"], values["Total Failure Count"],
                        values["50%"], values.get("95%"), values.get("99%"))
        if row.failures > row.requests:
            raise UsageError(f"{where}: more failures than requests; {LOCUST_HOW}")
        if rows:
            before = rows[-1]
            if row.second <= before.second:
                raise UsageError(f"{where}: the time does not move on from the row before; "
                                 f"{LOCUST_HOW}, as it wrote it")
            if row.second - before.second > LOCUST_MAX_GAP:
                raise UsageError(f"{where}: {row.second - before.second} s after the row "
                                 f"before, where Locust writes one a second; give the history "
                                 f"of one continuous run")
            if row.requests < before.requests or row.failures < before.failures:
                raise UsageError(f"{where}: Locust's totals go down, so its stats were reset "
                                 f"(--reset-stats, or the web UI); run it again without "
                                 f"resetting them")
        rows.append(row)
    if not rows:
        raise UsageError(f"{source} has no rows of Locust's totals (Aggregated); {LOCUST_HOW}")
    if rows[-1].requests and not endpoints:
        # Without it, Locust writes percentiles since its start, not of the
        # last seconds: no level's own latency is in the file.
        raise UsageError(f"{source} was written without --csv-full-history, so its "
                         f"percentiles are since Locust started, not per level; run Locust "
                         f"again with --csv-full-history")
    return rows, endpoints


def locust_levels(rows: Sequence[LocustRow]) -> tuple[list[list[LocustRow]], list[int]]:
    """The rows of each level, in the order held: a user count Locust kept
    for LOCUST_MIN_ROWS rows or more (shorter ones are it spawning between
    levels).  A count held again later keeps its first run: the levels, and
    those held again."""
    runs: list[list[LocustRow]] = []
    for row in rows:
        if runs and runs[-1][-1].users == row.users:
            runs[-1].append(row)
        else:
            runs.append([row])
    first: dict[int, list[LocustRow]] = {}
    again: list[int] = []
    for run in runs:
        if run[0].users > 0 and len(run) >= LOCUST_MIN_ROWS:
            if run[0].users in first:
                again.append(run[0].users)
            else:
                first[run[0].users] = run
    return list(first.values()), sorted(set(again))


def locust_step(run: Sequence[LocustRow], moved: set[int], order: int) -> StepStats:
    """A level's statistics: the percentiles of its last row (about its
    last LOCUST_PERCENTILE_WINDOW seconds), and its completions and
    failures over the same seconds, from the differences of Locust's running
    totals.  The differences are taken between rows where the totals moved:
    a master in distributed mode moves them only when its workers report
    (every 3 s), not every second.  moved: the seconds of such rows."""
    last = run[-1]
    window = [r for r in run if r.second >= last.second - LOCUST_PERCENTILE_WINDOW]
    if len(window) < 2:
        window = list(run)
    news = [r for r in window if r.second in moved]
    a, b = (news[0], news[-1]) if len(news) >= 2 else (window[0], window[-1])
    seconds = b.second - a.second
    requests, failures = b.requests - a.requests, b.failures - a.failures
    # Locust writes 0 for a percentile it has no window for (its cache
    # missed the second): the newest row of the window that has one.
    known = next((r for r in reversed(window) if r.p50_ms), None) if requests else None
    return StepStats(
        level=last.users, order=order, requests=requests, failures=failures,
        failures_by_kind={"locust": failures} if failures else {},
        rps=(requests - failures) / seconds, arrival_rps=requests / seconds,
        completion_rps=requests / seconds,
        p50_ms=known.p50_ms if known else None, p95_ms=known.p95_ms if known else None,
        p99_ms=known.p99_ms if known else None,
        client_cpu_pct=0.0, client_cpu_ms=None,
        settle_seconds=float(a.second - run[0].second),
        seconds=float(last.second - run[0].second + 1))


def locust_mixed(step: StepStats) -> bool:
    """Whether the level was held too short for Locust's percentile window
    to lie within it, after a cycle of settling: its percentiles then mix
    in the level before."""
    return step.seconds < LOCUST_PERCENTILE_WINDOW + LOCUST_MARGIN


def locust_setup(rows: Sequence[LocustRow], endpoints: Sequence[str],
                 source: str) -> tuple[SetupResult, list[int]]:
    """The setup of one history, and the levels it held more than once."""
    levels, again = locust_levels(rows)
    if not any(run[-1].requests > run[0].requests for run in levels):
        raise UsageError(f"{source} holds no level of users for {LOCUST_MIN_ROWS} s or more "
                         f"with requests in it: nothing to read; {LOCUST_HOW}")
    moved = {r.second for r, before in zip(rows[1:], rows)
             if (r.requests, r.failures) != (before.requests, before.failures)}
    steps = tuple(locust_step(run, moved, i) for i, run in enumerate(levels, start=1))
    name = endpoints[0] if len(endpoints) == 1 else f"{source} ({len(endpoints)} endpoints)"
    ramp = RampResult(steps=steps, stop_reason="completed", step=min(s.level for s in steps))
    return SetupResult(cell=None, ramps=(ramp,), url=name), again


@dataclass(frozen=True)
class LocustRun:
    """Where a setup of a Locust report comes from."""
    source: str
    endpoints: int
    held_again: tuple[int, ...]  # levels held more than once; the first time counts


def locust_report(sources: Sequence[tuple[str, Iterator[str]]],
                  command: str) -> tuple[Report, list[LocustRun]]:
    """A Report of Locust's stats histories, one setup each: (file, its
    lines).  Two files of one endpoint take their file names."""
    setups, runs, spans = [], [], []
    for source, lines in sources:
        try:
            rows, endpoints = locust_rows(lines, source)
        except csv.Error as e:
            raise UsageError(f"{source} is not a CSV file Locust wrote ({e}); "
                             f"{LOCUST_HOW}") from None
        except UnicodeDecodeError:
            raise UsageError(f"{source} is not UTF-8 text; {LOCUST_HOW}") from None
        setup, again = locust_setup(rows, endpoints, source)
        setups.append(setup)
        runs.append(LocustRun(source, len(endpoints), tuple(again)))
        spans.append((rows[0].second, rows[-1].second))
    names = [r.name for r in setups]
    setups = [r if names.count(r.name) == 1 else dataclasses.replace(r, url=run.source)
              for r, run in zip(setups, runs)]
    levels = sorted({s.level for r in setups for s in r.ramps[0].steps})
    # Only the levels are in the CSV: the settings of the load are Locust's.
    settings = Settings(setups=tuple(r.name for r in setups),
                        ramp=RampSettings(top=levels[-1],
                                          step=min(r.ramps[0].step for r in setups)),
                        server=ServerSettings(), plan=tuple(levels),
                        urls=tuple(r.name for r in setups))
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(min(a for a, _ in spans)))
    report = Report(command=command, started=started, environment=None,
                    settings=settings, setups=tuple(setups),
                    seconds=float(sum(b - a for a, b in spans)))
    return report, runs


def locust_caveats() -> list[str]:
    """What Locust's per-second, bucketed stats history cannot tell, and how
    repro reads it instead."""
    return [
        "- **Levels**: Locust writes one row a second, stamped to the whole second, with the "
        "users it ran then (all workers together in distributed mode). A user count held "
        f"for fewer than {LOCUST_MIN_ROWS} rows is Locust spawning between levels and is "
        "skipped; a count held again later counts the first time. The CSV names neither the "
        "think time nor the machines the load came from.",
        f"- **Latency**: each row's percentiles are Locust's \"current\" ones, of about the "
        f"last {LOCUST_PERCENTILE_WINDOW} s (2 to 18 s, depending on which second Locust's "
        f"cache holds; no row says which). repro reads them from a level's last row. A "
        f"level held for less than {LOCUST_PERCENTILE_WINDOW + LOCUST_MARGIN} s mixes in the "
        f"level before it (marked † below), and one held longer still may. Locust keeps "
        f"response times rounded to two significant digits (to 10 ms from 100 ms, to 100 ms "
        f"from 1 s) and includes failed requests in its percentiles; repro's own latencies "
        f"are exact and of successful responses only.",
        f"- **req/s and errors** come from the differences of Locust's running totals over "
        f"the same last {LOCUST_PERCENTILE_WINDOW} s of each level, between rows where they "
        f"moved (a master in distributed mode moves them when its workers report, every 3 "
        f"s): completions, as repro counts req/s. Locust counts a request only when it "
        f"ends, so whether a queue filled or drained during the window cannot be told: no "
        f"level is marked unsteady, and every level counts for the peak. The kinds of "
        f"failure are not in the history (Locust's _failures.csv has them).",
        "- **Endpoints**: repro reads Locust's total over all of them. Where a run had "
        "several tasks, its latency and req/s mix the endpoints by their traffic: to compare "
        "views, give one history per view.",
    ]


def render_locust(report: Report, runs: Sequence[LocustRun]) -> str:
    st = report.settings
    count = len(runs)
    out = ["# Do async Django views make this app faster? From Locust's stats history", "",
           *verdict_lines(report), "", *render_summary(report), "",
           f"`{report.command}`: {count} Locust run{'s' if count > 1 else ''}, the first "
           f"started {report.started}, {fmt_duration(report.seconds)} of history in all; read "
           f"by repro, by its rules."]
    folds = [("Each measure compared by the rules", render_comparisons(report)),
             ("What Locust's stats history tells, and what it does not", locust_caveats())]
    for r, run in zip(report.setups, runs):
        [ramp] = r.ramps
        levels = f"{len(ramp.steps)} level{'s' if len(ramp.steps) > 1 else ''}"
        rows = [[str(s.level) + (" †" if locust_mixed(s) else ""), str(s.requests),
                 f"{s.failures} ({100 * s.error_rate:.0f}%)" if s.failures else "0",
                 f"{s.rps:.1f}", fmt_ms(s.p50_ms), fmt_ms(s.p95_ms), fmt_ms(s.p99_ms),
                 f"{s.seconds:.0f}", f"{s.seconds - 1 - s.settle_seconds:.0f}"]
                for s in ramp.by_level]
        said = f"From {run.source}: {levels} of users"
        if run.endpoints > 1:
            said += f", {run.endpoints} endpoints together"
        if run.held_again:
            said += (f"; {_join([str(u) for u in run.held_again])} users held again later, "
                     f"the first time counted")
        lines = [said + ".", "", *md_table(
            ["users", "requests", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms", "held s",
             "counted s"], rows, "rrrrrrrrr")]
        mixed = [str(s.level) for s in ramp.by_level if locust_mixed(s)]
        if mixed:
            lines += ["", f"† Held under {LOCUST_PERCENTILE_WINDOW + LOCUST_MARGIN} s at "
                          f"{_join(mixed)} users: the percentiles include requests of the level "
                          f"before."]
        plateau = plateau_line(ramp, "users", steadiness=False)
        if plateau:
            lines += ["", plateau]
        folds.append((f"{r.name}: its {levels}", lines))
    folds.append(("The rules, as they apply to Locust's numbers",
                  threshold_rules(st, LOCUST_RECORDS)))
    return "\n".join(out + ["", *render_folds(folds)]) + "\n"


def load_locust(paths: Sequence[str], command: str) -> tuple[Report, str]:
    """Locust's stats histories as a Report, and its Markdown report."""
    seen: dict[str, str] = {}
    for path in paths:
        real = os.path.realpath(path)
        if real in seen:
            raise UsageError(f"{seen[real]} and {path} are the same file; give each Locust "
                             f"run's stats history once")
        seen[real] = path
    with contextlib.ExitStack() as files:
        sources = []
        for path in paths:
            try:
                # As Locust's csv writer wrote it; a BOM if a spreadsheet saved it.
                sources.append((path, files.enter_context(
                    open(path, newline="", encoding="utf-8-sig"))))
            except OSError as e:
                raise UsageError(f"cannot read {path}: {e.strerror}; {LOCUST_HOW}") from None
        report, runs = locust_report(sources, command)
    return report, render_locust(report, runs)


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
rate_count = _number(int, lambda v: 1 <= v <= MAX_RATE,
                     f"a whole number of requests per second from 1 to {MAX_RATE}")
repeat_count = _number(int, lambda v: 1 <= v <= MAX_REPEAT, f"a whole number from 1 to {MAX_REPEAT}")
process_count = _number(int, lambda v: 1 <= v <= MAX_LOAD_PROCESSES,
                        f"a whole number from 1 to {MAX_LOAD_PROCESSES}")
user_count = _number(int, lambda v: 1 <= v <= MAX_USERS, f"a whole number from 1 to {MAX_USERS}")
worker_count = _number(int, lambda v: 1 <= v <= MAX_WORKERS,
                       f"a whole number from 1 to {MAX_WORKERS}")
positive_float = _number(float, lambda v: v > 0, "a number of seconds above 0")
non_negative_float = _number(float, lambda v: v >= 0, "a number of seconds, 0 or more")
port_number = _number(int, lambda v: 1 <= v <= 65535, "a port number from 1 to 65535")
# PostgreSQL itself takes up to 262143, if the machine has the memory.
max_connections_count = _number(int, lambda v: 10 <= v <= 10000, "a whole number from 10 to 10000")
pool_count = _number(int, lambda v: 1 <= v <= 1000, "a whole number from 1 to 1000")
threads_count = _number(int, lambda v: 1 <= v <= 1000, "a whole number from 1 to 1000")
milliseconds = _number(float, lambda v: 0 <= v <= MAX_WAIT_MS,
                       f"a number of milliseconds, 0 to {MAX_WAIT_MS}")


def axes_help() -> str:
    """The registries, for --help: nothing about a cell is written twice."""
    def rows(title: str, items: Sequence[tuple[str, str]]) -> list[str]:
        width = max(len(k) for k, _ in items)
        return [f"  {title}:"] + [f"    {k.ljust(width)}  {v}" for k, v in items]
    named = ", ".join(f"{alias} = {c.view}@{c.server}" for alias, c in NAMED_CELLS.items())
    lines = [f"setups: {', '.join(NAMED_CELLS)} (2021's: {named}), or {CELL_SYNTAX}"]
    lines += rows("views", [(v.name, v.description) for v in VIEWS.values()])
    lines += rows("servers", [(x.name, x.description + ("; not available here: " + x.missing()
                                                        if x.missing() else ""))
                              for x in SERVERS.values()])
    lines += rows("connections", [(c.name, f"{c.sql}; the ORM views: {c.orm}")
                                  for c in CONNECTIONS.values()])
    lines += rows("workloads", [(w.name, w.description + (f" (+{w.name}=MS: a wait of its own)"
                                                          if w.own_wait else ""))
                                for w in WORKLOADS.values()])
    lines += rows("and", [("+2021", "DEBUG and asyncio debug mode on, as the original ran")])
    return "\n".join(lines)


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-2021", action="store_true",
                        help="run every setup with the 2021 settings: DEBUG on and asyncio debug "
                             "mode on (PYTHONASYNCIODEBUG=1), as the original ran")
    parser.add_argument("--pool-size", type=pool_count, default=DEFAULT_POOL_SIZE, metavar="N",
                        help=f"connections per worker process for +pooled setups "
                             f"(default {DEFAULT_POOL_SIZE}); all workers together must stay "
                             f"under max_connections")
    parser.add_argument("--threads", type=threads_count, default=DEFAULT_THREADS, metavar="N",
                        help=f"threads per gunicorn-gthread worker (default {DEFAULT_THREADS})")
    parser.add_argument("--upstream-ms", type=milliseconds, default=DEFAULT_UPSTREAM_MS,
                        metavar="MS", help=f"how long the upstream API of +upstream setups "
                        f"takes to answer (default {DEFAULT_UPSTREAM_MS:g})")
    parser.add_argument("--db-ms", type=milliseconds, default=DEFAULT_DB_MS, metavar="MS",
                        help=f"how long each query of +slow-db setups waits in PostgreSQL "
                             f"(default {DEFAULT_DB_MS:g})")


def _add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dsn", metavar="URL",
                        help="use this PostgreSQL database (postgresql://user:pass@host:port/db; "
                             "default: $DATABASE_URL, else a private throwaway cluster)")
    parser.add_argument("--max-connections", type=max_connections_count, metavar="N",
                        help=f"max_connections of the private cluster "
                             f"(default {DEFAULT_MAX_CONNECTIONS}, as stock PostgreSQL)")
    parser.add_argument("--workers", type=worker_count, default=DEFAULT_WORKERS, metavar="N",
                        help=f"worker processes per server (default {DEFAULT_WORKERS})")


def questions_help() -> str:
    return "questions:\n" + "\n".join(f"  {q.id}. {q.title}\n     {q.about}"
                                       for q in QUESTIONS.values())


def question_list(text: str) -> tuple[int, ...]:
    """'1,3' -> (1, 3), each once, in the study's order."""
    chosen = set()
    for word in text.split(","):
        word = word.strip()
        if not word.isdigit() or int(word) not in QUESTIONS:
            raise argparse.ArgumentTypeError(
                f"{word!r} is not a question; give numbers from {', '.join(map(str, QUESTIONS))} "
                f"separated by commas, such as 1,3")
        chosen.add(int(word))
    return tuple(sorted(chosen))


def wait_list(text: str) -> tuple[float, ...]:
    """'10,100' -> (10.0, 100.0), each once, shortest first."""
    waits = set()
    for word in text.split(","):
        wait = wait_ms_of(word)
        if wait is None:
            raise argparse.ArgumentTypeError(
                f"{word.strip()!r} is not a wait; give milliseconds, more than 0 and at most "
                f"{MAX_WAIT_MS}, separated by commas, such as 10,100,1000")
        waits.add(wait)
    if len(waits) < 2:
        raise argparse.ArgumentTypeError("a sweep needs two waits or more, such as 10,100,1000")
    return tuple(sorted(waits))


# What concerns repro's own servers and database: refused by `ramp`.
SERVER_OPTIONS = ("--setups", "--as-2021", "--pool-size", "--threads", "--upstream-ms",
                  "--db-ms", "--dsn", "--max-connections", "--workers", "--profile",
                  "--profile-users", "--profile-seconds")


def run_parser() -> Parser:
    run = Parser(prog=PROG, description="Reproduce the 2021 async-vs-sync Django load test and "
                 "print a Markdown report. Other commands (each with its own --help): study "
                 "(the questions behind the 2021 result), serve SETUP (keep one setup "
                 "running), report RUN.json (render a saved run again; or --locust CSV for Locust's "
                 "stats history), compare A.json B.json, "
                 "ramp URL... (your own endpoints), locustfile SETUP|URL (for Locust).",
                 epilog=axes_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_options(run)
    _add_profile_options(run)
    _add_database_options(run)
    _add_server_options(run)
    run.add_argument("--setups", default=",".join(NAMED_CELLS), metavar="LIST",
                     help=f"comma-separated setups to run (default {','.join(NAMED_CELLS)}; "
                          f"see below)")
    return run


def study_parser() -> Parser:
    study = Parser(prog=f"{PROG} study", description="Answer the study's questions, each from "
                   "a few cells measured in rounds (each probed for its capacity; those that "
                   "run PostgreSQL out of connections also ramped for their thresholds, by a "
                   "run's rules), told only where every round agrees, and print a Markdown "
                   "report.", epilog=questions_help() + "\n\n" + axes_help(),
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    study.add_argument("--questions", type=question_list, default=tuple(QUESTIONS),
                       metavar="LIST", help="comma-separated question numbers (default: all "
                       "of them, listed below)")
    study.add_argument("--waits", type=wait_list, default=DEFAULT_WAITS, metavar="LIST",
                       help="question 7's waits of the upstream API, in ms, comma-separated "
                            f"(default {','.join(f'{w:g}' for w in DEFAULT_WAITS)})")
    study.add_argument("--rounds", type=repeat_count, default=DEFAULT_ROUNDS, metavar="N",
                       help=f"measure each cell once a round, N rounds, the second in reverse "
                            f"order; an answer is told only where every round agrees "
                            f"(default {DEFAULT_ROUNDS})")
    _add_run_options(study, repeat=False)
    _add_profile_options(study)
    _add_database_options(study)
    _add_server_options(study)
    # Refused with a line of its own, rather than argparse's "unrecognized".
    study.add_argument("--setups", help=argparse.SUPPRESS)
    return study


def serve_parser() -> Parser:
    parser = Parser(prog=f"{PROG} serve", description="Start PostgreSQL and one setup's "
                          "server, print its URL and keep them running until Ctrl-C.",
                          epilog=axes_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("setup", metavar="SETUP", help="which setup to serve (see below)")
    parser.add_argument("--port", type=port_number, metavar="P",
                              help="port on 127.0.0.1 (default: a free one)")
    _add_profile_options(parser, levels=False)
    _add_database_options(parser)
    _add_server_options(parser)

    return parser


def report_parser() -> Parser:
    report = Parser(prog=f"{PROG} report", description="Render the Markdown report of a saved "
                    "run (the file --json wrote) as the run printed it; or, with --locust, "
                    "repro's thresholds, summary and conclusion from Locust's stats history.")
    report.add_argument("run_file", metavar="RUN.json", nargs="?", help="the file a run or a "
                        "study wrote with --json")
    report.add_argument("--locust", dest="locust_files", nargs="+", metavar="CSV",
                        help="instead, Locust's stats history, one file per setup (what "
                             "'locust --csv PREFIX --csv-full-history' writes as "
                             "PREFIX_stats_history.csv)")
    _add_chart_option(report)
    return report


def compare_parser() -> Parser:
    compare = Parser(prog=f"{PROG} compare", description="Put two saved runs side by side (two "
                     "machines, or before and after a change) and say, by the rules of a run's "
                     "conclusion, where they differ.")
    compare.add_argument("run_a", metavar="A.json", help="one run's --json file")
    compare.add_argument("run_b", metavar="B.json", help="the other's")
    return compare


def ramp_parser() -> Parser:
    ramp = Parser(prog=f"{PROG} ramp", description="Ramp your own endpoints (a sync and an async "
                  "view on a staging host, say) with the same ramp, windows, rules, report and "
                  "chart as a run. Options about repro's own servers and database do not apply.")
    ramp.add_argument("urls", nargs="+", metavar="URL", help="an http:// URL to GET")
    _add_run_options(ramp)
    return ramp


def locustfile_parser() -> Parser:
    locust = Parser(prog=f"{PROG} locustfile", description="Print a Locust file with repro's "
                    "users (think time, timeout) and a fixed plan of levels as a LoadTestShape, "
                    "for Locust's distributed mode when one machine cannot make the load.",
                    epilog=axes_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    locust.add_argument("target", metavar="SETUP|URL", help="a setup (served by 'repro.py "
                        "serve SETUP --port 8000') or an http:// URL")
    locust.add_argument("--users", type=user_count, metavar="N",
                        help=f"the plan goes up to N users (default {DEFAULT_USERS})")
    locust.add_argument("--step", type=positive_int, default=DEFAULT_STEP, metavar="N",
                        help=f"the lowest level and the step (default {DEFAULT_STEP})")
    locust.add_argument("--ramp", choices=("adaptive", "linear"), default="adaptive",
                        help="adaptive: a fine step of --step or 10%%, whichever is more "
                             "(default); linear: every --step")
    locust.add_argument("--step-seconds", type=positive_float, default=DEFAULT_STEP_SECONDS,
                        metavar="S", help=f"each level lasts {LOCUST_SETTLE_CYCLES} x (think "
                        f"time + S) + {LOCUST_PERCENTILE_WINDOW + LOCUST_MARGIN} s "
                        f"(default {DEFAULT_STEP_SECONDS:g})")
    locust.add_argument("--think-time", type=non_negative_float, default=DEFAULT_THINK_TIME,
                        metavar="S", help=f"pause after each response (default "
                        f"{DEFAULT_THINK_TIME:g})")
    locust.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT, metavar="S",
                        help=f"request timeout (default {DEFAULT_TIMEOUT:g})")
    return locust


def _add_chart_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chart", dest="chart_path", metavar="FILE.png",
                        help="also draw median and p95 latency and req/s against the level, "
                             "for each setup, to FILE.png (a panel per question in a study)")


def _add_run_options(run: argparse.ArgumentParser, repeat: bool = True) -> None:
    run.add_argument("--users", type=user_count, metavar="N",
                     help=f"ramp up to N concurrent users (default {DEFAULT_USERS})")
    run.add_argument("--arrival", type=rate_count, metavar="RATE",
                     help="open loop instead of users: ramp the arrival rate up to RATE "
                          "requests per second, sent on schedule whatever the answers")
    run.add_argument("--step", type=positive_int, default=DEFAULT_STEP, metavar="N",
                     help=f"the fine step and the lowest level: N users, or N req/s with "
                          f"--arrival (default {DEFAULT_STEP}); a fine step is N or 10%%, "
                          f"whichever is more; the top must be above N")
    run.add_argument("--ramp", type=_choice(RAMPS), default=DEFAULT_RAMP,
                     metavar="{%s}" % ",".join(RAMPS),
                     help="; ".join(f"{k.name}: {k.description}" for k in RAMPS.values())
                          + f" (default {DEFAULT_RAMP})")
    run.add_argument("--step-seconds", type=positive_float, default=DEFAULT_STEP_SECONDS,
                     metavar="S", help=f"measuring window of each step, at least (default "
                     f"{DEFAULT_STEP_SECONDS:g}); it also lasts one user cycle at least, and a "
                     f"step settles before it until the queue has turned over")
    run.add_argument("--min-requests", type=positive_int, default=DEFAULT_MIN_REQUESTS,
                     metavar="N", help=f"a step's window also lasts until N requests have "
                     f"ended in it, up to {MAX_WINDOW_FACTOR}x --step-seconds "
                     f"(default {DEFAULT_MIN_REQUESTS})")
    if repeat:
        run.add_argument("--repeat", type=repeat_count, default=DEFAULT_REPEAT, metavar="N",
                         help="run each setup N times, interleaved (the second time in reverse "
                              "order), and report medians and ranges "
                              f"(default {DEFAULT_REPEAT})")
    else:  # refused with a line of its own, rather than argparse's "unrecognized"
        run.add_argument("--repeat", help=argparse.SUPPRESS)
    run.add_argument("--think-time", type=non_negative_float, default=DEFAULT_THINK_TIME,
                     metavar="S", help=f"pause after each response (default {DEFAULT_THINK_TIME:g})")
    run.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT, metavar="S",
                     help=f"request timeout; a timeout is an error (default {DEFAULT_TIMEOUT:g})")
    run.add_argument("--max-in-flight", type=positive_int, metavar="N",
                     help=f"with --arrival: at most N requests in flight; one due beyond that "
                          f"waits, its latency counted from when it was due "
                          f"(default {DEFAULT_MAX_IN_FLIGHT})")
    run.add_argument("--load-processes", type=process_count, metavar="N",
                     help=f"load generator processes (default: one per {RATE_PER_LOAD_PROCESS} "
                          f"req/s the ramp can ask for, up to one per core)")
    run.add_argument("--json", dest="json_path", metavar="FILE",
                     help="also write the whole report as JSON to FILE")
    _add_chart_option(run)


def _add_profile_options(parser: argparse.ArgumentParser, levels: bool = True) -> None:
    parser.add_argument("--profile", nargs="?", const="", metavar="DIR",
                        help="also sample where each setup's server processes spend their CPU, "
                             "with py-spy, and report it by package; with DIR, also write each "
                             "setup's stacks there (CELL.folded, for speedscope or a flame "
                             "graph)" + ("; after the ramps, on fresh servers: the slowdown "
                                         "threshold held with sampling, then without it"
                                         if levels else
                                         "; printed when it stops"))
    if not levels:
        return
    parser.add_argument("--profile-users", type=user_count, metavar="N",
                        help="with --profile: hold N users (N req/s with --arrival) instead of "
                             "each setup's slowdown threshold (its peak where it has none)")
    parser.add_argument("--profile-seconds", type=positive_float, metavar="S",
                        help=f"with --profile: how long each window lasts, without sampling and "
                             f"with it (default {DEFAULT_PROFILE_SECONDS:g})")


def check_levels(users: Optional[int], arrival: Optional[int], step: int) -> None:
    """The ramp must measure two levels, --step and one above it: the
    baseline is the lower of their medians, and a single level, taken as
    its own baseline, has nothing to be slower than."""
    top = arrival if arrival is not None else users or DEFAULT_USERS
    if top <= step:
        given = (f"--arrival {top}" if arrival is not None else
                 f"--users {top}" + ("" if users else " (the default)"))
        raise UsageError(f"{given} is not above --step {step}, so the ramp would measure one "
                         f"level, and the baseline takes two; give a top above --step "
                         f"(e.g. {2 * step}), or a smaller --step")


def _outputs(args: argparse.Namespace) -> dict:
    """--json and --chart, checked up front: nothing is measured for a file
    that cannot be written."""
    json_path, chart_path = getattr(args, "json_path", None), getattr(args, "chart_path", None)
    if chart_path is not None and not chart_path.lower().endswith(".png"):
        raise UsageError(f"--chart draws a PNG: give a file name ending in .png, not "
                         f"{chart_path!r}")
    if json_path and chart_path and os.path.abspath(json_path) == os.path.abspath(chart_path):
        raise UsageError("--json and --chart name the same file; give each its own")
    for option, path in (("--json", json_path), ("--chart", chart_path)):
        if path is not None:
            check_writable(path, option)
    return {"json_path": json_path, "chart_path": chart_path}


def _ramp_settings(args: argparse.Namespace) -> RampSettings:
    if args.arrival is not None and args.users is not None:
        raise UsageError("--users ramps closed-loop users and --arrival an arrival rate; "
                         "give one of them")
    if args.arrival is None and args.max_in_flight is not None:
        raise UsageError("--max-in-flight applies to --arrival only; closed-loop users have "
                         "one request in flight each")
    check_levels(args.users, args.arrival, args.step)
    return RampSettings(
        top=args.arrival if args.arrival is not None else args.users or DEFAULT_USERS,
        open_loop=args.arrival is not None, step=args.step, step_seconds=args.step_seconds,
        min_requests=args.min_requests, kind=args.ramp, think_time=args.think_time,
        timeout=args.timeout, repeat=getattr(args, "rounds", None) or args.repeat,
        max_in_flight=args.max_in_flight or DEFAULT_MAX_IN_FLIGHT,
        load_processes=args.load_processes)


def _server_settings(args: argparse.Namespace) -> ServerSettings:
    return ServerSettings(workers=args.workers, threads=args.threads, pool_size=args.pool_size,
                          upstream_ms=args.upstream_ms, db_ms=args.db_ms)


def _servers_config(args: argparse.Namespace, argv: Sequence[str], setups: tuple[Cell, ...],
                    **more) -> Config:
    """A Config for repro's own servers and database, its pools checked
    against the private cluster (a DSN's server is checked once reached)."""
    dsn, origin = args.dsn, "--dsn"
    if dsn is None and os.environ.get("DATABASE_URL"):
        dsn, origin = os.environ["DATABASE_URL"], "DATABASE_URL"
    if dsn is not None:
        check_dsn(dsn, origin)
        if args.max_connections is not None:
            raise UsageError("--max-connections sets up the private cluster only; with a DSN, "
                             "set max_connections on that server instead")
    config = Config(argv=tuple(argv), setups=setups, dsn=dsn,
                    dsn_origin=origin if dsn else None,
                    max_connections=args.max_connections or DEFAULT_MAX_CONNECTIONS,
                    server=_server_settings(args), **more)
    if not dsn:
        check_pools(config, config.max_connections)
    return config


def _cells(texts: Sequence[str], as_2021: bool) -> tuple[Cell, ...]:
    """Each setup once, in the order given."""
    parsed = [parse_cell(t) for t in texts if t.strip()]
    if not parsed:
        raise UsageError(f"--setups names no setup; give {', '.join(NAMED_CELLS)} or "
                         f"{CELL_SYNTAX}")
    if as_2021:
        parsed = [dataclasses.replace(c, as_2021=True) for c in parsed]
    return tuple(dict.fromkeys(parsed))


def check_directory(path: str, option: str) -> None:
    """A directory that is there or can be made, to write files into."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{option} {path} is not a directory; give a directory to write into")
    where = target if target.exists() else next(p for p in target.absolute().parents if p.exists())
    if not os.access(where, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write into {option} {path}: give a directory you can write to")


def _profile_settings(args: argparse.Namespace,
                      ramp: Optional[RampSettings] = None) -> Optional[ProfileSettings]:
    users, seconds = getattr(args, "profile_users", None), getattr(args, "profile_seconds", None)
    if args.profile is None:
        given = ("--profile-users" if users is not None else
                 "--profile-seconds" if seconds is not None else "")
        if given:
            raise UsageError(f"{given} sets up --profile; give --profile too")
        return None
    if ramp is not None and users is not None and users > ramp.top:
        # The load generator, and the open files, are sized for the ramp's top.
        raise UsageError(f"--profile-users {users} is above the ramp's top ({ramp.top} "
                         f"{ramp.unit}); give a top of at least {users}, or fewer")
    if args.profile:
        check_directory(args.profile, "--profile")
    return ProfileSettings(users=users, seconds=seconds or DEFAULT_PROFILE_SECONDS,
                           directory=args.profile or None)


def run_config(args: argparse.Namespace, argv: Sequence[str]) -> Config:
    outputs, ramp = _outputs(args), _ramp_settings(args)
    return _servers_config(args, argv, _cells(args.setups.split(","), args.as_2021), ramp=ramp,
                           profile=_profile_settings(args, ramp), **outputs)


def study_config(args: argparse.Namespace, argv: Sequence[str]) -> Config:
    if args.setups is not None:
        raise UsageError("study picks its setups from its questions; choose questions with "
                         "--questions, or run setups of your own with --setups (no 'study')")
    if args.as_2021:
        raise UsageError("--as-2021 does not apply to study: question 5 runs with and without "
                         "the 2021 settings")
    if args.repeat is not None:
        raise UsageError("study measures in rounds: give --rounds N (each cell once a round)")
    outputs, ramp = _outputs(args), _ramp_settings(args)
    # The cells known before anything is measured: what the database must
    # seed, the upstream API serve and the pools fit.
    server = _server_settings(args)
    setups = tuple(dict.fromkeys(c for q in args.questions
                                 for c in runnable(QUESTIONS[q].cells(args.waits, server))[0]))
    return _servers_config(args, argv, setups, ramp=ramp, questions=args.questions,
                           waits=args.waits, profile=_profile_settings(args, ramp), **outputs)


def serve_config(args: argparse.Namespace, argv: Sequence[str]) -> Config:
    setups = _cells([args.setup], args.as_2021)
    if args.port is not None:
        check_port(args.port)
    return _servers_config(args, argv, setups, port=args.port, profile=_profile_settings(args))


def ramp_refusals(argv: Sequence[str]) -> None:
    """Before argparse, which would only call them unrecognized."""
    given = [o for o in SERVER_OPTIONS if any(a == o or a.startswith(o + "=") for a in argv)]
    if given:
        raise UsageError(f"{given[0]} concerns repro's own servers and database; it does "
                         f"not apply to ramp URL, whose server is yours")


def ramp_config(args: argparse.Namespace, argv: Sequence[str]) -> Config:
    outputs, ramp = _outputs(args), _ramp_settings(args)
    urls = tuple(dict.fromkeys(args.urls))
    for url in urls:
        HttpTarget.parse(url)
    return Config(argv=tuple(argv), urls=urls, ramp=ramp, **outputs)


def report_config(args: argparse.Namespace, argv: Sequence[str]) -> Config:
    outputs = _outputs(args)
    if (args.run_file is None) == (args.locust_files is None):
        raise UsageError("report reads one saved run (RUN.json) or Locust's stats history "
                         "(--locust CSV ...): give one of them")
    return Config(argv=tuple(argv), run_files=(args.run_file,) if args.run_file else (),
                  locust_files=tuple(args.locust_files or ()), **outputs)


def compare_config(args: argparse.Namespace, argv: Sequence[str]) -> Config:
    return Config(argv=tuple(argv), run_files=(args.run_a, args.run_b))


def locustfile_config(args: argparse.Namespace, argv: Sequence[str]) -> Config:
    check_levels(args.users, None, args.step)
    ramp = RampSettings(top=args.users or DEFAULT_USERS, step=args.step, kind=args.ramp,
                        step_seconds=args.step_seconds, think_time=args.think_time,
                        timeout=args.timeout)
    if "://" in args.target:
        HttpTarget.parse(args.target)
        return Config(argv=tuple(argv), urls=(args.target,), ramp=ramp)
    return Config(argv=tuple(argv), setups=(cell_named(args.target),), ramp=ramp)


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
        urllib.parse.unquote_to_bytes(dsn).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{origin} has a percent-escape that is not UTF-8 text (such as %ff); "
                         f"percent-encode the UTF-8 bytes of each character") from None
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


def check_writable(path: str, option: str = "--json") -> None:
    """A regular file that can be written (tried, not guessed: root may
    'access' what it cannot write); a file made for the test is removed."""
    if not path:
        raise UsageError(f"{option} needs a file name")
    target = Path(path)
    problem = f"cannot write {option} {path}: give a file in a directory you can write to"
    try:
        existed = target.exists()
        if existed and not target.is_file():
            raise UsageError(f"{option} {path} is not a regular file; give a file name")
        with open(target, "a"):
            pass
        if not existed:
            target.unlink()
    except OSError:
        raise UsageError(problem) from None


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


def raise_open_file_limit(config: Config) -> None:
    """One socket per user or request in flight, plus the servers'; the
    default soft limit of 1024 is too low for large ramps."""
    try:
        import resource
    except ImportError:
        return
    sockets = config.ramp.max_in_flight if config.ramp.open_loop else config.ramp.top
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(hard, max(wanted, 4096))
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < wanted:
        what = "--max-in-flight" if config.ramp.open_loop else "--users"
        raise UsageError(f"{what} {sockets} needs about {wanted} open files but the limit is "
                         f"{soft}; raise it with 'ulimit -n {wanted}' or ask for fewer")


def write_file(path: str, option: str, content: bytes) -> None:
    try:
        Path(path).write_bytes(content)
    except OSError as e:
        raise ReproError(f"cannot write {option} {path}: {e.strerror}") from None


def measure_command(config: Config, stop: StopFlag) -> int:
    """run, study and ramp: measure, then the report, its JSON and chart."""
    check_dependencies()
    raise_open_file_limit(config)
    for url in config.urls:
        check_reachable(url, stop)
    report = run_measurements(config, stop, Progress())
    code = write_report(render_markdown(report),
                        EXIT_FAILED if any(r.error for r in report.setups) else EXIT_OK)
    if stop:
        # Even when it only came during the final teardown: a caller who
        # sent a signal gets the signal's exit code.
        code = EXIT_SIGNAL[stop.signum]
        if not report.interrupted:
            print(f"{PROG}: {signal.Signals(stop.signum).name} came while shutting down; "
                  f"the run had finished", file=sys.stderr)
    outputs = []
    if config.json_path:
        outputs.append(("--json", config.json_path,
                        lambda: json.dumps(report_to_json(report), indent=2).encode()))
    if config.chart_path and any(r.capacity_runs for r in report.setups):
        outputs.append(("--chart", config.chart_path, lambda: render_chart(report)))
    for option, path, content in outputs:
        try:
            write_file(path, option, content())
        except ReproError as e:  # the report is out: say it, don't lose it
            print(f"{PROG}: error: {e}", file=sys.stderr)
            code = code or EXIT_FAILED
    return code


def serve_command(config: Config, stop: StopFlag) -> int:
    check_dependencies()
    raise_open_file_limit(config)
    try:
        serve(config, stop, Progress())  # returns only by raising
    except Interrupted as e:
        print(f"{PROG}: stopped", file=sys.stderr)
        return e.exit_code
    return EXIT_OK


def report_command(config: Config, _stop: StopFlag) -> int:
    if config.locust_files:
        saved, text = load_locust(config.locust_files, command_line(config))
        source: Optional[str] = (f"Locust's stats history: {', '.join(config.locust_files)}; "
                                 f"started {saved.started}.")
    else:
        saved, source = load_run(config.run_files[0]), None
        text = render_markdown(saved)
    if config.chart_path:
        write_file(config.chart_path, "--chart", render_chart(saved, source))
    return write_report(text, EXIT_OK)


def compare_command(config: Config, _stop: StopFlag) -> int:
    a, b = (load_run(path) for path in config.run_files)
    if a.settings.ramp.unit != b.settings.ramp.unit:
        raise UsageError(f"{config.run_files[0]} ramps {a.settings.ramp.unit} and "
                         f"{config.run_files[1]} {b.settings.ramp.unit}; compare two runs "
                         f"of the same kind")
    return write_report(render_compare(a, b, config.run_files), EXIT_OK)


def locustfile_command(config: Config, _stop: StopFlag) -> int:
    return write_report(render_locustfile(config), EXIT_OK)


@dataclass(frozen=True)
class Command:
    name: str
    parser: Callable[[], Parser]
    configure: Callable[[argparse.Namespace, Sequence[str]], Config]
    handle: Callable[[Config, StopFlag], int]
    refuse: Callable[[Sequence[str]], None] = lambda _args: None  # what its parser would not


# The commands: the only place that knows them by name.  `run` is the one
# without a name on the command line.
COMMANDS = {c.name: c for c in (
    Command("run", run_parser, run_config, measure_command),
    Command("study", study_parser, study_config, measure_command),
    Command("serve", serve_parser, serve_config, serve_command),
    Command("report", report_parser, report_config, report_command),
    Command("compare", compare_parser, compare_config, compare_command),
    Command("ramp", ramp_parser, ramp_config, measure_command, ramp_refusals),
    Command("locustfile", locustfile_parser, locustfile_config, locustfile_command),
)}


def command_of(argv: Sequence[str]) -> tuple[Command, list[str]]:
    """The command argv names, and the arguments its parser reads."""
    named = bool(argv) and argv[0] in COMMANDS and argv[0] != "run"
    return COMMANDS[argv[0] if named else "run"], list(argv[1:] if named else argv)


def parse_config(argv: Sequence[str]) -> Config:
    command, args = command_of(argv)
    command.refuse(args)
    return command.configure(command.parser().parse_args(args), argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stop = StopFlag()
    previous = {sig: signal.signal(sig, stop.set) for sig in EXIT_SIGNAL}
    try:
        config = parse_config(argv)
        return command_of(argv)[0].handle(config, stop)
    except Interrupted as e:
        print(f"{PROG}: {e} before anything was measured", file=sys.stderr)
        return e.exit_code
    except ReproError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else EXIT_OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def write_report(text: str, code: int) -> int:
    """The report to stdout; the exit code, made a failure if stdout was
    closed before all of it went out."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):  # stdout closed: `repro.py | head`, say
        # Nothing more can go there, not even at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"{PROG}: standard output was closed; the report was not written in full "
              f"(--json FILE keeps it)", file=sys.stderr)
        code = code or EXIT_FAILED
    return code


def exit_like(code: int) -> None:
    """Exit with code; for a signal's code, by that signal itself, as a shell
    expects of a program it ran (uvicorn does the same): a loop such as
    `for i in 1 2 3; do python repro.py; done` then stops at the first
    Ctrl-C.  Everything is torn down by now."""
    signum = {v: k for k, v in EXIT_SIGNAL.items()}.get(code)
    if signum is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        time.sleep(1)  # the signal arrives within this
    sys.exit(code)


if __name__ == "__main__":
    exit_like(main())
