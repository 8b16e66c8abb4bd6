r"""A small parser of the POSIX/bash command grammar, enough to see what a command line would run.

    parse("cd x && make | tee log")  -> Script([...]) with simple commands `cd x`, `make`, `tee log`

It understands quoting (`'..'`, `".."`, `$'..'`, backslashes), parameter expansion (`$x`, `${x}`,
unquoted `${IFS}` splits words like bash does), command substitution (`$(..)`, backticks) and
process substitution (`<(..)`) parsed recursively, redirections with here-documents and
here-strings, pipelines, `&&`/`||`/`;`/`&`, subshells, brace groups, function definitions, `if`,
`while`/`until`, `for`, `case`, `[[ .. ]]` and `(( .. ))`. Anything else raises ParseError: the
caller treats what it cannot read as suspicious. Nothing here runs or expands anything.
"""

from __future__ import annotations

from tools.shell_ast import (
    Command,
    Compound,
    FunctionDef,
    Node,
    ParseError,
    Part,
    Pipeline,
    Redirect,
    Script,
    Word,
)
from tools.shell_lex import RESERVED, Lexer, Token, substitutions_in

__all__ = ["Command", "Compound", "FunctionDef", "Node", "ParseError", "Part", "Pipeline", "Redirect", "Script",
           "Word", "parse", "split_ifs"]


# -- parser ----------------------------------------------------------------------------------------
class Parser:
    def __init__(self, text: str, depth: int) -> None:
        self.lexer = Lexer(text, depth)
        self.depth = depth
        self.tok = self.lexer.next()

    def advance(self) -> Token:
        tok, self.tok = self.tok, self.lexer.next()
        return tok

    def is_word(self, *values: str) -> bool:
        return self.tok.kind == "word" and (not values or self.tok.value in values)

    def is_op(self, *values: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in values

    def expect_word(self, value: str) -> None:
        if not self.is_word(value):
            raise ParseError(f"expected {value!r}, found {self.tok.value or 'the end'!r}")
        self.advance()

    def skip_newlines(self) -> None:
        while self.is_op("\n"):
            self.advance()

    def script(self, until_words: tuple[str, ...] = (), until_ops: tuple[str, ...] = ()) -> Script:
        script = Script()
        while True:
            while self.is_op("\n", ";"):
                self.advance()
            if self.tok.kind == "eof" or self.is_word(*until_words) and until_words or self.is_op(*until_ops):
                return script
            self.and_or(script)
            if self.is_op("&"):
                script.pipelines[-1].background = True
                self.advance()
            elif self.is_op(";", "\n"):
                self.advance()
            elif not (self.tok.kind == "eof" or (until_words and self.is_word(*until_words))
                      or self.is_op(*until_ops)):
                raise ParseError(f"unexpected {self.tok.value!r}")

    def and_or(self, script: Script) -> None:
        script.pipelines.append(self.pipeline())
        while self.is_op("&&", "||"):
            self.advance()
            self.skip_newlines()
            script.pipelines.append(self.pipeline())

    def pipeline(self) -> Pipeline:
        while self.is_word("!", "time"):
            self.advance()
        commands = [self.command()]
        while self.is_op("|", "|&"):
            self.advance()
            self.skip_newlines()
            commands.append(self.command())
        return Pipeline(commands)

    def command(self) -> Node:
        tok = self.tok
        if tok.kind == "op" and tok.value == "(":
            self.advance()
            body = self.script(until_ops=(")",))
            self._close_op(")")
            return Compound("subshell", body, self.redirects())
        if tok.kind == "op" and tok.value == "((":
            self.advance()
            subs = substitutions_in(tok.word.literal or "", self.depth) if tok.word else []
            return Compound("arith", Script([Pipeline([Compound("subshell", s)]) for s in subs]), self.redirects())
        if tok.kind != "word" and tok.kind != "io":
            raise ParseError(f"unexpected {tok.value or 'end of command'!r}")
        if tok.kind == "word":
            word = tok.value
            if word == "{":
                self.advance()
                body = self.script(until_words=("}",))
                self.expect_word("}")
                return Compound("group", body, self.redirects())
            if word == "if":
                return self._if()
            if word in ("while", "until"):
                self.advance()
                cond = self.script(until_words=("do",))
                body = self._do_done()
                return Compound("while", Script(cond.pipelines + body.pipelines), self.redirects())
            if word in ("for", "select"):
                return self._for()
            if word == "case":
                return self._case()
            if word == "[[":
                return self._test()
            if word == "function":
                self.advance()
                if not self.is_word():
                    raise ParseError("function without a name")
                name = self.advance().value
                if self.is_op("("):
                    self.advance()
                    self._close_op(")")
                self.skip_newlines()
                return FunctionDef(name, self.command())
            if word in RESERVED and word not in ("!", "]]"):
                raise ParseError(f"unexpected {word!r}")
            # name() body
            if self.lexer.s.startswith("()", self.lexer.i) or self._peek_parens():
                name = self.advance().value
                self.advance()
                self._close_op(")")
                self.skip_newlines()
                return FunctionDef(name, self.command())
        return self.simple()

    def _peek_parens(self) -> bool:
        """`name ( )` with blanks: the next tokens are `(` and `)`."""
        rest = self.lexer.s[self.lexer.i:].lstrip(" \t")
        return rest.startswith("(") and rest[1:].lstrip(" \t").startswith(")")

    def _close_op(self, op: str) -> None:
        if not self.is_op(op):
            raise ParseError(f"expected {op!r}, found {self.tok.value or 'the end'!r}")
        self.advance()

    def _if(self) -> Compound:
        self.advance()
        pipelines: list[Pipeline] = []
        while True:
            pipelines += self.script(until_words=("then",)).pipelines
            self.expect_word("then")
            pipelines += self.script(until_words=("elif", "else", "fi")).pipelines
            if self.is_word("elif"):
                self.advance()
                continue
            if self.is_word("else"):
                self.advance()
                pipelines += self.script(until_words=("fi",)).pipelines
            self.expect_word("fi")
            return Compound("if", Script(pipelines), self.redirects())

    def _do_done(self) -> Script:
        self.skip_newlines()
        if self.is_word("{"):  # bash also accepts `for x in y; { ...; }`
            self.advance()
            body = self.script(until_words=("}",))
            self.expect_word("}")
            return body
        self.expect_word("do")
        body = self.script(until_words=("done",))
        self.expect_word("done")
        return body

    def _for(self) -> Compound:
        self.advance()
        words: list[Word] = []
        if self.is_op("(("):
            self.advance()
        else:
            if not self.is_word():
                raise ParseError("for without a variable name")
            self.advance()
            self.skip_newlines()
            if self.is_op(";"):
                self.advance()
            self.skip_newlines()
            if self.is_word("in"):
                self.advance()
                while self.is_word():
                    words.append(self.advance().word or Word())
        if self.is_op(";", "\n"):
            self.advance()
        body = self._do_done()
        return Compound("for", body, self.redirects(), words)

    def _case(self) -> Compound:
        self.advance()
        if not self.is_word():
            raise ParseError("case without a word")
        words = [self.advance().word or Word()]
        self.skip_newlines()
        self.expect_word("in")
        pipelines: list[Pipeline] = []
        while True:
            self.skip_newlines()
            if self.is_word("esac"):
                self.advance()
                return Compound("case", Script(pipelines), self.redirects(), words)
            if self.is_op("("):
                self.advance()
            while True:  # patterns: a | b )
                if not self.is_word():
                    raise ParseError("case pattern expected")
                words.append(self.advance().word or Word())
                if self.is_op("|"):
                    self.advance()
                    continue
                self._close_op(")")
                break
            pipelines += self.script(until_words=("esac",), until_ops=(";;", ";&", ";;&")).pipelines
            if self.is_op(";;", ";&", ";;&"):
                self.advance()

    def _test(self) -> Compound:
        self.advance()
        words: list[Word] = []
        while not self.is_word("]]"):
            if self.tok.kind == "eof":
                raise ParseError("[[ without ]]")
            tok = self.advance()
            if tok.word is not None:
                words.append(tok.word)
        self.advance()
        subs = [s for w in words for s in w.substitutions()]
        return Compound("test", Script([Pipeline([Compound("subshell", s)]) for s in subs]), self.redirects(), words)

    def redirects(self) -> list[Redirect]:
        out = []
        while self.tok.kind == "io":
            out.append(self._redirect())
        return out

    def _redirect(self) -> Redirect:
        op = self.advance().value
        if not self.is_word():
            raise ParseError(f"redirection {op} without a target")
        tok = self.tok
        redirect = Redirect(op, tok.word or Word())
        if op in ("<<", "<<-"):
            self.lexer.queue_heredoc(redirect, tok.value, strip_tabs=op == "<<-")
        elif op == "<<<":
            redirect.heredoc = (tok.word.text() if tok.word else None)
        self.advance()
        return redirect

    def simple(self) -> Command:
        cmd = Command()
        while True:
            if self.tok.kind == "io":
                cmd.redirects.append(self._redirect())
            elif self.tok.kind == "word":
                word = self.tok.word or Word()
                raw = self.tok.value
                eq = raw.find("=")
                if not cmd.words and eq > 0 and raw[:eq].isidentifier() and raw[:eq].isascii():
                    cmd.assignments.append((raw[:eq], _after_equals(word, eq)))
                    self.advance()
                    if self.is_op("(") and raw.endswith("="):  # arr=(a b c): its value is not followed
                        cmd.assignments[-1] = (raw[:eq], Word([Part("var", "?")]))
                        self.advance()
                        while self.is_word() or self.is_op("\n"):
                            self.advance()
                        self._close_op(")")
                    continue
                cmd.words.append(word)
                self.advance()
            else:
                break
        if not cmd.words and not cmd.assignments and not cmd.redirects:
            raise ParseError(f"unexpected {self.tok.value or 'end of command'!r}")
        return cmd


def _after_equals(word: Word, eq: int) -> Word:
    """The value of `NAME=value` (the word minus its leading `NAME=`)."""
    parts, skip = [], eq + 1
    for part in word.parts:
        if skip and part.kind == "lit":
            if len(part.value) <= skip:
                skip -= len(part.value)
                continue
            part = Part("lit", part.value[skip:], quoted=part.quoted)
            skip = 0
        parts.append(part)
    return Word(parts)


def parse(text: str, depth: int = 0) -> Script:
    """Parse a command line; ParseError when it cannot be read."""
    parser = Parser(text, depth)
    script = parser.script()
    if parser.tok.kind != "eof":
        raise ParseError(f"unexpected {parser.tok.value!r}")
    if parser.lexer.pending_heredocs:
        raise ParseError("here-document without its body")
    return script


def split_ifs(word: Word) -> list[Word]:
    """An unquoted `$IFS` / `${IFS}` splits a word in two, as the shell does when expanding it."""
    if not any(p.kind == "var" and p.value == "IFS" and not p.quoted for p in word.parts):
        return [word]
    out, current = [], Word()
    for part in word.parts:
        if part.kind == "var" and part.value == "IFS" and not part.quoted:
            if current.parts:
                out.append(current)
            current = Word()
        else:
            current.parts.append(part)
    if current.parts:
        out.append(current)
    return out
