/**
 * A bad address for the dashboard is a ConfigError saying what to pass, as
 * for the metrics endpoint: an empty host (`--host ""`, or `--host "$HOST"`
 * with HOST unset) bound every interface — not the loopback the dashboard
 * defaults to — and printed the link `http://:<port>/?token=…`. And on the
 * loopback it answers only requests addressed to the loopback, as the
 * metrics endpoint does (DNS rebinding).
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import type { SwarmConfig } from "../../src/config/schema.js";
import { serveDashboard } from "../../src/dashboard/server.js";
import { ConfigError } from "../../src/errors/index.js";
import type { Swarm } from "../../src/runtime/swarm.js";

/** What serving needs of a swarm before any request: its events and its bus, both quiet. */
const swarm = {
  name: "address",
  on: () => () => undefined,
  transport: { subscribe: () => ({ unsubscribe: () => undefined }) },
} as unknown as Swarm;
const config = { swarm: "address", transport: "memory", agents: [] } as unknown as SwarmConfig;

test("an empty host is a ConfigError, not every interface", async () => {
  for (const host of ["", "  "]) {
    const outcome = await serveDashboard(swarm, config, { port: 0, host, token: "t" }).then(
      async (dashboard) => {
        await dashboard.close();
        return `served at ${dashboard.url}`;
      },
      (error: unknown) => error,
    );
    assert.ok(outcome instanceof ConfigError, `host ${JSON.stringify(host)}: ${String(outcome)}`);
    assert.match(outcome.message, /host must be an address to bind/);
  }
});

test("a port out of range is a ConfigError, not a bare RangeError", async () => {
  const outcome = await serveDashboard(swarm, config, { port: 70_000, token: "t" }).then(
    async (dashboard) => {
      await dashboard.close();
      return `served at ${dashboard.url}`;
    },
    (error: unknown) => error,
  );
  assert.ok(outcome instanceof ConfigError, String(outcome));
  assert.match(outcome.message, /port must be a whole number from 0 to 65535/);
});

test("by default it binds the loopback", async () => {
  const dashboard = await serveDashboard(swarm, config, { port: 0, token: "t" });
  try {
    assert.match(dashboard.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  } finally {
    await dashboard.close();
  }
});

/** GET `path` of `url` with the `Host` header given: what a DNS-rebinding page's request names. */
function getNaming(url: string, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ hostname, port, path, headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

test("on the loopback, a request naming another host is refused, token or not", async () => {
  // A token a person chose may be guessed: a rebinding page could try many from the browser.
  const dashboard = await serveDashboard(swarm, config, { port: 0, token: "t" });
  try {
    const { port } = new URL(dashboard.url);
    assert.equal(await getNaming(dashboard.url, "/metrics?token=t", `evil.example:${port}`), 403);
    assert.equal(await getNaming(dashboard.url, "/?token=wrong", `evil.example:${port}`), 403);
    // The loopback by any of its names (an SSH tunnel's localhost included) is served.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      assert.equal(await getNaming(dashboard.url, "/?token=wrong", host), 401, host);
    }
  } finally {
    await dashboard.close();
  }
});
