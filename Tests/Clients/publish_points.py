#!/usr/bin/env python3
"""Publishes points on a bound XPUB socket once a subscriber has subscribed (pyzmq), for the retrain
stage's own-subscription test: a publisher that is not AEFlow.

    publish_points.py --bind EP --key K --count N

Waits for the first subscription, then sends N points (topic frame = the key, then the JSON body) for key K,
one per minute of event time, prints `PUBLISHED <n>` and exits after flushing.
"""
import argparse
import json
import math

import zmq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--key", default="k0")
    ap.add_argument("--count", type=int, default=300)
    args = ap.parse_args()
    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.LINGER, 10000)
    pub.bind(args.bind)
    print("BOUND", flush=True)
    pub.recv()  # a subscription: someone listens now
    for i in range(args.count):
        body = {"key": args.key, "timestamp": 1_700_000_000_000 + i * 60_000,
                "metrics": {"cpu": 50 + 10 * math.sin(i / 9), "mem": 60 + 10 * math.sin(i / 9 + 1)}}
        pub.send_multipart([args.key.encode(), json.dumps(body).encode()])
    print(f"PUBLISHED {args.count}", flush=True)
    pub.close()
    ctx.term()


if __name__ == "__main__":
    main()
