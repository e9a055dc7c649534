#!/usr/bin/python3
"""An independent client for the embedded broker's seed fronts (docs/broker-fronts.md).

Usage: broker_fronts_client.py grpc|ws PROTO_DIR PATHBENCH

Starts `PATHBENCH serve broker --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0
--max-pending 3`, reads the fronts' addresses from what it prints, runs the checks of one front,
then stops it with SIGTERM and waits.

  grpc: Python grpcio with stubs generated here from PROTO_DIR/messagequeue.proto (protoc +
        grpc_python_plugin, Debian protobuf-compiler and protobuf-compiler-grpc): Produce /
        Consume round trips on "default" and a named queue, "queue empty", overflow refused with
        "broker overflow" (max pending 3), StreamMessages answered in order.
  ws:   Debian's python3-websockets (asyncio API): /ws/publish answers "ok" / "error: broker
        overflow" as text, /ws/consume answers the next message as a binary frame or
        "error: queue empty" as text, ?queue=NAME keeps queues apart.

Exit status: 0 all checks passed, 1 a check failed, 2 the client could not run, 77 a dependency
is missing (ctest's SKIP_RETURN_CODE).
"""

import asyncio
import importlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

SPAWN_TIMEOUT_S = 10.0
ADDRESS = {
    "grpc": re.compile(r"broker serving gRPC MessageQueue .* on (\S+:\d+)"),
    "ws": re.compile(r"broker serving HTTP /api/\* and WebSocket /ws/\* .* on (\S+:\d+)"),
}


class Failed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failed(what)
    print(f"ok: {what}")


def spawn(pathbench, front):
    proc = subprocess.Popen([pathbench, "serve", "broker", "--grpc-listen", "127.0.0.1:0", "--http-listen",
                             "127.0.0.1:0", "--max-pending", "3"], stdout=subprocess.PIPE, text=True)
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
    channel = grpc.insecure_channel(address)
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
    return 0


async def ws_checks_async(address, websockets):
    base = f"ws://{address}"
    async with websockets.connect(base + "/ws/publish") as pub, websockets.connect(base + "/ws/consume") as con, \
            websockets.connect(base + "/ws/publish?queue=py") as pub_q, \
            websockets.connect(base + "/ws/consume?queue=py") as con_q:
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
    return 0


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ADDRESS:
        print(__doc__)
        return 2
    front, proto_dir, pathbench = sys.argv[1:]
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
        return asyncio.run(ws_checks_async(address, websockets))
    except Failed as e:
        print(f"FAILED: {e}")
        return 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
