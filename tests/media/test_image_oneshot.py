"""`-p … --image`: what the model is sent, what a text-only model gives, what the log keeps."""

from __future__ import annotations

import base64
import stat

from scripted_server import Reply
from scripted_server.server import TEXT_ONLY_OPENAI, TEXT_ONLY_VLLM
from tests.conftest import read_jsonl, run_hermes
from tests.media.images import JPEG, png_bytes, write_png

KEY = "sk-test-0123456789abcdef"


def flags(llm) -> list[str]:
    return ["--base-url", llm.base_url, "--api-key", KEY, "--model", "scripted-model", "--toolsets", "file"]


def user_parts(request) -> list[dict]:
    return [m for m in request.body["messages"] if m["role"] == "user"][-1]["content"]


def test_images_are_sent_as_content_parts_with_their_type_by_magic(scripted_llm, tmp_path):
    llm = scripted_llm([Reply(content="a red square and a photo")])
    png = write_png(tmp_path / "shot.png")
    jpg = tmp_path / "photo.JPEG.png"  # the name lies: the bytes say JPEG
    jpg.write_bytes(JPEG)
    result = run_hermes("-p", "what are these?", "--image", str(png), "--image", str(jpg), *flags(llm),
                        "--output-format", "stream-json")
    assert result.returncode == 0, result.stderr
    events = result.json_lines()
    assert events[0]["images"] == [str(png), str(jpg)] and events[-1]["answer"] == "a red square and a photo"
    parts = user_parts(llm.chat_requests[0])
    assert parts[0] == {"type": "text", "text": "what are these?"}
    assert parts[1] == {"type": "image_url", "image_url": {
        "url": "data:image/png;base64," + base64.b64encode(png_bytes()).decode()}}
    assert parts[2]["image_url"]["url"] == "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()


def test_bad_images_are_usage_errors_before_any_model_call(scripted_llm, tmp_path):
    llm = scripted_llm([Reply(content="unused")])
    text = tmp_path / "notes.png"
    text.write_text("not a picture", encoding="utf-8")
    big = tmp_path / "big.png"
    big.write_bytes(png_bytes() + b"\0" * (21 * 1024 * 1024))
    cases = {str(tmp_path / "missing.png"): "No such file", str(text): "is not a PNG, JPEG, GIF or WebP image",
             str(big): "over the 20 MB limit"}
    for path, expected in cases.items():
        result = run_hermes("-p", "look", "--image", path, *flags(llm))
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert lines[0].startswith("hermes: error: --image:") and expected in lines[0]
    assert llm.chat_requests == []


def test_a_text_only_model_gives_one_line_and_loses_nothing(scripted_llm, tmp_path, log_dir):
    for message in (TEXT_ONLY_VLLM, TEXT_ONLY_OPENAI):  # llama.cpp's: tests/media/test_media_repl.py
        llm = scripted_llm([Reply(content="I read your text")], reject_images=message)
        png = write_png(tmp_path / "shot.png")
        result = run_hermes("-p", "describe it", "--image", str(png), *flags(llm))
        assert result.returncode == 1 and result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert lines[0] == (f"hermes: error: model scripted-model does not accept images: HTTP 400: {message}; "
                            "drop the image or use a vision model")
        assert len(llm.chat_requests) == 1  # a refusal is not retried
    # Nothing lost: the prompt is in the log (with its picture), and --continue goes on without it.
    llm = scripted_llm([Reply(content="continuing")], reject_images=TEXT_ONLY_VLLM)
    result = run_hermes("-p", "and now?", "--continue", *flags(llm))
    assert (result.returncode, result.stdout) == (0, "continuing\n"), result.stderr
    sent = llm.chat_requests[0].body["messages"]
    assert sent[1] == {"role": "user", "content": "describe it\n[1 image(s) not sent: model scripted-model "
                                                  "does not accept images]"}
    assert sent[-1] == {"role": "user", "content": "and now?"}
    log = sorted(log_dir.glob("session_*.jsonl"))[-1]
    events = read_jsonl(log)
    assert any(e["type"] == "history_edit" and e["action"] == "images_rejected" for e in events)
    first = next(e["message"] for e in events if e["type"] == "message")
    assert first["content"][1]["image_url"]["file"].endswith(".png")


def test_recorded_images_are_files_by_sha256_and_resume_sends_the_same_bytes(scripted_llm, tmp_path, log_dir):
    import hashlib

    llm = scripted_llm([Reply(content="red"), Reply(content="still red")])
    png = write_png(tmp_path / "shot.png")
    assert run_hermes("-p", "colour?", "--image", str(png), *flags(llm)).returncode == 0
    log = next(log_dir.glob("session_*.jsonl"))
    raw = log.read_text(encoding="utf-8")
    assert "base64" not in raw  # the log references the file; it does not inline it
    sha = hashlib.sha256(png_bytes()).hexdigest()
    stored = log.with_suffix(".images") / f"{sha}.png"
    assert stored.read_bytes() == png_bytes()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    message = next(e["message"] for e in read_jsonl(log) if e["type"] == "message")
    assert message["content"][1] == {"type": "image_url", "image_url": {
        "file": f"{log.stem}.images/{sha}.png", "mime": "image/png"}}
    from recording.reader import list_sessions, load_session

    assert [(s.first_prompt, s.user_turns) for s in list_sessions(log_dir)] == [("colour?", 1)]  # /sessions
    assert load_session(log).first_prompt == "colour?"
    # the same picture again is the same file
    assert run_hermes("-p", "again", "--image", str(png), "--continue", *flags(llm)).returncode == 0
    assert len(list(log.with_suffix(".images").iterdir())) == 1
    first_parts = user_parts(llm.chat_requests[0])
    assert user_parts(llm.chat_requests[1]) == [{"type": "text", "text": "again"}, first_parts[1]]
    # resume rebuilt the first prompt's data URL from the file, byte for byte
    assert llm.chat_requests[1].body["messages"][1]["content"] == first_parts


def test_a_big_picture_does_not_count_as_its_base64_in_the_context_budget(scripted_llm, tmp_path):
    # 3 MB of base64 would be ~1M "tokens" by the chars/4 estimate: far past 80% of the 128k window,
    # so the earlier conversation would be summarised (an extra model call) before the prompt is sent.
    from scripted_server import ToolCall

    steps = [Reply(tool_calls=[ToolCall("read_file", {"path": str(tmp_path / f"f{i}.txt")})]) for i in range(4)]
    llm = scripted_llm([*steps, Reply(content="read them")])
    assert run_hermes("-p", "read the files", *flags(llm)).returncode == 0
    llm = scripted_llm([Reply(content="big picture seen"), Reply(content="SUMMARY")])
    big = tmp_path / "big.png"
    big.write_bytes(png_bytes() + b"\0" * (3 * 1024 * 1024))
    result = run_hermes("-p", "look", "--image", str(big), "--continue", *flags(llm))
    assert (result.returncode, result.stdout) == (0, "big picture seen\n"), result.stderr
    assert len(llm.chat_requests) == 1  # no summary call
    sent = llm.chat_requests[0].body["messages"]
    assert len(sent) == 12 and sent[-1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
