#!/usr/bin/env python3
"""A ZeroMQ client that is not AEFlow (pyzmq), with or without CURVE, for the CURVE tests.

    curve_client.py --input EP --scores EP --key K --count N --start I --expect M --timeout S
                    [--server-key FILE --client-secret FILE --client-public FILE]

    curve_client.py --raw-null-greeting --input EP --timeout S

Sends N points for key K (timestamps from step I) on a PUSH socket and collects outputs on a PULL socket
until M arrived or S seconds pass without one; prints `DONE <received>`. With the key files, both sockets
are CURVE clients of the server key; without, they are plain.

With --raw-null-greeting it is not a ZeroMQ socket at all: it writes a whole ZMTP 3.0 greeting offering the
NULL mechanism in one TCP write and reads until the server closes the connection (prints `DONE 0` and
`CLOSED 1` when it did). libzmq's own plain client sends its greeting in steps and may hang up before the
server has read the mechanism; this one always lets the server see the mismatch.
"""
import argparse
import json
import socket

import zmq

import handshake


def key(path):
    lines = [l.strip() for l in open(path) if l.strip() and not l.startswith("#")]
    return lines[0].encode()


def raw_null_greeting(endpoint, timeout):
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31
    assert len(greeting) == 64
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(greeting)
        closed = 0
        try:
            while s.recv(4096):
                pass
            closed = 1
        except ConnectionResetError:
            closed = 1
        except socket.timeout:
            closed = 0
    print(f"CLOSED {closed}", flush=True)
    print("DONE 0", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--scores")
    ap.add_argument("--key", default="web")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--expect", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--server-key")
    ap.add_argument("--client-secret")
    ap.add_argument("--client-public")
    ap.add_argument("--raw-null-greeting", action="store_true")
    args = ap.parse_args()
    if args.raw_null_greeting:
        raw_null_greeting(args.input, args.timeout)
        return
    if not args.scores:
        ap.error("--scores is required unless --raw-null-greeting")
    ctx = zmq.Context()
    push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    for s in (push, pull):
        if args.server_key:
            s.curve_serverkey = key(args.server_key)
            s.curve_secretkey = key(args.client_secret)
            s.curve_publickey = key(args.client_public)
        s.setsockopt(zmq.LINGER, 0)
    connection = handshake.watch(pull)
    pull.connect(args.scores)
    # The input connects once the scores socket has (an output with no consumer is dropped), or once its handshake
    # was refused: a refused client still sends, and the daemon must accept none of it.
    handshake.wait([("scores", connection)], args.timeout, refused_ends_wait=True)
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
