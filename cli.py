"""splitbrain's command line: a thin shell over `harness`.

Exit codes (harness/outcome.py): 0 valid, 1 anomalies found, 2 bad usage or input,
3 the harness or its environment failed, 4 unknown verdict.
"""

from __future__ import annotations

import errno
import json
import random
import sys
from pathlib import Path

import click

from harness import doctor as doctor_checks
from harness.analysis import EXPORT_FORMATS, FILE_MODELS, check_history_file, export_history, recheck, workload_for
from harness.checkers.linearizability import summary_of
from harness.checkers.txn.consistency import MODELS as TXN_MODELS, check_model
from harness.compare import rebuild, run_compare
from harness.compare.table import markdown_table
from harness.engine import docker_client, down_all, list_projects
from harness.errors import SplitbrainError, UsageError
from harness.image import build_node_image
from harness.servers import DEFAULT_SERVER, SERVERS
from harness.junit import write_junit
from harness.outcome import EXIT_FOR_VALID, check_fail_on, exit_code_for, run_row
from harness.report import build_report
from harness.rundir import RunDir
from harness.runner import Run
from harness.serve import check_bind_host, make_server
from harness.spec import (CHECK_TIME_LIMIT, PORT, RANGES, REPEAT, UP_TIMEOUT, Range, TestSpec,
                          parse_settings, parse_wait)
from harness.topology import TOPOLOGIES, attach, new_topology
from harness.workloads import WORKLOADS


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _usage_error(e: click.UsageError) -> None:
    """click's own usage errors (an unknown option, a missing value) in one line, exit 2;
    a command run without its arguments still shows its help."""
    if isinstance(e, getattr(click.exceptions, "NoArgsIsHelpError", ())):
        raise e
    where = e.ctx.command_path if e.ctx else "splitbrain"
    click.echo(f"{where}: {_one_line(e.format_message())} (see --help)", err=True)
    sys.exit(e.exit_code)


class Group(click.Group):
    """Turns SplitbrainError, and click's own usage errors, into one line on stderr and
    its exit code (never a traceback)."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as e:
            _usage_error(e)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SplitbrainError as e:
            click.echo(f"splitbrain: {_one_line(str(e))}", err=True)
            sys.exit(e.exit_code)
        except click.UsageError as e:
            _usage_error(e)
        except OSError as e:
            # a file that cannot be read or written (permissions, a full disk, a directory
            # where a file should be): the environment failed, say which file (a closed
            # pipe is click's to handle)
            if e.errno == errno.EPIPE:
                raise
            where = f": {e.filename}" if e.filename else ""
            click.echo(f"splitbrain: {_one_line(e.strerror or str(e))}{_one_line(str(where))}", err=True)
            sys.exit(3)


class Number(click.ParamType):
    """A numeric option, checked against its range in harness.spec (the one place ranges
    are defined) when it is parsed: before the command does anything."""

    def __init__(self, rng: Range):
        self.rng = rng
        self.name = "integer" if rng.integer else "number"

    def convert(self, value, param, ctx):
        return self.rng.check(param.opts[0] if param else "value", value)


@click.group(cls=Group)
@click.version_option(package_name="splitbrain")
def main() -> None:
    """Break real Redis deployments and judge what they did."""


# ---------------------------------------------------------------- environment
@main.command()
@click.option("--fix", is_flag=True, help="Run the set-up script to fix what is missing.")
def doctor(fix: bool) -> None:
    """Is this machine ready? Each check with the command that fixes it."""
    sys.exit(0 if doctor_checks.run(fix=fix) else 3)


@main.group()
def image() -> None:
    """The node image."""


@image.command("build")
@click.option("--server", default=DEFAULT_SERVER, show_default=True, help=", ".join(SERVERS) + ".")
@click.option("--base", default=None, metavar="IMAGE",
              help="Base image holding that server (e.g. redis:7.4, valkey/valkey:8); default: a local "
                   "Debian made with debootstrap, else the registry's Debian image.")
@click.option("--mirror", default=None, metavar="URL",
              help="Debian mirror to debootstrap from (default: the one in this machine's apt sources).")
@click.option("--quiet", is_flag=True)
def image_build(server: str, base: str | None, mirror: str | None, quiet: bool) -> None:
    """Build splitbrain-node:SERVER (needs no registry without --base)."""
    click.echo(build_node_image(server, base, mirror,
                                say=None if quiet else (lambda line: click.echo(line, err=True))))


# ---------------------------------------------------------------- topologies
@main.command()
@click.argument("topology")
@click.option("--redis-conf", multiple=True, metavar="KEY=VALUE", help="redis.conf directive (repeatable).")
@click.option("--sentinel-conf", multiple=True, metavar="KEY=VALUE", help="Sentinel directive (repeatable).")
@click.option("--server", default=DEFAULT_SERVER, show_default=True, help=", ".join(SERVERS) + ".")
@click.option("--timeout", default=60.0, show_default=True, type=Number(UP_TIMEOUT),
              help="Seconds to wait for health.")
def up(topology: str, redis_conf: tuple[str, ...], sentinel_conf: tuple[str, ...], server: str,
       timeout: float) -> None:
    """Start TOPOLOGY (sentinel, cluster, replicated, independent) and wait until it is healthy."""
    topo = new_topology(topology, parse_settings(redis_conf, "--redis-conf"),
                        parse_settings(sentinel_conf, "--sentinel-conf"), server=server)
    docker_client()     # no engine: say what to run before anything else
    click.echo(f"starting {topo.project} ...", err=True)
    try:
        took = topo.up(timeout)
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
    projects = [project] if project else sorted(list_projects())
    if not projects:
        click.echo("no splitbrain topology is running")
    for p in projects:
        _print_status(attach(p))


@main.command()
@click.argument("project", required=False)
@click.option("--all", "all_", is_flag=True, help="Remove everything splitbrain ever started here.")
def down(project: str | None, all_: bool) -> None:
    """Remove a topology (or, with --all, every splitbrain container, network and volume)."""
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
    attach(project).down()
    click.echo(f"removed {project}")


# ---------------------------------------------------------------- runs
def run_options(f):
    """Options shared by `run` and `compare`."""
    opts = [
        click.option("--topology", "-t", default="sentinel", show_default=True,
                     help=", ".join(TOPOLOGIES) + "."),
        click.option("--server", default=DEFAULT_SERVER, show_default=True,
                     help="What the nodes run: " + ", ".join(SERVERS) + " (its image is built on first use)."),
        click.option("--workload", "-w", default="set", show_default=True, help=", ".join(WORKLOADS) + "."),
        click.option("--nemesis", "-n", default="", metavar="NAME[,NAME...]",
                     help="Faults, e.g. isolate-primary-with-clients or partition,clock,kill,pause."),
        click.option("--nemesis-interval", default=10.0, show_default=True, type=Number(RANGES["nemesis_interval"]),
                     help="Seconds between fault changes."),
        click.option("--nemesis-overlap", is_flag=True, help="Let faults of different kinds overlap."),
        click.option("--time-limit", default=60.0, show_default=True, type=Number(RANGES["time_limit"]),
                     help="Seconds of workload."),
        click.option("--concurrency", "-c", default=10, show_default=True, type=Number(RANGES["concurrency"]),
                     help="Client workers."),
        click.option("--rate", default=0.0, show_default=True, type=Number(RANGES["rate"]),
                     help="Target total ops/s (0 = unlimited)."),
        click.option("--keys", default=10, show_default=True, type=Number(RANGES["keys"]),
                     help="Keys the workload spreads over."),
        click.option("--redis-conf", multiple=True, metavar="KEY=VALUE", help="redis.conf directive (repeatable)."),
        click.option("--sentinel-conf", multiple=True, metavar="KEY=VALUE", help="Sentinel directive (repeatable)."),
        click.option("--wait", "wait_", default=None, metavar="N:TIMEOUT_MS", help="WAIT N TIMEOUT after each write."),
        click.option("--seed", default=None, type=Number(RANGES["seed"]),
                     help="Seed of every random choice (default: random)."),
        click.option("--client-timeout", default=0.5, show_default=True, type=Number(RANGES["client_timeout"]),
                     help="Socket timeout of client ops, s."),
        click.option("--consistency-model", default="strict-serializable", show_default=True,
                     help="What transactional workloads (append) are judged against: " + ", ".join(TXN_MODELS) + "."),
        click.option("--lock-impl", default="redis-py", show_default=True,
                     help="The locking code the lock workload tests: redis-py, redlock, fenced."),
        click.option("--fencing", is_flag=True,
                     help="Lock workload: the protected resource refuses tokens lower than one it saw."),
        click.option("--results-dir", default="results", show_default=True, type=click.Path(file_okay=False)),
        click.option("--fail-on", default="anomaly", show_default=True, metavar="anomaly|never|FIGURE",
                     help="Exit 1 when: anomaly = any run invalid; FIGURE (e.g. lost) = a checker figure "
                          "of that name above 0 in any run; never = only harness failures (exit 3)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def spec_from_options(argv: list[str], **o) -> TestSpec:
    nemesis = [n.strip() for n in o["nemesis"].split(",") if n.strip() and n.strip() != "none"]
    check_model(o["consistency_model"])
    spec = TestSpec(
        topology=o["topology"], server=o["server"], workload=o["workload"], nemesis=nemesis,
        nemesis_interval=o["nemesis_interval"], nemesis_overlap=o["nemesis_overlap"],
        time_limit=o["time_limit"], concurrency=o["concurrency"], rate=o["rate"], keys=o["keys"],
        redis_conf=parse_settings(o["redis_conf"], "--redis-conf"),
        sentinel_conf=parse_settings(o["sentinel_conf"], "--sentinel-conf"),
        wait=parse_wait(o["wait_"]), seed=o["seed"] if o["seed"] is not None else random.randrange(1 << 31),
        client_timeout=o["client_timeout"], consistency_model=o["consistency_model"],
        lock_impl=o["lock_impl"], fencing=o["fencing"], results_dir=o["results_dir"], argv=argv,
        **({"name": o["name"]} if o.get("name") else {}), keep=o.get("keep", False))
    check_fail_on(o["fail_on"], [f for c in workload_for(spec).checkers() for f in c.figures])
    return spec


def summary(results: dict, run_dir: Path) -> str:
    verdict = {True: "VALID", False: "INVALID"}.get(results.get("valid"), "UNKNOWN")
    lines = [f"verdict: {verdict}"]
    for name, c in (results.get("checkers") or {}).items():
        lines.append(f"{name}: {c.get('summary')}")
        if isinstance(c.get("explanation"), str) and c["explanation"]:
            lines += ["  " + line for line in c["explanation"].splitlines()]
    st = results.get("stats", {})
    if st.get("ops"):
        lines.append(f"ops {st['ops']} (ok {st.get('ok')}, fail {st.get('fail')}, info {st.get('info')}), "
                     f"{st.get('ops_per_s')} ops/s, p50 {st.get('latency_ms', {}).get('p50')} ms, "
                     f"p99 {st.get('latency_ms', {}).get('p99')} ms")
    for key in ("note", "error"):
        if results.get(key):
            lines.append(f"note: {results[key]}")
    lines.append(f"results: {run_dir}")
    return "\n".join(lines)


@main.command()
@run_options
@click.option("--name", default="", help="Test name (results/<name>/...); default from the options.")
@click.option("--keep", is_flag=True, help="Leave the topology running afterwards.")
def run(**o) -> None:
    """Run one test: workload + faults on a real topology, then check the history."""
    spec = spec_from_options(["splitbrain", "run", *sys.argv[2:]], **o)
    outcome = Run(spec).execute()
    click.echo(summary(outcome.results, outcome.run_dir))
    sys.exit(exit_code_for(o["fail_on"], [run_row(outcome.results)]))


@main.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--model", default=None,
              help="For a bare history file: " + ", ".join(FILE_MODELS) + " (default register).")
@click.option("--consistency-model", default=None,
              help="What transactions are judged against: " + ", ".join(TXN_MODELS)
                   + " (default: the run's, or strict-serializable).")
@click.option("--time-limit", default=60.0, show_default=True, type=Number(CHECK_TIME_LIMIT),
              help="Seconds before the verdict is unknown.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
def check(path: str, model: str | None, consistency_model: str | None, time_limit: float,
          as_json: bool) -> None:
    """Re-check a run directory with its workload's checkers (rewriting results.json, the
    report and junit.xml), or check a bare history file: our JSONL, or Jepsen's EDN
    (a name ending in .edn), either plain or compressed (zstd, gzip)."""
    if consistency_model:
        check_model(consistency_model)
    if Path(path).is_dir():
        if model:
            raise UsageError("--model is for a bare history file; a run directory uses its workload's checkers")
        run_dir, results = recheck(path, consistency_model)
        click.echo(json.dumps(results, indent=2, default=str) if as_json else summary(results, run_dir.path))
        sys.exit(EXIT_FOR_VALID.get(results["valid"], 4))
    r = check_history_file(path, model or "register", time_limit, consistency_model or "strict-serializable")
    if as_json:
        click.echo(json.dumps(r, indent=2, default=str))
    elif "anomalies" in r:          # list-append
        click.echo(r["summary"])
        for name in r["anomaly_types"]:
            example = r["anomalies"][name]["examples"][0]
            click.echo(example.get("text") or f"{name}: " + json.dumps(example, default=str))
    else:
        click.echo(f"{summary_of(r)} ({r.get('time_s')}s)")
        for fail in r.get("failures", []):
            click.echo(f"  key {fail['key']!r}: linearizable prefix of {len(fail['prefix'])} ops, then")
            for u in fail["unplaceable"]:
                click.echo(f"    op {u['index']} (process {u['process']}, {u['f']} {u['value']!r}): {u['reason']}")
    sys.exit(EXIT_FOR_VALID.get(r["valid"], 4))


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="edn", show_default=True,
              help="edn: Jepsen's history.edn, one op map per line; jsonl: the history uncompressed.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default: standard output).")
def export(run_dir: str, fmt: str, output: str | None) -> None:
    """Write RUN_DIR's history in another tool's format (Jepsen EDN), or as plain JSONL."""
    n = export_history(run_dir, fmt, output)
    if output is not None:
        click.echo(f"wrote {n} ops to {output}", err=True)


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
def report(run_dir: str) -> None:
    """Rebuild RUN_DIR/report.html (and junit.xml) from its history and results."""
    run = RunDir(run_dir).require()
    if isinstance(run.results, dict):
        write_junit(run.path, run.results)
    click.echo(build_report(run.path))


@main.command()
@run_options
@click.option("--vary", multiple=True, metavar="KEY=V1,V2 | ALT|ALT",
              help="An axis of the matrix (repeatable): KEY=V1,V2 or \"default|k=v+k2=v2|wait=1:100\". "
                   "KEY: wait, a run option (concurrency, time-limit, nemesis, ...), sentinel.KEY, "
                   "or a redis.conf directive.")
@click.option("--repeat", default=1, show_default=True, type=Number(REPEAT),
              help="Runs per cell (repeat i uses --seed + i).")
@click.option("--from", "from_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Rebuild the table from finished runs under DIR instead of running.")
@click.option("--verbose", "-v", is_flag=True, help="Show each run's own progress (default: logs/ of the compare).")
def compare(vary, repeat, from_dir, verbose, **o) -> None:
    """Run a matrix of settings (--vary) and put the answers side by side.

    \b
    splitbrain compare -t sentinel -n isolate-primary-with-clients --time-limit 30 \\
      --vary "default|min-replicas-to-write=1+min-replicas-max-lag=5|wait=1:100|wait=2:100" \\
      --repeat 3

    Writes results/compare/<stamp>/ (compare.csv, runs.csv, compare.html, junit.xml and
    the runs) and prints a Markdown table on stdout.
    """
    echo = lambda s: click.echo(s, err=True)  # noqa: E731 - progress goes to stderr
    if from_dir:
        if vary:
            raise UsageError("--from rebuilds finished runs: it takes no --vary")
        table, cells = rebuild(Path(from_dir), o["fail_on"])
        click.echo(markdown_table(table))
        echo(f"wrote {Path(from_dir) / 'compare.csv'}, compare.html, runs.csv, junit.xml")
        sys.exit(exit_code_for(o["fail_on"], [r for c in cells for r in c["rows"]]))
    base = spec_from_options(["splitbrain", "compare", *sys.argv[2:]], **o)
    table, rows, interrupted, out_dir = run_compare(base, vary, repeat, echo, verbose)
    click.echo(markdown_table(table))
    echo(f"wrote {out_dir / 'compare.csv'}, compare.html, runs.csv, junit.xml")
    code = exit_code_for(o["fail_on"], rows)
    sys.exit(3 if interrupted and code == 0 else code)


@main.command()
@click.argument("results_dir", default="results", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--port", default=8765, show_default=True, type=Number(PORT), help="TCP port (0 = any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; the default keeps the page on this machine.")
@click.option("--verbose", "-v", is_flag=True, help="Log each request.")
def serve(results_dir: str, port: int, host: str, verbose: bool) -> None:
    """Browse RESULTS_DIR (default: results) on a local web page."""
    check_bind_host(host)
    try:
        server = make_server(Path(results_dir), host, port)
    except (OSError, ValueError, OverflowError) as e:
        raise UsageError(f"cannot listen on {host}:{port}: {getattr(e, 'strerror', None) or e}") from None
    server.verbose = verbose
    h, p = server.server_address[:2]
    click.echo(f"serving {results_dir} on http://{h}:{p}/ (Ctrl-C to stop)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
