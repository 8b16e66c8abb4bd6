"""Syntax tree of a shell command line, as `tools.shell_parse` builds it."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_DEPTH = 12  # nesting of substitutions/compounds; deeper input is refused, not recursed into


class ParseError(ValueError):
    """The text is not a command line this parser can read (unbalanced quotes, unknown syntax)."""


# -- data ------------------------------------------------------------------------------------------
@dataclass
class Part:
    """One piece of a word: literal text, a parameter (`$x`), a substitution, or arithmetic."""

    kind: str  # "lit" | "var" | "cmd" (command or process substitution) | "arith"
    value: str = ""  # the literal text or the variable name
    script: Script | None = None  # for "cmd"
    quoted: bool = False


@dataclass
class Word:
    parts: list[Part] = field(default_factory=list)

    @property
    def literal(self) -> str | None:
        """The word's text when it is fully static, else None."""
        if all(p.kind == "lit" for p in self.parts):
            return "".join(p.value for p in self.parts)
        return None

    def text(self, variables: dict[str, str] | None = None) -> str | None:
        """The text with known variables substituted; None while anything stays dynamic."""
        out = []
        for part in self.parts:
            if part.kind == "lit":
                out.append(part.value)
            elif part.kind == "var" and variables is not None and part.value in variables:
                out.append(variables[part.value])
            else:
                return None
        return "".join(out)

    def substitutions(self) -> list[Script]:
        return [p.script for p in self.parts if p.kind == "cmd" and p.script is not None]

    def shown(self) -> str:
        """A readable spelling for messages: dynamic parts as `$x` / `$(...)`."""
        return "".join(p.value if p.kind == "lit" else f"${p.value}" if p.kind == "var" else "$(...)"
                       for p in self.parts)


@dataclass
class Redirect:
    op: str  # ">", ">>", "<", "<<", "<<<", ">&", "&>", ...
    target: Word
    heredoc: str | None = None  # body of a here-document (or here-string text)
    heredoc_expands: bool = False  # an unquoted delimiter: `$(..)` in the body runs


@dataclass
class Command:
    """A simple command: `A=1 B=2 name args... >redirects`."""

    assignments: list[tuple[str, Word]] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class Compound:
    """A subshell, brace group, if/while/for/case: its body and redirects."""

    kind: str  # "subshell" | "group" | "if" | "while" | "for" | "case" | "arith" | "test"
    body: Script
    redirects: list[Redirect] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)  # words the construct expands (for-list, case word)


@dataclass
class FunctionDef:
    name: str
    body: Compound | Command


Node = Command | Compound | FunctionDef


@dataclass
class Pipeline:
    commands: list[Node]
    background: bool = False  # ends with `&`


@dataclass
class Script:
    pipelines: list[Pipeline] = field(default_factory=list)
