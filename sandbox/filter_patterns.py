"""CloudWatch Logs filter patterns, as "Filter pattern syntax for metric filters, subscription
filters, filter log events, and Live Tail" describes them, for FilterLogEvents (moto 5.2.5
matched only a single term or one quoted phrase, and every other pattern matched every event).

Three kinds of pattern:

- **Terms** (unstructured events): ``ERROR`` and ``"quoted phrase"`` must all appear
  (case-sensitive substrings); ``-term`` must not; ``?a ?b`` matches when any of them appears.
- **JSON** ``{ ... }``: conditions on ``$.selector`` (``.field``, ``[index]``) with ``=``, ``!=``
  (strings, ``*`` a wildcard; numbers), ``<``, ``<=``, ``>``, ``>=`` (numbers), ``IS NULL``,
  ``IS TRUE``, ``IS FALSE``, ``EXISTS``, ``NOT EXISTS``, joined by ``&&`` and ``||`` (``&&`` binds
  tighter) with parentheses. An event that is not a JSON object matches no JSON pattern.
- **Space-delimited** ``[a, b, ...]``: the event's fields split on spaces (a ``"quoted"`` or
  ``[bracketed]`` field is one field); each pattern field is a name, a literal, or conditions
  ``name op value`` joined by ``&&`` / ``||``; ``...`` stands for any number of fields.

The empty pattern matches everything. Anything else, including what the sandbox does not
emulate (regular expressions between ``%``, ``?`` terms mixed with others, selectors with
``*``), raises ``InvalidPattern``, which FilterLogEvents answers as ``InvalidParameterException``:
a pattern is never silently taken to mean "everything".
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

Matcher = Callable[[str], bool]
NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
OPERATORS = ("!=", "<=", ">=", "=", "<", ">")
_MISSING = object()


class InvalidPattern(ValueError):
    pass


@lru_cache(maxsize=256)
def compile_pattern(text: str | None) -> Matcher:
    """A function telling whether a log event's message matches the pattern."""
    pattern = (text or "").strip()
    if not pattern:
        return lambda message: True
    if pattern.startswith("{"):
        return _json_pattern(pattern)
    if pattern.startswith("["):
        return _delimited_pattern(pattern)
    return _terms_pattern(pattern)


# --- terms ------------------------------------------------------------------------------------

TERM_TOKEN = re.compile(r'\s*([?-]?)("(?:[^"\\]|\\.)*"|[^\s"]+)')
BARE_TERM = re.compile(r"^[^\s\"{}\[\]()]+$")


def _terms_pattern(pattern: str) -> Matcher:
    required: list[str] = []
    excluded: list[str] = []
    optional: list[str] = []
    position = 0
    while position < len(pattern):
        match = TERM_TOKEN.match(pattern, position)
        if match is None or not match.group(2):
            if pattern[position:].strip():
                raise InvalidPattern(f"Invalid character(s) in term at {pattern[position:]!r}")
            break
        position = match.end()
        prefix, term = match.groups()
        if term.startswith('"'):
            if len(term) < 2 or not term.endswith('"'):
                raise InvalidPattern(f"Unterminated quoted term {term!r}")
            text = re.sub(r"\\(.)", r"\1", term[1:-1])
        else:
            if term.startswith("%") and term.endswith("%") and len(term) > 1:
                raise InvalidPattern("The sandbox does not emulate regular expressions (%...%)")
            if not BARE_TERM.match(term):
                raise InvalidPattern(f"Invalid character(s) in term {term!r}")
            text = term
        {"": required, "-": excluded, "?": optional}[prefix].append(text)
    if optional and (required or excluded):
        raise InvalidPattern("The sandbox does not emulate ?term mixed with other terms")

    def matches(message: str) -> bool:
        if optional:
            return any(term in message for term in optional)
        return all(term in message for term in required) and not any(
            term in message for term in excluded
        )

    return matches


# --- JSON -------------------------------------------------------------------------------------

JSON_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
      | (?P<selector>\$(?:\.[A-Za-z0-9_@-]+|\[\d+\])*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<word>[^\s()&|"=!<>{}]+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Condition:
    path: tuple  # field names (str) and indexes (int)
    operator: str  # one of OPERATORS, or IS NULL / IS TRUE / IS FALSE / EXISTS / NOT EXISTS
    value: Any = None  # a float for numbers, a compiled regex for strings

    def holds(self, document: Any) -> bool:
        found = resolve(document, self.path)
        if self.operator == "NOT EXISTS":
            return found is _MISSING
        if found is _MISSING:
            return False
        if self.operator == "EXISTS":
            return True
        if self.operator == "IS NULL":
            return found is None
        if self.operator == "IS TRUE":
            return found is True
        if self.operator == "IS FALSE":
            return found is False
        if isinstance(self.value, float):
            if isinstance(found, bool) or not isinstance(found, int | float):
                return False
            return _compare(float(found), self.operator, self.value)
        if not isinstance(found, str):
            return False
        equal = self.value.fullmatch(found) is not None
        return equal if self.operator == "=" else not equal


def resolve(document: Any, path: tuple) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(document, list) or step >= len(document):
                return _MISSING
        elif not isinstance(document, dict) or step not in document:
            return _MISSING
        document = document[step]
    return document


def _compare(left: float, operator: str, right: float) -> bool:
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[operator]


def _wildcard(text: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")), re.DOTALL)


def _json_pattern(pattern: str) -> Matcher:
    if not pattern.endswith("}"):
        raise InvalidPattern("A JSON filter pattern ends with '}'")
    tokens = _json_tokens(pattern[1:-1])
    if not tokens:
        raise InvalidPattern("A JSON filter pattern needs at least one condition")
    parser = _JsonParser(tokens)
    expression = parser.parse()

    def matches(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, dict) and expression(document)

    return matches


def _json_tokens(body: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    while body[position:].strip():
        match = JSON_TOKEN.match(body, position)
        if match is None:
            raise InvalidPattern(f"Invalid JSON filter pattern at {body[position:].strip()!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _JsonParser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def parse(self) -> Callable[[Any], bool]:
        expression = self._or()
        if self.position != len(self.tokens):
            raise InvalidPattern(f"Unexpected {self.tokens[self.position][1]!r}")
        return expression

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise InvalidPattern("The JSON filter pattern ends too early")
        self.position += 1
        return token

    def _or(self) -> Callable[[Any], bool]:
        parts = [self._and()]
        while self._peek() == ("op", "||"):
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda d: any(part(d) for part in parts))

    def _and(self) -> Callable[[Any], bool]:
        parts = [self._unary()]
        while self._peek() == ("op", "&&"):
            self._take()
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else (lambda d: all(part(d) for part in parts))

    def _unary(self) -> Callable[[Any], bool]:
        if self._peek() == ("op", "("):
            self._take()
            inner = self._or()
            if self._take() != ("op", ")"):
                raise InvalidPattern("Missing ')' in the JSON filter pattern")
            return inner
        return self._condition().holds

    def _condition(self) -> Condition:
        kind, text = self._take()
        if kind != "selector" or text == "$":
            raise InvalidPattern(f"Expected a selector such as $.field, not {text!r}")
        path = tuple(
            int(index) if index else name
            for name, index in re.findall(r"\.([A-Za-z0-9_@-]+)|\[(\d+)\]", text)
        )
        kind, text = self._take()
        if kind == "word" and text in ("IS", "NOT", "EXISTS"):
            return Condition(path, self._postfix(text))
        if kind != "op" or text not in OPERATORS:
            raise InvalidPattern(f"Expected a comparison after the selector, not {text!r}")
        operator = text
        kind, literal = self._take()
        if kind == "string":
            value: Any = _wildcard(re.sub(r"\\(.)", r"\1", literal[1:-1]))
        elif kind == "word" and literal.startswith("%"):
            raise InvalidPattern("The sandbox does not emulate regular expressions (%...%)")
        elif kind == "word" and NUMBER.match(literal):
            value = float(literal)
        elif kind == "word":
            value = _wildcard(literal)
        else:
            raise InvalidPattern(f"Expected a value after {operator}, not {literal!r}")
        if not isinstance(value, float) and operator not in ("=", "!="):
            raise InvalidPattern(f"{operator} compares numbers, not {literal!r}")
        return Condition(path, operator, value)

    def _postfix(self, first: str) -> str:
        if first == "EXISTS":
            return "EXISTS"
        kind, second = self._take()
        if first == "NOT" and second == "EXISTS":
            return "NOT EXISTS"
        if first == "IS" and second in ("NULL", "TRUE", "FALSE"):
            return f"IS {second}"
        raise InvalidPattern(f"Unknown condition {first} {second}")


# --- space-delimited --------------------------------------------------------------------------

ELLIPSIS = "..."


@dataclass(frozen=True)
class _Field:
    """One pattern field: None accepts any event field, else (conditions ORed) of (ANDed)."""

    alternatives: tuple[tuple[tuple[str, Any], ...], ...] | None

    def accepts(self, text: str) -> bool:
        if self.alternatives is None:
            return True
        return any(
            all(_field_holds(text, operator, value) for operator, value in conjunction)
            for conjunction in self.alternatives
        )


def _field_holds(text: str, operator: str, value: Any) -> bool:
    if isinstance(value, float):
        if not NUMBER.match(text):
            return False
        return _compare(float(text), operator, value)
    equal = value.fullmatch(text) is not None
    return equal if operator == "=" else not equal


def split_fields(message: str) -> list[str]:
    """An event's fields: split on spaces, a "quoted" or [bracketed] field kept whole."""
    return [
        quoted if quoted is not None else bracketed if bracketed is not None else bare
        for quoted, bracketed, bare in (
            (m.group(1), m.group(2), m.group(3))
            for m in re.finditer(r'"([^"]*)"|\[([^\]]*)\]|(\S+)', message)
        )
    ]


def _delimited_pattern(pattern: str) -> Matcher:
    if not pattern.endswith("]"):
        raise InvalidPattern("A space-delimited filter pattern ends with ']'")
    body = pattern[1:-1]
    if not body.strip():
        raise InvalidPattern("A space-delimited filter pattern needs at least one field")
    fields: list[_Field | str] = []
    for raw in _split_outside_quotes(body, ","):
        field = raw.strip()
        if field == ELLIPSIS:
            fields.append(ELLIPSIS)
        else:
            fields.append(_delimited_field(field))

    def matches(message: str) -> bool:
        return _match_fields(tuple(fields), tuple(split_fields(message)))

    return matches


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts = []
    current = ""
    quoted = False
    for index, char in enumerate(text):
        if char == '"' and (index == 0 or text[index - 1] != "\\"):
            quoted = not quoted
        if char == separator and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    if quoted:
        raise InvalidPattern("Unterminated quoted value in a space-delimited filter pattern")
    parts.append(current)
    return parts


FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FIELD_CONDITION = re.compile(
    r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(!=|<=|>=|=|<|>)\s*(".*"|[^\s"]+)\s*$'
)


def _delimited_field(text: str) -> _Field:
    if not text:
        raise InvalidPattern("An empty field in a space-delimited filter pattern")
    if FIELD_NAME.match(text):
        return _Field(None)
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        return _Field(((("=", _wildcard(text[1:-1])),),))
    alternatives = []
    for option in _split_logical(text, "||"):
        conjunction = []
        for part in _split_logical(option, "&&"):
            match = FIELD_CONDITION.match(part)
            if match is None:
                raise InvalidPattern(f"Invalid field {text!r} in a space-delimited filter pattern")
            _, operator, literal = match.groups()
            if literal.startswith("%"):
                raise InvalidPattern("The sandbox does not emulate regular expressions (%...%)")
            if literal.startswith('"'):
                value: Any = _wildcard(literal[1:-1])
            elif NUMBER.match(literal):
                value = float(literal)
            else:
                value = _wildcard(literal)
            if not isinstance(value, float) and operator not in ("=", "!="):
                raise InvalidPattern(f"{operator} compares numbers, not {literal!r}")
            conjunction.append((operator, value))
        alternatives.append(tuple(conjunction))
    return _Field(tuple(alternatives))


def _split_logical(text: str, operator: str) -> list[str]:
    parts = text.split(operator)
    if any(not part.strip() for part in parts):
        raise InvalidPattern(f"{operator} needs a condition on each side")
    return parts


def _match_fields(pattern: tuple, fields: tuple) -> bool:
    if not pattern:
        return not fields
    head, rest = pattern[0], pattern[1:]
    if head == ELLIPSIS:
        return any(_match_fields(rest, fields[skip:]) for skip in range(len(fields) + 1))
    return bool(fields) and head.accepts(fields[0]) and _match_fields(rest, fields[1:])
