"""Training-data exports derived from session event logs (reference/formats.md).

    source.py      read a session log once: messages, calls, completion status
    filters.py     which sessions to export (completed only, model, date range)
    sharegpt.py    Hermes ShareGPT records          openai_ft.py   OpenAI fine-tuning records
    atif.py        ATIF-v1.5 trajectories           atif_schema.py strict ATIF models
    messages_ft.py HF/TRL/verl SFT messages         chat_records.py which conversation a chat record holds
    tokenizer.py   HF tokenizer + chat template     rollout.py     token-level RL samples
    chat_render.py templates, no transformers       workers.py     sessions in forked workers
    adapters.py    Atropos / verl shapes            writer.py      JSONL output (file, .gz, stdout)
    replay.py      re-run a session's tool calls    compression.py fit ShareGPT into a token budget

Nothing here imports transformers until a tokenizer is asked for, and a plain local tokenizer
directory is read without it.
"""

FORMATS = ("sharegpt", "openai", "messages", "atif", "rollout", "atropos", "verl")
TOKEN_FORMATS = frozenset({"rollout", "atropos", "verl"})
