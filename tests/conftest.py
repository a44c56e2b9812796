import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Hang guards, not conditions.  No test waits for a deadline that stands in
# for what it checks: it waits for the thing itself (a line, an exit, a
# count), and gives up only when a child has shown no sign of life for this
# long, which no working run on any machine comes near: repro prints a line
# per step, and its longest silence (a step's settling, bounded by the 30 s
# request timeout, then a teardown's 10 s grace) is well under it.
STALL_SECONDS = 300.0


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "integration: starts real things (a private PostgreSQL, Gunicorn or Uvicorn "
                   "servers, repro.py end to end under load); minutes, not seconds. "
                   "Leave them out with -m \"not integration\".")
