/**
 * The dashboard in a real browser (Debian's chromium, driven by
 * playwright-core) over a running swarm: agents heard alive, the tasks
 * counter moving while work flows, a sealed decision verified from the page,
 * a dead letter's timeline; and nothing at all without the token.
 *
 * With CONCLAVE_SCREENSHOTS=<dir> the run saves the main views there (the
 * screenshots in docs/images come from this test).
 */
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Browser, chromium, type Page } from "playwright-core";
import { loadSwarmConfig, parseSwarmConfig } from "../../src/config/load.js";
import { type DashboardServer, serveDashboard } from "../../src/dashboard/server.js";
import { PermanentError } from "../../src/errors/index.js";
import { saveAgentKey } from "../../src/identity/key-file.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { ROOT_SUBMITTED } from "../../src/runtime/context.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { root } from "../cli/run-cli.js";
import { until } from "../helpers/until.js";

/** A number as the page shows it (with thousands separators). */
const count = (text: string | null) => Number((text ?? "").replace(/\D/g, ""));

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "dashboard-test-token-0123456789";
const shots = process.env["CONCLAVE_SCREENSHOTS"];

const work = mkdtempSync(join(tmpdir(), "conclave-dashboard-"));
/** A person who votes on production deploys, from the page, with her key file. */
const alice = generateAgentKeyPair();

const swarmFile = `swarm: watched
roles:
  lead: {}
  worker: { tasks: [work, fail] }
  ops: { tasks: [funds.transfer, deploy.production] }
agents:
  - { id: lead, role: lead, weight: 2, budget: { initial: 5000 } }
  - { id: w-1, role: worker }
  - { id: w-2, role: worker }
  - { id: ops-1, role: ops }
humans:
  alice: { publicKey: ${encodePublicKey(alice.publicKey)} }
privileged:
  funds.transfer:
    protocol: quorum
    threshold: { weight: 2 }
    voters: [lead]
  deploy.production:
    threshold: { weight: 3 }
    voters: [lead, { human: alice, weight: 2 }]
    deadlineMs: 60000
`;

describe("the dashboard in a browser", {
  skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM}`,
}, () => {
  let swarm: Swarm;
  let dashboard: DashboardServer;
  let browser: Browser;
  let page: Page;
  let failed: string;
  /** Whether what made the failing task die is fixed (then a redrive completes it). */
  let fixed = false;

  before(async () => {
    const config = parseSwarmConfig(swarmFile, { baseDir: work });
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          agent.handle<{ n: number }>("work", async (ctx) => ({ doubled: ctx.body.n * 2 }));
          agent.handle("fail", async () => {
            if (!fixed)
              throw new PermanentError("the input names no file to work on; send { file }");
            return { worked: "after the fix" };
          });
          agent.handle("funds.transfer", async () => ({ sent: true }));
          agent.handle("deploy.production", async () => ({ deployed: true }));
        },
      },
    });
    await swarm.start();
    for (let n = 0; n < 5; n++) await swarm.submitAndWait("worker", "work", { n }, { as: "lead" });
    failed = await swarm.submit("worker", "fail", {}, { as: "lead" });
    await until(
      async () => (await swarm.outcome(failed)) !== undefined,
      10_000,
      "the failing task to be dead-lettered",
    );
    const decision = await swarm.propose(
      "funds.transfer",
      { to: "w-1", amount: 10 },
      { as: "lead" },
    );
    assert.equal(decision.outcome, "approved");
    dashboard = await serveDashboard(swarm, config, { token: TOKEN });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    if (shots) mkdirSync(shots, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await dashboard?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("without the token every route answers 401 and nothing else", async () => {
    for (const path of ["/", "/api/agents", "/api/decisions", "/api/stream", "/metrics"]) {
      const response = await fetch(`${dashboard.url}${path}`);
      assert.equal(response.status, 401, path);
      assert.doesNotMatch(await response.text(), /w-1|watched|seal/);
    }
    const wrong = await fetch(`${dashboard.url}/api/agents`, {
      headers: { authorization: "Bearer not-the-token" },
    });
    assert.equal(wrong.status, 401);
    const page = await fetch(`${dashboard.url}/api/agents?token=${TOKEN}`);
    assert.equal(page.status, 200);
  });

  test("shows the agents alive, and the tasks counter moves while work flows", async () => {
    await page.goto(dashboard.link);
    await page.locator("#connection", { hasText: "live" }).waitFor();
    await page.locator("#agents-table td", { hasText: "w-2" }).waitFor();
    assert.equal(await page.locator("#agents-table td.state-alive").count(), 4);
    assert.equal(await page.locator("#swarm").textContent(), "watched");
    await until(
      async () => count(await page.locator("#tasks-completed").textContent()) >= 5,
      10_000,
      "the first tasks to show",
    );
    const before = count(await page.locator("#tasks-completed").textContent());
    for (let n = 0; n < 20; n++) await swarm.submit("worker", "work", { n }, { as: "lead" });
    await until(
      async () => count(await page.locator("#tasks-completed").textContent()) >= before + 20,
      10_000,
      "the counter to move by 20",
      100,
    );
    if (shots) await page.screenshot({ path: join(shots, "dashboard-agents.png") });
  });

  test("the queues tab shows each role's queue from the broker; funding an agent is audited", async () => {
    await page.click("#tabs button[data-tab=queues]");
    await page.locator("#queues-table td", { hasText: "watched-task-worker" }).waitFor();
    assert.match((await page.locator("#queues-table").textContent()) ?? "", /watched-dlq/);
    await page.click("#tabs button[data-tab=agents]");
    page.once("dialog", (dialog) => void dialog.accept("250"));
    await page.click('button.fund[data-id="lead"]');
    await until(async () => (await swarm.budgets.balance("lead")) === 5250, 5000, "the top-up");
    const funded = (await swarm.store.auditLog()).filter((r) => r.kind === "ledger.funded");
    assert.deepEqual(
      funded.map((r) => {
        const d = r.data as { agent: string; credits: number; by: string };
        return [d.agent, d.credits, d.by];
      }),
      [["lead", 250, "dashboard"]],
    );
    const refused = await fetch(`${dashboard.url}/api/agents/world/fund`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ credits: 10 }),
    });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /not an agent of this swarm/);
  });

  test("opens the sealed decision and verifies it like conclave audit verify", async () => {
    await page.click("#tabs button[data-tab=decisions]");
    const decision = page.locator(".decision").first();
    await decision.waitFor();
    assert.match((await decision.textContent()) ?? "", /funds\.transfer[\s\S]*approved/);
    await decision.locator("button.verify").click();
    await page.locator(".verdict", { hasText: "verified" }).waitFor();
    if (shots) await page.screenshot({ path: join(shots, "dashboard-consensus.png") });
  });

  test("a person approves a waiting proposal from the page, signing with her key file in the browser", async () => {
    const keyFile = await saveAgentKey(join(work, "people"), "alice", alice);
    // Another proposal waits for her too, listed first: the page's refresh
    // must keep the form she fills in on the second card.
    void swarm
      .propose("deploy.production", { version: "1.4.1" }, { as: "lead" })
      .catch(() => undefined);
    await page.click("#tabs button[data-tab=decisions]");
    await page.locator(".decision.waiting", { hasText: "1.4.1" }).waitFor();
    const decided = swarm.propose("deploy.production", { version: "1.4.2" }, { as: "lead" });
    const waiting = page.locator(".decision.waiting", { hasText: "1.4.2" });
    await waiting.waitFor();
    assert.match((await waiting.textContent()) ?? "", /waiting for alice[\s\S]*1\.4\.2/);
    assert.match((await page.locator(".decision.waiting").first().textContent()) ?? "", /1\.4\.1/);
    await waiting.locator("input.key-file").setInputFiles(keyFile);
    await sleep(2_500); // a refresh of the page's list (every 2 s)
    assert.equal(
      await waiting
        .locator("input.key-file")
        .evaluate((input) => (input as { files?: { length: number } | null }).files?.length),
      1,
      "the refresh kept the chosen key file",
    );
    await waiting.locator("input.reason").fill("release notes checked");
    if (shots) await page.screenshot({ path: join(shots, "dashboard-approval.png") });
    await waiting.locator("button.vote[data-choice=approve]").click();
    // Whatever the page says once the vote is sent: its error, if it failed.
    const said = waiting.locator(".vote-result:not(:empty)");
    await said.waitFor();
    assert.equal(await said.textContent(), "alice voted approve");
    const decision = await decided;
    assert.equal(decision.outcome, "approved");
    const vote = decision.votes.find((v) => v.from === "alice");
    assert.deepEqual(
      (vote?.body as { reason?: string } | undefined)?.reason,
      "release notes checked",
    );
    const ran = await swarm.submitAndWait("ops", "deploy.production", decision.proposal.data, {
      as: "lead",
      approval: decision.seal,
      timeoutMs: 10_000,
    });
    assert.deepEqual(ran, { deployed: true });
  });

  test("a dead letter shows its reason and its timeline, and once fixed a redrive from the page completes it", async () => {
    await page.click("#tabs button[data-tab=dead-letters]");
    await page.locator("#dead-letters-table td", { hasText: "names no file" }).waitFor();
    await page.click(`.task-link[data-id="${failed}"]`);
    await page.locator("#task-detail", { hasText: "dead-lettered" }).waitFor();
    if (shots) await page.screenshot({ path: join(shots, "dashboard-dead-letter.png") });
    fixed = true;
    await page.click("#tabs button[data-tab=dead-letters]");
    await page.click(`button.redrive[data-id="${failed}"]`);
    await page.locator(`#redrive-${failed}`, { hasText: "redriven (attempt 1)" }).waitFor();
    assert.deepEqual(await swarm.wait(failed, { timeoutMs: 10_000 }), { worked: "after the fix" });
    const audit = (await swarm.store.auditLog()).filter((r) => r.kind === "dead-letter.redriven");
    assert.equal((audit[0]?.data as { by?: string } | undefined)?.by, "dashboard");
  });

  test("the live event stream shows what the swarm does", async () => {
    await page.click("#tabs button[data-tab=events]");
    for (let n = 0; n < 3; n++) await swarm.submit("worker", "work", { n }, { as: "lead" });
    await page.locator("#events-list li", { hasText: "task.completed" }).first().waitFor();
    if (shots) await page.screenshot({ path: join(shots, "dashboard-events.png") });
  });
});

describe("the review swarm's views", {
  skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM}`,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-dashboard-review-"));
  let swarm: Swarm;
  let dashboard: DashboardServer;
  let browser: Browser;

  before(async () => {
    cpSync(join(root, "examples", "review-swarm"), dir, { recursive: true });
    const config = await loadSwarmConfig(join(dir, "swarm.yaml"));
    swarm = await openSwarm(config);
    await swarm.start();
    await until(
      async () => (await swarm.store.completedCount()) >= 400,
      60_000,
      "the review swarm's work",
      100,
    );
    dashboard = await serveDashboard(swarm, config, { token: TOKEN });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
    });
  });

  after(async () => {
    await browser?.close();
    await dashboard?.close();
    await swarm?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("every tab shows the swarm's work: auctions, spend per model, balances, decisions with evidence", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(dashboard.link);
    await page.locator("#agents-table td", { hasText: "mole" }).waitFor();
    if (shots) await page.screenshot({ path: join(shots, "review-agents.png") });
    await page.click("#tabs button[data-tab=graph]");
    await page.locator('#graph .graph-node[data-id="architect"]').waitFor({ state: "attached" });
    assert.ok((await page.locator("#graph line").count()) >= 3, "edges from who delegates to whom");
    assert.match((await page.locator("#graph").innerHTML()) ?? "", /architect → dev-1: \d+ tasks/);
    if (shots) await page.screenshot({ path: join(shots, "review-graph.png") });
    // A root's timeline: the tree of every task it caused, who sent each to whom.
    const root = (await swarm.store.effects(ROOT_SUBMITTED))[0]?.key ?? "";
    await page.click("#tabs button[data-tab=tasks]");
    await page.fill("#task-id", root);
    await page.click("#task-form button");
    await page.locator("#task-detail h3", { hasText: "What it caused" }).waitFor();
    assert.match(
      (await page.locator("#task-detail").textContent()) ?? "",
      /(dev-\d|auditor|sentinel) → [a-z]/,
    );
    if (shots) await page.screenshot({ path: join(shots, "review-task.png") });
    await page.click("#tabs button[data-tab=auctions]");
    await page.locator("#auctions-table td.state-awarded").first().waitFor();
    await page.click("#tabs button[data-tab=ledger]");
    await page.locator("#spend-chart polygon").first().waitFor({ state: "attached" });
    await page.locator("#balances-table td", { hasText: "agent:architect" }).waitFor();
    if (shots) await page.screenshot({ path: join(shots, "review-ledger.png") });
    await page.click("#tabs button[data-tab=decisions]");
    await page.locator(".decision", { hasText: "pieces of evidence" }).first().waitFor();
    await page.locator(".decision button.verify").first().click();
    await page.locator(".verdict", { hasText: "verified" }).waitFor();
    if (shots) await page.screenshot({ path: join(shots, "review-consensus.png") });
    await page.close();
  });
});
