"""Fit ShareGPT trajectories under a token budget, summarising their middle turns with an LLM.

    python trajectory_compressor.py --input=data/my_run                     # a directory of .jsonl(.gz)
    python trajectory_compressor.py --input=data/trajectories.jsonl --sample_percent=15
    python trajectory_compressor.py --input=data/t.jsonl --output=data/c.jsonl --target_max_tokens=16000 \
        --tokenizer NousResearch/Hermes-3-Llama-3.1-8B

Tokens are counted with `--tokenizer` (a local directory or a Hugging Face name). The summary is
written by the model hermes is configured with (flags, OPENAI_BASE_URL / config / OPENROUTER_API_KEY
as for `hermes`), or `--model/--base-url/--api-key`. Each output record gets a `compression` field
with its metrics; `<output>.metrics.json` holds the totals. A sample whose summary fails is written
uncompressed, listed on stderr and in the metrics, and the exit code is 1.
Options may also come from a YAML `--config` (sections tokenizer, compression, protected_turns,
summarization, output, processing); flags win.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agent.errors import ConfigError, HermesError
from exports.compression import CompressionConfig, SummaryError, compress, region_text
from exports.writer import JsonlWriter

SUMMARY_SYSTEM = ("You compress the middle of an AI agent's working session so it can be used as training "
                  "data. Write a faithful, factual summary; never invent results.")
SUMMARY_PROMPT = (
    "Summarise these turns of an agent trajectory in at most {tokens} tokens of plain prose. Keep what later "
    "turns depend on: the commands and tools used, key results and values, files and paths touched, errors "
    "and how they were handled, and decisions made.\n\n{turns}"
)


# -- input -----------------------------------------------------------------------------------------
def input_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.name.endswith((".jsonl", ".jsonl.gz")))
        if not files:
            raise ConfigError(f"no .jsonl or .jsonl.gz files in {path}")
        return files
    if not path.is_file():
        raise ConfigError(f"{path}: no such file or directory")
    return [path]


def read_records(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    sys.stderr.write(f"trajectory_compressor: {path}:{number}: not JSON, skipped\n")
                    continue
                if isinstance(record, dict) and isinstance(record.get("conversations"), list):
                    yield record
                else:
                    sys.stderr.write(f"trajectory_compressor: {path}:{number}: no conversations list, skipped\n")


# -- the summarising model -------------------------------------------------------------------------
class LLMSummarizer:
    """One chat call per region through the same client and retry rules the agent uses."""

    def __init__(self, base_url: str | None, api_key: str | None, model: str | None, *, max_tokens: int,
                 temperature: float = 0.2, settings: Any = None) -> None:
        from agent import llm
        from agent.endpoint import resolve_endpoint
        from agent.settings import load_settings, retry_policy

        # hermes' own settings (config, .env, environment) with these flags on top.
        settings = settings or load_settings({"model": model, "base_url": base_url, "api_key": api_key})
        self.endpoint = resolve_endpoint(settings)
        self.client = llm.make_client(self.endpoint.base_url, self.endpoint.api_key, timeout=120.0)
        self.model = self.endpoint.model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.policy = retry_policy(settings)

    def _model(self) -> str:
        if self.model is None:
            from agent import llm

            models = llm.list_models(self.client)
            if not models:
                raise SummaryError(f"{self.endpoint.host} lists no models: pass --model")
            self.model = models[0]
        return self.model

    def __call__(self, turns: list[dict[str, str]]) -> str:
        from agent import llm
        from agent.retry import describe_error, is_retryable, retry_after_seconds

        prompt = SUMMARY_PROMPT.format(tokens=self.max_tokens, turns=region_text(turns))
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                params = {"model": self._model(), "max_tokens": self.max_tokens, "temperature": self.temperature,
                          "messages": [{"role": "system", "content": SUMMARY_SYSTEM},
                                       {"role": "user", "content": prompt}]}
                return llm.complete(self.client, params, stream=False).content
            except SummaryError:
                raise
            except Exception as exc:
                if not is_retryable(exc) or attempt == self.policy.max_attempts:
                    raise SummaryError(f"summary call failed after {attempt} attempt(s): {describe_error(exc)}") from None
                time.sleep(self.policy.delay(attempt, retry_after_seconds(exc)))
        raise SummaryError("summary call failed")


# -- options ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trajectory_compressor.py", description=__doc__.split("\n\n")[0],
                                allow_abbrev=False)
    p.add_argument("--input", required=True, type=Path, help="ShareGPT .jsonl/.jsonl.gz file or a directory of them")
    p.add_argument("--output", type=Path, help="output .jsonl (default: <input>_compressed.jsonl)")
    p.add_argument("--config", type=Path, help="YAML options (flags win)")
    p.add_argument("--tokenizer", help="tokenizer directory or Hugging Face name used to count tokens")
    p.add_argument("--target-max-tokens", "--target_max_tokens", type=int, dest="target_max_tokens")
    p.add_argument("--protect-last-n-turns", "--protect_last_n_turns", type=int, dest="protect_last_n_turns")
    p.add_argument("--summary-target-tokens", "--summary_target_tokens", type=int, dest="summary_target_tokens")
    p.add_argument("--sample-percent", "--sample_percent", type=float, dest="sample_percent",
                   help="compress a random sample of this many percent of the input")
    p.add_argument("--seed", type=int, default=None, help="random seed for --sample-percent (default 0)")
    p.add_argument("--workers", type=int, default=None, help="summaries in flight at once (default 4)")
    p.add_argument("--model", help="summarising model (default: hermes' configured model)")
    p.add_argument("--base-url", help="endpoint for the summarising model")
    p.add_argument("--api-key", help="API key for that endpoint")
    p.add_argument("--no-summary-notice", action="store_true", help="do not add the summary notice to the system turn")
    return p


def _yaml_options(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections")
    flat: dict[str, Any] = {}
    section_keys = {
        ("tokenizer", "name"): "tokenizer",
        ("compression", "target_max_tokens"): "target_max_tokens",
        ("compression", "summary_target_tokens"): "summary_target_tokens",
        ("protected_turns", "last_n_turns"): "protect_last_n_turns",
        ("summarization", "model"): "model",
        ("summarization", "base_url"): "base_url",
        ("output", "add_summary_notice"): "add_summary_notice",
        ("processing", "sample_percent"): "sample_percent",
        ("processing", "workers"): "workers",
        ("processing", "seed"): "seed",
    }
    for (section, key), name in section_keys.items():
        value = (data.get(section) or {}).get(key)
        if value is not None:
            flat[name] = value
    for key in ("first_system", "first_human", "first_gpt", "first_tool"):
        value = (data.get("protected_turns") or {}).get(key)
        if value is not None:
            flat[f"protect_{key}"] = bool(value)
    return flat


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    settings = {"target_max_tokens": 15250, "summary_target_tokens": 750, "protect_last_n_turns": 4,
                "workers": 4, "seed": 0, "add_summary_notice": True}
    settings.update(_yaml_options(args.config))
    for key, value in vars(args).items():
        if value is not None and key not in ("no_summary_notice", "config"):
            settings[key] = value
    if args.no_summary_notice:
        settings["add_summary_notice"] = False
    return settings


def _sample(records: list[dict[str, Any]], percent: float | None, seed: int) -> list[dict[str, Any]]:
    if percent is None or percent >= 100:
        return records
    if not 0 < percent:
        raise ConfigError("--sample-percent must be between 0 and 100")
    keep = sorted(random.Random(seed).sample(range(len(records)), max(1, round(len(records) * percent / 100))))
    return [records[i] for i in keep] if records else []


# -- main ------------------------------------------------------------------------------------------
def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    s = _settings(args)
    if not s.get("tokenizer"):
        raise ConfigError("pass --tokenizer (a tokenizer directory or Hugging Face name) to count tokens")
    from exports.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(s["tokenizer"])
    config = CompressionConfig(
        target_max_tokens=int(s["target_max_tokens"]), summary_target_tokens=int(s["summary_target_tokens"]),
        protect_last_n_turns=int(s["protect_last_n_turns"]), add_summary_notice=bool(s["add_summary_notice"]),
        **{k: s[k] for k in ("protect_first_system", "protect_first_human", "protect_first_gpt",
                             "protect_first_tool") if k in s},
    )
    summarizer = LLMSummarizer(s.get("base_url"), s.get("api_key"), s.get("model"),
                               max_tokens=config.summary_target_tokens)
    records = _sample(list(read_records(input_files(args.input))), s.get("sample_percent"), int(s["seed"]))
    output = args.output or args.input.with_name(args.input.name.split(".")[0] + "_compressed.jsonl")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, int(s["workers"]))) as pool:
        results = list(pool.map(lambda r: compress(r, tokenizer.count_many, summarizer, config), records))
    totals: dict[str, Any] = {"samples": len(results), "by_status": {}, "failures": []}
    with JsonlWriter(str(output)) as writer:
        for index, (record, metrics) in enumerate(results):
            writer.write(json.dumps({**record, "compression": metrics}, ensure_ascii=False))
            totals["by_status"][metrics["status"]] = totals["by_status"].get(metrics["status"], 0) + 1
            if metrics["status"] == "failed":
                totals["failures"].append({"index": index, "error": metrics["error"]})
                sys.stderr.write(f"trajectory_compressor: sample {index} kept uncompressed: {metrics['error']}\n")
    totals["original_tokens"] = sum(m["original_tokens"] for _, m in results)
    totals["compressed_tokens"] = sum(m["compressed_tokens"] for _, m in results)
    totals["seconds"] = round(time.perf_counter() - started, 2)
    metrics_path = Path(str(output) + ".metrics.json")
    tmp = metrics_path.with_name(f".{metrics_path.name}.tmp")
    tmp.write_text(json.dumps(totals, indent=2) + "\n", encoding="utf-8")
    tmp.replace(metrics_path)
    statuses = ", ".join(f"{n} {k}" for k, n in sorted(totals["by_status"].items()))
    sys.stderr.write(f"trajectory_compressor: {len(results)} samples -> {output} ({statuses}); "
                     f"{totals['original_tokens']} -> {totals['compressed_tokens']} tokens; metrics in {metrics_path}\n")
    return 1 if totals["failures"] else 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except ConfigError as exc:
        sys.stderr.write(f"trajectory_compressor: error: {exc}\n")
        return 2
    except HermesError as exc:
        sys.stderr.write(f"trajectory_compressor: error: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
