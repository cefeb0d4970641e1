"""User-facing errors: the CLI prints them as one line and exits with code 2."""


class PrunescaleError(Exception):
    """A problem with the user's input (bad model, method, option, file...)."""
