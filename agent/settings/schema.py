"""What can be configured: one `Field` per setting, and the typed `Settings` sections they fill.

`FIELDS` is the single table every other part reads: the loader (which variables and flags set a
key), the validator (type, range, choices) and `/config` (order, masking). Adding a setting is one
line here plus the attribute on its section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BACKENDS = ("local", "docker", "ssh", "singularity", "apptainer", "modal")
APPROVAL_MODES = ("read-only", "ask", "auto-edit", "yolo")
SANDBOX_MODES = ("off", "read-only", "workspace-write")
SSH_HOST_KEY_POLICIES = ("strict", "accept-new", "off")
SPINNERS = ("kawaii", "minimal", "none")
# Settings that were booleans before they had named values: (what false means, what true means).
LEGACY_BOOLS: dict[str, tuple[str, str]] = {"display.spinner": ("none", "kawaii")}


class Field:
    """One setting. `kind`: str, int, float, bool, enum, list, url, toolsets, mapping.

    A plain class, not a dataclass: sixty of them are made at import, on every start-up.
    """

    __slots__ = ("key", "kind", "default", "env", "fallback_env", "minimum", "above", "maximum", "choices",
                 "nullable", "secret")

    def __init__(self, key: str, kind: str, default: Any = None, *, env: tuple[str, ...] = (),
                 fallback_env: tuple[str, ...] = (), minimum: float | None = None, above: float | None = None,
                 maximum: float | None = None, choices: tuple[str, ...] = (), nullable: bool = True,
                 secret: bool = False) -> None:
        self.key = key  # dotted: "agent.max_turns"
        self.kind = kind
        self.default = default
        self.env = env  # variables that set it, above the config files (first set one wins)
        self.fallback_env = fallback_env  # variables used only when no file or flag sets it (LLM_MODEL)
        self.minimum = minimum
        self.above = above  # exclusive lower bound
        self.maximum = maximum
        self.choices = choices
        self.nullable = nullable
        self.secret = secret

    def __repr__(self) -> str:
        return f"Field({self.key!r}, {self.kind!r})"


def _t(key: str, kind: str, default: Any = None, env: str | None = None, **kw: Any) -> Field:
    """A terminal.* field; its variable is TERMINAL_<KEY> unless given."""
    return Field(f"terminal.{key}", kind, default, env=(env or f"TERMINAL_{key.upper()}",), **kw)


FIELDS: tuple[Field, ...] = (
    Field("model.default", "str", fallback_env=("LLM_MODEL",)),
    Field("model.base_url", "url", env=("OPENAI_BASE_URL",)),
    Field("model.api_key", "str", env=("OPENAI_API_KEY",), secret=True),
    Field("model.stall_timeout", "float", 30.0, above=0, nullable=False),
    Field("model.request_deadline", "float", 75.0, above=0, nullable=False),
    Field("model.max_retries", "int", 5, env=("HERMES_MAX_RETRIES",), minimum=0, nullable=False),
    Field("model.retry_base_delay", "float", 1.0, env=("HERMES_RETRY_BASE_DELAY",), minimum=0, nullable=False),
    Field("toolsets", "toolsets", ["all"]),
    Field("disabled_toolsets", "toolsets", []),
    Field("custom_toolsets", "mapping", {}),
    Field("agent.max_turns", "int", 60, minimum=1, nullable=False),
    Field("agent.system_prompt", "str"),
    Field("agent.personality", "str"),
    Field("agent.personalities", "mapping", {}),
    Field("agent.stream", "bool", True, nullable=False),
    Field("agent.token_capture", "bool", False, nullable=False),
    Field("agent.context_window", "int", 128_000, minimum=1, nullable=False),
    Field("agent.compress_threshold", "float", 0.8, above=0, maximum=1, nullable=False),
    _t("backend", "enum", "local", env="TERMINAL_ENV", choices=BACKENDS, nullable=False),
    _t("cwd", "str"),
    _t("timeout", "float", 60.0, above=0, nullable=False),
    _t("lifetime_seconds", "float", minimum=0),
    _t("max_output_chars", "int", 30_000, minimum=200, nullable=False),
    _t("sandbox", "enum", "workspace-write", choices=SANDBOX_MODES, nullable=False),
    _t("sandbox_network", "bool", True, nullable=False),
    _t("env_passthrough", "list", [], nullable=False),
    _t("docker_image", "str"),
    _t("docker_memory", "str"),
    _t("docker_cpus", "float", above=0),
    _t("docker_pids_limit", "int", minimum=1),
    _t("docker_network", "str"),
    _t("docker_workdir", "str"),
    _t("docker_mount_cwd", "bool", False, nullable=False),
    _t("docker_forward_env", "list", [], nullable=False),
    _t("docker_start_timeout", "float", above=0),
    _t("ssh_host", "str"),
    _t("ssh_user", "str"),
    _t("ssh_port", "int", minimum=1, maximum=65535),
    _t("ssh_key", "str"),
    _t("ssh_host_key_policy", "enum", "strict", choices=SSH_HOST_KEY_POLICIES, nullable=False),
    _t("ssh_known_hosts", "str"),
    _t("ssh_cwd", "str"),
    _t("ssh_connect_timeout", "float", above=0),
    _t("singularity_image", "str"),
    _t("singularity_bin", "str"),
    _t("singularity_overlay", "str"),
    _t("singularity_cache", "str"),
    _t("singularity_cwd", "str"),
    _t("singularity_build_timeout", "float", above=0),
    _t("modal_image", "str"),
    _t("modal_app", "str"),
    _t("modal_profile", "str"),
    _t("modal_profiles_file", "str"),
    _t("modal_connect_timeout", "float", above=0),
    Field("display.spinner", "enum", "kawaii", choices=SPINNERS, nullable=False),
    Field("display.show_reasoning", "bool", True, nullable=False),
    Field("display.verbose", "bool", False, nullable=False),
    Field("display.live", "bool", True, nullable=False),
    Field("approvals.mode", "enum", "ask", env=("HERMES_YOLO",), choices=APPROVAL_MODES, nullable=False),
    Field("approvals.allowlist", "list", [], nullable=False),
    Field("approvals.timeout", "float", 60.0, above=0, nullable=False),
    Field("batch.distributions", "mapping", {}),
    # Issue 18: what /rewind can restore (README "Checkpoints and /rewind").
    Field("checkpoints.enabled", "bool", True, nullable=False),
    Field("checkpoints.max_size_mb", "float", 500.0, above=0, nullable=False),
    Field("checkpoints.max_file_mb", "float", 10.0, above=0, nullable=False),
    Field("checkpoints.terminal", "bool", True, nullable=False),
    Field("checkpoints.terminal_max_files", "int", 2000, minimum=0, nullable=False),
    # Issue 17: checked into `Settings.extensions` by checks.extensions (README "MCP servers", "Hooks").
    Field("mcp_servers", "mapping", {}),
    Field("hooks", "mapping", {}),
    # Tools (README "Web", "Browser"); usually set by their variables, keys in .env.
    Field("web.timeout", "float", 20.0, env=("WEB_TIMEOUT",), above=0, nullable=False),
    Field("web.max_bytes", "int", 5_000_000, env=("WEB_MAX_BYTES",), minimum=1, nullable=False),
    Field("web.page_chars", "int", 20_000, env=("WEB_PAGE_CHARS",), minimum=1, nullable=False),
    Field("web.firecrawl_api_key", "str", env=("FIRECRAWL_API_KEY",), secret=True),
    Field("web.firecrawl_api_url", "url", env=("FIRECRAWL_API_URL",)),
    Field("browser.timeout", "float", 30.0, env=("BROWSER_TIMEOUT",), above=0, nullable=False),
    Field("browser.chromium_path", "str", env=("CHROMIUM_PATH",)),
    Field("browser.cdp_url", "str", env=("BROWSER_CDP_URL",)),
    Field("browser.browserbase_api_key", "str", env=("BROWSERBASE_API_KEY",), secret=True),
    Field("browser.browserbase_project_id", "str", env=("BROWSERBASE_PROJECT_ID",)),
    Field("browser.browserbase_api_url", "url", env=("BROWSERBASE_API_URL",)),
    # Issue 18: AGENTS.md/HERMES.md in the system prompt, `@path` attachments (README "Project context").
    Field("context_files.enabled", "bool", True, nullable=False),
    Field("context_files.max_bytes", "int", 32_768, minimum=0, nullable=False),
    Field("mentions.enabled", "bool", True, nullable=False),
    Field("mentions.max_bytes", "int", 100_000, minimum=0, nullable=False),
)
BY_KEY: dict[str, Field] = {f.key: f for f in FIELDS}
SECTIONS = ("model", "agent", "terminal", "display", "approvals", "batch", "checkpoints", "web", "browser",
            "context_files", "mentions")
# Accepted in files for the seed's name of a key: `terminal.env_type` is `terminal.backend`.
ALIASES = {"terminal.env_type": "terminal.backend"}
# Sections whose keys are names the user chooses, so no key in them is "unknown".
FREE_FORM = {"custom_toolsets", "agent.personalities", "batch.distributions", "mcp_servers", "hooks"}


def known_keys(section: str | None = None) -> list[str]:
    """Keys valid at the top level, or inside `section`."""
    if section is None:
        return list(dict.fromkeys(f.key.partition(".")[0] for f in FIELDS))
    prefix = f"{section}."
    return [f.key[len(prefix):] for f in FIELDS if f.key.startswith(prefix)] + [
        a[len(prefix):] for a in ALIASES if a.startswith(prefix)]


@dataclass
class ModelSettings:
    default: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    stall_timeout: float = 30.0
    request_deadline: float = 75.0
    max_retries: int = 5
    retry_base_delay: float = 1.0


@dataclass
class AgentSettings:
    max_turns: int = 60
    system_prompt: str | None = None
    personality: str | None = None
    personalities: dict[str, str] = field(default_factory=dict)
    stream: bool = True
    token_capture: bool = False
    context_window: int = 128_000
    compress_threshold: float = 0.8


@dataclass
class TerminalSettings:
    """Everything a terminal backend is configured with (README "Terminal backends")."""

    backend: str = "local"
    cwd: str | None = None
    timeout: float = 60.0
    lifetime_seconds: float | None = None
    max_output_chars: int = 30_000
    sandbox: str = "workspace-write"
    sandbox_network: bool = True
    env_passthrough: list[str] = field(default_factory=list)
    docker_image: str | None = None
    docker_memory: str | None = None
    docker_cpus: float | None = None
    docker_pids_limit: int | None = None
    docker_network: str | None = None
    docker_workdir: str | None = None
    docker_mount_cwd: bool = False
    docker_forward_env: list[str] = field(default_factory=list)
    docker_start_timeout: float | None = None
    ssh_host: str | None = None
    ssh_user: str | None = None
    ssh_port: int | None = None
    ssh_key: str | None = None
    ssh_host_key_policy: str = "strict"
    ssh_known_hosts: str | None = None
    ssh_cwd: str | None = None
    ssh_connect_timeout: float | None = None
    singularity_image: str | None = None
    singularity_bin: str | None = None
    singularity_overlay: str | None = None
    singularity_cache: str | None = None
    singularity_cwd: str | None = None
    singularity_build_timeout: float | None = None
    modal_image: str | None = None
    modal_app: str | None = None
    modal_profile: str | None = None
    modal_profiles_file: str | None = None
    modal_connect_timeout: float | None = None
    # Not settings: facts of this process the backends need (kept here so they are passed, not looked up).
    home: Path = field(default_factory=lambda: Path.home() / ".hermes")
    environ: dict[str, str] = field(default_factory=dict, repr=False)  # for TERMINAL_MODAL_PROFILE_* etc.


@dataclass
class DisplaySettings:
    spinner: str = "kawaii"  # kawaii (faces and verbs), minimal (a dot spinner), none
    show_reasoning: bool = True
    verbose: bool = False
    live: bool = True  # REPL: the live region (unfinished text, status line, input line); off: whole blocks


@dataclass
class ApprovalSettings:
    mode: str = "ask"
    allowlist: list[str] = field(default_factory=list)
    timeout: float = 60.0  # seconds the REPL's approval prompt waits (a countdown) before it times out


@dataclass
class BatchSettings:
    distributions: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class CheckpointSettings:
    """What tools change is saved first, for /rewind (agent/checkpoints.py)."""

    enabled: bool = True
    max_size_mb: float = 500.0  # all sessions' checkpoints together; the oldest are pruned past it
    max_file_mb: float = 10.0  # a bigger file's old content is not saved (a rewind says so)
    terminal: bool = True  # also the files terminal commands change in the workspace
    terminal_max_files: int = 2000  # a bigger workspace is not watched for terminal commands


@dataclass
class WebSettings:
    timeout: float = 20.0
    max_bytes: int = 5_000_000
    page_chars: int = 20_000
    firecrawl_api_key: str | None = field(default=None, repr=False)
    firecrawl_api_url: str | None = None


@dataclass
class BrowserSettings:
    timeout: float = 30.0
    chromium_path: str | None = None
    cdp_url: str | None = None
    browserbase_api_key: str | None = field(default=None, repr=False)
    browserbase_project_id: str | None = None
    browserbase_api_url: str | None = None


@dataclass
class ContextFileSettings:
    """Project context files (agent/context_files.py): on/off and the total size sent."""

    enabled: bool = True
    max_bytes: int = 32_768


@dataclass
class MentionSettings:
    """`@path` attachments in a prompt (agent/mentions.py): on/off and the total size per message."""

    enabled: bool = True
    max_bytes: int = 100_000


@dataclass
class ExtensionSettings:
    """`mcp_servers:` and `hooks:` validated into typed objects (by mcp_client/config.py and
    agent/hooks_config.py, imported only when the section is set)."""

    servers: list[Any] = field(default_factory=list)  # mcp_client.config.ServerConfig, in config order
    hooks: dict[str, list[Any]] = field(default_factory=dict)  # event -> agent.hooks_config.HookGroup list
