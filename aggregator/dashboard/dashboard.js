// The public dashboard. It reads the documents that data.js defines (the same JSON the
// API serves), so it works from file://, from GitHub Pages and from `aggregator serve`
// alike, with no network access and no third-party code. Every chart element carries
// data-label and data-value, so that a test can read back what was drawn.
"use strict";
(function () {
  var DATA = window.TELEMETRY_STATS;
  var OUTCOMES = ["success", "failed", "aborted", "unfinished", "in_progress"];
  var NAMES = { success: "success", failed: "failed", aborted: "aborted",
    unfinished: "unfinished", in_progress: "in progress" };
  var SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function pct(x) { return x == null ? "–" : (x * 100).toFixed(1) + "%"; }
  function clear(id) { var e = document.getElementById(id); e.replaceChildren(); return e; }

  // Horizontal bars: rows of [label, value, shown text].
  function bars(id, rows, opts) {
    opts = opts || {};
    var root = clear(id);
    if (!rows.length) { root.appendChild(el("p", { class: "empty" }, "No group reaches k runs yet.")); return; }
    var max = Math.max.apply(null, rows.map(function (r) { return r[1]; })) || 1;
    var grid = el("div", { class: "bars" });
    rows.forEach(function (r) {
      var item = { "data-label": r[0], "data-value": String(r[1]) };
      grid.appendChild(el("span", { class: "label", title: r[0] }, r[0]));
      var track = el("span", { class: "track" });
      var fill = el("span", Object.assign({ class: "fill" + (opts.cls ? " " + opts.cls : "") }, item));
      fill.style.width = (100 * r[1] / max).toFixed(2) + "%";
      fill.style.display = "block";
      track.appendChild(fill);
      grid.appendChild(track);
      grid.appendChild(el("span", { class: "value" }, r[2] !== undefined ? r[2] : fmt(r[1])));
    });
    root.appendChild(grid);
  }

  // What a k-anonymised breakdown leaves out, in words.
  function foldNote(id, doc) {
    var root = document.getElementById(id);
    var parts = [];
    if (doc.other) parts.push("other (groups under k together): " + fmt(doc.other.runs) + " runs");
    if (doc.suppressed_groups) parts.push(doc.suppressed_groups + " small group(s) left out");
    if (parts.length) root.appendChild(el("p", { class: "note" }, parts.join("; ")));
  }

  function breakdown(id, doc) {
    bars(id, doc.groups.map(function (g) { return [g.value, g.runs]; }));
    foldNote(id, doc);
  }

  function kpis(s) {
    var root = clear("kpis");
    var items = s.suppressed
      ? [["runs", "fewer than " + s.k]]
      : [["runs", fmt(s.runs)], ["success rate", pct(s.success_rate)], ["success", fmt(s.success)],
         ["failed", fmt(s.failed)], ["aborted", fmt(s.aborted)], ["unfinished", fmt(s.unfinished)],
         ["in progress", fmt(s.in_progress)]];
    items.forEach(function (i) {
      var box = el("div", { class: "kpi", "data-chart": "summary", "data-label": i[0], "data-value": i[1] });
      box.appendChild(el("b", {}, i[1]));
      box.appendChild(el("span", {}, i[0]));
      root.appendChild(box);
    });
  }

  function isoDay(t) { return new Date(t).toISOString().slice(0, 10); }

  // Every day of the window, oldest first, with zero counts where the document has none
  // (no runs, or fewer than k), so that the time axis is true.
  function calendar(doc) {
    var byDay = {};
    doc.days.forEach(function (d) { byDay[d.day] = d; });
    var end = Date.parse((doc.generated_at || doc.days[doc.days.length - 1].day).slice(0, 10) + "T00:00:00Z");
    var lastDay = Date.parse(doc.days[doc.days.length - 1].day + "T00:00:00Z");
    if (lastDay > end) end = lastDay;
    var start = doc.window.days
      ? end - (doc.window.days - 1) * 86400000
      : Date.parse(doc.days[0].day + "T00:00:00Z");
    var out = [];
    for (var t = start; t <= end; t += 86400000) {
      var day = isoDay(t);
      out.push(byDay[day] || { day: day, runs: 0, success: 0, failed: 0, aborted: 0, unfinished: 0, in_progress: 0 });
    }
    return out;
  }

  // Runs per day as stacked columns, one colour per outcome.
  function daily(doc) {
    var root = clear("daily");
    var legend = clear("daily-legend");
    OUTCOMES.forEach(function (o) {
      var s = el("span");
      var i = el("i"); i.style.background = "var(--" + o + ")";
      s.appendChild(i); s.appendChild(document.createTextNode(NAMES[o]));
      legend.appendChild(s);
    });
    if (!doc.days.length) { root.appendChild(el("p", { class: "empty" }, "No day reaches k runs yet.")); return; }
    var days = calendar(doc);
    // Drawn at the container's own width, so that labels stay legible on a phone.
    var W = Math.max(300, root.clientWidth || 720), H = 220, top = 10, bottom = 22, left = 40;
    var max = Math.max.apply(null, days.map(function (d) { return d.runs; })) || 1;
    var step = (W - left) / days.length, bw = Math.max(1, step * 0.8);
    var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": "Runs per day by outcome" });
    [0, 0.5, 1].forEach(function (f) {
      var y = H - bottom - f * (H - top - bottom);
      chart.appendChild(svg("line", { x1: left, x2: W, y1: y, y2: y, stroke: "currentColor", "stroke-opacity": 0.1 }));
      var t = svg("text", { x: left - 4, y: y + 3, "text-anchor": "end" }); t.textContent = fmt(Math.round(max * f));
      chart.appendChild(t);
    });
    days.forEach(function (d, i) {
      if (!d.runs) return;
      var x = left + i * step + (step - bw) / 2, y = H - bottom;
      var g = svg("g", { "data-label": d.day, "data-value": String(d.runs) });
      OUTCOMES.forEach(function (o) {
        var h = (H - top - bottom) * d[o] / max;
        if (!h) return;
        y -= h;
        var r = svg("rect", { x: x, y: y, width: bw, height: h, fill: "var(--" + o + ")", "data-outcome": o, "data-value": String(d[o]) });
        var title = svg("title", {}); title.textContent = d.day + ": " + fmt(d[o]) + " " + NAMES[o];
        r.appendChild(title);
        g.appendChild(r);
      });
      chart.appendChild(g);
    });
    var first = svg("text", { x: left, y: H - 6 }); first.textContent = days[0].day;
    var last = svg("text", { x: W, y: H - 6, "text-anchor": "end" }); last.textContent = days[days.length - 1].day;
    chart.appendChild(first);
    if (days.length > 1) chart.appendChild(last);
    root.appendChild(chart);
    if (doc.suppressed_days) root.appendChild(el("p", { class: "note" }, doc.suppressed_days + " day(s) under k runs left out"));
  }

  function render(name) {
    var docs = DATA.documents[name];
    document.querySelectorAll("nav button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.window === name));
    });
    document.getElementById("asof").textContent = docs.summary.generated_at
      ? "Statistics as of " + docs.summary.generated_at.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC")
      : "No statistics have been computed yet.";
    document.getElementById("privacy").textContent =
      "Every number comes from a group of at least " + DATA.k + " runs; smaller groups are folded into \u201cother\u201d or left out.";
    kpis(docs.summary);
    daily(docs.daily);
    bars("apps", docs.apps.apps.slice(0, 15).map(function (a) { return [a.nsapp, a.runs]; }));
    foldNote("apps", docs.apps);
    document.getElementById("rate-note").textContent =
      "Apps with at least " + fmt(docs.apps.min_runs) + " finished runs in this window.";
    bars("failure", docs.apps.highest_failure_rate.slice(0, 15).map(function (a) {
      return [a.nsapp, a.failure_rate, pct(a.failure_rate) + " of " + fmt(a.runs)];
    }), { cls: "failed" });
    breakdown("os", docs.os);
    breakdown("pve", docs.pve);
    ["cores", "ram", "disk"].forEach(function (d) { breakdown(d, docs.hardware.dimensions[d]); });
    breakdown("categories", docs.errors.categories);
    var tbody = document.querySelector("#exit-codes tbody");
    tbody.replaceChildren();
    docs.errors.exit_codes.groups.forEach(function (c) {
      var tr = el("tr", { "data-label": c.value, "data-value": String(c.runs) });
      tr.appendChild(el("td", {}, c.value));
      tr.appendChild(el("td", {}, c.description || ""));
      tr.appendChild(el("td", {}, fmt(c.runs)));
      tbody.appendChild(tr);
    });
  }

  if (!DATA) {
    document.getElementById("asof").textContent = "The statistics (data.js) could not be loaded.";
    return;
  }
  var nav = document.getElementById("windows");
  DATA.windows.forEach(function (w) {
    var b = el("button", { type: "button", "data-window": w }, w === "all" ? "all time" : w.replace("d", " days"));
    b.addEventListener("click", function () { location.hash = w; });
    nav.appendChild(b);
  });
  function fromHash() {
    var w = location.hash.slice(1);
    render(DATA.documents[w] ? w : DATA.default_window);
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
