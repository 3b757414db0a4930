"""Secrets from SECRET_* variables, masking, and deferred lookups end to end."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest

from streams.core.context import _Deferred, defang
from streams.core.expressions import render
from streams.deferred_lookups import DeferredError, has_deferred, make_resolver, resolve_deferred
from streams.secrets.environment import load_secrets, without_secrets
from streams.secrets.masking import MASK, Masker

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _executor_render(value: Any, **data: Any) -> Any:
    """As the executor renders: no secrets, KV or files, so lookups are deferred."""
    context = {
        "_secrets": _Deferred("secret"),
        "_kv": _Deferred("kv"),
        "_files": _Deferred("read"),
        **data,
    }
    return render(value, context, now=NOW)


def test_secrets_come_from_base64_environment_variables() -> None:
    env = {"SECRET_TOKEN": _b64("s3cr3t-value"), "SECRET_BAD": "%%%", "PATH": "/bin"}
    assert load_secrets(env) == {"TOKEN": "s3cr3t-value"}
    assert without_secrets(env) == {"PATH": "/bin"}


def test_masker_masks_plain_and_json_escaped_forms() -> None:
    masker = Masker(['pa"ss-word', "ab"])
    assert masker.text('x pa"ss-word y') == f"x {MASK} y"
    assert masker.text('{"k": "pa\\"ss-word"}') == f'{{"k": "{MASK}"}}'
    assert masker.text("ab") == "ab"  # too short to mask without masking everything
    assert masker.value({"a": ['pa"ss-word']}) == {"a": [MASK]}


def test_secret_is_deferred_by_the_executor_and_resolved_by_the_worker() -> None:
    rendered = _executor_render(
        {"headers": {"Authorization": "Bearer {{ secret('TOKEN') }}"}, "n": "{{ x }}"}, x=1
    )
    assert "s3cr3t" not in repr(rendered) and has_deferred(rendered, "secret")
    resolver = make_resolver({"TOKEN": "s3cr3t"}, None, None, "kestra://main/ns/")
    assert resolve_deferred(rendered, resolver) == {
        "headers": {"Authorization": "Bearer s3cr3t"},
        "n": 1,
    }
    with pytest.raises(DeferredError, match="'OTHER' is not defined"):
        resolve_deferred(_executor_render("{{ secret('OTHER') }}"), resolver)


def test_kv_and_read_resolve_with_native_values_and_scope() -> None:
    def kv_value(key: str) -> tuple[bool, Any]:
        return (True, {"a": 1}) if key == "k" else (False, None)

    def read(uri: str) -> bytes:
        return b"content"

    resolver = make_resolver({}, read, kv_value, "kestra://main/ns/")
    assert resolve_deferred(_executor_render("{{ kv('k') }}"), resolver) == {"a": 1}
    assert resolve_deferred(_executor_render("v={{ kv('k') }}"), resolver) == 'v={"a": 1}'
    ok = _executor_render("{{ read('kestra://main/ns/f/x.txt') }}")
    assert resolve_deferred(ok, resolver) == "content"
    with pytest.raises(DeferredError, match="outside"):
        resolve_deferred(_executor_render("{{ read('kestra://other/x') }}"), resolver)
    with pytest.raises(DeferredError, match="'nope'"):
        resolve_deferred(_executor_render("{{ kv('nope') }}"), resolver)


def test_data_cannot_smuggle_a_marker() -> None:
    marker = _executor_render("{{ secret('TOKEN') }}")
    # An input or a previous output carrying a marker is defanged before it is rendered.
    smuggled = _executor_render("{{ inputs.x }}", inputs=defang({"x": marker}))
    assert not has_deferred(smuggled)
    resolver = make_resolver({"TOKEN": "s3cr3t"}, None, None, "kestra://main/ns/")
    assert "s3cr3t" not in resolve_deferred(smuggled, resolver)
