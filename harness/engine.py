"""The Docker engine: one SDK client, and everything splitbrain ever created on it.

Every container, network and volume splitbrain makes carries the `io.splitbrain` label,
so `down_all` finds the leftovers of crashed runs.
"""

from __future__ import annotations

from typing import Any

from .errors import EnvironmentProblem

LABEL = "io.splitbrain"

_client: Any = None


def docker_client() -> Any:
    """A Docker SDK client, or EnvironmentProblem (exit 3) saying what to run."""
    global _client
    if _client is None:
        import docker
        try:
            c = docker.from_env(timeout=60)
            c.ping()
        except Exception as e:  # noqa: BLE001 - any failure here means "no engine"
            raise EnvironmentProblem(
                f"no Docker engine reachable ({type(e).__name__}): run 'make setup' "
                f"(or start dockerd / Docker Desktop)") from None
        _client = c
    return _client


def project_containers(project: str) -> list[Any]:
    return docker_client().containers.list(
        all=True, filters={"label": [LABEL, f"com.docker.compose.project={project}"]})


def list_projects() -> dict[str, str]:
    """Compose project → topology kind, for every splitbrain container on this engine."""
    out = {}
    for c in docker_client().containers.list(all=True, filters={"label": LABEL}):
        p = c.labels.get("com.docker.compose.project")
        if p:
            out[p] = c.labels.get(f"{LABEL}.topology", "?")
    return out


def down_all() -> list[str]:
    """Remove every container, network and volume splitbrain ever made on this engine."""
    client = docker_client()
    removed = []
    for c in client.containers.list(all=True, filters={"label": LABEL}):
        try:
            c.remove(force=True, v=True)
            removed.append(f"container {c.name}")
        except Exception:  # noqa: BLE001 - already gone
            pass
    for n in client.networks.list(filters={"label": LABEL}):
        try:
            n.remove()
            removed.append(f"network {n.name}")
        except Exception:  # noqa: BLE001
            pass
    for v in client.volumes.list(filters={"label": LABEL}):
        try:
            v.remove(force=True)
            removed.append(f"volume {v.name}")
        except Exception:  # noqa: BLE001
            pass
    return removed
