// The public dashboard. It reads the documents that the data scripts define (the same
// JSON the API serves), so it works from file://, from GitHub Pages and from
// `aggregator serve` alike, with no network access beyond its own files and no
// third-party code. data.js (the manifest) says which windows and repositories exist;
// data/{repo}/{window}.js holds every document of one choice and is loaded when that
// choice is first shown; data/{repo}/{window}/apps/{nsapp}.js is one app's page.
//
// The view lives in the URL's fragment (#/errors?repo=development&days=90), so that
// any view can be linked and works from file:// too. Every chart element and table
// row carries data-label and data-value, so that a test can read back what was drawn.
"use strict";
(function () {
  var STATS = window.TELEMETRY_STATS;
  var DATA = (window.TELEMETRY_DATA = window.TELEMETRY_DATA || {});
  var OUTCOMES = ["success", "failed", "aborted", "unfinished", "in_progress"];
  var NAMES = { success: "success", failed: "failed", aborted: "aborted",
    unfinished: "unfinished", in_progress: "in progress" };
  var PAGES = ["overview", "errors", "scripts", "app"];
  var SVG = "http://www.w3.org/2000/svg";
  // What an app name may be (the API's own rule); anything else is never put in a path.
  var APP_NAME = /^[a-z0-9][a-z0-9._+-]{0,63}$/i;
  // The view being shown; a load that finishes for another view is dropped.
  var current = null;

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
  function $(id) { return document.getElementById(id); }
  function fmt(n) { return n == null ? "–" : Number(n).toLocaleString("en-US"); }
  function pct(x) { return x == null ? "–" : (x * 100).toFixed(1) + "%"; }
  function perDay(x) { return x == null ? "–" : x >= 10 ? x.toFixed(0) : x.toFixed(2); }
  function clear(id) { var e = $(id); e.replaceChildren(); return e; }
  function when(t) { return t.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC"); }

  // ---- the view in the URL -------------------------------------------------------

  function windowOf(days) { return days === "all" ? "all" : days + "d"; }
  function daysOf(w) { return w === "all" ? "all" : w.replace("d", ""); }

  function parseHash() {
    var h = location.hash.replace(/^#\/?/, "");
    var at = h.indexOf("?");
    var path = at < 0 ? h : h.slice(0, at);
    var params = new URLSearchParams(at < 0 ? "" : h.slice(at + 1));
    var v = { page: "overview", app: null };
    if (path === "errors" || path === "scripts") v.page = path;
    else if (path.indexOf("apps/") === 0) { v.page = "app"; v.app = decodeURIComponent(path.slice(5)); }
    var repo = params.get("repo");
    v.repo = STATS.repos.indexOf(repo) >= 0 ? repo : STATS.default_repo;
    var w = windowOf(params.get("days"));
    v.window = STATS.windows.indexOf(w) >= 0 ? w : STATS.default_window;
    v.q = params.get("q") || "";
    v.sort = params.get("sort") || "runs";
    v.asc = params.get("order") === "asc";
    return v;
  }

  // The fragment of view `v` with `change` applied.
  function hashFor(v, change) {
    var n = Object.assign({}, v, change || {});
    var path = n.page === "app" ? "apps/" + encodeURIComponent(n.app) : n.page;
    var params = new URLSearchParams();
    params.set("repo", n.repo);
    params.set("days", daysOf(n.window));
    if (n.page === "scripts") {
      if (n.q) params.set("q", n.q);
      if (n.sort !== "runs") params.set("sort", n.sort);
      if (n.asc) params.set("order", "asc");
    }
    return "#/" + path + "?" + params.toString();
  }

  // The scripts' repositories, where an issue about a script is opened. Forks have none
  // of their own here: their failures are reported upstream like the others.
  var ISSUE_REPOS = { production: "community-scripts/ProxmoxVE", development: "community-scripts/ProxmoxVED",
    external: "community-scripts/ProxmoxVE", all: "community-scripts/ProxmoxVE" };

  // A link to a new issue on the scripts' repository, its form (bug_report.yml: blank
  // issues are off there) filled in with the script, what failed, and how often. A plain
  // link: the reader's browser opens it; the server neither holds a token nor calls out.
  function issueLink(v, app, what, runs) {
    var view = location.href.split("#")[0] + hashFor(v, { page: "app", app: app });
    var description = "The anonymous install statistics show " + fmt(runs) + " failed or aborted runs of " + app +
      (what ? " with this error:\n\n    " + what : "") + "\n\n(" + (v.window === "all" ? "all time" : "last " + v.window + " days") +
      ", " + v.repo + " repository: " + view + ")";
    var params = new URLSearchParams({ template: "bug_report.yml", title: app + ": " + (what || "installs fail"),
      script_name: app, issue_description: description, error_output: what || "" });
    return el("a", { href: "https://github.com/" + ISSUE_REPOS[v.repo] + "/issues/new?" + params.toString(),
      target: "_blank", rel: "noopener", class: "issue", "data-issue": app, "data-pattern": what || "" }, "open an issue");
  }

  // A table of patterns (error patterns or failing commands) of one app, each with a
  // link to report it.
  function appPatterns(id, published, v, app) {
    table(id, published ? published.groups.map(function (p) {
      return { label: p.value, value: p.runs, cells: [el("code", {}, p.value), fmt(p.runs), issueLink(v, app, p.value, p.runs)] };
    }) : [], "None reaches k runs from k installations.");
    if (published) tableNote(id, published);
  }

  function appLink(name, v, text) {
    var a = el("a", { href: hashFor(v, { page: "app", app: name }) }, text === undefined ? name : text);
    return a;
  }

  // ---- loading the data scripts --------------------------------------------------

  // Loads the script that files `key` in TELEMETRY_DATA, once; `fresh` asks again
  // with a cache-busting query, for the auto-refresh of a served dashboard.
  function load(key, src, fresh, done) {
    if (!fresh && DATA[key] !== undefined) { done(DATA[key]); return; }
    var s = document.createElement("script");
    s.src = src + (fresh ? "?v=" + Date.now() : "");
    s.onload = function () { s.remove(); done(DATA[key] || null); };
    s.onerror = function () { s.remove(); if (fresh) delete DATA[key]; done(null); };
    document.body.appendChild(s);
  }

  // ---- drawing ------------------------------------------------------------------

  // Horizontal bars: rows of [label, value, shown text].
  function bars(id, rows, opts) {
    opts = opts || {};
    var root = clear(id);
    if (!rows.length) { root.appendChild(el("p", { class: "empty" }, "No group reaches k runs from k installations yet.")); return; }
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

  // What a k-anonymised breakdown leaves out, in words, after `node`.
  function foldNote(node, doc) {
    var parts = [];
    if (doc.other) parts.push("other (groups under k together): " + fmt(doc.other.runs) + " runs");
    if (doc.suppressed_groups) parts.push(doc.suppressed_groups + " small group(s) left out");
    if (parts.length) node.appendChild(el("p", { class: "note" }, parts.join("; ")));
  }

  function breakdown(id, doc) {
    bars(id, doc.groups.map(function (g) { return [g.value, g.runs]; }));
    foldNote($(id), doc);
  }

  // Table rows: each { label, value, cells }, a cell being text or a node.
  function table(id, rows, empty) {
    var t = $(id);
    var tbody = t.querySelector("tbody");
    tbody.replaceChildren();
    var next = t.nextElementSibling;
    if (next && next.classList.contains("note")) next.remove();
    rows.forEach(function (r) {
      var tr = el("tr", { "data-label": r.label, "data-value": String(r.value) });
      r.cells.forEach(function (c) {
        var td = el("td");
        if (c instanceof Node) td.appendChild(c); else td.textContent = c;
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    if (!rows.length) {
      var tr = el("tr");
      tr.appendChild(el("td", { class: "empty", colspan: String(t.querySelectorAll("th").length) },
        empty || "Nothing reaches k runs from k installations yet."));
      tbody.appendChild(tr);
    }
  }
  function tableNote(id, doc) {
    var holder = el("div");
    foldNote(holder, doc);
    var note = holder.firstChild;
    if (note) $(id).after(note);
  }

  function figures(id, chart, items) {
    var root = clear(id);
    items.forEach(function (i) {
      var box = el("div", { class: "kpi", "data-chart": chart, "data-label": i[0], "data-value": i[1] });
      box.appendChild(el("b", {}, i[1]));
      box.appendChild(el("span", {}, i[0]));
      root.appendChild(box);
    });
  }

  function counts(doc, k) {
    return doc.runs == null
      ? [["runs", "fewer than " + k]]
      : [["runs", fmt(doc.runs)], ["success rate", pct(doc.success_rate)], ["success", fmt(doc.success)],
         ["failed", fmt(doc.failed)], ["aborted", fmt(doc.aborted)], ["unfinished", fmt(doc.unfinished)],
         ["in progress", fmt(doc.in_progress)]];
  }

  function isoDay(t) { return new Date(t).toISOString().slice(0, 10); }

  // Every day of the window, oldest first, with zero counts where the document has none
  // (no runs, or fewer than k), so that the time axis is true.
  function calendar(doc) {
    var byDay = {};
    doc.days.forEach(function (d) { byDay[d.day] = d; });
    var last = doc.days[doc.days.length - 1].day;
    var end = Date.parse((doc.window.until || last).slice(0, 10) + "T00:00:00Z");
    if (Date.parse(last + "T00:00:00Z") > end) end = Date.parse(last + "T00:00:00Z");
    var start = doc.window.days
      ? end - (doc.window.days - 1) * 86400000
      : Date.parse(doc.days[0].day + "T00:00:00Z");
    var out = [];
    for (var t = start; t <= end; t += 86400000) {
      var day = isoDay(t);
      out.push(byDay[day] || { day: day });
    }
    return out;
  }

  // Per-day stacked columns of `outcomes`, one colour each.
  function columns(id, legendId, doc, outcomes) {
    var root = clear(id);
    var legend = clear(legendId);
    outcomes.forEach(function (o) {
      var s = el("span");
      var i = el("i"); i.style.background = "var(--" + o + ")";
      s.appendChild(i); s.appendChild(document.createTextNode(NAMES[o]));
      legend.appendChild(s);
    });
    if (!doc.days.length) { root.appendChild(el("p", { class: "empty" }, "No day reaches k runs from k installations yet.")); return; }
    var days = calendar(doc);
    var total = function (d) { return outcomes.reduce(function (s, o) { return s + (d[o] || 0); }, 0); };
    // Drawn at the container's own width, so that labels stay legible on a phone.
    var W = Math.max(300, root.clientWidth || 720), H = 220, top = 10, bottom = 22, left = 40;
    var max = Math.max.apply(null, days.map(total)) || 1;
    var step = (W - left) / days.length, bw = Math.max(1, step * 0.8);
    var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": "Runs per day by outcome" });
    [0, 0.5, 1].forEach(function (f) {
      var y = H - bottom - f * (H - top - bottom);
      chart.appendChild(svg("line", { x1: left, x2: W, y1: y, y2: y, stroke: "currentColor", "stroke-opacity": 0.1 }));
      var t = svg("text", { x: left - 4, y: y + 3, "text-anchor": "end" }); t.textContent = fmt(Math.round(max * f));
      chart.appendChild(t);
    });
    days.forEach(function (d, i) {
      var sum = total(d);
      if (!sum) return;
      var x = left + i * step + (step - bw) / 2, y = H - bottom;
      var g = svg("g", { "data-label": d.day, "data-value": String(sum) });
      outcomes.forEach(function (o) {
        var h = (H - top - bottom) * (d[o] || 0) / max;
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
    var lastLabel = svg("text", { x: W, y: H - 6, "text-anchor": "end" }); lastLabel.textContent = days[days.length - 1].day;
    chart.appendChild(first);
    if (days.length > 1) chart.appendChild(lastLabel);
    root.appendChild(chart);
    if (doc.suppressed_days) root.appendChild(el("p", { class: "note" }, doc.suppressed_days + " day(s) under k left out"));
  }

  function exitCodeRows(doc, withCategory) {
    return doc.groups.map(function (c) {
      var cells = [c.value, c.meaning || ""];
      if (withCategory) cells.push(c.category || "");
      cells.push(fmt(c.runs));
      if (withCategory) cells.push(pct(c.share));
      return { label: c.value, value: c.runs, cells: cells };
    });
  }

  // ---- pages --------------------------------------------------------------------

  function overview(docs, v) {
    figures("kpis", "summary", counts(docs.summary, docs.summary.k));
    columns("daily", "daily-legend", docs.daily, OUTCOMES);
    bars("apps", docs.apps.apps.slice(0, 15).map(function (a) { return [a.nsapp, a.runs]; }));
    foldNote($("apps"), docs.apps);
    var more = el("p", { class: "note" });
    more.appendChild(el("a", { href: hashFor(v, { page: "scripts" }) }, "Every script \u2192"));
    $("apps").appendChild(more);
    $("rate-note").textContent =
      "Apps with at least " + fmt(docs.apps.min_runs) + " finished runs in this window.";
    bars("failure", docs.apps.highest_failure_rate.slice(0, 15).map(function (a) {
      return [a.nsapp, a.failure_rate, pct(a.failure_rate) + " of " + fmt(a.runs)];
    }), { cls: "failed" });
    breakdown("os", docs.os);
    breakdown("pve", docs.pve);
    ["cores", "ram", "disk", "platform", "payload_version", "gpu_passthrough", "gpu_type"].forEach(function (d) {
      breakdown(d, docs.hardware.dimensions[d]);
    });
    breakdown("categories", docs.errors.categories);
    table("exit-codes", exitCodeRows(docs.errors.exit_codes, false));
  }

  function errors(docs, v) {
    var e = docs.errors;
    var t = e.totals;
    figures("err-kpis", "errors", t
      ? [["failed", fmt(t.failed)], ["aborted", fmt(t.aborted)], ["unfinished", fmt(t.unfinished)],
         ["failure rate", pct(t.runs ? (t.failed + t.aborted) / t.runs : null)], ["runs", fmt(t.runs)]]
      : [["runs", "fewer than " + e.k]]);
    columns("err-daily", "err-daily-legend", e, ["failed", "aborted"]);
    table("err-codes", exitCodeRows(e.exit_codes, true));
    tableNote("err-codes", e.exit_codes);
    table("err-categories", e.categories.groups.map(function (c) {
      var apps = el("span");
      c.top_apps.forEach(function (a, i) {
        if (i) apps.appendChild(document.createTextNode(", "));
        apps.appendChild(appLink(a.nsapp, v));
        apps.appendChild(document.createTextNode(" (" + fmt(a.runs) + ")"));
      });
      return { label: c.value, value: c.runs, cells: [c.value, apps, fmt(c.runs), pct(c.share)] };
    }));
    tableNote("err-categories", e.categories);
    table("err-apps", e.apps.map(function (a) {
      var code = a.top_exit_code
        ? a.top_exit_code.value + (a.top_exit_code.meaning ? " \u2013 " + a.top_exit_code.meaning : "") + " (" + fmt(a.top_exit_code.runs) + ")"
        : "";
      var category = a.top_category ? a.top_category.value + " (" + fmt(a.top_category.runs) + ")" : "";
      var pattern = a.top_pattern ? el("code", {}, a.top_pattern.value) : "";
      var command = a.top_command ? el("code", {}, a.top_command.value) : "";
      var top = a.top_pattern || a.top_command;
      return { label: a.nsapp, value: a.failed + a.aborted,
        cells: [appLink(a.nsapp, v), fmt(a.runs), fmt(a.failed), fmt(a.aborted), code, category, pattern, command,
          pct(a.failure_rate), issueLink(v, a.nsapp, top ? top.value : "", top ? top.runs : a.failed + a.aborted)] };
    }), "No app has failed or aborted runs in groups of k.");
    ["patterns", "commands"].forEach(function (kind) {
      table("err-" + kind, e[kind].groups.map(function (p) {
        var apps = el("span");
        p.apps.forEach(function (a, i) {
          if (i) apps.appendChild(document.createTextNode(", "));
          apps.appendChild(appLink(a.nsapp, v));
        });
        var first = p.apps[0];
        return { label: p.pattern, value: p.runs, cells: [el("code", {}, p.pattern), apps, fmt(p.runs), pct(p.share),
          first ? issueLink(v, first.nsapp, p.pattern, first.runs) : ""] };
      }), kind === "commands" ? "No failing command reaches k runs from k installations (only the v2 client sends it)." : undefined);
      tableNote("err-" + kind, e[kind]);
    });
    $("err-unfinished-note").textContent = e.unfinished.runs == null
      ? "Runs that never reported an outcome."
      : fmt(e.unfinished.runs) + " runs never reported an outcome.";
    table("err-unfinished", e.unfinished.apps.map(function (a) {
      return { label: a.nsapp, value: a.unfinished, cells: [appLink(a.nsapp, v), fmt(a.runs), fmt(a.unfinished), pct(a.share)] };
    }), "No stuck runs in groups of k.");
  }

  var SORTS = ["nsapp", "runs", "success", "failed", "aborted", "unfinished", "in_progress", "success_rate", "runs_per_day"];

  function scripts(docs, v) {
    var apps = docs.apps.apps;
    var q = v.q.trim().toLowerCase();
    var key = SORTS.indexOf(v.sort) >= 0 ? v.sort : "runs";
    var shown = apps.filter(function (a) { return !q || a.nsapp.indexOf(q) >= 0; });
    shown.sort(function (a, b) {
      var x = a[key], y = b[key];
      var c = key === "nsapp" ? (x < y ? -1 : x > y ? 1 : 0) : (x == null ? -1 : x) - (y == null ? -1 : y);
      if (!v.asc) c = -c;
      return c || (a.nsapp < b.nsapp ? -1 : 1);
    });
    table("scripts", shown.map(function (a) {
      return { label: a.nsapp, value: a.runs, cells: [appLink(a.nsapp, v), fmt(a.runs), fmt(a.success), fmt(a.failed),
        fmt(a.aborted), fmt(a.unfinished), fmt(a.in_progress), pct(a.success_rate), perDay(a.runs_per_day)] };
    }), q ? "No script matches." : undefined);
    tableNote("scripts", docs.apps);
    $("scripts-count").textContent = shown.length + " of " + apps.length + " scripts";
    document.querySelectorAll("#scripts th").forEach(function (th) {
      var on = th.dataset.key === key;
      th.setAttribute("aria-sort", on ? (v.asc ? "ascending" : "descending") : "none");
    });
    var search = $("scripts-search");
    if (search.value !== v.q) search.value = v.q;
    var byName = {};
    apps.forEach(function (a) { byName[a.nsapp] = a; });
    var list = function (id, names, note) {
      var root = clear(id);
      names.forEach(function (n) {
        var li = el("li", { "data-label": n, "data-value": String(byName[n] ? byName[n].runs : "") });
        li.appendChild(appLink(n, v));
        li.appendChild(document.createTextNode(" " + note(byName[n] || {})));
        root.appendChild(li);
      });
    };
    list("least-used", docs.apps.least_used, function (a) { return fmt(a.runs) + " runs"; });
    list("recent", docs.apps.recently_active, function (a) { return a.last_active ? "last on " + a.last_active : ""; });
  }

  function app(doc, v, k) {
    var ids = ["app-kpis", "app-daily", "app-daily-legend", "app-os", "app-pve"];
    $("app-title").textContent = v.app;
    var missing = $("app-missing");
    if (!doc) {
      ids.forEach(clear);
      table("app-duration", [], " ");
      table("app-codes", [], " ");
      table("app-patterns", [], " ");
      table("app-commands", [], " ");
      clear("app-issue");
      missing.hidden = false;
      missing.textContent = "No statistics for this script in this window and repository: it has fewer than " + k +
        " runs from " + k + " installations, or none.";
      return;
    }
    missing.hidden = true;
    var items = counts(doc, k);
    items.push(["runs per day", perDay(doc.runs_per_day)]);
    figures("app-kpis", "app-summary", items);
    columns("app-daily", "app-daily-legend", doc, OUTCOMES);
    breakdown("app-os", doc.breakdowns.os);
    breakdown("app-pve", doc.breakdowns.pve);
    var d = doc.duration;
    table("app-duration", d ? [["p25", d.p25_seconds], ["median", d.p50_seconds], ["p75", d.p75_seconds], ["p90", d.p90_seconds]]
      .map(function (q) { return { label: q[0], value: q[1], cells: [q[0], fmt(q[1])] }; }) : [],
      "Too few successful runs with a duration to tell.");
    if (d) {
      var n = el("p", { class: "note" }, "Of the successful runs, rounded: published only from enough runs that no single run's time can be read back.");
      $("app-duration").after(n);
    }
    table("app-codes", exitCodeRows(doc.exit_codes, false), "No exit code reaches k runs from k installations.");
    tableNote("app-codes", doc.exit_codes);
    appPatterns("app-patterns", doc.breakdowns.pattern, v, v.app);
    appPatterns("app-commands", doc.breakdowns.command, v, v.app);
    var report = clear("app-issue");
    report.appendChild(issueLink(v, v.app, "", doc.failed + doc.aborted));
  }

  // ---- the frame ----------------------------------------------------------------

  function controls(v) {
    document.querySelectorAll("#windows button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.window === v.window));
    });
    // The attribute as well as the value, so that the view can be read from the DOM.
    document.querySelectorAll("#repo option").forEach(function (o) {
      o.toggleAttribute("selected", o.value === v.repo);
    });
    $("repo").value = v.repo;
    document.querySelectorAll("#pages a").forEach(function (a) {
      a.href = hashFor(v, { page: a.dataset.page });
      a.setAttribute("aria-current", a.dataset.page === v.page || (v.page === "app" && a.dataset.page === "scripts") ? "page" : "false");
    });
    PAGES.forEach(function (p) { $("page-" + p).hidden = p !== v.page; });
  }

  function asOf(summary, served) {
    var text = summary.generated_at
      ? "Complete UTC days up to " + summary.window.until + ", released " + when(summary.generated_at) +
        " (" + summary.repo + " runs). The numbers change once a day, when the next day is released." +
        (summary.noise_epsilon != null
          ? " Every count carries a little random noise, the same wherever the same runs are counted, so that no single run can be singled out: small numbers may be off by a few and need not add up."
          : "")
      : "No statistics have been released yet.";
    if (served) text += " This page looks for a new release every " + Math.round(STATS.max_age_seconds / 60) + " minutes.";
    $("asof").textContent = text;
    $("asof").dataset.generatedAt = summary.generated_at || "";
  }

  var SERVED = /^https?:$/.test(location.protocol) && STATS && STATS.max_age_seconds > 0;

  function show(fresh) {
    var v = parseHash();
    current = v;
    controls(v);
    var scope = v.repo + "/" + v.window;
    load(scope, "data/" + scope + ".js", fresh, function (docs) {
      if (current !== v) return;
      if (!docs) { $("asof").textContent = "The statistics for this view could not be loaded."; return; }
      asOf(docs.summary, SERVED);
      $("privacy").textContent = "Every number comes from a group of at least " + STATS.k +
        " runs from at least " + STATS.k + " installations; smaller groups are folded into \u201cother\u201d or left out.";
      if (v.page === "overview") overview(docs, v);
      else if (v.page === "errors") errors(docs, v);
      else if (v.page === "scripts") scripts(docs, v);
      else if (!APP_NAME.test(v.app || "")) app(null, v, STATS.k);
      else {
        var key = scope + "/apps/" + v.app;
        load(key, "data/" + key + ".js", fresh, function (doc) {
          if (current === v) app(doc, v, STATS.k);
        });
      }
    });
  }

  if (!STATS) {
    $("asof").textContent = "The statistics (data.js) could not be loaded.";
    return;
  }
  var nav = $("windows");
  STATS.windows.forEach(function (w) {
    var b = el("button", { type: "button", "data-window": w }, w === "all" ? "all time" : w === "1d" ? "1 day" : w.replace("d", " days"));
    b.addEventListener("click", function () { location.hash = hashFor(parseHash(), { window: w }); });
    nav.appendChild(b);
  });
  var repo = $("repo");
  STATS.repos.forEach(function (r) { repo.appendChild(el("option", { value: r }, r)); });
  repo.addEventListener("change", function () { location.hash = hashFor(parseHash(), { repo: repo.value }); });
  // Typing filters in place: the URL follows without a history entry per key.
  $("scripts-search").addEventListener("input", function (e) {
    location.replace(hashFor(parseHash(), { q: e.target.value }));
  });
  document.querySelectorAll("#scripts th").forEach(function (th) {
    th.addEventListener("click", function () {
      var v = parseHash();
      var key = th.dataset.key;
      location.replace(hashFor(v, { sort: key, asc: v.sort === key ? !v.asc : key === "nsapp" }));
    });
  });
  window.addEventListener("hashchange", function () { show(false); });
  show(false);
  // A served dashboard asks again when the statistics may have changed.
  if (SERVED) setInterval(function () { show(true); }, STATS.max_age_seconds * 1000);
})();
