"""The operator's tools: the ``lrs`` CLI, the local stack supervisor, doctor, erasure requests, the demo, the
report and dashboard generator, and the benchmark suite. The top layer: it may use the service and the workers."""
