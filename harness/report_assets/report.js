/* splitbrain report: draws the charts from the JSON in #report-data with Plotly.
 * Plotly draws axes, fault windows, legends and small traces as SVG; the per-op marks of
 * the timeline and the latency scatter (up to ~150k ops) are drawn on a 2D canvas laid
 * under Plotly's transparent SVG and redrawn on every zoom: that is fast in any browser,
 * with or without a GPU, and needs no WebGL.
 * Strings from the history are escaped (pesc) before Plotly sees them: Plotly reads a
 * small HTML subset in labels, so "<b>" in a value would otherwise be markup.
 * The checkers' views add marks on the timeline (DATA.marks) and charts of their own
 * (DATA.charts, drawn by kind); nothing here knows which checker they came from.
 * When everything is drawn, #report-status gets data-status="ok" and data-render-ms
 * (ms since navigation start); any uncaught error shows in #js-errors and sets "error". */
(function () {
  "use strict";
  var errors = [], marks = ["script " + Math.round(performance.now())];
  function mark(what) { marks.push(what + " " + Math.round(performance.now())); }
  var statusEl = document.getElementById("report-status");

  function showError(msg) {
    errors.push(String(msg));
    var box = document.getElementById("js-errors");
    if (box) {
      box.hidden = false;
      box.textContent = "The page's script failed: " + errors.join(" | ");
    }
    if (statusEl) statusEl.setAttribute("data-status", "error");
  }
  window.addEventListener("error", function (e) { showError(e.message || e); });
  window.addEventListener("unhandledrejection", function (e) { showError(e.reason || e); });

  function finish(note) {
    if (!statusEl) return;
    statusEl.setAttribute("data-render-ms", String(Math.round(performance.now())));
    statusEl.setAttribute("data-marks", marks.join(", "));
    if (!errors.length) statusEl.setAttribute("data-status", note || "ok");
  }

  function pesc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  var TYPE_COLORS = { ok: "#16a34a", fail: "#dc2626", info: "#d97706" };
  var MARK_COLORS = ["#b91c1c", "#7c3aed", "#0e7490", "#a16207"];
  var F_COLORS = ["#2563eb", "#16a34a", "#9333ea", "#0891b2", "#ea580c", "#db2777", "#65a30d", "#475569"];
  var F_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon"];
  var FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1f2937" };
  var CONFIG = { responsive: true, displaylogo: false, scrollZoom: false };

  // Fault windows shaded across a time chart, single nemesis events as dotted lines; with
  // labels, each gets a text at the top, stacked into rows so that labels do not overlap.
  function faultShapes(D, withLabels, widthPx) {
    var shapes = [], ann = [], rowEnds = [], span = Math.max(D.t_end, 0.001);
    var sPerChar = 6.2 * span / Math.max(widthPx || 1000, 200);
    function label(x, text, color, hover) {
      var r = 0;
      while (r < rowEnds.length && rowEnds[r] > x) r++;
      if (r >= 4) return;  // no room: the hover text of the shape's row stays in the table
      rowEnds[r] = x + (text.length + 2) * sPerChar;
      ann.push({ x: x, xref: "x", y: 1, yref: "paper", xanchor: "left", yanchor: "bottom",
        text: pesc(text), showarrow: false, yshift: 2 + 13 * r, hovertext: pesc(hover),
        font: { size: 10, color: color }, bgcolor: "rgba(255,255,255,0.75)" });
    }
    D.windows.forEach(function (w) {
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: w.start, x1: w.end, y0: 0, y1: 1,
        fillcolor: w.color, opacity: 0.16, line: { width: 0 }, layer: "below" });
      // the window's edges stay visible over dense marks
      [w.start, w.end].forEach(function (x) {
        shapes.push({ type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1,
          line: { color: w.color, width: 1 }, opacity: 0.8 });
      });
    });
    D.events.forEach(function (e) {
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: e.time, x1: e.time, y0: 0, y1: 1,
        line: { color: e.color, width: 1.5, dash: "dot" } });
    });
    if (withLabels) {
      var items = D.windows.map(function (w) {
        var t = w.name + (w.detail ? " " + w.detail : "");
        return { x: w.start, text: t.length > 48 ? t.slice(0, 47) + "…" : t, color: w.color,
                 hover: w.name + " " + w.start + "s–" + w.end + "s " + w.detail };
      }).concat(D.events.map(function (e) {
        return { x: e.time, text: e.name, color: e.color, hover: e.name + " at " + e.time + "s " + e.detail };
      }));
      items.sort(function (a, b) { return a.x - b.x; });
      items.forEach(function (it) { label(it.x, it.text, it.color, it.hover); });
    }
    return { shapes: shapes, annotations: ann };
  }

  function baseLayout(D, id, extra) {
    var el = document.getElementById(id);
    var f = faultShapes(D, extra && extra.labels, el ? el.clientWidth - 190 : 1000);
    var layout = {
      font: FONT, margin: { l: 64, r: 16, t: 36, b: 44 }, hovermode: "closest",
      paper_bgcolor: "#fff", plot_bgcolor: "#fff",
      xaxis: { title: { text: "seconds since start" }, zeroline: false, gridcolor: "#eef0f3",
               range: [0, Math.max(D.t_end, 0.001)] },
      shapes: f.shapes, annotations: f.annotations,
      legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0, xanchor: "left" },
      modebar: { bgcolor: "rgba(255,255,255,0.8)", color: "#9ca3af", activecolor: "#374151" },
    };
    for (var k in extra) if (k !== "labels") layout[k] = extra[k];
    return layout;
  }

  function opLine(O, i) {
    var d = O.d[i];
    return "p" + O.p[i] + " " + O.fs[O.f[i]] + " " + (O.ks[O.k[i]] === null ? "" : O.ks[O.k[i]] + " ") +
      O.v[i] + " → " + O.ts[O.t[i]] + (d === null ? " (never completed)" : " " + d + "ms") +
      (O.ns[O.n[i]] === null ? "" : " @" + O.ns[O.n[i]]) + " #" + O.i[i];
  }

  function opText(O, i) { return pesc(opLine(O, i)); }

  // A 2D canvas under the plot area of Plotly chart `gd`, redrawn (draw(ctx, geom)) after
  // every Plotly redraw: zoom, pan, resize, legend clicks. Returns a redraw function.
  function canvasLayer(gd, draw) {
    var canvas = document.createElement("canvas");
    canvas.className = "ops-canvas";
    var container = gd.querySelector(".svg-container");
    container.insertBefore(canvas, container.firstChild);
    function redraw() {
      var g = geom(gd), dpr = window.devicePixelRatio || 1;
      canvas.style.left = g.l + "px"; canvas.style.top = g.t + "px";
      canvas.style.width = g.w + "px"; canvas.style.height = g.h + "px";
      canvas.width = Math.max(1, Math.round(g.w * dpr)); canvas.height = Math.max(1, Math.round(g.h * dpr));
      var ctx = canvas.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, g.w, g.h);
      ctx.save();
      ctx.beginPath(); ctx.rect(0, 0, g.w, g.h); ctx.clip();
      draw(ctx, g);
      ctx.restore();
    }
    redraw();
    gd.on("plotly_afterplot", redraw);
    gd.on("plotly_relayout", redraw);
    gd.on("plotly_restyle", redraw);
    return redraw;
  }

  // Plot-area geometry and a data->pixel mapping (log axes map log10 of the value).
  function geom(gd) {
    var fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis, sz = fl._size;
    var g = { l: sz.l, t: sz.t, w: sz.w, h: sz.h, x0: xa.range[0], x1: xa.range[1],
              y0: ya.range[0], y1: ya.range[1], ylog: ya.type === "log" };
    g.sx = g.w / (g.x1 - g.x0);
    g.sy = g.h / (g.y1 - g.y0);
    g.px = function (x) { return (x - g.x0) * g.sx; };
    g.py = function (y) { return g.h - ((g.ylog ? Math.log(y) / Math.LN10 : y) - g.y0) * g.sy; };
    return g;
  }

  // A tooltip for canvas-drawn marks: find(g, px, py) returns an op index or -1.
  function canvasHover(gd, find, line) {
    var tip = document.createElement("div");
    tip.className = "ops-tip";
    tip.hidden = true;
    gd.querySelector(".svg-container").appendChild(tip);
    gd.addEventListener("mousemove", function (ev) {
      var g = geom(gd), r = gd.getBoundingClientRect();
      var px = ev.clientX - r.left - g.l, py = ev.clientY - r.top - g.t;
      var i = px < 0 || py < 0 || px > g.w || py > g.h ? -1 : find(g, px, py);
      if (i < 0) { tip.hidden = true; return; }
      tip.textContent = line(i);   // textContent: history values stay text
      tip.hidden = false;
      tip.style.left = Math.max(0, Math.min(ev.clientX - r.left + 14, r.width - 360)) + "px";
      tip.style.top = (ev.clientY - r.top + 16) + "px";
    });
    gd.addEventListener("mouseleave", function () { tip.hidden = true; });
  }

  // Legend-only traces that stand for canvas marks; visible(k) tells if k's is switched on.
  function legendTraces(items) {
    return items.map(function (it) {
      var t = { type: "scatter", mode: it.mode || "lines", x: [null], y: [null], name: pesc(it.name),
        meta: it.key, hoverinfo: "skip" };
      if (it.line) t.line = it.line;
      if (it.marker) t.marker = it.marker;
      return t;
    });
  }
  function visibility(gd) {
    var on = {};
    (gd.data || []).forEach(function (t) { if (t.meta !== undefined) on[t.meta] = t.visible !== "legendonly"; });
    return function (key) { return on[key] !== false; };
  }

  function opEnd(D, i) { var O = D.ops; return O.d[i] === null ? D.t_end : O.s[i] + O.d[i] / 1000; }

  // The timeline: one row per process, one bar per op from invocation to completion.
  function timeline(D) {
    // rows: one per process, or per lane of processes that followed one another (D.rows)
    var O = D.ops, n = O.s.length, i, rowOf = D.rows.of, labels = D.rows.labels;
    var row = new Int32Array(n), end = new Float64Array(n), byRow = labels.map(function () { return []; });
    for (i = 0; i < n; i++) { row[i] = rowOf[String(O.p[i])]; end[i] = opEnd(D, i); byRow[row[i]].push(i); }
    var nrows = Math.max(labels.length, 1);
    var step = Math.max(1, Math.ceil(nrows / 40)), tickvals = [], ticktext = [];
    for (var k = 0; k < labels.length; k += step) { tickvals.push(k); ticktext.push(pesc(labels[k])); }
    var traces = [{ type: "scatter", mode: "markers", x: [0, Math.max(D.t_end, 0.001)], y: [0, nrows - 1],
      marker: { opacity: 0 }, hoverinfo: "skip", showlegend: false }];
    traces = traces.concat(legendTraces(["ok", "fail", "info"].map(function (t) {
      return { key: t, name: t, line: { color: TYPE_COLORS[t], width: 6 } };
    })));
    // The checkers' marks (e.g. a lost write when it was acknowledged): one trace per name.
    var markNames = [], byName = {};
    D.marks.forEach(function (m) {
      if (!byName[m.name]) { byName[m.name] = []; markNames.push(m.name); }
      byName[m.name].push(m);
    });
    markNames.forEach(function (name, k) {
      var ms = byName[name], color = ms[0].color || MARK_COLORS[k % MARK_COLORS.length];
      traces.push({ type: "scatter", mode: "markers", name: pesc(name),
        x: ms.map(function (m) { return m.t; }),
        y: ms.map(function (m) { return String(m.p) in rowOf ? rowOf[String(m.p)] : null; }),
        text: ms.map(function (m) { return pesc(m.text || name); }), hoverinfo: "text",
        marker: { symbol: ms[0].symbol || "x-thin-open", size: 11, color: color, line: { width: 2.5, color: color } } });
    });
    var layout = baseLayout(D, "timeline", { labels: true, height: Math.min(900, Math.max(320, 120 + nrows * 14)),
      yaxis: { title: { text: pesc(D.rows.title) }, range: [nrows - 0.5, -0.5], zeroline: false, showgrid: false,
               tickmode: "array", tickvals: tickvals, ticktext: ticktext },
      margin: { l: 64, r: 16, t: 76, b: 44 },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      legend: { orientation: "v", x: 1.01, y: 1, yanchor: "top", xanchor: "left" } });
    var gd = document.getElementById("timeline");
    return Plotly.newPlot(gd, traces, layout, CONFIG).then(function () {
      canvasLayer(gd, function (ctx, g) {
        var on = visibility(gd), bh = Math.max(1.5, Math.min(9, Math.abs(g.sy) * 0.62));
        ["ok", "fail", "info"].forEach(function (tname) {
          if (!on(tname)) return;
          var code = O.ts.indexOf(tname);
          ctx.fillStyle = TYPE_COLORS[tname];
          for (var i = 0; i < n; i++) {
            if (O.t[i] !== code || end[i] < g.x0 || O.s[i] > g.x1) continue;
            var y = g.py(row[i]);
            if (y < -bh || y > g.h + bh) continue;
            var a = Math.max(g.px(O.s[i]), -2), b = Math.min(g.px(end[i]), g.w + 2);
            ctx.fillRect(a, y - bh / 2, Math.max(b - a, 2), bh);
          }
        });
      });
      canvasHover(gd, function (g, px, py) {
        var on = visibility(gd), t = g.x0 + px / g.sx, rw = Math.round(g.y1 - py / g.sy);
        var list = byRow[rw], best = -1, bestd = Infinity, tol = 4 / g.sx;
        if (!list) return -1;
        for (var j = 0; j < list.length; j++) {
          var i = list[j];
          if (O.s[i] > t + tol) break;
          if (!on(O.ts[O.t[i]])) continue;
          var d = t < O.s[i] ? O.s[i] - t : t > end[i] ? t - end[i] : 0;
          if (d <= bestd) { bestd = d; best = i; }
        }
        return bestd <= tol ? best : -1;
      }, function (i) { return opLine(O, i) + "  ·  at " + O.s[i].toFixed(4) + "s"; });
      return gd;
    });
  }

  // Latency of every completed op over time, log scale; colour by type, shape by f.
  var SHAPES = ["square", "diamond", "triangle", "circle"];
  function latency(D) {
    var O = D.ops, n = O.s.length, groups = {}, keys = [], i, lo = Infinity, hi = 0;
    for (i = 0; i < n; i++) {
      var d = O.d[i];
      if (d === null) continue;
      d = Math.max(d, 0.001);
      lo = Math.min(lo, d); hi = Math.max(hi, d);
      var key = O.fs[O.f[i]] + " " + O.ts[O.t[i]];
      if (!groups[key]) { groups[key] = { f: O.f[i], t: O.ts[O.t[i]], idx: [] }; keys.push(key); }
      groups[key].idx.push(i);
    }
    var order = { ok: 0, fail: 1, info: 2 };
    keys.sort(function (a, b) {
      var ga = groups[a], gb = groups[b];
      return ga.f - gb.f || (order[ga.t] || 9) - (order[gb.t] || 9);
    });
    var sym = { square: "square", diamond: "diamond", triangle: "triangle-up", circle: "circle" };
    var traces = [{ type: "scatter", mode: "markers", showlegend: false, hoverinfo: "skip",
      x: [0, Math.max(D.t_end, 0.001)], y: lo === Infinity ? [0.1, 10] : [lo, hi], marker: { opacity: 0 } }];
    traces = traces.concat(legendTraces(keys.map(function (k) {
      var g = groups[k];
      return { key: k, name: k, mode: "markers",
        marker: { color: TYPE_COLORS[g.t] || "#6b7280", symbol: sym[SHAPES[g.f % SHAPES.length]], size: 8 } };
    })));
    var layout = baseLayout(D, "latency", { height: 380,
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      yaxis: { title: { text: "latency (ms, log)" }, type: "log", dtick: 1, gridcolor: "#eef0f3" } });
    var gd = document.getElementById("latency");
    function dot(ctx, shape, x, y) {
      if (shape === "square") { ctx.fillRect(x - 2, y - 2, 4, 4); return; }
      ctx.beginPath();
      if (shape === "diamond") { ctx.moveTo(x, y - 3); ctx.lineTo(x + 3, y); ctx.lineTo(x, y + 3); ctx.lineTo(x - 3, y); }
      else if (shape === "triangle") { ctx.moveTo(x, y - 3); ctx.lineTo(x + 3, y + 2.5); ctx.lineTo(x - 3, y + 2.5); }
      else { ctx.arc(x, y, 2.3, 0, 6.2832); }
      ctx.fill();
    }
    return Plotly.newPlot(gd, traces, layout, CONFIG).then(function () {
      canvasLayer(gd, function (ctx, g) {
        var on = visibility(gd);
        keys.forEach(function (k) {
          var grp = groups[k];
          if (!on(k)) return;
          ctx.fillStyle = TYPE_COLORS[grp.t] || "#6b7280";
          ctx.globalAlpha = grp.t === "ok" ? 0.5 : 0.9;
          var shape = SHAPES[grp.f % SHAPES.length];
          grp.idx.forEach(function (i) {
            var x = g.px(O.s[i]), y = g.py(Math.max(O.d[i], 0.001));
            if (x < -4 || x > g.w + 4 || y < -4 || y > g.h + 4) return;
            dot(ctx, shape, x, y);
          });
        });
        ctx.globalAlpha = 1;
      });
      canvasHover(gd, function (g, px, py) {
        var on = visibility(gd), best = -1, bestd = 36;
        keys.forEach(function (k) {
          if (!on(k)) return;
          groups[k].idx.forEach(function (i) {
            var dx = g.px(O.s[i]) - px;
            if (dx > 6 || dx < -6) return;
            var dy = g.py(Math.max(O.d[i], 0.001)) - py, dd = dx * dx + dy * dy;
            if (dd < bestd) { bestd = dd; best = i; }
          });
        });
        return best;
      }, function (i) { return opLine(O, i) + "  ·  at " + O.s[i].toFixed(4) + "s"; });
      return gd;
    });
  }

  function throughput(D) {
    var T = D.throughput, fs = [];
    var traces = (T.series || []).map(function (s) {
      if (fs.indexOf(s.f) < 0) fs.push(s.f);
      var c = s.type === "ok" ? F_COLORS[fs.indexOf(s.f) % F_COLORS.length] : TYPE_COLORS[s.type];
      return { type: "scatter", mode: "lines", line: { shape: "hv", width: 1.6, color: c,
          dash: s.type === "ok" ? "solid" : s.type === "fail" ? "dash" : "dot" },
        name: pesc(s.f + " " + s.type), x: T.x, y: s.y,
        hovertemplate: pesc(s.f + " " + s.type) + ": %{y:.1f} ops/s at %{x}s<extra></extra>" };
    });
    var layout = baseLayout(D, "throughput", { height: 340,
      yaxis: { title: { text: "ops/s" }, rangemode: "tozero", gridcolor: "#eef0f3" } });
    return Plotly.newPlot("throughput", traces, layout, CONFIG);
  }

  // A "window of ops" chart (kind "op-window", harness/report/opwindow.py): bars per
  // process in history order, classed numbered / flagged / fail / other; the chart names
  // its classes for the legend.
  var WINDOW_COLORS = { other: "#9ca3af", fail: "#fca5a5", numbered: "#16a34a", flagged: "#dc2626" };

  function opWindow(chart) {
    var el = document.getElementById(chart.id);
    if (!el) return null;
    if (!chart.bars.length) { el.textContent = "No ops of this window are in the history."; return null; }
    var procs = [], traces = [], labels = { x: [], y: [], text: [] };
    chart.bars.forEach(function (b) { if (procs.indexOf(b.p) < 0) procs.push(b.p); });
    procs.sort(function (a, b) { return a < b ? -1 : a > b ? 1 : 0; });
    ["other", "fail", "numbered", "flagged"].forEach(function (cls) {
      var x = [], y = [], text = [];
      chart.bars.forEach(function (b) {
        if (b.cls !== cls) return;
        var y0 = pesc("p" + b.p), t = pesc(b.hover);
        x.push(b.x0, b.x1, null); y.push(y0, y0, null); text.push(t, t, "");
        labels.x.push((b.x0 + b.x1) / 2); labels.y.push(y0); labels.text.push(pesc(b.label));
      });
      if (!x.length) return;
      traces.push({ type: "scatter", mode: "lines", name: pesc((chart.classes || {})[cls] || cls),
        x: x, y: y, text: text, hoverinfo: "text", connectgaps: false,
        line: { color: WINDOW_COLORS[cls], width: cls === "flagged" ? 20 : 16 } });
    });
    traces.push({ type: "scatter", mode: "text", x: labels.x, y: labels.y, text: labels.text,
      textfont: { size: 10, color: "#111827" }, hoverinfo: "skip", showlegend: false });
    var layout = {
      font: FONT, height: Math.max(200, 110 + procs.length * 34), hovermode: "closest",
      margin: { l: 64, r: 16, t: 40, b: 48 }, plot_bgcolor: "#fff",
      xaxis: { title: { text: "history order (invocations and completions) →" }, zeroline: false,
               showgrid: false, showticklabels: false },
      yaxis: { type: "category", categoryorder: "array", categoryarray: procs.map(function (p) { return pesc("p" + p); }),
               range: [procs.length - 0.4, -0.6] },
      legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0, xanchor: "left" },
    };
    return Plotly.newPlot(el, traces, layout, CONFIG);
  }

  // An "xy" chart (kind "xy", RunView.xy_chart): series of points {name, x, y} as markers
  // or lines. With time_axis, x is seconds since the run started: the fault windows are
  // shaded as on the timeline and the chart zooms with the other time charts.
  var timeCharts = [];
  function xyChart(chart) {
    var el = document.getElementById(chart.id);
    if (!el) return null;
    var series = (chart.series || []).filter(function (s) { return s.x && s.x.length; });
    if (!series.length) { el.textContent = "Nothing to draw."; return null; }
    var markers = chart.mode !== "lines";
    var traces = series.map(function (s, k) {
      var color = F_COLORS[k % F_COLORS.length];
      return { type: "scatter", mode: markers ? "markers" : "lines", name: pesc(s.name),
        x: s.x, y: s.y, hoverinfo: "x+y+name",
        marker: { color: color, size: 5, opacity: 0.7, symbol: F_SYMBOLS[k % F_SYMBOLS.length] },
        line: { color: color, width: 1.5 } };
    });
    var extra = { height: 360, margin: { l: 64, r: 16, t: 64, b: 44 },
      title: { text: pesc(chart.title || ""), x: 0, xanchor: "left", font: { size: 13 } },
      legend: { orientation: "h", y: 1.0, yanchor: "bottom", x: 0, xanchor: "left" },
      yaxis: { title: { text: pesc(chart.y_label || "") }, rangemode: "tozero", gridcolor: "#eef0f3" } };
    var layout;
    if (chart.time_axis) {
      layout = baseLayout(DATA, chart.id, extra);
      if (chart.x_label) layout.xaxis.title = { text: pesc(chart.x_label) };
      timeCharts.push(chart.id);
    } else {
      layout = { font: FONT, hovermode: "closest", paper_bgcolor: "#fff", plot_bgcolor: "#fff",
        xaxis: { title: { text: pesc(chart.x_label || "") }, zeroline: false, gridcolor: "#eef0f3" } };
      for (var k in extra) layout[k] = extra[k];
    }
    return Plotly.newPlot(el, traces, layout, CONFIG);
  }

  // Charts the checkers' views asked for, by kind; an unknown kind says so in its place.
  var CHART_KINDS = { "op-window": opWindow, "xy": xyChart };
  function checkerChart(chart) {
    var draw = CHART_KINDS[chart.kind];
    if (draw) return draw(chart);
    var el = document.getElementById(chart.id);
    if (el) el.textContent = "This report cannot draw charts of kind " + chart.kind + ".";
    return null;
  }

  // Zoom the time charts together (and the checkers' xy charts over time).
  function linkZoom(ids) {
    var busy = false;
    ids.forEach(function (id) {
      var el = document.getElementById(id);
      if (!el || !el.on) return;
      el.on("plotly_relayout", function (ev) {
        if (busy) return;
        var upd = null;
        if (ev["xaxis.range[0]"] !== undefined) upd = { "xaxis.range": [ev["xaxis.range[0]"], ev["xaxis.range[1]"]] };
        else if (ev["xaxis.range"]) upd = { "xaxis.range": ev["xaxis.range"] };
        else if (ev["xaxis.autorange"]) upd = { "xaxis.range": [0, Math.max(DATA.t_end, 0.001)] };
        if (!upd) return;
        busy = true;
        var ps = ids.filter(function (o) { return o !== id; }).map(function (o) {
          return Plotly.relayout(o, upd);
        });
        Promise.all(ps).then(function () { busy = false; }, function () { busy = false; });
      });
    });
  }

  var DATA;
  function main() {
    DATA = JSON.parse(document.getElementById("report-data").textContent);
    if (typeof Plotly === "undefined") {
      ["timeline", "latency", "throughput"].forEach(function (id) {
        var el = document.getElementById(id);
        if (el) el.textContent = "Charts are unavailable (Plotly was not bundled into this report).";
      });
      finish("ok-no-charts");
      return;
    }
    mark("data");
    var jobs = [timeline(DATA)];
    mark("timeline");
    jobs.push(latency(DATA));
    mark("latency");
    jobs.push(throughput(DATA));
    mark("throughput");
    (DATA.charts || []).forEach(function (c) { jobs.push(checkerChart(c)); });
    mark("charts");
    Promise.all(jobs).then(function () {
      mark("drawn");
      linkZoom(["timeline", "latency", "throughput"].concat(timeCharts));
      // finish after the next frame is painted
      requestAnimationFrame(function () { setTimeout(function () { mark("painted"); finish(); }, 0); });
    }, function (err) { showError(err && err.message ? err.message : err); finish(); });
  }

  try { main(); } catch (e) { showError(e && e.message ? e.message : e); finish(); }
})();
