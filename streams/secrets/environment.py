"""Secrets from the environment: `SECRET_<NAME>` variables holding the base64 of the
value, as Kestra's open-source edition reads them."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping

log = logging.getLogger("lanner.secrets")

SECRET_PREFIX = "SECRET_"


def load_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """`SECRET_<NAME>=<base64>` -> {NAME: value}; a value that is not base64 is skipped."""
    found: dict[str, str] = {}
    for key, encoded in environ.items():
        if not key.startswith(SECRET_PREFIX) or len(key) == len(SECRET_PREFIX):
            continue
        name = key[len(SECRET_PREFIX) :]
        try:
            found[name] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            log.warning("secret is not valid base64 UTF-8; ignored", extra={"secret": name})
    return found


def without_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment minus the secret variables: what a child process may inherit."""
    return {k: v for k, v in environ.items() if not k.startswith(SECRET_PREFIX)}
