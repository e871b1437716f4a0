"""What each reply or error means for the history: `ok`, `fail` (definitely not applied)
or `info` (unknown). A pure function of the exception, so it is unit-tested without Redis.

redis-py maps most error replies to classes and strips the code from the message (a
MovedError's text is "3999 10.0.0.1:6379"), so those are recognised by class; the rest
(NOREPLICAS, ...) by the code that starts the message.

Scripts are not rolled back: an error reply to EVAL/EVALSHA/FCALL can come after the
script already wrote (a runtime error, or an error raised by one of its `redis.call`s),
so it is `info` — except the replies Redis gives before the script runs or at its first
write (NOSCRIPT, NOREPLICAS, READONLY, cluster redirections, ...), which are `fail`.
`clients.Session` tags each error reply with the command that got it (`sb_command`).
"""

from __future__ import annotations

import redis
from redis.asyncio.sentinel import MasterNotFoundError as AioMasterNotFoundError
from redis.sentinel import MasterNotFoundError as SyncMasterNotFoundError

E = redis.exceptions
MasterNotFoundError = (SyncMasterNotFoundError, AioMasterNotFoundError)
DEFINITE_FAILURE_CLASSES = (E.MovedError, E.AskError, E.TryAgainError, E.ClusterDownError,
                            E.ReadOnlyError, E.NoScriptError, E.ExecAbortError, E.BusyLoadingError,
                            E.ClusterCrossSlotError, E.NoPermissionError, E.OutOfMemoryError)
DEFINITE_FAILURE_CODES = ("NOREPLICAS", "WRONGTYPE", "ERR")
SCRIPT_COMMANDS = ("EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO")
#: Script replies that come before anything was written.
SCRIPT_DEFINITE_CLASSES = (E.MovedError, E.AskError, E.TryAgainError, E.ClusterDownError,
                           E.ReadOnlyError, E.NoScriptError, E.BusyLoadingError,
                           E.ClusterCrossSlotError, E.NoPermissionError)
SCRIPT_DEFINITE_CODES = ("NOREPLICAS", "NOSCRIPT", "BUSY")


class NotSent(Exception):
    """The command never reached Redis (no connection could be made): the op failed."""


class Indeterminate(Exception):
    """The command may or may not have taken effect (e.g. WAIT saw too few replicas)."""


class Failed(Exception):
    """The command definitely did not take effect, for a workload-level reason."""


def _code(exc: BaseException) -> str:
    """The error code of a reply. redis-py strips the codes it maps to classes, "ERR"
    included, and keeps them as `status_code` (8.x); without that, a plain ResponseError
    whose text does not start with a code was ERR."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, str) and status:
        return status.upper()
    word = str(exc).split(" ", 1)[0]
    if word.isalpha() and word.isupper():
        return word
    return "ERR" if type(exc) is redis.ResponseError else ""


def classify(exc: BaseException) -> tuple[str, str]:
    """(completion type, short error text) for an exception raised by an op."""
    text = f"{type(exc).__name__}: {exc}"[:200]
    command = str(getattr(exc, "sb_command", "") or "").upper()
    if command in SCRIPT_COMMANDS and isinstance(exc, redis.ResponseError):
        definite = isinstance(exc, SCRIPT_DEFINITE_CLASSES) or _code(exc) in SCRIPT_DEFINITE_CODES
        return ("fail" if definite else "info"), text
    if isinstance(exc, (NotSent, Failed, *DEFINITE_FAILURE_CLASSES)):
        return "fail", text
    if isinstance(exc, redis.ResponseError):
        return ("fail" if _code(exc) in DEFINITE_FAILURE_CODES else "info"), text
    if isinstance(exc, (*MasterNotFoundError, E.ClusterDownError, E.SlotNotCoveredError)):
        return "fail", text
    return "info", text
