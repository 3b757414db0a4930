"""The Elasticsearch port: where projections keep their query views."""
