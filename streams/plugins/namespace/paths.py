"""Namespace file paths and Kestra's path patterns (PathMatcherPredicate).

A path is kept as Kestra shows it: absolute inside the namespace, "/scripts/main.py".
Anything that could leave the namespace (`..`), name nothing, or hide a control
character is refused with the reason, before it reaches storage or the log.

Patterns are Java globs matched against that absolute path: `*` stays inside one folder,
`**` crosses folders, `?` is one character, `{a,b}` alternatives, `[...]` a class. As in
Kestra, a pattern that starts with a word character gets `**/` in front (`main.py` finds
`/main.py` and `/lib/main.py`), `glob:` and `regex:` prefixes choose the syntax. A pattern
is also tried on the path without its leading slash, so `*.py` means the top folder's
Python files (in Java it would match nothing, every path starting with `/`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from posixpath import normpath

MAX_PATH_CHARS = 1024
_WORD_START = re.compile(r"^\w")


class BadPath(ValueError):
    """A path or pattern that cannot name a namespace file; the message says why."""


def normalise(path: str) -> str:
    """ "scripts//main.py" -> "/scripts/main.py"; BadPath for traversal and the like."""
    if not isinstance(path, str) or not path.strip():
        raise BadPath("a namespace file path is required (e.g. /scripts/main.py)")
    if len(path) > MAX_PATH_CHARS:
        raise BadPath(f"the path is {len(path)} characters, more than {MAX_PATH_CHARS}")
    if any(ord(c) < 32 or c == "\x7f" for c in path) or "\\" in path:
        raise BadPath(f"the path {path!r} holds a control character or a backslash")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BadPath(f"the path {path!r} leaves the namespace ('..' is not allowed)")
    if not parts:
        raise BadPath(f"the path {path!r} names the namespace's root, not a file")
    return normpath("/" + "/".join(parts))


def folder(path: str) -> str:
    """A folder path as a prefix: "/" or "/scripts/" (BadPath as normalise)."""
    if path.strip() in ("", "/", "."):
        return "/"
    return normalise(path) + "/"


def _glob_regex(glob: str) -> str:
    """Java's Globs.toUnixRegexPattern, for the syntax namespace files use."""
    out: list[str] = []
    i, in_group = 0, False
    while i < len(glob):
        c = glob[i]
        i += 1
        if c == "*":
            if i < len(glob) and glob[i] == "*":
                out.append(".*")
                i += 1
            else:
                out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "{":
            if in_group:
                raise BadPath(f"pattern {glob!r}: nested '{{' groups are not supported")
            out.append("(?:")
            in_group = True
        elif c == "}" and in_group:
            out.append(")")
            in_group = False
        elif c == "," and in_group:
            out.append("|")
        elif c == "[":
            end = glob.find("]", i)
            if end < 0:
                raise BadPath(f"pattern {glob!r}: '[' without ']'")
            body = glob[i:end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif c == "\\" and i < len(glob):
            out.append(re.escape(glob[i]))
            i += 1
        else:
            out.append(re.escape(c))
    if in_group:
        raise BadPath(f"pattern {glob!r}: '{{' without '}}'")
    return "".join(out)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    if pattern.startswith("regex:"):
        source = pattern[len("regex:") :]
    else:
        glob = pattern[len("glob:") :] if pattern.startswith("glob:") else pattern
        if not pattern.startswith("glob:") and _WORD_START.match(glob):
            glob = "**/" + glob
        source = _glob_regex(glob)
    try:
        return re.compile(source)
    except re.error as exc:
        raise BadPath(f"pattern {pattern!r}: {exc}") from None


def compile_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    """BadPath names the first pattern that is not one."""
    return [_compiled(p) for p in patterns]


def matches(path: str, compiled: list[re.Pattern[str]]) -> bool:
    return any(c.fullmatch(path) or c.fullmatch(path.lstrip("/")) for c in compiled)


@dataclass(frozen=True)
class Selection:
    """`include`/`exclude` as Kestra combines them: no include means every file."""

    include: list[re.Pattern[str]]
    exclude: list[re.Pattern[str]]

    @classmethod
    def of(cls, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> Selection:
        return cls(compile_patterns(include), compile_patterns(exclude))

    def __call__(self, path: str) -> bool:
        if self.include and not matches(path, self.include):
            return False
        return not (self.exclude and matches(path, self.exclude))
