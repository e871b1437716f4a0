"""splitbrain's command line: a thin shell over `harness`.

Exit codes (ARCHITECTURE.md): 0 valid, 1 anomalies found, 2 bad usage or input,
3 the harness or its environment failed, 4 unknown verdict.
"""

from __future__ import annotations

import sys

import click

from harness.compare import fail_on_option, run_exit_code
from harness.errors import SplitbrainError


class Group(click.Group):
    """Turns SplitbrainError into one line on stderr and its exit code (never a traceback)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SplitbrainError as e:
            click.echo(f"splitbrain: {e}", err=True)
            sys.exit(e.exit_code)


@click.group(cls=Group)
@click.version_option(package_name="splitbrain")
def main() -> None:
    """Break real Redis deployments and judge what they did."""


# ---------------------------------------------------------------- environment
@main.command()
@click.option("--fix", is_flag=True, help="Run the set-up script to fix what is missing.")
def doctor(fix: bool) -> None:
    """Is this machine ready? Each check with the command that fixes it."""
    from harness import doctor as doc
    ok = doc.run(fix=fix)
    sys.exit(0 if ok else 3)


@main.group()
def image() -> None:
    """The node image."""


@image.command("build")
@click.option("--base", default=None, metavar="IMAGE",
              help="Base image (e.g. redis:7.2, valkey/valkey:8); default: a local Debian made with debootstrap.")
@click.option("--quiet", is_flag=True)
def image_build(base: str | None, quiet: bool) -> None:
    """Build splitbrain-node:latest (needs no registry without --base)."""
    from harness.image import build_node_image
    click.echo(build_node_image(base, quiet=quiet))


# ---------------------------------------------------------------- topologies
@main.command()
@click.argument("topology")
@click.option("--redis-conf", multiple=True, metavar="KEY=VALUE", help="redis.conf directive (repeatable).")
@click.option("--sentinel-conf", multiple=True, metavar="KEY=VALUE", help="Sentinel directive (repeatable).")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for health.")
def up(topology: str, redis_conf: tuple[str, ...], sentinel_conf: tuple[str, ...], timeout: float) -> None:
    """Start TOPOLOGY (sentinel, cluster, replicated) and wait until it is healthy."""
    from harness.topology import Topology, parse_settings
    topo = Topology.new(topology, parse_settings(redis_conf, "--redis-conf"),
                        parse_settings(sentinel_conf, "--sentinel-conf"))
    click.echo(f"starting {topo.project} ...", err=True)
    try:
        took = topo.up(timeout, progress=None)
    except BaseException:
        topo.down()
        raise
    click.echo(f"{topo.project} healthy in {took:.1f}s", err=True)
    _print_status(topo)


def _print_status(topo) -> None:
    rows = topo.status()
    click.echo(f"{topo.project} ({topo.kind}, network {topo.subnet}.0/24)")
    cols = list(rows[0]) if rows else []
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    click.echo("  " + "  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        click.echo("  " + "  ".join(str(r[c]).ljust(widths[c]) for c in cols))
    problems = topo.problems()
    click.echo("  health: " + ("ok" if not problems else "; ".join(problems)))


@main.command()
@click.argument("project", required=False)
def status(project: str | None) -> None:
    """Nodes, roles, addresses and health of running topologies."""
    from harness.topology import Topology, list_projects
    projects = [project] if project else sorted(list_projects())
    if not projects:
        click.echo("no splitbrain topology is running")
    for p in projects:
        _print_status(Topology.attach(p))


@main.command()
@click.argument("project", required=False)
@click.option("--all", "all_", is_flag=True, help="Remove everything splitbrain ever started here.")
def down(project: str | None, all_: bool) -> None:
    """Remove a topology (or, with --all, every splitbrain container, network and volume)."""
    from harness.topology import Topology, down_all, list_projects
    if all_:
        removed = down_all()
        click.echo(f"removed {len(removed)} objects" + (": " + ", ".join(removed) if removed else ""))
        return
    if project is None:
        running = sorted(list_projects())
        if len(running) != 1:
            raise click.UsageError(
                "name the topology to remove, or use --all" if running else "no splitbrain topology is running")
        project = running[0]
    Topology.attach(project).down()
    click.echo(f"removed {project}")


# ---------------------------------------------------------------- runs
def run_options(f):
    """Options shared by `run` and `compare`."""
    opts = [
        click.option("--topology", "-t", default="sentinel", show_default=True,
                     help="sentinel, cluster or replicated."),
        click.option("--workload", "-w", default="set", show_default=True, help="set or register."),
        click.option("--nemesis", "-n", default="", metavar="NAME[,NAME...]",
                     help="Faults, e.g. isolate-primary-with-clients or partition,clock,kill,pause."),
        click.option("--nemesis-interval", default=10.0, show_default=True, help="Seconds between fault changes."),
        click.option("--nemesis-overlap", is_flag=True, help="Let faults of different kinds overlap."),
        click.option("--time-limit", default=60.0, show_default=True, help="Seconds of workload."),
        click.option("--concurrency", "-c", default=10, show_default=True, help="Client workers."),
        click.option("--rate", default=0.0, show_default=True, help="Target total ops/s (0 = unlimited)."),
        click.option("--keys", default=10, show_default=True, help="Keys the set workload spreads over."),
        click.option("--redis-conf", multiple=True, metavar="KEY=VALUE", help="redis.conf directive (repeatable)."),
        click.option("--sentinel-conf", multiple=True, metavar="KEY=VALUE", help="Sentinel directive (repeatable)."),
        click.option("--wait", "wait_", default=None, metavar="N:TIMEOUT_MS", help="WAIT N TIMEOUT after each write."),
        click.option("--seed", default=None, type=int, help="Seed of every random choice (default: random)."),
        click.option("--client-timeout", default=0.5, show_default=True, help="Socket timeout of client ops, s."),
        click.option("--results-dir", default="results", show_default=True, type=click.Path(file_okay=False)),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def spec_from_options(argv: list[str], **o):
    import random
    from harness.spec import TestSpec, parse_wait
    from harness.topology import parse_settings
    nemesis = [n.strip() for n in o["nemesis"].split(",") if n.strip() and n.strip() != "none"]
    return TestSpec(
        topology=o["topology"], workload=o["workload"], nemesis=nemesis,
        nemesis_interval=o["nemesis_interval"], nemesis_overlap=o["nemesis_overlap"],
        time_limit=o["time_limit"], concurrency=o["concurrency"], rate=o["rate"], keys=o["keys"],
        redis_conf=parse_settings(o["redis_conf"], "--redis-conf"),
        sentinel_conf=parse_settings(o["sentinel_conf"], "--sentinel-conf"),
        wait=parse_wait(o["wait_"]), seed=o["seed"] if o["seed"] is not None else random.randrange(1 << 31),
        client_timeout=o["client_timeout"], results_dir=o["results_dir"], argv=argv,
        **({"name": o["name"]} if o.get("name") else {}), keep=o.get("keep", False))


@main.command()
@run_options
@click.option("--name", default="", help="Test name (results/<name>/...); default from the options.")
@click.option("--keep", is_flag=True, help="Leave the topology running afterwards.")
@fail_on_option
def run(**o) -> None:
    """Run one test: workload + faults on a real topology, then check the history."""
    from harness.runner import Run
    spec = spec_from_options(["splitbrain", "run", *sys.argv[2:]], **o)
    outcome = Run(spec).execute()
    click.echo(summary(outcome))
    sys.exit(run_exit_code(outcome, o["fail_on"]))


@main.command()
@click.argument("history", type=click.Path(dir_okay=False))
@click.option("--model", default="register", show_default=True, help="register or kv.")
@click.option("--time-limit", default=60.0, show_default=True, help="Seconds before the verdict is unknown.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
def check(history: str, model: str, time_limit: float, as_json: bool) -> None:
    """Check a JSONL history for linearizability (exit 0 valid, 1 not, 4 unknown)."""
    import json
    from harness.checkers.linearizable import check_file
    from harness.checkers.models import MODELS
    from harness.errors import UsageError
    if model not in MODELS:
        raise UsageError(f"unknown model {model!r}: choose from {', '.join(MODELS)}")
    r = check_file(history, model, time_limit)
    if as_json:
        click.echo(json.dumps(r, indent=2, default=str))
    else:
        click.echo(f"{r['verdict']}: {r.get('keys_checked')} keys, {r.get('ops_checked')} ops, {r.get('time_s')}s")
        for fail in r.get("failures", []):
            click.echo(f"  key {fail['key']!r}: linearizable prefix of {len(fail['prefix'])} ops, then")
            for u in fail["unplaceable"]:
                click.echo(f"    op {u['index']} (process {u['process']}, {u['f']} {u['value']!r}): {u['reason']}")
    sys.exit({True: 0, False: 1}.get(r["valid"], 4))


def summary(outcome) -> str:
    r = outcome.results
    verdict = {True: "VALID", False: "INVALID", "unknown": "UNKNOWN"}[outcome.valid]
    lines = [f"verdict: {verdict}"]
    s = r.get("checkers", {}).get("set")
    if s and "acknowledged_count" in s:
        lines.append(f"acknowledged {s['acknowledged_count']} of {s['attempt_count']} attempted; "
                     f"lost {s['lost_count']} (lost rate {s['lost_rate']:.2%}); "
                     f"unexpected {s['unexpected_count']}, recovered {s['recovered_count']}")
    lin = r.get("checkers", {}).get("linearizable")
    if lin:
        lines.append(f"linearizability: {lin.get('verdict', lin.get('valid'))}"
                     + (f" ({len(lin.get('failures', []))} keys with violations)" if lin.get("failures") else ""))
    st = r.get("stats", {})
    if st.get("ops"):
        lines.append(f"ops {st['ops']} (ok {st.get('ok')}, fail {st.get('fail')}, info {st.get('info')}), "
                     f"{st.get('ops_per_s')} ops/s, p50 {st.get('latency_ms', {}).get('p50')} ms")
    if r.get("error"):
        lines.append(f"note: {r['error']}")
    lines.append(f"results: {outcome.run_dir}")
    return "\n".join(lines)


from harness.compare import compare_command  # noqa: E402  (needs run_options above)
from harness.serve import serve_command  # noqa: E402

main.add_command(compare_command)
main.add_command(serve_command)


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
def report(run_dir: str) -> None:
    """Rebuild RUN_DIR/report.html (and junit.xml) from its history and results."""
    import json
    from pathlib import Path
    from harness.junit import write_junit
    from harness.report import build_report
    d = Path(run_dir)
    if (d / "results.json").exists():
        write_junit(d, json.loads((d / "results.json").read_text()))
    click.echo(build_report(d))


if __name__ == "__main__":
    main()
