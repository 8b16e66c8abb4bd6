"""Every secret shape in every place (prompt, tool output, model reply, environment) stays out of the
session files, every export format (token ids decoded), replay output, stderr and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recording.redact import spellings
from scripted_server import Reply, ToolCall
from tests.conftest import run_hermes
from tests.exports.test_export_filters_secrets import every_export, log_token_text
from tests.exports.toolkit import record_session, reply


def shapes(place: str) -> tuple[str, list[str]]:
    """Text with one secret of every shape, tagged by `place`, and the needles that must not leak."""
    p = place
    jwt = f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2Vy{p}In0.c2lnbmF0dXJl{p}x9Kq"
    secrets = {
        "jwt": (f"session cookie {jwt}", [jwt]),
        "url": (f"git remote https://deploy:UrlPw{p}9x7@git.example.invalid/r.git", [f"UrlPw{p}9x7"]),
        "aws_id": (f"key id AKIA{p.upper()}BCDEFGHIJKLMNOP", [f"AKIA{p.upper()}BCDEFGHIJKLMNOP"]),
        "aws_secret": (f"aws_secret_access_key = wJalrXUtnFEMI{p}K7MDENGbPxRfiCYEXAMPLEKE",
                       [f"wJalrXUtnFEMI{p}K7MDENGbPxRfiCYEXAMPLEKE"]),
        "pem": (f"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN{p}PemBody123\n-----END PRIVATE KEY-----",
                [f"MIIEvQIBADAN{p}PemBody123"]),
        "bearer": (f"curl -H 'Authorization: Bearer beartok{p}abcdefghij123'", [f"beartok{p}abcdefghij123"]),
        "password": (f"password=Hunter{p}Pw2 and PASSWORD: Second{p}Pw3", [f"Hunter{p}Pw2", f"Second{p}Pw3"]),
        "entropy": (f'{{"client_secret": "Zq8{p}Lm4Np7Rt2Vw9Xy3"}}', [f"Zq8{p}Lm4Np7Rt2Vw9Xy3"]),
        "env_print": (f"MY_SERVICE_TOKEN=short{p}tok\nPATH=/usr/bin", [f"short{p}tok"]),
    }
    return "\n".join(text for text, _ in secrets.values()), [n for _, needles in secrets.values() for n in needles]


# Known to hermes through its environment: one with quotes and a backslash, one under an innocent
# name that only its value (a URL with a password) gives away.
KNOWN = 'kn"own\\sec-ret-Q7v'
DB_PASSWORD = "plainwords-db-pass-4471"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"HERMES_TEST_SECRET_TOKEN": KNOWN, "DATABASE_URL": f"postgres://app:{DB_PASSWORD}@db.invalid/prod"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def known_needles() -> list[str]:
    return sorted(spellings(KNOWN) | spellings(DB_PASSWORD), key=len)


def test_every_shape_in_every_place_stays_out_of_logs_exports_and_replay(scripted_llm, log_dir, vllm, tok_dir,
                                                                          tmp_path: Path, secret_env):
    prompt_text, prompt_needles = shapes("p")
    tool_text, tool_needles = shapes("t")
    reply_text, reply_needles = shapes("r")
    # The tool prints the known secrets raw and inside JSON (so the log holds them escaped 3 times).
    dump = tmp_path / "dump.txt"
    dump.write_text(tool_text + f"\n{KNOWN}\n{json.dumps({'k': KNOWN, 'db': DB_PASSWORD})}\n", encoding="utf-8")
    replies = [reply(calls=[ToolCall("terminal", {"command": f"cat {dump}"}, id="call_1")]),
               reply(f"{reply_text}\nand the known ones: {KNOWN} {DB_PASSWORD}")]
    llm = scripted_llm(replies, **vllm.server_kwargs())
    log = record_session(llm, f"{prompt_text}\nWhat is in the dump?", log_dir, token_capture=True)
    tool_result = json.loads(vllm.calls[1]["body"]["messages"][-1]["content"])["output"]
    assert "Huntert" + "Pw2" in tool_result and KNOWN in tool_result  # the model did see them

    needles = prompt_needles + tool_needles + reply_needles + known_needles()
    places = {"event log (+ decoded ids)": log_token_text(log, tok_dir),
              "session file": log.with_suffix(".json").read_text(encoding="utf-8")}
    places.update({f"export {fmt}": text for fmt, text in every_export(log, tok_dir).items()})
    replayed = run_hermes("replay", str(log), "--yolo", "--full", "--json")
    assert replayed.returncode == 0, replayed.stderr
    places["replay"] = replayed.stdout + replayed.stderr
    assert "[REDACTED]" in places["replay"]
    for where, text in places.items():
        leaked = [needle for needle in needles if needle in text]
        assert not leaked, (where, leaked)
    assert "[REDACTED]" in places["session file"]
    assert "MY_SERVICE_TOKEN=[REDACTED]" in places["session file"]  # the name stays readable


def test_stderr_and_json_output_are_redacted_including_an_endpoint_error_echoing_the_key(scripted_llm):
    key = "sk-echoed-0123456789abcdefXYZ"
    body = {"error": {"message": f"Incorrect API key provided: {key}. Find yours at example.invalid", "code": 401}}
    for fmt in ("text", "json"):
        llm = scripted_llm([Reply(status=401, error_body=body)])
        result = run_hermes("-p", "hi", "--base-url", llm.base_url, "--model", "m", "--api-key", key,
                            "--output-format", fmt)
        assert result.returncode != 0
        assert key not in result.stdout + result.stderr, fmt
        assert "[REDACTED]" in result.stdout + result.stderr, fmt

    text, needles = shapes("o")
    llm = scripted_llm([Reply(content=f"here: {text} {KNOWN}")])
    result = run_hermes("-p", "show", "--base-url", llm.base_url, "--model", "m", "--api-key", key,
                        "--output-format", "json", env={"HERMES_TEST_SECRET_TOKEN": KNOWN})
    assert result.returncode == 0, result.stderr
    answer = result.json()["answer"]
    assert "[REDACTED]" in answer
    assert not [n for n in needles + sorted(spellings(KNOWN)) if n in result.stdout + result.stderr]
