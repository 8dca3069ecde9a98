"""The shared PostgreSQL journal: many workers draining one named batch.

``journal`` (:class:`PostgresJournal`, the door), ``settings``, ``session`` (connection,
retries, held claims), ``items`` (the store contract), ``budget``, ``leases`` (queue and
leases), ``status`` (operator commands), ``schema``, ``errors``. This package imports nothing.
"""
