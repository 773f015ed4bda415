"""grpcio client for the kit's Python interop test (run by /usr/bin/python3).

Usage: interop_client.py ADDRESS STUB_DIR

STUB_DIR holds health_v1_pb2*, reflection_v1_pb2* and reflection_v1alpha_pb2* generated at test
time. Dummy Execute is NOT generated: it is called through a stub built from the descriptors the
server returns over reflection. Prints one JSON object per line; after {"event": "watching"} it
waits for the server to drain and reports what its health Watch saw.
"""

import json
import sys

import grpc

sys.path.insert(0, sys.argv[2])

import health_v1_pb2  # noqa: E402
import health_v1_pb2_grpc  # noqa: E402
import reflection_v1_pb2  # noqa: E402
import reflection_v1_pb2_grpc  # noqa: E402
import reflection_v1alpha_pb2  # noqa: E402
import reflection_v1alpha_pb2_grpc  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402

DUMMY = "kit.testing.v1.DummyService"


def emit(**fields):
    print(json.dumps(fields), flush=True)


def message_class(descriptor):
    # GetMessageClass is protobuf >= 4.22; Debian's 4.21 only has MessageFactory.GetPrototype.
    get = getattr(message_factory, "GetMessageClass", None)
    return get(descriptor) if get else message_factory.MessageFactory().GetPrototype(descriptor)


def reflect(stub_module, channel, request):
    stub = stub_module.ServerReflectionStub(channel)
    return next(iter(stub.ServerReflectionInfo(iter([request]), timeout=10)))


def main():
    address = sys.argv[1]
    with grpc.insecure_channel(address) as channel:
        health = health_v1_pb2_grpc.HealthStub(channel)
        for service in ["", DUMMY]:
            response = health.Check(health_v1_pb2.HealthCheckRequest(service=service), timeout=10)
            emit(event="check", service=service,
                 status=health_v1_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

        listed = reflect(reflection_v1_pb2_grpc, channel, reflection_v1_pb2.ServerReflectionRequest(list_services=""))
        emit(event="services", version="v1", names=sorted(s.name for s in listed.list_services_response.service))
        listed_alpha = reflect(reflection_v1alpha_pb2_grpc, channel,
                               reflection_v1alpha_pb2.ServerReflectionRequest(list_services=""))
        emit(event="services", version="v1alpha",
             names=sorted(s.name for s in listed_alpha.list_services_response.service))

        files = reflect(reflection_v1_pb2_grpc, channel,
                        reflection_v1_pb2.ServerReflectionRequest(file_containing_symbol=DUMMY))
        protos = [descriptor_pb2.FileDescriptorProto.FromString(raw)
                  for raw in files.file_descriptor_response.file_descriptor_proto]
        emit(event="files", names=[p.name for p in protos])
        pool = descriptor_pool.DescriptorPool()
        pending = list(protos)
        while pending:  # dependencies first, whatever order the server sent them in
            added = [p for p in pending if all(d in {x.name for x in protos if x not in pending} for d in p.dependency)]
            if not added:
                raise RuntimeError("unresolvable descriptor dependencies")
            for proto in added:
                pool.Add(proto)
                pending.remove(proto)
        method = pool.FindServiceByName(DUMMY).FindMethodByName("Execute")
        request_class = message_class(method.input_type)
        response_class = message_class(method.output_type)
        execute = channel.unary_unary(f"/{DUMMY}/Execute", request_serializer=request_class.SerializeToString,
                                      response_deserializer=response_class.FromString)
        reply = execute(request_class(input="hello from python"), timeout=10)
        emit(event="execute", output=reply.output)

        statuses = []
        end_code = None
        watch = health.Watch(health_v1_pb2.HealthCheckRequest(service=""), timeout=60)
        try:
            for update in watch:
                statuses.append(health_v1_pb2.HealthCheckResponse.ServingStatus.Name(update.status))
                if len(statuses) == 1:
                    emit(event="watching")
        except grpc.RpcError as error:
            end_code = error.code().name
        emit(event="watch", statuses=statuses, end_code=end_code)


if __name__ == "__main__":
    main()
