"""The embedded stack's external pieces, run as child processes: a Kafka-protocol broker and PostgreSQL."""
