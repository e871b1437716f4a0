"""Routes shared by the kinds: a fixed pool (one address) for replicated deployments and
Sentinel's `master_for` pool."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel as AioSentinel

from .base import Route, no_retry


def client_kwargs(timeout: float) -> dict[str, Any]:
    return dict(socket_timeout=timeout, socket_connect_timeout=timeout, retry=no_retry(),
                decode_responses=True)


class PoolRoute(Route):
    """Every key goes to one pool."""

    def __init__(self, pool: Any):
        self._pool = pool

    async def pool(self, key: str | None) -> Any:
        return self._pool

    async def close(self) -> None:
        try:
            await self._pool.disconnect()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass


def fixed_route(host: str, timeout: float) -> PoolRoute:
    return PoolRoute(aioredis.ConnectionPool(host=host, port=6379, **client_kwargs(timeout)))


def sentinel_route(sentinels: list[tuple[str, int]], master: str, timeout: float,
                   replica: bool = False) -> PoolRoute:
    """Through Sentinel: `master_for`, or with `replica` `slave_for`, which connects to the
    replicas Sentinel reports up in turn from a random one (the primary if none is)."""
    kw = client_kwargs(timeout)
    sentinel = AioSentinel(sentinels, sentinel_kwargs=dict(socket_timeout=timeout,
                                                           socket_connect_timeout=timeout,
                                                           retry=no_retry()), **kw)
    client = sentinel.slave_for(master, **kw) if replica else sentinel.master_for(master, **kw)
    return PoolRoute(client.connection_pool)
