// The Sluice console: polls /api/overview every 2 s, derives rates from the counters' differences,
// and draws them on two canvases. Read-only: it only ever sends GET requests.
"use strict";

const POLL_MS = 2000;
const POINTS = 60;
const history = { t: [], pub: [], del: [], commitMs: [] };
let previous = null;
let peekTopic = null;

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function ago(ms, now) {
  if (!ms) return "–";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

function rate(now, before, key, seconds) {
  if (!before || seconds <= 0) return null;
  const d = now - (before[key] ?? 0);
  return d < 0 ? 0 : d / seconds;   // a counter that went back was reset (topic recreated)
}

function fmtRate(r) {
  return r === null ? "…" : r < 10 ? r.toFixed(1) : Math.round(r).toLocaleString("en");
}

function counters(o) {
  const c = { published: o.published, delivered: o.delivered, topics: {}, groups: {} };
  for (const t of o.topics) {
    c.topics[t.name] = t.published;
    for (const g of t.groups) c.groups[t.name + "\u0000" + g.name] = g.delivered;
  }
  return c;
}

function render(o) {
  $("version").textContent = "version " + o.version + " · up " + ago(o.started_at, o.now).replace(" ago", "");
  const status = $("status");
  status.textContent = "live";
  status.className = "status";

  const seconds = previous ? (o.now - previous.now) / 1000 : 0;
  const c = counters(o);
  const before = previous ? previous.counters : null;

  const cards = $("broker");
  cards.replaceChildren();
  const card = (label, value) => {
    const d = el("div", null, "card");
    d.append(el("b", value), el("span", label));
    cards.append(d);
  };
  card("topics", o.topics_total);
  card("consumer groups", o.topics.reduce((n, t) => n + t.groups_total, 0)
    + (o.topics_total > o.topics.length ? "+" : ""));
  card("open streams", o.broker.streams);
  card("database", bytes(o.broker.database_bytes));
  card("write-ahead log", bytes(o.broker.wal_bytes));
  card("writer queue", o.broker.writer_queue);

  const topics = $("topics").tBodies[0];
  topics.replaceChildren();
  for (const t of o.topics) {
    const tr = el("tr");
    tr.dataset.topic = t.name;
    const r = before ? rate(t.published, { p: before.topics[t.name] ?? t.published }, "p", seconds) : null;
    tr.append(el("td", t.name), el("td", t.messages.toLocaleString("en"), "num"),
      el("td", t.messages ? t.first_sequence + "–" + t.last_sequence : "empty"), el("td", bytes(t.bytes), "num"),
      el("td", fmtRate(r), "num"), el("td", ago(t.last_timestamp, o.now)),
      el("td", t.retention + (t.discarded ? " (" + t.discarded.toLocaleString("en") + " removed)" : ""),
        "retention"));
    const td = el("td");
    const b = el("button", "peek");
    b.addEventListener("click", () => { peekTopic = t.name; peek(); });
    td.append(b);
    tr.append(td);
    topics.append(tr);
  }
  $("no-topics").hidden = o.topics.length > 0;

  const groups = $("groups").tBodies[0];
  groups.replaceChildren();
  let groupCount = 0;
  for (const t of o.topics) {
    for (const g of t.groups) {
      groupCount++;
      const key = t.name + "\u0000" + g.name;
      const r = before ? rate(g.delivered, { d: before.groups[key] ?? g.delivered }, "d", seconds) : null;
      const tr = el("tr");
      tr.dataset.topic = t.name;
      tr.dataset.group = g.name;
      tr.append(el("td", t.name), el("td", g.name), el("td", g.mode, "mode"), el("td", g.cursor, "num"),
        el("td", g.lag, "num"), el("td", g.pending, "num"), el("td", g.live ? "open" : "none"),
        el("td", fmtRate(r), "num"), el("td", g.acked, "num"), el("td", g.in_flight, "num in-flight"),
        el("td", g.in_flight ? ago(g.oldest_unacked_at, o.now).replace(" ago", "") : "–", "oldest"),
        el("td", g.redelivered, "num redelivered"), el("td", g.dead_lettered, "num dead-lettered"));
      groups.append(tr);
    }
  }
  $("no-groups").hidden = groupCount > 0;

  const absent = $("absent");
  absent.replaceChildren(...o.absent.map((a) => el("li", a)));

  if (previous && seconds > 0) {
    const commits = o.commits - previous.commits;
    push(o.now, rate(c.published, before, "published", seconds), rate(c.delivered, before, "delivered", seconds),
      commits > 0 ? (o.commit_nanos - previous.commit_nanos) / commits / 1e6 : null);
  }
  previous = { now: o.now, counters: c, commits: o.commits, commit_nanos: o.commit_nanos };
}

function push(t, pub, del, commitMs) {
  history.t.push(t);
  history.pub.push(pub);
  history.del.push(del);
  history.commitMs.push(commitMs);
  for (const k of Object.keys(history)) if (history[k].length > POINTS) history[k].shift();
  draw($("rates"), [{ values: history.pub, color: "--pub" }, { values: history.del, color: "--del" }], "/s");
  draw($("commits"), [{ values: history.commitMs, color: "--lat" }], " ms");
}

function draw(canvas, series, unit) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, left = 56, bottom = 18, top = 8;
  ctx.clearRect(0, 0, w, h);
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  max = max <= 0 ? 1 : max * 1.15;
  const style = getComputedStyle(document.documentElement);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#66707a";
  ctx.strokeStyle = "#dde2e7";
  for (let i = 0; i <= 4; i++) {
    const y = top + (h - top - bottom) * (1 - i / 4);
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w, y); ctx.stroke();
    const v = max * i / 4;
    ctx.fillText((v < 10 ? v.toFixed(2) : Math.round(v).toLocaleString("en")) + unit, 2, y + 4);
  }
  ctx.fillText("−2 min", left, h - 4);
  ctx.fillText("now", w - 24, h - 4);
  for (const s of series) {
    ctx.strokeStyle = style.getPropertyValue(s.color).trim() || "#000";
    ctx.lineWidth = 2;
    ctx.beginPath();
    let started = false;
    s.values.forEach((v, i) => {
      if (v === null) { started = false; return; }
      const x = left + (w - left) * (i + POINTS - s.values.length) / (POINTS - 1);
      const y = top + (h - top - bottom) * (1 - v / max);
      if (started) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      started = true;
    });
    ctx.stroke();
  }
  canvas.dataset.samples = String(series[0].values.length);
  canvas.dataset.last = JSON.stringify(series.map((s) => s.values[s.values.length - 1]));
}

async function peek() {
  if (!peekTopic) return;
  const section = $("peek");
  const body = section.querySelector("tbody");
  $("peek-topic").textContent = peekTopic;
  section.hidden = false;
  try {
    const r = await fetch("api/peek?count=10&topic=" + encodeURIComponent(peekTopic), { cache: "no-store" });
    const p = await r.json();
    body.replaceChildren();
    if (!r.ok) { body.append(rowOf([p.error || r.statusText], 5)); return; }
    if (p.messages.length === 0) { body.append(rowOf(["no messages"], 5)); return; }
    for (const m of p.messages) {
      const shown = Object.entries(m.attributes);
      const attrs = shown.map(([k, v]) => k + "=" + v).join(" ")
        + (m.attributes_total > shown.length ? " (" + (m.attributes_total - shown.length) + " more)" : "");
      const tr = el("tr");
      tr.append(el("td", m.sequence, "num"), el("td", new Date(m.timestamp).toISOString()), el("td", m.id),
        el("td", attrs), el("td", (m.text ? m.payload : "hex " + m.payload) +
          (m.payload_bytes > 256 ? " … (" + m.payload_bytes + " bytes)" : ""), "payload"));
      body.append(tr);
    }
  } catch (e) {
    body.replaceChildren(rowOf(["cannot read: " + e], 5));
  }
}

function rowOf(cells, span) {
  const tr = el("tr");
  const td = el("td", cells[0]);
  td.colSpan = span;
  tr.append(td);
  return tr;
}

async function poll() {
  try {
    const r = await fetch("api/overview", { cache: "no-store" });
    if (!r.ok) throw new Error(r.status + " " + r.statusText);
    render(await r.json());
  } catch (e) {
    const status = $("status");
    status.textContent = "broker unreachable: " + e.message;
    status.className = "status down";
  }
  setTimeout(poll, POLL_MS);
}

poll();
