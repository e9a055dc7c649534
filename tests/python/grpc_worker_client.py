#!/usr/bin/python3
"""An independent client for the worker's gRPC interface (service pathbench.v1.Worker).

Usage: grpc_worker_client.py ADDRESS PROTO_DIR [--db SALES_DB] [--spawn COMMAND ...]

With --spawn, the client starts COMMAND (e.g. `pathbench serve worker --listen 127.0.0.1:0
--db sales.db`), takes the first host:port the command prints on stdout as the address (pass
ADDRESS as `-`), runs the checks, then stops the command with SIGTERM and waits for it.

Talks to a running worker (or a balancer in front of workers) with Python grpcio and stubs
generated here, at run time, from the .proto files in PROTO_DIR, so it shares no code with
the C++ side. It calls:
  - grpc.health.v1 Check for "" and "pathbench.v1.Worker": SERVING;
  - Query: echo (request id echoed), heavy with a few parameter sets, point, and an invalid
    heavy query (minute_to = 5000) that must fail with INVALID_ARGUMENT naming the field;
  - QueryStream: 10 requests written before any reply is read, one of them invalid; every
    reply must match its request by id, errors must arrive as per-request statuses, and the
    stream must end OK.
With --db, heavy and point answers are checked against the database itself, read with
Python's sqlite3 and SQL written independently of the worker's; without it, the stream's
answers are checked against the unary answers for the same parameters.

Stubs: `protoc` with `grpc_python_plugin` (Debian: protobuf-compiler, protobuf-compiler-grpc),
else `python3 -m grpc_tools.protoc` when grpc_tools is importable.
Runtime: Debian python3-grpcio and python3-protobuf.

With --tls-ca (and --tls-cert/--tls-key for mutual TLS) the channel is grpc.secure_channel with
grpc.ssl_channel_credentials: the worker's TLS is checked by grpcio's own TLS stack.

Exit status: 0 all checks passed, 1 a check failed, 2 the client could not run (bad
arguments, worker unreachable or not starting), 77 a dependency is missing (grpcio, protobuf,
or a stub generator): ctest's SKIP_RETURN_CODE.
"""

import argparse
import importlib
import importlib.util
import os
import re
import selectors
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

DEADLINE_S = 5.0
SPAWN_TIMEOUT_S = 10.0
HOST_PORT = re.compile(r"((?:\d{1,3}\.){3}\d{1,3}|\[[0-9A-Fa-f:.]+\]|localhost):(\d{1,5})\b")
JAN_2024 = 1_704_067_200  # 2024-01-01T00:00:00Z; seeded sales span 2024-01-01..2025-12-31
DAY_S = 86_400


class Failed(Exception):
    """A check that did not hold."""


class CannotRun(Exception):
    """The client itself could not run."""


class MissingDependency(CannotRun):
    """A package the client needs is not installed."""


def generate_stubs(proto_dir, out_dir):
    """Writes pathbench_pb2(_grpc).py and health_pb2(_grpc).py into out_dir."""
    pathbench_proto = os.path.join(proto_dir, "pathbench.proto")
    health_dir = os.path.join(proto_dir, "grpc", "health", "v1")
    for path in (pathbench_proto, os.path.join(health_dir, "health.proto")):
        if not os.path.isfile(path):
            raise CannotRun(f"{path} not found (PROTO_DIR should be the project's proto/ folder)")
    # The system protoc and plugin first: they come from the same releases as the installed
    # grpcio and protobuf runtime. Debian's python3-grpc-tools (1.14) bundles a 2018 protoc
    # whose output today's protobuf runtime may refuse, so it is only the fallback (a pip
    # install of grpcio-tools is current and fine).
    protoc_bin = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if protoc_bin and plugin:
        protoc = [protoc_bin, f"--plugin=protoc-gen-grpc_python={plugin}"]
    elif importlib.util.find_spec("grpc_tools") is not None:
        protoc = [sys.executable, "-m", "grpc_tools.protoc"]
    else:
        raise MissingDependency("no stub generator: install protobuf-compiler and protobuf-compiler-grpc "
                                "(protoc + grpc_python_plugin)")
    # health.proto is compiled from its own folder so its module is `health_pb2`, not
    # `grpc.health.v1.health_pb2`, which would collide with the grpc package itself.
    for include, proto in ((proto_dir, pathbench_proto), (health_dir, os.path.join(health_dir, "health.proto"))):
        command = protoc + [f"-I{include}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", proto]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise CannotRun(f"{' '.join(command)} failed:\n{result.stderr}")


class Oracle:
    """The expected answers, read straight from the sales database."""

    def __init__(self, db_path):
        if not os.path.isfile(db_path):
            raise CannotRun(f"{db_path} not found")
        self.db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)

    def heavy(self, q):
        row = self.db.execute(
            "SELECT COUNT(*), TOTAL(amount_cents) FROM sales"
            " WHERE product_id IN (SELECT id FROM products WHERE category_id = ?)"
            " AND sale_time >= ? AND sale_time < ? AND minute_of_day >= ? AND minute_of_day <= ?",
            (q["category_id"], q["from_epoch_s"], q["to_epoch_s"], q["minute_from"], q["minute_to"])).fetchone()
        return row[0], int(row[1])

    def point(self, sale_id):
        row = self.db.execute("SELECT amount_cents FROM sales WHERE id = ?", (sale_id,)).fetchone()
        return (1, row[0]) if row else (0, 0)


def params_key(request):
    """What a request asks, without its id: equal keys must get equal answers."""
    return (request.kind, request.from_epoch_s, request.to_epoch_s, request.category_id,
            request.minute_from, request.minute_to, request.sale_id)


def heavy_params(variant):
    start = JAN_2024 + variant * 23 * DAY_S
    return dict(from_epoch_s=start, to_epoch_s=start + (45 + variant * 30) * DAY_S,
                category_id=1 + variant % 12, minute_from=60 * variant, minute_to=60 * variant + 540)


class Client:
    def __init__(self, address, stubs_dir, oracle, tls=None):
        sys.path.insert(0, stubs_dir)
        import grpc  # noqa: E402  (after the path is set, with the generated modules)
        self.grpc = grpc
        self.pb = importlib.import_module("pathbench_pb2")
        pb_grpc = importlib.import_module("pathbench_pb2_grpc")
        self.health_pb = importlib.import_module("health_pb2")
        health_grpc = importlib.import_module("health_pb2_grpc")
        if tls is None:
            self.channel = grpc.insecure_channel(address)
        else:
            self.channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(*tls))
        try:
            grpc.channel_ready_future(self.channel).result(timeout=DEADLINE_S)
        except grpc.FutureTimeoutError:
            raise CannotRun(f"cannot connect to {address} within {DEADLINE_S} s") from None
        self.stub = pb_grpc.WorkerStub(self.channel)
        self.health = health_grpc.HealthStub(self.channel)
        self.oracle = oracle
        self.checks = 0

    def check(self, condition, what):
        self.checks += 1
        if not condition:
            raise Failed(what)

    def request(self, request_id, kind, **fields):
        return self.pb.QueryRequest(request_id=request_id, kind=kind, **fields)

    def expected(self, request):
        """(count, sum_cents) from the database, or None without --db."""
        if self.oracle is None:
            return None
        if request.kind == self.pb.QUERY_KIND_HEAVY:
            return self.oracle.heavy({f: getattr(request, f) for f in heavy_params(0)})
        if request.kind == self.pb.QUERY_KIND_POINT:
            return self.oracle.point(request.sale_id)
        return (0, 0)

    def run(self):
        self.check_health()
        unary = self.check_unary()
        self.check_stream(unary)
        print(f"OK: {self.checks} checks passed")

    def check_health(self):
        serving = self.health_pb.HealthCheckResponse.SERVING
        for service in ("", "pathbench.v1.Worker"):
            response = self.health.Check(self.health_pb.HealthCheckRequest(service=service), timeout=DEADLINE_S)
            print(f"health {service or '(server)'}: {self.health_pb.HealthCheckResponse.ServingStatus.Name(response.status)}")
            self.check(response.status == serving, f"health of '{service}' is {response.status}, expected SERVING")

    def check_unary(self):
        """Returns {params_key: (count, sum_cents)} for the stream check to compare with."""
        pb = self.pb
        answers = {}
        reply = self.stub.Query(self.request(0xC0FFEE, pb.QUERY_KIND_ECHO), timeout=DEADLINE_S)
        print(f"echo: request_id={reply.request_id:#x} worker_id={reply.worker_id} total_ns={reply.worker_total_ns}")
        self.check(reply.request_id == 0xC0FFEE, f"echo request_id {reply.request_id:#x}, expected 0xc0ffee")
        self.check(reply.count == 0 and reply.sum_cents == 0, "echo returned data")
        self.check(reply.worker_id != "", "echo reply has no worker_id")

        requests = [self.request(10 + v, pb.QUERY_KIND_HEAVY, **heavy_params(v)) for v in range(4)]
        requests += [self.request(20 + i, pb.QUERY_KIND_POINT, sale_id=s) for i, s in enumerate((1, 4242, 10**12))]
        for request in requests:
            reply = self.stub.Query(request, timeout=DEADLINE_S)
            got = (reply.count, reply.sum_cents)
            want = self.expected(request)
            print(f"{pb.QueryKind.Name(request.kind)} id={request.request_id}: count={got[0]} sum_cents={got[1]}"
                  f" queue_ns={reply.worker_queue_ns} sql_ns={reply.worker_sql_ns} total_ns={reply.worker_total_ns}"
                  + (f" expected={want}" if want is not None else ""))
            self.check(reply.request_id == request.request_id, f"request_id {reply.request_id} != {request.request_id}")
            if want is not None:
                self.check(got == want, f"request {request.request_id}: got {got}, expected {want}")
            self.check(reply.worker_sql_ns > 0, f"request {request.request_id}: worker_sql_ns is {reply.worker_sql_ns}")
            self.check(reply.worker_total_ns >= reply.worker_sql_ns, f"request {request.request_id}: total < sql time")
            answers[params_key(request)] = got
        self.check(answers[params_key(requests[0])][0] > 0,
                   "the first heavy query matched no sales: the database looks empty")

        bad = self.request(30, pb.QUERY_KIND_HEAVY, **dict(heavy_params(1), minute_to=5000))
        try:
            self.stub.Query(bad, timeout=DEADLINE_S)
            raise Failed("minute_to = 5000 was accepted")
        except self.grpc.RpcError as e:
            print(f"invalid: {e.code().name}: {e.details()}")
            self.check(e.code() == self.grpc.StatusCode.INVALID_ARGUMENT, f"invalid query got {e.code().name}")
            self.check("minute_to" in (e.details() or ""), f"error message does not name minute_to: {e.details()}")
        return answers

    def check_stream(self, unary):
        pb = self.pb
        requests = [self.request(100 + v, pb.QUERY_KIND_HEAVY, **heavy_params(v)) for v in range(4)]
        requests += [self.request(110 + i, pb.QUERY_KIND_POINT, sale_id=s) for i, s in enumerate((1, 4242, 10**12))]
        requests += [self.request(120 + i, pb.QUERY_KIND_ECHO) for i in range(2)]
        requests += [self.request(130, pb.QUERY_KIND_POINT, sale_id=0)]  # invalid: sale_id
        assert len(requests) == 10
        by_id = {r.request_id: r for r in requests}
        # The call's request iterator is consumed by grpcio as fast as it can send, so all ten
        # are in flight before the replies are drained.
        replies = list(self.stub.QueryStream(iter(requests), timeout=DEADLINE_S))
        print(f"stream: {len(replies)} replies, ids in arrival order {[r.request_id for r in replies]}")
        self.check(len(replies) == 10, f"stream returned {len(replies)} replies, expected 10")
        self.check(sorted(r.request_id for r in replies) == sorted(by_id), "stream reply ids do not match the requests")
        for reply in replies:
            request = by_id[reply.request_id]
            if request.request_id == 130:
                print(f"stream invalid: code={reply.status.code} message={reply.status.message}")
                self.check(reply.status.code == self.grpc.StatusCode.INVALID_ARGUMENT.value[0],
                           f"invalid stream request got status {reply.status.code}")
                self.check("sale_id" in reply.status.message, f"stream error does not name sale_id: {reply.status.message}")
                continue
            self.check(reply.status.code == 0, f"stream request {reply.request_id}: status {reply.status.code} {reply.status.message}")
            got = (reply.count, reply.sum_cents)
            want = self.expected(request)
            if want is None:
                want = (0, 0) if request.kind == pb.QUERY_KIND_ECHO else unary[params_key(request)]
            self.check(got == want, f"stream request {reply.request_id}: got {got}, expected {want}")


class Spawned:
    """A server started for the run: its address from its stdout, SIGTERM and a wait at the end."""

    def __init__(self, command):
        try:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        except OSError as e:
            raise CannotRun(f"cannot start {command[0]}: {e}") from None
        self.address = self._read_address(command)
        # Keeps reading so a chatty server never blocks on a full pipe.
        threading.Thread(target=self._echo_rest, daemon=True).start()

    def _read_address(self, command):
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        until = time.monotonic() + SPAWN_TIMEOUT_S
        while time.monotonic() < until:
            if not selector.select(timeout=until - time.monotonic()):
                break
            line = self.process.stdout.readline()
            if not line:  # stdout closed: the server has exited, or is about to
                try:
                    code = self.process.wait(timeout=SPAWN_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    code = self.stop()
                raise CannotRun(f"{' '.join(command)} closed its stdout (exit code {code}) without printing an address")
            print(f"server: {line.rstrip()}")
            match = HOST_PORT.search(line)
            if match:
                return match.group(0)
        self.stop()
        raise CannotRun(f"{' '.join(command)} printed no host:port within {SPAWN_TIMEOUT_S} s")

    def _echo_rest(self):
        for line in self.process.stdout:
            print(f"server: {line.rstrip()}")

    def stop(self):
        """SIGTERM, then a bounded wait; returns the exit code (killed: None)."""
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
    parser.add_argument("address", help="host:port of a worker (or balancer); - with --spawn")
    parser.add_argument("proto_dir", help="the project's proto/ folder")
    parser.add_argument("--db", help="the sales database the worker serves, to check answers against")
    parser.add_argument("--spawn", nargs=argparse.REMAINDER, metavar="COMMAND",
                        help="start this server first and use the host:port it prints")
    parser.add_argument("--tls-ca", help="PEM CA: connect over TLS, verifying the server against it")
    parser.add_argument("--tls-cert", help="PEM certificate chain to present (mutual TLS, with --tls-key)")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    args = parser.parse_args()
    if (args.address == "-") != bool(args.spawn):
        parser.error("pass ADDRESS, or - together with --spawn COMMAND")
    for module, package in (("grpc", "python3-grpcio"), ("google.protobuf", "python3-protobuf")):
        if importlib.util.find_spec(module.split(".")[0]) is None or importlib.util.find_spec(module) is None:
            print(f"SKIP: Python module {module} is missing (Debian package {package})", file=sys.stderr)
            return 77
    spawned = None
    try:
        oracle = Oracle(args.db) if args.db else None
        with tempfile.TemporaryDirectory(prefix="pathbench-pystubs-") as stubs_dir:
            generate_stubs(args.proto_dir, stubs_dir)
            address = args.address
            if args.spawn:
                spawned = Spawned(args.spawn)
                address = spawned.address
            tls = None
            if args.tls_ca:
                def read(path):
                    if path is None:
                        return None
                    with open(path, "rb") as f:
                        return f.read()
                tls = (read(args.tls_ca), read(args.tls_key), read(args.tls_cert))
            Client(address, stubs_dir, oracle, tls).run()
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
    except Exception as e:  # an RPC that failed outright (UNAVAILABLE, DEADLINE_EXCEEDED, ...)
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        if spawned is not None:
            spawned.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
