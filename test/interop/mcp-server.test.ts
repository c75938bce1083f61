/**
 * The swarm as an MCP server, with the SDK's own client:
 *
 * - over streamable HTTP (served in this process on 127.0.0.1:0): the
 *   client lists the offered tasks as tools and calls one, getting the
 *   handler's result; the handler sees the caller (the token's name) in the
 *   task's envelope; a long task answers "still running" and is picked up
 *   with conclave.task_status; an unknown tool is an MCP error naming the
 *   offered tools; a privileged task the council rejects is isError with
 *   E_NOT_APPROVED;
 * - refusals before the SDK sees a request: no token, a wrong token (401),
 *   an oversized body (413);
 * - over stdio: `conclave mcp --swarm FILE` started as a child by the SDK's
 *   StdioClientTransport, called as a desktop assistant would.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { loadSwarmConfig } from "../../src/config/load.js";
import type { SwarmConfig } from "../../src/config/schema.js";
import { createFrontDoor, FrontDoor } from "../../src/interop/front-door.js";
import { type McpHttpServer, serveMcpHttp } from "../../src/interop/mcp-server.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { finish, root, start } from "../cli/run-cli.js";
import { until } from "../helpers/until.js";

const TOKEN = "ide-token-0123456789abcdef";
const agentsModule = join(import.meta.dirname, "fixtures", "gateway-agents.mjs");

function swarmYaml(dir: string): string {
  return `swarm: mcp-gateway
description: Writes on request.
transport: memory
dataDir: ${dir}
module: ${agentsModule}
defaults: { ackWaitMs: 10000, maxDeliver: 2, backoff: { baseMs: 10, maxMs: 50 }, heartbeatMs: 100 }
roles:
  lead: {}
  writer: { tasks: [write, slow] }
  treasury: { tasks: [funds.transfer] }
  council: {}
agents:
  - { id: lead, role: lead }
  - { id: writer-1, role: writer }
  - { id: treasurer, role: treasury }
  - { id: c-1, role: council }
  - { id: c-2, role: council }
privileged:
  funds.transfer: { protocol: quorum, threshold: { fraction: 0.5 }, voters: [council], deadlineMs: 3000 }
workload: { releaseFile: ${JSON.stringify(join(dir, "release"))} }
gateway:
  as: lead
  port: 0
  tokens: { ide: "\${IDE_TOKEN:-${TOKEN}}" }
  maxBodyBytes: 2048
  waitMs: 1500
  expose:
    - { role: writer, task: write, description: Writes a short text on a topic. }
    - { role: writer, task: slow }
    - { role: treasury, task: funds.transfer }
`;
}

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate for "laptop". */
function makePki(dir: string) {
  const at = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  ssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "1",
    "-subj",
    "/CN=test-ca",
  );
  const issue = (name: string, cn: string, extensions: string) => {
    writeFileSync(at(`${name}.ext`), extensions);
    ssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    ssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    );
  };
  issue("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  issue("client", "laptop", "extendedKeyUsage=clientAuth\n");
  return {
    ca: at("ca.crt"),
    serverCert: at("server.crt"),
    serverKey: at("server.key"),
    clientCert: at("client.crt"),
    clientKey: at("client.key"),
  };
}

/** POSTs JSON-RPC over HTTPS with the given TLS options (fetch cannot present a client certificate). */
function httpsPost(
  url: string,
  body: unknown,
  tls: { ca: Buffer; cert?: Buffer; key?: Buffer },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        ...tls,
      },
      (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    request.on("error", reject);
    request.end(JSON.stringify(body));
  });
}

function textOf(result: object): string {
  const content = ((result as { content?: unknown }).content ?? []) as {
    type: string;
    text?: string;
  }[];
  return content.map((c) => c.text ?? "").join("\n");
}

describe("the swarm as an MCP server", () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function swarmFile(): { dir: string; file: string } {
    const dir = mkdtempSync(join(tmpdir(), "conclave-mcp-server-"));
    dirs.push(dir);
    const file = join(dir, "swarm.yaml");
    writeFileSync(file, swarmYaml(dir));
    return { dir, file };
  }

  describe("over streamable HTTP", () => {
    let swarm: Swarm;
    let server: McpHttpServer;
    let client: Client;
    let dir: string;
    let config: SwarmConfig;

    before(async () => {
      const made = swarmFile();
      dir = made.dir;
      config = await loadSwarmConfig(made.file);
      swarm = await openSwarm(config);
      await swarm.start();
      server = await serveMcpHttp(createFrontDoor(swarm, config), { port: 0 });
      client = new Client({ name: "test-ide", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(server.url), {
          requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
        }),
      );
    });
    after(async () => {
      await client?.close();
      await server?.close();
      await swarm?.close();
    });

    test("binds loopback and lists the offered tasks and the status tool", async () => {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
      const { tools } = await client.listTools();
      assert.deepEqual(
        tools.map((t) => t.name),
        ["writer.write", "writer.slow", "treasury.funds.transfer", "conclave.task_status"],
      );
      assert.equal(tools[0]?.description, "Writes a short text on a topic.");
      assert.match(tools[2]?.description ?? "", /Privileged/);
    });

    test("a call runs the task and answers with the handler's result; the handler sees the caller", async () => {
      const result = await client.callTool({
        name: "writer.write",
        arguments: { input: { topic: "bees" } },
      });
      assert.equal(result.isError, undefined);
      const structured = result.structuredContent as {
        taskId: string;
        state: string;
        result: { text: string; caller: string; via: string };
      };
      assert.equal(structured.state, "completed");
      assert.deepEqual(structured.result, { text: "written: bees", caller: "ide", via: "mcp" });
      assert.deepEqual(JSON.parse(textOf(result)), structured.result);
      const outcome = await swarm.outcome(structured.taskId);
      assert.equal(outcome?.status, "completed");
    });

    test("arguments without input are the input", async () => {
      const result = await client.callTool({ name: "writer.write", arguments: { topic: "ants" } });
      const structured = result.structuredContent as { result: { text: string } };
      assert.equal(structured.result.text, "written: ants");
    });

    test("a task still running after waitMs answers its id; conclave.task_status picks it up", async () => {
      const first = await client.callTool({ name: "writer.slow", arguments: {} });
      const working = first.structuredContent as { taskId: string; state: string };
      assert.equal(working.state, "working");
      assert.match(textOf(first), /still running; call conclave\.task_status/);
      writeFileSync(join(dir, "release"), "");
      const deadline = Date.now() + 10_000;
      let state = "working";
      let last: { state: string; result?: unknown } = { state };
      while (state === "working" && Date.now() < deadline) {
        const status = await client.callTool({
          name: "conclave.task_status",
          arguments: { taskId: working.taskId },
        });
        last = status.structuredContent as { state: string; result?: unknown };
        state = last.state;
        if (state === "working") await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(last, {
        taskId: working.taskId,
        state: "completed",
        result: { text: "finally" },
      });
    });

    test("an unknown tool is an MCP error naming the offered tools", async () => {
      await assert.rejects(
        client.callTool({ name: "writer.rewrite", arguments: {} }),
        (error: Error & { code?: number }) => {
          assert.equal(error.code, -32602);
          assert.match(error.message, /no tool "writer\.rewrite"/);
          assert.match(
            error.message,
            /writer\.write, writer\.slow, treasury\.funds\.transfer, conclave\.task_status/,
          );
          return true;
        },
      );
    });

    test("a privileged task the council rejects is an error result with E_NOT_APPROVED", async () => {
      const result = await client.callTool({
        name: "treasury.funds.transfer",
        arguments: { input: { amount: 10 } },
      });
      assert.equal(result.isError, true);
      assert.match(
        textOf(result),
        /^E_NOT_APPROVED: privileged action "funds\.transfer" was not run/,
      );
    });

    test("refused before the SDK: no token, a wrong token (401), an oversized body (413)", async () => {
      const initialize = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: { name: "raw", version: "1" },
        },
      });
      const post = (headers: Record<string, string>, body: string) =>
        fetch(server.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            ...headers,
          },
          body,
        });
      const none = await post({}, initialize);
      assert.equal(none.status, 401);
      assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="conclave"');
      assert.equal(
        ((await none.json()) as { error: { code: string } }).error.code,
        "E_UNAUTHORIZED",
      );
      const wrong = await post({ authorization: "Bearer not-the-token-at-all" }, initialize);
      assert.equal(wrong.status, 401);
      await wrong.body?.cancel();
      const large = await post(
        { authorization: `Bearer ${TOKEN}` },
        JSON.stringify({
          jsonrpc: "2.0",
          id: 2,
          method: "ping",
          params: { pad: "x".repeat(4096) },
        }),
      );
      assert.equal(large.status, 413);
      assert.equal(
        ((await large.json()) as { error: { code: string } }).error.code,
        "E_REQUEST_TOO_LARGE",
      );
      const ok = await post({ authorization: `Bearer ${TOKEN}` }, initialize);
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
    });

    test("a caller over gateway.ratePerMinute is refused with 429 and Retry-After", async () => {
      const gateway = config.gateway;
      assert.ok(gateway);
      const limited = await serveMcpHttp(
        new FrontDoor(swarm, config, { ...gateway, ratePerMinute: 2 }),
        {
          port: 0,
        },
      );
      try {
        const statuses: number[] = [];
        let retryAfter: string | null = null;
        for (let i = 0; i < 3; i++) {
          const response = await fetch(limited.url, {
            method: "POST",
            headers: {
              authorization: `Bearer ${TOKEN}`,
              "content-type": "application/json",
              accept: "application/json, text/event-stream",
            },
            body: JSON.stringify({ jsonrpc: "2.0", id: i, method: "ping" }),
          });
          statuses.push(response.status);
          retryAfter = response.headers.get("retry-after");
          await response.body?.cancel();
        }
        assert.deepEqual(statuses.slice(2), [429]);
        assert.ok(Number(retryAfter) >= 1);
      } finally {
        await limited.close();
      }
    });
  });

  test("mutual TLS: a client certificate the CA signed is the caller, no certificate no connection", async () => {
    const { file, dir } = swarmFile();
    const pki = makePki(dir);
    const config = await loadSwarmConfig(file);
    const gateway = config.gateway;
    assert.ok(gateway);
    const swarm = await openSwarm(config);
    await swarm.start();
    const door = new FrontDoor(swarm, config, {
      ...gateway,
      tokens: {},
      tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca },
    });
    const server = await serveMcpHttp(door, { port: 0 });
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+\/mcp$/);
      const call = {
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "writer.write", arguments: { topic: "keys" } },
      };
      const answer = await httpsPost(server.url, call, {
        ca: readFileSync(pki.ca),
        cert: readFileSync(pki.clientCert),
        key: readFileSync(pki.clientKey),
      });
      assert.equal(answer.status, 200, answer.body);
      const result = JSON.parse(answer.body) as {
        result: { structuredContent: { result: { caller: string } } };
      };
      assert.equal(result.result.structuredContent.result.caller, "cert:laptop");
      await assert.rejects(httpsPost(server.url, call, { ca: readFileSync(pki.ca) }));
    } finally {
      await server.close();
      await swarm.close();
    }
  });

  test("conclave mcp --http: prints its URL, serves the token's caller, stops on SIGTERM with 0", async () => {
    const { dir, file } = swarmFile();
    const child = start(["mcp", "--swarm", file, "--http", "--port", "0"], dir);
    const exited = finish(child);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await until(() => /mcp: (\S+)/.test(stderr), 20_000, `the URL on stderr (${stderr})`);
    const url = /mcp: (\S+)/.exec(stderr)?.[1] ?? "";
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const client = new Client({ name: "ide", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
      }),
    );
    const result = await client.callTool({ name: "writer.write", arguments: { topic: "owls" } });
    const structured = result.structuredContent as { result: { caller: string } };
    assert.equal(structured.result.caller, "ide");
    await client.close();
    child.kill("SIGTERM");
    const run = await exited;
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "", "nothing on stdout");
  });

  test("over stdio: conclave mcp --swarm FILE as the child of an MCP client", async () => {
    const { dir, file } = swarmFile();
    const stderr: Buffer[] = [];
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        "--import",
        import.meta.resolve("tsx"),
        join(root, "src", "cli", "bin.ts"),
        "mcp",
        "--swarm",
        file,
      ],
      cwd: dir,
      env: { ...(process.env as Record<string, string>), NO_COLOR: "1" },
      stderr: "pipe",
    });
    transport.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
    const client = new Client({ name: "desktop", version: "1.0.0" });
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === "writer.write"));
      const result = await client.callTool({
        name: "writer.write",
        arguments: { input: { topic: "the sea" } },
      });
      const structured = result.structuredContent as { result: { text: string; caller: string } };
      assert.deepEqual(structured.result, {
        text: "written: the sea",
        caller: "stdio",
        via: "mcp",
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}\nstderr: ${Buffer.concat(stderr).toString()}`);
    } finally {
      await client.close();
    }
  });
});
