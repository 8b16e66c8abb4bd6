"""Internals of the agent loop: endpoint and config resolution, LLM calls, retries, tool-call parsing."""
