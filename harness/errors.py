"""Errors a user can act on: the CLI prints their message as one line and exits with code 2."""


class UserError(Exception):
    """Bad input (flag, file, directory, model): the message says what to do."""


class DataError(UserError):
    """A task's data is missing, unreadable or malformed."""


class RunInterrupted(Exception):
    """A run stopped midway (engine failure); finished samples are on disk. Exit code 1."""
