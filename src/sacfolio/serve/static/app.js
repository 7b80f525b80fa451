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
