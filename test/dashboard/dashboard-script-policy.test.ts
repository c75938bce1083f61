/**
 * What the dashboard renders comes in part from the swarm's nodes, and the
 * page must not run any of it as script: the Consensus tab shows the audit
 * log's decisions before anyone verifies them, and a Byzantine coordinator
 * (or anyone who writes the shared store) wrote a decision whose tally held
 * markup. With `script-src 'unsafe-inline'` an injected `onerror` ran with
 * the page's token (fund, redrive) and beside the file input a person picks
 * their signing key with. The policy now names the page's one script by its
 * hash, and the API answers a tally's figures as numbers.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { parseSwarmConfig } from "../../src/config/load.js";
import { DECISION_KIND } from "../../src/consensus/audit-verify.js";
import { type DashboardServer, serveDashboard } from "../../src/dashboard/server.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { until } from "../helpers/until.js";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "dashboard-script-policy-token-0123";
const work = mkdtempSync(join(tmpdir(), "conclave-dashboard-csp-"));
/** The page's globals, as this test (compiled without the DOM's types) reaches them. */
type PageGlobals = {
  __injected?: number;
  document: { body: { insertAdjacentHTML(where: string, html: string): void } };
};
const PAYLOAD = `<img src="x" onerror="window.__injected = (window.__injected ?? 0) + 1">`;

describe("the dashboard page runs its own script only", {
  skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM}`,
}, () => {
  let swarm: Swarm;
  let dashboard: DashboardServer;
  let browser: Browser;
  let page: Page;

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: csp
roles: { lead: {}, ops: { tasks: [funds.transfer] } }
agents:
  - { id: lead, role: lead, weight: 2 }
  - { id: ops-1, role: ops }
privileged:
  funds.transfer: { protocol: quorum, threshold: { weight: 2 }, voters: [lead] }
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          agent.handle("funds.transfer", async () => ({ sent: true }));
        },
      },
    });
    await swarm.start();
    await swarm.propose("funds.transfer", { amount: 1 }, { as: "lead" });
    // A forged decision, as a Byzantine coordinator would append it: a real
    // one's shape, its tally's figures replaced by markup.
    const [sealed] = (await swarm.store.auditLog({ limit: 1000 })).filter(
      (r) => r.kind === DECISION_KIND,
    );
    assert.ok(sealed);
    const decision = sealed.data as { tally: Record<string, unknown> };
    await swarm.store.appendAudit({
      kind: DECISION_KIND,
      data: { ...decision, tally: { ...decision.tally, approve: PAYLOAD, total: 0 } },
    });
    dashboard = await serveDashboard(swarm, config, { token: TOKEN });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
    });
    page = await browser.newPage();
    await page.goto(dashboard.link);
    await page.waitForSelector("#connection.on");
  });

  after(async () => {
    await browser?.close();
    await dashboard?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("markup in a stored decision does not run on the Consensus tab", async () => {
    await page.click('#tabs button[data-tab="decisions"]');
    await until(
      async () => (await page.locator("#decisions-list .decision").count()) === 2,
      10_000,
      "both decisions to be listed",
    );
    // The image's error (a 401 for /x) would have fired by now.
    await page.waitForTimeout(500);
    const injected = await page.evaluate(() => (globalThis as unknown as PageGlobals).__injected);
    assert.equal(injected, undefined);
  });

  test("an inline handler injected anywhere in the page is not run; the page's script is", async () => {
    const ran = await page.evaluate(async (markup) => {
      const page = globalThis as unknown as PageGlobals;
      page.document.body.insertAdjacentHTML("beforeend", markup);
      await new Promise((resolve) => setTimeout(resolve, 500));
      return page.__injected;
    }, PAYLOAD);
    assert.equal(ran, undefined);
    // The page's own script ran: it opened the live stream and filled the numbers.
    assert.equal(await page.textContent("#connection"), "live");
    assert.equal(await page.textContent("#swarm"), "csp");
  });

  test("the API answers a decision's tally as numbers (null for what is not one)", async () => {
    const rows = (await (
      await fetch(`${dashboard.url}/api/decisions`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json()) as { tally: Record<string, unknown> }[];
    for (const row of rows) {
      for (const [key, value] of Object.entries(row.tally)) {
        assert.ok(
          typeof value === "number" || value === null,
          `tally.${key}: ${JSON.stringify(value)}`,
        );
      }
    }
  });
});
