#!/usr/bin/env python3
"""A ZeroMQ client that is not AEFlow (pyzmq), for the daemon's end-to-end tests.

    stream_client.py --input tcp://... --scores tcp://... --send messages.txt --expect N [--timeout 20]
                     [--scores-type pull|sub] [--rate-per-s R]

messages.txt holds one message per line: a JSON body, or `RAW <hex>` for arbitrary bytes, `BIG <n>` for an
n-byte frame (on a connection of its own), or `MULTI <frames> <bytes>` for one multipart message of that many
frames of that size (on the main connection, between the other messages). Every message is sent on a PUSH
socket connected to --input; then outputs are collected from --scores until N arrived or no output came for
--timeout seconds (or, with --until-disconnected, the daemon closed its scores socket). Nothing is sent before the
receiving sockets (scores, train requests, dead letters) have finished their handshake with the daemon: a PUSH
output with no connected consumer drops (and counts) what it cannot send, so a slow connect would lose outputs.
With --rate-per-s the messages are paced. Each output is printed as one line of JSON, after a line `SENT <count>`
once everything is sent. With --dead-letter, dead letters are collected too (after the outputs, until --dead-letters arrived or
1 s of quiet) and printed as `DEAD <json>`: the reason, the metadata frame, the sizes of the copied frames and
the last copied frame as text. With --stall-dead-letter the client connects to the dead-letter socket and never
reads from it.

    stream_client.py --input tcp://... --scores tcp://... --array-stream 1000 --key web
    streams arrays of that many points for key `web` as fast as the daemon takes them, printing STREAMING once
    the first is sent, until SIGUSR1; then it collects outputs until 2 s pass without one and prints DONE <n>.
"""
import argparse
import json
import signal
import threading
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

import handshake


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--scores", required=True)
    ap.add_argument("--scores-type", default="pull", choices=["pull", "sub"])
    ap.add_argument("--send", required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--rate-per-s", type=float, default=0, help="send at most this many messages a second (0: at once)")
    ap.add_argument("--train-requests", help="also collect train requests from this endpoint (printed as TRAIN <json>)")
    ap.add_argument("--dead-letter", help="collect dead letters from this endpoint (printed as DEAD <json>)")
    ap.add_argument("--dead-letters", type=int, default=0, help="how many dead letters to wait for")
    ap.add_argument("--stall-dead-letter", help="connect to this dead-letter endpoint and never read")
    ap.add_argument("--array-stream", type=int, default=0, help="stream arrays of this many points until SIGUSR1")
    ap.add_argument("--key", default="web")
    ap.add_argument("--until-disconnected", action="store_true",
                    help="stop collecting once the scores peer has disconnected (a daemon that drained and exited) and "
                         "0.5 s pass without an output, instead of waiting --timeout for outputs that will never come")
    args = ap.parse_args()
    if args.array_stream:
        return array_stream(args)

    ctx = zmq.Context()
    out = ctx.socket(zmq.PULL if args.scores_type == "pull" else zmq.SUB)
    if args.scores_type == "sub":
        out.setsockopt(zmq.SUBSCRIBE, b"")
    monitor = handshake.watch(out)
    receivers = [("scores", monitor)]
    out.connect(args.scores)
    train = None
    if args.train_requests:
        train = ctx.socket(zmq.PULL)
        receivers.append(("train requests", handshake.watch(train)))
        train.connect(args.train_requests)
    dead = None
    if args.dead_letter:
        dead = ctx.socket(zmq.PULL)
        receivers.append(("dead letters", handshake.watch(dead)))
        dead.connect(args.dead_letter)
    # The inputs connect once the outputs have: the daemon has read their handshakes before any point arrives.
    handshake.wait_or_exit(receivers, args.timeout)
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 10000)
    push.connect(args.input)
    # Oversized frames go over their own connection: libzmq drops the connection that carried one.
    hostile = ctx.socket(zmq.PUSH)
    hostile.setsockopt(zmq.LINGER, 10000)
    hostile.connect(args.input)
    if args.stall_dead_letter:
        stalled = ctx.socket(zmq.PULL)
        stalled.setsockopt(zmq.RCVHWM, 10)
        stalled.setsockopt(zmq.RCVBUF, 4096)
        stalled.connect(args.stall_dead_letter)
    sent = 0
    with open(args.send) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("RAW "):
                push.send(bytes.fromhex(line[4:]))
            elif line.startswith("BIG "):
                hostile.send(b"{" + b" " * (int(line[4:]) - 2) + b"}")
            elif line.startswith("MULTI "):
                count, size = (int(x) for x in line.split()[1:])
                push.send_multipart([b"x" * size] * count)
            else:
                push.send(line.encode())
            sent += 1
            if args.rate_per_s > 0:
                # Paced from the first send: sleep while ahead of the rate.
                if sent == 1:
                    paced_from = time.monotonic()
                ahead = paced_from + sent / args.rate_per_s - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
    print(f"SENT {sent}", flush=True)
    got = 0
    poller = zmq.Poller()
    poller.register(out, zmq.POLLIN)
    if args.until_disconnected:
        poller.register(monitor, zmq.POLLIN)
    while got < args.expect:
        ready = dict(poller.poll(int(args.timeout * 1000)))
        if not ready:
            break
        if monitor in ready:
            if recv_monitor_message(monitor)["event"] != zmq.EVENT_DISCONNECTED:
                continue
            # The daemon closed its scores socket after publishing what it accepted: take what is in flight.
            while got < args.expect and out.poll(500):
                print(out.recv_multipart()[-1].decode(), flush=True)
                got += 1
            break
        if out not in ready:
            continue
        frames = out.recv_multipart()
        print(frames[-1].decode(), flush=True)
        got += 1
    while train is not None and train.poll(200):
        print("TRAIN " + train.recv().decode(), flush=True)
    dead_got = 0
    while dead is not None and (dead_got < args.dead_letters or dead.poll(0)) and dead.poll(1000):
        frames = dead.recv_multipart()
        print("DEAD " + json.dumps({"reason": frames[0].decode(), "meta": json.loads(frames[1]), "frames": [len(f) for f in frames[2:]],
                                    "last": frames[-1].decode(errors="replace") if len(frames) > 2 else ""}), flush=True)
        dead_got += 1
    print(f"DONE {got}", flush=True)


def array_stream(args):
    """Arrays of points for one key, as fast as they are taken, until SIGUSR1; then the outputs still coming."""
    stop = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: stop.set())
    # A parent may start us with signals blocked (its mask is inherited): receive SIGUSR1 regardless.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
    ctx = zmq.Context()
    out = ctx.socket(zmq.PULL)
    connection = handshake.watch(out)
    out.connect(args.scores)
    handshake.wait_or_exit([("scores", connection)], 30)
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDHWM, 4)
    push.connect(args.input)
    received = [0]

    def receive():
        quiet_since = None
        while True:
            if out.poll(100):
                out.recv()
                received[0] += 1
                quiet_since = None
            elif stop.is_set():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 2:
                    return

    reader = threading.Thread(target=receive)
    reader.start()
    t0 = 1_700_000_000_000
    i = 0
    announced = False
    while not stop.is_set():
        body = json.dumps([{"key": args.key, "timestamp": t0 + (i + k) * 1000, "metrics": {"cpu": 50.0 + (i + k) % 7, "mem": 200.0}}
                           for k in range(args.array_stream)]).encode()
        while not stop.is_set():
            try:
                push.send(body, zmq.NOBLOCK)
                break
            except zmq.Again:
                time.sleep(0.001)
        i += args.array_stream
        if not announced:
            print("STREAMING", flush=True)
            announced = True
    reader.join()
    print(f"DONE {received[0]}", flush=True)
    ctx.destroy(linger=0)   # arrays still queued for the stopped daemon are dropped


if __name__ == "__main__":
    main()
