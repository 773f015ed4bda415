#!/usr/bin/env python3
"""Calls the Recommendations service from Python (grpcio), like the tutorial's client does.

Generate the stubs first, from the repository root:

    python3 -m grpc_tools.protoc -I protos --python_out=STUBS --grpc_python_out=STUBS \
        legacy/recommendations.proto bookstore/recommendations/v1/recommendations.proto

Then make one or more calls, each written API:CATEGORY:MAX_RESULTS, where API is `v1` or
`legacy` and CATEGORY is an enum name (BOOK_CATEGORY_MYSTERY for v1, MYSTERY for legacy) or a
number:

    python3 recommendations_client.py --stubs STUBS --target localhost:50051 \
        v1:BOOK_CATEGORY_SCIENCE_FICTION:3 legacy:MYSTERY:1

Each call prints one JSON line: {"call", "ok": true, "recommendations": [...]} or
{"call", "ok": false, "code": "NOT_FOUND", "details": "..."}. Exits 0 when every call was made
(whatever its status), 2 on bad arguments.
"""

import argparse
import json
import sys

import grpc


def parse_call(text):
    parts = text.split(":")
    if len(parts) != 3 or parts[0] not in ("v1", "legacy"):
        raise argparse.ArgumentTypeError(f"expected API:CATEGORY:MAX_RESULTS with API v1 or legacy, got {text!r}")
    api, category, max_results = parts
    try:
        return api, category, int(max_results)
    except ValueError:
        raise argparse.ArgumentTypeError(f"MAX_RESULTS must be an integer, got {max_results!r}") from None


def enum_value(enum, name):
    return int(name) if name.lstrip("-").isdigit() else enum.Value(name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stubs", required=True, help="folder with the generated *_pb2.py files")
    parser.add_argument("--target", default="localhost:50051", help="host:port of the service")
    parser.add_argument("--timeout", type=float, default=5.0, help="deadline of each call, in seconds")
    parser.add_argument("calls", nargs="+", type=parse_call, metavar="API:CATEGORY:MAX_RESULTS")
    args = parser.parse_args()

    sys.path.insert(0, args.stubs)
    from bookstore.recommendations.v1 import recommendations_pb2 as v1_pb2
    from bookstore.recommendations.v1 import recommendations_pb2_grpc as v1_grpc
    from legacy import recommendations_pb2 as legacy_pb2
    from legacy import recommendations_pb2_grpc as legacy_grpc

    with grpc.insecure_channel(args.target) as channel:
        v1 = v1_grpc.RecommendationsServiceStub(channel)
        legacy = legacy_grpc.RecommendationsStub(channel)
        for api, category, max_results in args.calls:
            label = f"{api}:{category}:{max_results}"
            try:
                if api == "v1":
                    request = v1_pb2.RecommendRequest(
                        user_id=1, category=enum_value(v1_pb2.BookCategory, category), max_results=max_results
                    )
                    response = v1.Recommend(request, timeout=args.timeout)
                    books = [
                        {"id": b.id, "title": b.title, "category": v1_pb2.BookCategory.Name(b.category)}
                        for b in response.recommendations
                    ]
                else:
                    request = legacy_pb2.RecommendationRequest(
                        user_id=1, category=enum_value(legacy_pb2.BookCategory, category), max_results=max_results
                    )
                    response = legacy.Recommend(request, timeout=args.timeout)
                    books = [{"id": b.id, "title": b.title} for b in response.recommendations]
                print(json.dumps({"call": label, "ok": True, "recommendations": books}), flush=True)
            except grpc.RpcError as error:
                print(
                    json.dumps({"call": label, "ok": False, "code": error.code().name, "details": error.details()}),
                    flush=True,
                )


if __name__ == "__main__":
    main()
