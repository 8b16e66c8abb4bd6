"""`Settings`: the typed configuration of one process, with the source of every value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.settings.schema import (
    AgentSettings,
    ApprovalSettings,
    BatchSettings,
    BrowserSettings,
    CheckpointSettings,
    ContextFileSettings,
    DisplaySettings,
    ExtensionSettings,
    MentionSettings,
    ModelSettings,
    TerminalSettings,
    WebSettings,
)


@dataclass
class Settings:
    """Built once per process by `load_settings`; REPL commands change it with `set` (source `/cmd`)."""

    model: ModelSettings = field(default_factory=ModelSettings)
    agent: AgentSettings = field(default_factory=AgentSettings)
    terminal: TerminalSettings = field(default_factory=TerminalSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    approvals: ApprovalSettings = field(default_factory=ApprovalSettings)
    batch: BatchSettings = field(default_factory=BatchSettings)
    checkpoints: CheckpointSettings = field(default_factory=CheckpointSettings)
    web: WebSettings = field(default_factory=WebSettings)
    browser: BrowserSettings = field(default_factory=BrowserSettings)
    context_files: ContextFileSettings = field(default_factory=ContextFileSettings)
    mentions: MentionSettings = field(default_factory=MentionSettings)
    toolsets: list[str] = field(default_factory=lambda: ["all"])
    disabled_toolsets: list[str] = field(default_factory=list)
    custom_toolsets: dict[str, Any] = field(default_factory=dict)
    mcp_servers: dict[str, Any] = field(default_factory=dict)  # as written; typed in `extensions`
    hooks: dict[str, Any] = field(default_factory=dict)  # as written; typed in `extensions`
    extensions: ExtensionSettings = field(default_factory=ExtensionSettings)
    # Where values came from ("agent.max_turns" -> "/home/u/.hermes/config.yaml:3"); absent: default.
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    home: Path = field(default_factory=lambda: Path.home() / ".hermes")
    log_dir: Path = field(default_factory=lambda: Path.home() / ".hermes" / "logs")
    openrouter_api_key: str | None = field(default=None, repr=False)
    openrouter_base_url: str | None = None
    secrets: list[str] = field(default_factory=list, repr=False)  # values of secret variables, for masking

    def get(self, key: str) -> Any:
        section, _, name = key.partition(".")
        node = getattr(self, section)
        return getattr(node, name) if name else node

    def source(self, key: str) -> str:
        return self.sources.get(key, "default")

    def set(self, key: str, value: Any, source: str) -> None:
        """Change one (already valid) setting at run time, e.g. by `/model` (source "/model")."""
        section, _, name = key.partition(".")
        if name:
            setattr(getattr(self, section), name, value)
        else:
            setattr(self, section, value)
        self.sources[key] = source

    @property
    def enabled_toolsets(self) -> list[str] | None:
        """None means every toolset."""
        return None if self.toolsets == ["all"] and "toolsets" not in self.sources else list(self.toolsets)

    @property
    def yolo(self) -> bool:
        return self.approvals.mode == "yolo"
