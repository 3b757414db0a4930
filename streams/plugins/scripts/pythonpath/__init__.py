"""Put on the PYTHONPATH of every script task: the `kestra` helper library lives here."""
