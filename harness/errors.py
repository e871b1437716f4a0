"""Errors that map to the CLI's exit codes (see ARCHITECTURE.md).

The CLI turns each into one line on stderr and its exit code; nothing below the CLI
prints tracebacks for these.
"""


class SplitbrainError(Exception):
    exit_code = 3


class UsageError(SplitbrainError):
    """Bad options, settings or input files: the user must change what they asked."""

    exit_code = 2


class EnvironmentProblem(SplitbrainError):
    """The machine or the topology failed: Docker down, image missing, never healthy."""

    exit_code = 3
