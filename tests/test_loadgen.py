"""The load generator's HTTP client: the response reader on golden inputs,
and the event loop against small real servers on loopback (threads of this
test process), driven through a real pipe."""
import socket
import threading
import time
from multiprocessing import Pipe

import pytest

import repro

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Repro-Worker: 1\r\n\r\nhello"


def feed_bytewise(reader, data):
    """Feed one byte at a time; the index at which it said complete."""
    for i in range(len(data)):
        if reader.feed(data[i:i + 1]):
            return i + 1
    return None


@pytest.mark.parametrize("response, status, keep_alive", [
    (OK, 200, True),
    (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\nConnection: close\r\n\r\nerr",
     500, False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", 200, False),
    (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi", 200, True),
    (b"HTTP/1.1 204 No Content\r\n\r\n", 204, True),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx", 200, True),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
     b"3;ext=1\r\n abc\r\n0\r\n\r\n"[:-0 or None], 200, True),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: 1\r\n\r\n",
     200, True),
])
def test_a_response_is_complete_exactly_at_its_last_byte(response, status, keep_alive):
    whole = repro.ResponseReader()
    assert whole.feed(response)
    assert (whole.status, whole.keep_alive) == (status, keep_alive)
    bytewise = repro.ResponseReader()
    assert feed_bytewise(bytewise, response) == len(response)
    assert (bytewise.status, bytewise.keep_alive) == (status, keep_alive)


def test_a_body_without_length_ends_when_the_server_closes():
    reader = repro.ResponseReader()
    assert not reader.feed(b"HTTP/1.1 200 OK\r\n\r\nsome body")
    assert not reader.feed(b" and more")
    assert reader.closed() and not reader.keep_alive


@pytest.mark.parametrize("garbage", [
    b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    b"HTTP/1.1 abc\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ntoo long",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
])
def test_what_is_not_http_is_a_protocol_error(garbage):
    with pytest.raises(repro.ProtocolError):
        repro.ResponseReader().feed(garbage)


def test_a_head_without_end_is_not_read_forever():
    with pytest.raises(repro.ProtocolError):
        repro.ResponseReader().feed(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 20000)


class TinyServer:
    """A loopback HTTP server that answers as told: each connection in a
    thread; counts connections and requests."""

    def __init__(self, answer=OK, delay=0.0, close_after_each=False, silent=False):
        self.answer, self.delay, self.close_after_each, self.silent = (
            answer, delay, close_after_each, silent)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self.connections = self.requests = 0
        self.lock = threading.Lock()
        self.threads = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self.serve, args=(conn,), daemon=True)
            with self.lock:
                self.connections += 1
                self.threads.append(thread)
            thread.start()

    def settle(self):
        """Stop accepting, and wait until each connection's thread has read
        all it will read: the generator closed its side when it stopped (on
        a busy machine a thread may not have read its request by then)."""
        self.close()
        with self.lock:
            threads = list(self.threads)
        for thread in threads:
            thread.join(HANG_GUARD)
            assert not thread.is_alive(), "a connection of the tiny server never ended"

    def serve(self, conn):
        buf = b""
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    _, buf = buf.split(b"\r\n\r\n", 1)
                    with self.lock:
                        self.requests += 1
                    if self.silent:
                        continue
                    time.sleep(self.delay)
                    try:
                        conn.sendall(self.answer)
                    except OSError:
                        return
                    if self.close_after_each:
                        return

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/x/"

    def close(self):
        self.listener.close()


# A hang guard, not a condition: a test waits for what it needs to see, and
# fails only if it never comes.  However slow the machine, a load generator
# that works gets there.
HANG_GUARD = 60.0


def generate(url, command, until, timeout=5.0, think=0.05, max_in_flight=100):
    """Run a LoadGenerator in a thread after one command, until `until`
    holds of its samples so far; its samples and its last tick."""
    ours, theirs = Pipe()
    gen = repro.LoadGenerator(repro.HttpTarget.parse(url), timeout, think, max_in_flight, theirs)
    thread = threading.Thread(target=gen.run, daemon=True)
    thread.start()
    repro.send_message(ours, command)
    samples, last = [], None

    def receive(wait):
        nonlocal samples, last
        while ours.poll(wait):
            message = repro.receive_message(ours)
            samples += [repro.Sample(*s) for s in message.samples]
            last = message
            wait = 0

    give_up = time.monotonic() + HANG_GUARD
    while not until(samples):
        assert time.monotonic() < give_up, f"still not there after {HANG_GUARD} s: {samples}"
        receive(repro.TICK)
    repro.send_message(ours, repro.Stop())
    thread.join(HANG_GUARD)
    assert not thread.is_alive(), "the load generator did not stop"
    receive(0)
    return samples, last, gen


def at_least(n):
    return lambda samples: len(samples) >= n


def outcomes(samples):
    return sorted({s.outcome for s in samples})


def test_a_user_keeps_its_connection_where_the_server_allows():
    server = TinyServer()
    samples, last, gen = generate(server.url, repro.SetUsers(1, 0.0, 0.0, 1), at_least(5))
    server.close()
    assert outcomes(samples) == ["ok"] and len(samples) >= 5
    # One more may have been in flight when the generator stopped.
    assert server.connections == 1 and server.requests - len(samples) in (0, 1)
    assert last.cpu > 0  # its CPU time
    assert gen.in_flight == {}


def test_a_server_that_closes_gets_a_new_connection_per_request():
    server = TinyServer(answer=OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1),
                        close_after_each=True)
    samples, _, _ = generate(server.url, repro.SetUsers(2, 0.0, 0.0, 1), at_least(4))
    server.settle()
    assert outcomes(samples) == ["ok"]
    # A new connection for each; the last ones may have been in flight at the
    # stop (sent, or their connections opened and nothing sent yet).
    assert server.connections - server.requests in (0, 1, 2)
    assert server.requests - len(samples) in (0, 1, 2)


def test_a_kept_alive_connection_the_server_dropped_is_retried_once_not_failed():
    # No Connection: close, yet the server hangs up after each answer: the
    # next request on that connection finds it closed before any byte.
    server = TinyServer(close_after_each=True)
    samples, _, _ = generate(server.url, repro.SetUsers(1, 0.0, 0.0, 1), at_least(4), think=0.05)
    server.settle()
    assert outcomes(samples) == ["ok"] and len(samples) >= 4
    # Each request on a connection of its own, the dropped one retried; one
    # more may have been in flight at the stop (sent, or its connection
    # opened and nothing sent yet).
    assert server.connections - server.requests in (0, 1)
    assert server.requests - len(samples) in (0, 1)


@pytest.mark.parametrize("server, expected", [
    (dict(answer=b"SSH-2.0-OpenSSH_9.2\r\n\r\n"), "protocol"),
    (dict(answer=b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"), "http_503"),
    (dict(silent=True), "timeout"),
])
def test_failures_are_recorded_by_kind_and_leave_nothing_in_flight(server, expected):
    tiny = TinyServer(**server)
    # Each of the 3 users goes round more than once: no request hangs.
    samples, last, gen = generate(tiny.url, repro.SetUsers(3, 0.0, 0.0, 1), at_least(6), timeout=0.3)
    tiny.close()
    assert outcomes(samples) == [expected]
    assert gen.in_flight == {}


def test_a_refused_connection_is_a_connection_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connecting is refused
        samples, _, gen = generate(f"http://127.0.0.1:{port}/", repro.SetUsers(2, 0.0, 0.0, 1),
                                   at_least(2))
    assert outcomes(samples) == ["connection"]
    assert gen.in_flight == {}


def test_retired_users_finish_their_request_and_stop():
    server = TinyServer(delay=0.2)
    ours, theirs = Pipe()
    gen = repro.LoadGenerator(repro.HttpTarget.parse(server.url), 5.0, 0.0, 100, theirs)
    thread = threading.Thread(target=gen.run, daemon=True)
    thread.start()
    repro.send_message(ours, repro.SetUsers(4, 0.0, 0.0, 1))
    # Retired while each has a request in flight (the server holds each 0.2 s).
    deadline = time.monotonic() + HANG_GUARD
    while server.requests < 4:
        assert time.monotonic() < deadline, "the 4 users sent nothing"
        time.sleep(0.01)
    repro.send_message(ours, repro.SetUsers(1, 0.0, 0.0, 2))
    retiring_seen = []
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline and ours.poll(HANG_GUARD):
        message = repro.receive_message(ours)
        if message.applied == 2:
            retiring_seen.append(message.retiring)
        if retiring_seen and retiring_seen[-1] == 0:
            break
    repro.send_message(ours, repro.Stop())
    thread.join(10)
    server.close()
    assert retiring_seen[0] == 3 and retiring_seen[-1] == 0


def test_open_loop_sends_on_schedule_and_times_latency_from_when_a_request_was_due():
    # The server takes 0.2 s and at most 2 may be in flight: requests due
    # meanwhile wait, and their wait counts.  Due every 0.05 s, two at a
    # time for 0.2 s: the seventh (due at 0.3 s) cannot start before 0.6 s,
    # so among the first eight answered one waited 0.5 s at least, on any
    # machine.
    server = TinyServer(delay=0.2)
    samples, _, _ = generate(server.url, repro.SetRate(20.0, 0.0, 1), at_least(8), max_in_flight=2)
    server.close()
    starts = sorted(s.start for s in samples)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(g == pytest.approx(0.05, abs=0.002) for g in gaps)  # due every 1/20 s
    latencies = sorted(s.end - s.start for s in samples)
    assert latencies[0] >= 0.2
    assert latencies[-1] > 0.4  # waited for a free place, and that counted


def test_http_targets():
    target = repro.HttpTarget.parse("http://127.0.0.1:8000/async/?x=1")
    assert target == repro.HttpTarget("127.0.0.1", 8000, "/async/?x=1")
    assert target.request.startswith(b"GET /async/?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n")
    assert repro.HttpTarget.parse("http://[::1]:80/").request.split(b"\r\n")[1] == b"Host: [::1]:80"
    with pytest.raises(repro.UsageError):
        repro.HttpTarget.parse("https://example.com/")
