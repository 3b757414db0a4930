"""The expression engine: Jinja rendering, Pebble syntax, Kestra filters and functions."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.expressions import ExpressionError, render, render_bool, syntax_errors
from streams.core.expressions.pebble import translate

NOW = datetime(2024, 3, 9, 14, 5, 7, 123456, tzinfo=UTC)


def ctx(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "inputs": {"name": "World", "n": 3, "none": None, "empty": "", "items": ["a", "b", "c"]},
        "outputs": {
            "a": {"value": 1, "items": [1, 2], "values": {"k": "v"}},
            "each": {"x": {"size": 10}, "y": {"size": 20}},
            "my-task": {"uri": "kestra://file"},
        },
        "vars": {"greeting": "hi"},
        "execution": {"id": "ex1", "startDate": "2024-03-09T14:05:07.123456Z"},
        "flow": {"id": "f", "namespace": "company.team"},
        "taskrun": {"value": "y"},
        "labels": {"env": "prod"},
    }
    base.update(extra)
    return base


def r(template: Any, **extra: Any) -> Any:
    return render(template, ctx(**extra), now=NOW)


def error(template: str, **extra: Any) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        r(template, **extra)
    assert info.value.expression == template
    return info.value


# --- rendering shapes ---------------------------------------------------------------


def test_text_without_markers_is_returned_as_is() -> None:
    text = "plain {text} with } and { and # and ?? : ?"
    assert r(text) is text


def test_whole_expression_returns_native_values() -> None:
    assert r("{{ outputs.a.items }}") == [1, 2]
    assert r("{{ inputs.n }}") == 3
    assert r("{{ outputs.a.values }}") == {"k": "v"}
    assert r("{{ inputs.none }}") is None
    assert r("{{ {'a': inputs.n} }}") == {"a": 3}
    assert r("{{- inputs.n -}}") == 3


def test_mixed_text_renders_kestra_style_text() -> None:
    assert r("Hello {{ inputs.name }}!") == "Hello World!"
    assert r("{{ inputs.n }} items") == "3 items"
    assert r("b={{ true }} n={{ inputs.none }} l={{ outputs.a.items }}") == "b=true n= l=[1,2]"
    assert r("d={{ outputs.a.values }}") == 'd={"k":"v"}'
    assert r("at {{ now() }}") == "at 2024-03-09T14:05:07.123456Z"
    assert r("{{ inputs.n }}\n") == "3\n"  # YAML block scalars keep their newline


def test_render_walks_dicts_lists_and_keys() -> None:
    value = {"a": ["{{ inputs.n }}", {"b": "x{{ inputs.n }}"}], "{{ inputs.name }}": 1, "n": 5}
    assert r(value) == {"a": [3, {"b": "x3"}], "World": 1, "n": 5}
    assert r(("{{ inputs.n }}",)) == (3,)
    assert r(None) is None


def test_foreach_outputs_by_value() -> None:
    assert r("{{ outputs.each[taskrun.value].size }}") == 20
    assert r("{{ outputs['my-task'].uri }}") == "kestra://file"


def test_map_keys_win_over_dict_methods() -> None:
    assert r("{{ outputs.a.items }}") == [1, 2]
    assert r("{{ outputs.a.values.k }}") == "v"


# --- undefined values ---------------------------------------------------------------


def test_undefined_variables_name_the_variable() -> None:
    assert "'inputs.missing'" in str(error("{{ inputs.missing }}"))
    assert "keys of inputs" in str(error("{{ inputs.missing }}"))
    assert "'nothing'" in str(error("x {{ nothing }}"))
    assert "'outputs.b'" in str(error("{{ outputs.b.value }}"))
    assert "'inputs.q'" in str(error("{% if inputs.q %}x{% endif %}"))
    assert "'inputs.q'" in str(error("{{ [1, inputs.q] }}"))
    assert "'inputs.q'" in str(error("{{ inputs.q | upper }}"))
    assert "'inputs.q'" in str(error("{{ inputs.q | date('yyyy') }}"))
    assert "'inputs.q'" in str(error("{{ inputs.items | join(inputs.q) }}"))
    assert "'inputs.q'" in str(error("{{ secret(inputs.q) }}"))


def test_default_and_coalescing_rescue_undefined() -> None:
    assert r("{{ inputs.missing | default('d') }}") == "d"
    assert r("{{ inputs.missing.deeper | default('d') }}") == "d"
    assert r("{{ inputs.none | default('d') }}") == "d"
    assert r("{{ inputs.empty | default('d') }}") == "d"  # Pebble: empty takes the default
    assert r("{{ inputs.n | default('d') }}") == 3
    assert r("{{ inputs.missing is defined }}") is False


# --- Pebble syntax ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.x ?? 'd' }}", "d"),
        ("{{ inputs.none ?? 'd' }}", "d"),
        ("{{ inputs.name ?? 'd' }}", "World"),
        ("{{ inputs.a ?? inputs.b ?? 'c' }}", "c"),
        ("{{ inputs.a ?? inputs.n ?? 'c' }}", 3),
        ("{{ inputs.missing.deep[0] ?? 7 }}", 7),
        ("{{ inputs.none ??? 'd' }}", None),
        ("{{ inputs.missing ??? 'd' }}", "d"),
        ("{{ inputs.x ?? 'a' | upper }}", "A"),
        ("{{ 'p-' ~ inputs.x ?? 'd' }}", "p-d"),
        ("{{ inputs.x ?? -1 }}", -1),
        ("{{ inputs.x??5 }}", 5),
        ("{{ nothing.at.all ?? inputs.n }}", 3),
        ("{{ outputs.a.value == 1 ? 'one' : 'other' }}", "one"),
        ("{{ outputs.a.value == 2 ? 'one' : 'other' }}", "other"),
        ("{{ true ? (false ? 1 : 2) : 3 }}", 2),
        ("{{ true ? false ? 1 : 2 : 3 }}", 2),
        ("{{ true?1:2 }}", 1),
        ("{{ 'x' ~ (inputs.n == 3 ? 'a' : 'b') }}", "xa"),
        ("{{ false ? 'a' : 'b' | upper }}", "B"),
        ("{{ false ? 1 : false ? 2 : 3 }}", 3),
        ("{{ inputs.x ?? false ? 'yes' : 'no' }}", "no"),
        ("{{ 'a?b:c ?? d' }}", "a?b:c ?? d"),
        ('{{ true ? "x ? y : z" : "??" }}', "x ? y : z"),
        ("{{ {'a': 1}['a'] }}", 1),
        ("{{ {'a': true ? 1 : 2, 'b': inputs.x ?? 3} }}", {"a": 1, "b": 3}),
        ("{{ {true ? 'k' : 'j': 1} }}", {"k": 1}),
        ("{{ inputs.items[1:2] }}", ["b"]),
        ("{{ inputs.items[true ? 0 : 1 : 2] }}", ["a", "b"]),
        ("{{ inputs.items contains 'b' }}", True),
        ("{{ inputs.items contains 'z' or inputs.n == 3 }}", True),
        ("{{ not (inputs.items contains 'z') }}", True),
        ("{{ 'b' in inputs.items }}", True),
        ("{{ inputs.none == null }}", True),
        ("{{ inputs.none is null }}", True),
        ("{{ inputs.n equals 3 }}", True),
        ("{{ inputs.n == 3 and not false }}", True),
        ("{{ 'a' ~ inputs.n ~ 'b' }}", "a3b"),
        ("{{ 1..3 }}", [1, 2, 3]),
        ("{{ inputs.items | join(inputs.x ?? ',') }}", "a,b,c"),
        ("{{ [inputs.x ?? 1, true ? 2 : 0] }}", [1, 2]),
        ("{{ inputs.items | length > 2 ? 'many' : 'few' }}", "many"),
    ],
)
def test_pebble_expressions(template: str, expected: Any) -> None:
    assert r(template) == expected


def test_pebble_statements() -> None:
    assert r("{% if inputs.x ?? false %}a{% elseif inputs.n == 3 %}b{% else %}c{% endif %}") == "b"
    assert r("{% for i in inputs.x ?? [1, 2] %}{{ i }};{% endfor %}") == "1;2;"
    assert r("{% set y = inputs.n > 2 ? 'big' : 'small' %}{{ y }}") == "big"
    assert r("{% for i in inputs.items if i != 'b' %}{{ i }}{% endfor %}") == "ac"
    assert r("{% for i in range(1, 3) %}{{ i }}{% endfor %}") == "123"  # Pebble: inclusive
    assert r("{% verbatim %}{{ a ?? b }}{% endverbatim %}") == "{{ a ?? b }}"
    assert r("{% raw %}{{ a ? b : c }}{% endraw %}") == "{{ a ? b : c }}"
    assert r("x{# a ? b #}{{ 'y' }}") == "xy"
    assert r("{%- if inputs.b ?? true -%} yes {%- endif %}") == "yes"


def test_translation_leaves_plain_jinja_untouched() -> None:
    for text in [
        "{{ a if b else c }}",
        "{{ x[1:2] }}",
        "{{ {'a': {'b': 1}} }}",
        "{{ '}}' }}{% if x %}{{ '?' }}{% endif %}",
        "{{ f(a=1, b='?') }}",
    ]:
        assert translate(text) == text


# --- functions ----------------------------------------------------------------------


def test_now_is_the_argument() -> None:
    assert r("{{ now() }}") == NOW
    naive = render("{{ now() }}", {}, now=datetime(2024, 1, 1))
    assert naive == datetime(2024, 1, 1, tzinfo=UTC)


def test_secret_kv_read_and_error_logs() -> None:
    private = {
        "_secrets": {"TOKEN": "s3cr3t"},
        "_kv": {"k": {"n": 1}},
        "_files": {"kestra://f.txt": b"content"},
        "_error_logs": [{"message": "boom"}],
    }
    assert r("{{ secret('TOKEN') }}", **private) == "s3cr3t"
    assert r("{{ kv('k').n }}", **private) == 1
    assert r("{{ kv('nope', errorOnMissing=false) }}", **private) is None
    assert r("{{ read('kestra://f.txt') }}", **private) == "content"
    assert r("{{ errorLogs()[0].message }}", **private) == "boom"
    assert r("{{ errorLogs() }}") == []
    missing = error("{{ secret('OTHER') }}", **private)
    assert "'OTHER'" in str(missing)
    assert "s3cr3t" not in str(missing)
    assert "'nope'" in str(error("{{ kv('nope', errorOnMissing=true) }}", **private))
    assert r("{{ kv('nope') }}", **private) is None  # Kestra's default: null
    assert "reserved" in str(error("{{ _secrets }}", **private))


def test_json_functions_and_range() -> None:
    assert r("{{ json('{\"a\": [1, 2]}').a }}") == [1, 2]
    assert r("{{ fromJson('[1]') }}") == [1]
    assert r("{{ range(3) }}") == [0, 1, 2]
    assert r("{{ range(0, 10, 5) }}") == [0, 5, 10]
    assert "not allowed" not in str(error("{{ fromJson('{') }}"))


# --- filters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "{{ {'a': [1, 'é'], 'd': now()} | toJson }}",
            '{"a":[1,"é"],"d":"2024-03-09T14:05:07.123456Z"}',
        ),
        ("{{ [1] | json }}", "[1]"),
        ("{{ ' x ' | trim | upper }}", "X"),
        ("{{ 'ABC' | lower }}", "abc"),
        ("{{ inputs.items | length }}", 3),
        ("{{ 'abc' | first }}", "a"),
        ("{{ inputs.items | first }}", "a"),
        ("{{ inputs.items | last }}", "c"),
        ("{{ inputs.items | join(', ') }}", "a, b, c"),
        ("{{ [true, none, 1] | join('|') }}", "true||1"),
        ("{{ outputs.each | keys }}", ["x", "y"]),
        ("{{ {'a': 1} | values }}", [1]),
        ("{{ 'a,b,c' | split(',') }}", ["a", "b", "c"]),
        ("{{ 'a,b,c' | split(',', 2) }}", ["a", "b,c"]),
        ("{{ 'a-b' | replace('-', '+') }}", "a+b"),
        ("{{ '%x% %y%' | replace({'%x%': 1, '%y%': 'z'}) }}", "1 z"),
        ("{{ 'a1b22' | replace('\\\\d+', '#', regexp=true) }}", "a#b#"),
        ("{{ -3 | abs }}", 3),
        ("{{ '12' | number + 1 }}", 13),
        ("{{ '1.5' | number }}", 1.5),
        ("{{ '2' | number('FLOAT') }}", 2.0),
        ("{{ 'Héllo, World!' | slugify }}", "hello-world"),
        ("{{ 'a.b.c' | substringBefore('.') }}", "a"),
        ("{{ 'a.b.c' | substringAfter('.') }}", "b.c"),
        ("{{ 'a.b.c' | substringBeforeLast('.') }}", "a.b"),
        ("{{ 'a.b.c' | substringAfterLast('.') }}", "c"),
        ("{{ 'abc' | substringAfter('z') }}", ""),
        ("{{ 'abc' | startsWith('ab') }}", True),
        ("{{ 'abc' is endsWith('bc') }}", True),
        ("{{ 'abc' is startsWith 'x' }}", False),
        ("{{ 'hi' | base64encode }}", base64.b64encode(b"hi").decode()),
        ("{{ 'aGk=' | base64decode }}", "hi"),
        ("{{ 'hi' | sha256 }}", hashlib.sha256(b"hi").hexdigest()),
        ("{{ 'hello world' | title }}", "Hello World"),
        ("{{ 'hELLO' | capitalize }}", "HELLO"),
        ("{{ [] is empty }}", True),
        ("{{ outputs.a is map }}", True),
        ("{{ [1, 2] | map('string') | list }}", ["1", "2"]),
        ("{{ [3, 1] | sort }}", [1, 3]),
    ],
)
def test_filters(template: str, expected: Any) -> None:
    assert r(template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ now() | date('yyyy-MM-dd') }}", "2024-03-09"),
        ("{{ now() | date(\"yyyy-MM-dd'T'HH:mm:ss\") }}", "2024-03-09T14:05:07"),
        ("{{ now() | date(\"yyyy-MM-dd'T'HH:mm:ss.SSSXXX\") }}", "2024-03-09T14:05:07.123Z"),
        ("{{ now() | date('%Y/%m/%d %H') }}", "2024/03/09 14"),
        ("{{ now() | date('EEE, d MMM yy h:mm a') }}", "Sat, 9 Mar 24 2:05 PM"),
        ("{{ now() | date('EEEE MMMM D DDD') }}", "Saturday March 69 069"),
        ("{{ now() | date(\"''HH''\") }}", "'14'"),
        ("{{ execution.startDate | date('yyyy-MM-dd HH:mm') }}", "2024-03-09 14:05"),
        ("{{ '2024-03-09' | date('dd/MM/yyyy') }}", "09/03/2024"),
        ("{{ now() | date('HH:mm xxx', timeZone='Europe/Paris') }}", "15:05 +01:00"),
        ("{{ now() | date('iso_sec') }}", "2024-03-09T14:05:07Z"),
        ("{{ now() | date('sql_sec') }}", "2024-03-09 14:05:07"),
        ("{{ now() | date('iso_date') }}", "2024-03-09"),
        ("{{ now() | date }}", "2024-03-09T14:05:07.123456Z"),
        ("{{ '09/03/2024' | date('yyyy-MM-dd', existingFormat='dd/MM/yyyy') }}", "2024-03-09"),
        ("{{ now() | dateAdd(-1, 'DAYS') | date('yyyy-MM-dd') }}", "2024-03-08"),
        ("{{ now() | dateAdd(2, 'HOURS') | date('HH') }}", "16"),
        ("{{ '2024-01-31' | dateAdd(1, 'MONTHS') | date('yyyy-MM-dd') }}", "2024-02-29"),
        ("{{ now() | dateAdd(1, 'YEARS') | date('yyyy') }}", "2025"),
        ("{{ '1970-01-02T00:00:00Z' | timestamp }}", 86400),
        ("{{ '1970-01-01T00:00:01Z' | timestampMilli }}", 1000),
    ],
)
def test_dates(template: str, expected: Any) -> None:
    assert r(template) == expected


def test_date_add_returns_a_datetime() -> None:
    assert r("{{ now() | dateAdd(1, 'WEEKS') }}") == NOW + timedelta(weeks=1)
    offset = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert render("{{ d | dateAdd(1, 'HOURS') }}", {"d": offset}, now=NOW).hour == 1


def test_bad_date_inputs_are_expression_errors() -> None:
    assert "unit" in str(error("{{ now() | dateAdd(1, 'FORTNIGHTS') }}"))
    assert "date" in str(error("{{ 'not a date' | date('yyyy') }}"))
    assert "zone" in str(error("{{ now() | date('yyyy', timeZone='Mars/Olympus') }}"))


# --- conditions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("false", False),
        ("False", False),
        (" false\n", False),
        ("0", False),
        ("-0", False),
        ("", False),
        ("yes", True),
        ("{{ inputs.n > 2 }}", True),
        ("{{ inputs.n > 5 }}", False),
        ("{{ inputs.none }}", False),
        ("{{ inputs.items }}", True),
        ("{{ [] }}", False),
        ("{{ 0 }}", False),
        ("{{ inputs.n == 3 }}\n", True),
        ("{{ inputs.n == 4 }}\n", False),
        ("{{ inputs.x ?? false }}", False),
        ("{{ outputs.a.value == 1 ? true : false }}", True),
    ],
)
def test_render_bool(value: Any, expected: bool) -> None:
    assert render_bool(value, ctx(), now=NOW) is expected


# --- errors and sandbox -------------------------------------------------------------


def test_syntax_errors() -> None:
    assert syntax_errors("plain") == []
    assert syntax_errors("{{ a ?? 'b' }} {{ c ? 1 : 2 }}") == []
    assert syntax_errors("{{ a ? 1 }}") != []
    assert syntax_errors("{{ a ?? }}") != []
    assert syntax_errors("{% if a %}") != []
    assert syntax_errors("{{ x | nosuchfilter }}") == [
        "syntax error: No filter named 'nosuchfilter'."
    ]
    assert syntax_errors("{{ _kv }}") != []
    assert "syntax error" in str(error("{{ (1 }}"))


def test_sandbox_blocks_internals_and_mutation_and_big_values() -> None:
    error("{{ ''.__class__.__mro__ }}")
    error("{{ inputs.items.append(1) }}")
    error("{{ 2 ** 100000 }}")
    error("{{ 'x' * 10000000 }}")
    assert syntax_errors("{{ [1, 2] | random }}") != []  # impure filter removed


def test_filter_failures_become_expression_errors() -> None:
    assert "ZeroDivisionError" in str(error("{{ 1 / 0 }}"))
    assert "not a number" in str(error("{{ 'x' | number }}"))
    assert "base64" in str(error("{{ '%%%' | base64decode }}"))


def test_long_expressions_are_shortened_in_messages() -> None:
    template = "{{ nothing }}" + "x" * 500
    message = str(error(template))
    assert len(message) < 300 and "nothing" in message


# --- properties ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.text())
def test_text_without_markers_renders_to_itself(text: str) -> None:
    if "{{" in text or "{%" in text:
        return
    assert render(text, {}, now=NOW) == text


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="ab ?:|,~.()[]{}%#-+=!<>", max_size=30))
def test_string_literals_survive_translation(text: str) -> None:
    # Whatever Pebble-looking characters a literal holds, it renders back unchanged.
    assert render("{{ '" + text + "' }}", {}, now=NOW) == text
    assert render('[{{ "' + text + '" }}]', {}, now=NOW) == "[" + text + "]"


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.integers() | st.none() | st.text(max_size=5)
    ),
    st.datetimes(timezones=st.just(UTC)),
)
def test_rendering_is_deterministic(values: dict[str, Any], now: datetime) -> None:
    template = {"x": "{{ inputs.a ?? inputs.b ?? 'z' }}-{{ now() | date('yyyy-MM-dd HH:mm') }}"}
    context = {"inputs": values}
    first = render(template, context, now=now)
    assert render(template, dict(context), now=now) == first


# A pattern that backtracks exponentially (in `re` and in `regex`): minutes on this text.
_BACKTRACKING = "(a|aa)+$"
_VICTIM = "a" * 40 + "!"


def test_a_backtracking_regular_expression_stops_at_the_render_seconds() -> None:
    from streams.core.expressions.budget import RenderLimits

    started = time.monotonic()
    with pytest.raises(ExpressionError, match=r"LANNER_LIMITS_RENDER_SECONDS=0\.3"):
        render(
            "{{ victim | replace(pattern, 'x', regexp=true) }}",
            ctx(victim=_VICTIM, pattern=_BACKTRACKING),
            now=NOW,
            limits=RenderLimits(seconds=0.3),
        )
    assert time.monotonic() - started < 15  # the engine checks its timer now and then


def test_an_invalid_regular_expression_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="invalid regular expression"):
        r("{{ 'abc' | replace('(', 'x', regexp=true) }}")
