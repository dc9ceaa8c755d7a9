// Sluice dashboard: hash routes (#/, #/q/NAME, #/q/NAME/job/ID) over the JSON API.
// Live figures come by server-sent events; the server polls Redis, pages never do.
import { clock, drawChart, makeChart } from "./charts.js";

const WINDOW_S = 600;  // the charts show the last ten minutes
const app = { config: null, source: null, view: null };

// --- helpers -------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

const enc = encodeURIComponent;
const qpath = (name) => `/api/queues/${enc(name)}`;

function num(v) { return v === null || v === undefined ? "–" : Number(v).toLocaleString(); }
function rate(v) { return v === null || v === undefined ? "–" : `${v < 10 ? v.toFixed(2) : v.toFixed(1)}/s`; }
function secs(v) {
  if (v === null || v === undefined) return "–";
  if (v < 1) return `${Math.round(v * 1000)} ms`;
  if (v < 120) return `${v.toFixed(1)} s`;
  if (v < 7200) return `${(v / 60).toFixed(1)} min`;
  return `${(v / 3600).toFixed(1)} h`;
}
function when(t) { return t ? `${new Date(t * 1000).toLocaleString()}` : "–"; }

function showAlert(message, good = false) {
  const box = document.getElementById("alert");
  box.textContent = message;
  box.className = good ? "alert good" : "alert";
  box.hidden = !message;
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = body.error ? body.error.message : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return body;
}

function token() { return sessionStorage.getItem("sluice-token") || ""; }

async function act(path, done) {
  const headers = { "Content-Type": "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  try {
    const body = await api(path, { method: "POST", headers, body: "{}" });
    showAlert(done(body), true);
    if (app.view && app.view.refresh) app.view.refresh();
  } catch (err) {
    showAlert(`Action failed: ${err.message}`);
  }
}

function live(path, handlers) {
  if (app.source) app.source.close();
  const source = new EventSource(path);
  const status = document.getElementById("live");
  source.onopen = () => { status.textContent = "live"; status.className = "live on"; };
  source.onerror = () => { status.textContent = "reconnecting"; status.className = "live off"; };
  for (const [event, fn] of Object.entries(handlers)) {
    source.addEventListener(event, (e) => fn(JSON.parse(e.data)));
  }
  app.source = source;
}

function crumbs(...items) {
  const list = document.getElementById("crumbs");
  list.replaceChildren(...items.map(([label, href]) =>
    h("li", {}, href ? h("a", { href }, label) : h("span", { "aria-current": "page" }, label))));
}

function badge(condition) {
  return h("span", { class: `badge ${condition.level}` }, condition.text);
}

function replicas(sample) {
  if (!sample) return "–";
  return `${sample.workers} / ${sample.desired === null ? "–" : sample.desired}`;
}

// --- overview ------------------------------------------------------------------

const COLUMNS = [
  ["Backlog", (q) => num(q.sample && q.sample.backlog)],
  ["In flight", (q) => num(q.sample && q.sample.in_flight)],
  ["Delayed", (q) => num(q.sample && q.sample.delayed)],
  ["Dead", (q) => num(q.sample && q.sample.dead)],
  ["Arrivals", (q) => rate(q.sample && q.sample.arrival_rate)],
  ["Completions", (q) => rate(q.sample && q.sample.completion_rate)],
  ["Oldest wait", (q) => secs(q.sample && q.sample.oldest_wait_s)],
  ["Replicas", (q) => replicas(q.sample)],
];

function overview() {
  crumbs(["Queues"]);
  const rows = new Map();
  const tbody = h("tbody");
  const count = h("span", { class: "muted" });
  const table = h("table", { id: "queues" },
    h("caption", {}, "Every queue, updated each second. Replicas: workers up / the autoscaler's target."),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Queue"), h("th", { scope: "col" }, "Condition"),
      COLUMNS.map(([name]) => h("th", { scope: "col", class: "num" }, name)),
      h("th", { scope: "col" }, "Last decision"))),
    tbody);
  const empty = h("p", { class: "muted", hidden: true }, "No queues in this Redis yet.");
  main(h("h1", {}, "Queues ", count), empty, table);

  function row(q) {
    const cells = COLUMNS.map(() => h("td", { class: "num" }));
    const cond = h("td"), decision = h("td");
    const tr = h("tr", { "data-queue": q.name },
      h("th", { scope: "row" }, h("a", { href: `#/q/${enc(q.name)}` }, q.name)), cond, cells, decision);
    return { tr, cells, cond, decision, shown: [] };
  }

  // Only what changed touches the DOM: a poll of 500 queues changes a few cells, not 6,000.
  function set(r, i, node, text) {
    if (r.shown[i] !== text) { r.shown[i] = text; node.textContent = text; }
  }

  function update(data) {
    const queues = data.queues;
    count.textContent = `(${queues.length})`;
    empty.hidden = queues.length > 0;
    let added = false;
    for (const q of queues) {
      let r = rows.get(q.name);
      if (!r) { r = row(q); rows.set(q.name, r); added = true; }
      COLUMNS.forEach(([, fn], i) => set(r, i, r.cells[i], fn(q)));
      const condKey = `${q.condition.level}|${q.condition.text}`;
      if (r.shown.cond !== condKey) { r.shown.cond = condKey; r.cond.replaceChildren(badge(q.condition)); }
      set(r, "decision", r.decision, q.decision ? `${q.decision.term} → ${q.decision.target}` : "–");
      if (q.decision && r.decision.title !== q.decision.reason) r.decision.title = q.decision.reason;
    }
    if (added) tbody.replaceChildren(...queues.map((q) => rows.get(q.name).tr));
    document.body.dataset.rendered = String(queues.length);
    if (queues.length && !performance.getEntriesByName("sluice-overview-rendered").length) {
      // After the next paint: what the benchmark reads as "rendered".
      requestAnimationFrame(() => setTimeout(() => performance.mark("sluice-overview-rendered")));
    }
  }

  // The stream's first message is the whole overview; a fetch only if it is slow to come
  // (500 queues parsed and laid out twice would cost the first paint a second pass).
  let seen = false;
  live("/api/events", { overview: (data) => { seen = true; update(data); } });
  setTimeout(() => {
    if (!seen) api("/api/queues").then(update).catch((e) => showAlert(e.message));
  }, 1500);
  return {};
}

// --- one queue -----------------------------------------------------------------

const STATES = ["waiting", "delayed", "active", "dead", "completed", "cancelled"];
const PAGE = 25;

function chartSpecs() {
  return [
    ["Backlog and in flight", [
      ["backlog", "Backlog", "#1d4ed8"], ["in_flight", "In flight", "#b45309"]]],
    ["Arrival and completion rate (jobs/s)", [
      ["arrival_rate", "Arrivals", "#1d4ed8"], ["completion_rate", "Completions", "#15803d"]]],
    ["Wait p95 (s)", [["wait_p95_s", "Wait p95", "#7e22ce"]]],
    ["Replicas", [["workers", "Up", "#15803d"], ["desired", "Target", "#1f2937", "5 3"]]],
  ];
}

function notable(decisions) {
  // A tick decides every poll; the chart marks the ones that changed something.
  const out = [];
  let prev = null;
  for (const d of decisions) {
    if (d.scaled || !prev || d.term !== prev.term || d.target !== prev.target) out.push(d);
    prev = d;
  }
  return out;
}

function numbersText(numbers) {
  return Object.entries(numbers).map(([k, v]) => `${k}=${Number(v.toPrecision(4))}`).join(", ");
}

function queuePage(name) {
  crumbs(["Queues", "#/"], [name]);
  const state = { samples: [], decisions: [], summary: null, tab: "waiting", priority: "",
    offset: 0, cursor: 0, cursors: [], counters: "", loading: false, again: false };
  const title = h("span");
  const cond = h("span");
  const cards = h("div", { class: "cards", id: "cards" });
  const specs = chartSpecs();
  const charts = specs.map(([t, series]) =>
    makeChart(t, series.map(([, label, color, dash]) => ({ label, color, dash }))));
  const decisionsBody = h("tbody");
  const jobsArea = h("div", { id: "jobs" });
  const tabs = h("div", { class: "toolbar", role: "group", "aria-label": "Job state" },
    STATES.map((s) => h("button", { type: "button", "data-state": s, "aria-pressed": String(s === state.tab),
      onclick: () => { state.tab = s; state.offset = 0; state.cursor = 0; state.cursors = [];
        for (const b of tabs.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.state === s));
        priorities.hidden = s !== "waiting";
        loadJobs(); } }, s)));
  // Waiting jobs wait in four strict priority lists: one at a time, or all in serving order.
  const priorities = h("div", { class: "toolbar", role: "group", "aria-label": "Priority of waiting jobs" },
    h("span", { class: "muted" }, "Priority:"),
    ["", "critical", "high", "normal", "low"].map((p) => h("button", { type: "button", "data-priority": p,
      "aria-pressed": String(p === state.priority), onclick: () => {
        state.priority = p; state.offset = 0;
        for (const b of priorities.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.priority === p));
        loadJobs(); } }, p || "all")));
  main(
    h("h1", {}, title, cond),
    toolbar(name),
    cards,
    h("h2", {}, "Over time"),
    h("div", { class: "charts", id: "charts" }, charts),
    h("h2", {}, "Scaling decisions"),
    h("table", { id: "decisions" },
      h("caption", {}, "Decisions that changed the target or the deciding term, newest first."),
      h("thead", {}, h("tr", {}, ["Time", "Term", "Replicas", "Reason", "Numbers"].map((c) => h("th", { scope: "col" }, c)))),
      decisionsBody),
    h("h2", {}, "Jobs"), tabs, priorities, jobsArea);
  title.textContent = name;

  function drawCharts() {
    const now = Date.now() / 1000;
    const first = state.samples.length ? state.samples[0].at : now - 60;
    const t1 = now, t0 = Math.min(Math.max(first, now - WINDOW_S), now - 10);  // at least 10 s
    const marks = notable(state.decisions).map((d) => ({
      t: d.at, term: d.term, label: `${d.term} ${d.replicas}→${d.target}`,
      title: `${clock(d.at)} ${d.term}: ${d.replicas} → ${d.target} replicas. ${d.reason}` +
        (Object.keys(d.numbers).length ? ` (${numbersText(d.numbers)})` : ""),
    }));
    specs.forEach(([, series], i) => {
      drawChart(charts[i], { t0, t1, marks, series: series.map(([key, label, color, dash]) => ({
        label, color, dash, values: state.samples.map((s) => [s.at, s[key]]) })) });
    });
  }

  function drawDecisions() {
    const rows = notable(state.decisions).slice(-20).reverse().map((d) => h("tr", {},
      h("td", {}, clock(d.at)), h("td", {}, d.term), h("td", {}, `${d.replicas} → ${d.target}`),
      h("td", { class: "reason" }, d.reason), h("td", {}, numbersText(d.numbers))));
    decisionsBody.replaceChildren(...(rows.length ? rows :
      [h("tr", {}, h("td", { colspan: 5, class: "muted" },
        app.config.decisions ? "No decisions yet." : "No autoscaler feeds this dashboard."))]));
  }

  function drawCards(summary) {
    const s = summary.sample || {};
    cond.replaceChildren(badge(summary.condition),
      summary.paused ? h("span", { class: "badge info" }, "paused") : "");
    const items = [
      ["Backlog", num(s.backlog)], ["In flight", num(s.in_flight)], ["Delayed", num(s.delayed)],
      ["Dead", num(s.dead)], ["Arrivals", rate(s.arrival_rate)], ["Completions", rate(s.completion_rate)],
      ["Oldest wait", secs(s.oldest_wait_s)], ["Wait p95", secs(s.wait_p95_s)],
      ["Busy slots", s.slots === undefined ? "–" : `${s.busy} / ${s.slots}`],
      ["Replicas up / target", replicas(summary.sample)],
    ];
    cards.replaceChildren(...items.map(([label, value]) =>
      h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value))));
  }

  function onSummary(summary) {
    state.summary = summary;
    drawCards(summary);
    const s = summary.sample;
    if (s && (!state.samples.length || s.at > state.samples[state.samples.length - 1].at)) {
      state.samples.push(s);
      while (state.samples.length && state.samples[0].at < s.at - WINDOW_S * 1.5) state.samples.shift();
    }
    drawCharts();
    const counters = s ? [s.enqueued, s.completed, s.failed, s.cancelled, s.dead, s.in_flight, s.backlog].join() : "";
    if (counters !== state.counters) { state.counters = counters; loadJobs(); }
  }

  function onDecision(d) {
    if (state.decisions.length && d.seq <= state.decisions[state.decisions.length - 1].seq) return;
    state.decisions.push(d);
    if (state.decisions.length > 2000) state.decisions.shift();
    drawDecisions();
  }

  async function loadJobs() {
    if (state.loading) { state.again = true; return; }
    state.loading = true;
    try {
      const paging = ["completed", "cancelled"].includes(state.tab) ? `cursor=${state.cursor}` : `offset=${state.offset}`;
      const only = state.tab === "waiting" && state.priority ? `&priority=${state.priority}` : "";
      const page = await api(`${qpath(name)}/jobs?state=${state.tab}&limit=${PAGE}&${paging}${only}`);
      // Unchanged lists stay as they are: a row must not be replaced under the pointer.
      const key = JSON.stringify([page, app.config.allow_actions]);
      if (key !== state.shownJobs) {
        state.shownJobs = key;
        jobsArea.replaceChildren(jobTable(name, page), pager(page));
      }
    } catch (err) {
      state.shownJobs = "";
      jobsArea.replaceChildren(h("p", { class: "alert" }, err.message));
    } finally {
      state.loading = false;
      if (state.again) { state.again = false; loadJobs(); }
    }
  }

  function pager(page) {
    const scanned = page.total === null;
    const prev = h("button", { type: "button", disabled: scanned ? !state.cursors.length : page.offset === 0,
      onclick: () => { if (scanned) state.cursor = state.cursors.pop(); else state.offset = Math.max(0, state.offset - PAGE); loadJobs(); } }, "Previous");
    const more = scanned ? page.next_cursor !== null : page.offset + page.jobs.length < page.total;
    const next = h("button", { type: "button", disabled: !more,
      onclick: () => { if (scanned) { state.cursors.push(state.cursor); state.cursor = page.next_cursor; } else state.offset += PAGE; loadJobs(); } }, "Next");
    const label = scanned ? `${page.jobs.length} found (finished jobs are found by a scan)`
      : page.total ? `${page.offset + 1}–${page.offset + page.jobs.length} of ${num(page.total)}` : "none";
    return h("div", { class: "pager" }, prev, next, h("span", { class: "muted" }, label));
  }

  Promise.all([api(qpath(name)), api(`${qpath(name)}/history`)]).then(([detail, history]) => {
    state.samples = history.samples;
    for (const d of history.decisions) onDecision(d);
    drawDecisions();
    onSummary(detail.summary);
  }).catch((e) => showAlert(e.message));
  live(`${qpath(name)}/events`, { summary: onSummary, decision: (d) => { onDecision(d); drawCharts(); } });
  return { refresh: () => { state.counters = ""; loadJobs(); } };
}

function toolbar(name) {
  const c = app.config;
  if (!c.allow_actions) return h("p", { class: "muted" }, "Read-only: start the dashboard with --allow-actions to requeue, cancel or purge.");
  const bar = h("div", { class: "toolbar" });
  if (c.token_required) {
    const input = h("input", { type: "password", id: "token", autocomplete: "off", value: token(),
      onchange: (e) => sessionStorage.setItem("sluice-token", e.target.value) });
    bar.append(h("label", { for: "token" }, "Token "), input);
  }
  bar.append(
    h("button", { type: "button", id: "requeue-all", onclick: () => act(`${qpath(name)}/dead/requeue`, (b) => `${b.requeued} dead letters requeued`) }, "Requeue all dead"),
    h("button", { type: "button", class: "danger", id: "purge-dead", onclick: () => {
      if (confirm(`Delete every dead letter of ${name}?`)) act(`${qpath(name)}/dead/purge`, (b) => `${b.purged} dead letters deleted`);
    } }, "Purge dead letters"));
  if (c.scaling_control) {
    bar.append(
      h("button", { type: "button", id: "pause", onclick: () => act(`${qpath(name)}/scaling/pause`, () => "scaling paused") }, "Pause scaling"),
      h("button", { type: "button", id: "resume", onclick: () => act(`${qpath(name)}/scaling/resume`, () => "scaling resumed") }, "Resume scaling"));
  }
  return bar;
}

function jobActions(name, job) {
  if (!app.config.allow_actions) return [];
  const path = `${qpath(name)}/jobs/${enc(job.id)}`;
  const out = [];
  if (job.state === "dead") {
    out.push(h("button", { type: "button", class: "requeue", "data-job": job.id,
      onclick: () => act(`${path}/requeue`, () => `job ${job.id} requeued`) }, "Requeue"));
  }
  if (["waiting", "delayed", "active"].includes(job.state) && !job.cancel_requested) {
    out.push(h("button", { type: "button", class: "cancel", "data-job": job.id,
      onclick: () => act(`${path}/cancel`, () => `job ${job.id} cancelled`) }, "Cancel"));
  }
  return out;
}

function jobTable(name, page) {
  const extra = {
    waiting: ["Enqueued", (j) => when(j.enqueued_at)],
    delayed: ["Due", (j) => when(j.ready_at)],
    active: ["Progress", (j) => j.progress === null ? `started ${when(j.started_at)}` :
      h("span", {}, h("progress", { max: 100, value: j.progress }), ` ${j.progress}% ${j.progress_message || ""}`)],
    dead: ["Reason", (j) => j.dead_reason || "–"],
    completed: ["Finished", (j) => when(j.finished_at)],
    cancelled: ["Finished", (j) => when(j.finished_at)],
  }[page.state];
  if (!page.jobs.length) return h("p", { class: "muted", id: "no-jobs" }, `No ${page.state} jobs.`);
  return h("table", { class: "jobs", "data-state": page.state },
    h("thead", {}, h("tr", {}, ["Job", "Task", "Priority", "Attempts", extra[0], ""].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, page.jobs.map((j) => h("tr", { "data-job": j.id },
      h("td", {}, h("a", { href: `#/q/${enc(name)}/job/${enc(j.id)}` }, h("code", {}, j.id))),
      h("td", {}, j.task), h("td", {}, j.priority), h("td", { class: "num" }, j.attempts),
      h("td", {}, extra[1](j)), h("td", {}, jobActions(name, j))))));
}

// --- one job -------------------------------------------------------------------

function jobPage(name, id) {
  crumbs(["Queues", "#/"], [name, `#/q/${enc(name)}`], [id]);
  const body = h("div", { id: "job" });
  main(h("h1", {}, "Job ", h("code", {}, id)), body);
  let last = "";
  async function load() {
    try {
      const j = await api(`${qpath(name)}/jobs/${enc(id)}`);
      const key = JSON.stringify(j);
      if (key === last) return;
      last = key;
      const fields = [
        ["State", h("span", { id: "job-state" }, j.state)], ["Task", j.task], ["Priority", j.priority],
        ["Attempts", `${j.attempts}${j.max_attempts ? ` of ${j.max_attempts}` : ""}`],
        ["Enqueued", when(j.enqueued_at)], ["Ready since / due", when(j.ready_at)],
        ["Started", when(j.started_at)], ["Finished", when(j.finished_at)], ["Worker", j.worker || "–"],
        ["Progress", j.progress === null ? "–" : `${j.progress}% ${j.progress_message || ""}`],
        ["Dead-letter reason", j.dead_reason || "–"],
      ];
      body.replaceChildren(
        h("dl", { class: "fields" }, fields.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
        h("div", { class: "toolbar" }, jobActions(name, j)),
        j.error ? [h("h2", {}, "Last error"), h("pre", { id: "job-error" }, j.error)] : [],
        j.payloads_shown ? [h("h2", {}, "Payload"), h("pre", {}, JSON.stringify(j.payload, null, 2)),
          h("h2", {}, "Result"), h("pre", {}, JSON.stringify(j.result, null, 2))]
          : h("p", { class: "muted" }, "Payloads and results are hidden (start with --show-payloads to show them)."));
    } catch (err) {
      body.replaceChildren(h("p", { class: "alert" }, err.message));
    }
  }
  load();
  live(`${qpath(name)}/events`, { summary: load });
  return { refresh: load };
}

// --- routing -------------------------------------------------------------------

function main(...children) {
  document.getElementById("main").replaceChildren(...children);
}

function route(event) {
  const hash = location.hash || "#/";
  if (!hash.startsWith("#/")) return;  // in-page anchors (the skip link)
  showAlert("");
  if (app.source) { app.source.close(); app.source = null; }
  const parts = hash.slice(2).split("/").map(decodeURIComponent);
  if (parts[0] === "q" && parts[1] && parts[2] === "job" && parts[3]) app.view = jobPage(parts[1], parts[3]);
  else if (parts[0] === "q" && parts[1]) app.view = queuePage(parts[1]);
  else app.view = overview();
  // After a navigation, keyboard focus starts at the new content (not on the first load).
  if (event) document.getElementById("main").focus({ preventScroll: true });
}

async function start() {
  app.config = await api("/api/config");
  const c = app.config;
  document.getElementById("mode").textContent =
    `${c.redis} · ${c.allow_actions ? "actions allowed" : "read-only"}`;
  document.getElementById("skip").addEventListener("click", (e) => {
    e.preventDefault();
    document.getElementById("main").focus();
  });
  window.addEventListener("hashchange", route);
  route(null);
}

start().catch((err) => showAlert(`Cannot load the dashboard: ${err.message}`));
