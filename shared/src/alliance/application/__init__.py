"""Application layer: repositories over any record store, handler routes, and an in-memory harness.

Nothing here talks to Kafka or MongoDB: the runtime supplies the real record store and outbox; unit
tests supply the in-memory ones from :mod:`alliance.application.testing`.
"""
