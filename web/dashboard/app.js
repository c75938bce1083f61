// The conclave dashboard's page: reads the JSON API (/api/…) and the live
// stream (/api/stream) with the token from its own address. No build step,
// no dependencies: the server inlines this file into the page.

const token = new URLSearchParams(location.search).get("token") || "";
const auth = { headers: { authorization: `Bearer ${token}` } };
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : "");
const COLORS = ["#4fb3ff", "#3ecf8e", "#f5b942", "#c58bff", "#ff6b6b", "#5ee0d6"];
let tab = "agents";
const history = [];

async function api(path, init) {
  const response = await fetch(path, { ...auth, ...init });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function table(el, headers, rows) {
  el.innerHTML =
    rows.length === 0
      ? `<tr><td class="empty">nothing yet</td></tr>`
      : `<thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.map((r) => `<tr>${r.join("")}</tr>`).join("")}</tbody>`;
}
const td = (v, cls = "") => `<td class="${cls}">${v}</td>`;

function renderOverview(o) {
  $("swarm").textContent = o.swarm;
  $("transport").textContent = o.transport;
  $("agents-alive").textContent = o.agents.alive;
  $("agents-declared").textContent = `${o.agents.declared} declared`;
  $("tasks-completed").textContent = o.tasks.completed.toLocaleString();
  $("dead-letters").textContent = o.tasks.deadLettered;
  $("decisions").textContent = o.decisions;
  $("auctions").textContent = o.auctions.held;
  $("auctions-sub").textContent = `${o.auctions.awarded} awarded`;
  $("llm-calls").textContent = o.llm.calls;
  $("llm-credits").textContent = `${o.llm.credits.toLocaleString()} credits`;
  history.push({ at: o.at, n: o.tasks.completed });
  if (history.length > 120) history.shift();
  const first = history[0];
  const last = history[history.length - 1];
  const secs = (last.at - first.at) / 1000;
  $("tasks-rate").textContent =
    secs >= 2 ? `${((last.n - first.n) / secs).toFixed(1)} tasks/s over ${Math.round(secs)} s` : "";
  const max = Math.max(1, ...history.map((h) => h.n)) - first.n || 1;
  const points = history
    .map(
      (h, i) =>
        `${(i / Math.max(1, history.length - 1)) * 200},${40 - ((h.n - first.n) / max) * 36 - 2}`,
    )
    .join(" ");
  $("tasks-spark").innerHTML = `<polyline points="${points}"/>`;
}

/** Where an agent stands: "research < lead-1" (member, under its lead), "leads research", or both. */
function teamOf(a) {
  const parts = [];
  if (a.team) parts.push(`${a.team} < ${a.lead ?? "?"}`);
  if (a.leads?.length) parts.push(`leads ${a.leads.join(", ")}`);
  return parts.join("; ") || "–";
}

const views = {
  async agents() {
    const rows = await api("/api/agents");
    table(
      $("agents-table"),
      [
        "agent",
        "role",
        "node",
        "liveness",
        "status",
        "balance",
        "reputation",
        "weight",
        "team",
        "last heard",
        "",
      ],
      rows.map((a) => [
        td(esc(a.id), "mono"),
        td(esc(a.role)),
        td(esc(a.node ?? ""), "mono"),
        td(esc(a.liveness), `state-${esc(a.liveness)}`),
        td(esc(a.status), `state-${esc(a.status)}`),
        td(a.balance ?? "–"),
        td(a.reputation === undefined ? "–" : a.reputation.toFixed(2)),
        td(a.weight),
        td(esc(teamOf(a)), "mono"),
        td(time(a.lastSeen)),
        td(`<button type="button" class="action fund" data-id="${esc(a.id)}">Fund</button>`),
      ]),
    );
  },
  async graph() {
    const g = await api("/api/graph");
    $("graph-note").textContent =
      `who sent tasks to whom, over the latest ${g.scanned} completed tasks; thicker: more tasks`;
    const n = g.nodes.length;
    const at = new Map(
      g.nodes.map((node, i) => {
        const angle = (2 * Math.PI * i) / Math.max(1, n) - Math.PI / 2;
        return [
          node.id,
          { x: 400 + 210 * Math.cos(angle), y: 260 + 210 * Math.sin(angle), role: node.role },
        ];
      }),
    );
    const max = Math.max(1, ...g.edges.map((e) => e.tasks));
    const edges = g.edges
      .map((e) => {
        const a = at.get(e.from);
        const b = at.get(e.to);
        if (!a || !b) return "";
        const width = 1 + (5 * e.tasks) / max;
        return `<line x1="${a.x}" y1="${a.y}" x2="${b.x}" y2="${b.y}" stroke-width="${width}" marker-end="url(#arrow)"><title>${esc(e.from)} → ${esc(e.to)}: ${e.tasks} tasks</title></line>`;
      })
      .join("");
    const nodes = [...at.entries()]
      .map(
        ([id, p]) =>
          `<g class="graph-node" data-id="${esc(id)}"><circle cx="${p.x}" cy="${p.y}" r="18"></circle><text x="${p.x}" y="${p.y + 34}" text-anchor="middle">${esc(id)}</text><text class="role" x="${p.x}" y="${p.y + 47}" text-anchor="middle">${esc(p.role)}</text></g>`,
      )
      .join("");
    $("graph").innerHTML =
      `<defs><marker id="arrow" viewBox="0 0 10 10" refX="28" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#4fb3ff"></path></marker></defs>${edges}${nodes}`;
  },
  async queues() {
    const rows = await api("/api/queues");
    table(
      $("queues-table"),
      ["queue", "role", "depth", "in flight", "consumers", "dead letters"],
      rows.map((q) => [
        td(esc(q.name), "mono"),
        td(esc(q.role ?? "")),
        td(esc(q.pending)),
        td(q.inFlight),
        td(q.consumers),
        td(q.deadLetters ?? "", q.deadLetters ? "state-dead_lettered" : ""),
      ]),
    );
  },
  async tasks() {
    const rows = await api("/api/tasks");
    table(
      $("tasks-table"),
      ["task", "agent", "completed", "root"],
      rows.map((t) => [
        td(`<a class="task-link mono" data-id="${esc(t.taskId)}">${esc(t.taskId)}</a>`),
        td(esc(t.agent)),
        td(time(t.at)),
        td(esc(t.corr ?? ""), "mono"),
      ]),
    );
  },
  async "dead-letters"() {
    const rows = await api("/api/dead-letters");
    table(
      $("dead-letters-table"),
      ["id", "type", "reason", "deliveries", "when", ""],
      rows.map((d) => [
        td(`<a class="task-link mono" data-id="${esc(d.id)}">${esc(d.id)}</a>`),
        td(esc(d.type ?? ""), "mono"),
        td(esc(d.reason), "state-dead_lettered"),
        td(esc(d.deliveries)),
        td(time(d.at)),
        td(
          `<button type="button" class="action redrive" data-id="${esc(d.id)}">Redrive</button> <span class="redrive-result" id="redrive-${esc(d.id)}"></span>`,
        ),
      ]),
    );
  },
  async decisions() {
    await views.approvals();
    const rows = await api("/api/decisions");
    $("decisions-list").innerHTML =
      rows.length === 0
        ? `<div class="empty">no decisions yet</div>`
        : rows
            .map((d) => {
              const t = d.tally;
              const pct = (w) => `${t.total ? (w / t.total) * 100 : 0}%`;
              return `<div class="decision" data-seq="${esc(d.seq)}">
        <h4><span class="mono">#${esc(d.seq)}</span> ${esc(d.action)} <span class="state-${esc(d.outcome)}">${esc(d.outcome)}</span> <span class="sub">${esc(d.protocol)} · proposed by ${esc(d.proposer)} · ${time(d.decidedAt)}</span>
        <span class="verdict" id="verdict-${esc(d.seq)}"></span><button class="action verify" data-seq="${esc(d.seq)}">Verify</button></h4>
        <div class="bar"><div class="approve" style="width:${pct(t.approve)}"></div><div class="reject" style="width:${pct(t.reject)}"></div><div class="abstain" style="width:${pct(t.abstain)}"></div></div>
        <div class="sub">approve ${esc(t.approve)} · reject ${esc(t.reject)} · abstain ${esc(t.abstain)} · threshold ${esc(t.threshold)} of ${esc(t.total)}${d.evidence ? ` · ${esc(d.evidence)} pieces of evidence` : ""}</div>
        <table>${d.votes.map((v) => `<tr><td class="mono">${esc(v.from)}</td><td class="state-${esc(v.choice)}">${esc(v.choice)}</td><td>weight ${esc(v.weight)}</td></tr>`).join("")}</table>
        <div class="sub mono">seal ${esc(d.seal)}</div></div>`;
            })
            .join("");
  },
  async approvals() {
    const rows = await api("/api/approvals");
    const box = $("approvals");
    // Keep the forms while a person fills one in (any card, not only the first).
    if ([...box.querySelectorAll("input[type=file]")].some((input) => input.files?.length)) return;
    box.innerHTML = rows
      .map(
        (a) => `<div class="decision waiting" data-proposal="${esc(a.proposal)}">
      <h4><span class="mono">${esc(a.proposal)}</span> ${esc(a.action)} <span class="state-suspect">waiting for ${a.humans.map((h) => esc(h.id)).join(", ")}</span>
      <span class="sub">proposed by ${esc(a.proposer)} · closes ${time(a.deadline)}</span></h4>
      <div class="mono">${esc(JSON.stringify(a.data))}</div>
      <div class="sub">people: ${a.humans.map((h) => `${esc(h.id)} (weight ${h.weight})`).join(", ")} · agents: ${a.agents.map(esc).join(", ") || "none"}</div>
      <form class="vote-form"><label class="sub">your key file <input type="file" class="key-file" accept=".key,application/json"></label>
      <input class="reason" placeholder="reason (optional)">
      <button type="button" class="action vote" data-choice="approve">Approve</button>
      <button type="button" class="action vote reject" data-choice="reject">Reject</button>
      <span class="vote-result"></span></form></div>`,
      )
      .join("");
  },
  async auctions() {
    const rows = await api("/api/auctions");
    table(
      $("auctions-table"),
      ["auction", "task", "rule", "status", "winner", "price", "bids", "refused", "when"],
      rows.map((a) => [
        td(esc(a.id), "mono"),
        td(esc(a.task)),
        td(esc(a.rule)),
        td(esc(a.status), `state-${esc(a.status)}`),
        td(esc(a.winner ?? "–")),
        td(esc(a.price ?? "–")),
        td(a.bids),
        td(a.rejectedBids),
        td(time(a.at)),
      ]),
    );
  },
  async ledger() {
    const l = await api("/api/ledger");
    $("escrow").textContent = `· ${l.escrow} in escrow`;
    table(
      $("balances-table"),
      ["account", "balance"],
      l.balances.map((b) => [td(esc(b.account), "mono"), td(b.balance)]),
    );
    const models = Object.keys(l.models);
    table(
      $("models-table"),
      ["model", "calls", "tokens", "credits"],
      models.map((m) => [
        td(esc(m)),
        td(l.models[m].calls),
        td(l.models[m].tokens),
        td(l.models[m].credits),
      ]),
    );
    // Cumulative spend, stacked by model: one band per model.
    const n = l.series.length;
    const max = Math.max(
      1,
      ...l.series.map((p) => Object.values(p.byModel).reduce((a, b) => a + b, 0)),
    );
    const x = (i) => (n > 1 ? (i / (n - 1)) * 600 : 0);
    const y = (v) => 155 - (v / max) * 145;
    const below = l.series.map(() => 0);
    $("spend-chart").innerHTML = models
      .map((m, k) => {
        const lower = below.slice();
        l.series.forEach((p, i) => {
          below[i] += p.byModel[m] ?? 0;
        });
        const top = below.map((v, i) => `${x(i)},${y(v)}`);
        const bottom = lower.map((v, i) => `${x(i)},${y(v)}`).reverse();
        return `<polygon points="${[...top, ...bottom].join(" ")}" fill="${COLORS[k % COLORS.length]}" fill-opacity="0.75"><title>${esc(m)}: ${l.models[m].credits} credits</title></polygon>`;
      })
      .join("");
    $("spend-when").textContent =
      n > 1 ? `${time(l.series[0].at)} – ${time(l.series[n - 1].at)}` : "";
    $("spend-legend").innerHTML = models
      .map(
        (m, k) => `<span><i style="background:${COLORS[k % COLORS.length]}"></i>${esc(m)}</span>`,
      )
      .join("");
  },
  async events() {},
};

async function showTask(id) {
  let t;
  try {
    t = await api(`/api/tasks/${encodeURIComponent(id)}`);
  } catch {
    $("task-detail").innerHTML =
      `<div class="empty">no task ${esc(id)} in this swarm's store</div>`;
    return;
  }
  const status = t.status === "dead_lettered" ? "dead-lettered" : t.status;
  const charges = t.ledger.map(
    (op) =>
      `<div><span class="sub">${time(op.at)}</span> charged (${esc(op.kind)}): <span class="mono">${esc(JSON.stringify(op.memo))}</span></div>`,
  );
  // The tree of what a root caused: children under the task that caused them.
  const children = new Map();
  for (const d of t.descendants) {
    const parent = d.cause ?? t.taskId;
    children.set(parent, [...(children.get(parent) ?? []), d]);
  }
  const tree = (parent, depth) =>
    (children.get(parent) ?? [])
      .map(
        (d) =>
          `<div style="margin-left:${depth * 18}px"><span class="sub">${time(d.at)}</span> <a class="task-link mono" data-id="${esc(d.taskId)}">${esc(d.taskId)}</a> <span class="state-${esc(d.status)}">${esc(d.status)}</span> ${d.sender ? `${esc(d.sender)} → ` : ""}${esc(d.agent ?? "")}${d.reason ? ` · ${esc(d.reason)}` : ""}</div>${depth < 12 ? tree(d.taskId, depth + 1) : ""}`,
      )
      .join("");
  $("task-detail").innerHTML =
    `<h3 class="mono">${esc(t.taskId)} <span class="state-${esc(t.status)}">${esc(status)}</span></h3>
    <div class="sub">${t.type ? `${esc(t.role ?? "")} ${esc(t.type)} · ` : ""}${t.agent ? `handled by ${esc(t.agent)} · ` : ""}${t.root && t.root !== t.taskId ? `root <a class="task-link mono" data-id="${esc(t.root)}">${esc(t.root)}</a> · ` : ""}${t.attempts ? `${esc(t.attempts)} attempt(s)` : ""}</div>
    <div class="timeline">
      ${t.steps.map((s) => `<div><span class="sub">${time(s.at)}</span> step ${esc(s.position)}: <span class="mono">${esc(s.name)}</span></div>`).join("")}
      ${charges.join("")}
      ${t.status === "completed" ? `<div><span class="sub">${time(t.at)}</span> completed by ${esc(t.agent)}: <span class="mono">${esc(JSON.stringify(t.result ?? null))}</span></div>` : ""}
      ${t.status === "dead_lettered" ? `<div><span class="sub">${time(t.at)}</span> dead-lettered: ${esc(t.reason)}</div>` : ""}
    </div>
    ${t.descendants.length > 0 ? `<h3>What it caused (${t.descendants.length} tasks)</h3><div class="timeline">${tree(t.taskId, 0)}</div>` : ""}`;
}

function show(name) {
  tab = name;
  for (const b of document.querySelectorAll("#tabs button"))
    b.classList.toggle("active", b.dataset.tab === name);
  for (const v of document.querySelectorAll(".view"))
    v.classList.toggle("active", v.id === `view-${name}`);
  views[name]().catch((e) => console.error(e));
}

document.addEventListener("click", async (event) => {
  const target = event.target;
  if (target.matches("#tabs button")) show(target.dataset.tab);
  if (target.matches(".task-link")) {
    show("tasks");
    $("task-id").value = target.dataset.id;
    await showTask(target.dataset.id);
  }
  if (target.matches("button.verify")) {
    const seq = target.dataset.seq;
    const verdict = await api(`/api/decisions/${seq}/verify`, { method: "POST" });
    const el = $(`verdict-${seq}`);
    el.className = `verdict ${verdict.ok ? "state-approved" : "state-rejected"}`;
    el.textContent = verdict.ok
      ? `✔ verified (${verdict.entries} entries)`
      : `✘ broken at entry ${verdict.seq}: ${verdict.reason}`;
  }
});
// A person's vote: signed here, in the browser, with their key file (Ed25519
// through WebCrypto); the key never leaves the page, only the signature does.
async function castVote(button) {
  const card = button.closest(".waiting");
  const result = card.querySelector(".vote-result");
  try {
    const file = card.querySelector(".key-file").files[0];
    if (!file) throw new Error("choose your key file first (conclave keys gen <name>)");
    const keyFile = JSON.parse(await file.text());
    const key = await crypto.subtle.importKey(
      "jwk",
      { kty: "OKP", crv: "Ed25519", d: keyFile.seed, x: keyFile.publicKey, ext: false },
      { name: "Ed25519" },
      false,
      ["sign"],
    );
    const proposal = card.dataset.proposal;
    const post = (path, body) =>
      fetch(path, {
        method: "POST",
        headers: { ...auth.headers, "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then(async (r) => {
        const json = await r.json();
        if (!r.ok) throw new Error(json.error?.message ?? r.status);
        return json;
      });
    const ballot = await post(`/api/approvals/${proposal}/ballot`, {
      human: keyFile.agent,
      choice: button.dataset.choice,
      reason: card.querySelector(".reason").value,
    });
    const input = Uint8Array.from(
      atob(ballot.signingInput.replace(/-/g, "+").replace(/_/g, "/")),
      (c) => c.charCodeAt(0),
    );
    const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, input));
    const sig = btoa(String.fromCharCode(...signature))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    await post(`/api/approvals/${proposal}/vote`, { vote: { ...ballot.envelope, sig } });
    result.className = "vote-result state-approved";
    result.textContent = `${keyFile.agent} voted ${button.dataset.choice}`;
  } catch (error) {
    result.className = "vote-result state-rejected";
    result.textContent = String(error.message ?? error);
  }
}
document.addEventListener("click", (event) => {
  if (event.target.matches("button.vote")) castVote(event.target);
  if (event.target.matches("button.redrive")) redrive(event.target.dataset.id);
  if (event.target.matches("button.fund")) fund(event.target.dataset.id);
});

// Mints credits to an agent (recorded in the audit log as done from the dashboard).
async function fund(id) {
  const credits = Number(prompt(`Credits to mint to ${id}:`, "1000"));
  if (!Number.isSafeInteger(credits) || credits <= 0) return;
  const response = await fetch(`/api/agents/${encodeURIComponent(id)}/fund`, {
    method: "POST",
    headers: { ...auth.headers, "content-type": "application/json" },
    body: JSON.stringify({ credits }),
  });
  const body = await response.json();
  if (!response.ok) alert(body.error?.message ?? response.status);
  await views.agents();
}

// Sends a dead letter's task to its queue again (audited as done from the dashboard).
async function redrive(id, unpaid = false) {
  const result = document.getElementById(`redrive-${id}`);
  const response = await fetch(`/api/dead-letters/${encodeURIComponent(id)}/redrive`, {
    method: "POST",
    headers: { ...auth.headers, "content-type": "application/json" },
    body: JSON.stringify({ unpaid }),
  });
  const body = await response.json();
  if (response.ok) {
    result.className = "redrive-result state-approved";
    result.textContent = body.sent
      ? `redriven (attempt ${body.attempt})`
      : `redriven (attempt ${body.attempt}); the bus refused it for now, it waits in the outbox`;
  } else if (
    /--unpaid/.test(body.error?.message ?? "") &&
    confirm(`${body.error.message}\n\nRun it without pay?`)
  ) {
    await redrive(id, true);
  } else {
    result.className = "redrive-result state-rejected";
    result.textContent = body.error?.message ?? String(response.status);
  }
}

$("task-form").addEventListener("submit", (event) => {
  event.preventDefault();
  showTask($("task-id").value.trim());
});

const counts = {};
function renderEvents(batch) {
  for (const [type, n] of Object.entries(batch.counts)) counts[type] = (counts[type] ?? 0) + n;
  $("event-counts").innerHTML = Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([t, n]) => `<span>${esc(t)} ${n}</span>`)
    .join("");
  if ($("event-pause").checked) return;
  const filter = $("event-filter").value.trim();
  const list = $("events-list");
  for (const e of batch.events) {
    if (filter && !e.type.includes(filter)) continue;
    const li = document.createElement("li");
    li.innerHTML = `<span class="t">${time(e.at)}</span><span class="ty">${esc(e.type)}</span>${esc(e.from ?? "")} ${esc(JSON.stringify(e.body ?? {}))}`;
    list.prepend(li);
  }
  while (list.children.length > 300) list.lastChild.remove();
}

const stream = new EventSource(`/api/stream?token=${encodeURIComponent(token)}`);
stream.addEventListener("open", () => {
  $("connection").textContent = "live";
  $("connection").className = "pill on";
});
stream.addEventListener("error", () => {
  $("connection").textContent = "reconnecting…";
  $("connection").className = "pill off";
});
stream.addEventListener("overview", (m) => renderOverview(JSON.parse(m.data)));
stream.addEventListener("events", (m) => renderEvents(JSON.parse(m.data)));
// Tables refresh while shown; the numbers above come with the stream.
setInterval(() => {
  if (tab === "decisions") views.approvals().catch(() => {});
  else if (tab === "dead-letters" && document.querySelector(".redrive-result:not(:empty)")) return;
  else if (tab !== "events") views[tab]().catch(() => {});
}, 2000);
show("agents");
