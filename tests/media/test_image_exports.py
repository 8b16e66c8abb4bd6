"""A session with a picture, exported: content parts where the format has them, `<image>` elsewhere."""

from __future__ import annotations

import base64
import json

from scripted_server import Reply
from tests.conftest import read_jsonl, run_hermes
from tests.media.images import png_bytes, write_png

URL = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()


def test_exports_carry_the_picture(scripted_llm, tmp_path, log_dir):
    from hermes_cli.export_cmd import main as export

    llm = scripted_llm([Reply(content="red")])
    shot = write_png(tmp_path / "shot.png")
    result = run_hermes("-p", "colour?", "--image", str(shot), "--base-url", llm.base_url,
                        "--model", "scripted-model", "--toolsets", "file")
    assert result.returncode == 0, result.stderr
    log = next(log_dir.glob("session_*.jsonl"))
    parts = [{"type": "text", "text": "colour?"}, {"type": "image_url", "image_url": {"url": URL}}]
    out = {}
    for fmt in ("openai", "messages", "sharegpt", "atif"):
        out[fmt] = tmp_path / f"{fmt}.jsonl"
        assert export([str(log), "--format", fmt, "--output", str(out[fmt])]) == 0
    openai_user = [m for m in read_jsonl(out["openai"])[0]["messages"] if m["role"] == "user"]
    assert openai_user == [{"role": "user", "content": parts}]
    messages_user = [m for m in read_jsonl(out["messages"])[0]["messages"] if m["role"] == "user"]
    assert messages_user == [{"role": "user", "content": parts}]
    human = [t for t in read_jsonl(out["sharegpt"])[0]["conversations"] if t["from"] == "human"]
    assert human == [{"from": "human", "value": "<image>\ncolour?"}]
    atif = out["atif"].read_text(encoding="utf-8")
    assert "<image>\\ncolour?" in atif and "base64" not in atif
    # the live session file (ShareGPT) has the placeholder too, not megabytes of base64
    session_file = json.loads(log.with_suffix(".json").read_text(encoding="utf-8"))
    assert "<image>\ncolour?" in json.dumps(session_file, ensure_ascii=False).replace("\\n", "\n")


def test_an_edited_log_cannot_make_resume_send_other_files(tmp_path):
    from recording.images import externalize, restore

    log = tmp_path / "session_x.jsonl"
    message = {"role": "user", "content": [{"type": "text", "text": "hi"},
                                           {"type": "image_url", "image_url": {"url": URL, "detail": "low"}}]}
    logged = externalize(message, log)
    assert restore(logged, tmp_path) == message  # byte for byte, `detail` kept
    (tmp_path / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\nSECRET")
    for forged in ("../secret.png", "secret.png", "session_x.images/../secret.png", "/etc/hostname"):
        part = {"type": "image_url", "image_url": {"file": forged, "mime": "image/png"}}
        restored = restore({"role": "user", "content": [part]}, tmp_path / "logs")
        assert restored["content"] == [{"type": "text", "text": f"[image missing: {forged}]"}]
