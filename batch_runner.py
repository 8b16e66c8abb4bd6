"""Batch data generation: a JSONL file of prompts -> agent runs -> training data under data/<run>/.

    python batch_runner.py --dataset-file prompts.jsonl --run-name my_run --num-workers 16
    hermes batch prompts.jsonl --run-name my_run --distribution development --resume
    hermes batch prompts.jsonl --run-name rl --n 8 --temperature 1.0 --seed 7 --verify 'pytest -q'
    hermes batch prompts.jsonl --run-name part2 --shard 2/4      (then: hermes batch merge OUT SHARD_DIRS...)

The seed's underscore spellings (`--dataset_file`, `--run_name`, ...) are accepted too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hermes batch", description="Run every prompt of a JSONL dataset through the agent, concurrently.",
        epilog="Outputs: data/<run>/trajectories.jsonl (ShareGPT + batch fields), failed.jsonl, statistics.json, "
               "checkpoint.json, run.json, sessions/ (event logs), rollouts.jsonl (with --rollout --tokenizer). "
               "Merge the runs of --shard I/N with: hermes batch merge OUT_DIR SHARD_DIR... (see --help there).")
    p.add_argument("dataset", nargs="?", type=Path, help="JSONL with one {\"prompt\": ...} per line")
    p.add_argument("--dataset-file", type=Path, help="same as the positional DATASET")
    p.add_argument("--run-name", help="name of the run: results go to <output-dir>/<run-name>/")
    p.add_argument("--output-dir", type=Path, default=Path("data"), help="where runs are kept (default: data)")
    p.add_argument("--num-workers", "--concurrency", type=int, default=4, help="samples in flight (default 4)")
    p.add_argument("--max-turns", type=int, default=10, help="model calls per sample (default 10)")
    p.add_argument("--sample-timeout", type=float, default=600.0, help="seconds per sample before it is stopped")
    p.add_argument("--max-samples", type=int, help="use only the first N prompts")
    p.add_argument("--model")
    p.add_argument("--base-url")
    p.add_argument("--api-key")
    p.add_argument("--ephemeral-system-prompt", help="guides the model during the run; never saved")
    p.add_argument("--distribution", default="default", help="toolset distribution (see --list-distributions)")
    p.add_argument("--list-distributions", action="store_true", help="list toolset distributions and exit")
    p.add_argument("--seed", type=int, help="seed for the toolset draws (default 0) and, when given, sent with "
                   "every request: sample j of a prompt gets seed+j")
    rl = p.add_argument_group("RL data: samples per prompt, sampling, rewards, sharding")
    rl.add_argument("--n", type=int, default=1, metavar="K", help="samples per prompt, one group per prompt (default 1)")
    rl.add_argument("--temperature", type=float, help="sent with every request (a row's `temperature` wins)")
    rl.add_argument("--top-p", type=float, help="sent with every request (a row's `top_p` wins)")
    rl.add_argument("--max-tokens", type=int, help="sent with every request (a row's `max_tokens` wins)")
    rl.add_argument("--verify", metavar="CMD", help="verifier for rows without their own `verify`: run in the "
                    "sample's terminal after it finishes; reward = number on its last output line, else exit 0 -> 1.0")
    rl.add_argument("--verify-timeout", type=float, default=300.0, help="seconds per verifier run (default 300)")
    rl.add_argument("--shard", metavar="I/N", help="run only shard I of N (1..N) of the dataset's rows; "
                    "merge the N run directories with `hermes batch merge`")
    p.add_argument("--resume", action="store_true", help="continue the run: skip prompts already finished")
    p.add_argument("--retry-failed", action="store_true", help="continue the run and run failed prompts again")
    p.add_argument("--rollout", action="store_true", help="ask the endpoint for token ids and logprobs")
    p.add_argument("--tokenizer", help="with --rollout: write rollouts.jsonl with this tokenizer (path or HF name)")
    p.add_argument("--yolo", action="store_true", help="run dangerous commands (they are denied otherwise)")
    p.add_argument("--processes", type=int, default=1, metavar="P",
                   help="runner processes on this machine (default 1): one process runs its samples' Python "
                        "on about one core; use more when thousands of samples wait on a slow endpoint")
    p.add_argument("--driver", choices=["auto", "threads", "asyncio"], default="auto",
                   help="how one process waits on its samples: a thread each, or one event loop (model calls "
                        "awaited, tools in a thread pool); auto: the event loop, or threads when an HTTP proxy "
                        "carries the calls (see README Performance)")
    p.add_argument("--part", help=argparse.SUPPRESS)  # I/P: set by --processes for its child runs
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    p.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)  # the seed's; samples stream now
    return p


def _normalise(argv: list[str]) -> list[str]:
    """`--run_name x` -> `--run-name x` (the seed's fire CLI used underscores)."""
    out = []
    for arg in argv:
        if arg.startswith("--") and "_" in arg.split("=", 1)[0]:
            name, eq, value = arg.partition("=")
            arg = name.replace("_", "-") + eq + value
        out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    from agent.errors import ConfigError

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        from batch.merge import main as merge_main

        return merge_main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(_normalise(argv))
    except SystemExit as exc:  # argparse already printed the usage line
        return EXIT_USAGE if exc.code else EXIT_OK
    try:
        args.argv = argv
        return _run(args)
    except ConfigError as exc:  # several invalid settings: one line each
        sys.stderr.write("".join(f"hermes batch: error: {line}\n" for line in str(exc).splitlines()))
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    import toolset_distributions
    from agent.endpoint import resolve_endpoint
    from agent.errors import ConfigError
    from batch.dataset import expand, load_dataset, shard_of
    from hermes_cli.agent_factory import load_settings

    # Config, .env and environment as the CLI sees them, checked before any model call.
    settings = load_settings({"model": args.model, "base_url": args.base_url, "api_key": args.api_key})
    for warning in settings.warnings:
        sys.stderr.write(f"hermes batch: warning: {warning}\n")
    extra = settings.batch.distributions
    try:
        if args.list_distributions:
            print(toolset_distributions.describe(extra))
            return EXIT_OK
        distribution = toolset_distributions.get_distribution(args.distribution, extra)
    except toolset_distributions.UnknownDistributionError as exc:
        raise ConfigError(str(exc)) from None
    dataset = args.dataset or args.dataset_file
    if dataset is None:
        raise ConfigError("give the dataset: hermes batch PROMPTS.jsonl --run-name NAME")
    if not args.run_name:
        raise ConfigError("--run-name is required (results go to data/<run-name>/)")
    if args.num_workers < 1 or args.max_turns < 1 or args.sample_timeout <= 0 or args.processes < 1:
        raise ConfigError("--num-workers, --max-turns, --sample-timeout and --processes must be positive")
    if args.tokenizer and not args.rollout:
        raise ConfigError("--tokenizer writes rollouts.jsonl and needs --rollout")
    _check_rl_flags(args)
    rows = load_dataset(dataset, args.max_samples)
    _check_rows(rows, settings.terminal.backend)
    if args.shard:
        index, total = parse_shard(args.shard)
        rows = [row for row in rows if shard_of(row.group, total) == index]
    samples = expand(rows, args.n)
    if args.part:  # a child of --processes: every P-th sample of the run, from the I-th (even shares)
        index, total = parse_shard(args.part)
        samples = samples[index - 1::total]
        args.num_workers = max(1, -(-args.num_workers // total))  # --num-workers is for the whole run
    return _execute(args, samples, distribution, settings, resolve_endpoint(settings))


def parse_shard(text: str) -> tuple[int, int]:
    """`2/4` -> (2, 4); shards are numbered 1..N."""
    from agent.errors import ConfigError

    index, _, total = text.partition("/")
    try:
        i, n = int(index), int(total)
    except ValueError:
        raise ConfigError(f"--shard {text}: expected I/N, e.g. --shard 1/4 (shards are numbered 1..N)") from None
    if n < 1 or not 1 <= i <= n:
        raise ConfigError(f"--shard {text}: shard numbers run from 1 to N (N >= 1), e.g. --shard 1/{max(n, 1)}")
    return i, n


def _check_rl_flags(args: argparse.Namespace) -> None:
    from agent.errors import ConfigError

    problems = []
    if args.n < 1:
        problems.append("--n must be at least 1")
    if args.max_tokens is not None and args.max_tokens < 1:
        problems.append("--max-tokens must be at least 1")
    if args.temperature is not None and args.temperature < 0:
        problems.append("--temperature must be 0 or more")
    if args.top_p is not None and not 0 < args.top_p <= 1:
        problems.append("--top-p must be in (0, 1]")
    if args.verify_timeout <= 0:
        problems.append("--verify-timeout must be positive")
    if args.verify is not None and not args.verify.strip():
        problems.append("--verify needs a command")
    if problems:
        raise ConfigError("\n".join(problems))


def sampling_flags(args: argparse.Namespace) -> dict:
    """The request parameters the flags set (only those given)."""
    values = {"temperature": args.temperature, "top_p": args.top_p, "seed": args.seed, "max_tokens": args.max_tokens}
    return {name: value for name, value in values.items() if value is not None}


def _check_rows(samples: list, backend: str) -> None:
    """Per-row toolsets and (on this host) working directories, before any model call."""
    import os

    import toolsets
    from agent.errors import ConfigError

    host_cwd = backend in ("local", "docker")
    for sample in samples:
        for name in sample.toolsets or []:
            if not toolsets.validate_toolset(name):
                raise ConfigError(f"dataset row {sample.index + 1}: unknown toolset '{name}'")
        if sample.cwd and host_cwd and not os.path.isdir(os.path.expanduser(sample.cwd)):
            raise ConfigError(f"dataset row {sample.index + 1}: cwd {sample.cwd} is not a directory")


def _execute(args: argparse.Namespace, samples: list, distribution: dict, settings, endpoint) -> int:
    from batch.display import ProgressDisplay, print_summary
    from batch.runner import BatchConfig, BatchRunner

    config = BatchConfig(
        run_name=args.run_name, dataset=args.dataset or args.dataset_file, output_root=args.output_dir,
        model=endpoint.model, base_url=endpoint.base_url, api_key=endpoint.api_key,
        num_workers=args.num_workers, max_turns=args.max_turns, sample_timeout=args.sample_timeout,
        ephemeral_system_prompt=args.ephemeral_system_prompt, distribution=distribution,
        distribution_name=args.distribution, seed=args.seed or 0, resume=args.resume, retry_failed=args.retry_failed,
        token_capture=args.rollout or settings.agent.token_capture, yolo=args.yolo, settings=settings,
        endpoint=endpoint, n=args.n, sampling=sampling_flags(args), verify=args.verify,
        verify_timeout=args.verify_timeout, shard=parse_shard(args.shard) if args.shard else None,
        driver=args.driver,
    )
    display = ProgressDisplay(f"{args.run_name}", enabled=not args.quiet)
    runner = BatchRunner(config, samples, on_progress=display.update)
    try:
        with display:
            if args.processes > 1:
                from batch.processes import run_parts

                stats = run_parts(runner, args.argv, args.processes, display.update)
            else:
                stats = runner.run()
    except KeyboardInterrupt:
        if args.part:  # a child of --processes: the parent says it once
            return EXIT_INTERRUPTED
        sys.stderr.write(f"hermes batch: interrupted; finished samples are saved. Continue with:\n"
                         f"  hermes batch {config.dataset} --run-name {args.run_name} --resume\n")
        return EXIT_INTERRUPTED
    run_dir = config.output_root / config.run_name
    if config.token_capture and not args.part:
        _write_rollouts(runner, args.tokenizer, args.quiet)
    if not args.quiet:
        print_summary(stats, str(run_dir))
    return EXIT_FAILED if stats["samples"]["failed"] else EXIT_OK


def _write_rollouts(runner, tokenizer: str | None, quiet: bool) -> None:
    from batch.rollouts import export_hint, export_rollouts

    if not tokenizer:
        if not quiet:
            sys.stderr.write(f"hermes batch: {export_hint(runner.store)}\n")
        return
    written, failures = export_rollouts(runner.store, tokenizer)
    if not quiet:
        sys.stderr.write(f"hermes batch: {written} rollout records in {runner.store.rollouts}"
                         + (f" ({failures} sessions could not be converted)" if failures else "") + "\n")


if __name__ == "__main__":
    sys.exit(main())
