"""Generated protobuf modules for Prometheus remote write; see generate.sh."""
