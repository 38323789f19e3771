// The REST API client. The console and the portal speak only the public
// API, with the same bearer token a script would use, so every rule the
// API enforces (validation, scopes, app isolation) holds on screen too.

import { addStrings, lang, t } from './i18n.js';

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
 * ApiError is an error answer: status, code and the field it names as
 * the API sent them; message is the answer told in the page's language
 * (see errorText), detail the server's own message.
 */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    const code = e.code || (status === 404 ? 'not_found' : '');
    super(errorText(status, code, e.field || '', e.message || ''));
    this.status = status;
    this.code = code;
    this.field = e.field || '';
    this.detail = e.message || '';
    this.kind = code === 'not_found' ? notFoundKind(this.detail) : '';
  }
}

// The things a not_found answer names ("endpoint not found", "delivery
// (or its endpoint) not found"), as keys of error.thing.*.
const THINGS = ['app', 'endpoint', 'event type', 'event', 'delivery', 'route', 'api key', 'job', 'portal session', 'attempts', 'message', 'audit log', 'usage', 'endpoint template'];

/** notFoundKind is the thing a not_found message names, or ''. */
export function notFoundKind(message) {
  const m = /^([a-z ]+?)(?: \(.*\))? not found$/.exec(String(message || '').trim().toLowerCase());
  return m && THINGS.includes(m[1]) ? m[1].replace(/ /g, '_') : '';
}

/**
 * fieldLabel names an API field ("url", "headers.X-Token", "endpoint.url")
 * in the page's language: the known names are translated, others shown
 * as the API spells them.
 */
export function fieldLabel(field) {
  if (!field) return t('error.thisField');
  const parts = String(field).split(/[.[]/);
  const last = parts.length > 1 && parts[0] === 'endpoint' ? parts[1] : parts[0];
  const key = `error.field.${last}`;
  const s = t(key);
  return s === key ? field : s;
}

/**
 * errorText tells an error answer in the page's language from its stable
 * code. Codes whose message carries the specifics (invalid, render
 * failures, schema mismatches…) get a translated lead and the server's
 * detail; a code the console does not know shows the server's message.
 */
export function errorText(status, code, field, detail) {
  if (code === 'network') return detail;
  if (!code) return detail || t('error.http', { status });
  let key = `error.code.${code}`;
  if (code === 'not_found') {
    const kind = notFoundKind(detail);
    if (kind) return t('error.code.not_found.thing', { thing: t(`error.thing.${kind}`) });
    if (!detail) return t('notFound.text');
  }
  if (field && t(`${key}.field`) !== `${key}.field`) key = `${key}.field`;
  const s = t(key, { field: fieldLabel(field), name: field || t('error.thisField'), detail: knownDetail(detail) || '—', status });
  return s === key ? (detail || t('error.http', { status })) : s;
}

// Server details the console knows how to say: the ones a customer
// meets most (a URL Herald refuses, a text too long, an event type not in
// the catalog). Each pattern gives the key of its text and its values;
// any other detail is shown as the server sent it.
const DETAILS = [
  [/^url scheme "([^"]*)" is not allowed: it must start with http:\/\/ or https:\/\/$/, 'detail.urlScheme', (m) => ({ scheme: m[1] })],
  [/^url must start with http:\/\/ or https:\/\/$/, 'detail.urlStart', () => ({})],
  [/^url must not start or end with spaces$/, 'detail.urlSpaces', () => ({})],
  [/^url has an invalid port/, 'detail.urlPort', () => ({})],
  [/^url is not a valid URL: (.*)$/, 'detail.urlInvalid', (m) => ({ why: m[1] })],
  [/^destination not allowed: (.*)$/, 'detail.destination', (m) => ({ what: destinationKind(m[1]) })],
  [/^([a-z_.]+) is longer than (\d+) (characters|bytes)$/, 'detail.tooLong', (m) => ({ field: fieldLabel(m[1]), n: m[2], unit: t(`detail.unit.${m[3]}`) })],
  [/^event type "([^"]*)" is not in the catalog; did you mean "([^"]*)"\?$/, 'detail.notInCatalogMean', (m) => ({ name: m[1], other: m[2] })],
  [/^(until|since) must be an RFC 3339 time/, 'detail.time', (m) => ({ field: fieldLabel(m[1]) })],
  [/^until must be after since$/, 'detail.untilAfterSince', () => ({})],
];

const DESTINATIONS = ['loopback address', 'private network address', 'link-local address', 'carrier-grade NAT address', 'multicast address',
  'unspecified address', 'broadcast address', 'documentation address', 'benchmarking address', 'reserved address', 'denied by the operator', 'no valid address'];

function destinationKind(s) {
  const i = DESTINATIONS.findIndex((d) => s.startsWith(d));
  return i < 0 ? s : t(`detail.dest.${i}`);
}

/** knownDetail is a server detail in the page's language when the console knows it. */
function knownDetail(detail) {
  if (!detail || lang() === 'en') return detail;
  for (const [re, key, vars] of DETAILS) {
    const m = re.exec(detail);
    if (m) return t(key, vars(m));
  }
  return detail;
}

addStrings({
  ja: {
    'detail.urlScheme': 'URL は http:// または https:// で始めてください（「{scheme}」は使えません）。',
    'detail.urlStart': 'URL は http:// または https:// で始めてください。',
    'detail.urlSpaces': 'URL の前後に空白を入れないでください。',
    'detail.urlPort': 'URL のポート番号が正しくありません。0〜65535 の数字にしてください。',
    'detail.urlInvalid': 'URL の形式が正しくありません（{why}）。',
    'detail.destination': 'この宛先には送信できません（{what}）。',
    'detail.dest.0': 'ループバックアドレス',
    'detail.dest.1': 'プライベートネットワークのアドレス',
    'detail.dest.2': 'リンクローカルアドレス',
    'detail.dest.3': 'キャリアグレード NAT のアドレス',
    'detail.dest.4': 'マルチキャストアドレス',
    'detail.dest.5': '未指定アドレス',
    'detail.dest.6': 'ブロードキャストアドレス',
    'detail.dest.7': 'ドキュメント用のアドレス',
    'detail.dest.8': 'ベンチマーク用のアドレス',
    'detail.dest.9': '予約済みのアドレス',
    'detail.dest.10': '運用者の宛先リストで拒否されています',
    'detail.dest.11': '有効なアドレスがありません',
    'detail.tooLong': '{field}は {n} {unit}以内にしてください。',
    'detail.unit.characters': '文字',
    'detail.unit.bytes': 'バイト',
    'detail.notInCatalogMean': 'イベントタイプ「{name}」はカタログにありません。「{other}」のことですか？',
    'detail.time': '{field}は日時で指定してください。',
    'detail.untilAfterSince': '終了日時は開始日時より後にしてください。',
  },
});

addStrings({
  en: {
    'error.http': 'Herald answered HTTP {status}.',
    'error.thisField': 'this field',
    'error.code.malformed_json': 'The request is not valid JSON: {detail}',
    'error.code.unknown_field': 'Herald does not know the field {name}.',
    'error.code.invalid_type': 'The {field} has the wrong type of value.',
    'error.code.required': 'Please fill in the {field}.',
    'error.code.invalid': 'This value cannot be used: {detail}',
    'error.code.too_large': 'The request is too large: {detail}',
    'error.code.unauthorized': 'This key was refused: {detail}',
    'error.code.not_found': 'Herald could not find it: {detail}',
    'error.code.not_found.thing': 'This {thing} does not exist, or belongs to somebody else.',
    'error.code.forbidden': 'Not allowed: {detail}',
    'error.code.conflict': 'This clashes with what is already there: {detail}',
    'error.code.conflict.field': 'This {field} is already in use.',
    'error.code.method_not_allowed': 'Herald does not allow this action here.',
    'error.code.unavailable': 'Herald cannot take this right now: {detail}',
    'error.code.storage_full': 'Herald\'s storage is full; nothing was stored. Try again later.',
    'error.code.render_failed': 'The template could not be rendered: {detail}',
    'error.code.render_too_large': 'The request built from the template is too large: {detail}',
    'error.code.schema_mismatch': 'The payload does not match the event type\'s schema: {detail}',
    'error.code.limit_exceeded': 'A limit was reached: {detail}',
    'error.code.quota_exceeded': 'The app\'s quota is used up: {detail}',
    'error.code.rate_limited': 'Too many requests. Wait a moment and try again.',
    'error.code.too_many_requests': 'Too many requests. Wait a moment and try again.',
    'error.code.too_many_sessions': 'Too many portal sessions are open. Try again later.',
    'error.code.public_url_unset': 'Herald\'s public URL is not set, so no link can be made. Ask the operator to set it.',
    'error.code.not_pull_endpoint': 'This endpoint is not a pull endpoint.',
    'error.code.pull_endpoint': 'This is a pull endpoint: Herald does not send requests to it.',
    'error.code.endpoint_disabled': 'This endpoint is disabled.',
    'error.code.idempotency_mismatch': 'This idempotency key was already used with another body.',
    'error.code.internal': 'Herald had an internal error. Try again; if it happens again, tell the operator.',
    'error.thing.app': 'app',
    'error.thing.endpoint': 'endpoint',
    'error.thing.event_type': 'event type',
    'error.thing.event': 'event',
    'error.thing.delivery': 'delivery',
    'error.thing.route': 'route',
    'error.thing.api_key': 'API key',
    'error.thing.job': 'job',
    'error.thing.portal_session': 'portal session',
    'error.thing.attempts': 'attempt',
    'error.thing.message': 'message',
    'error.thing.audit_log': 'audit log',
    'error.thing.usage': 'usage record',
    'error.thing.endpoint_template': 'endpoint template',
    'error.field.url': 'URL',
    'error.field.name': 'name',
    'error.field.uid': 'UID',
    'error.field.description': 'description',
    'error.field.event_types': 'event types',
    'error.field.event_type': 'event type',
    'error.field.filter': 'filter',
    'error.field.stage': 'stage',
    'error.field.test_filter': 'test filter',
    'error.field.role': 'role',
    'error.field.headers': 'headers',
    'error.field.plain_headers': 'headers shown in clear',
    'error.field.body_template': 'body template',
    'error.field.template_syntax': 'template syntax',
    'error.field.payload_format': 'payload format',
    'error.field.preset': 'preset',
    'error.field.preset_options': 'preset options',
    'error.field.method': 'method',
    'error.field.content_type': 'content type',
    'error.field.retry_schedule': 'retry schedule',
    'error.field.timeout_ms': 'timeout',
    'error.field.max_in_flight': 'concurrent requests limit',
    'error.field.rate_limit': 'rate limit',
    'error.field.sample_rate': 'sample rate',
    'error.field.signature_scheme': 'signature scheme',
    'error.field.payload': 'payload',
    'error.field.schema': 'schema',
    'error.field.sample': 'sample',
    'error.field.since': 'start time',
    'error.field.until': 'end time',
    'error.field.status': 'status',
    'error.field.status_code': 'status code',
    'error.field.error_kind': 'error kind',
    'error.field.endpoint_id': 'endpoint',
    'error.field.min_latency_ms': 'minimum latency',
    'error.field.secret': 'signing secret',
    'error.field.token': 'key',
    'error.field.channels': 'channels',
    'error.field.kind': 'kind',
    'error.field.version': 'version name',
    'error.field.converter': 'converter',
    'error.field.endpoint_template_id': 'endpoint template',
  },
  ja: {
    'error.http': 'Herald が HTTP {status} を返しました。',
    'error.thisField': 'この項目',
    'error.code.malformed_json': 'リクエストの JSON が正しくありません：{detail}',
    'error.code.unknown_field': '{name} という項目は Herald にありません。',
    'error.code.invalid_type': '{field}の値の型が正しくありません。',
    'error.code.required': '{field}を入力してください。',
    'error.code.invalid': 'この値は使えません：{detail}',
    'error.code.too_large': 'リクエストが大きすぎます：{detail}',
    'error.code.unauthorized': 'このキーは使えません。無効か、有効期限が切れています。',
    'error.code.not_found': '見つかりませんでした：{detail}',
    'error.code.not_found.thing': 'この{thing}は存在しないか、別の利用者のものです。',
    'error.code.forbidden': 'この操作は許可されていません：{detail}',
    'error.code.conflict': 'すでにあるものと競合しています：{detail}',
    'error.code.conflict.field': 'この{field}はすでに使われています。',
    'error.code.method_not_allowed': 'この操作はここでは使えません。',
    'error.code.unavailable': 'Herald は今この処理を受け付けられません。しばらくしてからもう一度お試しください。',
    'error.code.storage_full': 'Herald のストレージがいっぱいです。何も保存されていません。後でもう一度お試しください。',
    'error.code.render_failed': 'テンプレートを展開できませんでした：{detail}',
    'error.code.render_too_large': 'テンプレートから作ったリクエストが大きすぎます：{detail}',
    'error.code.schema_mismatch': 'ペイロードがイベントタイプのスキーマに合いません：{detail}',
    'error.code.limit_exceeded': '上限に達しました：{detail}',
    'error.code.quota_exceeded': 'アプリの利用上限に達しました：{detail}',
    'error.code.rate_limited': 'リクエストが多すぎます。少し待ってからもう一度お試しください。',
    'error.code.too_many_requests': 'リクエストが多すぎます。少し待ってからもう一度お試しください。',
    'error.code.too_many_sessions': 'ポータルのセッションが多すぎます。後でもう一度お試しください。',
    'error.code.public_url_unset': 'Herald の公開 URL が設定されていないため、リンクを作れません。運用者に設定を依頼してください。',
    'error.code.not_pull_endpoint': 'このエンドポイントはプル型ではありません。',
    'error.code.pull_endpoint': 'これはプル型のエンドポイントです。Herald からリクエストは送られません。',
    'error.code.endpoint_disabled': 'このエンドポイントは無効になっています。',
    'error.code.idempotency_mismatch': 'この冪等キーは別の内容ですでに使われています。',
    'error.code.internal': 'Herald で内部エラーが発生しました。もう一度お試しください。繰り返す場合は運用者に連絡してください。',
    'error.thing.app': 'アプリ',
    'error.thing.endpoint': 'エンドポイント',
    'error.thing.event_type': 'イベントタイプ',
    'error.thing.event': 'イベント',
    'error.thing.delivery': '配信',
    'error.thing.route': 'ルート',
    'error.thing.api_key': 'API キー',
    'error.thing.job': 'ジョブ',
    'error.thing.portal_session': 'ポータルセッション',
    'error.thing.attempts': '送信試行',
    'error.thing.message': 'メッセージ',
    'error.thing.audit_log': '監査ログ',
    'error.thing.usage': '利用記録',
    'error.thing.endpoint_template': 'エンドポイントテンプレート',
    'error.field.url': 'URL',
    'error.field.name': '名前',
    'error.field.uid': 'UID',
    'error.field.description': '説明',
    'error.field.event_types': 'イベントタイプ',
    'error.field.event_type': 'イベントタイプ',
    'error.field.filter': 'フィルター',
    'error.field.stage': '段階',
    'error.field.test_filter': 'テストフィルター',
    'error.field.role': 'ロール',
    'error.field.headers': 'ヘッダー',
    'error.field.plain_headers': '伏せ字にしないヘッダー',
    'error.field.body_template': 'ボディテンプレート',
    'error.field.template_syntax': 'テンプレート構文',
    'error.field.payload_format': 'ペイロード形式',
    'error.field.preset': 'プリセット',
    'error.field.preset_options': 'プリセットのオプション',
    'error.field.method': 'メソッド',
    'error.field.content_type': 'Content-Type',
    'error.field.retry_schedule': '再送スケジュール',
    'error.field.timeout_ms': 'タイムアウト',
    'error.field.max_in_flight': '同時リクエスト数',
    'error.field.rate_limit': 'レート制限',
    'error.field.sample_rate': '配信率',
    'error.field.signature_scheme': '署名方式',
    'error.field.payload': 'ペイロード',
    'error.field.schema': 'スキーマ',
    'error.field.sample': 'サンプル',
    'error.field.since': '開始日時',
    'error.field.until': '終了日時',
    'error.field.status': 'ステータス',
    'error.field.status_code': 'ステータスコード',
    'error.field.error_kind': 'エラーの種類',
    'error.field.endpoint_id': 'エンドポイント',
    'error.field.min_latency_ms': '最小レイテンシ',
    'error.field.secret': '署名シークレット',
    'error.field.token': 'キー',
    'error.field.channels': 'チャンネル',
    'error.field.kind': '種類',
    'error.field.version': 'バージョン名',
    'error.field.converter': '変換',
    'error.field.endpoint_template_id': 'エンドポイントテンプレート',
  },
});

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
