"""`hermes batch` rows with `images`: the same content parts as `--image`, the same checks."""

from __future__ import annotations

import base64
import json

from scripted_server import Reply
from tests.batch.test_batch_runner import batch, write_dataset
from tests.media.images import png_bytes, write_png


def test_batch_rows_send_their_images(scripted_llm, tmp_path):
    llm = scripted_llm(default=Reply(content="seen"))
    write_png(tmp_path / "pics" / "a.png")
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "describe", "images": ["pics/a.png"]},
                                                    {"prompt": "no picture"}])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "r", "--num-workers", "1")
    assert result.returncode == 0, result.stderr
    sent = {json.dumps(r.body["messages"][-1]["content"]) for r in llm.chat_requests}
    url = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    assert sent == {json.dumps("no picture"), json.dumps([{"type": "text", "text": "describe"},
                                                          {"type": "image_url", "image_url": {"url": url}}])}
    bad = write_dataset(tmp_path / "bad.jsonl", [{"prompt": "x", "images": "pics/missing.png"}])
    result = batch(llm, tmp_path, str(bad), "--run-name", "r2")
    assert result.returncode == 2 and "bad.jsonl:1: image pics/missing.png: No such file" in result.stderr
