// Streamable HTTP behaviour a real client depends on: a dropped GET stream resumed with Last-Event-ID without losing a
// push, and long calls kept alive by progress notifications past the client's own request timeout.
import { brief, callTool, check, connectLegacy, describeSdkError, expect, expectAccepted, fail, sleep } from '../lib/harness.mjs';

const GROUP = 'transport';

function deferred() {
  let resolve;
  const promise = new Promise(done => { resolve = done; });
  return { promise, resolve };
}

async function spawnAndWait(client, waiter, env, prompt, extra = {}) {
  const spawned = await callTool(client, 'session', { action: 'spawn', project_id: env.projectId, prompt, new_session: true, ...extra });
  const sessionId = (spawned.data ?? JSON.parse(spawned.text || '{}'))?.session_id;
  expect(sessionId, `spawn failed: ${brief(spawned.text)} ${describeSdkError(spawned.sdkError)}`);
  const waited = await callTool(waiter, 'session', { action: 'wait', session_id: sessionId, until: 'idle', timeout_seconds: 90 }, { timeout: 120_000 });
  const reached = (waited.data ?? JSON.parse(waited.text || '{}'))?.reached;
  expect(reached === true, `session ${sessionId} did not reach idle: ${brief(waited.text)}`);
  return sessionId;
}

function completionOf(client, sessionId) {
  return client.pushes.find(push => push.data?.session_id === sessionId && push.data?.type === 'completion');
}

async function until(predicate, ms) {
  const deadline = Date.now() + ms;
  while (!predicate() && Date.now() < deadline) await sleep(50);
  return predicate();
}

/**
 * Drops the client's GET stream (the TCP connection is aborted), lets the SDK reconnect on its own (with its default
 * policy, as Claude Code does) but holds that reconnect until a push has been sent meanwhile, then expects the push.
 */
export async function resumption(env, { admin }) {
  const gets = [];
  let gate;
  let live;
  const wrapped = async (url, init = {}) => {
    if ((init.method ?? 'GET') !== 'GET') return fetch(url, init);
    if (gate) await gate.promise;
    const controller = new AbortController();
    live = controller;
    const record = { lastEventId: new Headers(init.headers).get('last-event-id'), at: Date.now() };
    gets.push(record);
    const response = await fetch(url, { ...init, signal: init.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal });
    record.status = response.status;
    return response;
  };
  const client = await connectLegacy(env.url, env.project, { fetch: wrapped, name: 'conformance-resumption' });
  try {
    let first;
    await check(GROUP, 'GET stream: opened after initialize and a completion push arrives on it', async () => {
      expect(await until(() => gets.length > 0 && gets[0].status !== undefined, 10_000), 'the SDK opened no GET stream');
      expect(gets[0].status === 200, `GET /mcp answered ${gets[0].status}`);
      first = await spawnAndWait(client, client, env, 'conformance-resume: first turn');
      expect(await until(() => completionOf(client, first), 10_000), `no completion push for ${first}; pushes: ${brief(client.pushes.map(push => push.data?.type))}`);
    });

    let second;
    await check(GROUP, 'GET stream dropped: a push sent while the client reconnects is delivered after Last-Event-ID resumption', async () => {
      gate = deferred();
      const before = gets.length;
      live.abort();
      // The SDK notices the drop and asks again (held by the gate); meanwhile a session completes and is pushed.
      second = await spawnAndWait(client, admin, env, 'conformance-resume: while the stream is down');
      await sleep(500);
      gate.resolve();
      gate = undefined;
      const arrived = await until(() => completionOf(client, second), 15_000);
      const reconnects = gets.slice(before);
      const problems = [];
      if (reconnects.length === 0) problems.push('the SDK did not reconnect the GET stream');
      else {
        if (!reconnects[0].lastEventId) problems.push('the reconnecting GET carried no Last-Event-ID (the server sent no SSE event ids)');
        if (reconnects.some(item => item.status !== 200)) problems.push(`reconnecting GETs answered ${reconnects.map(item => item.status).join(', ')}`);
      }
      if (!arrived) problems.push(`the completion push of ${second} (sent while the stream was down) never arrived; pushes after the drop: ${brief(client.pushes.filter(push => push.at > reconnects[0]?.at).map(push => push.data?.type))}`);
      if (problems.length > 0) fail(problems.join('\n'));
    });

    await check(GROUP, 'GET stream: a new GET (no Last-Event-ID) on the same MCP session replaces a dropped one', async () => {
      const sessionId = client.transport.sessionId;
      expect(sessionId, 'the client has no Mcp-Session-Id');
      gate = deferred(); // keep the SDK's own reconnect out of the way
      live?.abort();
      await sleep(300);
      const controller = new AbortController();
      const response = await fetch(env.url, {
        method: 'GET',
        headers: { Authorization: `Bearer ${env.project}`, Accept: 'text/event-stream', 'Mcp-Session-Id': sessionId, 'Mcp-Protocol-Version': client.transport.protocolVersion ?? '2025-11-25' },
        signal: controller.signal,
      });
      const status = response.status;
      const body = status === 200 ? '' : await response.text();
      controller.abort();
      expect(status === 200, `GET answered ${status}: ${brief(body)}`);
    });
  } finally {
    gate?.resolve();
    await client.close().catch(() => {});
  }
}

/**
 * A 15 s wait and a 15 s long poll with a 5 s request timeout: only progress notifications (resetTimeoutOnProgress)
 * keep them alive, as the TS SDK's 60 s default would kill 90 s waits.
 */
export async function longCalls(env, { admin }) {
  const client = await connectLegacy(env.url, env.project, { name: 'conformance-long-calls' });
  try {
    let sessionId;
    let lastIndex;
    await check(GROUP, 'long calls: a session in its own workspace, idle', async () => {
      sessionId = await spawnAndWait(client, client, env, 'conformance-long-calls: say something', { create_workspace: true });
      const events = await callTool(client, 'session', { action: 'events', session_id: sessionId, since_index: -1 });
      const data = events.data ?? JSON.parse(events.text || '{}');
      lastIndex = data.last_index ?? data.last_event_index;
      expect(typeof lastIndex === 'number', `no last index: ${brief(data)}`);
    });
    if (!sessionId) return;
    const long = async (name, args) => check(GROUP, `${name} with a 5 s request timeout, kept alive by notifications/progress`, async () => {
      const progress = [];
      const started = Date.now();
      const outcome = await callTool(client, 'session', args, {
        timeout: 5_000,
        resetTimeoutOnProgress: true,
        onprogress: update => progress.push(update),
      });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (outcome.sdkError && !outcome.raw) {
        fail(`failed after ${seconds} s with ${progress.length} progress notifications: ${describeSdkError(outcome.sdkError)}`);
      }
      expectAccepted(outcome, `session ${args.action}`);
      expect(progress.length > 0, `no notifications/progress in ${seconds} s`);
      expect(Date.now() - started >= 14_000, `returned after ${seconds} s, before the 15 s it was asked to wait: ${brief(outcome.data)}`);
    });
    await Promise.all([
      long('session wait {until: completed, timeout_seconds: 15} on an idle session', { action: 'wait', session_id: sessionId, until: 'completed', timeout_seconds: 15 }),
      long('session events {wait_seconds: 15} with nothing new', { action: 'events', session_id: sessionId, since_index: lastIndex, wait_seconds: 15 }),
    ]);
    await callTool(admin, 'session', { action: 'end', session_id: sessionId });
  } finally {
    await client.close().catch(() => {});
  }
}
