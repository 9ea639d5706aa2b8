// The metrics-rpc dashboard: a plain-JS client of this server's public /rpc API.
// State lives in the URL (view, network, range, interval, from/to, user); only the open
// view is fetched, once now and then every 60 s (`refresh=` seconds in the URL, at least 5;
// pausable). uPlot draws the charts.
(() => {
  "use strict";

  const REFRESH_MS = Math.max(5, Number(new URLSearchParams(location.search).get("refresh")) || 60) * 1000;
  const RETRY_MS = 10000;             // after a 503 or a network error, unless Retry-After says otherwise
  const MAX_PARALLEL = 4;             // requests in flight at once
  const MAX_BUCKETS = 5000;           // a chosen interval is made coarser past this many points
  const TOP_USERS = 15;
  const VIEWS = ["tokenomics", "network", "validators", "jupyterhub", "admin"];
  const NETWORKS = ["mainnet", "testnet"];
  const RANGES = { "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "1y": 365 * 86400 };
  const INTERVALS = { "1 minute": 60, "5 minutes": 300, "15 minutes": 900, "1 hour": 3600,
                      "6 hours": 21600, "1 day": 86400 };
  // The interval follows the range: fine for charts, coarser for sparklines and sessions.
  const AUTO_INTERVAL = { "24h": "1 minute", "7d": "15 minutes", "30d": "1 hour", "1y": "1 day" };
  const AUTO_OVERVIEW = { "24h": "15 minutes", "7d": "1 hour", "30d": "6 hours", "1y": "1 day" };
  const TOKEN_UNIT = "tokens (base units)";
  const VALUE_UNIT = "base units × price";

  const $ = (id) => document.getElementById(id);
  function el(tag, props, ...kids) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "data") Object.assign(node.dataset, value);
      else if (key in node) node[key] = value;
      else node.setAttribute(key, value);
    }
    node.append(...kids.filter((k) => k !== null && k !== undefined && k !== false));
    return node;
  }
  const svgEl = (tag, attrs) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    return node;
  };

  // ---- formatting -------------------------------------------------------------------
  const SUFFIXES = [[1e21, "Sx"], [1e18, "Qi"], [1e15, "Qa"], [1e12, "T"], [1e9, "B"],
                    [1e6, "M"], [1e3, "K"]];
  function human(value) {
    const n = typeof value === "number" ? value : Number(value);
    if (value === null || value === undefined || !Number.isFinite(n)) return "–";
    const a = Math.abs(n);
    for (const [d, s] of SUFFIXES) {
      if (a >= d) {
        const x = n / d;
        return x.toFixed(Math.abs(x) >= 100 ? 1 : 2) + " " + s;
      }
    }
    return Number.isInteger(n) ? String(n) : n.toPrecision(4).replace(/\.?0+$/, "");
  }
  // Axis ticks: one suffix for the whole axis and enough decimals to tell ticks apart.
  function axisValues(splits) {
    const finite = splits.filter(Number.isFinite);
    if (finite.length < 2) return splits.map(human);
    const step = Math.abs(finite[1] - finite[0]) || 1;
    const top = Math.max(...finite.map(Math.abs));
    let [d, s] = SUFFIXES.find(([limit]) => top >= limit) || [1, ""];
    let decimals = Math.max(0, Math.ceil(-Math.log10(step / d) - 1e-9));
    if (decimals > 3) {  // ticks close together on a big number: count in the step's unit
      [d, s] = SUFFIXES.find(([limit]) => step >= limit) || [1, ""];
      decimals = Math.max(0, Math.ceil(-Math.log10(step / d) - 1e-9));
    }
    const style = { minimumFractionDigits: decimals, maximumFractionDigits: decimals };
    return splits.map((v) => (v / d).toLocaleString("en-US", style) + (s ? " " + s : ""));
  }
  // Every digit of an exact decimal string, grouped by thousands.
  function exact(text) {
    if (text === null || text === undefined) return "–";
    const [int, frac] = String(text).split(".");
    const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return frac ? grouped + "." + frac : grouped;
  }
  const pad = (n) => String(n).padStart(2, "0");
  function fmtUTC(date) {
    return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} `
      + `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
  }
  const fmtLocal = (date) => date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  const hours = (h) => `${Number(h).toFixed(1)} h`;
  const shortImage = (base) => base.split("/").pop();

  // ---- URL state ----------------------------------------------------------------------
  function readState() {
    const q = new URLSearchParams(location.search);
    const pick = (value, allowed, fallback) => (allowed.includes(value) ? value : fallback);
    const s = {
      view: pick(q.get("view"), VIEWS, "tokenomics"),
      network: pick(q.get("network"), NETWORKS, "mainnet"),
      range: pick(q.get("range"), [...Object.keys(RANGES), "custom"], "7d"),
      interval: pick(q.get("interval"), ["auto", ...Object.keys(INTERVALS)], "auto"),
      from: q.get("from") || "", to: q.get("to") || "", user: q.get("user") || "",
    };
    if (s.range === "custom" && !(Date.parse(s.from) < Date.parse(s.to))) s.range = "7d";
    return s;
  }
  function writeState(push) {
    const q = new URLSearchParams({ view: state.view, network: state.network, range: state.range,
                                    interval: state.interval });
    if (state.range === "custom") { q.set("from", state.from); q.set("to", state.to); }
    if (state.view === "jupyterhub" && state.user) q.set("user", state.user);
    if (REFRESH_MS !== 60000) q.set("refresh", String(REFRESH_MS / 1000));
    const url = `${location.pathname}?${q}`;
    if (url !== location.pathname + location.search) history[push ? "pushState" : "replaceState"](null, "", url);
  }

  // The time window of the current state: p_from aligned to the interval so repeated
  // refreshes ask the same question (and can get a 304); p_to left to the server (now())
  // for the live ranges.
  function timeWindow(overview) {
    const now = Date.now() / 1000;
    let from, to = null, span, auto;
    if (state.range === "custom") {
      from = Date.parse(state.from) / 1000; to = Date.parse(state.to) / 1000; span = to - from;
      const like = span <= 2 * 86400 ? "24h" : span <= 10 * 86400 ? "7d" : span <= 60 * 86400 ? "30d" : "1y";
      auto = (overview ? AUTO_OVERVIEW : AUTO_INTERVAL)[like];
    } else {
      span = RANGES[state.range];
      auto = (overview ? AUTO_OVERVIEW : AUTO_INTERVAL)[state.range];
    }
    let interval = state.interval === "auto" ? auto : state.interval;
    for (const [name, secs] of Object.entries(INTERVALS)) {  // ascending
      if (secs >= INTERVALS[interval] && span / secs <= MAX_BUCKETS) { interval = name; break; }
    }
    const step = INTERVALS[interval];
    if (state.range !== "custom") from = Math.floor((now - span) / step) * step;
    const params = { p_interval: interval, p_from: new Date(from * 1000).toISOString() };
    if (to !== null) params.p_to = new Date(to * 1000).toISOString();
    return { params, interval, from, to: to ?? now };
  }

  // ---- the API client -------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body, retryAfter) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status; this.body = body || {}; this.retryAfter = retryAfter;
    }
    get unavailable() { return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504; }
  }
  const validators = new Map();       // url → {etag, data}: If-None-Match, and the body for a 304
  const stats = { refreshes: 0, requests: 0, lastRefresh: null, firstRenderMs: null };
  let inFlight = 0;
  const waiting = [];
  async function slot() {
    if (inFlight >= MAX_PARALLEL) await new Promise((resolve) => waiting.push(resolve));
    inFlight++;
  }
  function release() { inFlight--; const next = waiting.shift(); if (next) next(); }

  async function rpc(fn, params, options = {}) {
    const query = new URLSearchParams(params || {}).toString();
    const url = `/rpc/${fn}${query ? "?" + query : ""}`;
    const post = options.body !== undefined;
    const headers = { Accept: "application/json" };
    const known = post ? undefined : validators.get(url);
    if (known) headers["If-None-Match"] = known.etag;
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    if (post) headers["Content-Type"] = "application/json";
    stats.requests++;
    await slot();
    let response;
    try {
      response = await fetch(url, { method: post ? "POST" : "GET", headers, cache: "no-store",
                                    body: post ? JSON.stringify(options.body) : undefined });
    } catch (error) {
      throw new ApiError(0, { message: "the server could not be reached" });
    } finally {
      release();
    }
    if (response.status === 304 && known) {
      await response.arrayBuffer();  // finish the (empty) body: an unread one is aborted later
      return known.data;
    }
    if (!response.ok) {
      let body = {};
      try { body = await response.json(); } catch (error) { /* not JSON: keep the status */ }
      throw new ApiError(response.status, body, Number(response.headers.get("Retry-After")) || null);
    }
    if (response.status === 204) return null;
    const data = await response.json();
    const etag = response.headers.get("ETag");
    if (etag && !post) {
      validators.delete(url);
      validators.set(url, { etag, data });
      if (validators.size > 300) validators.delete(validators.keys().next().value);
    }
    return data;
  }

  function describe(error) {
    if (!(error instanceof ApiError)) return `Something went wrong in the page: ${error.message}`;
    if (error.unavailable) return "Data temporarily unavailable, retrying…";
    if (error.status === 429) return `Too many requests from this address: retrying in ${error.retryAfter || 60} s.`;
    return `The API answered ${error.status}: ${error.message}`;
  }

  // ---- panels and charts ------------------------------------------------------------------
  const charts = {};                  // id → uPlot, for the tests and for resizing
  function panel(parent, id, title, note) {
    const line = el("p", { className: "state" });
    const body = el("div", { className: "body" });
    const node = el("section", { className: "panel", id, data: { state: "loading" } },
                    el("h2", { textContent: title }), note ? el("p", { className: "note", textContent: note }) : null,
                    line, body);
    parent.append(node);
    return {
      node, body,
      // Until the first answer; later refreshes keep what is shown (data, empty or error).
      loading() { if (node.dataset.state === "loading") this.show("loading", "Loading…"); },
      empty(message) { this.show("empty", message || "No data in this range."); },
      fail(error) { this.show(error.unavailable ? "unavailable" : "error", describe(error)); },
      ok() { node.dataset.state = "ok"; line.textContent = ""; body.hidden = false; },
      show(kind, message) {
        node.dataset.state = kind; line.textContent = message;
        body.hidden = kind !== "ok";
        if (kind !== "ok") dropChartsIn(node);
      },
    };
  }
  function dropChart(id) { if (charts[id]) { charts[id].destroy(); delete charts[id]; } }
  function dropChartsIn(node) {
    for (const id of Object.keys(charts)) if (node.contains(charts[id].root)) dropChart(id);
  }
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  function tooltipPlugin(format) {
    let tip;
    return {
      hooks: {
        init(u) { tip = el("div", { className: "tip", hidden: true }); u.over.append(tip); },
        setCursor(u) {
          const i = u.cursor.idx;
          if (i === null || i === undefined) { tip.hidden = true; return; }
          const time = new Date(u.data[0][i] * 1000);
          const lines = [el("div", { textContent: fmtUTC(time) }),
                         el("div", { className: "muted", textContent: `${fmtLocal(time)} (local)` })];
          u.series.forEach((s, k) => {
            if (k === 0 || !s.show) return;
            const [shown, detail] = format(u.data[k][i], k, i);
            lines.push(el("div", { textContent: `${s.label}: ${shown}` }));
            if (detail) lines.push(el("div", { className: "muted exact", textContent: detail }));
          });
          tip.replaceChildren(...lines);
          tip.hidden = false;
          // right of the cursor, else left of it; may reach over the y axis, not past the chart
          const width = tip.offsetWidth, x = u.cursor.left;
          const left = x + 12 + width <= u.over.clientWidth ? x + 12 : Math.max(-u.over.offsetLeft, x - 12 - width);
          tip.style.left = `${left}px`;
          tip.style.top = `${Math.max(0, Math.min(u.cursor.top + 12, u.over.clientHeight - tip.offsetHeight))}px`;
        },
      },
    };
  }

  // A time chart: data = [xs (s), ...ys]; series = [{label, color}]. `exactRows` (optional)
  // holds the API's text values so the tooltip can show every digit.
  // `tight`: the y axis spans the data only (token amounts move by millionths of their size).
  function timeChart(id, container, data, { series, yLabel, format = human, exactRows, height = 240, xRange, tight }) {
    dropChart(id);
    container.replaceChildren();
    const fg = css("--fg"), grid = css("--grid");
    const axis = { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid } };
    const colors = series.map((s, k) => s.color || css(`--c${k + 1}`));
    const opts = {
      width: Math.max(container.clientWidth, 200), height,
      scales: { x: { time: true, ...(xRange ? { range: () => xRange } : {}) },
                ...(tight ? { y: { range: tightRange } } : {}) },
      series: [{ label: "Time" }, ...series.map((s, k) => ({
        label: s.label, stroke: colors[k], width: 2, points: { show: false },
        fill: series.length === 1 ? colors[k] + "22" : undefined,
      }))],
      axes: [{ ...axis, label: "Time (local)" },
             { ...axis, label: yLabel, values: (u, splits) => (format === human ? axisValues(splits) : splits.map(format)),
               size: (u, values) => 34 + 7 * Math.max(4, ...(values || []).map((v) => String(v).length)) }],
      legend: { show: series.length > 1, live: false },
      cursor: { drag: { x: false, y: false } },
      plugins: [tooltipPlugin((v, k, i) => [v === null || v === undefined ? "–" : format(v),
                                            exactRows ? exact(exactRows[k - 1][i]) : null])],
    };
    charts[id] = new uPlot(opts, data, container);
    return charts[id];
  }

  function tightRange(u, min, max) {
    const pad = (max - min) * 0.08 || Math.abs(max) * 1e-9 || 1;
    return [min - pad, max + pad];
  }

  function sparkline(id, container, data) {
    dropChart(id);
    container.replaceChildren();
    const color = css("--c1");
    charts[id] = new uPlot({
      width: 160, height: 36, pxAlign: false,
      scales: { x: { time: true } },
      series: [{}, { stroke: color, width: 1.5, fill: color + "22", points: { show: false } }],
      axes: [{ show: false }, { show: false }],
      legend: { show: false }, cursor: { show: false }, select: { show: false },
    }, data, container);
  }

  function toSeries(rows, key = "value") {
    const sorted = rows.slice().sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
    return [sorted.map((r) => Date.parse(r.timestamp) / 1000), sorted.map((r) => Number(r[key])),
            sorted.map((r) => r[key])];
  }
  // Every bucket start of the window (the API aligns buckets that divide a day on midnight UTC).
  function bucketGrid(win) {
    const step = INTERVALS[win.interval], xs = [];
    for (let x = Math.floor(win.from / step) * step; x < win.to; x += step) xs.push(x);
    return xs;
  }
  // Rows with (timestamp, group, value) → [xs, ...one y array per group] on the window's
  // buckets: a bucket without a row is 0 (nobody was active), not a line across the gap.
  function pivot(rows, group, value, win) {
    const xs = bucketGrid(win);
    const at = new Map(xs.map((x, i) => [x, i]));
    const groups = [...new Set(rows.map(group))].sort();
    const ys = groups.map(() => new Array(xs.length).fill(0));
    for (const r of rows) {
      const i = at.get(Date.parse(r.timestamp) / 1000);
      if (i !== undefined) ys[groups.indexOf(group(r))][i] += Number(r[value]);
    }
    return { groups, data: [xs, ...ys] };
  }

  // ---- views -----------------------------------------------------------------------------
  // Each view builds its panels once and has load(): fetch everything it shows, render it.
  // load() settles every request (one failure does not blank the rest) and returns errors.
  // Wraps a render callback so that an answer arriving after a newer refresh began (the
  // network or range changed meanwhile) is dropped instead of drawn over the newer one.
  function keeper() {
    const mine = generation;
    return (fn) => (...args) => (mine === generation ? fn(...args) : undefined);
  }
  async function settle(tasks) {
    const results = await Promise.allSettled(tasks);
    return results.filter((r) => r.status === "rejected").map((r) => r.reason);
  }

  const TOKEN_SERIES = [
    { key: "circulating", fn: "get_agg_circulating_supply", title: "Circulating supply", unit: TOKEN_UNIT,
      note: "Total − excluded − locked − fees, per bucket." },
    { key: "fdv", fn: "get_agg_fdv", title: "Fully diluted valuation (FDV)", unit: VALUE_UNIT,
      note: "Total supply × latest MFX:PWR price." },
    { key: "market_cap", fn: "get_agg_market_cap", title: "Market cap", unit: VALUE_UNIT,
      note: "Circulating supply × latest MFX:PWR price." },
    { key: "burned", fn: "get_agg_burned_supply", title: "Burned supply", unit: TOKEN_UNIT,
      note: "Total MFX burned." },
  ];
  const HEADLINES = [["circulating_supply", "Circulating supply"], ["fdv", "FDV"],
                     ["market_cap", "Market cap"], ["burned", "Burned supply"]];

  const tokenomics = {
    build() {
      this.panels = {};
      for (const s of TOKEN_SERIES) this.panels[s.key] = panel($("tokenomics-charts"), `panel-${s.key}`, s.title, s.note);
      this.headlines = panel($("headlines"), "panel-headlines", "Latest");
    },
    async load() {
      const net = state.network, keep = keeper();
      const win = timeWindow(false);
      this.headlines.loading();
      Object.values(this.panels).forEach((p) => p.loading());
      const latest = Promise.all([rpc("get_all_latest_token_metrics", { p_schema: net }),
                                  rpc("get_latest_burned_supply", { p_schema: net })])
        .then(keep(([rows, burned]) => this.renderHeadlines(rows, burned)),
              keep((e) => { this.headlines.fail(e); throw e; }));
      const series = TOKEN_SERIES.map((s) => rpc(s.fn, { p_schema: net, ...win.params }).then(
        keep((rows) => this.renderChart(s, rows, win)), keep((e) => { this.panels[s.key].fail(e); throw e; })));
      return settle([latest, ...series]);
    },
    renderHeadlines(rows, burned) {
      const byName = Object.fromEntries(rows.map((r) => [r.table_name, r]));
      if (burned.length) byName.burned = burned[0];
      if (!Object.keys(byName).length) { this.headlines.empty(`No tokenomics data for ${state.network}.`); return; }
      this.headlines.body.replaceChildren(el("div", { className: "headlines" }, ...HEADLINES.map(([key, label]) => {
        const row = byName[key];
        const value = row ? row.value : null;
        const button = el("button", {
          type: "button", className: "figure", data: { metric: key, exact: value ?? "" },
          title: value === null ? "no value" : `${exact(value)} — click to copy the exact value`,
        }, el("span", { className: "label", textContent: label }),
           el("span", { className: "value", textContent: human(value) }),
           el("span", { className: "when", textContent: row ? `as of ${fmtUTC(new Date(row.timestamp))}` : "no data" }));
        button.addEventListener("click", () => copyExact(button));
        return button;
      })));
      this.headlines.ok();
    },
    renderChart(s, rows, win) {
      const p = this.panels[s.key];
      if (!rows.length) { p.empty(`No ${s.title.toLowerCase()} for ${state.network} in this range.`); return; }
      const [xs, ys, texts] = toSeries(rows);
      p.ok();
      timeChart(`tokenomics-${s.key}`, p.body, [xs, ys], {
        series: [{ label: s.title }], yLabel: s.unit, exactRows: [texts], xRange: [win.from, win.to], tight: true,
      });
      if (stats.firstRenderMs === null) {
        stats.firstRenderMs = performance.now();
        performance.mark("dashboard-first-chart");
      }
    },
  };

  async function copyExact(button) {
    const value = button.dataset.exact;
    if (!value) return;
    try {
      await navigator.clipboard.writeText(value);
      button.querySelector(".when").textContent = "exact value copied";
    } catch (error) {
      button.querySelector(".when").textContent = value;  // no clipboard: show it to copy by hand
    }
  }

  const network = {
    build() {
      const root = $("view-network");
      this.tables = {
        network: panel(root, "panel-latest-network", "Network metrics",
                       "Latest value of every metric of the chosen network, and its trend over the range."),
        common: panel(root, "panel-latest-common", "Common metrics", "Metrics that belong to no single network."),
        cumsum: panel(root, "panel-latest-cumsum", "Cumulative counters",
                      "Running totals since the first sample; the trend is the running total over the range."),
      };
    },
    async load() {
      const win = timeWindow(true), keep = keeper();
      const groups = [
        ["network", `get_all_latest_${state.network}_metrics`, "get_agg_metric", state.network],
        ["common", "get_all_latest_common_metrics", "get_agg_metric", "common"],
        ["cumsum", "get_all_latest_cumsum_metrics", "get_agg_cumsum_metric", "cumsum"],
      ];
      this.tables.network.node.querySelector("h2").textContent = `Network metrics: ${state.network}`;
      const tasks = groups.map(([key, latestFn, aggFn, schema]) => {
        const p = this.tables[key];
        p.loading();
        return rpc(latestFn).then(keep((rows) => {
          if (!rows.length) { p.empty(`No ${key === "network" ? state.network : key} metrics yet.`); return []; }
          const spots = this.renderTable(key, p, rows);
          return settle(rows.map((r, i) => rpc(aggFn, { p_metric_name: r.table_name, p_schema: schema, ...win.params })
            .then(keep((points) => {
              if (!points.length) { spots[i].textContent = "no data in range"; return; }
              const [xs, ys] = toSeries(points);
              sparkline(`spark-${key}-${r.table_name}`, spots[i], [xs, ys]);
            }), keep((e) => { spots[i].textContent = e.unavailable ? "unavailable" : "error"; throw e; }))));
        }), keep((e) => { p.fail(e); throw e; }));
      });
      const errors = await settle(tasks);
      const nested = (await Promise.all(tasks.map((t) => t.catch(() => [])))).flat();
      return errors.concat(nested);
    },
    renderTable(key, p, rows) {
      dropChartsIn(p.body);  // the sparklines of the rows being replaced
      const spots = [];
      const body = rows.map((r) => {
        const spot = el("div", { className: "spark", data: { metric: r.table_name } });
        spots.push(spot);
        return el("tr", {},
          el("td", {}, el("code", { textContent: r.table_name })),
          el("td", { className: "num", title: exact(r.value), textContent: human(r.value) }),
          el("td", { textContent: fmtUTC(new Date(r.timestamp)) }),
          el("td", {}, spot));
      });
      p.body.replaceChildren(el("div", { className: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", { textContent: "Metric" }), el("th", { className: "num", textContent: "Latest" }),
                                     el("th", { textContent: "As of" }), el("th", { textContent: "Trend over the range" }))),
        el("tbody", {}, ...body))));
      p.ok();
      return spots;
    },
  };

  const validatorsView = {
    build() {
      const root = $("view-validators");
      this.map = panel(root, "panel-map", "Validator locations", "Latest reported location of each validator.");
      this.table = panel(root, "panel-locations", "By country and city");
      this.outline = null;
    },
    async load() {
      this.map.loading(); this.table.loading();
      const keep = keeper();
      try {
        if (!this.outline) {
          const response = await fetch("/dashboard/static/world-land-110m.json");
          if (!response.ok) throw new ApiError(response.status, {});
          this.outline = await response.json();
        }
        const rows = await rpc("get_latest_geo_coordinates");
        keep(() => this.render(rows))();
        return [];
      } catch (error) {
        keep(() => { this.map.fail(error); this.table.fail(error); })();
        return [error];
      }
    },
    render(rows) {
      if (!rows.length) { this.map.empty("No validator has reported a location yet."); this.table.empty(" "); return; }
      const svg = svgEl("svg", { viewBox: "0 100 3600 1400", role: "img",
                                 "aria-label": `World map with ${rows.length} validators` });
      svg.append(svgEl("path", { class: "land", d: this.outline.path }));
      for (const r of rows) {
        const dot = svgEl("circle", { cx: ((r.longitude + 180) * 10).toFixed(1), cy: ((90 - r.latitude) * 10).toFixed(1), r: 22 });
        const title = svgEl("title", {});
        title.textContent = `${r.city || "?"}, ${r.country_name || "?"} (${r.latitude.toFixed(2)}, ${r.longitude.toFixed(2)})`;
        dot.append(title);
        svg.append(dot);
      }
      this.map.body.replaceChildren(el("div", { className: "map" }, svg));
      this.map.ok();
      const counts = new Map();
      for (const r of rows) {
        const key = `${r.country_name || "unknown"}\u0000${r.city || "unknown"}`;
        counts.set(key, (counts.get(key) || 0) + 1);
      }
      const lines = [...counts].sort((a, b) => a[0].localeCompare(b[0])).map(([key, n]) => {
        const [country, city] = key.split("\u0000");
        return el("tr", {}, el("td", { textContent: country }), el("td", { textContent: city }),
                  el("td", { className: "num", textContent: String(n) }));
      });
      this.table.body.replaceChildren(el("div", { className: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", { textContent: "Country" }), el("th", { textContent: "City" }),
                                     el("th", { className: "num", textContent: "Validators" }))),
        el("tbody", {}, ...lines))));
      this.table.ok();
    },
  };

  const jupyterhub = {
    build() {
      const root = $("view-jupyterhub");
      const grid = el("div", { className: "grid" });
      this.runtime = panel(root, "panel-runtime", `Runtime by user (top ${TOP_USERS})`,
                           "Container hours in the range, GPU and CPU nodes. Click a user for their sessions.");
      this.sessions = panel(root, "panel-sessions", "Sessions");
      root.append(grid);
      this.active = panel(grid, "panel-active", "Active users and containers");
      this.nodes = panel(grid, "panel-nodes", "Containers by node class");
      this.images = panel(grid, "panel-images", "Containers by image");
    },
    async load() {
      const win = timeWindow(true);
      const range = { p_from: win.params.p_from, ...(win.params.p_to ? { p_to: win.params.p_to } : {}) };
      const series = { p_interval: win.interval, ...range };
      [this.runtime, this.active, this.nodes, this.images].forEach((p) => p.loading());
      const keep = keeper();
      const guard = (p, render) => (promise) => promise.then(keep(render), keep((e) => { p.fail(e); throw e; }));
      const tasks = [
        guard(this.runtime, (rows) => this.renderRuntime(rows))(rpc("get_runtime_by_user", { ...range, p_limit: TOP_USERS })),
        guard(this.active, (rows) => this.renderLines("active", this.active, rows, win, [
          { label: "Active users", key: "active_users" }, { label: "Containers", key: "containers" }]))(
          rpc("get_active_users", series)),
        guard(this.nodes, (rows) => this.renderGroups("nodes", this.nodes, rows, (r) => r.node_class, win))(
          rpc("get_node_usage", series)),
        guard(this.images, (rows) => this.renderGroups("images", this.images, rows, (r) => shortImage(r.container_base), win))(
          rpc("get_image_usage", series)),
      ];
      if (state.user) tasks.push(this.loadSessions(range));
      else { this.shownUser = ""; this.sessions.empty("Click a user above to see their sessions in the range."); }
      return settle(tasks);
    },
    renderRuntime(rows) {
      if (!rows.length) { this.runtime.empty("No JupyterHub sessions in this range."); return; }
      const max = Math.max(...rows.map((r) => Number(r.total_hours)), 1e-9);
      const bars = rows.map((r) => {
        const gpu = Number(r.gpu_hours), cpu = Number(r.cpu_hours);
        const bar = el("button", {
          type: "button", className: "bar", data: { user: r.user_email },
          title: `${r.user_email}: ${hours(r.total_hours)} in ${r.sessions} sessions, last seen ${fmtUTC(new Date(r.last_seen))}`,
          "aria-pressed": String(state.user === r.user_email),
        }, el("span", { className: "name", textContent: r.user_name || r.user_email }),
           el("span", { className: "track" }, el("span", { className: "gpu" }), el("span", { className: "cpu" })),
           el("span", { className: "hours", textContent: `${hours(r.total_hours)} (GPU ${hours(gpu)} · CPU ${hours(cpu)})` }));
        bar.querySelector(".gpu").style.width = `${(100 * gpu) / max}%`;
        bar.querySelector(".cpu").style.width = `${(100 * cpu) / max}%`;
        bar.addEventListener("click", () => selectUser(r.user_email));
        return bar;
      });
      this.runtime.body.replaceChildren(
        el("div", { className: "legend-keys" }, el("span", { className: "key gpu", textContent: "GPU hours" }),
           el("span", { className: "key cpu", textContent: "CPU hours" })),
        el("div", { className: "bars" }, ...bars));
      this.runtime.ok();
    },
    renderLines(id, p, rows, win, lines) {
      if (!rows.length) { p.empty(); return; }
      const columns = lines.map((l) => pivot(rows, () => l.key, l.key, win).data);
      const data = [columns[0][0], ...columns.map((c) => c[1])];
      p.ok();
      timeChart(`jupyterhub-${id}`, p.body, data, { series: lines, yLabel: "count", format: countFormat,
                                                    xRange: [win.from, win.to] });
    },
    renderGroups(id, p, rows, group, win) {
      if (!rows.length) { p.empty(); return; }
      const { groups, data } = pivot(rows, group, "containers", win);
      p.ok();
      timeChart(`jupyterhub-${id}`, p.body, data, { series: groups.map((g) => ({ label: g })),
                                                    yLabel: "containers", format: countFormat,
                                                    xRange: [win.from, win.to] });
    },
    async loadSessions(range) {
      const p = this.sessions;
      const user = state.user;
      p.node.querySelector("h2").textContent = `Sessions of ${user}`;
      if (this.shownUser !== user) p.show("loading", "Loading…");  // not another user's rows
      this.shownUser = user;
      try {
        const rows = await rpc("get_user_sessions", { p_user_email: user, ...range });
        if (user !== state.user) return;  // another user was clicked meanwhile
        if (!rows.length) { p.empty(`No sessions of ${user} in this range.`); return; }
        const cell = (date) => el("td", { textContent: fmtUTC(date), title: `${fmtLocal(date)} (local)` });
        p.body.replaceChildren(el("div", { className: "table-wrap" }, el("table", {},
          el("thead", {}, el("tr", {}, ...["Start", "End", "Hours", "Server (pod)", "Node", "Image", ""].map(
            (t) => el("th", { textContent: t })))),
          el("tbody", {}, ...rows.map((r) => el("tr", {},
            cell(new Date(r.session_start)), cell(new Date(r.session_end)),
            el("td", { className: "num", textContent: Number(r.runtime_hours).toFixed(2) }),
            el("td", { textContent: r.pod_name }), el("td", { textContent: r.node_name }),
            el("td", { textContent: `${shortImage(r.container_base)}:${r.container_version}` }),
            el("td", { className: "active-flag", textContent: r.active ? "running" : "" })))))));
        p.ok();
      } catch (error) {
        p.fail(error);
        throw error;
      }
    },
  };
  const countFormat = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

  function selectUser(email) {
    state.user = state.user === email ? "" : email;
    writeState(true);
    document.querySelectorAll(".bar").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.user === state.user)));
    if (!state.user) {
      jupyterhub.shownUser = "";
      jupyterhub.sessions.empty("Click a user above to see their sessions in the range.");
      return;
    }
    const win = timeWindow(true);
    jupyterhub.loadSessions({ p_from: win.params.p_from, ...(win.params.p_to ? { p_to: win.params.p_to } : {}) })
      .catch(() => { /* shown in the panel */ });
  }

  // ---- admin: the token lives in this closure only ------------------------------------------
  let writerToken = "";
  const ADMIN_MESSAGES = {
    401: () => "Not authorised: paste a valid writer token above first (it is missing, malformed or expired).",
    403: () => "This token may not change the list: a token with the writer role is needed.",
    409: (a) => `“${a}” is already in the excluded list.`,
    404: (a) => `“${a}” is not in the excluded list (someone may have removed it already).`,
    400: () => "That address is not valid: it must not be empty.",
  };
  const admin = {
    build() {
      $("token-form").addEventListener("submit", (event) => {
        event.preventDefault();
        writerToken = $("token").value.trim();
        $("token").value = "";
        $("token-status").textContent = writerToken ? "Token kept in memory for this tab." : "No token: changes will be refused.";
      });
      $("forget-token").addEventListener("click", () => {
        writerToken = "";
        $("token-status").textContent = "No token: changes will be refused.";
      });
      $("add-form").addEventListener("submit", (event) => {
        event.preventDefault();
        const address = $("address").value.trim();
        this.change("add_excluded_address", address, `Added “${address}”.`).then((ok) => { if (ok) $("address").value = ""; });
      });
    },
    async change(fn, address, done) {
      try {
        await rpc(fn, null, { body: { p_value: address }, token: writerToken });
        this.message(done, true);
        await this.load();
        return true;
      } catch (error) {
        const explain = ADMIN_MESSAGES[error.status];
        this.message(explain ? explain(address) : describe(error), false, error.status);
        return false;
      }
    },
    message(text, ok, status) {
      const m = $("admin-message");
      m.textContent = text; m.hidden = false; m.className = ok ? "ok" : "";
      m.dataset.status = status || "";
    },
    async load() {
      const st = $("addresses-state");
      try {
        const rows = await rpc("get_excluded_addresses");
        st.textContent = rows.length ? "" : "The list is empty.";
        st.className = "state";
        $("addresses").replaceChildren(
          el("thead", {}, el("tr", {}, el("th", { textContent: "#" }), el("th", { textContent: "Address" }), el("th", {}))),
          el("tbody", {}, ...rows.map((r) => {
            const remove = el("button", { type: "button", textContent: "Remove", data: { address: r.value } });
            remove.addEventListener("click", () => this.change("rm_excluded_address", r.value, `Removed “${r.value}”.`));
            return el("tr", {}, el("td", { className: "num", textContent: String(r.id) }),
                      el("td", {}, el("code", { textContent: r.value })), el("td", {}, remove));
          })));
        return [];
      } catch (error) {
        st.textContent = describe(error);
        st.className = "state error";
        return [error];
      }
    },
  };

  const VIEW_IMPL = { tokenomics, network, validators: validatorsView, jupyterhub, admin };

  // ---- controls, refresh loop -----------------------------------------------------------------
  let state = readState();
  let timer = null, paused = false, generation = 0, nextAt = 0;

  function syncControls() {
    document.querySelectorAll("#tabs button").forEach((b) => {
      if (b.dataset.view === state.view) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    });
    for (const v of VIEWS) $(`view-${v}`).hidden = v !== state.view;
    const timed = ["tokenomics", "network", "jupyterhub"].includes(state.view);
    document.querySelectorAll("#controls label").forEach((label) => {
      const kind = label.dataset.for;
      label.hidden = kind === "network" ? !["tokenomics", "network"].includes(state.view)
        : kind === "custom" ? !(timed && state.range === "custom") : !timed;
    });
    $("network").value = state.network;
    $("range").value = state.range;
    $("interval").value = state.interval;
    if (state.range === "custom") { $("from").value = state.from.slice(0, 16); $("to").value = state.to.slice(0, 16); }
  }

  function change(patch) {
    Object.assign(state, patch);
    writeState(true);
    syncControls();
    refresh();
  }

  function status(text) { $("status").textContent = text; }

  async function refresh() {
    clearTimeout(timer);
    const mine = ++generation;
    const view = state.view;
    const before = stats.requests, started = performance.now();
    status("Updating…");
    let errors;
    try {
      errors = await VIEW_IMPL[view].load();
    } catch (error) {
      errors = [error];
    }
    if (mine !== generation) return;  // a newer refresh took over
    const requests = stats.requests - before;
    stats.refreshes++;
    stats.lastRefresh = { view, requests, ms: Math.round(performance.now() - started), errors: errors.length };
    const unavailable = errors.find((e) => e instanceof ApiError && (e.unavailable || e.status === 429));
    const banner = $("banner");
    let delay = REFRESH_MS;
    if (unavailable) {
      delay = unavailable.retryAfter ? unavailable.retryAfter * 1000 : RETRY_MS;
      banner.textContent = unavailable.status === 429 ? describe(unavailable)
        : `Data temporarily unavailable, retrying in ${Math.round(delay / 1000)} s.`;
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
    const when = new Date();
    status(`Updated ${pad(when.getUTCHours())}:${pad(when.getUTCMinutes())}:${pad(when.getUTCSeconds())} UTC · `
           + `${requests} request${requests === 1 ? "" : "s"}` + (paused ? " · paused" : ""));
    document.body.dataset.refreshed = String(stats.refreshes);
    nextAt = Date.now() + delay;
    if (!paused) timer = setTimeout(refresh, delay);
  }

  // The networks offered are those with data; the URL's choice stays selectable.
  async function discoverNetworks() {
    const found = [];
    await settle(NETWORKS.map((n) => rpc(`get_all_latest_${n}_metrics`).then((rows) => { if (rows.length) found.push(n); })));
    const offered = NETWORKS.filter((n) => found.includes(n) || n === state.network);
    $("network").replaceChildren(...(offered.length ? offered : NETWORKS).map((n) => el("option", { value: n, textContent: n })));
    $("network").value = state.network;
  }

  function start() {
    for (const impl of Object.values(VIEW_IMPL)) impl.build();
    $("network").replaceChildren(el("option", { value: state.network, textContent: state.network }));
    syncControls();
    $("tabs").addEventListener("click", (event) => {
      const view = event.target.closest("button")?.dataset.view;
      if (view && view !== state.view) change({ view });
    });
    $("controls").addEventListener("submit", (event) => event.preventDefault());
    $("network").addEventListener("change", (event) => change({ network: event.target.value }));
    $("interval").addEventListener("change", (event) => change({ interval: event.target.value }));
    $("range").addEventListener("change", (event) => {
      const range = event.target.value;
      if (range === "custom") {
        const to = new Date(Math.floor(Date.now() / 3600000) * 3600000);
        const from = new Date(to - 3 * 86400000);
        change({ range, from: from.toISOString().slice(0, 16) + "Z", to: to.toISOString().slice(0, 16) + "Z" });
      } else {
        change({ range });
      }
    });
    for (const id of ["from", "to"]) {
      $(id).addEventListener("change", (event) => {
        const value = event.target.value;
        if (value && Date.parse(value + "Z")) change({ [id]: value.slice(0, 16) + "Z" });
      });
    }
    $("pause").addEventListener("click", () => {
      paused = !paused;
      $("pause").textContent = paused ? "Resume" : "Pause";
      $("pause").setAttribute("aria-pressed", String(paused));
      if (paused) { clearTimeout(timer); status("Paused"); }
      else if (Date.now() >= nextAt) refresh();
      else timer = setTimeout(refresh, nextAt - Date.now());
    });
    window.addEventListener("popstate", () => { state = readState(); syncControls(); refresh(); });
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => refresh());
    let resizeTimer;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        for (const u of Object.values(charts)) {
          const width = u.root.parentElement.clientWidth;
          if (u.width !== width && !u.root.parentElement.classList.contains("spark")) u.setSize({ width, height: u.height });
        }
      }, 150);
    });
    writeState(false);
    discoverNetworks();  // in parallel with the first load: it only fills the picker
    refresh();
  }

  // For tests, benchmarks and the curious: the charts, counters and a manual refresh.
  window.dashboard = { charts, stats, refresh: () => refresh(), get state() { return { ...state }; } };
  start();
})();
