"""The stream processors: a pure domain core (``streams.core``) and the Kafka shell around it (``streams.worker``)."""
