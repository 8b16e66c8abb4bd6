"""`hermes rl`: online RL from the command line (issue 19, preview).

    hermes rl atropos ENV process|serve|evaluate [--env.* --openai.* ...]   atroposlib's own CLI
    hermes rl check GROUPS.jsonl [--tokenizer DIR]                         validate Atropos groups
    hermes rl proxy --backend sglang|vllm URL --tokenizer DIR              standalone TokenProxy

ENV is a bundled example (`terminal`, `qa`: rl/envs.py), a file `path/to/my_env.py[:ClassName]`,
or a module `package.module:ClassName`; it must be a subclass of rl.atropos.HermesEnv. Everything
after ENV goes to atroposlib untouched (its pydantic-cli parser reads sys.argv).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from agent import lazy_sdk_types
from agent.errors import ConfigError

USAGE = """\
usage: hermes rl atropos ENV process|serve|evaluate [--env.FIELD VALUE ...] [--openai.FIELD VALUE ...]
       hermes rl check GROUPS.jsonl [--tokenizer DIR]
       hermes rl proxy --backend sglang|vllm URL --tokenizer DIR [--port N] [--output FILE] [--keep N]
"""

HELP = USAGE + """
Online RL with hermes' own agent as the rollout worker (preview; see README "Online RL").

commands:
  atropos   run an Atropos environment (a HermesEnv subclass) with atroposlib's CLI:
            process (groups to a JSONL file, no trainer), serve (feed a trainer through run-api),
            evaluate (metrics.json + samples.jsonl)
  check     validate an Atropos groups file: atroposlib's ScoredData, equal lengths, masks -100 or
            the token, inference_logprobs 1.0 where masked, no end-of-turn text in assistant content
  proxy     a token-tracking OpenAI-compatible server over SGLang /generate or vLLM completions:
            any client points at /r/<rollout-id>/v1; POST /rollouts/<id>/finish returns a rollout's
            tokens and appends them to a file at once, Ctrl-C writes the rest

run `hermes rl atropos --help`, `hermes rl check --help` or `hermes rl proxy --help` for options.
"""

ATROPOS_HELP = """\
usage: hermes rl atropos ENV process|serve|evaluate [atroposlib flags ...]

Runs an Atropos environment whose rollouts are hermes' agent, through atroposlib's own CLI.

ENV:
  terminal                  bundled: rows {"prompt", "check"}; reward 1.0 when the check command
                            exits 0 in the rollout's sandbox (--env.dataset FILE)
  qa                        bundled: rows {"question", "answer"}; reward 1.0 when the final answer
                            contains the expected one (--env.dataset FILE)
  path/to/my_env.py[:Cls]   your HermesEnv subclass in a file (the class may be omitted when the
                            file defines exactly one)
  package.module:Cls        your HermesEnv subclass in an importable module

Every flag after ENV goes to atroposlib unchanged: `hermes rl atropos terminal process --help`
lists them (--env.group_size, --env.total_steps, --env.data_path_to_save_groups, --env.use_wandb,
--openai.server_type sglang|vllm, --openai.base_url, ...).

example:
  hermes rl atropos terminal process --env.dataset tasks.jsonl --env.tokenizer_name DIR \\
    --env.group_size 4 --env.total_steps 2 --env.use_wandb false --env.data_path_to_save_groups groups.jsonl \\
    --openai.server_type sglang --openai.base_url http://127.0.0.1:30000/v1 --openai.tokenizer_name DIR
"""

INSTALL_ATROPOS = "pip install 'hermes-agent[atropos]'"


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        (sys.stdout if argv else sys.stderr).write(HELP)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "atropos":
        return run_atropos(rest)
    if command == "check":
        from hermes_cli.rl_check import main as check_main

        return check_main(rest)
    if command == "proxy":
        from hermes_cli.rl_proxy import main as proxy_main

        return proxy_main(rest)
    raise ConfigError(f"unknown command 'hermes rl {command}': use atropos, check or proxy (see hermes rl --help)")


# -- hermes rl atropos -------------------------------------------------------------------------------------
def run_atropos(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(ATROPOS_HELP)
        return 0 if argv else 2
    spec, rest = argv[0], argv[1:]
    if spec.startswith("-"):
        raise ConfigError(f"expected an environment before {spec!r}: hermes rl atropos ENV process|serve|evaluate ... "
                          "(see hermes rl atropos --help)")
    env_cls = load_env(spec)
    # atroposlib's parser reads sys.argv; its usage lines name the program by argv[0]
    sys.argv = [f"hermes rl atropos {spec}" if "/" not in spec else "hermes rl atropos ENV", *rest]
    try:
        env_cls.cli()
    except SystemExit as exc:  # run_and_exit always ends this way
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ValueError as exc:  # pydantic's ValidationError of atroposlib's Cli*Config: a bad flag value
        if not str(getattr(exc, "title", "")).startswith("Cli") or not hasattr(exc, "errors"):
            raise
        first = exc.errors()[0]
        flag = "--" + ".".join(str(p) for p in first["loc"])
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{flag} {first.get('input')!r}: {first['msg']}{more} "
                          f"(see hermes rl atropos {spec} {rest[0] if rest else 'process'} --help)") from None
    return 0


def require_atroposlib() -> None:
    """Import rl.atropos (atroposlib, transformers) or say in one line how to install it."""
    # transformers announces "PyTorch was not found" on import: expected here (no torch needed), so
    # quiet for the import only; its later warnings (tokenizer loading, ...) still show.
    quiet = "TRANSFORMERS_VERBOSITY" not in os.environ
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # a library knob, not hermes configuration
    lazy_sdk_types.install()  # atroposlib imports openai: skip building the API models it never uses (~0.8 s)
    try:
        import rl.atropos  # noqa: F401
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] == "atroposlib":
            raise ConfigError(f"atroposlib is not installed: {INSTALL_ATROPOS}") from None
        raise ConfigError(f"atroposlib cannot be imported ({exc}): {INSTALL_ATROPOS}") from None
    finally:
        if quiet:
            os.environ.pop("TRANSFORMERS_VERBOSITY", None)
    from transformers.utils import logging as hf_logging

    if quiet:
        hf_logging.set_verbosity_warning()


# rl.envs.ENVS's names, known here without importing atroposlib (tests/rl/test_rl_cli.py checks they agree)
BUNDLED = ("terminal", "qa")


def load_env(spec: str) -> type:
    """The HermesEnv subclass ENV names (see the module docstring); ConfigError says what is wrong."""
    _precheck(spec)  # a mistyped ENV is told at once, not after atroposlib's ~5 s import
    require_atroposlib()
    from rl.atropos import HermesEnv

    if spec in _bundled():
        return _bundled()[spec]
    target, _, class_name = spec.partition(":")
    if _is_file_spec(target):
        module, where = _import_file(Path(target)), target
    elif class_name:
        module, where = _import_module(target), target
    else:
        raise ConfigError(_unknown(spec))
    if class_name:
        env_cls = getattr(module, class_name, None)
        if env_cls is None:
            found = _env_classes(module, HermesEnv)
            hint = f" (it defines {', '.join(c.__name__ for c in found)})" if found else ""
            raise ConfigError(f"{where} has no class {class_name}{hint}")
        if not (isinstance(env_cls, type) and issubclass(env_cls, HermesEnv)):
            raise ConfigError(f"{where}:{class_name} is not a subclass of rl.atropos.HermesEnv")
        if env_cls is HermesEnv:
            raise ConfigError(f"{where}:{class_name} is the base class itself: name your subclass of it")
        return env_cls
    found = _env_classes(module, HermesEnv)
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigError(f"{where} defines no subclass of rl.atropos.HermesEnv")
    names = ", ".join(c.__name__ for c in found)
    raise ConfigError(f"{where} defines several HermesEnv subclasses ({names}): name one, e.g. {target}:{found[0].__name__}")


def _is_file_spec(target: str) -> bool:
    return target.endswith(".py") or "/" in target or Path(target).is_file()


def _unknown(spec: str) -> str:
    return f"unknown environment {spec!r}: use {', '.join(BUNDLED)}, a file path/to/env.py[:Class] or package.module:Class"


def _precheck(spec: str) -> None:
    """What can be told wrong about ENV without importing atroposlib: a name that is no bundled env,
    file or module; a missing file; a file that is not Python; a module whose top package is not found."""
    if spec in BUNDLED:
        return
    target, _, class_name = spec.partition(":")
    if _is_file_spec(target):
        path = Path(target)
        if not path.is_file():
            raise ConfigError(f"no environment file {path}" + ("" if path.suffix == ".py" else " (expected a .py file)"))
        try:
            compile(path.read_bytes(), str(path.resolve()), "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise ConfigError(f"importing {path.resolve()} failed: {_describe(exc, path.resolve())}") from exc
    elif not class_name:
        raise ConfigError(_unknown(spec))
    else:
        top = target.partition(".")[0]
        if top and importlib.util.find_spec(top) is None and not (Path.cwd() / top).exists() \
                and not (Path.cwd() / f"{top}.py").exists():
            raise ConfigError(f"no module {target} (not importable from {Path.cwd()} or the installed packages)")


def _bundled() -> dict[str, type]:
    from rl.envs import ENVS

    return ENVS


def _env_classes(module: Any, base: type) -> list[type]:
    """HermesEnv subclasses defined in the module itself (not the ones it imports)."""
    return [v for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, base) and v is not base and v.__module__ == module.__name__]


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"no environment file {path}" + ("" if path.suffix == ".py" else " (expected a .py file)"))
    path = path.resolve()
    sys.path.insert(0, str(path.parent))  # the env's own helper modules beside it import as usual
    name = f"hermes_rl_env_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"importing {path} failed: {_describe(exc, path)}") from exc
    return module


def _import_module(name: str) -> Any:
    sys.path.insert(0, str(Path.cwd()))  # `my_envs.terminal:Env` from the current directory, as python -m does
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise ConfigError(f"no module {name} (not importable from {Path.cwd()} or the installed packages)") from exc
        raise ConfigError(f"importing {name} failed: {_describe(exc, None)}") from exc
    except Exception as exc:
        raise ConfigError(f"importing {name} failed: {_describe(exc, None)}") from exc


def _describe(exc: BaseException, path: Path | None) -> str:
    """`Type: message (file line N)`: where in the user's own code the import broke."""
    import traceback

    where = ""
    if isinstance(exc, SyntaxError) and exc.lineno:
        where = f" ({Path(exc.filename or '?').name} line {exc.lineno})"
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        own = [f for f in frames if path is None or Path(f.filename) == path] or frames
        if own:
            where = f" ({Path(own[-1].filename).name} line {own[-1].lineno})"
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    return f"{type(exc).__name__}: {message}{where}"
