"""Lists the services a gRPC server offers through server reflection (grpcio-reflection), as
grpcurl does, and prints them as a JSON list.

usage: reflection_client.py HOST:PORT"""

import json
import sys

import grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc


def main(endpoint):
    with grpc.insecure_channel(endpoint) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        for response in stub.ServerReflectionInfo(iter([request]), timeout=30):
            names = [service.name for service in response.list_services_response.service]
            print(json.dumps(sorted(names)))
            return


if __name__ == "__main__":
    main(sys.argv[1])
