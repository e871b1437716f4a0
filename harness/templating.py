"""The harness's one way of writing HTML: Jinja2 templates with autoescape.

Every page (report.html, compare.html, the `serve` index) and every checker's section of
the report is a Jinja2 template rendered by `ENV`, whose autoescape is on for every
template, files and strings alike: a value from Redis, the history or a run's files is
escaped wherever it lands, and only `Markup` (the helpers' own output, and the JSON and
scripts we inline on purpose) passes through as HTML.

JSON read by a page's script is written by `json_for_script`, which is not HTML escaping:
inside a <script> element entities are not decoded, so the JSON instead carries no `<`,
`>`, `&` or line separators at all (they are written as \\u escapes).

Templates live in harness/templates/; `h` (templates/helpers.html.j2) holds the macros
the pages and the checkers' templates share: figure cards, tables, generic details.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from markupsafe import Markup

TEMPLATES = Path(__file__).with_name("templates")

#: Values longer than this (as compact JSON) are cut in tables and charts.
VALUE_CHARS = 80
#: Rows a table shows before "… and N more".
MAX_ROWS = 1000


def json_for_script(obj: Any) -> str:
    """JSON that is safe inside a <script> element: no `<`, `>`, `&` or line separators."""
    text = json.dumps(_finite(obj), separators=(",", ":"), default=str, allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _finite(obj: Any) -> Any:
    """obj with NaN and infinities as None (JSON has neither)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        # the op table's long integer columns: skip the walk when nothing can be a float
        if obj and all(type(v) is int or v is None for v in obj[:64]) and \
                all(type(v) is not float for v in obj):
            return obj
        return [_finite(v) for v in obj]
    return obj


def script_json(obj: Any) -> Markup:
    """The `script_json` filter: json_for_script's text, inlined as is."""
    return Markup(json_for_script(obj))


def script_text(js: str) -> Markup:
    """Our own script or style, inlined: a literal `</script` or `</style` inside it would
    end the element early, so its slash is escaped (harmless in JS strings and CSS)."""
    return Markup(js.replace("</script", "<\\/script").replace("</style", "<\\/style"))


def short(value: Any, limit: int = VALUE_CHARS) -> str:
    """A compact one-line text of a value, cut to `limit` characters."""
    if isinstance(value, str):
        text = value
    elif value is None:
        return "null"
    elif type(value) is int:
        text = str(value)
    else:
        try:
            text = json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
        except RecursionError:   # nested deeper than anything a run writes
            text = f"({type(value).__name__} nested too deep to show)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt(v: Any) -> str:
    """Any value as table text: thousands separators, 4 significant digits, compact JSON."""
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, (list, dict, tuple)):
        return short(v, 300)
    return str(v)


def number(v: Any) -> float | None:
    """v as a finite float; None for anything else (booleans are not numbers here, nor
    integers too large for a float). The one such test: run directories, charts and
    tables all use it."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def format_value(v: Any, kind: str = "") -> str:
    """A figure's value in its `Figure.format`: int, pct, ms, s, or "" (as `fmt`); "–" if
    there is none."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if number(v) is None:
        return fmt(v)
    if kind == "pct":
        return f"{v:.2%}"
    if kind == "int":
        return f"{v:,.0f}"
    if kind == "s":
        return f"{v:.2f}"
    if kind == "ms":
        return f"{v:.3g}" if v < 100 else f"{v:,.0f}"
    return fmt(v)


def seconds(t: Any) -> str:
    """The `s` filter: a time in seconds as "12.345s" ("—" if it is not a number)."""
    if number(t) is None:
        return "—"
    return f"{t:.3f}s"


def list_rows(items: list[Any]) -> tuple[list[str], list[list[Any]]]:
    """(headers, rows) of a list: objects as columns of their keys, anything else as one
    "value" column."""
    if items and all(isinstance(i, dict) for i in items[:50]):
        headers: list[str] = []
        for i in items[:200]:
            for k in i if isinstance(i, dict) else ():
                if k not in headers:
                    headers.append(k)
        return headers, [[i.get(h, "") if isinstance(i, dict) else i for h in headers]
                         for i in items[:MAX_ROWS]]
    return ["value"], [[i] for i in items[:MAX_ROWS]]


def details_blocks(details: Any, skip: Any = ()) -> list[dict[str, Any]]:
    """A checker's details laid out generically: the scalars (and short lists) as one
    key-value table, each long list (or list of objects) as a titled table of its own,
    each object as a titled key-value table."""
    if not isinstance(details, dict):
        return [{"kind": "kv", "title": "", "pairs": [("result", details)]}] if details else []
    scalars, blocks = [], []
    for k, v in details.items():
        if k in skip:
            continue
        if isinstance(v, list) and v and (len(v) > 8 or isinstance(v[0], dict)):
            headers, rows = list_rows(v)
            blocks.append({"kind": "table", "title": f"{k} ({len(v):,})", "headers": headers,
                           "rows": rows, "total": len(v)})
        elif isinstance(v, dict) and v and len(v) <= 50 and \
                all(not isinstance(x, (dict, list)) for x in v.values()):
            blocks.append({"kind": "kv", "title": str(k), "pairs": list(v.items())})
        else:
            scalars.append((k, v))
    return ([{"kind": "kv", "title": "", "pairs": scalars}] if scalars else []) + blocks


def verdict_of(valid: Any) -> tuple[str, str]:
    """(word, css class) of a verdict: True, False or anything else (unknown)."""
    if valid is True or valid == "true":
        return "VALID", "valid"
    if valid is False or valid == "false":
        return "INVALID", "invalid"
    return "UNKNOWN", "unknown"


def _make_env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      undefined=ChainableUndefined,  # checkers' details may lack any key
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(fmt=fmt, short=short, figure=format_value, s=seconds,
                       script_json=script_json, verdict=lambda v: verdict_of(v)[0])
    env.tests["markup"] = lambda v: isinstance(v, Markup)
    env.globals.update(MAX_ROWS=MAX_ROWS, verdict_of=verdict_of, details_blocks=details_blocks,
                       list_rows=list_rows)
    # The helper macros, as `h` in every template (checkers' string templates included).
    env.globals["h"] = env.get_template("helpers.html.j2").module
    return env


ENV = _make_env()


def render(template: str, **context: Any) -> str:
    """Render the file harness/templates/<template>."""
    return ENV.get_template(template).render(**context)


def render_string(source: str, **context: Any) -> str:
    """Render Jinja2 source (a checker's `template`) with the same helpers and escaping."""
    return ENV.from_string(source).render(**context)
