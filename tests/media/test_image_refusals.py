"""Which endpoint errors count as "this model does not take images" (the real SDK's errors)."""

from __future__ import annotations

import httpx
import openai

from agent.images import rejection_line

WITH_IMAGE = [{"role": "user", "content": [{"type": "text", "text": "hi"},
                                           {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}]
TEXT_ONLY = [{"role": "user", "content": "hi"}]


def api_error(status: int, message: str) -> openai.APIStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(status, request=request, json={"error": {"message": message}})
    return openai.APIStatusError(message, response=response, body={"error": {"message": message}})


def test_image_refusals_are_recognised_only_when_images_were_sent():
    refusals = [(400, "Qwen2ForCausalLM is not a multimodal model"),
                (400, "Invalid content type. image_url is only supported by certain models."),
                (404, "No endpoints found that support image input"),
                (500, "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj")]
    for status, message in refusals:
        line = rejection_line(api_error(status, message), WITH_IMAGE, "m")
        assert line == f"model m does not accept images: HTTP {status}: {message}; drop the image or use a vision model"
        assert rejection_line(api_error(status, message), TEXT_ONLY, "m") is None
    for status, message in ((400, "maximum context length exceeded"), (401, "image key invalid"),
                            (429, "rate limit for image requests")):
        assert rejection_line(api_error(status, message), WITH_IMAGE, "m") is None
