// Tern dashboard: polls GET /v1/apis every 2 s with the control-plane token and plots, per API,
// request rate, p50/p99 latency, in-flight, replicas and the prediction distribution.
// No libraries, no CDN: the page and this script are served from inside the tern binary.
"use strict";

const POLL_MS = 2000;
const HISTORY = 300; // points kept per series (10 minutes at one per 2 s)
const seen = new Map(); // api name -> {time: [], series: {name: []}}
let token = null;

function readToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    sessionStorage.setItem("tern-token", fragment.get("token"));
    window.history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem("tern-token");
}

function el(tag, attributes = {}, children = []) {
  const node = document.createElementNS(
    ["svg", "path", "line", "text", "rect", "g", "polyline"].includes(tag) ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml",
    tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.appendChild(child);
  return node;
}

function showLogin(message) {
  const main = document.getElementById("main");
  main.replaceChildren();
  const form = el("form", {id: "login"}, [
    el("p", {text: message || "Paste the control-plane token (tern serve writes it to TERN_HOME/token; `cat ~/.tern/token`)."}),
    el("input", {id: "token", type: "password", autocomplete: "off", placeholder: "token", size: "60"}),
    el("button", {type: "submit", text: "Sign in"}),
  ]);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("tern-token", document.getElementById("token").value.trim());
    start();
  });
  main.appendChild(form);
}

function record(api, now) {
  let entry = seen.get(api.name);
  if (!entry) {
    entry = {time: [], series: {}};
    seen.set(api.name, entry);
  }
  const traffic = api.traffic || {};
  const values = {
    "requests/s": traffic.request_rate ?? 0,
    "p50 ms": traffic.latency_p50_ms ?? null,
    "p99 ms": traffic.latency_p99_ms ?? null,
    "in-flight": api.in_flight ?? 0,
    "ready": api.ready_replicas ?? 0,
    "requested": api.requested_replicas ?? 0,
  };
  const predictions = api.predictions;
  if (predictions && predictions.model_type === "regression" && predictions.mean !== undefined) {
    values["mean"] = predictions.mean;
    values["p50"] = predictions.p50 ?? null;
    values["p99"] = predictions.p99 ?? null;
  }
  entry.time.push(now);
  for (const [name, value] of Object.entries(values)) {
    if (!entry.series[name]) entry.series[name] = new Array(entry.time.length - 1).fill(null);
    entry.series[name].push(value);
  }
  for (const name of Object.keys(entry.series)) {
    if (!(name in values)) entry.series[name].push(null);
  }
  if (entry.time.length > HISTORY) {
    entry.time.shift();
    for (const name of Object.keys(entry.series)) entry.series[name].shift();
  }
  return entry;
}

const COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c"];

// A line plot of `names` (series of `entry`) over time; data-points counts the non-null points.
function linePlot(title, entry, names) {
  const width = 360, height = 150, left = 44, right = 8, top = 22, bottom = 20;
  const values = names.flatMap((name) => (entry.series[name] || []).filter((v) => v !== null));
  const maximum = Math.max(1e-9, ...values) * 1.1;
  const t0 = entry.time[0], t1 = entry.time[entry.time.length - 1];
  const x = (t) => left + (t1 === t0 ? 0 : ((t - t0) / (t1 - t0)) * (width - left - right));
  const y = (v) => top + (1 - v / maximum) * (height - top - bottom);
  const svg = el("svg", {viewBox: `0 0 ${width} ${height}`, class: "plot", "data-title": title, "data-points": String(values.length)});
  svg.appendChild(el("text", {x: "4", y: "14", class: "title", text: title}));
  svg.appendChild(el("line", {x1: left, y1: y(0), x2: width - right, y2: y(0), class: "axis"}));
  svg.appendChild(el("text", {x: "4", y: String(top + 8), class: "tick", text: formatNumber(maximum)}));
  svg.appendChild(el("text", {x: "4", y: String(y(0)), class: "tick", text: "0"}));
  svg.appendChild(el("text", {x: String(width - right - 60), y: String(height - 4), class: "tick",
    text: entry.time.length ? `${Math.round((t1 - t0) / 1000)} s shown` : ""}));
  names.forEach((name, index) => {
    const points = [];
    (entry.series[name] || []).forEach((value, i) => {
      if (value !== null) points.push(`${x(entry.time[i]).toFixed(1)},${y(value).toFixed(1)}`);
    });
    const colour = COLOURS[index % COLOURS.length];
    svg.appendChild(el("polyline", {points: points.join(" "), fill: "none", stroke: colour, "stroke-width": "1.5", "data-series": name, "data-points": String(points.length)}));
    svg.appendChild(el("text", {x: String(left + 6 + index * 90), y: String(top + 2), class: "legend", fill: colour, text: name}));
  });
  return svg;
}

// Bars of a classification API's class counts over the server's window.
function classPlot(predictions) {
  const width = 360, height = 150, top = 22, bottom = 20, left = 8;
  const classes = Object.entries(predictions.classes || {}).sort((a, b) => b[1] - a[1]).slice(0, 12);
  const maximum = Math.max(1, ...classes.map(([, count]) => count));
  const svg = el("svg", {viewBox: `0 0 ${width} ${height}`, class: "plot", "data-title": "predictions", "data-points": String(classes.length)});
  svg.appendChild(el("text", {x: "4", y: "14", class: "title", text: `predictions (last ${predictions.window_seconds} s)`}));
  const band = (width - left * 2) / Math.max(1, classes.length);
  classes.forEach(([label, count], i) => {
    const h = (count / maximum) * (height - top - bottom - 12);
    svg.appendChild(el("rect", {x: String(left + i * band + 2), y: String(height - bottom - h), width: String(Math.max(1, band - 4)), height: String(h), fill: COLOURS[i % COLOURS.length], "data-series": label, "data-points": "1"}));
    svg.appendChild(el("text", {x: String(left + i * band + 2), y: String(height - bottom - h - 2), class: "tick", text: String(count)}));
    svg.appendChild(el("text", {x: String(left + i * band + 2), y: String(height - 6), class: "tick", text: label.slice(0, 10)}));
  });
  return svg;
}

function formatNumber(value) {
  if (value === null || value === undefined) return "-";
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function render(apis, now) {
  const main = document.getElementById("main");
  const table = el("table", {id: "apis"}, [el("tr", {}, ["API", "kind", "status", "ready/requested", "requests/s", "p50 ms", "p99 ms", "2xx", "4xx", "5xx"].map((h) => el("th", {text: h})))]);
  const cards = [];
  for (const api of apis) {
    const entry = record(api, now);
    const responses = (api.traffic && api.traffic.responses) || {};
    table.appendChild(el("tr", {"data-api": api.name}, [
      api.name, api.kind, api.status, `${api.ready_replicas}/${api.requested_replicas}`,
      formatNumber(api.traffic ? api.traffic.request_rate : null),
      formatNumber(api.traffic ? api.traffic.latency_p50_ms : null),
      formatNumber(api.traffic ? api.traffic.latency_p99_ms : null),
      String(responses["2xx"] ?? 0), String(responses["4xx"] ?? 0), String(responses["5xx"] ?? 0),
    ].map((cell, index) => el("td", {text: cell, class: index === 2 ? `status ${api.status.replace(/ /g, "-")}` : ""}))));
    const plots = [
      linePlot("request rate (requests/s)", entry, ["requests/s"]),
      linePlot("latency (ms)", entry, ["p50 ms", "p99 ms"]),
      linePlot("in-flight", entry, ["in-flight"]),
      linePlot("replicas", entry, ["ready", "requested"]),
    ];
    if (api.predictions && api.predictions.model_type === "classification") plots.push(classPlot(api.predictions));
    if (api.predictions && api.predictions.model_type === "regression") plots.push(linePlot("predictions", entry, ["mean", "p50", "p99"]));
    cards.push(el("section", {class: "api", "data-api": api.name}, [el("h2", {text: `${api.name} — ${api.status}`}), el("div", {class: "plots"}, plots)]));
  }
  for (const name of [...seen.keys()]) {
    if (!apis.some((api) => api.name === name)) seen.delete(name);
  }
  const updated = el("p", {id: "updated", text: `${apis.length} API(s), updated ${new Date(now).toLocaleTimeString()}`});
  main.replaceChildren(updated, table, ...cards);
}

async function poll() {
  let response;
  try {
    response = await fetch("/v1/apis", {headers: {Authorization: `Bearer ${token}`}});
  } catch (error) {
    document.getElementById("updated")?.replaceChildren(document.createTextNode(`cannot reach the server (${error}); retrying`));
    return setTimeout(poll, POLL_MS);
  }
  if (response.status === 401) {
    sessionStorage.removeItem("tern-token");
    return showLogin("That token was refused (401). Paste the current one (`tern token rotate` replaces it).");
  }
  if (response.ok) render(await response.json(), Date.now());
  setTimeout(poll, POLL_MS);
}

function start() {
  token = readToken();
  if (!token) return showLogin();
  poll();
}

window.addEventListener("DOMContentLoaded", start);
