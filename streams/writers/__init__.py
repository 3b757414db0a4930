"""The write side: the one way flows and executions enter the log (validate, then append)."""
