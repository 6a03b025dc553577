#!/usr/bin/env python3
"""A ZeroMQ client that is not AEFlow (pyzmq), for the daemon's end-to-end tests.

    stream_client.py --input tcp://... --scores tcp://... --send messages.txt --expect N [--timeout 20]
                     [--scores-type pull|sub] [--rate-per-s R]

messages.txt holds one message per line: a JSON body, or `RAW <hex>` for arbitrary bytes, or
`BIG <n>` for an n-byte frame. Every message is sent on a PUSH socket connected to --input; then
outputs are collected from --scores until N arrived or no output came for --timeout seconds. Each output
is printed as one line of JSON, after a line `SENT <count>` once everything is sent.
"""
import argparse
import sys
import time

import zmq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--scores", required=True)
    ap.add_argument("--scores-type", default="pull", choices=["pull", "sub"])
    ap.add_argument("--send", required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--train-requests", help="also collect train requests from this endpoint (printed as TRAIN <json>)")
    args = ap.parse_args()

    ctx = zmq.Context()
    out = ctx.socket(zmq.PULL if args.scores_type == "pull" else zmq.SUB)
    if args.scores_type == "sub":
        out.setsockopt(zmq.SUBSCRIBE, b"")
    out.connect(args.scores)
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 10000)
    push.connect(args.input)
    # Oversized frames go over their own connection: libzmq drops the connection that carried one.
    hostile = ctx.socket(zmq.PUSH)
    hostile.setsockopt(zmq.LINGER, 10000)
    hostile.connect(args.input)
    train = None
    if args.train_requests:
        train = ctx.socket(zmq.PULL)
        train.connect(args.train_requests)
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
            else:
                push.send(line.encode())
            sent += 1
    print(f"SENT {sent}", flush=True)
    got = 0
    poller = zmq.Poller()
    poller.register(out, zmq.POLLIN)
    while got < args.expect:
        if not poller.poll(int(args.timeout * 1000)):
            break
        frames = out.recv_multipart()
        print(frames[-1].decode(), flush=True)
        got += 1
    while train is not None and train.poll(200):
        print("TRAIN " + train.recv().decode(), flush=True)
    print(f"DONE {got}", flush=True)


if __name__ == "__main__":
    main()
