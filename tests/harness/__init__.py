"""Start real back ends (Kafka, Elasticsearch, noida-db) on loopback for the tests.

Everything downloaded lives in the cache (``$LANNER_CACHE`` or ``~/.cache/lanner``),
never inside the repository, and is reused across runs.
"""
