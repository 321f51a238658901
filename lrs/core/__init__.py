"""The core both sides share: settings, the xAPI models, the Kafka envelope and topics, the ClickHouse store,
document commands and small utilities. It imports nothing from the HTTP service, the workers or the tools."""
