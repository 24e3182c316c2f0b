// Other real clients: the 2026-07-28 SDK (server/discover), older initialize versions, the MCP Inspector CLI's strict
// tools/list, and OpenCode on the host.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { EmptyResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { brief, check, compileProblems, expect, fail, sleep, textOf, validateStrict } from '../lib/harness.mjs';

const GROUP = 'clients';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

async function connectModern(env, token, mode) {
  const client = new ModernClient({ name: 'oubliette-conformance-modern', version: '1.0.0' }, { capabilities: {}, versionNegotiation: { mode } });
  await client.connect(new ModernTransport(new URL(env.url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

/** A modern call: the v2 SDK validates structuredContent too; strict ajv again on top. */
async function modernCall(client, tools, name, args) {
  const result = await client.callTool({ name, arguments: args });
  const tool = tools.find(candidate => candidate.name === name);
  const problems = result.structuredContent !== undefined && tool?.outputSchema ? validateStrict(tool.outputSchema, result.structuredContent) : [];
  return { result, problems, text: textOf(result) };
}

export async function modernEra(env) {
  let client;
  let tools = [];
  await check(GROUP, '2026-07-28 client (@modelcontextprotocol/client 2.4.0, pinned 2026-07-28): server/discover connects', async () => {
    client = await connectModern(env, env.admin, { pin: '2026-07-28' });
    expect(client.getProtocolEra() === 'modern', `negotiated era ${client.getProtocolEra()}, protocol ${client.getNegotiatedProtocolVersion?.()}`);
  });
  if (!client) {
    await check(GROUP, '2026-07-28 client: tools/list and tools/call', () => fail('skipped: the modern client could not connect'));
  } else {
    try {
      await check(GROUP, '2026-07-28 client: tools/list lists the tools with output schemas', async () => {
        tools = (await client.listTools()).tools;
        for (const name of ['project', 'session', 'workspace', 'container', 'config_limits']) {
          expect(tools.some(tool => tool.name === name && tool.outputSchema), `'${name}' missing or without outputSchema: ${tools.map(tool => tool.name).join(', ')}`);
        }
      });
      await check(GROUP, '2026-07-28 client: project {"action":"get"} and session {"action":"list"} validate', async () => {
        for (const [name, args] of [['project', { action: 'get', project_id: env.projectId }], ['session', { action: 'list', project_id: env.projectId }], ['config_limits', { project_id: env.projectId }]]) {
          const { result, problems, text } = await modernCall(client, tools, name, args);
          expect(!result.isError, `${name} ${brief(args)}: tool error ${brief(text)}`);
          expect(problems.length === 0, `${name} ${brief(args)}: strict ajv ${problems.join('; ')}`);
        }
      });
      await check(GROUP, '2026-07-28 client: subscriptions/listen on a session resource is acknowledged and gets notifications/resources/updated on the held stream', async () => {
        await listenedSessionUpdates(env, client);
      });
      await check(GROUP, '2026-07-28 client: subscriptions/listen on an unknown session is refused naming its URI', async () => {
        const uri = 'oubliette://sessions/gogol_20000101_000000_00000000';
        let refusal;
        try {
          const subscription = await client.listen({ resourceSubscriptions: [uri] });
          await subscription.close();
        } catch (error) {
          refusal = error;
        }
        expect(refusal, `listen on ${uri} was acknowledged`);
        expect(String(refusal?.message).includes(uri), `the refusal does not name ${uri}: ${brief(String(refusal?.message ?? refusal))}`);
      });
    } catch (error) {
      fail(String(error));
    } finally {
      await client.close().catch(() => {});
    }
  }

  await check(GROUP, '2026-07-28 client with a project:ro token: the same permissions (spawn refused, get allowed)', async () => {
    const readOnly = await connectModern(env, env.projectRo, { pin: '2026-07-28' });
    try {
      const listed = (await readOnly.listTools()).tools;
      expect(!listed.some(tool => tool.name === 'token'), 'a project:ro token sees the token tool');
      const got = await readOnly.callTool({ name: 'project', arguments: { action: 'get', project_id: env.projectId } });
      expect(!got.isError, `project get refused: ${brief(textOf(got))}`);
      const spawned = await readOnly.callTool({ name: 'session', arguments: { action: 'spawn', project_id: env.projectId, prompt: 'x', new_session: true } });
      expect(spawned.isError && /forbidden/i.test(textOf(spawned)), `spawn with a read-only token was not refused: ${brief(textOf(spawned))}`);
    } finally {
      await readOnly.close().catch(() => {});
    }
  });

  await check(GROUP, "'auto' negotiation (what Claude Code does) settles on the 2026-07-28 era", async () => {
    const auto = await connectModern(env, env.admin, 'auto');
    try {
      expect(auto.getProtocolEra() === 'modern', `'auto' fell back to era ${auto.getProtocolEra()} (protocol ${auto.getNegotiatedProtocolVersion?.()})`);
      expect((await auto.listTools()).tools.length > 0, 'no tools');
    } finally {
      await auto.close().catch(() => {});
    }
  });

  for (const version of ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']) {
    await check(GROUP, `initialize at ${version} is accepted at that version`, async () => {
      const response = await fetch(env.url, {
        method: 'POST',
        headers: { Authorization: `Bearer ${env.admin}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'conformance-raw', version: '1' } } }),
      });
      const body = await response.text();
      expect(response.status === 200, `HTTP ${response.status}: ${brief(body)}`);
      const json = body.trim().startsWith('{') ? JSON.parse(body) : JSON.parse(body.split('\n').find(line => line.startsWith('data:') && line.slice(5).trim() !== '').slice(5)); // skips an SSE priming event (empty data, 2025-11-25)
      expect(json.result?.protocolVersion === version, `answered protocolVersion ${json.result?.protocolVersion}: ${brief(json)}`);
      const session = response.headers.get('mcp-session-id');
      if (session) {
        await fetch(env.url, { method: 'DELETE', headers: { Authorization: `Bearer ${env.admin}`, 'Mcp-Session-Id': session, 'Mcp-Protocol-Version': version } }).catch(() => {});
      }
    });
  }
}

/**
 * A session spawned and idle; the client listens on its resource, the session is messaged (a turn records events),
 * and the update must arrive on the listen stream; closing the subscription ends it locally.
 */
async function listenedSessionUpdates(env, client) {
  const spawned = await client.callTool({ name: 'session', arguments: { action: 'spawn', project_id: env.projectId, prompt: 'conformance-listen: first turn', new_session: true } });
  const sessionId = spawned.structuredContent?.session_id;
  expect(!spawned.isError && sessionId, `spawn failed: ${brief(textOf(spawned))}`);
  const waited = await client.callTool({ name: 'session', arguments: { action: 'wait', session_id: sessionId, until: 'idle', timeout_seconds: 50 } }, { timeout: 90_000 });
  expect(waited.structuredContent?.reached === true, `session ${sessionId} did not reach idle: ${brief(textOf(waited))}`);

  const uri = `oubliette://sessions/${sessionId}`;
  const updates = [];
  client.setNotificationHandler('notifications/resources/updated', notification => { updates.push(notification.params?.uri); });
  const subscription = await client.listen({ resourceSubscriptions: [uri] });
  try {
    expect(subscription.honoredFilter?.resourceSubscriptions?.includes(uri), `the acknowledgement does not grant ${uri}: ${brief(subscription.honoredFilter)}`);
    const messaged = await client.callTool({ name: 'session', arguments: { action: 'message', session_id: sessionId, message: 'conformance-listen: second turn' } });
    expect(!messaged.isError, `message failed: ${brief(textOf(messaged))}`);
    const deadline = Date.now() + 30_000;
    while (!updates.includes(uri) && Date.now() < deadline) await sleep(50);
    expect(updates.includes(uri), `no notifications/resources/updated for ${uri} arrived on the listen stream within 30 s (got ${brief(updates)})`);
  } finally {
    await subscription.close();
    client.removeNotificationHandler('notifications/resources/updated');
  }
  const closed = await Promise.race([subscription.closed, sleep(5_000).then(() => 'still open')]);
  expect(closed === 'local', `after close() the subscription ended as '${closed}'`);
}

function run(command, args, options) {
  return new Promise(resolve => {
    execFile(command, args, { timeout: 60_000, maxBuffer: 32 * 1024 * 1024, ...options }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, signal: error?.signal, stdout, stderr });
    });
  });
}

/** Protocol-level answers an initialize-era client relies on. */
export async function protocol(env, { admin }) {
  await check(GROUP, 'logging/setLevel {"level":"error"} is accepted', async () => {
    await admin.request({ method: 'logging/setLevel', params: { level: 'error' } }, EmptyResultSchema);
    await admin.request({ method: 'logging/setLevel', params: { level: 'info' } }, EmptyResultSchema);
  });
  await check(GROUP, 'logging/setLevel {"level":"loud"} → JSON-RPC -32602 naming the level', async () => {
    try {
      await admin.request({ method: 'logging/setLevel', params: { level: 'loud' } }, EmptyResultSchema);
    } catch (error) {
      expect(error.code === -32602, `answered code ${error.code}: ${error.message}`);
      expect(/loud/.test(error.message) && /level/.test(error.message), `the error does not name the level: ${error.message}`);
      return;
    }
    fail('an invalid level was accepted');
  });
  await check(GROUP, 'DELETE /mcp with an unknown Mcp-Session-Id → 404', async () => {
    const response = await fetch(env.url, { method: 'DELETE', headers: { Authorization: `Bearer ${env.admin}`, 'Mcp-Session-Id': 'conformance-no-such-session', 'Mcp-Protocol-Version': '2025-11-25' } });
    expect(response.status === 404, `answered ${response.status}: ${brief(await response.text())}`);
  });
}

/** The Inspector CLI's tools/list --strict: exit 6 on any error-severity portability finding. */
export async function inspector(env, { admin }) {
  await check(GROUP, 'MCP Inspector CLI 2.12.0: tools/list --strict reports no schema errors', async () => {
    const cli = join(root, 'node_modules', '@modelcontextprotocol', 'inspector', 'clients', 'launcher', 'build', 'index.js');
    const result = await run(process.execPath, [cli, '--cli', env.url, '--transport', 'http', '--header', `Authorization: Bearer ${env.admin}`, '--method', 'tools/list', '--strict', '--format', 'json'], { cwd: root });
    let findings = [];
    try {
      findings = JSON.parse(result.stdout.trim().split('\n').pop()).schemaFindings ?? [];
    } catch {
      // The report is also on stderr.
    }
    const flat = findings.flatMap(item => (item.findings ?? item.issues ?? [item]).map(finding => ({ tool: item.tool ?? item.name ?? item.toolName, ...finding })));
    const errors = flat.filter(finding => finding.severity === 'error');
    const warnings = flat.filter(finding => finding.severity === 'warning');
    console.log(`      inspector: exit ${result.code}, ${errors.length} errors, ${warnings.length} warnings${warnings.length ? ` (e.g. ${brief(warnings[0], 300)})` : ''}`);
    if (result.code !== 0) {
      fail(`exit ${result.code}${result.signal ? ` (${result.signal})` : ''}\n${brief(result.stderr, 3000)}${errors.length ? `\nerrors: ${brief(errors.slice(0, 10), 2000)}` : ''}`);
    }
  });
  await check(GROUP, 'every outputSchema and inputSchema compiles under strict ajv', async () => {
    const problems = admin.tools.flatMap(tool => [['inputSchema', tool.inputSchema], ['outputSchema', tool.outputSchema]]
      .filter(([, schema]) => schema)
      .map(([kind, schema]) => [kind, compileProblems(schema)])
      .filter(([, problem]) => problem)
      .map(([kind, problem]) => `${tool.name}.${kind}: ${problem}`));
    expect(problems.length === 0, problems.join('\n'));
  });
}

/** OpenCode (the pinned host binary from npm, the version the agent image runs) lists the server as connected. */
export async function opencode(env) {
  await check(GROUP, 'OpenCode on the host: `opencode mcp list` connects to the server', async () => {
    const binary = join(root, 'node_modules', 'opencode-linux-x64', 'bin', 'opencode');
    const pinned = (await readFile(join(root, '..', '..', 'images', 'opencode.version'), 'utf8')).trim();
    const installed = JSON.parse(await readFile(join(root, 'node_modules', 'opencode-linux-x64', 'package.json'), 'utf8')).version;
    expect(installed === pinned, `tests/conformance pins opencode-linux-x64 ${installed}, images/opencode.version says ${pinned}`);
    const home = await mkdtemp(join(tmpdir(), 'oubliette-conformance-opencode-'));
    try {
      const config = join(home, 'opencode.json');
      await writeFile(config, JSON.stringify({
        $schema: 'https://opencode.ai/config.json',
        autoupdate: false,
        share: 'disabled',
        mcp: { oubliette: { type: 'remote', url: env.url, enabled: true, headers: { Authorization: `Bearer ${env.projectRo}` } } },
      }));
      const result = await run(binary, ['mcp', 'list'], {
        cwd: home,
        env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data'), XDG_CACHE_HOME: join(home, 'cache'), XDG_STATE_HOME: join(home, 'state'), OPENCODE_CONFIG: config, OPENCODE_DISABLE_AUTOUPDATE: '1', OPENCODE_DISABLE_MODELS_FETCH: '1', NO_COLOR: '1' },
      });
      const output = `${result.stdout}\n${result.stderr}`.replace(/\u001b\[[0-9;]*m/g, '');
      const line = output.split('\n').find(text => text.includes('oubliette')) ?? '';
      expect(result.code === 0, `exit ${result.code}: ${brief(output, 2000)}`);
      expect(/connected/i.test(line) && !/(failed|disconnected|error|needs)/i.test(line), `the oubliette line does not say connected: ${brief(line || output, 2000)}`);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
}
