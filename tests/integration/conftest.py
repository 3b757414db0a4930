"""Fixtures shared by integration modules."""

from tests.integration.stack import stack

__all__ = ["stack"]
