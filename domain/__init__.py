"""The write side: aggregates, their events, value objects and the application service.

Nothing in this package performs HTTP or SQL; storage comes from the eventsourcing
library, configured by the caller.
"""
