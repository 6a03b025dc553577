#!/usr/bin/env python3
"""A live multi-key publisher and score collector (pyzmq), for the retrain stage's end-to-end tests.

    live_stream.py --input EP --scores EP --keys N --rate R --until-version V --max-seconds S [--seed 1]
                   [--server-key FILE --client-secret FILE --client-public FILE]   (CURVE)

Sends points round-robin over keys k0..k{N-1} (one per key per minute of event time, two seasonal
metrics cpu and mem) at R points per second, reading scores as they come. Once every key has been scored
with model_version >= V, or after S seconds, it stops sending and collects until every sent point has an
output (or 30 s pass without one). Prints `OUT <key> <timestamp> <status> <model_version or ->` per output,
then `SENT <n>` and `DONE <received>`.
"""
import argparse
import json
import math
import random
import time

import zmq

import handshake


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--scores", required=True)
    ap.add_argument("--keys", type=int, default=4)
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--until-version", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--server-key")
    ap.add_argument("--client-secret")
    ap.add_argument("--client-public")
    args = ap.parse_args()
    rnd = random.Random(args.seed)

    ctx = zmq.Context()
    out = ctx.socket(zmq.PULL)
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 10000)
    if args.server_key:
        def key(path):
            return [l.strip() for l in open(path) if l.strip() and not l.startswith("#")][0].encode()
        for s in (out, push):
            s.curve_serverkey, s.curve_secretkey, s.curve_publickey = key(args.server_key), key(args.client_secret), key(args.client_public)
    # One connection each, after the CURVE keys are set: a PULL socket connected twice to one endpoint gets the
    # daemon's outputs round-robin over two pipes and reads them fair-queued, so a key's outputs could swap.
    connection = handshake.watch(out)
    out.connect(args.scores)
    # The input connects once the scores socket has (an output with no consumer is dropped).
    handshake.wait_or_exit([("scores", connection)], 30)
    push.connect(args.input)
    keys = [f"k{i}" for i in range(args.keys)]
    best = {k: 0 for k in keys}
    t0 = 1_700_000_000_000
    sent = received = 0
    start = time.monotonic()
    step = 0

    def take(o):
        nonlocal received
        received += 1
        meta = o["metadata"]
        v = meta.get("model_version")
        k = o["composite_keys"][0]
        if v is not None and k in best:
            best[k] = max(best[k], v)
        print(f"OUT {k} {o['timestamp']} {meta['status']} {v if v is not None else '-'}")

    while time.monotonic() - start < args.max_seconds and min(best.values()) < args.until_version:
        # One round: a point per key, then as many outputs as are waiting.
        for j, k in enumerate(keys):
            i = step
            cpu = 50 + 10 * math.sin(2 * math.pi * i / 60 + j) + rnd.gauss(0, 1)
            mem = 200 + 20 * math.cos(2 * math.pi * i / 90 + j) + rnd.gauss(0, 2)
            push.send(json.dumps({"key": k, "timestamp": t0 + i * 60_000, "metrics": {"cpu": cpu, "mem": mem}}).encode())
            sent += 1
        step += 1
        while out.poll(0):
            take(json.loads(out.recv()))
        target = start + sent / args.rate
        while (delay := target - time.monotonic()) > 0:
            if out.poll(max(1, int(delay * 1000))):
                take(json.loads(out.recv()))
    print(f"SENT {sent}", flush=True)
    while received < sent and out.poll(30_000):
        take(json.loads(out.recv()))
    print(f"DONE {received}", flush=True)


if __name__ == "__main__":
    main()
