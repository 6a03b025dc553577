#!/usr/bin/env python3
"""A ZeroMQ client that is not AEFlow (pyzmq), with or without CURVE, for the CURVE tests.

    curve_client.py --input EP --scores EP --key K --count N --start I --expect M --timeout S
                    [--server-key FILE --client-secret FILE --client-public FILE]

Sends N points for key K (timestamps from step I) on a PUSH socket and collects outputs on a PULL socket
until M arrived or S seconds pass without one; prints `DONE <received>`. With the key files, both sockets
are CURVE clients of the server key; without, they are plain.
"""
import argparse
import json

import zmq


def key(path):
    lines = [l.strip() for l in open(path) if l.strip() and not l.startswith("#")]
    return lines[0].encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--scores", required=True)
    ap.add_argument("--key", default="web")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--expect", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--server-key")
    ap.add_argument("--client-secret")
    ap.add_argument("--client-public")
    args = ap.parse_args()
    ctx = zmq.Context()
    push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    for s in (push, pull):
        if args.server_key:
            s.curve_serverkey = key(args.server_key)
            s.curve_secretkey = key(args.client_secret)
            s.curve_publickey = key(args.client_public)
        s.setsockopt(zmq.LINGER, 0)
    pull.connect(args.scores)
    push.connect(args.input)
    for i in range(args.start, args.start + args.count):
        body = {"key": args.key, "timestamp": 1_700_000_000_000 + i * 60_000, "metrics": {"cpu": 50.0 + i % 7, "mem": 200.0 + i % 5}}
        push.send(json.dumps(body).encode())
    got = 0
    while got < args.expect and pull.poll(int(args.timeout * 1000)):
        pull.recv()
        got += 1
    print(f"DONE {got}", flush=True)
    ctx.destroy(linger=0)


if __name__ == "__main__":
    main()
