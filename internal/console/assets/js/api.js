// The REST API client. The console and the portal speak only the public
// API, with the same bearer token a script would use, so every rule the
// API enforces (validation, scopes, app isolation) holds on screen too.

import { t } from './i18n.js';

const KEY = 'herald.token';

/** The token in use: kept in sessionStorage, so it dies with the tab. */
export function token() {
  try { return sessionStorage.getItem(KEY) || ''; } catch { return memoryToken; }
}

let memoryToken = '';

/** setToken stores (or, with '', forgets) the token. */
export function setToken(v) {
  memoryToken = v;
  try {
    if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY);
  } catch { /* storage blocked (some iframes): the in-memory copy serves */ }
}

/**
 * ApiError is an error answer: status, code, message and the field it
 * names, exactly as the API sent them.
 */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || '';
    this.field = e.field || '';
  }
}

let onUnauthorized = () => {};

/** whenUnauthorized sets what happens when the token is refused (401). */
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

/**
 * api calls one route and returns its JSON (null for 204). It throws an
 * ApiError for error answers and for network failures (status 0).
 */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  const tok = opts.token ?? token();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts.signal,
      cache: 'no-store',
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, { error: { code: 'network', message: t('error.network', { message: err.message }) } });
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = { error: { message: text } }; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && !opts.token) onUnauthorized(err);
    throw err;
  }
  return data;
}

/** query builds "?a=1&b=2" from the set values of an object. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Path segment escaping for ids and names in URLs. */
export function seg(s) {
  return encodeURIComponent(s);
}
