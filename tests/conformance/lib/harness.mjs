// The suite's small runner: environment, official-SDK clients, strict schema validation and one line per check.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/** What the xunit test (tests/Oubliette.EndToEnd/ConformanceTests.cs) passes in. */
export function environment() {
  const names = {
    url: 'OUBLIETTE_MCP_URL',
    admin: 'OUBLIETTE_TOKEN_ADMIN',
    adminRo: 'OUBLIETTE_TOKEN_ADMIN_RO',
    project: 'OUBLIETTE_TOKEN_PROJECT',
    projectRo: 'OUBLIETTE_TOKEN_PROJECT_RO',
    projectId: 'OUBLIETTE_PROJECT_ID',
    callerMarker: 'OUBLIETTE_CALLER_MARKER',
  };
  const env = {};
  const missing = [];
  for (const [key, name] of Object.entries(names)) {
    env[key] = process.env[name];
    if (!env[key]) missing.push(name);
  }
  if (missing.length > 0) {
    throw new Error(`missing environment: ${missing.join(', ')} (run through ConformanceTests, or set them by hand)`);
  }
  env.only = process.env.CONFORMANCE_ONLY ? process.env.CONFORMANCE_ONLY.split(',') : undefined;
  return env;
}

// ---------------------------------------------------------------------------------------------------------------
// Checks: one line each; a failure says what was called, with what, and what was wrong.

const results = [];

export class CheckFailure extends Error {}

/** Fails the current check with a message (not an assertion library: the message is the whole report). */
export function fail(message) {
  throw new CheckFailure(message);
}

export function expect(condition, message) {
  if (!condition) fail(typeof message === 'function' ? message() : message);
}

export async function check(group, name, body) {
  const started = Date.now();
  try {
    await body();
    const ms = Date.now() - started;
    results.push({ group, name, ok: true, ms });
    console.log(`ok    [${group}] ${name} (${ms} ms)`);
    return true;
  } catch (error) {
    const ms = Date.now() - started;
    const detail = error instanceof CheckFailure ? error.message : `${error?.name ?? 'Error'}: ${error?.message ?? error}`;
    results.push({ group, name, ok: false, ms, detail });
    console.log(`FAIL  [${group}] ${name} (${ms} ms)\n      ${indent(detail)}`);
    return false;
  }
}

export function summary() {
  const failed = results.filter(result => !result.ok);
  console.log(`\n${results.length} checks, ${results.length - failed.length} passed, ${failed.length} failed`);
  for (const result of failed) {
    console.log(`  FAILED [${result.group}] ${result.name}`);
  }
  return failed.length;
}

function indent(text) {
  return String(text).replace(/\n/g, '\n      ');
}

export function brief(value, max = 600) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === undefined ? 'undefined' : text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

// ---------------------------------------------------------------------------------------------------------------
// Clients of the initialize era (@modelcontextprotocol/sdk 1.32.2, what Claude Code, the Inspector and OpenCode run).

/**
 * Connects a 2025-era client with a bearer token. `fetch` may wrap the transport's requests (to drop a stream);
 * `reconnection` tunes the SDK's GET-stream reconnection.
 */
export async function connectLegacy(url, token, { fetch, reconnection, name = 'oubliette-conformance' } = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    fetch,
    reconnectionOptions: reconnection,
  });
  const client = new Client({ name, version: '1.0.0' }, { capabilities: {} });
  captureToolResults(client);
  // Every notifications/message pushed to this client (session events, caller_tool_request), data parsed.
  client.pushes = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, notification => {
    const { data } = notification.params;
    client.pushes.push({ ...notification.params, data: typeof data === 'string' ? parseOr(data) : data, at: Date.now() });
  });
  await client.connect(transport);
  // callTool validates against the cached outputSchema only after a tools/list, as real clients do.
  client.tools = (await client.listTools()).tools;
  return client;
}

/**
 * Lets a check see the raw tools/call result even when callTool then rejects it (the server did act: an id in a
 * result the SDK refused is still needed by later checks).
 */
function captureToolResults(client) {
  const request = client.request;
  client.request = function (message, schema, options) {
    const pending = request.call(this, message, schema, options);
    if (message?.method === 'tools/call' && typeof options?.capture === 'function') {
      pending.then(options.capture, () => {});
    }
    return pending;
  };
}

/**
 * Calls a tool through the SDK's callTool (which validates structuredContent against the outputSchema) and validates
 * it again with strict ajv. Returns { raw, error, sdkError, schemaErrors }: raw is the result as the server sent it.
 */
export async function callTool(client, name, args, options = {}) {
  let raw;
  let sdkError;
  // On a loaded machine the project's agent may start slower than the server waits for it; that start is not what
  // this suite checks, so a spawn or message refused for it alone is tried again (as MemoryAttackTests does).
  const startsAgent = name === 'session' && (args?.action === 'spawn' || args?.action === 'message');
  for (let attempt = 1; ; attempt++) {
    raw = undefined;
    sdkError = undefined;
    try {
      raw = await client.callTool({ name, arguments: args }, undefined, { ...options, capture: result => { raw = result; } });
    } catch (error) {
      sdkError = error;
    }
    if (!(startsAgent && attempt < 3 && raw?.isError && /did not answer within/.test(textOf(raw)))) break;
    console.log(`      (the agent did not answer in time: ${textOf(raw)}; trying again)`);
  }
  const tool = client.tools?.find(candidate => candidate.name === name);
  const schemaErrors = raw?.structuredContent !== undefined && tool?.outputSchema
    ? validateStrict(tool.outputSchema, raw.structuredContent, `${name}`)
    : [];
  return { raw, sdkError, schemaErrors, data: raw?.structuredContent, text: textOf(raw) };
}

function parseOr(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function textOf(result) {
  return (result?.content ?? []).filter(block => block.type === 'text').map(block => block.text).join('\n');
}

export function describeSdkError(error) {
  if (!error) return '';
  const code = error instanceof McpError || typeof error.code === 'number' ? ` (code ${error.code})` : '';
  return `${error.message}${code}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Strict validation of results against the advertised outputSchema.

const compiled = new Map();

/** Strict ajv (unknown keywords, formats, required-not-in-properties are errors); union types are legal JSON Schema. */
function validatorFor(schema) {
  const key = JSON.stringify(schema);
  let entry = compiled.get(key);
  if (!entry) {
    const draft2020 = typeof schema.$schema === 'string' && schema.$schema.includes('2020-12');
    const ajv = new (draft2020 ? Ajv2020 : Ajv)({ strict: true, allErrors: true, allowUnionTypes: true, validateFormats: true });
    addFormats(ajv);
    try {
      entry = { validate: ajv.compile(schema) };
    } catch (error) {
      // Still check the data (non-strict) so that a schema strict ajv refuses does not hide what the result breaks.
      const lenient = new (draft2020 ? Ajv2020 : Ajv)({ strict: false, allErrors: true });
      addFormats(lenient);
      entry = { compileError: error.message, validate: lenient.compile(schema) };
    }
    compiled.set(key, entry);
  }
  return entry;
}

/** The schema problems of one value, as readable lines (empty when valid). */
export function validateStrict(schema, value) {
  const { validate, compileError } = validatorFor(schema);
  const problems = compileError ? [`the schema does not compile under strict ajv (${compileError}); checked non-strict, the data`] : [];
  if (validate(value)) return compileError ? [`${problems[0]} matches`] : [];
  if (compileError) problems[0] += ' does not:';
  return [...problems, ...validate.errors.map(error => `${error.instancePath || '/'} ${error.message}${error.params ? ` ${JSON.stringify(error.params)}` : ''}`)];
}

/** The schema compile problems alone (for the tools/list check). */
export function compileProblems(schema) {
  return validatorFor(schema).compileError;
}

// ---------------------------------------------------------------------------------------------------------------
// Shapes of an answer, for the checks.

/** A valid call: not an error, accepted by the SDK and by strict ajv; returns the structured result. */
export function expectAccepted(outcome, what) {
  const problems = [];
  if (outcome.sdkError) problems.push(`the official SDK's callTool rejected it: ${describeSdkError(outcome.sdkError)}`);
  if (outcome.raw?.isError) problems.push(`tool error: ${brief(outcome.text)}`);
  if (outcome.raw && !outcome.raw.isError && outcome.data === undefined) problems.push('no structuredContent');
  if (outcome.schemaErrors.length > 0) problems.push(`strict ajv against the outputSchema: ${outcome.schemaErrors.slice(0, 8).join('; ')}`);
  if (problems.length > 0) {
    fail(`${what}\n${problems.join('\n')}${outcome.raw ? `\nresult: ${brief(outcome.data ?? outcome.text)}` : ''}`);
  }
  return outcome.data;
}

const leaks = [/System\.[A-Z]/, /Nullable`/, /could not be converted/i, /An error occurred/i, /\bat Oubliette\./, /Exception\b/];

/**
 * A bad input: a tool error (isError, not a JSON-RPC error) whose text names every field in `names`, shows no .NET
 * internals, and whose structuredContent (if any) still matches the schema, as the SDK checks it even on errors.
 */
export function expectToolError(outcome, what, names, { prefix = false } = {}) {
  const problems = [];
  if (outcome.sdkError && !outcome.raw) {
    problems.push(`came back as a JSON-RPC error, not a tool error (isError): ${describeSdkError(outcome.sdkError)}`);
  } else if (outcome.sdkError) {
    problems.push(`the official SDK's callTool rejected the error result: ${describeSdkError(outcome.sdkError)}`);
  }
  if (outcome.raw && !outcome.raw.isError) problems.push(`succeeded instead of failing: ${brief(outcome.data ?? outcome.text)}`);
  if (outcome.raw?.isError) {
    for (const name of names) {
      const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (!new RegExp(`(^|[^A-Za-z0-9_])${escaped}${prefix ? '' : '([^A-Za-z0-9_]|$)'}`).test(outcome.text)) {
        problems.push(`the error does not name '${name}': ${brief(outcome.text)}`);
      }
    }
    const leak = leaks.find(pattern => pattern.test(outcome.text));
    if (leak) problems.push(`the error shows server internals (${leak}): ${brief(outcome.text)}`);
  }
  if (outcome.schemaErrors.length > 0) problems.push(`error's structuredContent against the outputSchema: ${outcome.schemaErrors.slice(0, 5).join('; ')}`);
  if (problems.length > 0) fail(`${what}\n${problems.join('\n')}`);
  return outcome.text;
}

export function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

export function unique(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}
