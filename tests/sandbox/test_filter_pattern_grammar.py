"""The sandbox's CloudWatch Logs filter patterns against a small reference implementation of
the grammar, written from "Filter pattern syntax for metric filters, subscription filters,
filter log events, and Live Tail"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html) and its
pages "Using filter patterns to match terms in unstructured log events", "... in JSON log
events" and "... in space-delimited log events".

Hypothesis builds a pattern as a tree, renders it as text for the sandbox's parser, and
evaluates the tree directly with the reference rules below; both must agree on every event.
Examples are drawn from a fixed seed (``derandomize``), so CI draws what a local run draws.
"""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.filter_patterns import InvalidPattern, compile_pattern

MISSING = object()


def wildcard_matches(pattern: str, text: str) -> bool:
    """``*`` stands for any run of characters; everything else is literal."""
    if not pattern:
        return not text
    if pattern[0] == "*":
        return any(wildcard_matches(pattern[1:], text[skip:]) for skip in range(len(text) + 1))
    return bool(text) and text[0] == pattern[0] and wildcard_matches(pattern[1:], text[1:])


# --- terms: every plain term appears, no -term appears; or any ?term appears ------------------

WORDS = st.text(alphabet="ab", min_size=1, max_size=3)
MESSAGES = st.text(alphabet="ab ", max_size=12)


@st.composite
def term_patterns(draw):
    if draw(st.booleans()):
        terms = draw(st.lists(st.tuples(st.sampled_from(["", "?"]), WORDS), min_size=1))
        terms = [("?", word) for _, word in terms]
    else:
        terms = draw(st.lists(st.tuples(st.sampled_from(["", "-"]), WORDS), min_size=1))
    quoted = draw(st.lists(st.booleans(), min_size=len(terms), max_size=len(terms)))
    text = " ".join(
        f'{prefix}"{word}"' if quote else f"{prefix}{word}"
        for (prefix, word), quote in zip(terms, quoted, strict=True)
    )
    return text, terms


def reference_terms(terms, message: str) -> bool:
    optional = [word for prefix, word in terms if prefix == "?"]
    if optional:
        return any(word in message for word in optional)
    required = [word for prefix, word in terms if prefix == ""]
    excluded = [word for prefix, word in terms if prefix == "-"]
    return all(word in message for word in required) and all(
        word not in message for word in excluded
    )


@settings(max_examples=300, deadline=None, derandomize=True)
@given(term_patterns(), MESSAGES)
def test_term_patterns_agree_with_the_reference(pattern, message):
    text, terms = pattern

    assert compile_pattern(text)(message) == reference_terms(terms, message)


# --- JSON -------------------------------------------------------------------------------------

KEYS = ["a", "b"]
SCALARS = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5]),
    st.text(alphabet="xy", max_size=2),
    st.none(),
    st.booleans(),
)
VALUES = st.one_of(
    SCALARS,
    st.dictionaries(st.sampled_from(KEYS), SCALARS, max_size=2),
    st.lists(SCALARS, max_size=2),
)
DOCUMENTS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=2)
PATHS = st.lists(st.one_of(st.sampled_from(KEYS), st.integers(0, 1)), min_size=1, max_size=2)


def render_path(path) -> str:
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)


@st.composite
def conditions(draw):
    path = draw(PATHS)
    kind = draw(st.sampled_from(["number", "string", "postfix"]))
    if kind == "number":
        operator = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        value = draw(st.integers(-3, 3))
        return ("number", path, operator, value), f"{render_path(path)} {operator} {value}"
    if kind == "string":
        operator = draw(st.sampled_from(["=", "!="]))
        value = draw(st.text(alphabet="xy*", min_size=1, max_size=3))
        bare = draw(st.booleans()) and "*" not in value
        literal = value if bare else f'"{value}"'
        return ("string", path, operator, value), f"{render_path(path)} {operator} {literal}"
    postfix = draw(st.sampled_from(["IS NULL", "IS TRUE", "IS FALSE", "EXISTS", "NOT EXISTS"]))
    return ("postfix", path, postfix, None), f"{render_path(path)} {postfix}"


def json_expressions():
    """An OR of ANDs of conditions (rendered without parentheses: && binds tighter), where a
    condition may be a parenthesised expression."""
    leaf = conditions()

    def extend(children):
        return st.lists(st.lists(children, min_size=1, max_size=3), min_size=1, max_size=3).map(
            lambda alternatives: (
                ("or", [[tree for tree, _ in conjunction] for conjunction in alternatives]),
                "(" + " || ".join(" && ".join(text for _, text in c) for c in alternatives) + ")",
            )
        )

    return st.recursive(leaf, extend, max_leaves=6)


def lookup(document, path):
    for step in path:
        if isinstance(step, int):
            if not isinstance(document, list) or step >= len(document):
                return MISSING
        elif not isinstance(document, dict) or step not in document:
            return MISSING
        document = document[step]
    return document


def reference_json(tree, document) -> bool:
    if tree[0] == "or":
        return any(all(reference_json(t, document) for t in conj) for conj in tree[1])
    kind, path, operator, value = tree
    found = lookup(document, path)
    if kind == "postfix":
        return {
            "NOT EXISTS": found is MISSING,
            "EXISTS": found is not MISSING,
            "IS NULL": found is None,
            "IS TRUE": found is True,
            "IS FALSE": found is False,
        }[operator]
    if kind == "number":
        if isinstance(found, bool) or not isinstance(found, int | float):
            return False
        return {
            "=": found == value,
            "!=": found != value,
            "<": found < value,
            "<=": found <= value,
            ">": found > value,
            ">=": found >= value,
        }[operator]
    if not isinstance(found, str):
        return False
    return wildcard_matches(value, found) == (operator == "=")


@settings(max_examples=400, deadline=None, derandomize=True)
@given(json_expressions(), DOCUMENTS)
def test_json_patterns_agree_with_the_reference(expression, document):
    tree, text = expression
    pattern = "{ " + (text[1:-1] if text.startswith("(") else text) + " }"

    assert compile_pattern(pattern)(json.dumps(document)) == reference_json(tree, document)


@settings(deadline=None, derandomize=True)
@given(json_expressions(), st.text(max_size=10).filter(lambda t: not t.strip().startswith("{")))
def test_a_json_pattern_never_matches_an_event_that_is_not_a_json_object(expression, message):
    _, text = expression

    assert compile_pattern("{ " + text + " }")(message) is False


# --- space-delimited --------------------------------------------------------------------------

TOKENS = ["1", "20", "300", "GET", "x"]


@st.composite
def delimited_fields(draw):
    kind = draw(st.sampled_from(["name", "literal", "number", "string", "ellipsis"]))
    if kind == "name":
        return ("any",), draw(st.sampled_from(["ip", "user", "status"]))
    if kind == "ellipsis":
        return ("ellipsis",), "..."
    if kind == "literal":
        value = draw(st.sampled_from(TOKENS + ["*0*", "G*"]))
        return ("string", "=", value), f'"{value}"'
    if kind == "number":
        operator = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        value = draw(st.sampled_from([1, 20, 300]))
        return ("number", operator, value), f"status {operator} {value}"
    operator = draw(st.sampled_from(["=", "!="]))
    value = draw(st.sampled_from(TOKENS + ["*0", "3*"]))
    # An unquoted number is a number; quoted, it is text.
    literal = f'"{value}"' if value.isdigit() or draw(st.booleans()) else value
    return ("string", operator, value), f"status {operator} {literal}"


def reference_field(field, token: str) -> bool:
    if field[0] == "any":
        return True
    kind, operator, value = field
    if kind == "string":
        return wildcard_matches(value, token) == (operator == "=")
    if not token.lstrip("-").isdigit():
        return False
    number = int(token)
    return {
        "=": number == value,
        "!=": number != value,
        "<": number < value,
        "<=": number <= value,
        ">": number > value,
        ">=": number >= value,
    }[operator]


def reference_delimited(fields, tokens) -> bool:
    """Dynamic programming over (pattern fields used, event fields used)."""
    reachable = {(0, 0)}
    for i, field in enumerate(fields):
        following = set()
        for used_fields, used_tokens in reachable:
            if used_fields != i:
                continue
            if field[0] == "ellipsis":
                following |= {(i + 1, k) for k in range(used_tokens, len(tokens) + 1)}
            elif used_tokens < len(tokens) and reference_field(field, tokens[used_tokens]):
                following.add((i + 1, used_tokens + 1))
        reachable = following
    return (len(fields), len(tokens)) in reachable


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(delimited_fields(), min_size=1, max_size=4),
    st.lists(st.sampled_from(TOKENS), max_size=5),
)
def test_space_delimited_patterns_agree_with_the_reference(fields, tokens):
    pattern = "[" + ", ".join(text for _, text in fields) + "]"

    matched = compile_pattern(pattern)(" ".join(tokens))

    assert matched == reference_delimited([tree for tree, _ in fields], tokens)


# --- what is refused ----------------------------------------------------------------------------


@settings(deadline=None, derandomize=True)
@given(
    st.sampled_from(
        [
            '{ $.level = "ERROR"',
            "{ level = ERROR }",
            '{ $.latency > "slow" }',
            "{ $.a IS MAYBE }",
            "{ $.a = }",
            "{ && }",
            '"unterminated',
            "ERROR {",
            "[ip, , user]",
            "[status > fast]",
            "?ERROR WARN",
            "%ERR.R%",
        ]
    )
)
def test_an_unparseable_pattern_is_refused_never_everything(pattern):
    try:
        compile_pattern(pattern)
    except InvalidPattern:
        return
    raise AssertionError(f"{pattern!r} was accepted")
