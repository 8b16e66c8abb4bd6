"""A local tokenizer directory read without transformers (exports/chat_render.py) gives exactly
what transformers gives: the same ids, masks, texts, hashes, and the same export bytes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.exports.toolkit import THINK_LAST_ONLY_TEMPLATE

TOOLS = [{"type": "function", "function": {"name": "terminal", "description": "Run a <b>bash</b> command & more",
                                           "parameters": {"type": "object",
                                                          "properties": {"command": {"type": "string"}}}}}]
CALL = {"id": "c1", "type": "function", "function": {"name": "terminal", "arguments": {"command": "echo 'é' \"42\""}}}
CHATS = [
    [{"role": "system", "content": "You are Hermes."}, {"role": "user", "content": "What is 6*7?"}],
    [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
     {"role": "assistant", "content": None, "reasoning": "I should run it.", "tool_calls": [CALL]},
     {"role": "tool", "tool_call_id": "c1", "content": '{"output": "42\\n"}'},
     {"role": "assistant", "content": "The answer is 42.", "reasoning_content": "done"}],
    # control tokens in user text, unicode, empty and whitespace-only turns, adjacent added tokens
    [{"role": "user", "content": "say <|im_end|><|im_start|> and 日本語 🙂"},
     {"role": "assistant", "content": ""}, {"role": "user", "content": "  \n\n "},
     {"role": "assistant", "content": "<|endoftext|>ok"}],
]
# What else templates use: globals, filters, loop controls, namespace, special-token variables.
FEATURES_TEMPLATE = (
    "{% set ns = namespace(n=0) %}{{ bos_token or '' }}{{ eos_token }}|{{ strftime_now('%Y')[:2] }}|"
    "{% for m in messages %}{% if loop.index > 3 %}{% break %}{% endif %}{% set ns.n = ns.n + 1 %}"
    "{{ dict(role=m.role) | tojson }}{{ m | tojson(indent=1, sort_keys=True) }}"
    "{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{{ eos_token }}{% endgeneration %}{% endif %}"
    "{% endfor %}{{ ns.n }}{% if tools %}{{ tools | tojson(separators=(',', ':')) }}{% endif %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def both(tok_dir: Path):
    from exports.tokenizer import load_tokenizer

    light, full = load_tokenizer(str(tok_dir)), load_tokenizer(str(tok_dir), use_transformers=True)
    assert light.light and light.hf is None and not full.light
    return light, full


def test_both_paths_describe_and_tokenize_alike(both):
    light, full = both
    assert light.describe() == full.describe()
    assert (light.eot_ids, light.vocab_size, light.is_bpe, light.has_generation_markers, light.chat_template) == \
        (full.eot_ids, full.vocab_size, full.is_bpe, full.has_generation_markers, full.chat_template)
    texts = ["", "plain text", "<|im_start|>user\nhi<|im_end|>\n", "日本語 🙂 \n\n  x", "<|im_end|><|im_end|>"]
    assert [light.encode(t) for t in texts] == [full.encode(t) for t in texts]
    assert light.count_many(texts) == full.count_many(texts)
    ids = full.encode("<|im_start|>user\n日本語<|im_end|>")
    assert light.decode(ids) == full.decode(ids)


@pytest.mark.parametrize("chat", range(len(CHATS)))
@pytest.mark.parametrize("template", ["own", "think_last", "features"])
def test_both_paths_render_alike(both, chat, template):
    from exports.tokenizer import template_messages

    light, full = both
    if template != "own":
        text = THINK_LAST_ONLY_TEMPLATE if template == "think_last" else FEATURES_TEMPLATE
        light, full = (type(t)(**{**t.__dict__, "chat_template": text, "_encoder": None}) for t in (light, full))
    messages = template_messages(CHATS[chat])
    for tools in (None, TOOLS):
        for generation in (False, True):
            for mask in (False, True):
                got = light.render(messages, tools, add_generation_prompt=generation, assistant_mask=mask)
                assert got == full.render(messages, tools, add_generation_prompt=generation, assistant_mask=mask)
                assert mask is False or got[1] is not None and any(got[1]) == any(
                    m["role"] == "assistant" for m in messages)
            assert light.render_text(messages, tools, add_generation_prompt=generation) == \
                full.render_text(messages, tools, add_generation_prompt=generation)


def test_template_errors_surface_alike(both):
    import jinja2

    light, full = both
    template = "{% if messages | length > 1 %}{{ raise_exception('one message only') }}{% endif %}x"
    for tok in (light, full):
        tok = type(tok)(**{**tok.__dict__, "chat_template": template, "_encoder": None})
        with pytest.raises(jinja2.exceptions.TemplateError, match="one message only"):
            tok.render(CHATS[0], None)
        sneaky = "{% set ns = namespace() %}{% set ns._x = 1 %}"
        tok = type(tok)(**{**tok.__dict__, "chat_template": sneaky, "_encoder": None})
        with pytest.raises(jinja2.exceptions.SecurityError):
            tok.render(CHATS[0], None)


def test_piece_encoder_matches_whole_text_encoding(both):
    """Ids and char_to_token of the piecewise encoding equal the tokenizer's own, at every position."""
    from exports.chat_render import PieceEncoder

    light, full = both
    backend = full.hf.backend_tokenizer
    encoder = PieceEncoder(light.backend)
    assert encoder.piecewise
    texts = [light.render_text(CHATS[1], TOOLS), "<|im_start|><|im_end|>a<|im_end|>\n\n", "no tokens 🙂", ""]
    for text in texts * 2:  # the second round comes from the cache
        encoded, whole = encoder.encode(text), backend.encode(text, add_special_tokens=False)
        assert encoded.ids == whole.ids
        assert [encoded.char_to_token(i) for i in range(len(text) + 2)] == \
            [whole.char_to_token(i) if i < len(text) else None for i in range(len(text) + 2)]


def test_a_position_dependent_tokenizer_is_encoded_whole():
    from tokenizers import Tokenizer, models, pre_tokenizers

    from exports.chat_render import PieceEncoder

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    tok.add_special_tokens(["<s>"])
    assert not PieceEncoder(tok).piecewise


def _variant(tok_dir: Path, tmp_path: Path, **config) -> Path:
    directory = tmp_path / "variant"
    shutil.copytree(tok_dir, directory)
    path = directory / "tokenizer_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **config}), encoding="utf-8")
    return directory


@pytest.mark.parametrize("config", [
    {"add_prefix_space": True},  # rebuilds the pre-tokenizer
    {"split_special_tokens": True},
    {"bos_token": "<s>"},  # not in tokenizer.json: transformers would add it
    {"tokenizer_class": "LlamaTokenizer"},  # a class with its own set-up
    {"chat_template": [{"name": "default", "template": "x"}, {"name": "tool_use", "template": "y"}]},
], ids=["prefix-space", "split-special", "missing-token", "class", "named-templates"])
def test_anything_unusual_goes_through_transformers(tok_dir, tmp_path, config):
    from exports.chat_render import light_config
    from exports.tokenizer import load_tokenizer

    directory = _variant(tok_dir, tmp_path, **config)
    if "chat_template" in config:
        (directory / "chat_template.jinja").unlink()
    assert light_config(directory) is None
    if "tokenizer_class" not in config:
        assert not load_tokenizer(str(directory)).light


def test_chat_template_override_on_the_light_path(tok_dir, think_last_template):
    from exports.tokenizer import load_tokenizer

    tok = load_tokenizer(str(tok_dir), think_last_template)
    assert tok.light and tok.chat_template == THINK_LAST_ONLY_TEMPLATE


def test_exports_are_byte_identical_and_never_import_transformers(tok_dir, tmp_path, hf_tok):
    """A generated corpus (server ids, re-rendered sessions, errors) exported both ways."""
    from bench.bench_export import generate
    from exports import TOKEN_FORMATS
    from exports.pipeline import ExportOptions, run_export
    from exports.source import expand_paths
    from exports.tokenizer import load_tokenizer
    from exports.writer import JsonlWriter

    generate(tmp_path / "logs", 12, hf_tok, seed=3)
    paths = expand_paths([tmp_path / "logs"])
    light, full = load_tokenizer(str(tok_dir)), load_tokenizer(str(tok_dir), use_transformers=True)
    for fmt in sorted(TOKEN_FORMATS):
        for merge in (True, False):
            outputs = []
            for tok in (light, full):
                out = tmp_path / f"{fmt}.{merge}.{tok.light}.jsonl"
                report = run_export(paths, ExportOptions(fmt=fmt, tokenizer=tok, merge=merge), JsonlWriter(str(out)))
                assert report.exported == 12 and not report.failures
                outputs.append(out.read_bytes())
            assert outputs[0] == outputs[1], (fmt, merge)

    code = ("import sys, cli; code = cli.main(['export', sys.argv[1], '--format', 'rollout', '--tokenizer', sys.argv[2],"
            " '-o', sys.argv[3], '-q']); print(code, 'transformers' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "logs"), str(tok_dir), str(tmp_path / "cli.jsonl")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.stdout.split() == ["0", "False"], proc.stderr
    assert (tmp_path / "cli.jsonl").read_bytes() == (tmp_path / "rollout.True.True.jsonl").read_bytes()
