"""Kestra's filters, functions, tests and operators, against what Kestra's own Java tests
assert (core/src/test/java/io/kestra/core/runners/pebble) where they exist."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from streams.core.expressions import ExpressionError, analyse, render

NOW = datetime(2024, 3, 9, 14, 5, 7, 123456, tzinfo=UTC)
# DateFilterTest's NOW: 2013-09-08T16:19:12.123456+01:00
ZONED = datetime(2013, 9, 8, 16, 19, 12, 123456, tzinfo=timezone(timedelta(hours=1)))
KEY = base64.b64encode(bytes(range(32))).decode()


def ctx(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "execution": {"id": "ex1"},
        "taskrun": {"id": "tr1", "value": "b"},
        "flow": {"id": "flow", "namespace": "my.namespace"},
        "parents": [],
        "nested": [
            "one",
            ["two", "three"],
            "four",
        ],
        "vars": {
            "second": {"string": "string", "int": 1, "float": 1.123, "bool": True},
            "list": ["string", 1, 1.123],
        },
    }
    base.update(extra)
    return base


def r(template: Any, **extra: Any) -> Any:
    return render(template, ctx(**extra), now=NOW)


def fails(template: str, **extra: Any) -> str:
    with pytest.raises(ExpressionError) as info:
        r(template, **extra)
    return str(info.value)


# --- operators (Pebble's OperatorUtils) --------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 10 % 3 }}", 1),
        ("{{ -7 % 3 }}", -1),  # Java: the dividend's sign
        ("{{ 7 % -3 }}", 1),
        ("{{ 7.5 % 2 }}", 1.5),
        ("{% if 4 % 2 == 0 %}even{% endif %}", "even"),
        ("{{ 7 / 2 }}", 3),  # two integers: integer division
        ("{{ -7 / 2 }}", -3),  # truncated toward zero
        ("{{ 7 / 2.0 }}", 3.5),
        ("{{ 'a' + 1 }}", "a1"),
        ("{{ 1 + 'a' }}", "1a"),
        ("{{ [1] + 2 }}", [1, 2]),
        ("{{ [1, 2] + [3] }}", [1, 2, 3]),
        ("{{ [1, 2, 1] - 1 }}", [2, 1]),
        ("{{ [1, 2, 3] - [1, 3] }}", [2]),
        ("{{ 2 + 3 * 4 }}", 14),
        ("{{ 5 is odd }}", True),
        ("{{ 4 is not odd }}", True),
        ("{{ 4 is even }}", True),
        ("{{ [1] is iterable }}", True),
        ("{{ 'abc' is iterable }}", False),  # a Java String is not Iterable
        ("{{ {'a': 1} is map }}", True),
        ("{{ missing is defined }}", False),
        ("{{ null is null }}", True),
        ("{{ '{\"a\": 1}' is json }}", True),
        ("{{ '{a' is json }}", False),
        ("{{ [1, 2] contains 2 }}", True),
        ("{{ 2 in [1, 2] }}", True),
        ("{{ 1..3 }}", [1, 2, 3]),
        ("{{ true ? 'y' : 'n' }}", "y"),
        ("{{ 2 equals 2 }}", True),
    ],
)
def test_operators_and_tests(template: str, expected: Any) -> None:
    assert r(template) == expected


def test_division_by_zero_is_an_expression_error() -> None:
    assert "ZeroDivisionError" in fails("{{ 1 / 0 }}")
    assert "ZeroDivisionError" in fails("{{ 1 % 0 }}")


def test_null_coalescing_as_kestra_tests_it() -> None:
    # NullCoalescingExpressionTest / UndefinedCoalescingExpressionTest
    block = {"test": {"child": "awesome"}}
    assert r("{{ inner.bla ?? block.test.child }}", block=block, inner="test") == "awesome"
    assert r("{{ block[missing].child ?? block[inner].child }}", block=block, inner="test") == (
        "awesome"
    )
    assert r("{{ block ?? 'UNDEFINED' }}", block={}) == {}
    assert r("{{ null ?? 'IS NULL' }}") == "IS NULL"
    assert r("{{ undefined ?? 'IS UNDEFINED' }}") == "IS UNDEFINED"
    assert r("x{{ null ??? 'IS NULL' }}") == "x"
    assert r("{{ undefined ??? 'IS UNDEFINED' }}") == "IS UNDEFINED"
    fails("{{ missing ?? missing2 }}")


# --- Pebble's own filters ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 'this is a long sentence.' | abbreviate(7) }}", "this..."),
        ("{{ 'abc' | abbreviate(2) }}", "abc"),
        ("{{ 'abcdef' | abbreviate(3) }}", "abc"),
        ("{{ 'hello wORLD' | title }}", "Hello WORLD"),
        ("{{ 'ABC' | lower }}", "abc"),
        ("{{ 'abc' | upper }}", "ABC"),
        ("{{ '  a ' | trim }}", "a"),
        ("{{ null | upper }}", None),
        ("{{ [1, 2] | merge([3]) }}", [1, 2, 3]),
        ("{{ {'a': 1} | merge({'b': 2, 'a': 3}) }}", {"a": 3, "b": 2}),
        ("{{ [1, 2, 3, 4] | slice(1, 3) }}", [2, 3]),
        ("{{ 'abcdef' | slice(2) }}", "cdef"),
        ("{{ ['b', 'B', 'a'] | sort }}", ["B", "a", "b"]),  # case-sensitive, like Java
        ("{{ [1, 3, 2] | rsort }}", [3, 2, 1]),
        ("{{ [1, 2, 3] | reverse }}", [3, 2, 1]),
        ("{{ 'abc' | reverse }}", "cba"),
        ("{{ 'a,b,,' | split(',') }}", ["a", "b"]),  # Java drops trailing empty pieces
        ("{{ 'a1b22c' | split('\\\\d+') }}", ["a", "b", "c"]),  # a regular expression
        ("{{ 'a,b,c' | split(',', 2) }}", ["a", "b,c"]),
        ("{{ '' | split(',') }}", [""]),
        ("{{ 'a b&c' | urlencode }}", "a+b%26c"),
        ("{{ 'é/~' | urlencode }}", "%C3%A9%2F%7E"),
        ("{{ 1234567.891 | numberFormat('#,##0.00') }}", "1,234,567.89"),
        ("{{ 0.5 | numberFormat('#%') }}", "50%"),
        ("{{ 2.5 | numberFormat('0') }}", "2"),  # half-even
        ("{{ 3.14159 | numberFormat('0.###') }}", "3.142"),
        ("{{ -1234 | numberFormat('$#,##0') }}", "-$1,234"),
        ("{{ 'a\nb' | nl2br }}", "a<br />b"),
        ("{{ 'hi' | sha256 }}", hashlib.sha256(b"hi").hexdigest()),
        ("{{ 'hi' | base64encode | base64decode }}", "hi"),
        ("{{ max(1, 5, 3) }}", 5),
        ("{{ min(4, 2, 8) }}", 2),
        ("{{ max([1, 9]) }}", 9),
        ("{{ range(1, 3) }}", [1, 2, 3]),
    ],
)
def test_pebble_filters_and_functions(template: str, expected: Any) -> None:
    assert r(template) == expected


# --- Kestra's filters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # ChunkFilterTest
        ("{{ [1, 2, 3, 4, 5, 6, 7, 8, 9] | chunk(2) }}", [[1, 2], [3, 4], [5, 6], [7, 8], [9]]),
        # FlattenFilterTest
        ("{{ nested | flatten | first }}", "one"),
        ("{{ nested | flatten }}", ["one", "two", "three", "four"]),
        # KeysFilterTest / ValuesFilterTest
        ("{{ vars.list | keys }}", [0, 1, 2]),
        ("{{ vars.second | keys | length }}", 4),
        ("{{ vars.second | values }}", ["string", 1, 1.123, True]),
        # EscapeCharFilterTest
        ("{{ \"L'eau c'est la vie\" | escapeChar('single') }}", "L\\'eau c\\'est la vie"),
        ("{{ '\"Hello\"' | escapeChar('double') }}", '\\"Hello\\"'),
        ("{{ \"L'eau c'est la vie\" | escapeChar('shell') }}", "L'\\''eau c'\\''est la vie"),
        ("{{ '' | escapeChar('shell') }}", ""),
        ("{{ ['a\"'] | escapeChar('double') }}", ['a\\"']),
        # IndentFilterTest / NindentFilterTest
        ("x{{ null | indent(2) }}", "x"),
        ("{{ '' | indent(2) }}", ""),
        ('{{ "\n\n" | indent(2) }}', "\n  \n  "),
        ("{{ 'string' | indent(2) }}", "string"),
        ("x{{ 1 | indent(2) }}", "x1"),
        # A CR typed inside the template is a line break to Jinja's reader: CRLF texts
        # come from variables (see test_indent_keeps_the_texts_line_separator).
        ('{{ "first line\nsecond line" | indent(2, "\t") }}', "first line\n\t\tsecond line"),
        ('{{ "\n\n" | nindent(2) }}', "\n  \n  \n  "),
        ("{{ 'string' | nindent(2) }}", "\n  string"),
        ('{{ "first line\nsecond line" | nindent(2, "\t") }}', "\n\t\tfirst line\n\t\tsecond line"),
        # ReplaceFilterTest
        ("{{ 'john doe is john doe' | replace({'john': 'jane'}) }}", "jane doe is jane doe"),
        ("{{ 'aa1bb2' | replace({'(\\\\d)': '-$1-'}, regexp=true) }}", "aa-1-bb-2-"),
        ("{{ {'a': ['x1', 2]} | replace({'x': 'y'}) }}", {"a": ["y1", "2"]}),
        # SlugifyFilterTest
        ('{{ "Test\t\t\ntest*" | slugify }}', "test-test"),
        # StartsWithFilterTest / EndsWithFilterTest / SubstringFilterTest
        ('{{ "Hello World" | startsWith("Hello") }}', True),
        ('{{ "Hello World" | endsWith("World") }}', True),
        ("{{ 'a.b.c' | substringAfter(separator='.') }}", "b.c"),
        ("{{ 'a.b.c' | substringBeforeLast(separator='.') }}", "a.b"),
        # UrlDecodeFilter
        ("{{ 'Kestra rulez !' | urlencode | urldecode }}", "Kestra rulez !"),
        ("{{ 'a%20b+c%C3%A9' | urldecode }}", "a b cé"),
        # ToJsonFilterTest
        ("{{ vars.second.string | toJson }}", '"string"'),
        ("{{ vars.list | toJson }}", '["string",1,1.123]'),
        ('{{ {"empty_object":{}} | toJson }}', '{"empty_object":{}}'),
        ("{{ null | toJson }}", "null"),
        ("{{ vars.second.string | json }}", '"string"'),
        # ToIonFilterTest
        ("{{ vars.second.string | toIon }}", '"string"'),
        ("{{ vars.second.int | toIon }}", "1"),
        ("{{ vars.second.float | toIon }}", "1.123e0"),  # a double (Kestra's test: a float)
        ("{{ vars.second.bool | toIon }}", "true"),
        ('{{ {"empty_object":{}} | toIon }}', "{empty_object:{}}"),
        ("{{ null | toIon }}", "null"),
        ("{{ {'a b': [1, 'x']} | toIon }}", "{'a b':[1,\"x\"]}"),
        # YamlFilterTest
        ("{{ vars.second.string | yaml }}", "string\n"),
        ("{{ vars.second.int | yaml }}", "1\n"),
        ("{{ vars.second.float | yaml }}", "1.123\n"),
        ("{{ vars.list | yaml }}", " - string\n - 1\n - 1.123\n"),
        ("{{ vars.second.bool | yaml }}", "true\n"),
        ("{{ {'int': 1, 'map': {'a': 'b'}} | yaml }}", "int: 1\nmap:\n  a: b\n"),
        # Md5/Sha1/Sha512FilterTest (and the digests themselves)
        ('{{ "hello" | md5 }}', hashlib.md5(b"hello").hexdigest()),
        ('{{ "hello" | sha1 }}', hashlib.sha1(b"hello").hexdigest()),
        ('{{ "hello" | sha512 }}', hashlib.sha512(b"hello").hexdigest()),
        # ClassName (the Java class Kestra would hold)
        ("{{ 'a' | className }}", "java.lang.String"),
        ("{{ 1 | className }}", "java.lang.Integer"),
        ("{{ 9223372036854775807 | className }}", "java.lang.Long"),
        ("{{ true | className }}", "java.lang.Boolean"),
        ("x{{ null | className }}", "x"),
        # NumberFilterTest
        ('{{ "12.3" | number | className }}', "java.lang.Double"),
        ('{{ "2147483647" | number | className }}', "java.lang.Integer"),
        ('{{ "9223372036854775807" | number | className }}', "java.lang.Long"),
    ],
)
def test_kestra_filters(template: str, expected: Any) -> None:
    assert r(template) == expected


def test_indent_keeps_the_texts_line_separator() -> None:
    # IndentFilterTest / NindentFilterTest with CRLF and CR
    assert r("{{ t | indent(2) }}", t="first line\r\nsecond line") == "first line\r\n  second line"
    assert r("{{ t | indent(2) }}", t="first line\rsecond line") == "first line\r  second line"
    assert r("{{ t | nindent(2) }}", t="a\r\nb") == "\r\n  a\r\n  b"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # JqFilterTest
        ('{{ [1, 2, 3] | jq(".[0]") | first }}', 1),
        ('{{ my_vars | jq(".test[0]") }}', [1]),
        ('{{ vars | jq(".second.string") }}', ["string"]),
        ('{{ vars | jq(".second.float") | first }}', 1.123),
        ('{{ vars | jq(".second.bool") | first }}', True),
        ('{{ vars | jq(".list[]") }}', ["string", 1, 1.123]),
        ('{% set object = vars | jq(".second") %}{{ object[0].string }}', "string"),
        ("{{ '{\"a\": {\"b\": 2}}' | jq('.a.b') | first }}", 2),  # text is read as JSON
        ("{{ vars | jq('.second | keys') | first }}", ["bool", "float", "int", "string"]),
        ("{{ vars | jq('.nothing') }}", [None]),
        ('{{ vars | jq(".second.int") | first | className }}', "java.lang.Integer"),
        ("x{{ null | jq('.') }}", "x"),
    ],
)
def test_jq(template: str, expected: Any) -> None:
    assert r(template, my_vars={"test": [1, 2, 3]}) == expected


def test_jq_failures_are_expression_errors() -> None:
    assert "jq" in fails("{{ [1] | jq('.[') }}")
    assert "JQ" in fails("{{ 'a' | jq('.a') }}")
    assert "JQ" in fails("{{ [1] | jq('.a') }}")


def test_kestra_filter_failures() -> None:
    fails("{{ 1 | chunk(2) }}")  # ChunkFilterTest.exception
    fails("{{ 'Hello' | escapeChar('foo') }}")  # EscapeCharFilterTest.invalidTypes
    fails("{{ 'Hello' | escapeChar('') }}")
    fails("{{ 1 | flatten }}")
    fails("{{ 1 | values }}")
    fails("{{ 'abc' | indent(-1) }}")
    fails("{{ [1, 2] | slice(1, 5) }}")


# --- dates (DateFilterTest) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "{{ zoned | date(format='iso', timeZone='Europe/Paris') }}",
            "2013-09-08T17:19:12.123456+02:00",
        ),
        (
            '{{ zoned | date(format="iso_sec", timeZone="Europe/Paris") }}',
            "2013-09-08T17:19:12+02:00",
        ),
        (
            '{{ local | date(format="yyyy-MM-dd HH:mm:ss.SSSSSSXXX", timeZone="Europe/Paris") }}',
            "2013-09-08 16:19:12.123456+02:00",
        ),
        (
            '{{ local | date(format="yyyy-MM-dd HH:mm:ss.SSSSSSXXX", timeZone="UTC") }}',
            "2013-09-08 16:19:12.123456Z",
        ),
        (
            '{{ "July 24, 2001" | date("yyyy-MM-dd", existingFormat="MMMM dd, yyyy") }}',
            "2001-07-24",
        ),
        (
            '{{ "2013-09-08T17:19:12+02:00" | date(timeZone="Europe/Paris") }}',
            "2013-09-08T17:19:12.000000+02:00",
        ),
        (
            '{{ "2013-09-08T17:19:12" | date(timeZone="Europe/Paris") }}',
            "2013-09-08T17:19:12.000000+02:00",
        ),
        (
            '{{ "2013-09-08" | date(timeZone="Europe/Paris") }}',
            "2013-09-08T00:00:00.000000+02:00",
        ),
        (
            "{{ 'Tue, 08 Feb 2022 19:38:26 GMT' | date(existingFormat='rfc_1123_date_time', "
            'timeZone="Europe/Paris") }}',
            "2022-02-08T20:38:26.000000+01:00",
        ),
        ('{{ zoned | timestamp(timeZone="Europe/Paris") }}', 1378653552),
        ("{{ (zoned | timestamp) > (zoned | dateAdd(-1, 'DAYS') | timestamp) }}", True),
        ('{{ zoned | timestampNano(timeZone="Europe/Paris") }}', 1378653552123456000),
        (
            '{{ zoned | dateAdd(-1,"DAYS",timeZone="Europe/Paris") '
            '| date(timeZone="Europe/Paris") }}',
            "2013-09-07T17:19:12.123456+02:00",
        ),
        (
            '{{ zoned | dateAdd(-1, "DAYS", format="yyyy-MM-dd HH:mm", timeZone="Europe/Paris") }}',
            "2013-09-07 17:19",
        ),
        ("{{ zoned | date('HH:mm') }}", "15:19"),  # without a zone: UTC, Kestra's server zone
        ("{{ 0 | date('yyyy-MM-dd') }}", "1970-01-01"),  # a number is epoch seconds
        ("{{ now(format='iso_local_date') }}", "2024-03-09"),
        ('{{ now(timeZone="Europe/Lisbon") }}', "2024-03-09T14:05:07.123456Z"),
        ("{{ now(format='HH:mm', timeZone='Europe/Paris') }}", "15:05"),
    ],
)
def test_dates_as_kestra_tests_them(template: str, expected: Any) -> None:
    assert r(template, zoned=ZONED, local=ZONED.replace(tzinfo=None)) == expected


def test_timestamp_micro_counts_microseconds() -> None:
    # Kestra 0.21 adds the micros to the *nanoseconds* of the seconds (its test pins
    # 1378653552000123456); Lanner gives the microseconds since the epoch.
    assert r("{{ zoned | timestampMicro }}", zoned=ZONED) == 1378653552123456


# --- Kestra's functions ------------------------------------------------------------------


def test_from_json_and_json() -> None:
    # FromJsonFunctionTest
    assert r('{{ fromJson(\'{"test1": 1, "test2": 2, "test3": 3}\').test1 }}') == 1
    assert r('{{ fromJson(\'{"test1": [{"test1": 666}, 2, 3]}\').test1[0].test1 }}') == 666
    assert r("{{ fromJson('[1, 2, 3]')[0] }}") == 1
    assert r("{{ fromJson('{\"empty_object\":{}}') }}") == {"empty_object": {}}
    assert r("x{{ fromJson(null) }}") == "x"
    assert r("{{ json('{\"test1\": 1}').test1 }}") == 1
    fails("{{ fromJson() }}")
    fails("{{ fromJson('{not: json}') }}")


def test_yaml_function() -> None:
    # YamlFunctionTest
    text = (
        "# comment\nstring: string\nint: 123\nbool: true\nfloat: 1.23\n"
        'instant: "1918-02-24T00:00:00Z"\ndate: "1991-08-20"\n'
        "object:\n  key: value\n  child:\n    key: value\narray:\n  - string\n"
        "reference: &ref\n    key: reference\ndefault: *ref\n"
    )
    assert r("{{ yaml(y).string }}", y=text) == "string"
    assert r("{{ yaml(y).int }}", y=text) == 123
    assert r("{{ yaml(y).bool }}", y=text) is True
    assert r("{{ yaml(y).float }}", y=text) == 1.23
    assert r("{{ yaml(y).instant }}", y=text) == "1918-02-24T00:00:00Z"
    assert r("{{ yaml(y).object.child.key }}", y=text) == "value"
    assert r("{{ yaml(y).array[0] }}", y=text) == "string"
    assert r("{{ yaml(y).default.key }}", y=text) == "reference"  # anchors work here
    fails("{{ yaml(1) }}")
    fails("{{ yaml('a: [') }}")


def test_from_ion() -> None:
    # FromIonFunctionTest
    ion = '{date:2024-04-21T23:00:00.000Z, title:"Main_Page",views:109787}'
    assert r("{{ fromIon(i).title }}", i=ion) == "Main_Page"
    assert r("{{ fromIon(i) }}", i=ion) == {
        "date": "2024-04-21T23:00:00.000Z",
        "title": "Main_Page",
        "views": 109787,
    }
    assert r("x{{ fromIon(null) }}") == "x"
    assert r("{{ fromIon(i) }}", i="[1, 2.5e0, 1.5, null, true, 'sym', a::\"x\", {'k y': []}]") == [
        1,
        2.5,
        1.5,
        None,
        True,
        "sym",
        "x",
        {"k y": []},
    ]
    assert r("{{ fromIon(v | toIon) }}", v={"a": [1, "b", None, 2.5]}) == {"a": [1, "b", None, 2.5]}
    fails("{{ fromIon() }}")
    fails("{{ fromIon('{not: ion') }}")


def test_print_context() -> None:
    # FetchContextFunctionTest
    printed = render("{{ printContext() }}", {"test": "value", "array": ["a", "b"]}, now=NOW)
    assert printed == {"test": "value", "array": ["a", "b"]}
    assert render("{{ fetchContext().test }}", {"test": 1, "_secrets": {"A": "b"}}, now=NOW) == 1
    assert "_secrets" not in render("{{ printContext() }}", {"_secrets": {}}, now=NOW)


def test_file_uri() -> None:
    # FileURIFunctionTest
    assert r("{{ fileURI(fileA) }}", fileA="test") == "kestra:///my/namespace/_files/test"
    assert r("{{ fileURI('/dir/f.txt') }}") == "kestra:///my/namespace/_files/dir/f.txt"
    assert "Path must not contain '../'" in fails("{{ fileURI(fileA) }}", fileA="../test")


def test_file_size_is_deferred_to_the_worker_and_computed_there() -> None:
    uri = "kestra:///my/namespace/flow/executions/ex1/tasks/t/1/f.ion"
    # FileSizeFunctionTest: 24 bytes
    assert r("{{ fileSize(f) }}", f=uri, _files={uri: b"Hello from a task output"}) == 24
    assert r("{{ fileSize(f) }}", f=uri, _files={uri: "é"}) == 2
    analysis = analyse("{{ fileSize(outputs.t.uri) }}")
    assert analysis.lookups == {"fileSize"} and analysis.acted_on
    fails("{{ fileSize('relative.txt') }}")


def test_render_and_render_once() -> None:
    # RenderFunctionTest / RenderOncerFunctionTest / JqFilterTest.simple
    assert r("{{ render(input) }}", input="test") == "test"
    assert r("{{ render(input) }}", input=42) == 42
    assert r("{{ render(input) }}", input=True) is True
    assert r("x{{ render(input) }}", input=None) == "x"
    assert r("{{ renderOnce(input) }}", input="{{someOtherVar}}", someOtherVar="test") == "test"
    two = {"input": "{{someOtherVar}}", "someOtherVar": "{{yetAnotherVar}}", "yetAnotherVar": "t"}
    assert r("{{ renderOnce(input) }}", **two) == "{{yetAnotherVar}}"
    assert r("{{ render(input) }}", **two) == "t"
    assert r("{{ render(input, recursive=false) }}", **two) == "{{yetAnotherVar}}"
    layered = {
        "first": {"second": {"third": "{{third}}"}},
        "end": "awesome",
        "third": "{{end}}",
    }
    assert r('{{ render(first) | jq(".second.third") }}', **layered) == ["awesome"]
    assert "Too many rendering attempts" in fails("{{ render(a) }}", a="{{ a ~ 'x' }}")


def test_current_each_output() -> None:
    outputs = {"a": {"x": {"value": 1}, "y": {"value": 2}}, "b": {"y": {"value": 3}}}
    parents = [{"taskrun": {"value": "a"}}]
    assert (
        r("{{ currentEachOutput(o).value }}", o=outputs, parents=parents, taskrun={"value": "y"})
        == 2
    )
    assert r("{{ currentEachOutput(o).value }}", o=outputs["b"], taskrun={"value": "y"}) == 3
    fails("{{ currentEachOutput('x') }}")


def test_random_values_are_drawn_from_the_render_inputs() -> None:
    first = r("{{ uuid() }}")
    assert len(first) == 36 and first[14] == "4" and first == r("{{ uuid() }}")
    two = r("{{ [uuid(), uuid()] }}")
    assert two[0] != two[1]
    assert r("{{ uuid() }}", taskrun={"id": "other"}) != first
    assert render("{{ uuid() }}", ctx(), now=NOW + timedelta(seconds=1)) != first
    assert r("{{ id() }}") and r("{{ id() }}") == r("{{ id() }}")
    # RandomIntFunctionTest
    values = r("{{ range(1, 50) | map('string') | map('length') | list }}")
    assert values
    draws = r(
        "{% for i in range(1, 30) %}{{ randomInt(lower, upper) }},{% endfor %}", lower=-10, upper=-1
    )
    numbers = [int(n) for n in draws.strip(",").split(",")]
    assert all(-10 <= n < -1 for n in numbers) and len(set(numbers)) > 1
    assert r("{{ randomInt(3, 3) }}") == 3
    fails("{{ randomInt(lower) }}", lower=10)
    fails("{{ randomInt() }}")
    fails("{{ randomInt(lower, upper) }}", lower="1", upper="10")
    fails("{{ randomInt(lower, upper) }}", lower=10, upper=1)
    assert analyse("{{ uuid() ~ secret('X') | upper }}").names >= {"execution", "taskrun"}


def test_encrypt_decrypt() -> None:
    # EncryptDecryptFunctionTest
    encrypted = r("{{ encrypt(key, 'toto') }}", key=KEY)
    assert encrypted != "toto"
    assert r("{{ decrypt(key, e) }}", key=KEY, e=encrypted) == "toto"
    assert r("{{ decrypt(key, encrypt(key, 'é')) }}", key=KEY) == "é"
    assert r("{{ encrypt(key, '') }}", key=KEY) == ""
    fails("{{ encrypt('toto') }}")
    fails("{{ decrypt('toto') }}")
    other = base64.b64encode(bytes(32)).decode()
    assert "wrong key" in fails("{{ decrypt(k, e) }}", k=other, e=encrypted)


def test_decrypt_reads_what_kestra_encrypted() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = bytes(range(12))
    sealed = AESGCM(bytes(range(32))).encrypt(nonce, b"from kestra", None)
    kestra = base64.b64encode(nonce + sealed).decode()
    assert r("{{ decrypt(key, e) }}", key=KEY, e=kestra) == "from kestra"
