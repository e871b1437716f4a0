"""The servers a topology can run: one entry per name a user picks with `--server`.

A name says what the node image holds, not how it was obtained: `redis-8.0` is Redis 8.0
whether its image was debootstrapped from Debian trixie or built on an official image
given with `--base`. The exact version a run met is read from `INFO server` once the
topology is up (test.json's `server_version`), so two images of one name never pass for
the same server silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True)
class Server:
    name: str
    suite: str                   # the Debian release whose packages hold it
    packages: tuple[str, ...]    # its apt packages: server, Sentinel, command-line client
    registry_base: str           # the Debian image to build on when no mirror is at hand
    #: How the clock faults skew its wall clock: "libfaketime", or "sb-clock", our own
    #: preload (compose/sb-clock.c) for servers libfaketime deadlocks (see there why).
    clock: str = "libfaketime"

    @property
    def all_packages(self) -> tuple[str, ...]:
        """Everything its image installs: the server, the fault tools, and for sb-clock a
        compiler to build it with inside the image (no compiler needed on the host)."""
        return self.packages + TOOL_PACKAGES + (("gcc", "libc6-dev") if self.clock == "sb-clock" else ())

    def env(self) -> dict[str, str]:
        """What the node script must know (Compose environment)."""
        return {"SB_CLOCK": self.clock}


SERVERS: dict[str, Server] = {s.name: s for s in (
    Server("redis-7.0", "bookworm", ("redis-server", "redis-sentinel", "redis-tools"),
           "debian:bookworm-slim"),
    Server("redis-8.0", "trixie", ("redis-server", "redis-sentinel", "redis-tools"),
           "debian:trixie-slim", "sb-clock"),
    # Valkey's binaries are valkey-*; the node image links redis-* to them (Valkey answers
    # to both names, Sentinel mode included), so nodes and faults speak one set of names.
    Server("valkey-8.1", "trixie", ("valkey-server", "valkey-sentinel", "valkey-tools"),
           "debian:trixie-slim", "sb-clock"),
)}
DEFAULT_SERVER = "redis-7.0"
#: What every node image holds besides the server: the fault tools.
TOOL_PACKAGES = ("iptables", "iproute2", "faketime", "procps")


def server(name: object) -> Server:
    """The server called `name`, or a UsageError that lists the choices."""
    if isinstance(name, str) and name in SERVERS:
        return SERVERS[name]
    raise UsageError(f"--server {str(name)[:60]!r}: choose one of {', '.join(SERVERS)}")


def describe_info(info: dict) -> str:
    """"Valkey 8.1.1" / "Redis 8.0.2" from a node's INFO server section (Valkey reports a
    redis_version too, for clients that test it: the compatibility level, not its own)."""
    name = str(info.get("server_name") or "redis")
    version = info.get(f"{name}_version") or info.get("redis_version") or "?"
    return f"{name.capitalize()} {version}"
