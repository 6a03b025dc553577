#!/usr/bin/env python3
"""A Numaflow map client that is not AEFlow: Python grpcio with stubs generated (grpcio-tools) from the same
map.proto AEFlow's code was generated from, for the UDF tests.

    udf_client.py --socket PATH --proto DIR --stubs DIR --messages FILE [--no-handshake]

FILE holds one JSON object per line: {"id": ..., "keys": [...], "value": "<the message value as text>"}.
Calls IsReady (prints `READY <bool>`), opens MapFn, sends the handshake, then every message, and prints
`HANDSHAKE <sot>` and one JSON line per response: {"id", "results": [{"keys", "value", "tags"}]}. With
--no-handshake the first message is a plain request: prints `ERROR <grpc status>`.
"""
import argparse
import json
import os
import sys

from grpc_tools import protoc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--proto", required=True)
    ap.add_argument("--stubs", required=True)
    ap.add_argument("--messages")
    ap.add_argument("--no-handshake", action="store_true")
    ap.add_argument("--hold", action="store_true", help="keep the stream open after the last message (as Numaflow does)")
    args = ap.parse_args()
    os.makedirs(args.stubs, exist_ok=True)
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    rc = protoc.main(["protoc", f"-I{args.proto}", f"-I{os.path.join(args.proto, 'common')}", f"-I{include}",
                      f"--python_out={args.stubs}", f"--grpc_python_out={args.stubs}",
                      "map/v1/map.proto", "metadata.proto", "common/nack_options.proto"])
    if rc != 0:
        sys.exit(f"protoc failed: {rc}")
    sys.path.insert(0, args.stubs)
    import grpc
    from google.protobuf import empty_pb2
    from map.v1 import map_pb2, map_pb2_grpc

    channel = grpc.insecure_channel(f"unix://{args.socket}")
    stub = map_pb2_grpc.MapStub(channel)
    print("READY", stub.IsReady(empty_pb2.Empty(), timeout=10).ready, flush=True)

    messages = []
    if args.messages:
        with open(args.messages) as f:
            messages = [json.loads(l) for l in f if l.strip()]

    def requests():
        if not args.no_handshake:
            yield map_pb2.MapRequest(handshake=map_pb2.Handshake(sot=True))
        for m in messages:
            yield map_pb2.MapRequest(id=m["id"], request=map_pb2.MapRequest.Request(keys=m["keys"], value=m["value"].encode()))
        if args.hold:
            import time
            time.sleep(600)

    try:
        responses = stub.MapFn(requests(), timeout=None if args.hold else 60)
        count = 0
        for r in responses:
            if r.HasField("handshake"):
                print("HANDSHAKE", r.handshake.sot, flush=True)
                continue
            print(json.dumps({"id": r.id, "results": [
                {"keys": list(x.keys), "value": x.value.decode(), "tags": list(x.tags)} for x in r.results]}), flush=True)
            count += 1
            if count == len(messages) and not args.hold:
                break
    except grpc.RpcError as e:
        print("ERROR", e.code().name, flush=True)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
