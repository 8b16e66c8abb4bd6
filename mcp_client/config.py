"""`mcp_servers:` in config.yaml / ./cli-config.yaml -> typed ServerConfig objects.

The shape is the peers' (`mcpServers` of Claude Code / Gemini CLI, `[mcp_servers]` of Codex), so a
server entry can be pasted over:

    mcp_servers:
      files:                      # stdio: a command started by hermes
        command: npx
        args: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
        env: {DEBUG: "0"}         # ${VAR} and ${VAR:-default} are expanded
        cwd: ~/src
      github:                     # streamable HTTP
        url: https://api.githubcopilot.com/mcp/
        bearer_token_env_var: GITHUB_TOKEN
        headers: {X-Client: hermes}

Per server: `enabled` (or `disabled`), `enabled_tools` / `disabled_tools` (also `includeTools` /
`excludeTools`), `startup_timeout` (s, 30), `timeout` (per call, s, 120), `trust` (no approval asks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from agent.yaml_lines import where

DEFAULT_STARTUP_TIMEOUT = 30.0
DEFAULT_CALL_TIMEOUT = 120.0
SERVER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")

# Key aliases from the peers' configs -> ours.
ALIASES = {
    "httpUrl": "url", "serverUrl": "url", "includeTools": "enabled_tools", "excludeTools": "disabled_tools",
    "startup_timeout_sec": "startup_timeout", "tool_timeout_sec": "timeout", "environment": "env",
    "bearerTokenEnvVar": "bearer_token_env_var", "startupTimeout": "startup_timeout",
}
KEYS = {"type", "command", "args", "env", "cwd", "url", "headers", "bearer_token_env_var", "enabled", "disabled",
        "enabled_tools", "disabled_tools", "startup_timeout", "timeout", "trust", "description"}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class ServerConfig:
    name: str
    transport: str  # "stdio" | "http"
    command: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    bearer_token_env_var: str | None = None
    enabled: bool = True
    enabled_tools: list[str] | None = None
    disabled_tools: list[str] = field(default_factory=list)
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    timeout: float = DEFAULT_CALL_TIMEOUT
    trust: bool = False
    source: str | None = None  # the file that defined it, for error messages
    # The value of `bearer_token_env_var`, from the settings loader's environment: a secret, never shown.
    token: str | None = field(default=None, repr=False, compare=False)

    def wants_tool(self, tool: str) -> bool:
        if tool in self.disabled_tools:  # the exclude list wins, as in Gemini CLI
            return False
        return self.enabled_tools is None or tool in self.enabled_tools

    def bearer_token(self) -> str | None:
        """The token named by `bearer_token_env_var` (a secret, never in config)."""
        return self.token


def expand(text: str, environ: dict[str, str]) -> str:
    """`${VAR}` and `${VAR:-default}`, as Claude Code does in .mcp.json."""
    return _VAR.sub(lambda m: environ.get(m.group(1)) or (m.group(2) if m.group(2) is not None else ""), text)


def parse_servers(raw: Any, source: str | None = None, sources: dict[str, str] | None = None,
                  environ: dict[str, str] | None = None) -> list[ServerConfig]:
    """Validate the `mcp_servers` mapping; ConfigError names the file, line and fix.

    `sources`: `mcp_servers.<name>` -> the file that defined it; `environ`: the variables `${VAR}`
    and `bearer_token_env_var` name (the settings loader's environment; none if not given).
    """
    if raw in (None, {}):
        return []
    if not isinstance(raw, dict):
        raise ConfigError(f"{where(source, 'mcp_servers')}: 'mcp_servers' must be a mapping of server names")
    servers = []
    for name, entry in raw.items():
        path = (sources or {}).get(f"mcp_servers.{name}", source)
        if not isinstance(name, str) or name in ("True", "False", "None"):  # YAML reads `off:`, `no:` as booleans
            raise ConfigError(f"{where(path, 'mcp_servers')}: mcp_servers: server name {name!r} is not text; "
                              "quote it in the YAML (e.g. \"off\":)")
        servers.append(_parse_one(str(name), entry, path, environ or {}))
    return servers


def _parse_one(name: str, entry: Any, path: str | None, environ: dict[str, str]) -> ServerConfig:
    def fail(message: str, *keys: str) -> ConfigError:
        return ConfigError(f"{where(path, 'mcp_servers', name, *keys)}: mcp_servers.{name}: {message}")

    if not SERVER_NAME.match(name):
        raise fail("a server name may use letters, digits, '_', '-' and '.' (at most 40)")
    if not isinstance(entry, dict):
        raise fail("must be a mapping with `command` (stdio) or `url` (HTTP)")
    data = {ALIASES.get(str(k), str(k)): v for k, v in entry.items()}
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise fail(f"unknown key '{unknown[0]}' (known: {', '.join(sorted(KEYS))})", unknown[0])
    kind = str(data.get("type") or ("http" if data.get("url") else "stdio")).lower()
    kind = {"streamable-http": "http", "streamable_http": "http", "streamablehttp": "http", "local": "stdio",
            "remote": "http"}.get(kind, kind)
    if kind == "sse":
        raise fail("the legacy SSE transport is not supported; use the server's streamable HTTP URL", "type")
    if kind not in ("stdio", "http"):
        raise fail(f"type must be stdio or http, not {data.get('type')!r}", "type")

    def strings(key: str) -> list[str] | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, str) and key != "args":
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
            raise fail(f"'{key}' must be a list of strings", key)
        return [str(v) for v in value]

    def mapping(key: str) -> dict[str, str]:
        value = data.get(key) or {}
        if not isinstance(value, dict):
            raise fail(f"'{key}' must be a mapping of names to strings", key)
        return {str(k): expand(str(v), environ) for k, v in value.items()}

    def seconds(key: str, default: float) -> float:
        value = data.get(key)
        if value is None:
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = -1
        if number <= 0:
            raise fail(f"'{key}' must be a number of seconds above 0, not {value!r}", key)
        return number

    command = data.get("command")
    args = strings("args") or []
    if isinstance(command, list):  # OpenCode: command: [prog, arg, ...]
        command, args = (str(command[0]) if command else None), [str(c) for c in command[1:]] + args
    if kind == "stdio" and not (isinstance(command, str) and command.strip()):
        raise fail("needs `command` (a program to start) or `url` (a streamable HTTP server)")
    url = data.get("url")
    if kind == "http" and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise fail("needs `url` starting with http:// or https://", "url")
    token_var = data.get("bearer_token_env_var")
    if token_var is not None and not (isinstance(token_var, str) and re.match(r"^[A-Za-z_]\w*$", token_var)):
        raise fail("'bearer_token_env_var' must name an environment variable (e.g. GITHUB_TOKEN)",
                   "bearer_token_env_var")
    enabled = data.get("enabled", True) is not False and data.get("disabled", False) is not True
    cwd = data.get("cwd")
    return ServerConfig(
        name=name, transport=kind,
        command=expand(command, environ) if kind == "stdio" else None,
        args=[expand(a, environ) for a in args], env=mapping("env"),
        cwd=str(Path(expand(str(cwd), environ)).expanduser()) if cwd else None,
        url=expand(url, environ) if kind == "http" else None, headers=mapping("headers"),
        bearer_token_env_var=token_var, enabled=enabled,
        enabled_tools=strings("enabled_tools"), disabled_tools=strings("disabled_tools") or [],
        startup_timeout=seconds("startup_timeout", DEFAULT_STARTUP_TIMEOUT),
        timeout=seconds("timeout", DEFAULT_CALL_TIMEOUT), trust=bool(data.get("trust", False)), source=path,
        token=environ.get(token_var) if token_var else None,
    )
