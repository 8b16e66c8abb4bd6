"""The real REPL in a pseudo-terminal: /image, pasted image paths, the todo list on screen."""

from __future__ import annotations

import base64

from scripted_server import Reply, ToolCall
from scripted_server.server import TEXT_ONLY_LLAMACPP
from tests.media.images import png_bytes, write_png
from tests.repl import test_repl_pty

repl_factory = test_repl_pty.repl_factory  # the REPL-in-a-pty fixture


def last_user(request) -> object:
    return [m for m in request.body["messages"] if m["role"] == "user"][-1]["content"]


def data_url(**kwargs) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(**kwargs)).decode()


def test_slash_image_attaches_to_the_next_message_only(repl_factory, tmp_path):
    shot = write_png(tmp_path / "my shot.png")
    llm, repl = repl_factory([Reply(content="a red square"), Reply(content="plain")], cwd=tmp_path)
    shown = repl.output_of("/image my\\ shot.png")
    assert "attached to your next message: my shot.png (png, 1 KB)" in shown
    assert "dropped 1 attached image(s)" in repl.output_of("/image clear")
    repl.say(f"/image {shot}")
    assert "my shot.png" in repl.output_of("/image")
    notes = repl.output_of("what is it?")
    assert "sending 1 image(s): my shot.png" in notes and "a red square" in notes
    repl.say("and now?")
    first, second = llm.chat_requests
    assert last_user(first) == [{"type": "text", "text": "what is it?"},
                                {"type": "image_url", "image_url": {"url": data_url()}}]
    assert last_user(second) == "and now?"
    bad = tmp_path / "notes.png"
    bad.write_text("text", encoding="utf-8")
    assert "is not a PNG, JPEG, GIF or WebP image" in repl.output_of(f"/image {bad}")
    assert repl.quit() == 0


def test_pasted_and_dragged_paths_become_images(repl_factory, tmp_path):
    blue = write_png(tmp_path / "dir with space" / "blue shot.png", rgb=(0, 0, 255))
    llm, repl = repl_factory([Reply(content="blue"), Reply(content="blue again")], cwd=tmp_path)
    escaped = str(blue).replace(" ", "\\ ")
    repl.say(f"{escaped} what colour?")
    repl.say(f"compare 'file://{str(blue).replace(' ', '%20')}' please")
    first, second = llm.chat_requests
    assert last_user(first) == [{"type": "text", "text": "[image: blue shot.png] what colour?"},
                                {"type": "image_url", "image_url": {"url": data_url(rgb=(0, 0, 255))}}]
    assert last_user(second)[0] == {"type": "text", "text": "compare [image: blue shot.png] please"}
    assert repl.quit() == 0


def test_a_text_only_model_is_one_line_and_the_session_goes_on(repl_factory, tmp_path):
    shot = write_png(tmp_path / "shot.png")
    llm, repl = repl_factory([Reply(content="text answer")], llm_options={"reject_images": TEXT_ONLY_LLAMACPP})
    shown = repl.output_of(f"{shot} what is this?")
    assert "model scripted-model does not accept images" in shown and "drop the image or use a vision model" in shown
    assert "Traceback" not in shown
    assert "text answer" in repl.output_of("ok, without it then")
    sent = llm.chat_requests[-1].body["messages"]
    assert sent[1]["content"].startswith("[image: shot.png] what is this?\n[1 image(s) not sent")
    assert repl.quit() == 0


def test_the_todo_list_is_shown_after_each_update(repl_factory):
    plan = [{"id": "1", "text": "read the code", "status": "done"},
            {"id": "2", "text": "write the tests", "status": "in_progress"},
            {"id": "3", "text": "update README", "status": "pending"}]
    llm, repl = repl_factory([Reply(tool_calls=[ToolCall("todo", {"todos": plan})]), Reply(content="planned")])
    shown = repl.output_of("plan it")
    assert "☑ read the code" in shown and "◐ write the tests" in shown and "☐ update README" in shown
    assert shown.index("✓ todo") < shown.index("☑ read the code") < shown.index("planned")
    assert repl.quit() == 0
