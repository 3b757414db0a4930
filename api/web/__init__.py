"""The REST API (FastAPI): reads from the projections, writes onto the log."""
