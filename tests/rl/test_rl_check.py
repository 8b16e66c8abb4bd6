"""`hermes rl check GROUPS.jsonl`: a good file passes (exit 0, a summary); each broken invariant is
one line naming the group, sequence and position, and the exit status is 1. (A file written by
`hermes rl atropos ... process` for real is checked in test_rl_cli.py.)"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest

from tests.conftest import run_hermes

if importlib.util.find_spec("atroposlib") is None:
    pytest.skip("atroposlib is not installed (it is in the dev extra)", allow_module_level=True)


def good_group() -> dict:
    return {"tokens": [[5, 6, 7, 8], [5, 6, 9]], "masks": [[-100, -100, 7, 8], [-100, -100, 9]],
            "scores": [1.0, 0.0], "inference_logprobs": [[1.0, 1.0, -0.5, -0.01], [1.0, 1.0, -2.0]],
            "messages": [[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
                         [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]]}


def write(path: Path, groups: list[dict | str]) -> Path:
    path.write_text("".join((g if isinstance(g, str) else json.dumps(g)) + "\n" for g in groups), encoding="utf-8")
    return path


def test_a_good_file_passes_with_a_summary(tmp_path):
    path = write(tmp_path / "groups.jsonl", [good_group(), good_group()])
    result = run_hermes("rl", "check", str(path), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"{path}: 2 groups, 4 sequences, 14 tokens, 6 trained (43% trained); scores mean 0.5 (min 0, max 1)",
        f"{path}: OK"]


def _broken(change) -> dict:
    group = copy.deepcopy(good_group())
    change(group)
    return group


BROKEN = [  # (group, the one violation it must produce), each on its own line after a good group
    (_broken(lambda g: g["masks"][0].__setitem__(2, 99)),
     "sequence 0 position 2: mask 99 is neither -100 nor the token 7"),
    (_broken(lambda g: g["masks"][1].pop()), "sequence 1: 2 masks for 3 tokens"),
    (_broken(lambda g: g["inference_logprobs"][0].__setitem__(0, -0.3)),
     "sequence 0 position 0: inference_logprob -0.3 where masked (Atropos expects 1.0)"),
    (_broken(lambda g: g["inference_logprobs"][1].__setitem__(2, 1.0)),
     "sequence 1 position 2: inference_logprob 1.0 on a trained token (a logprob is finite and <= 0)"),
    (_broken(lambda g: g["inference_logprobs"][1].__setitem__(2, float("-inf"))),
     "sequence 1 position 2: inference_logprob -inf on a trained token (a logprob is finite and <= 0)"),
    ({"tokens": [], "masks": [], "scores": []}, ": no sequences (tokens is empty)"),
    (_broken(lambda g: g["scores"].__setitem__(1, float("nan"))), ": score nan is not a finite number"),
    (_broken(lambda g: g["inference_logprobs"][1].pop()), "sequence 1: 2 inference_logprobs for 3 tokens"),
    (_broken(lambda g: (g["masks"].__setitem__(1, [-100] * 3), g["inference_logprobs"].__setitem__(1, [1.0] * 3))),
     "sequence 1: no trained token (every mask is -100)"),
    (_broken(lambda g: g["scores"].pop()), ": 1 scores for 2 sequences"),
    (_broken(lambda g: g["messages"][1][1].__setitem__("content", "yo<|im_end|>")),
     "sequence 1 message 1: end-of-turn text <|im_end|> in assistant content"),
    (_broken(lambda g: g.pop("masks")), ": atroposlib's ScoredData rejects it: masks: Field required"),
    ('{"tokens": [[1]], ', ": not JSON (Expecting property name enclosed in double quotes at column 19)"),
]


def test_each_violation_is_one_line_and_exit_1(tmp_path):
    path = write(tmp_path / "groups.jsonl", [good_group(), *(group for group, _ in BROKEN)])
    result = run_hermes("rl", "check", str(path), timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for number, (_, expected) in enumerate(BROKEN, 2):
        line = f"  line {number}{'' if expected.startswith(':') else ' '}{expected}"
        assert line in lines, (line, result.stdout)
    assert lines[-1] == f"{path}: {len(BROKEN)} violation(s)"
    assert len(lines) == 1 + len(BROKEN) + 1, result.stdout  # summary, violations, verdict


def test_with_a_tokenizer_ids_must_be_in_its_vocabulary_and_its_end_token_is_known(tmp_path, tokenizer_dir,
                                                                                    chat_tokenizer):
    big = chat_tokenizer.vocab_size + 5
    eos = chat_tokenizer.decode([chat_tokenizer.hf.eos_token_id] if chat_tokenizer.hf else
                                [chat_tokenizer.backend.token_to_id("<|im_end|>")])
    outside = _broken(lambda g: (g["tokens"][0].__setitem__(3, big), g["masks"][0].__setitem__(3, big)))
    leaked = _broken(lambda g: g["messages"][0][1].__setitem__("content", f"hello{eos}"))
    path = write(tmp_path / "groups.jsonl", [outside, leaked])
    result = run_hermes("rl", "check", str(path), "--tokenizer", str(tokenizer_dir), timeout=120)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (f"  line 1 sequence 0 position 3: token {big} is outside the tokenizer's vocabulary "
            f"(size {chat_tokenizer.vocab_size})") in lines
    assert f"  line 2 sequence 0 message 1: end-of-turn text {eos} in assistant content" in lines


def test_notes_and_usage_errors(tmp_path):
    no_logprobs = _broken(lambda g: g.pop("inference_logprobs"))
    same = _broken(lambda g: g.__setitem__("scores", [1.0, 1.0]))
    path = write(tmp_path / "groups.jsonl", [no_logprobs, same])
    result = run_hermes("rl", "check", str(path), timeout=120)
    assert result.returncode == 0, result.stdout
    assert "  note: 1 group(s) without inference_logprobs (importance-sampling trainers need them)" in result.stdout
    assert "  note: 1 group(s) whose scores are all equal" in result.stdout

    missing = run_hermes("rl", "check", str(tmp_path / "nope.jsonl"), timeout=120)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"hermes rl: error: cannot read {tmp_path / 'nope.jsonl'}: No such file or directory"
    empty = run_hermes("rl", "check", str(write(tmp_path / "empty.jsonl", [])), timeout=120)
    assert empty.returncode == 1 and "  no groups in the file" in empty.stdout
    bare = run_hermes("rl", "check", timeout=120)
    assert bare.returncode == 2 and "hermes rl check: error:" in bare.stderr
