// firstline: what every page's view code shares. `html` is htm bound to Preact's `h` (templates
// in tagged strings, no build step: docs/desk.md says why); values in templates are always text,
// never parsed as HTML. `api` is the one HTTP helper of the pages: session cookie, the CSRF header
// on every request, JSON in and out, the server's `{error}` as the thrown message.

import { h, render } from '/vendor/preact.module.js';
import htm from '/vendor/htm.module.js';

export const html = htm.bind(h);
export { h, render };
export { useState, useEffect, useRef, useMemo, useCallback, useReducer } from '/vendor/hooks.module.js';

/** An API error: the server's message, its HTTP status and body. */
export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/**
 * One HTTP call of the API. Resolves to `{ status, json, headers }` (json null for an empty body);
 * throws an `ApiError` with the server's `error` message for any status that is not 2xx.
 */
export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { 'X-Firstline-Csrf': '1' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (_) {
    json = null;
  }
  if (!r.ok) {
    throw new ApiError(json && json.error ? json.error : `${method} ${path}: status ${r.status}`, r.status, json);
  }
  return { status: r.status, json, headers: r.headers };
}
