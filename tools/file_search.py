"""`search_files`: regex over file contents, or glob over file names. ripgrep when present, else Python.

Both engines walk in the same order (sorted by name), skip hidden entries, `node_modules` and
`__pycache__`, binary files and files over 5 MB, and return the same shapes:
    content: {"matches": [{"path", "line", "text"}], "truncated": bool}
    files:   {"files": [path, ...], "truncated": bool}
Paths are relative to the terminal's cwd when inside it, else absolute. Only ripgrep honours
.gitignore files. On a remote backend the search runs there (file_search_remote.py).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from tools.environments.files import BINARY_SNIFF_BYTES
from tools.file_read import missing_file_error, task_files
from tools.registry import Tool, ToolContext, register, tool_error, tool_result

USE_RG = True  # set False to force the pure-Python engine (tests do)
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TEXT_CHARS = 300
TIME_BUDGET = 30.0  # seconds
SKIP_DIRS = ("node_modules", "__pycache__")
_GLOB_CHARS = set("*?[{")


def rg_path() -> str | None:
    return shutil.which("rg") if USE_RG else None


def _clip(text: str) -> str:
    text = text.rstrip("\r\n")
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + " [...]"


def _display(path: str, base: str) -> str:
    rel = os.path.relpath(path, base)
    return path if rel == ".." or rel.startswith("../") else rel


# -- glob matching (gitignore-style, as ripgrep's --glob) ------------------------------------------

def glob_to_regex(glob: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and "]" in glob[i + 2:]:
            end = glob.index("]", i + 2)
            body = glob[i + 1: end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        elif glob[i] == "{" and "}" in glob[i:]:
            end = glob.index("}", i)
            out.append("(?:" + "|".join(re.escape(part) for part in glob[i + 1: end].split(",")) + ")")
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


class GlobFilter:
    """One `--glob` the way ripgrep applies it: `!` negates; no slash means 'match the file name'."""

    def __init__(self, glob: str) -> None:
        self.negate = glob.startswith("!")
        glob = glob[1:] if self.negate else glob
        self.anchored = "/" in glob.rstrip("/")
        self.regex = glob_to_regex(glob.lstrip("/"))

    def allows(self, rel_path: str) -> bool:
        subject = rel_path if self.anchored else rel_path.rsplit("/", 1)[-1]
        return bool(self.regex.match(subject)) != self.negate


# -- Python engine -----------------------------------------------------------------------------------

def _walk(root: str) -> Iterator[tuple[str, str]]:
    """(absolute path, path relative to root) of candidate files, sorted by name at every level."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(".") or entry.name in SKIP_DIRS:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                for abs_path, rel in _walk(entry.path):
                    yield abs_path, f"{entry.name}/{rel}"
            elif entry.is_file(follow_symlinks=False):
                yield entry.path, entry.name
        except OSError:
            continue


def _candidates(root: str, glob: GlobFilter | None) -> Iterator[tuple[str, str]]:
    if os.path.isfile(root):
        yield root, os.path.basename(root)
        return
    for abs_path, rel in _walk(root):
        if glob is None or glob.allows(rel):
            yield abs_path, rel


def _py_content(root: str, regex: re.Pattern[str], glob: GlobFilter | None, limit: int):
    matches, deadline = [], time.monotonic() + TIME_BUDGET
    for abs_path, _ in _candidates(root, glob):
        if time.monotonic() > deadline:
            return matches, True
        try:
            if os.path.getsize(abs_path) > MAX_FILE_BYTES:
                continue
            with open(abs_path, "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        if b"\0" in data[:BINARY_SNIFF_BYTES]:
            continue
        text = data.decode("utf-8", errors="replace")
        if not regex.search(text):
            continue
        for number, line in enumerate(text.split("\n"), start=1):
            if regex.search(line):
                if len(matches) >= limit:
                    return matches, True
                matches.append((abs_path, number, _clip(line)))
    return matches, False


def _py_files(root: str, glob: GlobFilter, limit: int):
    files = []
    for abs_path, _ in _candidates(root, glob):
        if len(files) >= limit:
            return files, True
        files.append(abs_path)
    return files, False


# -- ripgrep engine ----------------------------------------------------------------------------------

def _rg_base(rg: str, root: str) -> tuple[list[str], str, str]:
    """Common rg arguments, the directory to run in and the path argument."""
    cwd, target = (os.path.dirname(root), os.path.basename(root)) if os.path.isfile(root) else (root, ".")
    args = [rg, "--sort", "path", "--no-config", "--max-filesize", "5M", "--color", "never"]
    for skip in SKIP_DIRS:
        args += ["--glob", f"!{skip}"]
    return args, cwd, target


def _rg_text(obj: dict[str, Any]) -> str:
    if "text" in obj:
        return obj["text"]
    return base64.b64decode(obj.get("bytes", "")).decode("utf-8", errors="replace")


def _rg_run(argv: list[str], cwd: str, limit: int, parse) -> tuple[list, bool, str]:
    """Run rg, parse stdout line by line, stop it once `limit` results are in."""
    results: list = []
    truncated = False
    # stderr goes to a file: a pipe nobody reads could fill up (one warning per unreadable file).
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=err, start_new_session=True)
        deadline = time.monotonic() + TIME_BUDGET
        try:
            for raw in proc.stdout:
                item = parse(raw)
                if item is None:
                    continue
                if len(results) >= limit or time.monotonic() > deadline:
                    truncated = True
                    break
                results.append(item)
        finally:
            if truncated or sys.exc_info()[0] is not None:
                proc.kill()
            proc.stdout.close()
            proc.wait()
        err.seek(0)
        stderr = err.read(4000).decode("utf-8", errors="replace")
    error = stderr.strip() if proc.returncode == 2 and not results and not truncated else ""
    return results, truncated, error


def _rg_content(rg: str, root: str, pattern: str, glob: str | None, limit: int):
    args, cwd, target = _rg_base(rg, root)
    args += ["--json"] + (["--glob", glob] if glob else []) + ["-e", pattern, "--", target]

    def parse(raw: bytes):
        if not raw.startswith(b'{"type":"match"'):
            return None
        data = json.loads(raw)["data"]
        path = os.path.normpath(os.path.join(cwd, _rg_text(data["path"])))
        return path, data["line_number"], _clip(_rg_text(data["lines"]))

    return _rg_run(args, cwd, limit, parse)


def _rg_files(rg: str, root: str, glob: str, limit: int):
    args, cwd, target = _rg_base(rg, root)
    args += ["--files", "--glob", glob, "--", target]

    def parse(raw: bytes):
        name = raw.rstrip(b"\n").decode("utf-8", errors="surrogateescape")
        return os.path.normpath(os.path.join(cwd, name)) if name else None

    return _rg_run(args, cwd, limit, parse)


# -- the tool ------------------------------------------------------------------------------------------

def search_files(args: dict[str, Any], ctx: ToolContext) -> str:
    pattern = args.get("pattern")
    target = args.get("target") or "content"
    glob = args.get("glob") or None
    if not isinstance(pattern, str) or not pattern:
        return tool_error("pattern must be a non-empty string")
    if target not in ("content", "files"):
        return tool_error("target must be 'content' (regex over contents) or 'files' (glob over names)")
    try:
        limit = min(max(int(args.get("limit") or DEFAULT_LIMIT), 1), MAX_LIMIT)
    except (TypeError, ValueError):
        return tool_error("limit must be an integer")
    files, error = task_files(ctx.task_id, ctx.terminal)
    if files is None:
        return tool_error(error)
    base = files.resolve(".")
    root = files.resolve(args.get("path") or ".")
    if files.remote:  # search where the terminal runs, not on this machine
        from tools.file_search_remote import remote_search

        fields, error = remote_search(files, root, base, pattern, target, glob, limit)
        return tool_result(**fields) if fields is not None else tool_error(error)
    if not os.path.exists(root):
        return tool_error(missing_file_error(root))
    from tools.gate import policy_for

    policy = policy_for(ctx.task_id, ctx.terminal)  # its read_refusal is the gate read_file uses too
    if refusal := policy.read_refusal(root):
        return tool_error(refusal)
    rg = rg_path()

    if target == "files":
        if not os.path.isdir(root):
            return tool_error(f"{root} is not a directory; target=files searches a directory")
        name_glob = pattern if _GLOB_CHARS & set(pattern) else f"*{pattern}*"
        if rg:
            files, truncated, error = _rg_files(rg, root, name_glob, limit)
        else:
            files, truncated = _py_files(root, GlobFilter(name_glob), limit)
            error = ""
        if error:
            return tool_error(f"search failed: {error}")
        return tool_result(files=[_display(f, base) for f in files], truncated=truncated)

    if rg:
        matches, truncated, error = _rg_content(rg, root, pattern, glob, limit)
        if error:
            return tool_error(f"search failed (ripgrep): {error[:1000]}")
    else:
        try:
            regex = re.compile(pattern, re.MULTILINE)
        except re.error as exc:
            return tool_error(f"invalid regex {pattern!r}: {exc}")
        matches, truncated = _py_content(root, regex, GlobFilter(glob) if glob else None, limit)
    # Credential files (the agent's and the user's keys) never show up, even under the search root.
    matches = [m for m in matches if policy.read_refusal(m[0]) is None]
    return tool_result(
        matches=[{"path": _display(p, base), "line": n, "text": t} for p, n, t in matches], truncated=truncated
    )


TOOL = register(
    Tool(
        name="search_files",
        toolset="file",
        description="Search file contents by regex (target=content) or find files by name glob (target=files).",
        parameters={
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "Regex, or a name glob for target=files"},
                "path": {"type": "string", "description": "Directory or file (default: cwd)"},
                "target": {"type": "string", "enum": ["content", "files"]},
                "glob": {"type": "string", "description": "Only files matching this glob, e.g. *.py"},
                "limit": {"type": "integer", "description": "Max results (default 100)"},
            },
            "required": ["pattern"],
        },
        handler=search_files,
    )
)
