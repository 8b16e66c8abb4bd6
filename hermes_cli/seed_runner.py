"""Seed-compatible direct runner: `python run_agent.py --query "..."` and the `hermes-agent` script."""

from __future__ import annotations

from run_agent import AIAgent


def main(query: str, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
         max_turns: int = 60, enabled_toolsets: str | None = None, disabled_toolsets: str | None = None,
         save_trajectories: bool = False) -> None:
    """Seed-compatible direct runner: `python run_agent.py --query "..."` (prefer `./hermes -p`)."""
    import toolsets

    agent = AIAgent(model=model, base_url=base_url, api_key=api_key, max_turns=max_turns,
                    enabled_toolsets=toolsets.parse_toolset_list(enabled_toolsets),
                    disabled_toolsets=toolsets.parse_toolset_list(disabled_toolsets),
                    save_trajectories=save_trajectories, mode="run_agent")
    try:
        print(agent.chat(str(query)))
    finally:
        agent.close()


def fire_main() -> None:
    """Console script `hermes-agent` (seed-compatible flags via python-fire)."""
    import fire

    fire.Fire(main)

