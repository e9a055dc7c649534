#!/usr/bin/python3
"""An independent client for the WebSocket front of a worker or of the balancer.

Usage: ws_client.py URL PROTO_DIR [--db SALES_DB] [--spawn COMMAND ...]

URL is ws://HOST:PORT/query, or wss://HOST:PORT/query for a front serving mutual TLS: then
--tls-ca (the CA the server's certificate must chain to) and, to be served, --tls-cert and
--tls-key (this client's certificate and key; Python's ssl module). With --spawn, the client starts COMMAND (e.g. `pathbench serve
worker --listen 127.0.0.1:0 --ws-listen 127.0.0.1:0 --db sales.db`), takes the first ws:// URL
(or wss://) URL the command prints on stdout (pass URL as `-`), runs the checks, then stops the command with
SIGTERM and waits for it.

The wire contract: each binary message is one serialized pathbench.v1.QueryRequest, each reply
one binary QueryReply with the same request_id and a status (gRPC code numbers; absent = OK);
replies come in completion order, many requests in flight per connection. A text frame, or
bytes that are not a QueryRequest, close the connection with 1002; a message over 1 MiB closes
that connection (only) with 1009.

It talks with Python's `websockets` (asyncio API) and a pathbench_pb2 module generated here,
at run time, from PROTO_DIR with protoc, so it shares no code with the C++ side. Checks:
  - echo: request id echoed, status OK, no data, a worker_id;
  - heavy with a few parameter sets and point (present and absent sale ids), answers checked
    against the database with Python's sqlite3 (grpc_worker_client.py's independent SQL);
  - an invalid heavy query (minute_to = 5000): status 3 (INVALID_ARGUMENT) naming minute_to,
    and the connection stays open (an echo is answered after it);
  - 200 requests (echo, point, heavy) sent before any reply is read: every reply matched to
    its request id exactly once, each answer right;
  - 1.5 MiB of padding on a second connection: closed with 1009, and the first connection
    still answers afterwards;
  - a text frame on a third connection, and garbage binary bytes on a fourth: closed with 1002;
    the first connection still answers at the end.

Stubs: `protoc` (Debian: protobuf-compiler). Runtime: Debian python3-websockets and
python3-protobuf.

Exit status: 0 all checks passed, 1 a check failed, 2 the client could not run (bad
arguments, server unreachable or not starting), 77 a dependency is missing (websockets,
protobuf, protoc): ctest's SKIP_RETURN_CODE.
"""

import argparse
import asyncio
import importlib
import importlib.util
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Only the plain-Python parts: the errors, the SQLite oracle and the heavy parameter sets.
from grpc_worker_client import CannotRun, Failed, MissingDependency, Oracle, heavy_params  # noqa: E402

DEADLINE_S = 5.0
SPAWN_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 10.0  # a balancer connects to its workers in the background
PIPELINED = 200
OVERSIZED_PADDING = 1536 * 1024  # 1.5 MiB: over the 1 MiB limit
MAX_SIZE = 8 << 20  # what this client accepts: large, so a limit we hit is the server's
WS_URL = re.compile(r"wss?://[^\s/]+(?:/\S*)?")
OK, INVALID_ARGUMENT, UNAVAILABLE = 0, 3, 14
CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG = 1002, 1009
GARBAGE = b"\xff" * 16 + b"not a QueryRequest"  # an over-long varint tag: no protobuf parser takes it


def generate_pb2(proto_dir, out_dir):
    """Writes pathbench_pb2.py into out_dir (messages only: no gRPC plugin needed)."""
    proto = os.path.join(proto_dir, "pathbench.proto")
    if not os.path.isfile(proto):
        raise CannotRun(f"{proto} not found (PROTO_DIR should be the project's proto/ folder)")
    protoc_bin = shutil.which("protoc")
    if protoc_bin:
        protoc = [protoc_bin]
    elif importlib.util.find_spec("grpc_tools") is not None:
        protoc = [sys.executable, "-m", "grpc_tools.protoc"]
    else:
        raise MissingDependency("no protoc: install protobuf-compiler")
    command = protoc + [f"-I{proto_dir}", f"--python_out={out_dir}", proto]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CannotRun(f"{' '.join(command)} failed:\n{result.stderr}")


def close_code(e):
    """The close code the server sent, None when no close frame came (across websockets versions)."""
    rcvd = getattr(e, "rcvd", None)
    if rcvd is not None:
        return rcvd.code
    if hasattr(e, "rcvd"):  # websockets >= 10: no close frame received
        return None
    code = getattr(e, "code", None)  # websockets < 10
    return None if code == 1006 else code


def close_reason(e):
    rcvd = getattr(e, "rcvd", None)
    return rcvd.reason if rcvd is not None else getattr(e, "reason", "")


class Client:
    def __init__(self, url, pb, websockets, oracle, ssl_context=None):
        self.url = url
        self.ssl_context = ssl_context  # wss://: verifies the server, presents the client certificate
        self.pb = pb
        self.ws = websockets
        self.oracle = oracle
        self.checks = 0

    def check(self, condition, what):
        self.checks += 1
        if not condition:
            raise Failed(what)

    def request(self, request_id, kind, **fields):
        return self.pb.QueryRequest(request_id=request_id, kind=kind, **fields)

    def expected(self, request):
        pb = self.pb
        if request.kind == pb.QUERY_KIND_HEAVY:
            return self.oracle.heavy({f: getattr(request, f) for f in heavy_params(0)}) if self.oracle else None
        if request.kind == pb.QUERY_KIND_POINT:
            return self.oracle.point(request.sale_id) if self.oracle else None
        return (0, 0)

    async def connect(self):
        try:
            extra = {"ssl": self.ssl_context} if self.ssl_context is not None else {}
            return await asyncio.wait_for(self.ws.connect(self.url, max_size=MAX_SIZE, **extra), DEADLINE_S)
        except (OSError, asyncio.TimeoutError, self.ws.exceptions.InvalidHandshake) as e:
            raise CannotRun(f"cannot connect to {self.url}: {type(e).__name__}: {e}") from None

    async def receive(self, conn, what):
        """One binary QueryReply."""
        try:
            message = await asyncio.wait_for(conn.recv(), DEADLINE_S)
        except asyncio.TimeoutError:
            raise Failed(f"{what}: no reply within {DEADLINE_S} s") from None
        except self.ws.exceptions.ConnectionClosed as e:
            raise Failed(f"{what}: connection closed (code {close_code(e)}, reason {close_reason(e)!r})") from None
        self.check(isinstance(message, bytes), f"{what}: a text frame came back: {message!r}")
        reply = self.pb.QueryReply()
        try:
            reply.ParseFromString(message)
        except Exception as e:
            raise Failed(f"{what}: reply is not a QueryReply ({e}): {message[:64].hex()}") from None
        return reply

    async def ask(self, conn, request):
        await conn.send(request.SerializeToString())
        reply = await self.receive(conn, f"request {request.request_id}")
        self.check(reply.request_id == request.request_id,
                   f"reply id {reply.request_id} for request {request.request_id} (one request in flight)")
        return reply

    def check_answer(self, request, reply, printing=True):
        pb = self.pb
        code, message = reply.status.code, reply.status.message  # absent status: code 0
        got = (reply.count, reply.sum_cents)
        want = self.expected(request)
        if printing:
            print(f"{pb.QueryKind.Name(request.kind)} id={request.request_id}: status={code} count={got[0]}"
                  f" sum_cents={got[1]} worker={reply.worker_id} queue_ns={reply.worker_queue_ns}"
                  f" sql_ns={reply.worker_sql_ns} total_ns={reply.worker_total_ns} balancer_ns={reply.balancer_ns}"
                  + (f" expected={want}" if want is not None else ""))
        self.check(code == OK, f"request {request.request_id}: status {code} {message!r}")
        if want is not None:
            self.check(got == want, f"request {request.request_id}: got {got}, expected {want}")
        self.check(reply.worker_id != "", f"request {request.request_id}: no worker_id")
        if request.kind != pb.QUERY_KIND_ECHO:
            self.check(reply.worker_sql_ns > 0, f"request {request.request_id}: worker_sql_ns is {reply.worker_sql_ns}")
            self.check(reply.worker_total_ns >= reply.worker_sql_ns, f"request {request.request_id}: total < sql time")
        return got

    async def run(self):
        conn = await self.connect()
        try:
            await self.wait_ready(conn)
            await self.check_echo(conn)
            await self.check_queries(conn)
            await self.check_invalid(conn)
            await self.check_pipelined(conn)
            await self.check_closed_with(lambda c: self.send_oversized(c), CLOSE_TOO_BIG, "1.5 MiB message")
            await self.check_still_answers(conn, "after the oversized message")
            await self.check_closed_with(lambda c: c.send("this is a text frame"), CLOSE_PROTOCOL_ERROR, "text frame")
            await self.check_closed_with(lambda c: c.send(GARBAGE), CLOSE_PROTOCOL_ERROR, "garbage bytes")
            await self.check_still_answers(conn, "after the text frame and the garbage")
        finally:
            await conn.close()
        print(f"OK: {self.checks} checks passed")

    async def wait_ready(self, conn):
        """An echo answered OK; UNAVAILABLE is retried for a while (a balancer still connecting
        to its workers), anything else fails."""
        until = time.monotonic() + READY_TIMEOUT_S
        attempt = 0
        while True:
            attempt += 1
            reply = await self.ask(conn, self.request(1 << 40 | attempt, self.pb.QUERY_KIND_ECHO))
            if reply.status.code == OK:
                if attempt > 1:
                    print(f"ready after {attempt} echoes")
                return
            if reply.status.code != UNAVAILABLE or time.monotonic() > until:
                raise Failed(f"first echo: status {reply.status.code} {reply.status.message!r}")
            await asyncio.sleep(0.1)

    async def check_echo(self, conn):
        request = self.request(0xC0FFEE, self.pb.QUERY_KIND_ECHO)
        reply = await self.ask(conn, request)
        print(f"echo: request_id={reply.request_id:#x} status={reply.status.code} worker_id={reply.worker_id}"
              f" total_ns={reply.worker_total_ns} balancer_ns={reply.balancer_ns}")
        self.check(not reply.HasField("status") or reply.status.code == OK,
                   f"echo status {reply.status.code} {reply.status.message!r}")
        self.check_answer(request, reply, printing=False)

    async def check_queries(self, conn):
        pb = self.pb
        requests = [self.request(10 + v, pb.QUERY_KIND_HEAVY, **heavy_params(v)) for v in range(4)]
        requests += [self.request(20 + i, pb.QUERY_KIND_POINT, sale_id=s) for i, s in enumerate((1, 4242, 10**12))]
        # One with a time budget: 5 s is plenty, it must not change the answer.
        requests += [self.request(30, pb.QUERY_KIND_HEAVY, timeout_ns=5_000_000_000, **heavy_params(2))]
        first = None
        for request in requests:
            got = self.check_answer(request, await self.ask(conn, request))
            first = first or got
        self.check(first[0] > 0, "the first heavy query matched no sales: the database looks empty")

    async def check_invalid(self, conn):
        request = self.request(40, self.pb.QUERY_KIND_HEAVY, **dict(heavy_params(1), minute_to=5000))
        reply = await self.ask(conn, request)
        print(f"invalid: status={reply.status.code} message={reply.status.message!r}")
        self.check(reply.status.code == INVALID_ARGUMENT,
                   f"minute_to = 5000: status {reply.status.code} {reply.status.message!r}, expected {INVALID_ARGUMENT}")
        self.check("minute_to" in reply.status.message, f"error message does not name minute_to: {reply.status.message!r}")
        await self.check_still_answers(conn, "after the invalid query")

    async def check_still_answers(self, conn, when):
        request = self.request(50 + self.checks, self.pb.QUERY_KIND_ECHO)
        reply = await self.ask(conn, request)
        self.check(reply.status.code == OK, f"echo {when}: status {reply.status.code} {reply.status.message!r}")
        print(f"first connection still answers {when}")

    async def check_pipelined(self, conn):
        pb = self.pb
        requests = []
        for i in range(PIPELINED):
            request_id = 1000 + i
            if i % 4 == 0:
                requests.append(self.request(request_id, pb.QUERY_KIND_HEAVY, **heavy_params(i % 8)))
            elif i % 4 == 1:
                requests.append(self.request(request_id, pb.QUERY_KIND_POINT, sale_id=1 + (i * 97) % 25_000))
            else:
                requests.append(self.request(request_id, pb.QUERY_KIND_ECHO))
        by_id = {r.request_id: r for r in requests}
        for request in requests:
            await conn.send(request.SerializeToString())
        seen = {}
        order = []
        for n in range(PIPELINED):
            reply = await self.receive(conn, f"pipelined reply {n + 1} of {PIPELINED}")
            self.check(reply.request_id in by_id, f"pipelined: reply for unknown request id {reply.request_id}")
            self.check(reply.request_id not in seen, f"pipelined: request id {reply.request_id} answered twice")
            seen[reply.request_id] = reply
            order.append(reply.request_id)
        self.check(set(seen) == set(by_id), "pipelined: not every request answered")
        for request in requests:
            self.check_answer(request, seen[request.request_id], printing=False)
        in_order = order == sorted(order)
        print(f"pipelined: {PIPELINED} requests sent before reading, {len(seen)} replies, each id once,"
              f" answers right ({'in sending order' if in_order else 'in completion order'};"
              f" first ids {order[:8]})")
        # Nothing more must come: a duplicate reply would arrive now.
        try:
            extra = await asyncio.wait_for(conn.recv(), 0.3)
            raise Failed(f"pipelined: an extra message after all {PIPELINED} replies: {extra[:64]!r}")
        except asyncio.TimeoutError:
            pass

    async def send_oversized(self, conn):
        request = self.request(60, self.pb.QUERY_KIND_ECHO, padding=b"\0" * OVERSIZED_PADDING)
        payload = request.SerializeToString()
        print(f"oversized: sending {len(payload)} bytes")
        await conn.send(payload)

    async def check_closed_with(self, send, expected_code, what):
        """On a new connection: send, then the server must close with expected_code."""
        conn = await self.connect()
        try:
            try:
                await send(conn)
                message = await asyncio.wait_for(conn.recv(), DEADLINE_S)
                raise Failed(f"{what}: answered instead of closing with {expected_code}:"
                             f" {message[:64] if isinstance(message, bytes) else message!r}"
                             + (f" (hex {message[:64].hex()})" if isinstance(message, bytes) else ""))
            except asyncio.TimeoutError:
                raise Failed(f"{what}: neither a reply nor a close within {DEADLINE_S} s") from None
            except self.ws.exceptions.ConnectionClosed as e:
                code = close_code(e)
                print(f"{what}: connection closed with {code} {close_reason(e)!r} ({e})")
                self.check(code == expected_code,
                           f"{what}: closed with {code if code is not None else 'no close frame'}"
                           f" ({e}), expected {expected_code}")
            except (ConnectionError, OSError) as e:
                raise Failed(f"{what}: the TCP connection failed without a close frame: {type(e).__name__}: {e}")
        finally:
            await conn.close()


class Spawned:
    """A server started for the run: its ws:// URL from its stdout, SIGTERM and a wait at the end."""

    def __init__(self, command):
        try:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        except OSError as e:
            raise CannotRun(f"cannot start {command[0]}: {e}") from None
        # One thread reads stdout line by line (echoing it), so a chatty server never blocks on
        # a full pipe; lines reach here through a queue (a selector on the pipe would miss lines
        # already in the text layer's buffer: the URL comes on the second line).
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self._read_url(command)

    def _read(self):
        for line in self.process.stdout:
            print(f"server: {line.rstrip()}", flush=True)
            self.lines.put(line)
        self.lines.put(None)

    def _read_url(self, command):
        until = time.monotonic() + SPAWN_TIMEOUT_S
        while time.monotonic() < until:
            try:
                line = self.lines.get(timeout=max(0.0, until - time.monotonic()))
            except queue.Empty:
                break
            if line is None:  # stdout closed: the server has exited, or is about to
                try:
                    code = self.process.wait(timeout=SPAWN_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    code = self.stop()
                raise CannotRun(f"{' '.join(command)} closed its stdout (exit code {code}) without printing a ws:// URL")
            match = WS_URL.search(line)
            if match:
                return match.group(0)
        self.stop()
        raise CannotRun(f"{' '.join(command)} printed no ws:// URL within {SPAWN_TIMEOUT_S} s")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SPAWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return None
        return self.process.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="ws:// or wss://HOST:PORT/query of a worker or balancer; - with --spawn")
    parser.add_argument("--tls-ca", help="wss://: PEM CA the server's certificate must chain to")
    parser.add_argument("--tls-cert", help="wss://: PEM certificate this client presents (with --tls-key)")
    parser.add_argument("--tls-key", help="wss://: PEM private key of --tls-cert")
    parser.add_argument("proto_dir", help="the project's proto/ folder")
    parser.add_argument("--db", help="the sales database the worker serves, to check answers against")
    parser.add_argument("--spawn", nargs=argparse.REMAINDER, metavar="COMMAND",
                        help="start this server first and use the ws:// URL it prints")
    args = parser.parse_args()
    if (args.url == "-") != bool(args.spawn):
        parser.error("pass URL, or - together with --spawn COMMAND")
    if args.url != "-" and not args.url.startswith(("ws://", "wss://")):
        parser.error(f"URL must be ws://HOST:PORT/query or wss://HOST:PORT/query, not {args.url}")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    ssl_context = None
    if args.tls_ca:
        import ssl  # noqa: E402
        ssl_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.tls_ca)
        if args.tls_cert:
            ssl_context.load_cert_chain(args.tls_cert, args.tls_key)
    for module, package in (("websockets", "python3-websockets"), ("google.protobuf", "python3-protobuf")):
        if importlib.util.find_spec(module.split(".")[0]) is None or importlib.util.find_spec(module) is None:
            print(f"SKIP: Python module {module} is missing (Debian package {package})", file=sys.stderr)
            return 77
    import websockets  # noqa: E402
    import websockets.exceptions  # noqa: E402,F401
    print(f"websockets {websockets.__version__}")
    spawned = None
    try:
        oracle = Oracle(args.db) if args.db else None
        with tempfile.TemporaryDirectory(prefix="pathbench-pyws-") as out_dir:
            generate_pb2(args.proto_dir, out_dir)
            sys.path.insert(0, out_dir)
            pb = importlib.import_module("pathbench_pb2")
            url = args.url
            if args.spawn:
                spawned = Spawned(args.spawn)
                url = spawned.url
            print(f"checking {url}")
            if url.startswith("wss://") and ssl_context is None:
                raise CannotRun(f"{url} is wss://: pass --tls-ca (and --tls-cert, --tls-key)")
            asyncio.run(Client(url, pb, websockets, oracle, ssl_context if url.startswith("wss://") else None).run())
        if spawned is not None:
            code, spawned = spawned.stop(), None
            print(f"server stopped by SIGTERM, exit code {code}")
            if code is None:
                raise Failed(f"the server did not exit within {SPAWN_TIMEOUT_S} s of SIGTERM")
    except Failed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    except MissingDependency as e:
        print(f"SKIP: {e}", file=sys.stderr)
        return 77
    except CannotRun as e:
        print(f"cannot run: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # the connection failed outright (reset, refused mid-run, ...)
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        if spawned is not None:
            spawned.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
