"""History verification: prove that the current `decide` reproduces recorded histories.

Pure logic here (`recorded`, `history`, `order`, `verify`, `as_of`); reading Kafka is
in `source`, at the edge.
"""
