"""Payloads for tests, one module per domain: what an agency sends and what a service publishes.

Every test tree imports them (``tests/`` is on pytest's path, as for ``harness``; the bench adds it too):
``from payloads.interdiction import seizure_reported``. A builder gives a valid, ordinary payload; keyword
arguments add or replace its fields, so a test names only what it is about. Builders of what agencies send
return the JSON data (``dict``), as the e2e tests and the bench send it; builders of what services publish,
and of intake that unit tests hand to a handler, return the contract's model.
"""
