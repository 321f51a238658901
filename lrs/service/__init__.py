"""The HTTP service (the xAPI endpoints): routes, auth and tenants, request guards, the Kafka publisher, reads
and read-your-writes. It depends on the core only; the workers never import it."""
