/**
 * The swarm file's `mcp:` section: stdio and HTTP servers with their
 * defaults, paths resolved against the swarm file, and the mistakes a user
 * makes reported with their line and what to do.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { parseMcpToolReference } from "../../src/config/mcp.js";
import { ConfigError } from "../../src/errors/index.js";

function swarm(mcp: string, tools: readonly string[] = ["mcp:files"]): string {
  return `swarm: mcp-config
models:
  fast: { provider: openai-compatible, baseURL: "http://127.0.0.1:1/v1", apiKey: "\${NO_KEY:-}", model: m }
roles: { researcher: { tasks: [ask] } }
agents:
  - { id: r-1, role: researcher, llm: { model: fast, tools: ${JSON.stringify(tools)} } }
mcp:
${mcp}
`;
}

function problems(text: string): string {
  try {
    parseSwarmConfig(text, { source: "swarm.yaml", baseDir: "/srv/swarm", env: {} });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail("expected the file to be refused");
}

describe("the mcp: section", () => {
  test("stdio and HTTP servers with their defaults; a stdio server runs in the swarm file's folder", () => {
    const config = parseSwarmConfig(
      swarm(
        `  files: { command: [node, tools/files.js, --root, docs], env: { ROOT: /srv } }
  search: { url: "https://search.example/mcp", token: "\${SEARCH_TOKEN}", costs: { search_web: 5 }, timeoutMs: 5000 }
  local: { command: [./server], cwd: tools }`,
        ["mcp:files", "mcp:search/search_web", "mcp:local", "notes.write"],
      ),
      { baseDir: "/srv/swarm", env: { SEARCH_TOKEN: "s3cret-token" } },
    );
    assert.deepEqual(config.mcp["files"], {
      name: "files",
      transport: "stdio",
      command: "node",
      args: ["tools/files.js", "--root", "docs"],
      env: { ROOT: "/srv" },
      cwd: "/srv/swarm",
      costs: {},
      timeoutMs: 60_000,
    });
    assert.deepEqual(config.mcp["search"], {
      name: "search",
      transport: "http",
      url: "https://search.example/mcp",
      token: "s3cret-token",
      costs: { search_web: 5 },
      timeoutMs: 5000,
    });
    assert.equal(
      config.mcp["local"]?.transport === "stdio" && config.mcp["local"].cwd,
      "/srv/swarm/tools",
    );
    assert.deepEqual(config.agents[0]?.llm?.tools, [
      "mcp:files",
      "mcp:search/search_web",
      "mcp:local",
      "notes.write",
    ]);
  });

  test("a server is stdio or HTTP, and each field belongs to its kind", () => {
    const both = problems(
      swarm(`  files: { command: [node, s.js], url: "http://127.0.0.1:1/mcp" }`),
    );
    assert.match(
      both,
      /swarm\.yaml:\d+: mcp\.files: give either command \(a stdio server\) or url/,
    );
    const neither = problems(swarm("  files: { costs: { a: 1 } }"));
    assert.match(
      neither,
      /mcp\.files: give command: \[program, args…\] for a stdio server, or url:/,
    );
    const token = problems(swarm(`  files: { command: [node, s.js], token: abc }`));
    assert.match(token, /mcp\.files\.token: token applies to HTTP servers only/);
    const env = problems(swarm(`  files: { url: "http://127.0.0.1:1/mcp", env: { A: b } }`));
    assert.match(env, /mcp\.files\.env: env applies to stdio servers only/);
    const scheme = problems(swarm(`  files: { url: "ftp://host/mcp" }`));
    assert.match(scheme, /mcp\.files\.url: expected an http:\/\/ or https:\/\/ URL/);
    const cost = problems(swarm(`  files: { command: [node], costs: { read: -1 } }`));
    assert.match(cost, /mcp\.files\.costs\.read: expected an integer from 0/);
  });

  test("an agent's mcp: tool must name a declared server", () => {
    const text = problems(swarm(`  files: { command: [node, s.js] }`, ["mcp:file"]));
    assert.match(
      text,
      /agents\.0\.llm\.tools\.0: no MCP server "file" is declared \(did you mean "files"\?\); declare it under mcp:/,
    );
    const malformed = problems(swarm(`  files: { command: [node, s.js] }`, ["mcp:files/"]));
    assert.match(
      malformed,
      /agents\.0\.llm\.tools\.0: expected a tool name: .*mcp:<server>\[\/<tool>\]/,
    );
  });

  test("mcp:<server>[/<tool>] references", () => {
    assert.deepEqual(parseMcpToolReference("mcp:files"), { server: "files" });
    assert.deepEqual(parseMcpToolReference("mcp:files/read_file"), {
      server: "files",
      tool: "read_file",
    });
    assert.deepEqual(parseMcpToolReference("mcp:gh/repos.search"), {
      server: "gh",
      tool: "repos.search",
    });
    assert.equal(parseMcpToolReference("search.web"), undefined);
    assert.equal(parseMcpToolReference("mcp:"), undefined);
  });
});
