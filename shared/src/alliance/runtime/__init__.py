"""Runtime: Kafka messaging, the store, the outbox relay, telemetry and service assembly."""
