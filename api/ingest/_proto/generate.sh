#!/bin/sh
# Regenerates the *_pb2.py modules beside this script from the .proto files.
# grpcio-tools is a dev tool only (never a runtime dependency); its bundled protoc must not
# be newer than the protobuf runtime we ship with, or the generated modules refuse to load:
#   .venv/bin/pip install 'grpcio-tools==1.85.1'
# Run from anywhere: sh api/ingest/_proto/generate.sh
set -eu
root="$(cd "$(dirname "$0")/../../.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
cd "$root"
"$python" -m grpc_tools.protoc -I . --python_out=. \
    api/ingest/_proto/types.proto \
    api/ingest/_proto/remote.proto \
    api/ingest/_proto/remote_view.proto \
    api/ingest/_proto/write_v2.proto
"$python" -c 'import api.ingest._proto.remote_pb2, api.ingest._proto.write_v2_pb2'
echo "regenerated api/ingest/_proto/*_pb2.py"
