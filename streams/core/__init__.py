"""The executor's pure core: no clock, no I/O, no randomness; time and ids come in."""
