"""Mechanical conversion of the Jinja message templates merchants stored to Liquid.

Only what has one obvious Liquid spelling is converted: variables (with the renames
of CONTRACT.md's names), `for`, `if`/`elif`/`else`, `set`, comparisons joined by
only `and` or only `or`, `loop.*`, a few filters, comments. Anything else (arithmetic,
`~`, calls, macros, tests, mixed `and`/`or`, raw blocks) raises NotConvertible, and
the caller keeps the default template for that part instead. Frozen with migration
0012_i15a_liquid_templates: it describes the templates of that release, not the current code.
"""

from __future__ import annotations

import re

from liquid import Environment


class NotConvertible(ValueError):
    """A construct with no mechanical Liquid equivalent; the message names it."""


TAG = re.compile(r"(\{\{-?.*?-?\}\}|\{%-?.*?-?%\}|\{#.*?#\})", re.S)
WORD = re.compile(
    r"\s*(?:(?P<string>'[^'\\]*'|\"[^\"\\]*\")|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|<=|>=|<|>|\|)|(?P<path>[A-Za-z_]\w*(?:\.\w+|\[\d+\])*)"
    r"|(?P<args>\((?:[^()'\"]|'[^']*'|\"[^\"]*\")*\)))")
FILTERS = {"upper": "upcase", "lower": "downcase", "capitalize": "capitalize",
           "length": "size", "count": "size", "trim": "strip", "default": "default",
           "d": "default", "e": "escape", "escape": "escape", "replace": "replace",
           "join": "join", "first": "first", "last": "last", "round": "round",
           "abs": "abs", "striptags": "strip_html"}
RENAMED = {"shop": "shop.name", "order": "order.name", "link": "status_url"}
LOOP = {"index", "index0", "first", "last", "length", "revindex", "revindex0"}
CONSTANTS = {"true": "true", "True": "true", "false": "false", "False": "false",
             "none": "nil", "None": "nil"}
# The dates lines carried as text in the shop's locale are dates now.
DATE_FORMAT = {"sms": "%b %-d, %Y", "default": "%B %-d, %Y"}


def convert(source: str, part: str) -> str:
    """The Liquid twin of a Jinja template; NotConvertible when there is none."""
    state = _State(part)
    out = [state.tag(piece) if TAG.fullmatch(piece) else piece
           for piece in TAG.split(source) if piece]
    if state.blocks:
        raise NotConvertible(f"{{% {state.blocks[-1][0]} %}} is never closed")
    liquid = "".join(out).removesuffix("\n")  # Jinja dropped a template's last newline
    try:
        Environment().parse(liquid)
    except Exception as exc:  # noqa: BLE001 - any refusal means: keep the default
        raise NotConvertible(f"the result does not parse: {str(exc).splitlines()[0]}") from exc
    return liquid


class _State:
    def __init__(self, part: str) -> None:
        self.part = part
        self.blocks: list[tuple[str, str | None]] = []  # (tag, loop variable)

    def loop_vars(self) -> set[str]:
        return {var for _tag, var in self.blocks if var}

    def tag(self, piece: str) -> str:
        if piece.startswith("{#"):
            if "endcomment" in piece:
                raise NotConvertible("a comment mentions endcomment")
            return "{% comment %}" + piece[2:-2] + "{% endcomment %}"
        opening = piece[:3] if piece[2] == "-" else piece[:2]  # "{%-" trims as in Jinja
        closing = piece[-3:] if piece[-3] == "-" else piece[-2:]
        body = piece[len(opening):-len(closing)].strip()
        if opening.startswith("{{"):
            return f"{opening} {self.expression(body, output=True)} {closing}"
        return f"{opening} {self.statement(body)} {closing}"

    def statement(self, body: str) -> str:
        name, _, rest = body.partition(" ")
        rest = rest.strip()
        if name == "for":
            match = re.fullmatch(r"([A-Za-z_]\w*) in (.+)", rest)
            if not match:
                raise NotConvertible(f"{{% for {rest} %}}")
            self.blocks.append(("for", match[1]))
            return f"for {match[1]} in {self.expression(match[2])}"
        if name == "if":
            negated = rest.startswith("not ") and " and " not in rest and " or " not in rest
            self.blocks.append(("unless" if negated else "if", None))
            condition = rest[4:] if negated else rest
            return f"{'unless' if negated else 'if'} {self.expression(condition)}"
        if name == "elif" and self.blocks and self.blocks[-1][0] == "if":
            return f"elsif {self.expression(rest)}"
        if name == "else" and not rest and self.blocks:
            return "else"
        if name in ("endfor", "endif") and not rest and self.blocks \
                and self.blocks[-1][0] in (name[3:], "unless" if name == "endif" else ""):
            return "end" + self.blocks.pop()[0]
        if name == "set":
            match = re.fullmatch(r"([A-Za-z_]\w*) = (.+)", rest)
            if match:
                return f"assign {match[1]} = {self.expression(match[2])}"
        raise NotConvertible(f"{{% {body} %}}")

    def expression(self, text: str, *, output: bool = False) -> str:
        words, filters = _split_filters(text)
        joiners = {w for w in words if w in ("and", "or")}
        if len(joiners) > 1:
            raise NotConvertible(f"{text!r} mixes and with or")
        converted = [w if w in ("and", "or") or _is_literal_or_op(w) else self.value(w)
                     for w in words]
        if output and len(words) == 1:
            converted[0] += self.date_filter(words[0])
        return " ".join(converted + [f"| {f}" for f in filters])

    def value(self, word: str) -> str:
        if word in CONSTANTS:
            return CONSTANTS[word]
        root, dot, rest = word.partition(".")
        if root == "loop" and rest in LOOP:
            return f"forloop.{rest}"
        if root in self.loop_vars() or re.fullmatch(r"lines\[\d+\]", root):
            # A line's "quantity" was the units the message is about: "backordered" now.
            return word if rest != "quantity" else f"{root}.backordered"
        if word in RENAMED:
            return RENAMED[word]
        if root in RENAMED or root == "loop" or word.startswith("lines."):
            raise NotConvertible(f"{word!r} has no Liquid equivalent")
        return word

    def date_filter(self, word: str) -> str:
        root, _, rest = word.partition(".")
        is_line = root in self.loop_vars() or re.fullmatch(r"lines\[\d+\]", root)
        if is_line and rest in ("eta", "old_eta"):
            return f" | date: \"{DATE_FORMAT.get(self.part, DATE_FORMAT['default'])}\""
        return ""


def _split_filters(text: str) -> tuple[list[str], list[str]]:
    """The words before the first `|`, and each filter in Liquid spelling."""
    tokens = _tokens(text)
    cut = next((i for i, (_kind, token) in enumerate(tokens) if token == "|"), len(tokens))
    if any(kind == "args" for kind, _token in tokens[:cut]):
        raise NotConvertible(f"{text!r} calls a function")
    filters, rest = [], tokens[cut:]
    while rest:
        if len(rest) < 2 or rest[1][0] != "path" or rest[1][1] not in FILTERS:
            raise NotConvertible(f"the filter in {text!r}")
        name, rest = FILTERS[rest[1][1]], rest[2:]
        if rest and rest[0][0] == "args":
            name, rest = name + _filter_args(rest[0][1]), rest[1:]
        filters.append(name)
    return [token for _kind, token in tokens[:cut]], filters


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = WORD.match(text, position)
        if not match:
            raise NotConvertible(f"{text!r} is not a plain expression")
        tokens.append((match.lastgroup, match[match.lastgroup]))
        position = match.end()
    return tokens


def _filter_args(parenthesised: str) -> str:
    """("a", 1) -> ': "a", 1'; only literal arguments."""
    inner = parenthesised[1:-1].strip()
    args = [a.strip() for a in inner.split(",")] if inner else []
    if not all(re.fullmatch(r"'[^',]*'|\"[^\",]*\"|-?\d+", a) for a in args):
        raise NotConvertible(f"filter arguments {inner!r}")
    return ": " + ", ".join(args) if args else ""


def _is_literal_or_op(word: str) -> bool:
    return bool(re.fullmatch(r"'[^']*'|\"[^\"]*\"|-?\d+(\.\d+)?|==|!=|<=|>=|<|>", word))
