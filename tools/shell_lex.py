"""Tokens of a shell command line: words (quotes, expansions, substitutions), operators, here-documents."""

from __future__ import annotations

from dataclasses import dataclass

from tools.shell_ast import MAX_DEPTH, ParseError, Part, Redirect, Script, Word

# -- lexer -----------------------------------------------------------------------------------------
_OPERATORS = sorted(["&&", "||", ";;&", ";;", ";&", "|&", "|", "&", ";", "(", ")", "\n",
                     "<<<", "<<-", "<<", ">>", "<&", ">&", "<>", ">|", "&>>", "&>", "<", ">"], key=len, reverse=True)
REDIRECT_OPS = frozenset({"<<<", "<<-", "<<", ">>", "<&", ">&", "<>", ">|", "&>>", "&>", "<", ">"})
_META = set(" \t\n;&|<>()")
RESERVED = frozenset("if then elif else fi do done while until for in case esac function select { } ! [[ ]]".split())
_ANSI = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f",
         "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


@dataclass
class Token:
    kind: str  # "word" | "op" | "io" (a redirection, op holds it) | "eof"
    value: str = ""  # the operator, or the word's raw text
    word: Word | None = None
    fd: str = ""  # the IO number in front of a redirection


class Lexer:
    def __init__(self, text: str, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise ParseError("nested too deeply")
        self.s = text
        self.i = 0
        self.depth = depth
        self.pending_heredocs: list[Redirect] = []
        self._pending_quoted: list[tuple[str, bool, bool]] = []  # (delimiter, strip tabs, quoted)

    # Reading words -------------------------------------------------------------------------------
    def _skip_blank(self) -> None:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t":
                self.i += 1
            elif c == "\\" and s.startswith("\\\n", self.i):
                self.i += 2
            elif c == "#":
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
            else:
                break

    def next(self) -> Token:
        self._skip_blank()
        s = self.s
        if self.i >= len(s):
            if self._pending_quoted:
                raise ParseError("here-document without its end line")
            return Token("eof")
        if s[self.i] == "\n":
            self.i += 1
            self._read_heredocs()
            return Token("op", "\n")
        if s.startswith("((", self.i):
            end = _matching(s, self.i + 2, "((", "))")
            body = s[self.i + 2:end]
            self.i = end + 2
            return Token("op", "((", word=Word([Part("lit", body)]))
        if s[self.i] in "<>" and s.startswith("(", self.i + 1):  # process substitution
            return self._word()
        for op in _OPERATORS:
            if s.startswith(op, self.i):
                self.i += len(op)
                if op in REDIRECT_OPS:
                    return Token("io", op)
                return Token("op", op)
        return self._word()

    def _word(self) -> Token:
        start = self.i
        word = self._read_word(stop=_META)
        raw = self.s[start:self.i]
        # `2>file`: a word of digits straight before a redirection is its file descriptor.
        if raw.isdigit() and self.i < len(self.s) and self.s[self.i] in "<>":
            tok = self.next()
            if tok.kind == "io":
                tok.fd = raw
                return tok
            raise ParseError("unexpected text after a file descriptor")
        return Token("word", raw, word=word)

    def _read_word(self, stop: set[str] | str, in_dquote: bool = False) -> Word:
        s, parts = self.s, []
        lit: list[str] = []

        def flush(quoted: bool = False) -> None:
            if lit:
                parts.append(Part("lit", "".join(lit), quoted=quoted))
                lit.clear()

        while self.i < len(s):
            c = s[self.i]
            if c in stop and not (c in "<>" and s.startswith("(", self.i + 1) and not parts and not lit):
                break
            if c == "\\":
                if self.i + 1 >= len(s):
                    raise ParseError("a backslash ends the command")
                nxt = s[self.i + 1]
                if nxt != "\n":
                    lit.append(nxt)
                self.i += 2
            elif c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    raise ParseError("unbalanced single quote")
                flush()
                parts.append(Part("lit", s[self.i + 1:end], quoted=True))
                self.i = end + 1
            elif c == '"':
                flush()
                self.i += 1
                parts.extend(self._read_dquoted())
            elif c == "`":
                flush()
                parts.append(self._backtick())
            elif c == "$":
                flush()
                parts.extend(self._dollar(quoted=False))
            elif c in "<>" and s.startswith("(", self.i + 1):
                flush()
                end = _matching(s, self.i + 2, "(", ")")
                parts.append(Part("cmd", "<(", script=parse(s[self.i + 2:end], self.depth + 1)))
                self.i = end + 1
            else:
                lit.append(c)
                self.i += 1
        flush()
        return Word(parts)

    def _read_dquoted(self) -> list[Part]:
        s, parts, lit = self.s, [], []
        while True:
            if self.i >= len(s):
                raise ParseError("unbalanced double quote")
            c = s[self.i]
            if c == '"':
                self.i += 1
                break
            if c == "\\" and self.i + 1 < len(s) and s[self.i + 1] in '$`"\\\n':
                if s[self.i + 1] != "\n":
                    lit.append(s[self.i + 1])
                self.i += 2
            elif c in "$`":
                if lit:
                    parts.append(Part("lit", "".join(lit), quoted=True))
                    lit = []
                parts.extend(self._dollar(quoted=True) if c == "$" else [self._backtick(quoted=True)])
            else:
                lit.append(c)
                self.i += 1
        if lit or not parts:
            parts.append(Part("lit", "".join(lit), quoted=True))
        return parts

    def _backtick(self, quoted: bool = False) -> Part:
        s, j, inner = self.s, self.i + 1, []
        while True:
            if j >= len(s):
                raise ParseError("unbalanced backquote")
            if s[j] == "\\" and j + 1 < len(s) and s[j + 1] in "`\\$":
                inner.append(s[j + 1])
                j += 2
            elif s[j] == "`":
                break
            else:
                inner.append(s[j])
                j += 1
        self.i = j + 1
        return Part("cmd", "`", script=parse("".join(inner), self.depth + 1), quoted=quoted)

    def _dollar(self, quoted: bool) -> list[Part]:
        s, i = self.s, self.i
        nxt = s[i + 1] if i + 1 < len(s) else ""
        if nxt == "'" and not quoted:
            self.i = i + 2
            return [Part("lit", self._ansi_c(), quoted=True)]
        if nxt == '"' and not quoted:  # $"..." (locale translation): same as "..."
            self.i = i + 2
            return self._read_dquoted()
        if s.startswith("$((", i):
            end = _matching(s, i + 3, "((", "))")
            self.i = end + 2
            inner = s[i + 3:end]
            subs = substitutions_in(inner, self.depth)
            return [Part("arith", inner, quoted=quoted)] + [Part("cmd", "$(", script=sub) for sub in subs]
        if nxt == "(":
            end = _matching(s, i + 2, "(", ")")
            self.i = end + 1
            return [Part("cmd", "$(", script=parse(s[i + 2:end], self.depth + 1), quoted=quoted)]
        if nxt == "{":
            end = _matching(s, i + 2, "{", "}")
            self.i = end + 1
            inner = s[i + 2:end]
            name = inner.lstrip("!#")
            cut = next((k for k, ch in enumerate(name) if not (ch.isalnum() or ch == "_")), len(name))
            var = name[:cut] or name[:1]
            parts = [Part("var", var if inner[cut:] == "" or not inner.startswith(("!", "#")) else "?",
                          quoted=quoted)]
            # ${x:-$(cmd)} runs cmd: keep what the operand would run.
            parts += [Part("cmd", "$(", script=sub) for sub in substitutions_in(name[cut:], self.depth)]
            return parts
        if nxt and (nxt.isalpha() or nxt == "_"):
            j = i + 1
            while j < len(s) and (s[j].isalnum() or s[j] == "_"):
                j += 1
            self.i = j
            return [Part("var", s[i + 1:j], quoted=quoted)]
        if nxt and (nxt.isdigit() or nxt in "@*#?$!-"):
            self.i = i + 2
            return [Part("var", nxt, quoted=quoted)]
        self.i = i + 1
        return [Part("lit", "$", quoted=quoted)]

    def _ansi_c(self) -> str:
        s, out = self.s, []
        while True:
            if self.i >= len(s):
                raise ParseError("unbalanced $'...' quote")
            c = s[self.i]
            if c == "'":
                self.i += 1
                return "".join(out)
            if c == "\\" and self.i + 1 < len(s):
                e = s[self.i + 1]
                if e in _ANSI:
                    out.append(_ANSI[e])
                    self.i += 2
                elif e == "x":
                    digits = _take(s, self.i + 2, "0123456789abcdefABCDEF", 2)
                    out.append(chr(int(digits, 16)) if digits else "\\x")
                    self.i += 2 + len(digits)
                elif e in "uU":
                    digits = _take(s, self.i + 2, "0123456789abcdefABCDEF", 4 if e == "u" else 8)
                    out.append(chr(int(digits, 16)) if digits and int(digits, 16) < 0x110000 else "")
                    self.i += 2 + len(digits)
                elif e in "01234567":
                    digits = _take(s, self.i + 1, "01234567", 3)
                    out.append(chr(int(digits, 8)))
                    self.i += 1 + len(digits)
                else:
                    out.append("\\" + e)
                    self.i += 2
            else:
                out.append(c)
                self.i += 1

    # Here-documents ------------------------------------------------------------------------------
    def queue_heredoc(self, redirect: Redirect, delimiter_raw: str, strip_tabs: bool) -> None:
        quoted = any(ch in delimiter_raw for ch in "'\"\\")
        self.pending_heredocs.append(redirect)
        self._pending_quoted.append((redirect.target.text() or delimiter_raw, strip_tabs, quoted))

    def _read_heredocs(self) -> None:
        for redirect, (delim, strip_tabs, quoted) in zip(self.pending_heredocs, self._pending_quoted, strict=True):
            lines = []
            while True:
                if self.i >= len(self.s):
                    raise ParseError(f"here-document without its end line {delim!r}")
                end = self.s.find("\n", self.i)
                end = len(self.s) if end < 0 else end
                line = self.s[self.i:end]
                self.i = end + 1
                if (line.lstrip("\t") if strip_tabs else line) == delim:
                    break
                lines.append(line)
            redirect.heredoc = "\n".join(lines) + "\n"
            redirect.heredoc_expands = not quoted
        self.pending_heredocs, self._pending_quoted = [], []


def _take(s: str, i: int, allowed: str, limit: int) -> str:
    j = i
    while j < len(s) and j - i < limit and s[j] in allowed:
        j += 1
    return s[i:j]


def _matching(s: str, i: int, open_: str, close: str) -> int:
    """Index of the `close` that ends a construct opened just before i (quotes and nesting aware)."""
    level = 1
    while i < len(s):
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            end = s.find("'", i + 1)
            if end < 0:
                raise ParseError("unbalanced single quote")
            i = end + 1
            continue
        if c == '"':
            j = i + 1
            while j < len(s) and s[j] != '"':
                j += 2 if s[j] == "\\" else 1
            if j >= len(s):
                raise ParseError("unbalanced double quote")
            i = j + 1
            continue
        if c == "`":
            end = s.find("`", i + 1)
            if end < 0:
                raise ParseError("unbalanced backquote")
            i = end + 1
            continue
        if s.startswith(close, i):
            level -= 1
            if level == 0:
                return i
            i += len(close)
            continue
        if s.startswith(open_, i) or (open_ in ("(", "((") and s.startswith("$(", i)):
            level += 1
            i += len(open_) if s.startswith(open_, i) else 2
            continue
        if open_ == "{" and s.startswith("${", i):
            level += 1
            i += 2
            continue
        i += 1
    raise ParseError(f"no closing {close!r}")


def substitutions_in(text: str, depth: int) -> list[Script]:
    """Command substitutions inside text that undergoes expansion (a heredoc body, `${x:-..}`)."""
    if "$(" not in text and "`" not in text:
        return []
    lexer = Lexer(text, depth + 1)
    out: list[Script] = []
    while lexer.i < len(text):
        c = text[lexer.i]
        if c == "\\":
            lexer.i += 2
        elif c == "$":
            out += [p.script for p in lexer._dollar(quoted=True) if p.kind == "cmd" and p.script]
        elif c == "`":
            part = lexer._backtick(quoted=True)
            out += [part.script] if part.script else []
        else:
            lexer.i += 1
    return out




def parse(text: str, depth: int) -> Script:
    from tools.shell_parse import parse as _parse  # the parser imports this module

    return _parse(text, depth)
