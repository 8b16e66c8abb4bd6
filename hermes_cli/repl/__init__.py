"""The interactive session (REPL): prompt, slash commands, approvals and rendering."""
