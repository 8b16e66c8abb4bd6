"""`search_files` inside a remote environment (docker, ssh, singularity, modal).

ripgrep when the environment has it, with the same arguments as locally. Without it, `find` lists
the candidate files (hidden entries, node_modules and __pycache__ pruned), this side sorts them and
applies the glob exactly as the Python engine does, and `grep -E` searches that list. So results
have the same order and shape as locally; only the regex dialect differs (POSIX ERE instead of
Python's `re`, e.g. no `\\d`), which is why a Python-invalid pattern is still rejected here first.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from typing import Any
from weakref import WeakKeyDictionary

from tools.environments.files import BINARY_SNIFF_BYTES, RemoteFiles
from tools.file_read import missing_file_error

TIME_BUDGET = 30.0  # seconds, as locally
TRANSPORT_SLACK = 30.0  # run_raw waits this much longer than the remote budget before giving up
RC_MARK = "__HERMES_SEARCH_RC__"
_rg_present: WeakKeyDictionary = WeakKeyDictionary()


def _has_rg(files: RemoteFiles) -> bool:
    from tools import file_search

    if not file_search.USE_RG:
        return False
    found = _rg_present.get(files.env)
    if found is None:
        found = "yes" in files.run("command -v rg >/dev/null 2>&1 && echo yes; exit 0\n", timeout=30)[1]
        _rg_present[files.env] = found
    return found


def _split(root: str, is_file: bool) -> tuple[str, str]:
    """The directory to run in and the path argument, as `_rg_base` does locally."""
    return (os.path.dirname(root), os.path.basename(root)) if is_file else (root, ".")


def _timeout_prefix() -> str:
    # `timeout` stops the search where it runs; without it, the local run_raw deadline still applies.
    return f'__hto=; command -v timeout >/dev/null 2>&1 && __hto="timeout {TIME_BUDGET:g}"\n'


def _run_search(files: RemoteFiles, script: str) -> tuple[list[str], int, str]:
    """(stdout lines, exit code of the search command, stderr without the marker)."""
    code, out, err = files.run(script, timeout=TIME_BUDGET + TRANSPORT_SLACK)
    rc = code
    lines = err.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith(RC_MARK):
            value = lines[i][len(RC_MARK):].strip()
            rc = int(value) if value.lstrip("-").isdigit() else code
            del lines[i]
            break
    return out.split("\n"), rc, "\n".join(lines)


def _rg(files: RemoteFiles, root: str, is_file: bool, argv: list[str], limit: int, content: bool):
    from tools import file_search as fs

    cwd, target = _split(root, is_file)
    args = ["rg", "--sort", "path", "--no-config", "--max-filesize", "5M", "--color", "never"]
    for skip in fs.SKIP_DIRS:
        args += ["--glob", f"!{skip}"]
    args += [*argv, "--", target]
    keep = "LC_ALL=C grep '^{\"type\":\"match\"' | " if content else ""
    script = (
        f"cd -- {shlex.quote(cwd)} || exit 1\n{_timeout_prefix()}"
        f"$__hto {shlex.join(args)} | {keep}head -n {limit + 1}\n"
        f"builtin printf '\\n%s %s\\n' {RC_MARK} \"${{PIPESTATUS[0]}}\" >&2\n"
    )
    lines, rc, err = _run_search(files, script)
    results: list = []
    for raw in lines:
        if not raw:
            continue
        if content:
            data = json.loads(raw)["data"]
            path = os.path.normpath(os.path.join(cwd, fs._rg_text(data["path"])))
            results.append((path, data["line_number"], fs._clip(fs._rg_text(data["lines"]))))
        else:
            results.append(os.path.normpath(os.path.join(cwd, raw)))
    truncated = len(results) > limit or rc == 124
    results = results[:limit]
    error = err.strip() if rc == 2 and not results else ""
    return results, truncated, error


def _candidates(files: RemoteFiles, root: str, is_file: bool, glob: Any) -> tuple[list[str], str]:
    """Absolute paths of candidate files in the Python engine's order, glob applied; or an error."""
    from tools import file_search as fs

    if is_file:
        return [root], ""
    prune = " -o ".join(["-name '.*'", *(f"-name {shlex.quote(d)}" for d in fs.SKIP_DIRS)])
    code, out, err = files.run(
        f"cd -- {shlex.quote(root)} || exit 1\n"
        f"find . -mindepth 1 \\( {prune} \\) -prune -o -type f -print\n",
        timeout=TIME_BUDGET + TRANSPORT_SLACK,
    )
    if code != 0 and not out:
        return [], err.strip() or f"find failed (exit code {code})"
    rels = [line[2:] for line in out.split("\n") if line.startswith("./")]
    # Sorting by path components is the Python engine's order: names sorted at every level.
    rels.sort(key=lambda rel: rel.split("/"))
    return [os.path.join(root, rel) for rel in rels if glob is None or glob.allows(rel)], ""


def _grep(files: RemoteFiles, paths: list[str], pattern: str, limit: int):
    from tools import file_search as fs

    listing = "".join(f"{path}\n" for path in paths if "\n" not in path)
    script = (
        f"__hq={shlex.quote(pattern)}\n"
        'LC_ALL=C grep -E -e "$__hq" </dev/null >/dev/null; [ $? -eq 2 ] && exit 2\n'
        "__hn=0\n"
        "while IFS= read -r __hf; do\n"
        f"  [ $SECONDS -ge {int(TIME_BUDGET)} ] && {{ echo $'\\002'; break; }}\n"
        '  __hz=$(wc -c 2>/dev/null <"$__hf") || continue\n'
        f'  [ "$__hz" -le {fs.MAX_FILE_BYTES} ] || continue\n'
        '  __ho=$(LC_ALL=C grep -n -E -e "$__hq" -- "$__hf" 2>/dev/null) || continue\n'
        # Binary files are skipped like locally: a NUL byte in the first 8 KiB.
        f'  [ "$(head -c {BINARY_SNIFF_BYTES} -- "$__hf" | wc -c)" -eq '
        f'"$(head -c {BINARY_SNIFF_BYTES} -- "$__hf" | tr -d \'\\000\' | wc -c)" ] || continue\n'
        "  builtin printf '\\001%s\\n%s\\n' \"$__hf\" \"$__ho\"\n"
        '  __hn=$((__hn + $(builtin printf \'%s\\n\' "$__ho" | wc -l)))\n'
        f"  [ $__hn -gt {limit} ] && break\n"
        "done <<'__HERMES_LIST__'\n"
        f"{listing}__HERMES_LIST__\n"
        f"builtin printf '\\n%s 0\\n' {RC_MARK} >&2\n"
    )
    lines, rc, err = _run_search(files, script)
    if rc == 2:
        return [], False, err.strip() or "invalid regular expression"
    matches, truncated, current = [], False, ""
    for line in lines:
        if line.startswith("\001"):
            current = line[1:]
        elif line == "\002":
            truncated = True
        elif current and (m := re.match(r"(\d+):", line)):
            if len(matches) >= limit:
                truncated = True
                break
            matches.append((current, int(m.group(1)), fs._clip(line[m.end():])))
    return matches, truncated, ""


def remote_search(files: RemoteFiles, root: str, base: str, pattern: str, target: str, glob: str | None,
                  limit: int) -> tuple[dict[str, Any] | None, str]:
    """(result fields, "") or (None, error message) — the same shapes as the local engines."""
    from tools import file_search as fs

    try:
        info = files.stat(root)
    except OSError as exc:
        return None, f"cannot read {root}: {exc}"
    if info.kind == "missing":
        return None, missing_file_error(root, files)
    is_file = info.kind == "file"
    rg = _has_rg(files)

    if target == "files":
        if info.kind != "dir":
            return None, f"{root} is not a directory; target=files searches a directory"
        name_glob = pattern if fs._GLOB_CHARS & set(pattern) else f"*{pattern}*"
        if rg:
            found, truncated, error = _rg(files, root, False, ["--files", "--glob", name_glob], limit, False)
        else:
            found, error = _candidates(files, root, False, fs.GlobFilter(name_glob))
            truncated, found = len(found) > limit, found[:limit]
        if error:
            return None, f"search failed: {error}"
        return {"files": [fs._display(f, base) for f in found], "truncated": truncated}, ""

    if rg:
        argv = ["--json", *(["--glob", glob] if glob else []), "-e", pattern]
        matches, truncated, error = _rg(files, root, is_file, argv, limit, True)
        if error:
            return None, f"search failed (ripgrep): {error[:1000]}"
    else:
        try:
            re.compile(pattern, re.MULTILINE)
        except re.error as exc:
            return None, f"invalid regex {pattern!r}: {exc}"
        paths, error = _candidates(files, root, is_file, fs.GlobFilter(glob) if glob else None)
        if not error:
            matches, truncated, error = _grep(files, paths, pattern, limit)
        if error:
            return None, f"search failed (grep): {error[:1000]}"
    return {"matches": [{"path": fs._display(p, base), "line": n, "text": t} for p, n, t in matches],
            "truncated": truncated}, ""
