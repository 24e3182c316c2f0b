#!/usr/bin/env node
// The conformance suite: drives a running Oubliette server like real clients do. Started by
// tests/Oubliette.EndToEnd/ConformanceTests.cs (which starts the server and passes the environment); prints one line
// per check and exits 1 when any check fails.
//
// Groups run concurrently (the long calls and stream checks spend most of their time waiting); set
// CONFORMANCE_ONLY=tools,transport,clients to run some of them.
import { brief, callTool, check, connectLegacy, environment, expect, fail, summary } from './lib/harness.mjs';
import * as tools from './checks/tools.mjs';
import * as transport from './checks/transport.mjs';
import * as clients from './checks/clients.mjs';

if (Number(process.versions.node.split('.')[0]) < 20) {
  console.log(`FAIL  the conformance suite needs Node.js 20 or later; this is ${process.version}`);
  process.exit(1);
}

const env = environment();
const started = Date.now();
const want = group => !env.only || env.only.includes(group);

const connected = {};
for (const [key, token] of [['admin', env.admin], ['adminRo', env.adminRo], ['project', env.project], ['projectRo', env.projectRo]]) {
  const ok = await check('connect', `initialize (@modelcontextprotocol/sdk 1.32.2) and tools/list with the ${key} token`, async () => {
    connected[key] = await connectLegacy(env.url, token, { name: `conformance-${key}` });
    connected[key].label = key;
  });
  if (!ok) {
    summary();
    console.log('cannot go on without every client');
    process.exit(1);
  }
}

// The project's agent starts with its first session: start it once here rather than in every group at once.
await check('connect', 'warm-up: a first session in the project runs to idle', async () => {
  const spawned = await callTool(connected.admin, 'session', { action: 'spawn', project_id: env.projectId, prompt: 'conformance warm-up', new_session: true });
  const sessionId = (spawned.data ?? JSON.parse(spawned.text || '{}')).session_id;
  expect(sessionId, `spawn failed: ${brief(spawned.text)}`);
  const waited = await callTool(connected.admin, 'session', { action: 'wait', session_id: sessionId, until: 'idle', timeout_seconds: 120 }, { timeout: 150_000 });
  expect((waited.data ?? JSON.parse(waited.text || '{}')).reached === true, `the warm-up session did not finish: ${brief(waited.text)}`);
  await callTool(connected.admin, 'session', { action: 'end', session_id: sessionId });
});

async function toolMatrix() {
  await tools.toolList(env, connected);
  await tools.tokens(env, connected);
  const scratch = await tools.projects(env, connected);
  await tools.workspaces(env, connected, scratch);
  const sessionId = await tools.sessions(env, connected);
  await tools.configLimits(env, connected, sessionId);
  await tools.schedules(env, connected, scratch);
  await tools.containers(env, connected, scratch);
}

async function guarded(name, body) {
  try {
    await body();
  } catch (error) {
    await check(name, 'the group ran to its end', () => fail(error?.stack ?? String(error)));
  }
}

await Promise.all([
  want('tools') && guarded('tools', toolMatrix),
  want('transport') && guarded('transport', () => transport.longCalls(env, connected)),
  want('transport') && guarded('transport', () => transport.resumption(env, connected)),
  want('clients') && guarded('clients', async () => {
    await clients.inspector(env, connected);
    await clients.protocol(env, connected);
    await clients.modernEra(env);
    await clients.opencode(env);
  }),
]);

for (const client of Object.values(connected)) {
  await client.close().catch(() => {});
}
const failed = summary();
console.log(`conformance suite ran in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failed > 0 ? 1 : 0);
