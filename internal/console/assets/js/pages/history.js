// Delivery history: an endpoint's deliveries, one delivery with its
// attempts (and resend), the app's events, and one event with its payload,
// routing and deliveries. Filters live in the page's URL query, so a
// reload or a shared link shows the same list.

import { api, query, seg } from '../api.js';
import { addStrings, lang, t } from '../i18n.js';
import { endpointLabel, PUBLISH } from './endpoints.js';
import {
  h, field, showErrors, clearErrors, pageHeader, empty, pager, timeEl, toast, replace, dateTimeInput, badDateTime,
  pretty, codeBlock, headerLines, badge, copyButton, curlCommand, confirmDialog, MASKED,
} from '../dom.js';

addStrings({
  en: {
    'hist.title': 'Delivery history',
    'hist.causeFilter': 'Only deliveries whose latest attempt failed with {cause}.',
    'hist.causeClear': 'Show all',
    'hist.backToEndpoint': 'Back to the endpoint',
    'hist.filters': 'Filters',
    'hist.status': 'Status',
    'hist.statusAll': 'All',
    'hist.state.definition': 'Error (definition)',
    'hist.definitionHint': 'Error (definition): the endpoint\'s template, URL or transformation could not make a request, so the destination was not contacted. Fix the endpoint, then resend.',
    'hist.failureFilter': 'Failure',
    'hist.failureAll': 'Any',
    'hist.failure.definition': 'Error (definition)',
    'hist.failure.destination': 'Failed at the destination',
    'hist.since': 'From (your time)',
    'hist.until': 'Until (your time)',
    'hist.eventType': 'Event type',
    'hist.eventTypeAll': 'All event types',
    'hist.delivery': 'Delivery',
    'hist.created': 'Created',
    'hist.attempts': 'Attempts',
    'hist.lastError': 'Last error',
    'hist.nextAttempt': 'Next attempt',
    'hist.endpoint': 'Endpoint',
    'hist.event': 'Event',
    'hist.testBadge': 'test',
    'hist.noDeliveries': 'No deliveries yet. They appear here as soon as an event this endpoint subscribes to is sent.',
    'hist.noDeliveriesFiltered': 'No delivery matches these filters.',
    'hist.shownDeliveries': '{n} deliveries shown.',
    'hist.shownEvents': '{n} events shown.',
    'hist.deliveryTitle': 'Delivery {id}',
    'hist.resend': 'Resend',
    'hist.resending': 'Sending…',
    'hist.orderingKey': 'Ordering key',
    'hist.batch': 'Batch {id}',
    'hist.batchHint': 'Sent with other deliveries in one request, whose webhook-id is this batch id; the receiver\'s answer to it is this attempt\'s.',
    'hist.notOrdered': 'Not ordered',
    'hist.skippedMark': 'Skipped: the later deliveries of its key went on without it',
    'hist.skip': 'Skip',
    'hist.skipping': 'Skipping…',
    'hist.skipHint': 'Let the later deliveries of ordering key {key} go on without this one (on an endpoint that pauses keys on failure, they wait until it is resent or skipped)',
    'hist.skipped': 'Skipped: the later deliveries of key {key} go on.',
    'hist.resent': 'Sent again: attempt {n} {outcome}.',
    'hist.requeued': 'Due again: the endpoint\'s client pulls it next.',
    'hist.resentOk': 'succeeded',
    'hist.resentFailed': 'failed',
    'hist.test': 'Test send',
    'hist.yes': 'Yes',
    'hist.no': 'No',
    'hist.updated': 'Updated',
    'hist.attemptCount': 'Attempts made',
    'hist.attemptsTitle': 'Attempts',
    'hist.noAttempts': 'No attempt has been made yet.',
    'hist.attempt': 'Attempt {n}',
    'hist.trigger': 'Trigger',
    'hist.trigger.scheduled': 'Scheduled',
    'hist.trigger.test': 'Test send',
    'hist.trigger.resend': 'Resent on request',
    'hist.latency': 'Latency',
    'hist.ms': '{n} ms',
    'hist.statusCode': 'HTTP {code}',
    'hist.outcome': 'Outcome',
    'hist.publishedTo': 'Published to ',
    'hist.acknowledged': 'Acknowledged: {ack}',
    'hist.ackLabel': 'Broker\'s acknowledgement',
    'hist.notAcknowledged': 'Not acknowledged',
    'hist.message': 'Message',
    'hist.latestMessage': 'Latest message',
    'hist.latestAck': 'Latest answer from the broker',
    'hist.error': 'Error',
    'hist.errorKind.http_status': 'The receiver answered with an error status',
    'hist.errorKind.dns': 'Host name did not resolve (DNS)',
    'hist.errorKind.connect': 'No connection could be made',
    'hist.errorKind.tls': 'TLS handshake or certificate check failed',
    'hist.errorKind.timeout': 'No complete answer within the timeout',
    'hist.errorKind.network': 'The connection broke',
    'hist.errorKind.policy': 'Refused by Herald (destination policy)',
    'hist.errorKind.auth': 'The destination refused Herald\'s credentials, or Herald could not get the access token',
    'hist.errorKind.render': 'The templates made a request that cannot be sent',
    'hist.errorKind.rejected': 'The broker refused the message (negative acknowledgement)',
    'hist.errorKind.transform': 'The endpoint\'s transformation failed (a throw, or its CPU or memory limit)',
    'hist.request': 'Request',
    'hist.response': 'Response',
    'hist.noResponse': 'No answer came back.',
    'hist.requestLine': 'Request line of attempt {n}',
    'hist.requestHeaders': 'Request headers of attempt {n}',
    'hist.requestBody': 'Request body of attempt {n}',
    'hist.responseHeaders': 'Response headers of attempt {n}',
    'hist.responseBody': 'Response body of attempt {n}',
    'hist.headers': 'Headers',
    'hist.body': 'Body',
    'hist.emptyBody': '(empty body)',
    'hist.truncated': 'The body was cut: Herald keeps only the start of long answers.',
    'hist.eventsTitle': 'Events',
    'hist.noEvents': 'No events yet. Events appear here when your product sends them to Herald.',
    'hist.noEventsFiltered': 'No event matches these filters.',
    'hist.time': 'Time',
    'hist.type': 'Type',
    'hist.id': 'Id',
    'hist.eventTitle': 'Event {id}',
    'hist.idemKey': 'Idempotency key',
    'hist.payload': 'Payload',
    'hist.routing': 'Routing',
    'hist.routingHint': 'Only enabled endpoints subscribed to this event type are considered; the others are not listed.',
    'hist.routingNone': 'No routing record was kept for this event.',
    'hist.routingNobody': 'No endpoint was subscribed to this event type when it arrived.',
    'hist.matched': 'Delivered to ({n})',
    'hist.skipped': 'Skipped ({n})',
    'hist.reason': 'Reason',
    'hist.reason.filter': 'The endpoint\'s filter condition was false for this event.',
    'hist.reason.filter_error': 'The endpoint\'s filter could not be evaluated: {message}',
    'hist.reason.sampled_out': 'Left out by the endpoint\'s sample rate.',
    'hist.reason.test_stage': 'The endpoint is in stage test and this event does not meet its test filter.',
    'hist.eventDeliveries': 'Deliveries',
    'hist.noEventDeliveries': 'This event created no deliveries.',
    'hist.latestOutcome': 'Outcome',
    'hist.latestResponse': 'Latest response',
    'hist.latestRequest': 'Latest request',
    'hist.errorKindLabel': 'Error kind',
    'hist.noError': 'None',
    'hist.statusCodeLabel': 'Status code',
    'hist.copyId': 'delivery id',
    'hist.copyEventId': 'event id',
    'hist.copyHeaders': 'headers',
    'hist.copyBody': 'body',
    'hist.copyCurl': 'Copy as curl',
    'hist.copyCurlSecrets': 'Copy as curl, with secret values',
    'hist.copyCurlSecretsLabel': 'Copy attempt {n}\'s request as a curl command, with secret header values in clear',
    'hist.copyCurlLabel': 'attempt {n} as a curl command',
    'hist.curlHint': 'The curl command repeats the request exactly as it was sent: method, URL, every header and the body byte for byte. Secret header values (shown as …) are never stored in clear: put them in before running it. The signature is copied as sent, so the receiver accepts it only within its timestamp tolerance (usually 5 minutes after the attempt).',
    'hist.appDeliveriesTitle': 'Deliveries',
    'hist.statusCodeFilter': 'Status code (422 or 5xx)',
    'hist.errorKindFilter': 'Error kind',
    'hist.channelFilter': 'Channel',
    'hist.errorKindAll': 'Any',
    'hist.endpointFilter': 'Endpoint id',
    'hist.minLatency': 'Slower than (ms)',
    'hist.bulkResend': 'Resend all {n} shown by this filter',
    'hist.bulkResendAll': 'Resend every delivery shown by this filter',
    'hist.bulkConfirm': 'Send again every delivery this filter shows? Each one counts toward the monthly delivery quota.',
    'hist.bulkConfirmButton': 'Resend them',
    'hist.bulkProgress': 'Resending: {done} of {total}',
    'hist.bulkDone': 'Done: {done} of {total} deliveries are due again and are being sent.',
    'hist.bulkFailed': 'Stopped after {done} of {total}: {error}',
    'hist.bulkTooMany': 'This filter shows too many deliveries for one resend: narrow it (a shorter time range, a status or an endpoint).',
    'hist.bulkNothing': 'This filter shows no delivery: nothing to resend.',
    'hist.allDeliveries': 'All deliveries of the app',
  },
  ja: {
    'hist.title': '配信履歴',
    'hist.causeFilter': '最新の試行が {cause} で失敗した配信のみ表示しています。',
    'hist.causeClear': 'すべて表示',
    'hist.backToEndpoint': 'エンドポイントに戻る',
    'hist.filters': '絞り込み',
    'hist.status': 'ステータス',
    'hist.statusAll': 'すべて',
    'hist.state.definition': 'エラー（設定）',
    'hist.definitionHint': 'エラー（設定）：エンドポイントのテンプレート・URL・変換スクリプトからリクエストを作れなかったため、送信先には接続していません。エンドポイントを修正してから再送してください。',
    'hist.failureFilter': '失敗の種類',
    'hist.failureAll': 'すべて',
    'hist.failure.definition': 'エラー（設定）',
    'hist.failure.destination': '送信先での失敗',
    'hist.since': '開始日時（お使いのタイムゾーン）',
    'hist.until': '終了日時（お使いのタイムゾーン）',
    'hist.eventType': 'イベントタイプ',
    'hist.eventTypeAll': 'すべてのイベントタイプ',
    'hist.delivery': '配信',
    'hist.created': '作成日時',
    'hist.attempts': '試行回数',
    'hist.lastError': '最後のエラー',
    'hist.nextAttempt': '次回の試行',
    'hist.endpoint': 'エンドポイント',
    'hist.event': 'イベント',
    'hist.testBadge': 'テスト',
    'hist.noDeliveries': '配信はまだありません。このエンドポイントが購読しているイベントが送信されると、ここに表示されます。',
    'hist.noDeliveriesFiltered': 'この条件に一致する配信はありません。',
    'hist.shownDeliveries': '{n} 件の配信を表示しています。',
    'hist.shownEvents': '{n} 件のイベントを表示しています。',
    'hist.deliveryTitle': '配信 {id}',
    'hist.resend': '再送',
    'hist.resending': '送信中…',
    'hist.orderingKey': '順序キー',
    'hist.batch': 'バッチ {id}',
    'hist.batchHint': '他の配信とまとめて 1 つのリクエストで送られました。その webhook-id がこのバッチ ID で、受信側の応答がこの試行の結果です。',
    'hist.notOrdered': '順序指定なし',
    'hist.skippedMark': 'スキップ済み：同じキーの後続の配信はこの配信を待たずに進みました',
    'hist.skip': 'スキップ',
    'hist.skipping': 'スキップ中…',
    'hist.skipHint': '順序キー {key} の後続の配信を、この配信を待たずに進めます（失敗時に一時停止するエンドポイントでは、再送またはスキップされるまで後続は待機します）',
    'hist.skipped': 'スキップしました。キー {key} の後続の配信が進みます。',
    'hist.resent': '再送しました：{n} 回目の試行は{outcome}。',
    'hist.requeued': '再び配信対象になりました。エンドポイントのクライアントが次に取得します。',
    'hist.resentOk': '成功しました',
    'hist.resentFailed': '失敗しました',
    'hist.test': 'テスト送信',
    'hist.yes': 'はい',
    'hist.no': 'いいえ',
    'hist.updated': '更新日時',
    'hist.attemptCount': '試行回数',
    'hist.attemptsTitle': '試行',
    'hist.noAttempts': 'まだ試行されていません。',
    'hist.attempt': '{n} 回目の試行',
    'hist.trigger': 'きっかけ',
    'hist.trigger.scheduled': '通常の送信（スケジュール）',
    'hist.trigger.test': 'テスト送信',
    'hist.trigger.resend': '手動での再送',
    'hist.latency': '応答時間',
    'hist.ms': '{n} ミリ秒',
    'hist.statusCode': 'HTTP {code}',
    'hist.outcome': '結果',
    'hist.publishedTo': 'パブリッシュ先：',
    'hist.acknowledged': '受信確認：{ack}',
    'hist.ackLabel': 'ブローカーの受信確認',
    'hist.notAcknowledged': '受信確認なし',
    'hist.message': 'メッセージ',
    'hist.latestMessage': '最新のメッセージ',
    'hist.latestAck': 'ブローカーからの最新の応答',
    'hist.error': 'エラー',
    'hist.errorKind.http_status': '受信側がエラーのステータスを返しました',
    'hist.errorKind.dns': 'ホスト名を解決できませんでした（DNS）',
    'hist.errorKind.connect': '接続できませんでした',
    'hist.errorKind.tls': 'TLS ハンドシェイクまたは証明書の検証に失敗しました',
    'hist.errorKind.timeout': 'タイムアウトまでに応答が完了しませんでした',
    'hist.errorKind.network': '接続が途中で切れました',
    'hist.errorKind.policy': 'Herald が送信を拒否しました（送信先ポリシー）',
    'hist.errorKind.auth': '送信先が Herald の認証情報を拒否したか、Herald がアクセストークンを取得できませんでした',
    'hist.errorKind.render': 'テンプレートから送信できないリクエストが作られました',
    'hist.errorKind.rejected': 'ブローカーがメッセージを拒否しました（否定応答）',
    'hist.errorKind.transform': 'エンドポイントの変換スクリプトが失敗しました（例外、または CPU・メモリの上限）',
    'hist.request': 'リクエスト',
    'hist.response': 'レスポンス',
    'hist.noResponse': '応答はありませんでした。',
    'hist.requestLine': '{n} 回目の試行のリクエスト行',
    'hist.requestHeaders': '{n} 回目の試行のリクエストヘッダー',
    'hist.requestBody': '{n} 回目の試行のリクエスト本文',
    'hist.responseHeaders': '{n} 回目の試行のレスポンスヘッダー',
    'hist.responseBody': '{n} 回目の試行のレスポンス本文',
    'hist.headers': 'ヘッダー',
    'hist.body': '本文',
    'hist.emptyBody': '（本文なし）',
    'hist.truncated': '本文は途中で切られています。Herald は長い応答の先頭部分だけを保存します。',
    'hist.eventsTitle': 'イベント',
    'hist.noEvents': 'イベントはまだありません。製品から Herald にイベントが送信されると、ここに表示されます。',
    'hist.noEventsFiltered': 'この条件に一致するイベントはありません。',
    'hist.time': '日時',
    'hist.type': 'タイプ',
    'hist.id': 'ID',
    'hist.eventTitle': 'イベント {id}',
    'hist.idemKey': '冪等キー',
    'hist.payload': 'ペイロード',
    'hist.routing': 'ルーティング',
    'hist.routingHint': 'このイベントタイプを購読している有効なエンドポイントだけが対象です。それ以外のエンドポイントはここに表示されません。',
    'hist.routingNone': 'このイベントのルーティング記録はありません。',
    'hist.routingNobody': 'このイベントの受信時に、このイベントタイプを購読しているエンドポイントはありませんでした。',
    'hist.matched': '配信先（{n}）',
    'hist.skipped': '対象外（{n}）',
    'hist.reason': '理由',
    'hist.reason.filter': 'エンドポイントのフィルター条件がこのイベントでは偽でした。',
    'hist.reason.filter_error': 'エンドポイントのフィルターを評価できませんでした：{message}',
    'hist.reason.sampled_out': 'エンドポイントのサンプリング率により除外されました。',
    'hist.reason.test_stage': 'エンドポイントはテスト段階で、このイベントはテストフィルターに合致しませんでした。',
    'hist.eventDeliveries': '配信',
    'hist.noEventDeliveries': 'このイベントによる配信はありません。',
    'hist.latestOutcome': '結果',
    'hist.latestResponse': '最新のレスポンス',
    'hist.latestRequest': '最新のリクエスト',
    'hist.errorKindLabel': 'エラーの種類',
    'hist.noError': 'なし',
    'hist.statusCodeLabel': 'ステータスコード',
    'hist.copyId': '配信 ID',
    'hist.copyEventId': 'イベント ID',
    'hist.copyHeaders': 'ヘッダー',
    'hist.copyBody': '本文',
    'hist.copyCurl': 'curl コマンドとしてコピー',
    'hist.copyCurlSecrets': '秘密の値を含めて curl コマンドとしてコピー',
    'hist.copyCurlSecretsLabel': '試行 {n} のリクエストを、秘密のヘッダー値を平文にして curl コマンドとしてコピー',
    'hist.copyCurlLabel': '{n} 回目の試行の curl コマンド',
    'hist.curlHint': 'curl コマンドは送信したリクエストをそのまま再現します（メソッド、URL、すべてのヘッダー、本文をバイト単位で）。秘密のヘッダー値（… と表示）は平文で保存されないため、実行前に入力してください。署名は送信時のままコピーされるため、受信側がそれを受け付けるのはタイムスタンプの許容範囲内（通常は試行から 5 分以内）だけです。',
    'hist.appDeliveriesTitle': '配信',
    'hist.statusCodeFilter': 'ステータスコード（422 や 5xx）',
    'hist.errorKindFilter': 'エラーの種類',
    'hist.channelFilter': 'チャネル',
    'hist.errorKindAll': 'すべて',
    'hist.endpointFilter': 'エンドポイント ID',
    'hist.minLatency': '応答時間がこれより長い（ミリ秒）',
    'hist.bulkResend': 'この条件で表示される {n} 件をすべて再送',
    'hist.bulkResendAll': 'この条件で表示される配信をすべて再送',
    'hist.bulkConfirm': 'この条件で表示されるすべての配信を再送しますか？ 1 件ごとに月間の配信クォータに数えられます。',
    'hist.bulkConfirmButton': '再送する',
    'hist.bulkProgress': '再送中：{total} 件中 {done} 件',
    'hist.bulkDone': '完了：{total} 件中 {done} 件が再び配信対象になり、送信されています。',
    'hist.bulkFailed': '{total} 件中 {done} 件で停止しました：{error}',
    'hist.bulkTooMany': 'この条件に一致する配信が多すぎて一度に再送できません。期間、ステータス、エンドポイントなどで絞り込んでください。',
    'hist.bulkNothing': 'この条件に一致する配信はありません。再送するものはありません。',
    'hist.allDeliveries': 'アプリのすべての配信',
  },
});

const STATUSES = ['pending', 'succeeded', 'failed', 'cancelled'];

// ---- time filters ----------------------------------------------------

/** The page URL's query, as an object of the given keys. */
function urlFilters(keys) {
  const q = new URLSearchParams(location.search);
  const out = {};
  for (const k of keys) out[k] = q.get(k) || '';
  return out;
}

/** Keeps the filters in the address bar without a new history entry. */
function keepFilters(filters) {
  history.replaceState(history.state, '', location.pathname + query(filters));
}

function statusSelect(value) {
  return h('select', null,
    h('option', { value: '', selected: !value }, t('hist.statusAll')),
    STATUSES.map((s) => h('option', { value: s, selected: value === s }, t(`state.${s}`))));
}

function timeInput(iso) {
  return dateTimeInput(iso);
}

/**
 * filterForm builds a filter form whose controls are named as the API's
 * query parameters; controls is { name: [label, element] }. onApply is
 * called with the filters when the form is submitted.
 */
function filterForm(id, label, controls, onApply) {
  const apply = h('button', { type: 'submit', class: 'primary' }, t('action.apply'));
  const frm = h('form', {
    class: 'filters',
    id,
    role: 'search',
    'aria-label': label,
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(frm);
      const f = {};
      for (const [name, [, el]] of Object.entries(controls)) {
        f[name] = 'rfc3339' in el ? el.rfc3339 : el.value.trim();
        if (f[name] === null) { showErrors(frm, { field: name, message: badDateTime() }); return; }
      }
      apply.disabled = true;
      try {
        await onApply(f);
      } finally {
        apply.disabled = false;
      }
    },
  },
  Object.entries(controls).map(([name, [lab, el]]) => field({ label: lab, name, control: el })),
  h('div', { class: 'actions' }, apply));
  return frm;
}

/** A live region that tells screen-reader users the list changed. */
function liveStatus() {
  return h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
}

// ---- shared rendering ------------------------------------------------

function short(s, n = 80) {
  if (!s) return '';
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function fmtMs(ms) {
  if (typeof ms !== 'number') return '—';
  return t('hist.ms', { n: new Intl.NumberFormat(lang(), { maximumFractionDigits: ms < 10 ? 1 : 0 }).format(ms) });
}

function statusBadge(status) {
  return STATUSES.includes(status) ? badge(status) : h('span', { class: 'badge' }, status || '—');
}

/** Whether a delivery failed because of its endpoint's definition, not its destination. */
function definitionError(d) {
  return d.status === 'failed' && d.failure === 'definition';
}

/**
 * deliveryBadge is a delivery's status, with a failure of the endpoint's
 * definition (templates, URL, transformation: nothing was sent) set apart
 * from a failure at the destination.
 */
function deliveryBadge(d) {
  if (definitionError(d)) {
    return h('span', { class: 'badge badge-definition', title: t('hist.definitionHint') }, t('hist.state.definition'));
  }
  return statusBadge(d.status);
}

/** The line that says what an "Error (definition)" is, or null. */
function definitionHint(d) {
  return definitionError(d) ? h('p', { class: 'hint definition-hint' }, t('hist.definitionHint')) : null;
}

const FAILURES = ['definition', 'destination'];

function failureSelect(value) {
  return h('select', null,
    h('option', { value: '', selected: !value }, t('hist.failureAll')),
    FAILURES.map((f) => h('option', { value: f, selected: value === f }, t(`hist.failure.${f}`))));
}

/**
 * endpointLabels returns a function id → Promise of the endpoint's URL (or
 * its id when it cannot be read, e.g. deleted), fetching each endpoint
 * once per page.
 */
function endpointLabels(ctx) {
  const cache = new Map();
  return (id) => {
    if (!cache.has(id)) {
      cache.set(id, api('GET', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(id)}`, undefined, { signal: ctx.signal })
        .then((ep) => endpointLabel(ep), () => id));
    }
    return cache.get(id);
  };
}

/** A link to an endpoint whose text becomes its URL once known. */
function endpointLink(ctx, id, label) {
  const a = h('a', { href: ctx.appHref(`/endpoints/${seg(id)}`), class: 'mono' }, id);
  if (label) {
    label(id).then((text) => {
      a.textContent = text;
      if (text !== id) a.title = id;
    });
  }
  return a;
}

function fact(name, value) {
  return [h('dt', null, name), h('dd', null, value)];
}

/**
 * deliveriesTable lists deliveries; opts.endpoint adds the endpoint column
 * (with label lookups), opts.eventType the event type column.
 */
function deliveriesTable(ctx, rows, opts) {
  const definition = rows.find(definitionError);
  return [definition ? definitionHint(definition) : null, h('div', { class: 'table-wrap' },
    h('table', { class: 'deliveries' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('hist.delivery')),
        h('th', { scope: 'col' }, t('hist.created')),
        opts.eventType ? h('th', { scope: 'col' }, t('hist.eventType')) : null,
        opts.endpoint ? h('th', { scope: 'col' }, t('hist.endpoint')) : null,
        h('th', { scope: 'col' }, t('hist.status')),
        h('th', { scope: 'col', class: 'num' }, t('hist.attempts')),
        h('th', { scope: 'col' }, t('hist.lastError')),
        h('th', { scope: 'col' }, t('hist.nextAttempt')))),
      h('tbody', null, rows.map((d) => h('tr', null,
        h('td', null, h('a', { href: ctx.appHref(`/deliveries/${seg(d.id)}`), class: 'mono' }, d.id)),
        h('td', null, timeEl(d.created_at)),
        opts.eventType ? h('td', null, h('span', { class: 'mono nowrap' }, d.event_type),
          d.test ? [' ', h('span', { class: 'badge badge-test' }, t('hist.testBadge'))] : null) : null,
        opts.endpoint ? h('td', null, endpointLink(ctx, d.endpoint_id, opts.endpoint)) : null,
        h('td', null, deliveryBadge(d)),
        h('td', { class: 'num' }, String(d.attempt_count ?? 0)),
        h('td', { class: 'last-error', title: d.last_error || null }, d.last_error ? short(d.last_error) : '—'),
        h('td', null, d.status === 'pending' ? timeEl(d.next_attempt_at) : '—'))))))];
}

/**
 * pagedList wires a filtered, paged list: fetch(filters, cursor) returns a
 * page, draw(page, filters) its table. Errors naming a filter field are
 * shown next to that field; others fail the page on first load, and are
 * toasted later.
 */
function pagedList(ctx, { form, fields, fetch, draw, announce, loaded = () => {} }) {
  const body = h('div', { class: 'list-body' });
  const live = liveStatus();
  let filters = {};
  let cursor = '';
  const load = async (c, user = true) => {
    body.setAttribute('aria-busy', 'true');
    try {
      const page = await fetch(filters, c);
      cursor = c;
      clearErrors(form());
      replace(body, draw(page, filters), pager(page, c, (next) => load(next)));
      loaded(page, c);
      if (user) live.textContent = announce(page.data.length);
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      if (err && err.field && fields.includes(err.field)) {
        replace(body);
        showErrors(form(), err);
      } else if (!user) {
        throw err;
      } else {
        toast(err.message, 'error');
      }
    } finally {
      body.removeAttribute('aria-busy');
    }
  };
  return {
    body: h('div', null, live, body),
    start: (f) => { filters = f; return load('', false); },
    apply: (f) => { filters = f; keepFilters(f); return load(''); },
    refresh: () => load(cursor),
    filters: () => filters,
  };
}

function refreshButton(list) {
  return h('button', {
    type: 'button',
    class: 'secondary',
    onclick: async (e) => {
      const b = e.currentTarget;
      b.disabled = true;
      try { await list.refresh(); } finally { b.disabled = false; }
    },
  }, t('action.refresh'));
}

const noFilters = (f) => Object.values(f).every((v) => !v);

// ---- pages -----------------------------------------------------------

/**
 * bulkResend is the "Resend all N shown by this filter" button of a
 * delivery list, with its job's progress bar. body(filters) gives the
 * request's filters; update(page, cursor) is called after each load (N is
 * known when the list fits on one page). Hidden for read-only callers.
 */
function bulkResend(ctx, { filters, body, done }) {
  const status = h('p', { class: 'bulk-status', role: 'status', 'aria-live': 'polite' });
  const bar = h('progress', { class: 'bulk-progress', max: 1, value: 0, hidden: true, 'aria-label': t('hist.bulkResendAll') });
  const button = h('button', {
    type: 'button',
    class: 'secondary',
    id: 'bulk-resend',
    onclick: async () => {
      if (!await confirmDialog(t('hist.bulkConfirm'), t('hist.bulkConfirmButton'))) return;
      button.disabled = true;
      status.textContent = '';
      try {
        let job = await api('POST', `/v1/apps/${seg(ctx.app)}/deliveries/resend`, body(filters()), { signal: ctx.signal });
        bar.hidden = false;
        const show = () => {
          bar.max = Math.max(job.total, 1);
          bar.value = job.done;
          status.textContent = t('hist.bulkProgress', { done: job.done, total: job.total });
        };
        show();
        while (job.state === 'running') {
          await new Promise((r) => { setTimeout(r, 400); });
          job = await api('GET', `/v1/apps/${seg(ctx.app)}/jobs/${seg(job.id)}`, undefined, { signal: ctx.signal });
          show();
        }
        if (job.state === 'succeeded') {
          bar.value = bar.max;
          status.textContent = job.total === 0 ? t('hist.bulkNothing') : t('hist.bulkDone', { done: job.done, total: job.total });
        } else {
          status.textContent = t('hist.bulkFailed', { done: job.done, total: job.total, error: job.error || '' });
        }
        status.dataset.state = job.state;
        done();
      } catch (err) {
        if (err && err.name === 'AbortError') return;
        bar.hidden = true;
        status.textContent = err.field === 'filter' ? t('hist.bulkTooMany') : err.message;
      } finally {
        button.disabled = false;
      }
    },
  }, t('hist.bulkResendAll'));
  const el = ctx.readOnly ? null : h('div', { class: 'bulk-resend' }, button, bar, status);
  const update = (page, cursor) => {
    if (!el) return;
    const whole = !cursor && !page.next_cursor;
    // Nothing to resend: no button (a class's display would beat the hidden attribute).
    button.style.display = whole && page.data.length === 0 ? 'none' : '';
    button.textContent = whole ? t('hist.bulkResend', { n: page.data.length }) : t('hist.bulkResendAll');
  };
  return { el, update };
}

/** A list's filters as the resend's body: set values only, numbers as numbers. */
function resendBody(f, extra) {
  const out = { ...extra };
  for (const [k, v] of Object.entries(f)) {
    if (v === '' || v === undefined) continue;
    out[k] = k === 'min_latency_ms' ? Number(v) : v;
  }
  return out;
}

const ERROR_KINDS = ['http_status', 'dns', 'connect', 'tls', 'timeout', 'network', 'policy', 'auth', 'render', 'rejected', 'transform'];

function errorKindSelect(value) {
  return h('select', null,
    h('option', { value: '', selected: !value }, t('hist.errorKindAll')),
    ERROR_KINDS.map((k) => h('option', { value: k, selected: value === k }, errorKindText(k))));
}

/** Every delivery of the app, with all the list's filters: /apps/:app/deliveries. */
export async function appDeliveries(ctx) {
  const keys = ['status', 'failure', 'event_type', 'endpoint_id', 'channel', 'status_code', 'error_kind', 'since', 'until', 'min_latency_ms'];
  const initial = urlFilters(keys);
  const label = endpointLabels(ctx);
  let frm;
  let bulk;
  const list = pagedList(ctx, {
    form: () => frm,
    fields: keys,
    fetch: (f, cursor) => api('GET', `/v1/apps/${seg(ctx.app)}/deliveries${query({
      include_attempts: 'false', ...f, cursor, limit: 50,
    })}`, undefined, { signal: ctx.signal }),
    draw: (page, f) => (page.data.length === 0
      ? empty(t('hist.noDeliveriesFiltered'))
      : deliveriesTable(ctx, page.data, { eventType: true, endpoint: label })),
    announce: (n) => t('hist.shownDeliveries', { n }),
    loaded: (page, c) => bulk.update(page, c),
  });
  bulk = bulkResend(ctx, { filters: list.filters, body: (f) => resendBody(f), done: () => list.refresh() });
  const text = (v, attrs = {}) => h('input', { type: 'text', value: v, autocomplete: 'off', spellcheck: 'false', ...attrs });
  frm = filterForm('app-delivery-filters', t('hist.filters'), {
    status: [t('hist.status'), statusSelect(initial.status)],
    failure: [t('hist.failureFilter'), failureSelect(initial.failure)],
    event_type: [t('hist.eventType'), text(initial.event_type, { placeholder: t('hist.eventTypeAll') })],
    endpoint_id: [t('hist.endpointFilter'), text(initial.endpoint_id)],
    channel: [t('hist.channelFilter'), text(initial.channel)],
    status_code: [t('hist.statusCodeFilter'), text(initial.status_code, { inputmode: 'numeric' })],
    error_kind: [t('hist.errorKindFilter'), errorKindSelect(initial.error_kind)],
    since: [t('hist.since'), timeInput(initial.since)],
    until: [t('hist.until'), timeInput(initial.until)],
    min_latency_ms: [t('hist.minLatency'), text(initial.min_latency_ms, { inputmode: 'numeric' })],
  }, (f) => list.apply(f));
  await list.start(initial);
  return h('section', null,
    pageHeader(t('hist.appDeliveriesTitle'), refreshButton(list)),
    frm,
    bulk.el,
    list.body);
}

/** An endpoint's deliveries: /apps/:app/endpoints/:id/deliveries. */
export async function endpointDeliveries(ctx) {
  const { id } = ctx.params;
  const ep = await api('GET', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(id)}`, undefined, { signal: ctx.signal });
  const initial = urlFilters(['status', 'failure', 'since', 'until']);
  // A failure group links here with its cause (the failures page): the
  // latest attempt's status code or error kind, kept while the page lives.
  const cause = urlFilters(['status_code', 'error_kind']);
  let frm;
  const list = pagedList(ctx, {
    form: () => frm,
    fields: ['status', 'failure', 'since', 'until'],
    fetch: (f, cursor) => api('GET', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(id)}/deliveries${query({
      include_attempts: 'false', ...cause, ...f, cursor, limit: 50,
    })}`, undefined, { signal: ctx.signal }),
    draw: (page, f) => (page.data.length === 0
      ? empty(noFilters(f) ? t('hist.noDeliveries') : t('hist.noDeliveriesFiltered'))
      : deliveriesTable(ctx, page.data, { eventType: true })),
    announce: (n) => t('hist.shownDeliveries', { n }),
    loaded: (page, c) => bulk.update(page, c),
  });
  const bulk = bulkResend(ctx, { filters: list.filters, body: (f) => resendBody(f, { endpoint_id: id }), done: () => list.refresh() });
  frm = filterForm('delivery-filters', t('hist.filters'), {
    status: [t('hist.status'), statusSelect(initial.status)],
    failure: [t('hist.failureFilter'), failureSelect(initial.failure)],
    since: [t('hist.since'), timeInput(initial.since)],
    until: [t('hist.until'), timeInput(initial.until)],
  }, (f) => list.apply(f));
  await list.start(initial);
  return h('section', null,
    pageHeader(t('hist.title'),
      h('a', { class: 'button', href: ctx.appHref(`/endpoints/${seg(id)}`) }, t('hist.backToEndpoint')),
      h('a', { class: 'button', href: ctx.appHref('/deliveries') }, t('hist.allDeliveries')),
      refreshButton(list)),
    h('p', { class: 'page-subtitle mono' }, endpointLabel(ep)),
    ep.description ? h('p', { class: 'muted' }, ep.description) : null,
    cause.status_code || cause.error_kind ? h('p', { class: 'hint cause-filter' },
      t('hist.causeFilter', { cause: cause.status_code ? `HTTP ${cause.status_code}` : cause.error_kind }), ' ',
      h('a', { href: ctx.appHref(`/endpoints/${seg(id)}/deliveries`) }, t('hist.causeClear'))) : null,
    frm,
    bulk.el,
    list.body);
}

/** The error kind in words (the kind itself when unknown). */
function errorKindText(kind) {
  const k = `hist.errorKind.${kind}`;
  return t(k) === k ? kind : t(k);
}

/** Whether an attempt published to a broker rather than sent a request. */
function isPublish(at) {
  return !!at.request && at.request.method === PUBLISH;
}

function isOk(at) {
  return !at.error_kind && at.response && at.response.status_code >= 200 && at.response.status_code < 300;
}

/** An attempt with neither an answer nor a failure: the transformation cancelled it. */
function isCancelled(at) {
  return !at.error_kind && !at.response;
}

/** What came back for an attempt: status code, error kind, error, the response. */
function outcomeView(at, n, brief) {
  const resp = at.response;
  const ok = isOk(at);
  if (isPublish(at)) {
    // A broker answers with an acknowledgement (its text is the
    // response's body), not with an HTTP status.
    return h('div', { class: 'outcome' },
      h('dl', { class: 'facts' },
        fact(t('hist.ackLabel'), resp && ok
          ? badge('succeeded', t('hist.acknowledged', { ack: resp.body || '—' }))
          : h('span', { class: 'muted' }, t('hist.notAcknowledged'))),
        brief ? fact(t('hist.errorKindLabel'), at.error_kind ? errorKindText(at.error_kind) : t('hist.noError')) : null,
        at.error ? fact(t('hist.error'), h('span', { class: 'attempt-error' }, at.error)) : null,
        brief ? null : fact(t('hist.latency'), fmtMs(at.latency_ms))));
  }
  return h('div', { class: 'outcome' },
    h('dl', { class: 'facts' },
      fact(t('hist.statusCodeLabel'), resp
        ? badge(ok ? 'succeeded' : 'failed', t('hist.statusCode', { code: resp.status_code }))
        : h('span', { class: 'muted' }, t('hist.noResponse'))),
      brief ? fact(t('hist.errorKindLabel'), at.error_kind ? errorKindText(at.error_kind) : t('hist.noError')) : null,
      at.error ? fact(t('hist.error'), h('span', { class: 'attempt-error' }, at.error)) : null,
      brief ? null : fact(t('hist.latency'), fmtMs(at.latency_ms))),
    resp ? [
      h('div', { class: 'copy-row' }, h('h4', null, t('hist.body')),
        resp.body ? copyButton(resp.body, t('hist.responseBody', { n })) : null),
      codeBlock(resp.body ? pretty(resp.body) : t('hist.emptyBody'), t('hist.responseBody', { n })),
      resp.body_truncated ? h('p', { class: 'hint truncated' }, t('hist.truncated')) : null,
      h('details', { class: 'attempt-part' },
        h('summary', null, t('hist.headers')),
        h('div', { class: 'copy-row' }, copyButton(headerLines(resp.headers), t('hist.responseHeaders', { n }))),
        codeBlock(headerLines(resp.headers) || '—', t('hist.responseHeaders', { n }))),
    ] : null);
}

/** The request of an attempt, as sent, with copy buttons and copy as curl. */
function requestView(ctx, d, at, n, open, curlId) {
  const req = at.request || {};
  const masked = Object.values(req.headers || {}).some((v) => String(v).includes(MASKED));
  if (isPublish(at)) {
    // A message to a broker: where it went, its headers and body; no
    // curl command repeats it.
    return h('details', { class: 'attempt-part request', open },
      h('summary', null, t('hist.message')),
      h('p', { class: 'published-to' }, t('hist.publishedTo'), h('code', { class: 'mono' }, req.url || '')),
      h('div', { class: 'copy-row' }, h('h4', null, t('hist.headers')),
        copyButton(headerLines(req.headers), t('hist.requestHeaders', { n }))),
      codeBlock(headerLines(req.headers) || '—', t('hist.requestHeaders', { n })),
      h('div', { class: 'copy-row' }, h('h4', null, t('hist.body')),
        req.body ? copyButton(req.body, t('hist.requestBody', { n })) : null),
      codeBlock(req.body ? pretty(req.body) : t('hist.emptyBody'), t('hist.requestBody', { n })));
  }
  return h('details', { class: 'attempt-part request', open },
    h('summary', null, t('hist.request')),
    h('div', { class: 'copy-row' },
      copyButton(() => curlCommand(req), t('hist.copyCurlLabel', { n }), { text: t('hist.copyCurl'), id: curlId }),
      masked && ctx.secrets ? copyButton(async () => curlCommand(await revealed(ctx, d, req)),
        t('hist.copyCurlSecretsLabel', { n }), { text: t('hist.copyCurlSecrets'), id: `${curlId}-secrets` }) : null),
    h('p', { class: 'hint curl-hint' }, t('hist.curlHint')),
    codeBlock(`${req.method || ''} ${req.url || ''}`, t('hist.requestLine', { n })),
    h('div', { class: 'copy-row' }, h('h4', null, t('hist.headers')),
      copyButton(headerLines(req.headers), t('hist.requestHeaders', { n }))),
    codeBlock(headerLines(req.headers) || '—', t('hist.requestHeaders', { n })),
    h('div', { class: 'copy-row' }, h('h4', null, t('hist.body')),
      req.body ? copyButton(req.body, t('hist.requestBody', { n })) : null),
    codeBlock(req.body ? pretty(req.body) : t('hist.emptyBody'), t('hist.requestBody', { n })));
}

/**
 * revealed is req with its masked header values filled in: the endpoint
 * renders the delivery's event again with secret values in clear (which
 * the API allows to those who may read the signing secret), and each
 * masked header takes its value from there.
 */
async function revealed(ctx, d, req) {
  const ev = await api('GET', `/v1/apps/${seg(ctx.app)}/events/${seg(d.event_id)}`, undefined, { signal: ctx.signal });
  const p = await api('POST', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(d.endpoint_id)}/preview`,
    { event_type: d.event_type, payload: ev.payload ?? undefined, reveal_secrets: true }, { signal: ctx.signal });
  const clear = new Map(Object.entries(p.headers || {}).map(([k, v]) => [k.toLowerCase(), v]));
  const headers = {};
  for (const [k, v] of Object.entries(req.headers || {})) {
    headers[k] = String(v).includes(MASKED) && clear.has(k.toLowerCase()) ? clear.get(k.toLowerCase()) : v;
  }
  return { ...req, headers };
}

/** One attempt: the outcome first, then the request. */
function attemptSection(ctx, d, at) {
  const n = at.attempt;
  const headingId = `attempt-${n}-title`;
  const trig = t(`hist.trigger.${at.trigger}`);
  return h('section', { class: 'attempt card', 'aria-labelledby': headingId },
    h('h3', { id: headingId }, t('hist.attempt', { n }), ' ', badge(isOk(at) ? 'succeeded' : isCancelled(at) ? 'cancelled' : 'failed')),
    h('p', { class: 'muted' }, timeEl(at.created_at), ' · ', trig === `hist.trigger.${at.trigger}` ? at.trigger : trig,
      ' · ', `${t('hist.latency')}: ${fmtMs(at.latency_ms)}`,
      at.batch_id ? [' · ', h('span', { class: 'mono batch-id', title: t('hist.batchHint') }, t('hist.batch', { id: at.batch_id }))] : null),
    outcomeView(at, n, true),
    requestView(ctx, d, at, n, false, `curl-${n}`));
}

/** One delivery with its attempts: /apps/:app/deliveries/:id. */
export async function delivery(ctx) {
  const path = `/v1/apps/${seg(ctx.app)}/deliveries/${seg(ctx.params.id)}`;
  const d0 = await api('GET', path, undefined, { signal: ctx.signal });
  const body = h('div');
  // skip lets the later deliveries of a failed delivery's ordering key go
  // on: shown on failed, keyed deliveries not yet skipped.
  const skip = ctx.readOnly ? null : h('button', {
    type: 'button',
    id: 'skip',
    title: t('hist.skipHint', { key: d0.ordering_key || '' }),
    onclick: async () => {
      skip.disabled = true;
      skip.textContent = t('hist.skipping');
      try {
        const d = await api('POST', `${path}/skip`, undefined, { signal: ctx.signal });
        draw(d);
        toast(t('hist.skipped', { key: d.ordering_key }), 'ok');
      } catch (err) {
        if (err && err.name === 'AbortError') return;
        toast(err.message, 'error');
      } finally {
        skip.disabled = false;
        skip.textContent = t('hist.skip');
      }
    },
  }, t('hist.skip'));
  const draw = (d) => {
    const attempts = [...(d.attempts || [])].sort((a, b) => b.attempt - a.attempt);
    const last = attempts[0];
    if (skip) skip.hidden = !(d.status === 'failed' && d.ordering_key && !d.skipped);
    replace(body,
      h('section', { class: 'card delivery-outcome', 'aria-labelledby': 'outcome-title' },
        h('h2', { id: 'outcome-title' }, t('hist.latestOutcome')),
        h('dl', { class: 'facts' },
          fact(t('hist.status'), deliveryBadge(d)),
          fact(t('hist.attemptCount'), String(d.attempt_count ?? 0)),
          fact(t('hist.errorKindLabel'), last && last.error_kind ? errorKindText(last.error_kind) : t('hist.noError')),
          d.status === 'pending' ? fact(t('hist.nextAttempt'), timeEl(d.next_attempt_at)) : null),
        definitionHint(d),
        last ? [h('h3', null, isPublish(last) ? t('hist.latestAck') : t('hist.latestResponse')), outcomeView(last, last.attempt, false)] : empty(t('hist.noAttempts'))),
      last ? h('section', { class: 'card delivery-request', 'aria-labelledby': 'latest-request-title' },
        h('h2', { id: 'latest-request-title' }, isPublish(last) ? t('hist.latestMessage') : t('hist.latestRequest')),
        requestView(ctx, d, last, last.attempt, true, 'curl-latest')) : null,
      h('section', { class: 'card' },
        h('dl', { class: 'facts' },
          fact(t('hist.delivery'), h('span', { class: 'row' }, h('span', { class: 'mono' }, d.id), copyButton(d.id, t('hist.copyId')))),
          fact(t('hist.eventType'), h('span', { class: 'mono' }, d.event_type)),
          fact(t('hist.event'), h('span', { class: 'row' },
            h('a', { class: 'mono', href: ctx.appHref(`/events/${seg(d.event_id)}`) }, d.event_id),
            copyButton(d.event_id, t('hist.copyEventId')))),
          fact(t('hist.endpoint'), endpointLink(ctx, d.endpoint_id, endpointLabels(ctx))),
          fact(t('hist.test'), d.test ? t('hist.yes') : t('hist.no')),
          fact(t('hist.orderingKey'), d.ordering_key
            ? h('span', { class: 'row' }, h('span', { class: 'mono', id: 'ordering-key' }, d.ordering_key),
              d.skipped ? h('span', { class: 'muted', id: 'skipped-mark' }, t('hist.skippedMark')) : null)
            : t('hist.notOrdered')),
          fact(t('hist.created'), timeEl(d.created_at)),
          fact(t('hist.updated'), timeEl(d.updated_at)),
          fact(t('hist.lastError'), d.last_error || '—'))),
      h('h2', null, t('hist.attemptsTitle')),
      attempts.length ? attempts.map((at) => attemptSection(ctx, d, at)) : empty(t('hist.noAttempts')));
  };
  draw(d0);
  const resend = ctx.readOnly ? null : h('button', {
    type: 'button',
    id: 'resend',
    class: 'primary',
    onclick: async () => {
      resend.disabled = true;
      resend.textContent = t('hist.resending');
      try {
        const out = await api('POST', `${path}/resend`, undefined, { signal: ctx.signal });
        draw(out.delivery);
        if (!out.attempt) {
          // A pull endpoint's delivery: nothing was sent, it is due again.
          toast(t('hist.requeued'), 'ok');
          return;
        }
        const at = out.attempt;
        const ok = !at.error_kind && at.response && at.response.status_code < 300;
        toast(t('hist.resent', { n: at.attempt ?? '', outcome: ok ? t('hist.resentOk') : t('hist.resentFailed') }), ok ? 'ok' : 'error');
      } catch (err) {
        if (err && err.name === 'AbortError') return;
        toast(err.message, 'error');
      } finally {
        resend.disabled = false;
        resend.textContent = t('hist.resend');
        // Disabling the button dropped its focus: give it back.
        if (!document.activeElement || document.activeElement === document.body) resend.focus();
      }
    },
  }, t('hist.resend'));
  return h('section', null,
    pageHeader(t('hist.deliveryTitle', { id: d0.id }), ...[skip, resend].filter(Boolean)),
    body);
}

/** The app's events: /apps/:app/events. */
export async function events(ctx) {
  const initial = urlFilters(['event_type', 'since', 'until']);
  let frm;
  const list = pagedList(ctx, {
    form: () => frm,
    fields: ['event_type', 'since', 'until'],
    fetch: (f, cursor) => api('GET', `/v1/apps/${seg(ctx.app)}/events${query({ ...f, cursor, limit: 50 })}`, undefined, { signal: ctx.signal }),
    draw: (page, f) => (page.data.length === 0
      ? empty(noFilters(f) ? t('hist.noEvents') : t('hist.noEventsFiltered'))
      : h('div', { class: 'table-wrap' },
        h('table', null,
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, t('hist.time')),
            h('th', { scope: 'col' }, t('hist.type')),
            h('th', { scope: 'col' }, t('hist.id')))),
          h('tbody', null, page.data.map((ev) => h('tr', null,
            h('td', null, timeEl(ev.created_at)),
            h('td', null, h('span', { class: 'mono nowrap' }, ev.event_type)),
            h('td', null, h('a', { class: 'mono', href: ctx.appHref(`/events/${seg(ev.id)}`) }, ev.id)))))))),
    announce: (n) => t('hist.shownEvents', { n }),
  });
  // The catalog's names as suggestions; free text still works.
  const listId = 'event-type-options';
  const typeInput = h('input', { type: 'text', value: initial.event_type, list: listId, autocomplete: 'off', spellcheck: 'false', placeholder: t('hist.eventTypeAll') });
  const options = h('datalist', { id: listId });
  api('GET', `/v1/event-types${query({ limit: 250 })}`, undefined, { signal: ctx.signal })
    .then((p) => replace(options, p.data.map((et) => h('option', { value: et.name }))), () => {});
  frm = filterForm('event-filters', t('hist.filters'), {
    event_type: [t('hist.eventType'), typeInput],
    since: [t('hist.since'), timeInput(initial.since)],
    until: [t('hist.until'), timeInput(initial.until)],
  }, (f) => list.apply(f));
  frm.append(options);
  await list.start(initial);
  return h('section', null,
    pageHeader(t('hist.eventsTitle'), refreshButton(list)),
    frm,
    list.body);
}

function routingView(ctx, routing, label) {
  if (!routing) return h('p', { class: 'muted' }, t('hist.routingNone'));
  const matched = routing.matched || [];
  const skipped = routing.skipped || [];
  const reason = (r) => {
    if (r === 'filter' || r === 'sampled_out' || r === 'test_stage') return t(`hist.reason.${r}`);
    if (r.startsWith('filter_error:')) return t('hist.reason.filter_error', { message: r.slice('filter_error:'.length).trim() });
    return r;
  };
  return h('div', { class: 'routing' },
    h('p', { class: 'hint' }, t('hist.routingHint')),
    !matched.length && !skipped.length ? h('p', null, t('hist.routingNobody')) : null,
    matched.length ? [
      h('h3', null, t('hist.matched', { n: matched.length })),
      h('ul', { class: 'routing-matched' }, matched.map((id) => h('li', null, endpointLink(ctx, id, label)))),
    ] : null,
    skipped.length ? [
      h('h3', null, t('hist.skipped', { n: skipped.length })),
      h('div', { class: 'table-wrap' }, h('table', null,
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, t('hist.endpoint')),
          h('th', { scope: 'col' }, t('hist.reason')))),
        h('tbody', null, skipped.map((s) => h('tr', null,
          h('td', null, endpointLink(ctx, s.endpoint_id, label)),
          h('td', null, reason(s.reason || ''))))))),
    ] : null);
}

/** One event: /apps/:app/events/:id. */
export async function event(ctx) {
  const evPath = `/v1/apps/${seg(ctx.app)}/events/${seg(ctx.params.id)}`;
  const ev = await api('GET', evPath, undefined, { signal: ctx.signal });
  const label = endpointLabels(ctx);
  const initial = urlFilters(['status']);
  let frm;
  const list = pagedList(ctx, {
    form: () => frm,
    fields: ['status'],
    fetch: (f, cursor) => api('GET', `${evPath}/deliveries${query({ include_attempts: 'false', ...f, cursor, limit: 50 })}`, undefined, { signal: ctx.signal }),
    draw: (page, f) => (page.data.length === 0
      ? empty(noFilters(f) ? t('hist.noEventDeliveries') : t('hist.noDeliveriesFiltered'))
      : deliveriesTable(ctx, page.data, { endpoint: label })),
    announce: (n) => t('hist.shownDeliveries', { n }),
    loaded: (page, c) => bulk.update(page, c),
  });
  const bulk = bulkResend(ctx, { filters: list.filters, body: (f) => resendBody(f, { event_id: ev.id }), done: () => list.refresh() });
  frm = filterForm('event-delivery-filters', t('hist.filters'), {
    status: [t('hist.status'), statusSelect(initial.status)],
  }, (f) => list.apply(f));
  await list.start(initial);
  const typeText = h('span', { class: 'mono' }, ev.event_type);
  return h('section', null,
    pageHeader(t('hist.eventTitle', { id: ev.id }), refreshButton(list)),
    h('div', { class: 'grid-2' },
      h('section', { class: 'card', 'aria-labelledby': 'event-facts-title' },
        h('h2', { id: 'event-facts-title', class: 'visually-hidden' }, t('hist.event')),
        h('dl', { class: 'facts' },
          fact(t('hist.type'), ctx.mode === 'console'
            ? h('a', { class: 'mono', href: ctx.href(`/event-types/${seg(ev.event_type)}`) }, ev.event_type) : typeText),
          fact(t('hist.id'), h('span', { class: 'mono' }, ev.id)),
          fact(t('hist.idemKey'), ev.idempotency_key ? h('span', { class: 'mono' }, ev.idempotency_key) : '—'),
          fact(t('hist.created'), timeEl(ev.created_at)))),
      h('section', { class: 'card hist-card', 'aria-labelledby': 'event-routing-title' },
        h('h2', { id: 'event-routing-title' }, t('hist.routing')),
        routingView(ctx, ev.routing, label))),
    h('h2', null, t('hist.payload')),
    codeBlock(JSON.stringify(ev.payload, null, 2) ?? '', t('hist.payload')),
    h('h2', { id: 'event-deliveries-title' }, t('hist.eventDeliveries')),
    frm,
    bulk.el,
    list.body);
}
