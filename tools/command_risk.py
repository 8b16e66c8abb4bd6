"""What a parsed command line would do that needs the user's approval, or must never run.

The walk goes through everything the shell would execute: every simple command of every pipeline,
subshells, function bodies, `$(..)`/backticks/`<(..)`, `eval` strings, `sh -c` scripts, scripts a
shell reads from a pipe or a here-document, code given to interpreters (`python -c`, `perl -e`,
`node -e`, `ruby -e`) and the commands `find -exec`, `xargs` and wrappers (`sudo`, `env`,
`busybox`, `timeout`, ...) run. Variables assigned earlier in the line are substituted; a command
name that stays dynamic (`$(echo rm)`, `$cmd`) asks. Files downloaded earlier in the line
(`curl -o f`, `wget`) are remembered so running them asks.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from tools.command_runners import more_runners as _more_runners
from tools.risk_rules import (
    BLOCKED,
    DANGEROUS,
    DOWNLOADERS,
    INTERPRETERS,
    NAMES_ONLY,
    SHELLS,
    Finding,
    check_plain_command,
    check_redirect_target,
    credential_finding,
    interpreter_code_findings,
    is_root_like,
    norm_path,
    strip_wrapper,
)
from tools.shell_lex import substitutions_in
from tools.shell_parse import Command, Compound, FunctionDef, Node, ParseError, Script, Word, parse, split_ifs

MAX_NESTING = 6  # eval / sh -c / interpreter strings inside each other


@dataclass
class Arg:
    """One argument after expansion: its text when static, else None; the word it came from."""

    text: str | None
    word: Word | None = None

    @property
    def process_substitution(self) -> Script | None:
        if self.word is not None:
            for part in self.word.parts:
                if part.kind == "cmd" and part.value == "<(" and part.script is not None:
                    return part.script
        return None


@dataclass
class Stdin:
    """Where a command's standard input comes from, as far as the line shows."""

    text: str | None = None  # known content (here-document, here-string, `echo ... |`)
    producer: str | None = None  # name of the command piping into it (content unknown)
    downloaded: bool = False  # the producer is a download (curl, wget) or decodes one
    file: str | None = None  # `< file`


_PIPE_FROM_DOWNLOAD = frozenset(DOWNLOADERS | {"base64", "xxd", "openssl", "gunzip", "zcat", "gzip", "bzcat",
                                               "xzcat", "uudecode", "rev", "tr"})


@dataclass
class Walker:
    findings: list[Finding] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=lambda: {"HOME": "~"})
    downloaded: set[str] = field(default_factory=set)
    nesting: int = 0
    cwd: str | None = "."  # where relative paths point, relative to the start; None: unknown
    ifs_changed: bool = False  # after `IFS=...`, unquoted expansions split in ways we do not follow
    written: dict[str, str | None] = field(default_factory=dict)  # files this line writes: their text if known
    aliases: dict[str, str] = field(default_factory=dict)  # `cp /bin/rm x`: x runs rm

    def add(self, level: str, reason: str, pattern: str | None = None, targets: tuple[str, ...] = ()) -> None:
        self.record(Finding(level, reason, pattern, targets))

    def record(self, finding: Finding) -> None:
        """Keep a finding; relative targets are re-based on any `cd` earlier in the line."""
        if finding.targets and self.cwd != ".":
            if self.cwd is None and any(not t.startswith(("/", "~")) for t in finding.targets):
                finding = Finding(finding.level, finding.reason)
            elif self.cwd is not None:
                targets = tuple(t if t.startswith(("/", "~")) else norm_path(posixpath.join(self.cwd, t))
                                for t in finding.targets)
                finding = Finding(finding.level, finding.reason, finding.pattern, targets)
        self.findings.append(finding)

    def _cd(self, args: list[Arg]) -> None:
        texts = [a.text for a in args if a.text is None or not a.text.startswith("-")]
        if not texts:
            self.cwd = "~"
        elif texts[0] is None or texts[0] == "-" or self.cwd is None:
            self.cwd = None
        else:
            self.cwd = norm_path(posixpath.join(self.cwd, texts[0]))

    # -- text -------------------------------------------------------------------------------------
    def text(self, text: str, what: str = "command", *, lenient: bool = False) -> None:
        """Classify shell text run by something in the line (eval, sh -c, a piped script).

        `lenient`: the text may not be shell at all (a string literal in python code), so text
        that does not parse is ignored rather than asked about.
        """
        if self.nesting >= MAX_NESTING:
            if not lenient:
                self.add(DANGEROUS, f"{what} nested too deeply to check")
            return
        try:
            script = parse(text)
        except (ParseError, RecursionError) as exc:
            if not lenient:
                self.add(DANGEROUS, f"could not parse the {what} ({exc})")
            return
        self.nesting += 1
        try:
            self.script(script)
        finally:
            self.nesting -= 1

    def script(self, script: Script, stdin: Stdin | None = None) -> None:
        for index, pipeline in enumerate(script.pipelines):
            previous: Node | None = None
            for node in pipeline.commands:
                source = self._stdin_from(previous) if previous is not None else (stdin if index == 0 else None)
                self.node(node, source, pipeline.background)
                previous = node

    def node(self, node: Node, stdin: Stdin | None, background: bool = False) -> None:
        if isinstance(node, FunctionDef):
            if _calls_itself_concurrently(node.name, node.body):
                self.add(BLOCKED, "fork bomb (a function that starts copies of itself)")
            self.node(node.body, None)
        elif isinstance(node, Compound):
            for word in node.words:
                self._substitutions(word)
            self._redirects(node.redirects)
            self.script(node.body, stdin)
            if node.kind == "while" and _has_background(node.body) and not _has_break(node.body):
                self.add(DANGEROUS, "starts background processes in a loop")
        else:
            self.command(node, stdin)

    # -- simple commands --------------------------------------------------------------------------
    def command(self, cmd: Command, stdin: Stdin | None) -> None:
        for name, value in cmd.assignments:
            self._substitutions(value)
            text = value.text(self.variables)
            if text is None:
                self.variables.pop(name, None)
            else:
                self.variables[name] = text
            if name == "IFS":
                self.ifs_changed = True
        redirect_stdin = self._redirects(cmd.redirects)
        args: list[Arg] = []
        for word in cmd.words:
            self._substitutions(word)
            for piece in split_ifs(word):
                text = piece.text(self.variables)
                unquoted_var = any(p.kind == "var" and not p.quoted for p in piece.parts)
                if unquoted_var and self.ifs_changed:
                    args.append(Arg(None, piece))
                elif unquoted_var and text is not None and text.split() != [text]:
                    args.extend(Arg(t) for t in text.split())  # `c="rm -rf"; $c d` splits into words
                else:
                    args.append(Arg(text, piece))
        if not args:
            return
        stdin = redirect_stdin or stdin
        self._remember_written(cmd, args, stdin)
        self.argv(args, stdin, cmd)

    def _remember_written(self, cmd: Command, args: list[Arg], stdin: Stdin | None) -> None:
        """`cat > f <<EOF`, `echo ... > f`, `tee f`: what a file written here will contain."""
        name = posixpath.basename(args[0].text or "")
        texts = [a.text for a in args[1:]]
        content: str | None = None
        if stdin is not None and stdin.text is not None and (name == "tee" or (name == "cat" and not texts)):
            content = stdin.text
        elif name == "echo" and all(t is not None for t in texts):
            content = " ".join(t for t in texts if t is not None and not re.fullmatch(r"-[neE]+", t)) + "\n"
        elif name == "printf" and texts and all(t is not None for t in texts):
            content = " ".join(t for t in texts if t is not None).replace("\\n", "\n")
        appends = any(r.op in (">>", "&>>") for r in cmd.redirects) or (name == "tee" and "-a" in texts)
        targets = [r.target.text(self.variables) for r in cmd.redirects if r.op in (">", ">>", ">|", "&>", "&>>")]
        if name == "tee":
            targets += [t for t in texts if t is not None and not t.startswith("-")]
        for target in targets:
            if target and not target.isdigit():
                # Appending: what was in the file before is unknown, so running it asks.
                self.written[_norm(target)] = None if appends else content

    def _substitutions(self, word: Word) -> None:
        for sub in word.substitutions():
            if self.nesting >= MAX_NESTING:
                self.add(DANGEROUS, "substitutions nested too deeply to check")
                return
            self.nesting += 1
            try:
                self.script(sub)
            finally:
                self.nesting -= 1

    def _redirects(self, redirects: list) -> Stdin | None:
        stdin = None
        for redirect in redirects:
            self._substitutions(redirect.target)
            if redirect.heredoc is not None:
                if redirect.heredoc_expands:
                    try:
                        for sub in substitutions_in(redirect.heredoc, 0):
                            self.script(sub)
                    except ParseError as exc:
                        self.add(DANGEROUS, f"could not parse a here-document ({exc})")
                stdin = Stdin(text=redirect.heredoc)
                continue
            target = redirect.target.text(self.variables)
            if redirect.op in ("<", "<>") and target is not None:
                stdin = Stdin(file=target)
            if redirect.op in ("<", "<>") and (finding := credential_finding([target or redirect.target.shown()],
                                                                             self.cwd)):
                self.record(finding)
            if target is not None and ">" in redirect.op and not target.isdigit() and target != "-":
                finding = check_redirect_target(target)
                if finding:
                    self.record(finding)
        return stdin

    def _stdin_from(self, node: Node) -> Stdin:
        """What the previous command of a pipeline writes, when the line shows it."""
        if isinstance(node, Command) and node.words:
            argv = [w.text(self.variables) for w in node.words]
            name = posixpath.basename(argv[0] or "")
            if name == "echo" and all(a is not None for a in argv):
                rest = [a for a in argv[1:] if a is not None]
                while rest and re.fullmatch(r"-[neE]+", rest[0]):
                    rest = rest[1:]
                return Stdin(text=" ".join(rest) + "\n")
            if name == "printf" and len(argv) >= 2 and all(a is not None for a in argv):
                fmt = str(argv[1])
                return Stdin(text=fmt.replace("\\n", "\n") + " " + " ".join(str(a) for a in argv[2:]))
            if name == "cat" and len(argv) == 2 and argv[1] is not None and argv[1] in self.downloaded:
                return Stdin(producer=name, downloaded=True)
            return Stdin(producer=name or "a command", downloaded=name in _PIPE_FROM_DOWNLOAD)
        return Stdin(producer="a compound command")

    # -- argv -------------------------------------------------------------------------------------
    def argv(self, args: list[Arg], stdin: Stdin | None, cmd: Command | None = None, *, via_xargs: bool = False) -> None:
        head = args[0]
        if head.text is None:
            self.add(DANGEROUS, f"the command name is built at run time ({head.word.shown() if head.word else '?'})")
            return
        name = posixpath.basename(head.text)
        name = self.aliases.get(name, name) if "/" not in head.text or head.text.startswith("./") else name
        rest = args[1:]
        if head.text in self.downloaded or _norm(head.text) in self.downloaded:
            self.add(DANGEROUS, f"runs a file downloaded earlier in the command ({head.text})")
        elif "/" in head.text and _norm(head.text) in self.written:
            self._script_file(name, head, stdin)
        unwrapped = strip_wrapper(name, [a.text for a in rest])
        if unwrapped is not None:
            kind, index = unwrapped
            if kind == "script":  # eval / watch / su -c: the rest is shell text
                texts = [a.text for a in rest[index:]]
                if any(t is None for t in texts):
                    self.add(DANGEROUS, f"{name} runs text built at run time")
                elif texts:
                    self.text(" ".join(t for t in texts if t is not None), f"{name} string")
                return
            if kind == "lookup":  # command -v, type: no execution
                return
            if index < len(rest):
                self.argv(rest[index:], stdin, cmd, via_xargs=via_xargs or name == "xargs")
            return
        if name in SHELLS:
            self._shell(name, rest, stdin)
            return
        if name in ("source", "."):
            self._sourced(name, rest, stdin)
            return
        if name in INTERPRETERS or re.fullmatch(r"python[\d.]*|pypy3?|perl[\d.]*|ruby[\d.]*|nodejs|node|php[\d.]*", name):
            self._interpreter(name, rest, stdin)
            return
        if name in DOWNLOADERS:
            self._download(name, rest, cmd)
        if name in ("base64", "xxd", "openssl", "gunzip") and cmd is not None:
            for redirect in cmd.redirects:
                target = redirect.target.text(self.variables)
                if ">" in redirect.op and target:
                    self.downloaded.update({target, _norm(target)})
        if name == "find":
            self._find(rest)
            return
        if _more_runners(self, name, rest, stdin):
            return
        if name in ("cd", "pushd", "popd"):
            self._cd(rest if name != "popd" else [Arg(None)])
            return
        texts = [a.text for a in rest]
        for text in texts:  # tar --checkpoint-action=exec=..., --to-command=...: a command in an option
            match = re.match(r"^--?[\w-]*(?:exec|command|action)[\w-]*=(?:exec=)?(.+)$", text or "")
            if match:
                self.text(match.group(1), f"{name} option", lenient=True)
        if name in ("cp", "ln", "install", "mv") and len(texts) >= 2 and all(t is not None for t in texts[-2:]):
            src, dst = posixpath.basename(texts[-2] or ""), posixpath.basename((texts[-1] or "").rstrip("/"))
            if src and dst and src != dst:
                self.aliases[dst] = self.aliases.get(src, src)
        finding = check_plain_command(name, texts, via_xargs=via_xargs)
        if finding:
            self.record(finding)
        spelled = [a.text if a.text is not None else a.word.shown() if a.word else None for a in rest]
        if name not in NAMES_ONLY and (finding := credential_finding(spelled, self.cwd)):
            self.record(finding)

    def _shell(self, name: str, rest: list[Arg], stdin: Stdin | None) -> None:
        i = 0
        while i < len(rest):
            text = rest[i].text
            if text is None:
                break
            if text in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
                i += 2
                continue
            if text.startswith(("-", "+")) and text not in ("-", "--"):
                if "c" in text[1:] and not text.startswith("--"):
                    script = rest[i + 1] if i + 1 < len(rest) else None
                    if script is None or script.text is None:
                        self.add(DANGEROUS, f"{name} -c runs a script built at run time")
                    else:
                        self.text(script.text, f"{name} -c script")
                    return
                if text == "-s" or "s" in text[1:]:
                    break
                i += 1
                continue
            if text == "--":
                i += 1
            break
        operand = rest[i] if i < len(rest) else None
        if operand is not None and operand.text != "-":
            self._script_file(name, operand, stdin)
            return
        self._stdin_script(name, stdin, shell=True)

    def _script_file(self, name: str, operand: Arg, stdin: Stdin | None = None, *, shell: bool = True) -> None:
        sub = operand.process_substitution
        if operand.text in ("/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"):
            if stdin is None:
                self.add(DANGEROUS, f"{name} runs a script read from stdin")
            else:
                self._stdin_script(name, stdin, shell=shell)
        elif operand.text is not None and _norm(operand.text) in self.written:
            content = self.written[_norm(operand.text)]
            if content is None:
                self.add(DANGEROUS, f"{name} runs a script written earlier in the command ({operand.text})")
            elif shell:
                self.text(content, f"script {operand.text}")
            else:
                self.findings.extend(interpreter_code_findings(name, content, self))
        elif sub is not None:
            what = "downloaded " if _mentions(sub, DOWNLOADERS) else ""
            self.add(DANGEROUS, f"{name} runs a {what}script produced by another command ({name} <(...))")
        elif operand.text is None:
            self.add(DANGEROUS, f"{name} runs a script named at run time")
        elif operand.text in self.downloaded or _norm(operand.text) in self.downloaded:
            self.add(DANGEROUS, f"{name} runs a script downloaded earlier in the command ({operand.text})")

    def _sourced(self, name: str, rest: list[Arg], stdin: Stdin | None) -> None:
        if rest:
            self._script_file(name, rest[0], stdin)

    def _stdin_script(self, name: str, stdin: Stdin | None, *, shell: bool) -> None:
        if stdin is None:
            return
        if stdin.text is not None:
            if shell:
                self.text(stdin.text, f"script piped into {name}")
            else:
                self.findings.extend(interpreter_code_findings(name, stdin.text, self))
        elif stdin.file is not None:
            if stdin.file in self.downloaded or _norm(stdin.file) in self.downloaded:
                self.add(DANGEROUS, f"{name} runs a script downloaded earlier in the command")
        elif stdin.downloaded:
            self.add(DANGEROUS, f"pipes a download or decoded text into {name}")
        else:
            self.add(DANGEROUS, f"{name} runs a script read from a pipe ({stdin.producer} | {name})")

    def _interpreter(self, name: str, rest: list[Arg], stdin: Stdin | None) -> None:
        family = re.sub(r"[\d.]+$", "", name)
        code_flags = {"python": ("-c",), "pypy": ("-c",), "pypy3": ("-c",), "perl": ("-e", "-E"),
                      "ruby": ("-e",), "node": ("-e", "--eval", "-p", "--print"),
                      "nodejs": ("-e", "--eval", "-p", "--print"), "php": ("-r",)}.get(family, ("-c", "-e"))
        options: list[str] = []
        i = 0
        while i < len(rest):
            text = rest[i].text
            if text is None:
                self.add(DANGEROUS, f"{name} runs code built at run time")
                return
            flag = next((f for f in code_flags if text == f or (len(f) == 2 and text.startswith(f)
                                                                and family != "node")), None)
            if flag is not None:
                code = text[len(flag):] or (rest[i + 1].text if i + 1 < len(rest) else "")
                if code is None:
                    self.add(DANGEROUS, f"{name} runs code built at run time")
                    return
                self.findings.extend(interpreter_code_findings(name, " ".join(options) + "\n" + code, self))
                return
            if text in ("-m", "--module") or (family == "python" and text.startswith("-m") and len(text) > 2):
                return  # a module: its code is not in the line
            if text.startswith("-") and text != "-":
                options.append(text)
                if family == "perl" and re.fullmatch(r"-[a-zA-Z]*[lp]?[ane]*", text) and "e" in text:
                    code = rest[i + 1].text if i + 1 < len(rest) else ""
                    if code is None:
                        self.add(DANGEROUS, f"{name} runs code built at run time")
                        return
                    self.findings.extend(interpreter_code_findings(name, " ".join(options) + "\n" + code, self))
                    return
                if text in ("-W", "-X", "-I", "--require", "-r") and family in ("python", "node", "ruby"):
                    i += 1
                i += 1
                continue
            if text == "-":
                break
            sub = rest[i].process_substitution
            if (sub is not None or text in self.downloaded or _norm(text) in self.downloaded
                    or _norm(text) in self.written or text.startswith(("/dev/stdin", "/dev/fd/", "/proc/self/fd/"))):
                self._script_file(name, rest[i], stdin, shell=False)
            return  # a script file: its code is not in the line
        self._stdin_script(name, stdin, shell=False)

    def _download(self, name: str, rest: list[Arg], cmd: Command | None) -> None:
        texts = [a.text or "" for a in rest]
        urls = [t for t in texts if "://" in t]
        for i, text in enumerate(texts):
            nxt = texts[i + 1] if i + 1 < len(texts) else ""
            if text in ("-o", "--output", "-O", "--output-document") and nxt and not (name == "curl" and text == "-O"):
                self.downloaded.update({nxt, _norm(nxt)})
            elif text.startswith("--output=") or text.startswith("--output-document="):
                value = text.split("=", 1)[1]
                self.downloaded.update({value, _norm(value)})
            elif (name == "curl" and (text in ("-O", "--remote-name") or re.fullmatch(r"-[a-zA-Z]*O", text))) \
                    or (name == "wget" and not any(t in ("-O", "-qO-", "-O-") for t in texts)):
                for url in urls:
                    base = posixpath.basename(url.split("?", 1)[0].rstrip("/"))
                    if base:
                        self.downloaded.update({base, _norm(base)})
        if cmd is not None:
            for redirect in cmd.redirects:
                target = redirect.target.text(self.variables)
                if ">" in redirect.op and target and not target.isdigit():
                    self.downloaded.update({target, _norm(target)})

    def _find(self, rest: list[Arg]) -> None:
        texts = [a.text for a in rest]
        starts: list[str] = []
        for text in texts:
            if text is None or text.startswith("-") or text in ("(", "!", ")"):
                break
            starts.append(text)
        targets = tuple(_norm(s) for s in starts) or (".",)
        if "-delete" in texts:
            if any(is_root_like(s) for s in targets):
                self.add(BLOCKED, f"find -delete over {next(s for s in targets if is_root_like(s))}")
            else:
                self.add(DANGEROUS, "find -delete removes every match", "find -delete", targets)
        for i, text in enumerate(texts):
            if text in ("-exec", "-execdir", "-ok", "-okdir"):
                end = i + 1
                while end < len(texts) and texts[end] not in (";", "+"):
                    end += 1
                sub = rest[i + 1:end]
                if not sub:
                    continue
                before = len(self.findings)
                self.argv(sub, None)
                sub_name = posixpath.basename(sub[0].text or "")
                if sub_name in ("rm", "unlink", "shred") and not any(f.level == BLOCKED for f in self.findings[before:]):
                    del self.findings[before:]
                    if any(is_root_like(s) for s in targets) and sub_name == "rm":
                        self.add(BLOCKED, "find -exec rm over a system directory")
                    else:
                        self.add(DANGEROUS, f"find -exec {sub_name} removes every match", f"find -exec {sub_name}",
                                 targets)


def _norm(path: str) -> str:
    return norm_path(path) if path else path


def _iter_commands(node: Node, background: bool = False, piped: bool = False):
    """(command, in background, in a pipeline) for every simple command inside node."""
    if isinstance(node, Command):
        yield node, background, piped
    elif isinstance(node, FunctionDef):
        yield from _iter_commands(node.body, background, piped)
    else:
        for pipeline in node.body.pipelines:
            for inner in pipeline.commands:
                yield from _iter_commands(inner, background or pipeline.background,
                                          piped or len(pipeline.commands) > 1)


def _calls_itself_concurrently(name: str, body: Node) -> bool:
    for cmd, background, piped in _iter_commands(body):
        if cmd.words and cmd.words[0].literal == name and (background or piped):
            return True
    return False


def _has_background(script: Script) -> bool:
    return any(p.background for p in script.pipelines)


def _has_break(script: Script) -> bool:
    for pipeline in script.pipelines:
        for node in pipeline.commands:
            for cmd, _, _ in _iter_commands(node):
                if cmd.words and cmd.words[0].literal in ("break", "exit", "return", "sleep", "wait"):
                    return True
    return False


def _mentions(script: Script, names: frozenset[str]) -> bool:
    for pipeline in script.pipelines:
        for node in pipeline.commands:
            for cmd, _, _ in _iter_commands(node):
                if cmd.words and posixpath.basename(cmd.words[0].literal or "") in names:
                    return True
    return False


def classify(command: str) -> list[Finding]:
    """Every finding for a command line; a line that cannot be parsed gives a 'could not parse' one."""
    walker = Walker()
    try:
        script = parse(command)
    except (ParseError, RecursionError) as exc:
        return _hard_blocks_in_unparsed(command) + [Finding(DANGEROUS, f"could not parse the command ({exc})")]
    walker.script(script)
    return walker.findings


def _hard_blocks_in_unparsed(command: str) -> list[Finding]:
    """The hard block list still applies to a line the parser cannot read: split it crudely."""
    text = re.sub(r"\$\{?HOME\}?", "~", command.replace("\\", "").replace("'", "").replace('"', ""))
    walker = Walker()
    for piece in re.split(r"\$\(|&&|\|\||[;&|()`{}\n]", text):
        words = piece.split()
        if words:
            walker.argv([Arg(w) for w in words], None)
    return [f for f in walker.findings if f.level == BLOCKED]
