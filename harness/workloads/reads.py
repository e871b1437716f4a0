"""Final reads shared by the workloads: every key from the converged primary (as the
checkers judge it) and from every node (to show divergence)."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import redis

from ..clients import Session


def read_everywhere(topo: Any, keys: list[str], command: str, parse: Callable[[Any], Any],
                    field: str, attempts: int = 20, args: tuple = ()) -> dict[str, Any]:
    """{"primary": {"node", field: {key: parse(reply)}}, "nodes": {name: {"role", field} or
    {"error"}}}: `command key *args` for each key. The primary is read through a client
    session, retried `attempts` times half a second apart; a node that does not serve a
    key (MOVED) leaves it out."""
    nodes = {}
    for n in topo.nodes:
        try:
            nodes[n.name] = _read_node(topo, n, keys, (command, *args), parse, field)
        except (redis.RedisError, OSError) as e:
            nodes[n.name] = {"error": f"{type(e).__name__}: {e}"}
    return {"primary": asyncio.run(_read_primary(topo, keys, (command, *args), parse, field, attempts)),
            "nodes": nodes}


async def _read_primary(topo: Any, keys: list[str], command: tuple, parse: Callable[[Any], Any],
                        field: str, attempts: int) -> dict[str, Any]:
    last = None
    for _ in range(attempts):
        session = Session(topo, timeout=2.0)
        try:
            values, where = {}, set()
            for key in keys:
                reply = await session.call(key, (command[0], key, *command[1:]))
                values[key] = parse(reply.value)
                where.add(reply.node)
            return {"node": ",".join(sorted(where)), field: values}
        except Exception as e:  # noqa: BLE001 - retried, then reported
            last = e
            await asyncio.sleep(0.5)
        finally:
            await session.close()
    raise RuntimeError(f"final read from the primary failed: {last}")


def _read_node(topo: Any, node: Any, keys: list[str], command: tuple, parse: Callable[[Any], Any],
               field: str) -> dict[str, Any]:
    r = topo.replica_reader(node, timeout=2.0)
    try:
        info = r.info("replication")
        values = {}
        for key in keys:
            try:
                values[key] = parse(r.execute_command(command[0], key, *command[1:]))
            except redis.ResponseError:  # MOVED: this node does not serve the key
                continue
        return {"role": info.get("role"), field: values}
    finally:
        r.close()
