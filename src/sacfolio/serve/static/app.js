// sacfolio dashboard: reads /dashboard/data and redraws itself every refresh_seconds.
"use strict";

const fmtPct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%");

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? "–"));
  return node;
}

function badge(text, cls) { return el("span", { class: "badge " + (cls || text) }, text); }

function renderModels(models) {
  const body = document.querySelector("#models tbody");
  body.replaceChildren(...models.map((m) => {
    const th = m.training_health;
    const healthText = th && th.status ? badge(th.status, th.status) : (m.loaded ? "no health report" : "–");
    const gate = m.last_decision && !m.last_decision.promoted
      ? " Last gate decision: " + m.last_decision.version + " not promoted (" + m.last_decision.reason + ")." : "";
    const note = (m.load_error ? "load error: " + m.load_error : (m.reason || "")) + gate;
    return el("tr", {},
      el("td", {}, m.name),
      el("td", {}, badge(m.loaded ? "loaded" : "fallback")),
      el("td", {}, el("code", {}, m.version || "–")),
      el("td", {}, m.promoted_at || "–"),
      el("td", {}, healthText),
      el("td", { class: "muted" }, note));
  }));
}

function renderAllocation(model) {
  const alloc = model.allocation || {};
  document.getElementById("allocation-title").textContent = "(" + model.name + ")";
  document.getElementById("model-version").textContent = alloc.version || "fallback (no model)";
  document.getElementById("model-source").textContent = alloc.source || "–";
  document.getElementById("allocation-as-of").textContent = alloc.as_of || "–";
  if (!alloc.weights) return;
  const names = Object.keys(alloc.weights);
  const values = names.map((n) => alloc.weights[n]);
  Plotly.react("allocation-chart", [{
    type: "bar", x: names, y: values, marker: { color: names.map((n) => (n === "CASH" ? "#8d6e63" : "#1565c0")) },
    hovertemplate: "%{x}: %{y:.2%}<extra></extra>",
  }], {
    margin: { t: 10, r: 10, b: 60, l: 50 }, yaxis: { tickformat: ".0%", title: "target weight" },
  }, { displayModeBar: false, responsive: true });
}

function renderAdvisors(models) {
  const mixed = models.filter((m) => m.allocation && m.allocation.advisors);
  document.getElementById("advisors-section").hidden = mixed.length === 0;
  if (!mixed.length) return;
  Plotly.react("advisors-chart", mixed.map((m) => ({
    type: "bar", name: m.name, x: Object.keys(m.allocation.advisors), y: Object.values(m.allocation.advisors),
    hovertemplate: m.name + " %{x}: %{y:.1%}<extra></extra>",
  })), {
    barmode: "group", margin: { t: 10, r: 10, b: 70, l: 50 }, yaxis: { tickformat: ".0%", title: "mixture weight" },
  }, { displayModeBar: false, responsive: true });
}

function renderEvaluation(ev) {
  const msg = document.getElementById("evaluation-message");
  if (!ev || !ev.equity) {
    msg.textContent = (ev && ev.message) || "no evaluation yet";
    return;
  }
  msg.textContent = ev.title + " — " + ev.path;
  const traces = Object.entries(ev.equity).map(([name, ys]) => ({
    type: "scatter", mode: ev.dates.length > 60 ? "lines" : "lines+markers", name: name + " (CAGR " + fmtPct(ev.total[name].cagr) + ")",
    x: ev.dates, y: ys, line: { width: name === ev.agent ? 3 : 1.3 },
    visible: name.startsWith("hindsight") ? "legendonly" : true,
  }));
  Plotly.react("equity-chart", traces, {
    margin: { t: 10, r: 10, b: 40, l: 50 }, yaxis: { type: "log", title: "equity (start = 1)" },
  }, { displayModeBar: false, responsive: true });
}

function renderJobs(jobs, schedule) {
  const body = document.querySelector("#jobs tbody");
  body.replaceChildren(...jobs.map((j) => el("tr", {},
    el("td", {}, el("code", {}, j.id.slice(0, 8))),
    el("td", {}, j.model), el("td", {}, j.mode),
    el("td", {}, badge(j.state), j.error ? el("div", { class: "muted" }, j.error) : ""),
    el("td", {}, el("progress", { max: "1", value: String(j.progress) }), " " + fmtPct(j.progress)),
    el("td", {}, el("code", {}, j.version || "–")),
    el("td", {}, j.promoted === null ? "–" : (j.promoted ? "promoted" : "not promoted")),
    el("td", {}, j.created_at))));
  document.getElementById("schedule").textContent = schedule.length
    ? "Scheduled: " + schedule.map((s) => `${s.model} ${s.mode} '${s.cron}' next ${s.next_run || "–"}`).join("; ")
    : "No scheduled retraining.";
}

async function refresh() {
  let delay = 5;
  try {
    const response = await fetch("/dashboard/data", { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const data = await response.json();
    delay = data.refresh_seconds;
    renderModels(data.models);
    if (data.models.length) renderAllocation(data.models[0]);
    renderAdvisors(data.models);
    renderEvaluation(data.evaluation);
    renderJobs(data.jobs, data.schedule);
    const d = data.data;
    document.getElementById("data-freshness").textContent =
      `${d.source}: ${d.n_dates} rows ${d.first_date} .. ${d.last_date} (last row ${d.age_days} days old), loaded ${d.loaded_at}`;
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    document.getElementById("updated").textContent = "refresh failed: " + err.message;
  }
  setTimeout(refresh, delay * 1000);
}

refresh();

// ---- paper trading panel: /paper/status, /paper/allocations, /paper/trades, every 2 s ----
const fmtMoney = (x) => (x === null || x === undefined ? "–" : x.toLocaleString(undefined, { maximumFractionDigits: 2 }));

function renderPaperStatus(s) {
  const sac = document.getElementById("paper-sac");
  const model = s.source === "model";
  sac.textContent = s.exists ? (model ? "SAC active" : "fallback") : "no session";
  sac.className = "badge " + (model ? "loaded" : "fallback");
  document.getElementById("paper-sac-reason").textContent = s.exists
    ? (model ? "meta-controller " : "static weights: ") + (s.reason || "")
    : "no paper ledger at " + s.ledger + " (run `sacfolio paper`)";
  document.getElementById("paper-running").textContent = s.exists
    ? (s.running ? "running" : "stopped") + (s.lag_seconds === null ? "" : ", last bar " + s.lag_seconds.toFixed(1) + " s ago") : "";
  document.getElementById("paper-nav").textContent = fmtMoney(s.nav);
  document.getElementById("paper-margin").textContent = fmtMoney(s.margin_used);
  document.getElementById("paper-value").textContent = fmtMoney(s.position_value);
  document.getElementById("paper-costs").textContent = fmtMoney(s.costs);
  document.getElementById("paper-bars").textContent = String(s.bars);
  document.getElementById("paper-last-bar").textContent = s.last_bar || "–";
  // without a session there is nothing to chart: no empty plot area, no empty trades table
  for (const id of ["paper-allocation-chart", "paper-trades-block"]) {
    document.getElementById(id).hidden = !s.exists;
  }
}

function renderPaperAllocations(a) {
  const x = a.rows.map((r) => r.time);
  Plotly.react("paper-allocation-chart", a.strategies.map((name) => ({
    type: "scatter", mode: "lines", stackgroup: "one", name, x, y: a.rows.map((r) => r.shares[name] || 0),
    line: { width: 0.5 }, hovertemplate: name + " %{y:.1%}<extra></extra>",
  })), {
    margin: { t: 10, r: 10, b: 40, l: 50 }, yaxis: { tickformat: ".0%", title: "allocation", range: [0, 1] },
  }, { displayModeBar: false, responsive: true });
}

function renderPaperTrades(trades) {
  const body = document.querySelector("#paper-trades tbody");
  body.replaceChildren(...trades.map((t) => el("tr", {},
    el("td", {}, t.time), el("td", {}, t.instrument), el("td", {}, t.units.toFixed(2)), el("td", {}, t.price.toFixed(2)),
    el("td", {}, t.cost.toFixed(2)),
    el("td", { class: "strategies" }, paperOwners(t.strategies)))));
}

function paperOwners(owners) {  // shares under 0.1% (rebalancing dust) are counted, not listed
  const shown = owners.filter((o) => o.share >= 0.001);
  const rest = owners.length - shown.length;
  return shown.map((o) => o.strategy + " " + (100 * o.share).toFixed(o.share < 0.1 ? 1 : 0) + "%").join(", ")
    + (rest ? ` (+${rest} under 0.1%)` : "");
}

async function refreshPaper() {
  try {
    const status = await (await fetch("/paper/status", { cache: "no-store" })).json();
    renderPaperStatus(status);
    if (status.exists) {
      const [alloc, trades] = await Promise.all([
        fetch("/paper/allocations?limit=390", { cache: "no-store" }).then((r) => r.json()),
        fetch("/paper/trades?limit=15", { cache: "no-store" }).then((r) => r.json())]);
      renderPaperAllocations(alloc);
      renderPaperTrades(trades);
    }
  } catch (err) {
    document.getElementById("paper-running").textContent = "refresh failed: " + err.message;
  }
  setTimeout(refreshPaper, 2000);
}

refreshPaper();
