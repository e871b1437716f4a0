"""`replies.classify`: which errors mean "definitely not applied" (fail) and which "unknown" (info).

Error replies are built by redis-py's own parser from the raw text Redis sends, so each
exception has exactly the class and message a live connection would raise.
"""

import asyncio

import pytest
import redis
from redis._parsers.base import BaseParser
from redis.asyncio.sentinel import MasterNotFoundError as AioMasterNotFoundError
from redis.sentinel import MasterNotFoundError

from harness.replies import Failed, Indeterminate, NotSent, classify


def reply(raw: str, command: str | None = None) -> redis.ResponseError:
    """The exception redis-py raises for the error reply `raw`, tagged with its command the
    way `clients.Session.call` tags it."""
    exc = BaseParser.parse_error(raw)
    if command is not None:
        exc.sb_command = command
    return exc


@pytest.mark.parametrize("exc", [
    reply("MOVED 3999 10.0.0.1:6379"),
    reply("ASK 3999 10.0.0.1:6379"),
    reply("TRYAGAIN Multiple keys request during rehashing of slot"),
    reply("READONLY You can't write against a read only replica."),
    reply("CLUSTERDOWN The cluster is down"),
    reply("NOREPLICAS Not enough good replicas to write."),
    reply("WRONGTYPE Operation against a key holding the wrong kind of value"),
    reply("ERR unknown command 'FOO', with args beginning with: "),
    reply("ERR value is not an integer or out of range"),
    reply("NOSCRIPT No matching script. Please use EVAL."),
    reply("LOADING Redis is loading the dataset in memory"),
    redis.ResponseError("NOREPLICAS Not enough good replicas to write."),
    redis.ResponseError("syntax error"),           # an ERR reply, code stripped by redis-py
    redis.exceptions.MovedError("3999 10.0.0.1:6379"),
    redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
    redis.exceptions.ClusterDownError("The cluster is down"),
    NotSent("ConnectionError: connection refused"),
    Failed("READONLY from 10.0.0.2:6379"),
    MasterNotFoundError("No master found for 'mymaster'"),
    AioMasterNotFoundError("No master found for 'mymaster'"),
], ids=lambda e: f"{type(e).__name__}:{str(e)[:24]}")
def test_definite_failures(exc):
    assert classify(exc)[0] == "fail"


@pytest.mark.parametrize("exc", [
    redis.TimeoutError("Timeout reading from socket"),
    redis.ConnectionError("Connection closed by server."),
    asyncio.TimeoutError(),
    ConnectionResetError(104, "Connection reset by peer"),
    Indeterminate("WAIT saw 0 of 1 replicas"),
], ids=lambda e: type(e).__name__)
def test_unknown_outcomes(exc):
    assert classify(exc)[0] == "info"


def test_text_names_the_class_and_message():
    assert classify(reply("MOVED 3999 10.0.0.1:6379")) == ("fail", "MovedError: 3999 10.0.0.1:6379")
    long = classify(Indeterminate("x" * 500))[1]
    assert len(long) == 200 and long.startswith("Indeterminate: xxx")


# ------------------------------------------------------------------ scripts are not rolled back

RUNTIME_ERROR = "ERR user_script:1: Script attempted to access nonexistent global variable 'x' script: 1a2b, on @user_script:1."
WRONGTYPE_IN_SCRIPT = "WRONGTYPE Operation against a key holding the wrong kind of value script: 1a2b, on @user_script:1."


@pytest.mark.parametrize("command", ["EVAL", "EVALSHA", "FCALL", "eval", "EVAL_RO", "FCALL_RO"])
@pytest.mark.parametrize("raw", [RUNTIME_ERROR, WRONGTYPE_IN_SCRIPT])
def test_error_after_a_script_ran_is_unknown(raw, command):
    assert classify(reply(raw, command))[0] == "info"


@pytest.mark.parametrize("raw", [RUNTIME_ERROR, WRONGTYPE_IN_SCRIPT])
@pytest.mark.parametrize("command", [None, "SET", "GET"])
def test_the_same_error_to_a_plain_command_is_a_failure(raw, command):
    assert classify(reply(raw, command))[0] == "fail"


@pytest.mark.parametrize("command", ["EVAL", "EVALSHA", "FCALL"])
@pytest.mark.parametrize("raw", [
    "NOSCRIPT No matching script. Please use EVAL.",
    "NOREPLICAS Not enough good replicas to write.",
    "READONLY You can't write against a read only replica.",
    "MOVED 3999 10.0.0.1:6379",
    "ASK 3999 10.0.0.1:6379",
    "CLUSTERDOWN The cluster is down",
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
])
def test_script_refused_before_it_wrote_is_a_failure(raw, command):
    assert classify(reply(raw, command))[0] == "fail"


def test_connection_error_during_a_script_is_unknown():
    exc = redis.ConnectionError("Connection closed by server.")
    exc.sb_command = "EVAL"
    assert classify(exc)[0] == "info"


# ------------------------------------------------------------------ ERR replies redis-py strips

@pytest.mark.parametrize("raw", [
    "ERR EXEC without MULTI",
    "ERR WAIT cannot be used with replica instances.",
])
def test_err_reply_starting_with_a_command_name_is_a_failure(raw):
    # redis-py strips "ERR " (and records it as status_code): what is left starts with an
    # upper-case word that is a command name, not an error code. Redis refused the command.
    exc = reply(raw)
    assert exc.status_code == "ERR" and type(exc) is redis.ResponseError
    assert classify(exc)[0] == "fail"
