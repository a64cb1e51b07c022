"""An ingest client we did not write: Python grpcio with stubs generated from proto/ by
grpcio-tools at run time. Submits one valid and one invalid alert and prints the outcome as
JSON (the invalid one's google.rpc.BadRequest field violations decoded with grpcio-status).

usage: grpc_client.py ENDPOINT TOKEN OFFICE PROTO_DIR"""

import json
import sys
import tempfile
import time

import grpc
from grpc_status import rpc_status
from grpc_tools import protoc
from google.rpc import error_details_pb2


def generate(proto_dir, out_dir):
    import grpc_tools

    include = grpc_tools.__path__[0] + "/_proto"
    files = ["watchkeeper/v1/alert.proto", "watchkeeper/v1/ingest.proto"]
    code = protoc.main(["protoc", "-I" + proto_dir, "-I" + include,
                        "--python_out=" + out_dir, "--grpc_python_out=" + out_dir] + files)
    if code != 0:
        raise SystemExit("protoc failed: %d" % code)
    sys.path.insert(0, out_dir)


def main(endpoint, token, office, proto_dir):
    out_dir = tempfile.mkdtemp()
    generate(proto_dir, out_dir)
    from watchkeeper.v1 import alert_pb2, ingest_pb2, ingest_pb2_grpc

    metadata = [("authorization", "Bearer " + token)]
    with grpc.insecure_channel(endpoint) as channel:
        stub = ingest_pb2_grpc.AlertIngestStub(channel)
        alert = alert_pb2.Alert(
            office_id=office,
            severity=alert_pb2.SEVERITY_EMERGENCY,
            category=alert_pb2.CATEGORY_NATURAL_HAZARD,
            title="Flash flood on the Ngadda river",
            description="Road to the airport cut",
            country="NG",
            place="Maiduguri",
            staff_affected=3,
            dedup_key="python-flood-1",
        )
        alert.occurred_at.FromSeconds(int(time.time()) - 60)
        alert.labels["source"] = "python"
        accepted = stub.SubmitAlert(ingest_pb2.SubmitAlertRequest(alert=alert),
                                    metadata=metadata, timeout=30)

        bad = alert_pb2.Alert()
        bad.CopyFrom(alert)
        bad.country = "ZZ"
        bad.place = ""
        invalid = refusal(stub, bad, metadata)

        # Hostile sizes: the answer must stay INVALID_ARGUMENT, not become a trailer so large
        # that this client reports RESOURCE_EXHAUSTED (which the contract says to retry).
        huge_country = alert_pb2.Alert()
        huge_country.CopyFrom(alert)
        huge_country.country = "X" * 17000
        bad_labels = alert_pb2.Alert()
        bad_labels.CopyFrom(alert)
        for index in range(40):
            bad_labels.labels["bad label %d %s" % (index, "x" * 60)] = "v"
        report = {
            "accepted": {"alert_id": accepted.alert_id, "duplicate": accepted.duplicate},
            "invalid": invalid,
            "huge_country": refusal(stub, huge_country, metadata),
            "bad_labels": refusal(stub, bad_labels, metadata),
        }
    print(json.dumps(report))


def refusal(stub, alert, metadata):
    from watchkeeper.v1 import ingest_pb2

    outcome = {}
    try:
        stub.SubmitAlert(ingest_pb2.SubmitAlertRequest(alert=alert), metadata=metadata, timeout=30)
        outcome["code"] = "OK"
    except grpc.RpcError as error:
        outcome["code"] = error.code().name
        outcome["message_chars"] = len(error.details() or "")
        status = rpc_status.from_call(error)
        fields = []
        for detail in status.details if status else []:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                request = error_details_pb2.BadRequest()
                detail.Unpack(request)
                fields += [violation.field for violation in request.field_violations]
        outcome["fields"] = fields
    return outcome


if __name__ == "__main__":
    main(*sys.argv[1:5])
