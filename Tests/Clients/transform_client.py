#!/usr/bin/env python3
"""A Numaflow source-transformer client that is not AEFlow: Python grpcio with stubs generated (grpcio-tools)
from Numaflow's own sourcetransform.proto (vendored unchanged in Sources/NumaflowUDF/Proto), for the
`aeflow transform` tests.

    transform_client.py --socket PATH --proto DIR --stubs DIR --messages FILE

FILE holds one JSON object per line: {"id": ..., "keys": [...], "value": "<the message value as text>",
"event_time_ms": <optional>}. Calls IsReady (prints `READY <bool>`), opens SourceTransformFn, sends the handshake,
then every message, and prints `HANDSHAKE <sot>` and one JSON line per response: {"id", "results": [{"keys",
"value", "tags", "event_time_ms"}]}.
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
    ap.add_argument("--messages", required=True)
    args = ap.parse_args()
    os.makedirs(args.stubs, exist_ok=True)
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    rc = protoc.main(["protoc", f"-I{args.proto}", f"-I{os.path.join(args.proto, 'common')}", f"-I{include}",
                      f"--python_out={args.stubs}", f"--grpc_python_out={args.stubs}",
                      "sourcetransform/v1/sourcetransform.proto", "metadata.proto", "common/nack_options.proto"])
    if rc != 0:
        sys.exit(f"protoc failed: {rc}")
    sys.path.insert(0, args.stubs)
    import grpc
    from google.protobuf import empty_pb2, timestamp_pb2
    from sourcetransform.v1 import sourcetransform_pb2 as pb, sourcetransform_pb2_grpc as pb_grpc

    channel = grpc.insecure_channel(f"unix://{args.socket}")
    stub = pb_grpc.SourceTransformStub(channel)
    print("READY", stub.IsReady(empty_pb2.Empty(), timeout=10).ready, flush=True)
    with open(args.messages) as f:
        messages = [json.loads(l) for l in f if l.strip()]

    def requests():
        yield pb.SourceTransformRequest(handshake=pb.Handshake(sot=True))
        for m in messages:
            t = timestamp_pb2.Timestamp()
            t.FromMilliseconds(m.get("event_time_ms", 0))
            yield pb.SourceTransformRequest(request=pb.SourceTransformRequest.Request(
                id=m["id"], keys=m["keys"], value=m["value"].encode(), event_time=t))

    count = 0
    for r in stub.SourceTransformFn(requests(), timeout=60):
        if r.HasField("handshake"):
            print("HANDSHAKE", r.handshake.sot, flush=True)
            continue
        print(json.dumps({"id": r.id, "results": [
            {"keys": list(x.keys), "value": x.value.decode(), "tags": list(x.tags), "event_time_ms": x.event_time.ToMilliseconds()}
            for x in r.results]}), flush=True)
        count += 1
        if count == len(messages):
            break
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
