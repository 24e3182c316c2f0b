// Every tool × every action, with valid input and with bad input, through the official SDK's callTool and strict ajv.
import { brief, callTool, check, expect, expectAccepted, expectToolError, fail, sleep, unique } from '../lib/harness.mjs';

const GROUP = 'tools';

function label(client, tool, args) {
  return `${tool} ${brief(args, 200)}${client.label && client.label !== 'admin' ? ` as ${client.label}` : ''}`;
}

/** A valid call: accepted by the SDK and strict ajv; `inspect` checks documented fields. Returns what the server sent. */
async function valid(client, tool, args, inspect, options) {
  let data;
  await check(GROUP, `${label(client, tool, args)} → valid result`, async () => {
    const outcome = await callTool(client, tool, args, options);
    data = outcome.data ?? parseText(outcome.text);
    expectAccepted(outcome, `${tool} ${args.action ?? ''}`.trim());
    if (inspect) inspect(data);
  });
  return data;
}

/** A documented field check on a result the caller already has (its own line, so a misnamed field is reported apart). */
async function fields(tool, action, data, inspect) {
  await check(GROUP, `${tool} ${action}: documented result fields`, async () => {
    expect(data !== undefined, `no result to inspect (the call itself failed)`);
    inspect(data);
  });
}

async function invalid(client, tool, args, names, { after, why, prefix } = {}) {
  await check(GROUP, `${label(client, tool, args)} → tool error naming ${names.map(name => `'${name}'`).join(', ')}${why ? ` (${why})` : ''}`, async () => {
    const outcome = await callTool(client, tool, args);
    expectToolError(outcome, `${tool} ${args.action ?? '(no action)'}`, names, { prefix });
    if (after) await after(outcome);
  });
}

function parseText(text) {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

function has(object, path, type) {
  const value = path.split('.').reduce((current, key) => (current == null ? undefined : current[key]), object);
  if (value === undefined) fail(`'${path}' is missing; got keys ${brief(Object.keys(path.includes('.') ? (path.split('.').slice(0, -1).reduce((c, k) => c?.[k], object) ?? {}) : object ?? {}))} in ${brief(object, 400)}`);
  if (type === 'array') expect(Array.isArray(value), `'${path}' is not an array: ${brief(value)}`);
  else if (type === 'nullable-string') expect(value === null || typeof value === 'string', `'${path}' is neither null nor a string: ${brief(value)}`);
  else if (type) expect(typeof value === type, `'${path}' is ${typeof value}, expected ${type}: ${brief(value)}`);
  return value;
}

/** Every tool is listed with an input and an output schema that strict ajv compiles. */
export async function toolList(env, clients) {
  const expected = ['token', 'project', 'workspace', 'container', 'session', 'schedule', 'config_limits', 'caller_tool_response'];
  await check(GROUP, `tools/list (admin) lists ${expected.join(', ')}, each with inputSchema and outputSchema`, async () => {
    const names = clients.admin.tools.map(tool => tool.name);
    for (const name of expected) {
      const tool = clients.admin.tools.find(candidate => candidate.name === name);
      expect(tool, `'${name}' is not listed (listed: ${names.join(', ')})`);
      expect(tool.inputSchema?.type === 'object', `'${name}' has no object inputSchema`);
      expect(tool.outputSchema?.type === 'object', `'${name}' has no object outputSchema: ${brief(tool.outputSchema)}`);
    }
  });
  await check(GROUP, 'every listed tool is one this suite exercises (a new tool needs its checks here)', async () => {
    const unknown = clients.admin.tools.map(tool => tool.name).filter(name => !expected.includes(name));
    expect(unknown.length === 0, `no conformance checks for: ${unknown.join(', ')}`);
  });
  await check(GROUP, 'tools/list (project token) hides the admin-only token tool', async () => {
    const names = clients.project.tools.map(tool => tool.name);
    expect(!names.includes('token'), `the project token sees: ${names.join(', ')}`);
    expect(names.includes('session'), `the project token does not see session: ${names.join(', ')}`);
  });
}

export async function tokens(env, { admin, adminRo }) {
  const created = await valid(admin, 'token', { action: 'create', name: unique('conformance'), scope: 'admin:ro', expires: '30d' }, data => {
    const secret = has(data, 'secret', 'string');
    expect(secret.startsWith('oub_'), `'secret' does not start with oub_: ${brief(secret.slice(0, 6))}`);
    const id = has(data, 'token.id', 'string');
    expect(id.startsWith('tok_'), `'token.id' is not a tok_ id: ${id}`);
    has(data, 'token.scope', 'string');
  });
  await valid(admin, 'token', { action: 'list' }, data => {
    const list = has(data, 'tokens', 'array');
    expect(list.length >= 1, 'no tokens listed');
    expect(list.every(token => !('secret' in token)), 'a listed token carries a secret');
  });
  const before = await countTokens(admin);
  await invalid(admin, 'token', { action: 'create', name: unique('bad-scope'), scope: 'superuser' }, ['scope'], {
    after: async () => expect((await countTokens(admin)) === before, 'a token was created by the refused call'),
  });
  await invalid(admin, 'token', { action: 'create', name: unique('bad-expiry'), scope: 'admin:ro', expires: 'soon' }, ['expires']);
  await invalid(admin, 'token', { action: 'revoke', token_id: 12 }, ['token_id', 'string'], { why: 'wrong JSON type' });
  await invalid(admin, 'token', { action: 'revoke', token_id: 'tok_nothere' }, ['token_id']);
  await invalid(admin, 'token', { action: 'list', colour: 'blue' }, ['colour'], { why: 'unknown argument' });
  await invalid(admin, 'token', { action: 'rotate' }, ['action', 'create', 'list', 'revoke']);
  await invalid(admin, 'token', {}, ['action', 'create', 'list', 'revoke'], { why: 'no action' });
  const tokenId = created?.token?.id;
  if (tokenId) {
    await valid(admin, 'token', { action: 'revoke', token_id: tokenId }, data => has(data, 'revoked.id', 'string'));
  } else {
    await check(GROUP, 'token revoke → valid result', () => fail('skipped: token create gave no token.id'));
  }
  await check(GROUP, 'token {"action":"list"} with an admin:ro token → refused (tool error or unknown tool), no tokens returned', async () => {
    const outcome = await callTool(adminRo, 'token', { action: 'list' });
    expect(outcome.sdkError || outcome.raw?.isError, `admin:ro listed tokens: ${brief(outcome.data ?? outcome.text)}`);
  });
}

async function countTokens(admin) {
  const outcome = await callTool(admin, 'token', { action: 'list' });
  return (outcome.data ?? parseText(outcome.text))?.tokens?.length;
}

async function countProjects(admin) {
  const outcome = await callTool(admin, 'project', { action: 'list' });
  return (outcome.data ?? parseText(outcome.text))?.projects?.length;
}

/** Creates the scratch project the container and workspace checks use; returns its id. */
export async function projects(env, { admin, adminRo, project }) {
  const options = await valid(admin, 'project', { action: 'options' });
  await fields('project', 'options', options, data => {
    has(data, 'options.models', 'array');
    has(data, 'options.container_types');
    has(data, 'options.credentials');
    has(data, 'options.defaults');
  });
  const name = unique('conformance-scratch');
  const created = await valid(admin, 'project', { action: 'create', name, description: 'conformance scratch project', container_type: 'base', autonomy: 'off', reasoning: 'low', max_cost_usd: 1 }, data => {
    has(data, 'project.id', 'string');
    has(data, 'project.default_workspace_id', 'string');
  });
  const plain = await valid(admin, 'project', { action: 'create', name: unique('conformance-plain'), container_type: 'base', init_git: false });
  const scratch = created?.project?.id;
  await valid(admin, 'project', { action: 'list', name_contains: 'conformance', limit: 50 }, data => {
    const list = has(data, 'projects', 'array');
    expect(list.some(item => item.id === scratch), `the created project ${scratch} is not in the list`);
  });
  await valid(admin, 'project', { action: 'get', project_id: scratch ?? env.projectId }, data => {
    has(data, 'project.id', 'string');
    has(data, 'project.name', 'string');
    has(data, 'project.created_at', 'string');
    has(data, 'project.description', 'nullable-string');
  });
  await valid(project, 'project', { action: 'list' }, data => {
    const list = has(data, 'projects', 'array');
    expect(list.length === 1 && list[0].id === env.projectId, `a project token sees ${list.map(item => item.id).join(', ')}, not just ${env.projectId}`);
  });
  const before = await countProjects(admin);
  await invalid(admin, 'project', { action: 'list', limit: 'ten' }, ['limit', 'integer'], { why: 'wrong JSON type' });
  await invalid(admin, 'project', { action: 'create', name: unique('conf-bad'), autonomy: 'extreme' }, ['autonomy'], {
    after: async () => expect((await countProjects(admin)) === before, 'a project was created by the refused call'),
  });
  await invalid(admin, 'project', { action: 'create', name: unique('conf-bad'), container_type: 'nope' }, ['container_type']);
  await invalid(admin, 'project', { action: 'create', name: unique('conf-bad'), max_recursion_depth: -1 }, ['max_recursion_depth']);
  await invalid(admin, 'project', { action: 'create' }, ['name'], { why: 'missing name' });
  await invalid(admin, 'project', { action: 'create', name }, ['name', name], { why: 'name taken', prefix: true });
  await invalid(admin, 'project', { action: 'get', project_id: 'not-a-uuid' }, ['project_id']);
  await invalid(admin, 'project', { action: 'get', project_id: '00000000-0000-4000-8000-000000000000' }, ['project_id']);
  await invalid(admin, 'project', { action: 'launch' }, ['action', 'create', 'list', 'get', 'delete', 'options']);
  await invalid(admin, 'project', {}, ['action', 'create', 'list', 'get', 'delete', 'options'], { why: 'no action' });
  await invalid(admin, 'project', { action: 'list', sort: 'name' }, ['sort'], { why: 'unknown argument' });
  await invalid(adminRo, 'project', { action: 'create', name: unique('conf-ro') }, ['forbidden'], { why: 'read-only token' });
  if (plain?.project?.id) {
    await valid(admin, 'project', { action: 'delete', project_id: plain.project.id, force: true });
  } else {
    await check(GROUP, 'project delete → valid result', () => fail('skipped: project create gave no project.id'));
  }
  return scratch;
}

export async function workspaces(env, { admin, project }, scratch) {
  const projectId = scratch ?? env.projectId;
  const list = await valid(admin, 'workspace', { action: 'list', project_id: projectId }, data => has(data, 'workspaces', 'array'));
  const created = await valid(admin, 'workspace', { action: 'create', project_id: projectId, external_id: unique('ext') }, data => {
    has(data, 'workspace.id', 'string');
  });
  await invalid(admin, 'workspace', { action: 'list', project_id: 42 }, ['project_id', 'string'], { why: 'wrong JSON type' });
  await invalid(admin, 'workspace', { action: 'delete', project_id: projectId, workspace_id: '../../etc' }, ['workspace_id']);
  const defaultWorkspace = list?.workspaces?.[0]?.id;
  if (defaultWorkspace) {
    await invalid(admin, 'workspace', { action: 'delete', project_id: projectId, workspace_id: defaultWorkspace }, ['default'], { why: 'the default workspace' });
  }
  await invalid(admin, 'workspace', { action: 'create', project_id: projectId, source: 'file:///etc' }, ['source']);
  await invalid(admin, 'workspace', { action: 'rename', project_id: projectId }, ['action', 'list', 'create', 'delete']);
  await invalid(project, 'workspace', { action: 'list', project_id: projectId }, ['forbidden', projectId], { why: 'another project\'s token' });
  if (created?.workspace?.id) {
    await valid(admin, 'workspace', { action: 'delete', project_id: projectId, workspace_id: created.workspace.id });
  } else {
    await check(GROUP, 'workspace delete → valid result', () => fail('skipped: workspace create gave no workspace.id'));
  }
}

export async function containers(env, { admin, projectRo }, scratch) {
  const projectId = scratch ?? env.projectId;
  await valid(admin, 'container', { action: 'start', project_id: projectId });
  await valid(admin, 'container', { action: 'status', project_id: projectId });
  const exec = await valid(admin, 'container', { action: 'exec', project_id: projectId, command: 'echo conformance-out; echo conformance-err >&2; exit 3', timeout_seconds: 30 });
  await fields('container', 'exec', exec, data => {
    expect(has(data, 'stdout', 'string').includes('conformance-out'), `stdout: ${brief(data.stdout)}`);
    expect(has(data, 'stderr', 'string').includes('conformance-err'), `stderr: ${brief(data.stderr)}`);
    expect(has(data, 'exit_code', 'number') === 3, `exit_code: ${data.exit_code}`);
  });
  await valid(admin, 'container', { action: 'exec', project_id: projectId, command: 'pwd', working_dir: '/tmp' }, data => {
    expect(String(data.stdout ?? data.exec?.stdout).trim() === '/tmp', `pwd in /tmp printed ${brief(data)}`);
  });
  await valid(admin, 'container', { action: 'logs', project_id: projectId, tail: 20 });
  await valid(admin, 'container', { action: 'logs', project_id: projectId, since: '10m' });
  await invalid(admin, 'container', { action: 'exec', project_id: projectId, command: 'true', working_dir: '/does/not/exist' }, ['working_dir'], { why: 'missing directory' });
  await invalid(admin, 'container', { action: 'exec', project_id: projectId, command: 'true', timeout_seconds: 'soon' }, ['timeout_seconds', 'integer'], { why: 'wrong JSON type' });
  await invalid(admin, 'container', { action: 'exec', project_id: projectId, command: 'true', timeout_seconds: 99999 }, ['timeout_seconds']);
  await invalid(admin, 'container', { action: 'exec', project_id: projectId }, ['command'], { why: 'missing command' });
  await invalid(admin, 'container', { action: 'logs', project_id: projectId, since: 'yesterday-ish' }, ['since']);
  await invalid(admin, 'container', { action: 'reboot', project_id: projectId }, ['action', 'start', 'stop', 'restart', 'status', 'exec', 'logs', 'refresh']);
  // Already current: nothing removed, the result still matches the output schema.
  await valid(admin, 'container', { action: 'refresh', project_id: projectId }, data => {
    if (data.refreshed !== false || !Array.isArray(data.removed) || data.removed.length !== 0 || !data.status) {
      throw new Error(`refresh of a current container: ${JSON.stringify(data)}`);
    }
  });
  await valid(admin, 'container', { action: 'refresh', project_id: projectId, force: true });
  await invalid(projectRo, 'container', { action: 'refresh', project_id: env.projectId }, ['forbidden'], { why: 'read-only token' });
  await invalid(admin, 'container', { action: 'refresh', project_id: projectId, force: 'yes' }, ['force', 'boolean'], { why: 'wrong JSON type' });
  await invalid(projectRo, 'container', { action: 'exec', project_id: env.projectId, command: 'true' }, ['forbidden'], { why: 'read-only token' });
  await valid(admin, 'container', { action: 'restart', project_id: projectId });
  await valid(admin, 'container', { action: 'stop', project_id: projectId });
}

export async function configLimits(env, { admin, project }, sessionId) {
  const limits = await valid(admin, 'config_limits', {});
  await fields('config_limits', '{}', limits, data => {
    for (const name of ['max_recursion_depth', 'max_agents_per_session', 'max_cost_usd', 'max_active_sessions_per_project']) {
      expect(JSON.stringify(data).includes(`"${name}"`), `'${name}' is missing: ${brief(data, 400)}`);
    }
  });
  await valid(admin, 'config_limits', { project_id: env.projectId });
  await valid(project, 'config_limits', { project_id: env.projectId });
  if (sessionId) {
    await valid(admin, 'config_limits', { session_id: sessionId });
  }
  await invalid(admin, 'config_limits', { project_id: 'nope' }, ['project_id']);
  await invalid(admin, 'config_limits', { session_id: 7 }, ['session_id', 'string'], { why: 'wrong JSON type' });
  await invalid(admin, 'config_limits', { verbose: true }, ['verbose'], { why: 'unknown argument' });
}

/**
 * Every session action on the fixture's project; also lends a caller tool to a scripted conversation and answers the
 * agent's call with caller_tool_response. Returns a session id for later checks.
 */
export async function sessions(env, { admin, project, projectRo }) {
  const projectId = env.projectId;
  const spawned = await valid(project, 'session', { action: 'spawn', project_id: projectId, prompt: 'conformance: say hello', new_session: true, autonomy: 'off', reasoning: 'low' }, data => {
    for (const [name, type] of [['session_id', 'string'], ['status', 'string'], ['resumed', 'boolean'], ['workspace_id', 'string'], ['last_event_index', 'number']]) {
      has(data, name, type);
    }
  });
  const sessionId = spawned?.session_id;
  if (!sessionId) {
    await check(GROUP, 'session actions after spawn', () => fail('skipped: spawn gave no session_id'));
    return undefined;
  }
  await valid(project, 'session', { action: 'wait', session_id: sessionId, until: 'idle', timeout_seconds: 90 }, data => {
    expect(has(data, 'reached', 'boolean') === true, `the session did not reach idle: ${brief(data)}`);
  }, { timeout: 120_000 });
  const got = await valid(projectRo, 'session', { action: 'get', session_id: sessionId });
  await fields('session', 'get', got, data => {
    has(data, 'session.status', 'string');
    expect(has(data, 'session.root_session_id', 'string') === sessionId, `root_session_id of a root session is ${data.session.root_session_id}`);
    expect(has(data, 'session.depth', 'number') === 0, `depth of a root session is ${data.session.depth}`);
    has(data, 'session.children', 'array');
    const parent = data.session.parent_session_id;
    expect(parent === undefined || parent === null, `a root session has parent_session_id ${parent}`);
  });
  const events = await valid(projectRo, 'session', { action: 'events', session_id: sessionId, since_index: -1 });
  await fields('session', 'events', events, data => {
    has(data, 'last_index', 'number');
    const list = has(data, 'events', 'array');
    expect(list.length > 0, 'no events');
    for (const name of ['index', 'timestamp', 'type', 'session_id']) {
      expect(list.every(event => name in event), `an event has no '${name}': ${brief(list[0])}`);
    }
  });
  await valid(projectRo, 'session', { action: 'events', session_id: sessionId, since_index: 0, max_events: 2 }, data => has(data, 'events', 'array'));
  await valid(projectRo, 'session', { action: 'events', session_id: sessionId, include_children: true, max_events: 10 }, data => has(data, 'cursors'));
  await valid(projectRo, 'session', { action: 'list', project_id: projectId }, data => {
    expect(has(data, 'sessions', 'array').some(item => JSON.stringify(item).includes(sessionId)), `${sessionId} is not listed`);
  });
  await valid(projectRo, 'session', { action: 'list', project_id: projectId, status: 'idle' });
  await valid(project, 'session', { action: 'message', session_id: sessionId, message: 'conformance: and again' }, data => has(data, 'session_id', 'string'));
  await valid(project, 'session', { action: 'wait', session_id: sessionId, until: 'idle', timeout_seconds: 90 }, undefined, { timeout: 120_000 });
  const resumed = await valid(project, 'session', { action: 'message', project_id: projectId, message: 'conformance: by project' }, data => has(data, 'session_id', 'string'));
  if (resumed?.session_id) {
    await valid(project, 'session', { action: 'wait', session_id: resumed.session_id, until: 'idle', timeout_seconds: 90 }, undefined, { timeout: 120_000 });
  }

  await callerTool(env, { project }, sessionId);

  // Bad input, each refused with the field named.
  await invalid(project, 'session', { action: 'spawn', project_id: projectId, prompt: 'x', reasoning: 'ultra', new_session: true }, ['reasoning']);
  await invalid(project, 'session', { action: 'spawn', project_id: projectId, prompt: 'x', reasoning: 'ultra' }, ['reasoning'], { why: 'resuming an idle session validates too' });
  await invalid(project, 'session', { action: 'spawn', project_id: projectId, prompt: 'x', autonomy: 'total', new_session: true }, ['autonomy']);
  await invalid(project, 'session', { action: 'spawn', project_id: projectId, new_session: true }, ['prompt'], { why: 'missing prompt' });
  await invalid(project, 'session', { action: 'spawn', project_id: projectId, prompt: 'x', model: 'no-such-model', new_session: true }, ['model']);
  await invalid(project, 'session', { action: 'spawn', project_id: projectId, prompt: 'x', caller_id: 'bad id!', caller_tools: [{ name: 'lookup' }] }, ['caller_id']);
  await invalid(project, 'session', { action: 'wait', session_id: sessionId, until: 'done', timeout_seconds: 1 }, ['until', 'idle', 'completed']);
  await invalid(project, 'session', { action: 'wait', session_id: sessionId, until: 'idle', timeout_seconds: 'long' }, ['timeout_seconds', 'integer'], { why: 'wrong JSON type' });
  await invalid(projectRo, 'session', { action: 'events', session_id: sessionId, since_index: 'start' }, ['since_index', 'integer'], { why: 'wrong JSON type' });
  await invalid(projectRo, 'session', { action: 'events', session_id: sessionId, wait_seconds: 9999 }, ['wait_seconds']);
  await invalid(projectRo, 'session', { action: 'get', session_id: 'gogol_19700101_000000_deadbeef' }, ['session_id']);
  await invalid(projectRo, 'session', { action: 'list', project_id: projectId, status: 'sleeping' }, ['status']);
  await invalid(projectRo, 'session', { action: 'spawn', project_id: projectId, prompt: 'x', new_session: true }, ['forbidden'], { why: 'read-only token' });
  await invalid(project, 'session', { action: 'pause', session_id: sessionId }, ['action', 'spawn', 'message', 'get', 'list', 'events', 'wait', 'end', 'cleanup']);
  await invalid(project, 'session', { action: 'get', session_id: sessionId, verbose: true }, ['verbose'], { why: 'unknown argument' });

  const ended = await valid(project, 'session', { action: 'end', session_id: sessionId });
  await fields('session', 'end', ended, data => has(data, 'session.status', 'string'));
  await valid(project, 'session', { action: 'cleanup', project_id: projectId, max_age_hours: 1000 });
  await invalid(project, 'session', { action: 'cleanup', project_id: projectId, max_age_hours: 'old' }, ['max_age_hours', 'number'], { why: 'wrong JSON type' });
  return sessionId;
}

/**
 * Every schedule action, as a project token (its own project), a read-only token and admin:ro would call them, plus bad
 * input. The cron expressions are due once a year: only the trigger runs the agent (one run in the fixture's project).
 */
export async function schedules(env, { admin, adminRo, project, projectRo }, scratch) {
  const projectId = env.projectId;
  const other = scratch ?? projectId;
  const name = unique('conformance-schedule');
  const created = await valid(project, 'schedule', {
    action: 'create', name, cron_expr: '0 0 1 1 *', time_zone: 'Europe/Berlin', prompt: 'conformance: scheduled hello',
    targets: [{ project_id: projectId }], session_behavior: 'new', overlap_behavior: 'skip',
  }, data => {
    expect(has(data, 'schedule.id', 'string').startsWith('sch_'), `'schedule.id' is not a sch_ id: ${data.schedule.id}`);
    expect(has(data, 'next_runs', 'array').length === 5, `next_runs has ${data.next_runs.length} entries, not 5`);
    expect(has(data, 'schedule.next_run_at', 'string') === data.next_runs[0], 'next_run_at is not the first of next_runs');
    expect(has(data, 'schedule.targets', 'array').length === 1, 'one target was given');
    has(data, 'schedule.creator_token_id', 'string');
  });
  const scheduleId = created?.schedule?.id;
  const paused = await valid(admin, 'schedule', {
    action: 'create', name: unique('conformance-paused'), cron_expr: '30 0 0 1 1 *', prompt: 'conformance: never due',
    targets: [{ project_id: projectId }, { project_id: other }], enabled: false,
  }, data => {
    expect(has(data, 'next_runs', 'array').length === 0, `a disabled schedule lists next runs: ${brief(data.next_runs)}`);
    expect(!('next_run_at' in data.schedule), 'a disabled schedule has a next_run_at');
  });
  const pausedId = paused?.schedule?.id;
  if (!scheduleId) {
    await check(GROUP, 'schedule actions after create', () => fail('skipped: create gave no schedule.id'));
    return;
  }

  await valid(project, 'schedule', { action: 'list' }, data => {
    const ids = has(data, 'schedules', 'array').map(item => item.id);
    expect(ids.includes(scheduleId), `the project token does not list its schedule ${scheduleId}`);
    expect(other === projectId || !ids.includes(pausedId), 'the project token lists a schedule that also targets another project');
  });
  await valid(adminRo, 'schedule', { action: 'list', enabled: false, project_id: projectId }, data => {
    expect(has(data, 'schedules', 'array').some(item => item.id === pausedId), `admin:ro does not list the disabled schedule ${pausedId}`);
  });
  await valid(projectRo, 'schedule', { action: 'get', schedule_id: scheduleId }, data => {
    expect(has(data, 'next_runs', 'array').length === 5, 'get shows 5 next runs');
    expect(!('last_execution' in data), 'a schedule that never ran has a last_execution');
  });
  await valid(project, 'schedule', { action: 'update', schedule_id: scheduleId, prompt: 'conformance: scheduled hello again', overlap_behavior: 'queue' }, data => {
    expect(has(data, 'schedule.overlap_behavior', 'string') === 'queue', `overlap_behavior is ${data.schedule.overlap_behavior}`);
  });
  const triggered = await valid(project, 'schedule', { action: 'trigger', schedule_id: scheduleId }, data => {
    expect(has(data, 'schedule_id', 'string') === scheduleId, `schedule_id is ${data.schedule_id}`);
    expect(has(data, 'execution_ids', 'array').length === 1, `one target, ${data.execution_ids.length} executions`);
  });
  const executionId = triggered?.execution_ids?.[0];
  await valid(projectRo, 'schedule', { action: 'history', schedule_id: scheduleId, limit: 5 }, data => {
    const executions = has(data, 'executions', 'array');
    expect(executions.some(item => item.id === executionId), `the triggered execution ${executionId} is not in the history`);
    for (const field of ['id', 'schedule_id', 'project_id', 'trigger', 'due_at', 'status', 'tokens_in', 'tokens_out', 'cost_usd']) {
      expect(executions.every(item => field in item), `an execution has no '${field}': ${brief(executions[0])}`);
    }
  });
  await valid(admin, 'schedule', { action: 'get', schedule_id: scheduleId }, data => has(data, 'last_execution.id', 'string'));
  if (pausedId) {
    await valid(adminRo, 'schedule', { action: 'history', schedule_id: pausedId, target: projectId }, data => has(data, 'executions', 'array'));
  }
  await valid(admin, 'project', { action: 'get', project_id: projectId }, data => {
    expect(has(data, 'project.schedules', 'number') >= 1, `project get counts ${data.project.schedules} schedules`);
  });

  const count = async () => (await callTool(admin, 'schedule', { action: 'list' })).data?.schedules?.length;
  const before = await count();
  const target = [{ project_id: projectId }];
  await invalid(project, 'schedule', { action: 'create', name: unique('conf-bad'), cron_expr: '0 25 * * *', prompt: 'x', targets: target }, ['cron_expr', 'hour', '25'], {
    after: async () => expect((await count()) === before, 'a schedule was created by the refused call'),
  });
  await invalid(project, 'schedule', { action: 'create', name: unique('conf-bad'), cron_expr: '* * *', prompt: 'x', targets: target }, ['cron_expr'], { why: '3 fields' });
  await invalid(project, 'schedule', { action: 'create', name: unique('conf-bad'), cron_expr: '0 9 * * *', time_zone: 'Mars/Base', prompt: 'x', targets: target }, ['time_zone', 'Mars/Base']);
  await invalid(project, 'schedule', { action: 'create', name: unique('conf-bad'), cron_expr: '0 9 * * *', prompt: 'x', targets: [] }, ['targets'], { why: 'no targets' });
  await invalid(project, 'schedule', { action: 'create', name: unique('conf-bad'), cron_expr: '0 9 * * *', prompt: 'x', targets: [{ project_id: projectId }, { project_id: projectId }] }, ['targets[1]', 'targets[0]'], { why: 'duplicate target' });
  await invalid(project, 'schedule', { action: 'create', name: unique('conf-bad'), cron_expr: '0 9 * * *', prompt: 'x', targets: [{ project_id: 5 }] }, ['targets[0].project_id', 'string'], { why: 'wrong JSON type' });
  await invalid(project, 'schedule', { action: 'create', name: unique('conf-bad'), cron_expr: '0 9 * * *', prompt: 'x', targets: [{ project_id: projectId, branch: 'main' }] }, ['targets[0]', 'branch'], { why: 'unknown target field' });
  await invalid(project, 'schedule', { action: 'create', name: unique('conf-bad'), cron_expr: '0 9 * * *', prompt: 'x', targets: target, overlap_behavior: 'drop' }, ['overlap_behavior', 'skip', 'queue', 'parallel']);
  await invalid(project, 'schedule', { action: 'create', name: unique('conf-bad'), cron_expr: '0 9 * * *', prompt: 'x', targets: target, session_behavior: 'fork' }, ['session_behavior', 'resume', 'new']);
  await invalid(project, 'schedule', { action: 'create', name: unique('conf-bad'), cron_expr: '0 9 * * *', prompt: 'x', targets: target, autonomy: 'total' }, ['autonomy']);
  await invalid(project, 'schedule', { action: 'create', name: unique('conf-bad'), cron_expr: '0 9 * * *', prompt: 'x', targets: target, model: 'no-such-model' }, ['model']);
  await invalid(project, 'schedule', { action: 'create', name, cron_expr: '0 9 * * *', prompt: 'x', targets: target }, [name], { why: 'name taken' });
  if (other !== projectId) {
    await invalid(project, 'schedule', { action: 'create', name: unique('conf-bad'), cron_expr: '0 9 * * *', prompt: 'x', targets: [{ project_id: other }] }, ['forbidden', other], { why: 'another project' });
  }
  await invalid(projectRo, 'schedule', { action: 'update', schedule_id: scheduleId, enabled: false }, ['forbidden'], { why: 'read-only token' });
  await invalid(adminRo, 'schedule', { action: 'trigger', schedule_id: scheduleId }, ['forbidden'], { why: 'read-only token' });
  await invalid(admin, 'schedule', { action: 'get', schedule_id: 'sch_nothere' }, ['schedule_id', 'sch_nothere']);
  await invalid(admin, 'schedule', { action: 'history', schedule_id: scheduleId, limit: 0 }, ['limit']);
  await invalid(admin, 'schedule', { action: 'history', schedule_id: scheduleId, limit: 'ten' }, ['limit', 'integer'], { why: 'wrong JSON type' });
  await invalid(admin, 'schedule', { action: 'list', sort: 'name' }, ['sort'], { why: 'unknown argument' });
  await invalid(admin, 'schedule', { action: 'pause', schedule_id: scheduleId }, ['action', 'create', 'update', 'delete', 'trigger', 'get', 'list', 'history']);

  if (pausedId) {
    await valid(admin, 'schedule', { action: 'delete', schedule_id: pausedId }, data => expect(has(data, 'deleted', 'boolean') === true, 'deleted is not true'));
  }
  await valid(project, 'schedule', { action: 'delete', schedule_id: scheduleId }, data => has(data, 'schedule.id', 'string'));
}

/** A caller tool lent on spawn; the scripted model calls it; the client answers with caller_tool_response. */
async function callerTool(env, { project }, someSessionId) {
  const requests = () => project.pushes.filter(push => push.logger === 'oubliette.caller_tool' && push.data?.type === 'caller_tool_request').map(push => push.data);
  let sessionId;
  await check(GROUP, 'session spawn with caller_tools: the agent\'s call is pushed as a caller_tool_request', async () => {
    const outcome = await callTool(project, 'session', {
      action: 'spawn', project_id: env.projectId, new_session: true, prompt: `${env.callerMarker}: ask the caller`,
      caller_id: 'conformance', caller_tools: [{ name: 'lookup', description: 'Looks a key up', input_schema: { type: 'object', properties: { key: { type: 'string' } } } }],
    });
    sessionId = (outcome.data ?? parseText(outcome.text))?.session_id;
    expect(sessionId, `spawn failed: ${brief(outcome.text)}`);
    // Until the request arrives, or the agent's call already came back (then it never reached this client).
    const answered = () => project.pushes.some(push => push.data?.session_id === sessionId && push.data?.type === 'tool_result');
    const deadline = Date.now() + 60_000;
    while (!requests().some(request => request.session_id === sessionId) && !answered() && Date.now() < deadline) await sleep(100);
    if (!requests().some(request => request.session_id === sessionId)) {
      const events = await callTool(project, 'session', { action: 'events', session_id: sessionId, since_index: -1 });
      const tools = ((events.data ?? parseText(events.text))?.events ?? []).filter(event => event.type === 'tool_call' || event.type === 'tool_result');
      fail(`no caller_tool_request for ${sessionId}; the agent's tool events: ${brief(tools, 1500)}`);
    }
  });
  const request = requests().find(item => item.session_id === sessionId);
  if (request) {
    await valid(project, 'caller_tool_response', { session_id: sessionId, request_id: request.request_id, result: { value: 'apple' } });
    await invalid(project, 'caller_tool_response', { session_id: sessionId, request_id: request.request_id, result: 'again' }, ['request_id'], { why: 'already answered' });
  } else {
    await check(GROUP, 'caller_tool_response {session_id, request_id, result} → valid result', () => fail('skipped: no caller_tool_request arrived'));
  }
  await invalid(project, 'caller_tool_response', { session_id: sessionId ?? someSessionId, request_id: 'nope', result: 1 }, ['request_id']);
  await invalid(project, 'caller_tool_response', { session_id: sessionId ?? someSessionId, request_id: 7, result: 1 }, ['request_id', 'string'], { why: 'wrong JSON type' });
  await invalid(project, 'caller_tool_response', { request_id: 'x', result: 1 }, ['session_id'], { why: 'missing session_id' });
}
