#!/usr/bin/python3
"""An independent client for the embedded broker's seed fronts (docs/broker-fronts.md).

Usage: broker_fronts_client.py grpc|ws|native PROTO_DIR PATHBENCH [--tls PKI_DIR]

Starts `PATHBENCH serve broker --listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 --http-listen
127.0.0.1:0 --max-pending 3`, reads the fronts' addresses from what it prints, runs the checks of
one front, then stops it with SIGTERM and waits. With --tls (a folder made by
tests/make_test_certs.sh) the broker serves mutual TLS with node.pem (`--tls-*`), the checks run
as client.pem over TLS (grpc.ssl_channel_credentials, wss:// with an ssl context, Python's ssl
module), and then a client without a certificate must be refused.

  grpc: Python grpcio with stubs generated here from PROTO_DIR/messagequeue.proto (protoc +
        grpc_python_plugin, Debian protobuf-compiler and protobuf-compiler-grpc): Produce /
        Consume round trips on "default" and a named queue, "queue empty", overflow refused with
        "broker overflow" (max pending 3), StreamMessages answered in order.
  ws:   Debian's python3-websockets (asyncio API): /ws/publish answers "ok" / "error: broker
        overflow" as text, /ws/consume answers the next message as a binary frame or
        "error: queue empty" as text, ?queue=NAME keeps queues apart.
  native: the native protocol (docs/broker-protocol.md) with Python's socket / ssl modules and
        frames packed here: ping -> pong with the same seq.

Exit status: 0 all checks passed, 1 a check failed, 2 the client could not run, 77 a dependency
is missing (ctest's SKIP_RETURN_CODE).
"""

import asyncio
import importlib
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile

SPAWN_TIMEOUT_S = 10.0
ADDRESS = {
    "grpc": re.compile(r"broker serving gRPC MessageQueue .* on (\S+:\d+)"),
    "ws": re.compile(r"broker serving HTTP /api/\* and WebSocket /ws/\* .* on (\S+:\d+)"),
    "native": re.compile(r"broker serving the native protocol .* on (?:tcps?://)?(\S+:\d+)"),
}
TLS = None  # the PKI folder with --tls


def tls_files(name):
    return os.path.join(TLS, f"{name}.pem"), os.path.join(TLS, f"{name}.key")


def client_ssl_context(with_cert=True):
    ctx = ssl.create_default_context(cafile=os.path.join(TLS, "ca.pem"))
    if with_cert:
        ctx.load_cert_chain(*tls_files("client"))
    return ctx


class Failed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failed(what)
    print(f"ok: {what}")


def spawn(pathbench, front):
    command = [pathbench, "serve", "broker", "--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", "--http-listen",
               "127.0.0.1:0", "--max-pending", "3"]
    if TLS:
        cert, key = tls_files("node")
        command += ["--tls-ca", os.path.join(TLS, "ca.pem"), "--tls-cert", cert, "--tls-key", key]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    # Blocking reads, bounded by an alarm: the address lines come at start-up.
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError()))
    signal.alarm(int(SPAWN_TIMEOUT_S))
    try:
        for line in proc.stdout:
            m = ADDRESS[front].search(line)
            if m:
                return proc, m.group(1)
    except TimeoutError:
        pass
    finally:
        signal.alarm(0)
    proc.kill()
    raise RuntimeError("the broker did not print its address")


def grpc_missing():
    """Why the grpc front's checks cannot run here, or None."""
    if not shutil.which("protoc") or not shutil.which("grpc_python_plugin"):
        return "protoc and grpc_python_plugin are needed (protobuf-compiler, protobuf-compiler-grpc)"
    for module, package in (("grpc", "python3-grpcio"), ("google.protobuf", "python3-protobuf")):
        try:
            importlib.import_module(module)
        except ImportError:
            return f"Python module {module} is missing (Debian package {package})"
    return None


def grpc_checks(address, proto_dir):
    import grpc

    protoc, plugin = shutil.which("protoc"), shutil.which("grpc_python_plugin")
    out = tempfile.mkdtemp(prefix="pb-broker-stubs-")
    subprocess.run([protoc, f"--plugin=protoc-gen-grpc_python={plugin}", f"-I{proto_dir}", f"--python_out={out}",
                    f"--grpc_python_out={out}", os.path.join(proto_dir, "messagequeue.proto")], check=True)
    sys.path.insert(0, out)
    pb = importlib.import_module("messagequeue_pb2")
    pb_grpc = importlib.import_module("messagequeue_pb2_grpc")
    def credentials(with_cert):
        cert, key = tls_files("client")
        return grpc.ssl_channel_credentials(root_certificates=open(os.path.join(TLS, "ca.pem"), "rb").read(),
                                            private_key=open(key, "rb").read() if with_cert else None,
                                            certificate_chain=open(cert, "rb").read() if with_cert else None)
    channel = grpc.secure_channel(address, credentials(True)) if TLS else grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=5)
    stub = pb_grpc.MessageQueueStub(channel)

    for i in range(3):
        r = stub.Produce(pb.ProduceRequest(payload=b"m%d" % i), timeout=5)
        check(r.success and r.error == "", f"Produce m{i} to the default queue: success")
    r = stub.Produce(pb.ProduceRequest(payload=b"m3"), timeout=5)
    check(not r.success and r.error == "broker overflow", "Produce beyond max pending 3: success false, 'broker overflow'")
    check(stub.Produce(pb.ProduceRequest(payload=b"\x00\xffbin", queue="py"), timeout=5).success,
          "Produce binary bytes to the queue 'py'")
    got = [stub.Consume(pb.ConsumeRequest(), timeout=5).payload for _ in range(3)]
    check(got == [b"m0", b"m1", b"m2"], "Consume returns the default queue's messages in order")
    r = stub.Consume(pb.ConsumeRequest(), timeout=5)
    check(r.payload == b"" and r.error == "queue empty", "Consume on an empty queue: error 'queue empty'")
    check(stub.Consume(pb.ConsumeRequest(queue="py"), timeout=5).payload == b"\x00\xffbin", "Consume from 'py': the bytes")

    def requests():
        yield pb.StreamMessage(payload=b"s1", queue="st")
        yield pb.StreamMessage(payload=b"", queue="st")
        yield pb.StreamMessage(payload=b"s2", queue="st")
    replies = list(stub.StreamMessages(requests(), timeout=5))
    check([(m.payload, m.error, m.queue) for m in replies] == [(b"s1", "", "st"), (b"", "queue empty", "st"),
                                                             (b"s2", "", "st")],
          "StreamMessages: each message answered in order with the next one, or 'queue empty'")
    if TLS:
        for name, other in (("no client certificate", grpc.secure_channel(address, credentials(False))),
                            ("plaintext", grpc.insecure_channel(address))):
            try:
                pb_grpc.MessageQueueStub(other).Produce(pb.ProduceRequest(payload=b"x"), timeout=3)
                refused = False
            except grpc.RpcError as e:
                refused = e.code() == grpc.StatusCode.UNAVAILABLE
            check(refused, f"a client with {name}: UNAVAILABLE (the TLS handshake fails)")
    return 0


async def ws_checks_async(address, websockets):
    base = f"{'wss' if TLS else 'ws'}://{address}"
    extra = {"ssl": client_ssl_context()} if TLS else {}
    async with websockets.connect(base + "/ws/publish", **extra) as pub, \
            websockets.connect(base + "/ws/consume", **extra) as con, \
            websockets.connect(base + "/ws/publish?queue=py", **extra) as pub_q, \
            websockets.connect(base + "/ws/consume?queue=py", **extra) as con_q:
        for i in range(3):
            await pub.send(b"w%d" % i)
            answer = await pub.recv()
            check(answer == "ok", f"/ws/publish w{i}: text 'ok'")
        await pub.send("w3")
        answer = await pub.recv()
        check(answer == "error: broker overflow", "/ws/publish beyond max pending 3: text 'error: broker overflow'")
        await pub_q.send(b"queued elsewhere")
        check(await pub_q.recv() == "ok", "/ws/publish?queue=py: 'ok'")
        for i in range(3):
            await con.send("next")
            answer = await con.recv()
            check(answer == b"w%d" % i, f"/ws/consume: w{i} as a binary frame")
        await con.send("next")
        answer = await con.recv()
        check(answer == "error: queue empty", "/ws/consume on an empty queue: text 'error: queue empty'")
        await con_q.send("next")
        check(await con_q.recv() == b"queued elsewhere", "/ws/consume?queue=py: its own message")
    if TLS:
        try:
            async with websockets.connect(base + "/ws/publish", ssl=client_ssl_context(with_cert=False)) as ws:
                await ws.send(b"x")
                await ws.recv()
            refused = False
        except (ssl.SSLError, OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
            # the TLS or WebSocket handshake, or the first read, fails, depending on TLS 1.3 timing
            print(f"refused: {type(e).__name__}: {e}")
            refused = True
        check(refused, "wss:// without a client certificate: refused")
    return 0


def native_checks(address):
    host, port = address.rsplit(":", 1)

    def ping(seq, context):
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            sock = context.wrap_socket(raw, server_hostname=host) if context else raw
            body = struct.pack(">BI", 0x0E, seq)  # ping: type, seq (u32 big endian)
            sock.sendall(struct.pack(">I", len(body)) + body)
            reply = b""
            while len(reply) < 9:
                chunk = sock.recv(64)
                if not chunk:
                    break
                reply += chunk
            return reply

    reply = ping(41, client_ssl_context() if TLS else None)
    check(reply == struct.pack(">IBI", 5, 0x8A, 41), f"ping seq 41 -> pong seq 41{' over TLS ' + 'with a client certificate' if TLS else ''}")
    if TLS:
        for name, context in (("no client certificate", client_ssl_context(with_cert=False)), ("plaintext", None)):
            try:
                reply = ping(42, context)
            except (ssl.SSLError, ConnectionError, socket.timeout) as e:
                print(f"refused: {type(e).__name__}: {e}")
                reply = b""
            check(reply == b"", f"a client with {name}: refused, no pong")
    return 0


def main():
    global TLS
    args = sys.argv[1:]
    if len(args) == 5 and args[3] == "--tls":
        TLS = args[4]
        args = args[:3]
    if len(args) != 3 or args[0] not in ADDRESS:
        print(__doc__)
        return 2
    front, proto_dir, pathbench = args
    if front == "ws":
        try:
            import websockets
        except ImportError:
            print("SKIP: Python module websockets is missing (Debian package python3-websockets)")
            return 77
        print(f"websockets {websockets.__version__}")
    elif front == "grpc":
        missing = grpc_missing()
        if missing:
            print(f"SKIP: {missing}")
            return 77
    try:
        proc, address = spawn(pathbench, front)
    except (OSError, RuntimeError) as e:
        print(f"cannot run: {e}")
        return 2
    try:
        if front == "grpc":
            return grpc_checks(address, proto_dir)
        if front == "native":
            return native_checks(address)
        return asyncio.run(ws_checks_async(address, websockets))
    except Failed as e:
        print(f"FAILED: {e}")
        return 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
