"""Explicit Hugging Face `datasets.Features` for the token exports (rollout, atropos, verl).

`datasets` infers a JSON file's schema from its own rows: a column null in every row of one file
(atropos `inference_logprobs` / verl `response_logprobs` when no trained token has the server's
logprob, `reward` when no rewards were given, batch-only keys) is typed `null` there, and such a
file cannot come before a file where the column holds values ("Couldn't cast ... to null"). The
exports keep those nulls: both trainers read a null as "recompute", while any filler would be read
as the sampling policy's logprob. Passing these features makes every file one schema, in any order:

    datasets.load_dataset("json", data_files=[...], split="train", features=features_for("verl"))

`datasets` is imported only when this is called (it is not a runtime dependency of hermes).
"""

from __future__ import annotations

from typing import Any

FORMATS = ("rollout", "atropos", "verl")


def _meta(v: Any, lst: Any) -> dict[str, Any]:
    """Per-sample metadata (`adapters.meta`): the record keys plus the `hermes batch` ones."""
    return {
        "session_id": v("string"), "sample": v("int64"), "calls": lst(v("int64")), "model": v("string"),
        "token_source": v("string"), "tokenizer": v("string"), "tokenizer_sha256": v("string"),
        "chat_template_sha256": v("string"), "finish_reason": v("string"), "truncated": v("bool"),
        "completed": v("bool"), "group_id": v("string"), "group_sample": v("int64"),
    }


def features_for(fmt: str) -> Any:
    """The `datasets.Features` of one export format's JSONL rows; ValueError for other formats
    (their inferred schemas already agree across files)."""
    if fmt not in FORMATS:
        raise ValueError(f"no explicit features for {fmt!r}: only {', '.join(FORMATS)} need them")
    from datasets import Features, Json, List, Value

    meta = _meta(Value, List)
    ints, floats = List(Value("int64")), List(Value("float64"))
    if fmt == "rollout":
        span = {"role": Value("string"), "start": Value("int64"), "end": Value("int64"),
                "messages": ints, "call": Value("int64")}
        return Features(meta | {
            "tokens": ints, "loss_mask": ints, "logprobs": floats, "turn_spans": List(span),
            "prompt_len": Value("int64"), "reward": Value("float64"), "calls_left_out": Value("string"),
        })
    if fmt == "atropos":
        return Features({
            "tokens": List(ints), "masks": List(ints), "scores": floats,
            "inference_logprobs": List(floats), "advantages": List(floats), "ref_logprobs": List(floats),
            "messages": List(List({"role": Value("string"), "content": Value("string")})),
            "generation_params": Json(), "group_overrides": {"group_size": Value("int64")},
            "overrides": List({"hermes": meta}), "images": Json(),
        })
    return Features({
        "prompt_ids": ints, "response_ids": ints, "response_mask": ints, "response_logprobs": floats,
        "reward_score": Value("float64"), "num_turns": Value("int64"),
        "metrics": {"generate_sequences": Value("float64"), "tool_calls": Value("float64"),
                    "compute_score": Value("float64"), "num_preempted": Value("int64")},
        "extra_fields": meta,
    })
