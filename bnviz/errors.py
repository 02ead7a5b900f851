"""The error shapes the core uses for problems a user can fix."""


class KeyedError(Exception):
    """A user-facing problem: ``key`` names the message (``err_<key>`` in the UI strings),
    ``params`` fill its placeholders. The UI turns it into text in the user's language."""

    def __init__(self, key: str, **params):
        super().__init__(f"{key}: {params}")
        self.key = key
        self.params = params


class ConfigError(KeyedError, ValueError):
    """A run setting that cannot be used (or a device that is not there)."""
