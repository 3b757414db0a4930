"""Kestra's functions beyond the lookups: uuid(), id(), randomInt(), encrypt(), decrypt(),
fileURI(), fileSize(), printContext(), currentEachOutput(), render(), renderOnce(),
max(), min().

Rendering is pure, so "random" values are drawn from the render's inputs: the execution
and task run ids, the render time and how many draws the render made so far (one counter
per `render()` call). The same render gives the same values (history verification decides the same);
two calls in one render, or two task runs, give different ones. encrypt() derives its
AES-GCM nonce the same way, mixed with the key and the plaintext, so that two different
texts never share a nonce under one key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jinja2 import pass_context
from jinja2.runtime import Context

from streams.core.expressions.errors import ExpressionError
from streams.core.expressions.values import loop_values

NOW_KEY = "_now"
FILES_KEY = "_files"
_IV_LENGTH = 12
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Kestra renders again until the text stops changing, at most this many times.
MAX_RENDERINGS = 100

_DRAWS: ContextVar[list[int] | None] = ContextVar("lanner_render_draws", default=None)


def start_draws() -> Any:
    """A fresh draw counter for one render() call; returns the token for finish_draws."""
    return _DRAWS.set([0])


def finish_draws(token: Any) -> None:
    _DRAWS.reset(token)


def _field(ctx: Context, name: str, key: str) -> str:
    holder = ctx.get(name)
    value = holder.get(key) if isinstance(holder, Mapping) else None
    return "" if value is None else str(value)


def _draw(ctx: Context, kind: str, extra: bytes = b"") -> bytes:
    counter = _DRAWS.get()
    n = 0
    if counter is not None:
        n = counter[0]
        counter[0] += 1
    now = ctx.get(NOW_KEY)
    seed = "|".join(
        [
            kind,
            _field(ctx, "execution", "id"),
            _field(ctx, "taskrun", "id"),
            now.isoformat() if isinstance(now, datetime) else "",
            str(n),
        ]
    )
    return hashlib.sha256(seed.encode("utf-8") + extra).digest()


@pass_context
def uuid(ctx: Context) -> str:
    """A version-4-shaped UUID drawn from the render's inputs."""
    raw = bytearray(_draw(ctx, "uuid")[:16])
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@pass_context
def short_id(ctx: Context) -> str:
    """Kestra's id(): a UUID written in base 62 (FriendlyId), 22 characters at most."""
    number = int.from_bytes(_draw(ctx, "id")[:16], "big")
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)) or "0"


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExpressionError(
            "", f"The 'randomInt' function expects an argument '{name}' with type Integer."
        )
    return value


@pass_context
def random_int(ctx: Context, lower: Any = None, upper: Any = None) -> int:
    """Kestra's randomInt(lower, upper): lower <= n < upper (n = lower when they are equal)."""
    if lower is None or upper is None:
        raise ExpressionError("", "The 'randomInt' function expects arguments 'lower' and 'upper'")
    low, high = _integer(lower, "lower"), _integer(upper, "upper")
    if high < low:
        raise ExpressionError("", "In 'randomInt' upper is less than lower")
    if high == low:
        return low
    return low + int.from_bytes(_draw(ctx, "randomInt"), "big") % (high - low)


def _key(key: Any) -> bytes:
    if not isinstance(key, str):
        raise ExpressionError("", "encrypt/decrypt: the key must be a base64 text")
    try:
        raw = base64.b64decode(key, validate=True)
    except binascii.Error:
        raise ExpressionError("", "encrypt/decrypt: the key is not valid base64") from None
    if len(raw) not in (16, 24, 32):
        raise ExpressionError("", f"Invalid AES key length: {len(raw)} bytes")
    return raw


@pass_context
def encrypt(ctx: Context, key: Any = None, plaintext: Any = None) -> Any:
    """Kestra's encrypt(key, plaintext): AES/GCM, the 12-byte nonce first, in base64."""
    if key is None or plaintext is None:
        raise ExpressionError(
            "", "The 'encrypt' function expects two arguments 'key' and 'plaintext'."
        )
    if plaintext == "":
        return plaintext
    raw_key = _key(key)
    data = str(plaintext).encode("utf-8")
    nonce = _draw(ctx, "encrypt", hashlib.sha256(raw_key + b"\0" + data).digest())[:_IV_LENGTH]
    sealed = AESGCM(raw_key).encrypt(nonce, data, None)
    return base64.b64encode(nonce + sealed).decode("ascii")


def decrypt(key: Any = None, encrypted: Any = None) -> Any:
    """Kestra's decrypt(key, encrypted): reads what encrypt() (Kestra's or Lanner's) made."""
    if key is None or encrypted is None:
        raise ExpressionError(
            "", "The 'decrypt' function expects two arguments 'key' and 'encrypted'."
        )
    if encrypted == "":
        return encrypted
    raw_key = _key(key)
    try:
        raw = base64.b64decode(str(encrypted), validate=True)
        plain = AESGCM(raw_key).decrypt(raw[:_IV_LENGTH], raw[_IV_LENGTH:], None)
    except (binascii.Error, InvalidTag, ValueError):
        raise ExpressionError("", "decrypt: wrong key, or not a value encrypt() made") from None
    return plain.decode("utf-8", errors="replace")


@pass_context
def file_uri(ctx: Context, path: Any = None) -> str:
    """Kestra's fileURI(path): the `kestra:///` URI of a namespace file of this flow."""
    if not isinstance(path, str):
        raise ExpressionError(
            "",
            "The 'fileURI' function expects an argument 'path' that is a path to a namespace file.",
        )
    if path.startswith("/"):
        path = path[1:]
    if "../" in path:
        raise ExpressionError("", "Path must not contain '../'")
    namespace = _field(ctx, "flow", "namespace")
    return f"kestra:///{namespace.replace('.', '/')}/_files/{path}"


@pass_context
def file_size(ctx: Context, path: Any = None) -> int:
    """Kestra's fileSize(path): the size in bytes of an internal storage file. Only a
    worker holds files: the executor defers a template that calls it (see engine.analyse)."""
    if not isinstance(path, str) or not path.startswith("kestra:///"):
        raise ExpressionError("", f"Unable to create the URI from the path {path}")
    files = ctx.get(FILES_KEY)
    if not isinstance(files, Mapping) or path not in files:
        raise ExpressionError("", f"file {path!r} is not available")
    content = files[path]
    if isinstance(content, bytes):
        return len(content)
    return len(str(content).encode("utf-8"))


@pass_context
def print_context(ctx: Context) -> dict[str, Any]:
    """Kestra's printContext()/fetchContext(): every variable of the render (the private
    `_` ones and the functions aside)."""
    functions = ctx.environment.globals
    return {
        name: value
        for name, value in ctx.get_all().items()
        if not name.startswith("_") and not (name in functions and value is functions[name])
    }


@pass_context
def current_each_output(ctx: Context, outputs: Any = None) -> Any:
    """Kestra's currentEachOutput(outputs.t): `t`'s outputs for the current ForEach value,
    following the values of the enclosing ForEach runs from the outermost in."""
    if not isinstance(outputs, Mapping):
        raise ExpressionError(
            "", "The 'currentEachOutput' function expects an argument 'outputs' with type map."
        )
    # The path `outputs` is keyed by (streams/core/context.py outputs_view).
    chain = [*reversed(ctx.get("parents") or []), {"taskrun": ctx.get("taskrun")}]
    values = [
        (item.get("taskrun") or {}).get("value") if isinstance(item, Mapping) else None
        for item in chain
    ]
    current: Any = outputs
    for value in loop_values(values):
        if not isinstance(current, Mapping):
            return None
        current = current.get(value)
    return current


def _render_with(ctx: Context, value: Any, recursive: bool) -> Any:
    from streams.core.expressions import engine  # engine imports this module

    now = ctx.get(NOW_KEY)
    if not isinstance(now, datetime):
        raise ExpressionError("", "render(): no render time")
    variables = {k: v for k, v in ctx.get_all().items() if k != NOW_KEY}
    result = engine.render_nested(value, variables, now)
    renderings = 1
    while recursive and result != value:
        if renderings >= MAX_RENDERINGS:
            raise ExpressionError("", "Too many rendering attempts")
        value, result = result, engine.render_nested(result, variables, now)
        renderings += 1
    return result


@pass_context
def render(ctx: Context, toRender: Any = None, recursive: Any = True) -> Any:
    """Kestra's render(toRender, recursive=true): renders a value that holds templates
    again, with the same variables, until it stops changing (once when not recursive)."""
    if recursive is None:
        recursive = True
    if not isinstance(recursive, bool):
        raise ExpressionError(
            "", "The 'render' function expects an optional argument 'recursive' with type boolean."
        )
    return _render_with(ctx, toRender, recursive)


@pass_context
def render_once(ctx: Context, toRender: Any = None) -> Any:
    return _render_with(ctx, toRender, False)


def _candidates(args: tuple[Any, ...]) -> list[Any]:
    if len(args) == 1 and isinstance(args[0], list | tuple):
        return list(args[0])
    return list(args)


def maximum(*args: Any) -> Any:
    """Pebble's max(a, b, ...): the largest argument (or item of a single list)."""
    items = _candidates(args)
    if not items:
        raise ExpressionError("", "max() needs at least one argument")
    return max(items)


def minimum(*args: Any) -> Any:
    items = _candidates(args)
    if not items:
        raise ExpressionError("", "min() needs at least one argument")
    return min(items)
