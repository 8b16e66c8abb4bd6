"""Expected failures. Each carries a one-line message fit to show a user as is."""


class HermesError(Exception):
    """Base for failures that print one line instead of a traceback."""


class ConfigError(HermesError):
    """Bad flags, config or missing credentials: the user must change something (exit 2)."""


class LLMError(HermesError):
    """The model endpoint failed after retries, or refused the request (exit 1)."""


class Interrupted(HermesError):
    """The user interrupted the run (Ctrl-C)."""
