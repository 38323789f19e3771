// Endpoints: the app's list (with each one's success rate of the last
// day) and one endpoint's page: its settings at a glance, the enable
// switch, a test send, the signing secret, recovery of failed deliveries
// and its health with a chart of the last day.

import { api, query, seg } from '../api.js';
import { addStrings, t } from '../i18n.js';
import {
  h, field, showErrors, clearErrors, pageHeader, empty, pager, timeEl, toast, confirmDialog, replace,
  pretty, codeBlock, headerLines, badge, newId, dateTimeInput, badDateTime, fmtTime,
} from '../dom.js';
import { lineChart, fmtRate, fmtMs } from './chart.js';
import { pinTags, endpointPins } from './pins.js';

addStrings({
  en: {
    'ep.title': 'Endpoints',
    'ep.new': 'New endpoint',
    'ep.none': 'No endpoints yet. An endpoint is a URL that receives this app\'s events: choose "New endpoint" and give the URL of your receiver.',
    'ep.noneReadOnly': 'No endpoints yet.',
    'ep.url': 'URL',
    'ep.where': 'URL or destination',
    'ep.description': 'Description',
    'ep.eventTypes': 'Event types',
    'ep.state': 'State',
    'ep.rate': 'Success rate (24 h)',
    'ep.successRate': 'Success rate',
    'ep.allTypes': 'All event types',
    'ep.more': '+{n} more',
    'ep.operational': 'Operational',
    'ep.statsError': 'Not available: {message}',
    'ep.edit': 'Edit',
    'ep.view': 'Settings',
    'ep.history': 'Delivery history',
    'ep.paused': 'Paused ordering keys',
    'ep.pausedHint': 'Each key waits for its failed delivery: resend it, or open it and skip it, to let the key go on.',
    'ep.pausedKey': 'Key',
    'ep.pausedDelivery': 'Failed delivery',
    'ep.pausedWaiting': 'Waiting behind it',
    'ep.enabled': 'Enabled',
    'ep.enabledHint': 'When off, new events are not queued for this endpoint and its pending deliveries pause.',
    'ep.nowEnabled': 'Endpoint enabled.',
    'ep.nowDisabled': 'Endpoint disabled.',
    'ep.disabledBy': 'Herald disabled this endpoint {when}: {reason}',
    'ep.wasDisabled': 'Enabled again; Herald had disabled it {when}: {reason}. This note clears after its next successful delivery.',
    'ep.settings': 'Settings',
    'ep.id': 'Id',
    'ep.pullLabel': 'Pull endpoint {id}',
    'ep.kind': 'Kind',
    'ep.kindPush': 'Push: Herald sends each delivery to the URL',
    'ep.kindPull': 'Pull: a client collects the deliveries (GET …/pull) and acknowledges them',
    'ep.kindBroker': '{kind}: Herald publishes each delivery to the broker',
    'ep.destination': 'Destination',
    'ep.publishedTo': 'Published to',
    'ep.acknowledged': 'Acknowledged: {ack}',
    'ep.ackLabel': 'Broker\'s acknowledgement',
    'ep.method': 'Method',
    'ep.contentType': 'Content type',
    'ep.filter': 'Filter',
    'ep.noFilter': 'None: every subscribed event',
    'ep.preset': 'Preset',
    'ep.noPreset': 'None',
    'ep.signature': 'Signature scheme',
    'ep.v1': 'v1 (HMAC-SHA256, shared secret)',
    'ep.v1a': 'v1a (Ed25519, public key)',
    'ep.retry': 'Retry schedule',
    'ep.timeout': 'Timeout',
    'ep.inFlight': 'Requests in flight',
    'ep.rateLimit': 'Rate limit',
    'ep.perSecond': '{n} per second',
    'ep.noLimit': 'None',
    'ep.sampleRate': 'Sample rate',
    'ep.effectiveHint': 'Delivery settings in force (the endpoint\'s own, else the app\'s, else the installation\'s).',
    'ep.created': 'Created',
    'ep.updated': 'Updated',
    'ep.test': 'Test send',
    'ep.testIntro': 'Sends one real, signed request now with the payload below (the event type\'s sample to start with). It shows in the history and is never retried.',
    'ep.testIntroBroker': 'Publishes one real, signed message now with the payload below (the event type\'s sample to start with), and shows the broker\'s acknowledgement. It shows in the history and is never retried.',
    'ep.testPayload': 'Payload (JSON)',
    'ep.testPayloadHint': 'Edit it freely: the receiver gets exactly this object as the event\'s data.',
    'ep.testBadJson': 'This is not valid JSON: {message}',
    'ep.testNotObject': 'The payload must be a JSON object, in braces: { … }.',
    'ep.testSchema': 'The payload does not match the event type\'s schema: {message}',
    'ep.testBusy': 'Several test sends are already under way: try again in a second.',
    'ep.testFailed': 'The test could not be sent: {message}',
    'ep.testType': 'Event type',
    'ep.testSend': 'Send test event',
    'ep.testSending': 'Sending…',
    'ep.testNoTypes': 'There is no event type to test with: add one to the catalog first.',
    'ep.testResult': 'Result: {status}',
    'ep.attempt': 'Attempt {n}',
    'ep.latency': 'Latency',
    'ep.request': 'Request',
    'ep.response': 'Response',
    'ep.requestLine': 'Method and URL',
    'ep.headers': 'Headers',
    'ep.body': 'Body',
    'ep.status': 'Status code',
    'ep.truncated': 'The body was cut: only its beginning is kept.',
    'ep.noResponse': 'No response: {kind}',
    'ep.errorKind.http_status': 'the receiver answered with an error status',
    'ep.errorKind.dns': 'the host name did not resolve',
    'ep.errorKind.connect': 'no connection could be made',
    'ep.errorKind.tls': 'the TLS handshake or certificate check failed',
    'ep.errorKind.timeout': 'no complete answer within the timeout',
    'ep.errorKind.network': 'the connection broke',
    'ep.errorKind.policy': 'Herald refused to send',
    'ep.errorKind.auth': 'the destination refused Herald\'s credentials, or Herald could not get the access token',
    'ep.errorKind.render': 'the templates made a request that cannot be sent',
    'ep.errorKind.rejected': 'the broker refused the message',
    'ep.errorKind.transform': 'the endpoint\'s transformation failed (a throw, or its CPU or memory limit)',
    'ep.secret': 'Signing secret',
    'ep.secretIntro': 'Receivers check each request\'s webhook-signature header with this secret.',
    'ep.secretShow': 'Show secret',
    'ep.secretReadOnly': 'Read-only access does not show the signing secret.',
    'ep.secretRole': 'Your role ({role}) does not rotate the signing secret; ask an admin.',
    'ep.stage': 'Stage',
    'ep.stage.test': 'Test',
    'ep.stage.live': 'Live',
    'ep.stageTestHint': 'Only events that meet the test filter are sent: {filter}',
    'ep.stageLiveHint': 'Every matching event is sent.',
    'ep.goLive': 'Go live',
    'ep.goLiveConfirm': 'Send every matching event to this endpoint from now on, not only the test audience?',
    'ep.nowLive': 'The endpoint is live.',
    'ep.secretHide': 'Hide secret',
    'ep.secretRotate': 'Rotate secret',
    'ep.secretRotateConfirm': 'Make a new signing secret? For 24 hours requests carry signatures with both the old and the new secret, so your receiver can switch without missing a request.',
    'ep.secretRotated': 'New secret made. The previous one keeps signing until {until}.',
    'ep.secretRotatedNow': 'New secret made.',
    'ep.publicKey': 'Public key',
    'ep.recover': 'Recover failed deliveries',
    'ep.recoverIntro': 'Queues again every failed delivery of this endpoint created since the time below.',
    'ep.since': 'Since',
    'ep.sinceHint': 'In your time zone.',
    'ep.recoverStart': 'Recovery started.',
    'ep.job.running': 'Running',
    'ep.job.succeeded': 'Finished',
    'ep.job.failed': 'Failed',
    'ep.jobDone': 'Recovery finished: {done} of {total} deliveries queued again.',
    'ep.jobFailed': 'Recovery failed: {error}',
    'ep.jobProgress': 'Recovery progress',
    'ep.health': 'Health',
    'ep.window': 'Window',
    'ep.lastHour': 'Last hour',
    'ep.lastDay': 'Last 24 hours',
    'ep.lastWeek': 'Last 7 days',
    'ep.pending': 'Pending',
    'ep.retrying': 'Retrying',
    'ep.cancelled': 'Cancelled',
    'ep.channels': 'Channels',
    'ep.template': 'Endpoint template',
    'ep.templateOwn': 'Own fields: {list}',
    'ep.uid': 'Your id',
    'ep.webhookHeaders': 'Signature headers',
    'ep.failing': 'Failing',
    'ep.metadata': 'Metadata',
    'ep.karteKept': 'karte.* are fields of the pasted KARTE definition that Herald does not use: kept as they were, with no effect on what is sent.',
    'ep.failingDefinition': 'Failing: error (definition)',
    'ep.definitionHint': 'The endpoint\'s template, URL or transformation could not make a request, so the destination was not contacted: fix the endpoint.',
    'ep.failingSince': 'Failing since',
    'ep.succeeded': 'Succeeded',
    'ep.failed': 'Failed',
    'ep.p50': 'Latency p50 (7 days)',
    'ep.p99': 'Latency p99 (7 days)',
    'ep.lastSuccess': 'Last success',
    'ep.lastFailure': 'Last failure',
    'ep.lastFailureError': 'Last failure\'s error',
    'ep.chartTitle': 'Success rate and median latency, hour by hour, last 24 hours',
    'ep.healthError': 'The statistics could not be loaded: {message}',
  },
  ja: {
    'ep.title': 'エンドポイント',
    'ep.new': 'エンドポイントを追加',
    'ep.none': 'エンドポイントはまだありません。エンドポイントはこのアプリのイベントを受け取る URL です。「エンドポイントを追加」から受信側の URL を登録してください。',
    'ep.noneReadOnly': 'エンドポイントはまだありません。',
    'ep.url': 'URL',
    'ep.where': 'URL または送信先',
    'ep.description': '説明',
    'ep.eventTypes': 'イベントタイプ',
    'ep.state': '状態',
    'ep.rate': '成功率（24 時間）',
    'ep.successRate': '成功率',
    'ep.allTypes': 'すべてのイベントタイプ',
    'ep.more': 'ほか {n} 件',
    'ep.operational': '運用通知用',
    'ep.statsError': '取得できません：{message}',
    'ep.edit': '編集',
    'ep.view': '設定',
    'ep.history': '配信履歴',
    'ep.paused': '一時停止中の順序キー',
    'ep.pausedHint': '各キーは失敗した配信を待っています。再送するか、配信を開いてスキップすると、そのキーの配信が再開します。',
    'ep.pausedKey': 'キー',
    'ep.pausedDelivery': '失敗した配信',
    'ep.pausedWaiting': '待機中の件数',
    'ep.enabled': '有効',
    'ep.enabledHint': 'オフの間は新しいイベントがこのエンドポイントに送られず、送信待ちの配信も一時停止します。',
    'ep.nowEnabled': 'エンドポイントを有効にしました。',
    'ep.nowDisabled': 'エンドポイントを無効にしました。',
    'ep.disabledBy': 'Herald がこのエンドポイントを無効にしました（{when}）：{reason}',
    'ep.wasDisabled': '再び有効になっています。Herald が無効にしていました（{when}）：{reason}。次に配信が成功すると、この表示は消えます。',
    'ep.settings': '設定',
    'ep.id': 'ID',
    'ep.pullLabel': 'プル型エンドポイント {id}',
    'ep.kind': '種類',
    'ep.kindPush': 'プッシュ：Herald が URL に送信します',
    'ep.kindPull': 'プル：クライアントが配信を取得し（GET …/pull）、結果を返します',
    'ep.kindBroker': '{kind}：Herald が各配信をブローカーにパブリッシュします',
    'ep.destination': '送信先',
    'ep.publishedTo': 'パブリッシュ先',
    'ep.acknowledged': '受信確認：{ack}',
    'ep.ackLabel': 'ブローカーの受信確認',
    'ep.method': 'メソッド',
    'ep.contentType': 'Content-Type',
    'ep.filter': 'フィルター',
    'ep.noFilter': 'なし（購読しているすべてのイベント）',
    'ep.preset': 'プリセット',
    'ep.noPreset': 'なし',
    'ep.signature': '署名方式',
    'ep.v1': 'v1（HMAC-SHA256、共有シークレット）',
    'ep.v1a': 'v1a（Ed25519、公開鍵）',
    'ep.retry': '再送スケジュール',
    'ep.timeout': 'タイムアウト',
    'ep.inFlight': '同時リクエスト数',
    'ep.rateLimit': 'レート制限',
    'ep.perSecond': '毎秒 {n} 件',
    'ep.noLimit': 'なし',
    'ep.sampleRate': '配信率',
    'ep.effectiveHint': '実際に適用される配信設定（エンドポイント、なければアプリ、なければインストール全体の値）。',
    'ep.created': '作成日時',
    'ep.updated': '更新日時',
    'ep.test': 'テスト送信',
    'ep.testIntro': '下のペイロード（最初はイベントタイプのサンプル）で、署名付きのリクエストを今すぐ 1 回送信します。履歴に残り、再送はされません。',
    'ep.testIntroBroker': '下のペイロード（最初はイベントタイプのサンプル）で、署名付きのメッセージを今すぐ 1 回パブリッシュし、ブローカーの受信確認を表示します。履歴に残り、再送はされません。',
    'ep.testPayload': 'ペイロード（JSON）',
    'ep.testPayloadHint': '自由に編集できます。受信側はこのオブジェクトをそのままイベントのデータとして受け取ります。',
    'ep.testBadJson': '正しい JSON ではありません：{message}',
    'ep.testNotObject': 'ペイロードは波かっこで囲んだ JSON オブジェクト（{ … }）にしてください。',
    'ep.testSchema': 'ペイロードがイベントタイプのスキーマに合っていません：{message}',
    'ep.testBusy': 'すでに複数のテスト送信が進行中です。少し待ってからもう一度お試しください。',
    'ep.testFailed': 'テストを送信できませんでした：{message}',
    'ep.testType': 'イベントタイプ',
    'ep.testSend': 'テスト送信',
    'ep.testSending': '送信中…',
    'ep.testNoTypes': 'テストに使えるイベントタイプがありません。先にカタログへ追加してください。',
    'ep.testResult': '結果：{status}',
    'ep.attempt': '試行 {n}',
    'ep.latency': 'レイテンシ',
    'ep.request': 'リクエスト',
    'ep.response': 'レスポンス',
    'ep.requestLine': 'メソッドと URL',
    'ep.headers': 'ヘッダー',
    'ep.body': 'ボディ',
    'ep.status': 'ステータスコード',
    'ep.truncated': 'ボディは長いため、先頭部分のみ保存されています。',
    'ep.noResponse': 'レスポンスなし：{kind}',
    'ep.errorKind.http_status': '受信側がエラーのステータスを返しました',
    'ep.errorKind.dns': 'ホスト名を解決できませんでした',
    'ep.errorKind.connect': '接続できませんでした',
    'ep.errorKind.tls': 'TLS ハンドシェイクまたは証明書の検証に失敗しました',
    'ep.errorKind.timeout': 'タイムアウトまでに応答がありませんでした',
    'ep.errorKind.network': '接続が途中で切れました',
    'ep.errorKind.policy': 'Herald が送信を拒否しました',
    'ep.errorKind.auth': '送信先が Herald の認証情報を拒否したか、アクセストークンを取得できませんでした',
    'ep.errorKind.render': 'テンプレートから送信できないリクエストが作られました',
    'ep.errorKind.rejected': 'ブローカーがメッセージを拒否しました',
    'ep.errorKind.transform': 'エンドポイントの変換スクリプトが失敗しました（例外、または CPU・メモリの上限）',
    'ep.secret': '署名シークレット',
    'ep.secretIntro': '受信側は、各リクエストの webhook-signature ヘッダーをこのシークレットで検証します。',
    'ep.secretShow': 'シークレットを表示',
    'ep.secretReadOnly': '読み取り専用のアクセスでは署名シークレットは表示されません。',
    'ep.secretRole': 'あなたのロール（{role}）では署名シークレットのローテーションはできません。管理者に依頼してください。',
    'ep.stage': '段階',
    'ep.stage.test': 'テスト',
    'ep.stage.live': '本番',
    'ep.stageTestHint': 'テストフィルターに合うイベントだけを送信します：{filter}',
    'ep.stageLiveHint': '条件に合うすべてのイベントを送信します。',
    'ep.goLive': '本番にする',
    'ep.goLiveConfirm': 'テスト対象だけでなく、条件に合うすべてのイベントをこのエンドポイントに送信しますか？',
    'ep.nowLive': 'エンドポイントは本番になりました。',
    'ep.secretHide': 'シークレットを隠す',
    'ep.secretRotate': 'シークレットを更新',
    'ep.secretRotateConfirm': '新しい署名シークレットを作成しますか？24 時間は新旧両方のシークレットで署名されるため、受信側はリクエストを取りこぼさずに切り替えられます。',
    'ep.secretRotated': '新しいシークレットを作成しました。以前のシークレットも {until} まで署名に使われます。',
    'ep.secretRotatedNow': '新しいシークレットを作成しました。',
    'ep.publicKey': '公開鍵',
    'ep.recover': '失敗した配信を再送',
    'ep.recoverIntro': '下の日時以降に作成された、このエンドポイントの失敗した配信をすべて再び送信待ちにします。',
    'ep.since': '開始日時',
    'ep.sinceHint': 'お使いのタイムゾーンの日時です。',
    'ep.recoverStart': '再送を開始しました。',
    'ep.job.running': '実行中',
    'ep.job.succeeded': '完了',
    'ep.job.failed': '失敗',
    'ep.jobDone': '再送の準備が完了しました：{total} 件中 {done} 件を送信待ちに戻しました。',
    'ep.jobFailed': '再送に失敗しました：{error}',
    'ep.jobProgress': '再送の進捗',
    'ep.health': '稼働状況',
    'ep.window': '期間',
    'ep.lastHour': '直近 1 時間',
    'ep.lastDay': '直近 24 時間',
    'ep.lastWeek': '直近 7 日間',
    'ep.pending': '送信待ち',
    'ep.retrying': '再試行中',
    'ep.cancelled': 'キャンセル',
    'ep.channels': 'チャネル',
    'ep.template': 'エンドポイントテンプレート',
    'ep.templateOwn': '独自に設定した項目：{list}',
    'ep.uid': '独自 ID',
    'ep.webhookHeaders': '署名ヘッダー',
    'ep.failing': '失敗中',
    'ep.metadata': 'メタデータ',
    'ep.karteKept': 'karte.* は貼り付けた KARTE の定義のうち Herald が使わない項目です。そのまま保存され、送信内容には影響しません。',
    'ep.failingDefinition': '失敗中：エラー（設定）',
    'ep.definitionHint': 'エンドポイントのテンプレート・URL・変換スクリプトからリクエストを作れなかったため、送信先には接続していません。エンドポイントを修正してください。',
    'ep.failingSince': '失敗し始めた時刻',
    'ep.succeeded': '成功',
    'ep.failed': '失敗',
    'ep.p50': 'レイテンシ p50（7 日間）',
    'ep.p99': 'レイテンシ p99（7 日間）',
    'ep.lastSuccess': '最後の成功',
    'ep.lastFailure': '最後の失敗',
    'ep.lastFailureError': '最後の失敗のエラー',
    'ep.chartTitle': '成功率とレイテンシの中央値（直近 24 時間、1 時間ごと）',
    'ep.healthError': '統計を読み込めませんでした：{message}',
  },
});

/** The event catalog, every page of it (up to max types). */
export async function catalog(signal, max = 1000) {
  const out = [];
  let cursor = '';
  do {
    const page = await api('GET', `/v1/event-types${query({ cursor, limit: 250 })}`, undefined, { signal });
    out.push(...page.data);
    cursor = page.next_cursor || '';
  } while (cursor && out.length < max);
  return out;
}

/** Whether one subscription entry (name, prefix*, group:x) matches a type. */
export function subscriptionMatches(sub, name, group) {
  if (sub.startsWith('group:')) return !!group && sub.slice(6) === group;
  if (sub.endsWith('*')) return name.startsWith(sub.slice(0, -1));
  return sub === name;
}

/** Runs the tasks (functions returning promises), at most limit at a time. */
async function pool(tasks, limit) {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      try { await tasks[i](); } catch { /* each task shows its own failure */ }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}

/** An AbortSignal that aborts with parent, and with its own abort(). */
function childController(parent) {
  const c = new AbortController();
  if (parent.aborted) c.abort();
  else parent.addEventListener('abort', () => c.abort(), { once: true });
  return c;
}

function eventTypesText(types, max = 3) {
  if (!types || types.length === 0) return h('span', { class: 'muted' }, t('ep.allTypes'));
  const shown = types.slice(0, max);
  return h('span', { class: 'mono' }, shown.join(', '),
    types.length > max ? h('span', { class: 'muted' }, ` ${t('ep.more', { n: types.length - max })}`) : null);
}

/**
 * The state of an endpoint whose latest attempts fail: since when, and
 * the last error, as its cause and the first words of the answer
 * ("HTTP 500 · database is locked") when the failures report has them.
 */
function failingCell(ep, st, cause) {
  let reason = st.last_failure_error || '';
  if (cause) {
    const said = (cause.body || cause.error || '').replace(/\s+/g, ' ').trim();
    reason = said ? `${cause.cause} · ${said.length > 80 ? `${said.slice(0, 80)}…` : said}` : cause.cause;
  }
  // A definition error (templates, URL, transformation: nothing was
  // sent) needs the endpoint fixed, not the receiver: drawn as on the
  // failures page and in the history.
  const definition = cause && cause.failure === 'definition';
  return h('span', { class: 'ep-state' },
    definition
      ? h('span', { class: 'badge badge-definition ep-definition', title: t('ep.definitionHint') }, t('ep.failingDefinition'))
      : badge('failed', t('ep.failing')),
    stageBadge(ep),
    h('span', { class: 'ep-reason', title: reason }, reason),
    h('span', { class: 'muted ep-since' }, t('ep.failingSince'), ' ', timeEl(st.failing_since)),
    ep.operational ? h('span', { class: 'badge badge-pending' }, t('ep.operational')) : null);
}

/** The endpoint's stage as a badge: Test (a limited audience) or Live. */
export function stageBadge(ep) {
  const stage = ep.stage === 'test' ? 'test' : 'live';
  return h('span', { class: `badge badge-stage-${stage}`, dataset: { stage } }, t(`ep.stage.${stage}`));
}

function stateCell(ep) {
  return h('span', { class: 'ep-state' },
    badge(ep.enabled ? 'enabled' : 'disabled'),
    stageBadge(ep),
    !ep.enabled && ep.disabled_reason ? h('span', { class: 'muted ep-reason', title: ep.disabled_reason }, ep.disabled_reason) : null,
    ep.operational ? h('span', { class: 'badge badge-pending' }, t('ep.operational')) : null);
}

/** The request method of an attempt that published to a broker. */
export const PUBLISH = 'PUBLISH';

/** The destination kinds beyond HTTP, in the API's order (herald.BrokerKinds). */
export const BROKER_KINDS = ['nats', 'rabbitmq', 'kafka', 'redis', 'mqtt', 'gcp_pubsub', 'aws_sqs'];

/** The products' own names, the same in every language. */
export const KIND_LABELS = {
  nats: 'NATS', rabbitmq: 'RabbitMQ', kafka: 'Kafka', redis: 'Redis Streams', mqtt: 'MQTT', gcp_pubsub: 'Google Pub/Sub', aws_sqs: 'Amazon SQS',
};

export function isBroker(kind) {
  return BROKER_KINDS.includes(kind);
}

/** An endpoint's kind in words. */
export function kindText(ep) {
  if (isBroker(ep.kind)) return t('ep.kindBroker', { kind: KIND_LABELS[ep.kind] });
  return t(ep.kind === 'pull' ? 'ep.kindPull' : 'ep.kindPush');
}

/**
 * What names an endpoint on screen: its URL; for a pull endpoint (which
 * has none) its kind and id; for a broker endpoint its kind and where it
 * publishes, in the API's words (destination_summary, credentials masked:
 * the request line of its attempts), so that its pages and its history
 * read alike.
 */
export function endpointLabel(ep) {
  if (ep.kind === 'pull') return t('ep.pullLabel', { id: ep.id });
  if (isBroker(ep.kind)) return `${KIND_LABELS[ep.kind]} ${ep.destination_summary}`;
  return ep.url || ep.id;
}

/** The app's endpoints, one page at a time, with their last day's success rate. */
export async function list(ctx) {
  const body = h('div');
  let stats = null; // aborts the previous page's stats requests
  const load = async (cursor) => {
    const page = await api('GET', `/v1/apps/${seg(ctx.app)}/endpoints${query({ cursor, limit: 50 })}`, undefined, { signal: ctx.signal });
    if (stats) stats.abort();
    stats = childController(ctx.signal);
    const rateCells = new Map();
    const stateCells = new Map();
    const rows = new Map();
    replace(body,
      page.data.length === 0 && !cursor ? empty(ctx.readOnly ? t('ep.noneReadOnly') : t('ep.none')) : h('div', { class: 'table-wrap' },
        h('table', { class: 'ep-table' },
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, t('ep.where')),
            h('th', { scope: 'col' }, t('ep.description')),
            h('th', { scope: 'col' }, t('ep.eventTypes')),
            h('th', { scope: 'col' }, t('ep.channels')),
            h('th', { scope: 'col' }, t('ep.state')),
            h('th', { scope: 'col', class: 'num' }, t('ep.rate')))),
          h('tbody', null, page.data.map((ep) => {
            const rate = h('td', { class: 'num', 'aria-busy': 'true' }, h('span', { class: 'muted' }, '…'));
            const state = h('td', null, stateCell(ep));
            rateCells.set(ep.id, rate);
            stateCells.set(ep.id, state);
            const row = h('tr', null,
              h('td', { class: 'mono ep-url' }, h('a', { href: ctx.appHref(`/endpoints/${seg(ep.id)}`) }, endpointLabel(ep))),
              h('td', null, ep.description || h('span', { class: 'muted' }, '—')),
              h('td', null, eventTypesText(ep.event_types), pinTags(ep)),
              h('td', { class: 'mono' }, ep.channels && ep.channels.length ? ep.channels.join(', ') : h('span', { class: 'muted' }, '—')),
              state,
              rate);
            rows.set(ep.id, row);
            return row;
          })))),
      pager(page, cursor, load));
    // Success rates: one stats request per row, at most 6 at a time.
    const signal = stats.signal;
    // The causes of what fails now, once for the page (not for portal
    // sessions, which the failures report is not open to).
    const causes = ctx.mode === 'portal' ? Promise.resolve(new Map())
      : api('GET', `/v1/apps/${seg(ctx.app)}/failures${query({ limit: 100 })}`, undefined, { signal }).then((rep) => {
        const latest = new Map();
        for (const g of rep.data || []) {
          const cur = latest.get(g.endpoint_id);
          if (!cur || g.last_seen > cur.last_seen) latest.set(g.endpoint_id, g);
        }
        return latest;
      }).catch(() => new Map());
    pool(page.data.map((ep) => async () => {
      const cell = rateCells.get(ep.id);
      try {
        const st = await api('GET', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(ep.id)}/stats`, undefined, { signal });
        replace(cell, fmtRate(st.last_day ? st.last_day.success_rate : null));
        if (st.failing_since && ep.enabled) {
          // Failing now, retries pending or not: say so, with the last error.
          rows.get(ep.id).classList.add('ep-failing');
          replace(stateCells.get(ep.id), failingCell(ep, st, (await causes).get(ep.id)));
        }
      } catch (err) {
        if (err.name === 'AbortError') return;
        replace(cell, h('span', { title: t('ep.statsError', { message: err.message }) }, '—'));
      } finally {
        cell.removeAttribute('aria-busy');
      }
    }), 6);
  };
  await load('');
  return h('section', null,
    pageHeader(t('ep.title'), ctx.readOnly ? null : h('a', { class: 'button primary', href: ctx.appHref('/endpoints/new') }, t('ep.new'))),
    body);
}

/** Every endpoint of the app: the API's pages, followed to the end or until max. */
export async function appEndpoints(ctx, max = Infinity) {
  const out = [];
  let cursor = '';
  do {
    const page = await api('GET', `/v1/apps/${seg(ctx.app)}/endpoints${query({ cursor, limit: 250 })}`, undefined, { signal: ctx.signal });
    out.push(...page.data);
    cursor = page.next_cursor || '';
  } while (cursor && out.length < max);
  return out;
}

// ----- detail -----

function fact(label, value) {
  return [h('dt', null, label), h('dd', null, value)];
}

function facts(ep, ctx) {
  const eff = ep.effective || {};
  const d = ep.effective_delivery || {};
  const scheme = ep.signature_scheme || 'v1';
  const broker = isBroker(ep.kind);
  return h('dl', { class: 'facts' },
    fact(t('ep.id'), h('span', { class: 'mono' }, ep.id)),
    fact(t('ep.kind'), kindText(ep)),
    broker ? fact(t('ep.destination'), h('span', { class: 'mono ep-destination' }, ep.destination_summary)) : null,
    fact(t('ep.eventTypes'), ep.event_types && ep.event_types.length
      ? h('ul', { class: 'plain-list' }, ep.event_types.map((x) => h('li', { class: 'mono' }, x)))
      : h('span', null, t('ep.allTypes'))),
    ep.channels && ep.channels.length ? fact(t('ep.channels'), h('span', { class: 'mono' }, ep.channels.join(', '))) : null,
    ep.endpoint_template_id ? fact(t('ep.template'), h('span', null,
      // The templates' pages are the console's; the portal names the id.
      ctx.mode === 'portal' ? h('span', { class: 'mono' }, ep.endpoint_template_id)
        : h('a', { class: 'mono', id: 'endpoint-template-link', href: ctx.appHref(`/endpoint-templates/${seg(ep.endpoint_template_id)}`) }, ep.endpoint_template_id),
      ep.template_overrides && ep.template_overrides.length
        ? h('span', { class: 'muted' }, ' — ', t('ep.templateOwn', { list: ep.template_overrides.join(', ') })) : null)) : null,
    ep.uid ? fact(t('ep.uid'), h('span', { class: 'mono' }, ep.uid)) : null,
    ep.webhook_headers === 'svix' ? fact(t('ep.webhookHeaders'), h('span', { class: 'mono' }, 'svix-id, svix-timestamp, svix-signature')) : null,
    broker ? null : fact(t('ep.method'), h('span', { class: 'mono' }, eff.method || ep.method || 'POST')),
    fact(t('ep.contentType'), h('span', { class: 'mono' }, eff.content_type || ep.content_type || 'application/json')),
    fact(t('ep.filter'), ep.filter ? h('code', { class: 'mono' }, ep.filter) : h('span', { class: 'muted' }, t('ep.noFilter'))),
    broker ? null : fact(t('ep.preset'), ep.preset ? ep.preset : h('span', { class: 'muted' }, t('ep.noPreset'))),
    fact(t('ep.signature'), t(scheme === 'v1a' ? 'ep.v1a' : 'ep.v1')),
    fact(t('ep.retry'), h('span', { class: 'mono' }, d.retry_schedule || '—')),
    fact(t('ep.timeout'), d.timeout_ms ? fmtMs(d.timeout_ms) : '—'),
    fact(t('ep.inFlight'), d.max_in_flight ? String(d.max_in_flight) : '—'),
    fact(t('ep.rateLimit'), ep.rate_limit ? t('ep.perSecond', { n: ep.rate_limit }) : t('ep.noLimit')),
    fact(t('ep.sampleRate'), ep.sample_rate === null || ep.sample_rate === undefined ? '100%' : `${ep.sample_rate}%`),
    metadataFact(ep),
    fact(t('ep.created'), timeEl(ep.created_at)),
    fact(t('ep.updated'), timeEl(ep.updated_at)));
}

/**
 * The endpoint's metadata, sorted by key, or null without any. The fields
 * of a pasted KARTE definition Herald does not use (kept as karte.<field>)
 * are said to be such, so that nobody looks for their effect.
 */
function metadataFact(ep) {
  const keys = Object.keys(ep.metadata || {}).sort();
  if (keys.length === 0) return null;
  const karte = keys.some((k) => k.startsWith('karte.'));
  return fact(t('ep.metadata'), h('div', null,
    h('ul', { class: 'plain-list ep-metadata' }, keys.map((k) => h('li', null,
      h('span', { class: 'mono' }, k), ': ', h('span', { class: 'mono' }, ep.metadata[k])))),
    karte ? h('p', { class: 'hint ep-karte-kept' }, t('ep.karteKept')) : null));
}

/** The note about Herald having disabled the endpoint, or null. */
function disabledNote(ep) {
  if (!ep.disabled_reason) return null;
  const when = ep.disabled_at ? fmtTime(ep.disabled_at) : '';
  return t(ep.enabled ? 'ep.wasDisabled' : 'ep.disabledBy', { when, reason: ep.disabled_reason });
}

function errorKindText(kind) {
  const key = `ep.errorKind.${kind}`;
  const s = t(key);
  return s === key ? kind : `${kind}: ${s}`;
}

/** One attempt's request and response (or error), as sent and received. */
export function attemptView(at, headingLevel = 'h3') {
  const req = at.request || {};
  const res = at.response;
  // A publish to a broker has no HTTP status: its response is the
  // broker's acknowledgement, in words.
  const publish = req.method === PUBLISH;
  const ok = at.response && at.response.status_code >= 200 && at.response.status_code < 300;
  let outcome;
  if (publish) outcome = ok && !at.error_kind ? badge('succeeded', t('ep.acknowledged', { ack: res.body || '—' })) : badge('failed', at.error_kind || t('state.failed'));
  else if (ok) outcome = badge('succeeded', String(at.response.status_code));
  else if (!at.response && !at.error_kind) outcome = badge('cancelled');
  else outcome = badge('failed', at.response ? String(at.response.status_code) : (at.error_kind || t('state.failed')));
  return h('article', { class: 'attempt' },
    h(headingLevel, null, t('ep.attempt', { n: at.attempt || 1 }), ' ', outcome),
    h('p', { class: 'muted' }, timeEl(at.created_at), ' · ', `${t('ep.latency')}: ${fmtMs(at.latency_ms)}`),
    h('div', { class: 'grid-2' },
      h('div', null,
        h('h4', null, publish ? t('ep.publishedTo') : t('ep.request')),
        publish ? codeBlock(req.url || '', t('ep.publishedTo')) : codeBlock(`${req.method || ''} ${req.url || ''}`, t('ep.requestLine')),
        codeBlock(headerLines(req.headers) || '—', `${t('ep.request')}: ${t('ep.headers')}`),
        codeBlock(pretty(req.body) || '—', `${t('ep.request')}: ${t('ep.body')}`)),
      h('div', null,
        h('h4', null, publish ? t('ep.ackLabel') : t('ep.response')),
        res && publish ? h('p', { class: 'ack' }, t('ep.acknowledged', { ack: res.body || '—' })) : null,
        res && !publish ? [
          h('p', null, `${t('ep.status')}: `, h('strong', null, String(res.status_code))),
          codeBlock(headerLines(res.headers) || '—', `${t('ep.response')}: ${t('ep.headers')}`),
          codeBlock(pretty(res.body) || '—', `${t('ep.response')}: ${t('ep.body')}`),
          res.body_truncated ? h('p', { class: 'hint' }, t('ep.truncated')) : null,
        ] : null,
        res ? null : h('p', null, t('ep.noResponse', { kind: errorKindText(at.error_kind || '') })),
        at.error ? h('p', { class: 'attempt-error' }, at.error_kind && res ? `${errorKindText(at.error_kind)} — ` : '', at.error) : null)));
}

/** The endpoint's stage, with Go live for a test-stage endpoint. */
function stageSection(ctx, ep, onChange) {
  const box = h('div', { class: 'ep-stage', id: 'endpoint-stage' });
  const draw = () => {
    const live = ep.stage !== 'test';
    const button = live || ctx.readOnly ? null : h('button', {
      type: 'button', id: 'go-live', class: 'secondary',
      onclick: async () => {
        if (!(await confirmDialog(t('ep.goLiveConfirm'), t('ep.goLive')))) return;
        button.disabled = true;
        try {
          const out = await api('PATCH', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(ep.id)}`, { stage: 'live' }, { signal: ctx.signal });
          Object.assign(ep, out);
          draw();
          onChange(ep);
          toast(t('ep.nowLive'));
        } catch (err) {
          if (err.name !== 'AbortError') toast(err.message, 'error');
          button.disabled = false;
        }
      },
    }, t('ep.goLive'));
    replace(box, h('strong', null, t('ep.stage')), stageBadge(ep),
      h('span', { class: 'hint' }, live ? t('ep.stageLiveHint') : t('ep.stageTestHint', { filter: ep.test_filter })),
      button);
  };
  draw();
  return box;
}

function enableSection(ctx, ep, onChange) {
  const input = h('input', {
    type: 'checkbox', role: 'switch', class: 'switch', id: 'endpoint-enabled', checked: ep.enabled, disabled: ctx.readOnly,
  });
  const note = h('p', { class: 'hint', id: 'endpoint-disabled-reason' });
  const showNote = () => {
    const n = disabledNote(ep);
    note.textContent = n || '';
    note.hidden = !n;
  };
  showNote();
  input.addEventListener('change', async () => {
    const want = input.checked;
    input.disabled = true;
    try {
      const out = await api('PATCH', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(ep.id)}`, { enabled: want }, { signal: ctx.signal });
      Object.assign(ep, out);
      input.checked = !!out.enabled;
      showNote();
      onChange(ep);
      toast(out.enabled ? t('ep.nowEnabled') : t('ep.nowDisabled'));
    } catch (err) {
      if (err.name === 'AbortError') return;
      input.checked = !want;
      toast(err.message, 'error');
    } finally {
      input.disabled = ctx.readOnly;
    }
  });
  return h('div', { class: 'ep-enable' },
    field({ label: t('ep.enabled'), name: 'enabled', control: input, hint: t('ep.enabledHint') }),
    note);
}

/** Event types a test may use: the subscribed ones found in the catalog. */
function testTypes(ep, types) {
  const subs = ep.event_types || [];
  if (subs.length === 0) return types.map((x) => x.name);
  const names = types.filter((x) => subs.some((s) => subscriptionMatches(s, x.name, x.group))).map((x) => x.name);
  for (const s of subs) {
    if (!s.startsWith('group:') && !s.endsWith('*') && !names.includes(s)) names.push(s);
  }
  return names;
}

/** The JSON a test starts from: the type's catalog sample, else {}. */
function samplePayload(types, name) {
  const et = types.find((x) => x.name === name);
  const sample = et && et.sample !== undefined && et.sample !== null ? et.sample : {};
  return JSON.stringify(sample, null, 2);
}

/** A test send's error in words: the field it is about, and a message. */
function testError(err) {
  if (err.code === 'schema_mismatch') return { field: 'payload', message: t('ep.testSchema', { message: err.message }) };
  if (err.status === 429) return { field: '', message: t('ep.testBusy') };
  if (err.status === 0) return { field: '', message: err.message };
  const field = ['event_type', 'payload'].includes(err.field) ? err.field : '';
  return { field, message: t('ep.testFailed', { message: err.message }) };
}

function testSection(ctx, ep, types, afterTest) {
  const names = testTypes(ep, types);
  const select = h('select', { id: 'test-event-type' }, names.map((n) => h('option', { value: n }, n)));
  const payload = h('textarea', {
    id: 'test-payload', class: 'code', rows: 8, spellcheck: 'false', autocomplete: 'off',
  });
  payload.value = names.length ? samplePayload(types, names[0]) : '{}';
  select.addEventListener('change', () => { payload.value = samplePayload(types, select.value); });
  const result = h('div', { id: 'test-result', 'aria-live': 'polite', class: 'test-result' });
  const button = h('button', { type: 'submit', id: 'test-send', class: 'primary', disabled: names.length === 0 }, t('ep.testSend'));
  const form = h('form', {
    novalidate: true,
    id: 'test-form',
    onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(form);
      let body;
      try {
        body = JSON.parse(payload.value);
      } catch (err) {
        showErrors(form, { field: 'payload', message: t('ep.testBadJson', { message: err.message }) });
        return;
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        showErrors(form, { field: 'payload', message: t('ep.testNotObject') });
        return;
      }
      button.disabled = true;
      button.textContent = t('ep.testSending');
      replace(result);
      try {
        const out = await api('POST', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(ep.id)}/test`, { event_type: select.value, payload: body }, { signal: ctx.signal });
        const d = out.delivery || {};
        const attempts = d.attempts && d.attempts.length ? d.attempts : [out.attempt].filter(Boolean);
        const status = d.status || 'failed';
        replace(result,
          h('p', { class: 'test-status' }, badge(status), ' ', t('ep.testResult', { status: t(`state.${status}`) }),
            d.id ? [' · ', h('a', { href: ctx.appHref(`/deliveries/${seg(d.id)}`), class: 'mono' }, d.id)] : null),
          attempts.map((at) => attemptView(at)));
        afterTest();
      } catch (err) {
        if (err.name === 'AbortError') return;
        showErrors(form, testError(err));
      } finally {
        button.disabled = false;
        button.textContent = t('ep.testSend');
      }
    },
  },
  h('p', { class: 'hint' }, t(isBroker(ep.kind) ? 'ep.testIntroBroker' : 'ep.testIntro')),
  names.length === 0 ? h('p', null, t('ep.testNoTypes')) : null,
  h('div', { class: 'form-error', role: 'alert', hidden: true }),
  h('div', { class: 'filters' },
    field({ label: t('ep.testType'), name: 'event_type', control: select })),
  field({ label: t('ep.testPayload'), name: 'payload', control: payload, hint: t('ep.testPayloadHint') }),
  h('div', { class: 'actions' }, button));
  return h('section', { class: 'card', 'aria-labelledby': 'test-heading' },
    h('h2', { id: 'test-heading' }, t('ep.test')), form, result);
}

function secretSection(ctx, ep) {
  const value = h('code', { id: 'secret-value', class: 'mono secret-value', hidden: true });
  const extra = h('p', { class: 'hint', 'aria-live': 'polite' });
  const show = h('button', { type: 'button', id: 'secret-show', class: 'secondary', 'aria-expanded': 'false', 'aria-controls': 'secret-value' }, t('ep.secretShow'));
  const reveal = (secret) => {
    value.textContent = secret;
    value.hidden = false;
    show.setAttribute('aria-expanded', 'true');
    show.textContent = t('ep.secretHide');
  };
  const conceal = () => {
    value.textContent = '';
    value.hidden = true;
    show.setAttribute('aria-expanded', 'false');
    show.textContent = t('ep.secretShow');
    extra.textContent = '';
  };
  show.addEventListener('click', async () => {
    if (show.getAttribute('aria-expanded') === 'true') { conceal(); return; }
    show.disabled = true;
    try {
      const out = await api('GET', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(ep.id)}/secret`, undefined, { signal: ctx.signal });
      reveal(out.secret);
    } catch (err) {
      if (err.name !== 'AbortError') toast(err.message, 'error');
    } finally {
      show.disabled = false;
    }
  });
  const rotate = ctx.readOnly ? null : h('button', {
    type: 'button',
    id: 'secret-rotate',
    class: 'secondary',
    onclick: async () => {
      if (!(await confirmDialog(t('ep.secretRotateConfirm'), t('ep.secretRotate'), true))) return;
      rotate.disabled = true;
      try {
        const out = await api('POST', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(ep.id)}/secret/rotate`, undefined, { signal: ctx.signal });
        reveal(out.secret);
        const until = out.previous_secret_expires_at
          ? fmtTime(out.previous_secret_expires_at) : '';
        const msg = until ? t('ep.secretRotated', { until }) : t('ep.secretRotatedNow');
        replace(extra, msg, out.public_key ? [h('br'), `${t('ep.publicKey')}: `, h('code', { class: 'mono' }, out.public_key)] : null);
        toast(msg);
        show.focus();
      } catch (err) {
        if (err.name !== 'AbortError') toast(err.message, 'error');
      } finally {
        rotate.disabled = false;
      }
    },
  }, t('ep.secretRotate'));
  // Read-only tokens cannot read the secret (the API answers 403): with
  // it they could sign webhooks.
  return h('section', { class: 'card', 'aria-labelledby': 'secret-heading' },
    h('h2', { id: 'secret-heading' }, t('ep.secret')),
    h('p', { class: 'hint' }, t('ep.secretIntro')),
    ctx.readOnly ? h('p', { class: 'hint' }, t('ep.secretReadOnly'))
      : !ctx.secrets ? [h('div', { class: 'actions' }, show),
        h('p', { class: 'hint', id: 'secret-role' }, t('ep.secretRole', { role: t(`portal.role.${ctx.role}`) }))]
        : h('div', { class: 'actions' }, show, rotate),
    h('p', { class: 'secret-line' }, value),
    extra);
}

function recoverSection(ctx, ep, afterJob) {
  const since = dateTimeInput(new Date(Math.floor((Date.now() - 24 * 3600 * 1000) / 60000) * 60000), { required: true });
  const button = h('button', { type: 'submit', class: 'primary' }, t('ep.recover'));
  const progress = h('progress', { id: 'job-progress', max: '1', class: 'progress', 'aria-label': t('ep.jobProgress') });
  const count = h('span', { class: 'mono', 'aria-hidden': 'true' });
  const stateText = h('span', { class: 'job-state' });
  const live = h('p', { class: 'job-message', role: 'status' });
  const box = h('div', { class: 'job', hidden: true }, h('div', { class: 'row' }, progress, count, stateText), live);
  let timer = 0;
  ctx.onLeave(() => clearTimeout(timer));
  const show = (job) => {
    const total = job.total || 0;
    const done = job.done || 0;
    if (job.state === 'running' && total === 0) {
      progress.removeAttribute('value'); // indeterminate until the job has counted
      progress.max = 1;
    } else {
      progress.max = Math.max(total, 1);
      progress.value = total === 0 ? 1 : done;
    }
    count.textContent = `${done} / ${total}`;
    replace(stateText, badge(job.state === 'running' ? 'pending' : job.state, t(`ep.job.${job.state}`)));
  };
  const poll = async (id) => {
    if (ctx.signal.aborted) return;
    let job;
    try {
      job = await api('GET', `/v1/apps/${seg(ctx.app)}/jobs/${seg(id)}`, undefined, { signal: ctx.signal });
    } catch (err) {
      if (err.name === 'AbortError') return;
      live.textContent = t('ep.jobFailed', { error: err.message });
      button.disabled = false;
      return;
    }
    show(job);
    if (job.state === 'running') {
      timer = setTimeout(() => poll(id), 1000);
      return;
    }
    button.disabled = false;
    live.textContent = job.state === 'succeeded'
      ? t('ep.jobDone', { done: job.done || 0, total: job.total || 0 })
      : t('ep.jobFailed', { error: job.error || t('ep.job.failed') });
    afterJob();
  };
  const form = h('form', {
    id: 'recover-form',
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(form);
      const body = {};
      if (since.rfc3339 === null) { showErrors(form, { field: 'since', message: badDateTime() }); return; }
      if (since.rfc3339) body.since = since.rfc3339;
      button.disabled = true;
      try {
        const job = await api('POST', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(ep.id)}/recover`, body, { signal: ctx.signal });
        box.hidden = false;
        live.textContent = t('ep.recoverStart');
        show(job);
        clearTimeout(timer);
        timer = setTimeout(() => poll(job.id), job.state === 'running' ? 1000 : 0);
      } catch (err) {
        if (err.name === 'AbortError') return;
        button.disabled = false;
        showErrors(form, err);
      }
    },
  },
  h('p', { class: 'hint' }, t('ep.recoverIntro')),
  h('div', { class: 'filters' },
    field({ label: t('ep.since'), name: 'since', control: since, hint: since.dataset.hint }),
    h('div', { class: 'actions' }, button)));
  return h('section', { class: 'card', 'aria-labelledby': 'recover-heading' },
    h('h2', { id: 'recover-heading' }, t('ep.recover')), form, box);
}

function healthView(ctx, st) {
  const win = (key, w) => h('tr', null,
    h('th', { scope: 'row' }, t(key)),
    h('td', { class: 'num' }, w ? w.succeeded : '—'),
    h('td', { class: 'num' }, w ? w.failed : '—'),
    h('td', { class: 'num' }, w ? w.pending : '—'),
    h('td', { class: 'num' }, w ? w.retrying : '—'),
    h('td', { class: 'num' }, w ? (w.cancelled || 0) : '—'),
    h('td', { class: 'num' }, fmtRate(w ? w.success_rate : null)));
  const captionId = newId('chart');
  return [
    h('div', { class: 'table-wrap' }, h('table', null,
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('ep.window')),
        h('th', { scope: 'col', class: 'num' }, t('ep.succeeded')),
        h('th', { scope: 'col', class: 'num' }, t('ep.failed')),
        h('th', { scope: 'col', class: 'num' }, t('ep.pending')),
        h('th', { scope: 'col', class: 'num' }, t('ep.retrying')),
        h('th', { scope: 'col', class: 'num' }, t('ep.cancelled')),
        h('th', { scope: 'col', class: 'num' }, t('ep.successRate')))),
      h('tbody', null,
        win('ep.lastHour', st.last_hour),
        win('ep.lastDay', st.last_day),
        win('ep.lastWeek', st.last_week)))),
    h('dl', { class: 'facts' },
      fact(t('ep.p50'), fmtMs(st.latency_p50_ms)),
      fact(t('ep.p99'), fmtMs(st.latency_p99_ms)),
      fact(t('ep.lastSuccess'), timeEl(st.last_success_at)),
      fact(t('ep.lastFailure'), timeEl(st.last_failure_at)),
      st.failing_since ? fact(t('ep.failingSince'), h('span', { class: 'ep-failing-since' }, timeEl(st.failing_since))) : null,
      st.last_failure_error ? fact(t('ep.lastFailureError'), h('span', { class: 'mono' }, st.last_failure_error)) : null),
    h('figure', { id: 'stats-chart', class: 'chart-figure', 'aria-labelledby': captionId },
      h('figcaption', { id: captionId }, t('ep.chartTitle')),
      lineChart({ series: st.series, label: t('ep.chartTitle'), signal: ctx.signal })),
  ];
}

function healthSection(ctx, ep) {
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'muted' }, t('loading')));
  const load = async () => {
    body.setAttribute('aria-busy', 'true');
    try {
      const st = await api('GET', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(ep.id)}/stats`, undefined, { signal: ctx.signal });
      replace(body, healthView(ctx, st));
    } catch (err) {
      if (err.name === 'AbortError') return;
      replace(body, h('p', { class: 'form-error', role: 'alert' }, t('ep.healthError', { message: err.message })));
    } finally {
      body.removeAttribute('aria-busy');
    }
  };
  load();
  const section = h('section', { class: 'card', 'aria-labelledby': 'health-heading' },
    h('div', { class: 'page-header section-header' },
      h('h2', { id: 'health-heading' }, t('ep.health')),
      h('button', { type: 'button', class: 'secondary', onclick: load }, t('action.refresh'))),
    body);
  return { section, reload: load };
}

/**
 * pausedSection lists the ordering keys a failed delivery holds, on an
 * endpoint that pauses keys on failure; nothing when none is paused.
 */
function pausedSection(ctx, ep) {
  const box = h('div');
  if (ep.ordering_on_failure !== 'pause') return box;
  api('GET', `/v1/apps/${seg(ctx.app)}/endpoints/${seg(ep.id)}/ordering`, undefined, { signal: ctx.signal }).then((res) => {
    if (!res.data || res.data.length === 0) return;
    replace(box, h('section', { class: 'card', id: 'paused-keys', 'aria-labelledby': 'paused-heading' },
      h('h2', { id: 'paused-heading' }, t('ep.paused')),
      h('p', { class: 'hint' }, t('ep.pausedHint')),
      h('div', { class: 'table-wrap' },
        h('table', null,
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, t('ep.pausedKey')),
            h('th', { scope: 'col' }, t('ep.pausedDelivery')),
            h('th', { scope: 'col' }, t('ep.pausedWaiting')))),
          h('tbody', null, res.data.map((k) => h('tr', null,
            h('td', { class: 'mono' }, k.ordering_key),
            h('td', null, h('a', { class: 'mono', href: ctx.appHref(`/deliveries/${seg(k.delivery_id)}`) }, k.delivery_id)),
            h('td', null, String(k.waiting)))))))));
  }).catch((err) => {
    if (err.name === 'AbortError') return;
    replace(box, h('p', { class: 'form-error', role: 'alert' }, err.message));
  });
  return box;
}

/** One endpoint's page. */
export async function detail(ctx) {
  const base = `/v1/apps/${seg(ctx.app)}/endpoints/${seg(ctx.params.id)}`;
  const ep = await api('GET', base, undefined, { signal: ctx.signal });
  // The catalog only feeds the test's event type choice: without it the
  // endpoint's own exact names serve.
  const types = ctx.readOnly ? [] : await catalog(ctx.signal).catch((err) => {
    if (err.name === 'AbortError') throw err;
    return [];
  });
  const factsBox = h('div', null, facts(ep, ctx));
  const health = healthSection(ctx, ep);
  const epHref = (rest) => ctx.appHref(`/endpoints/${seg(ep.id)}${rest}`);
  return h('section', { class: 'endpoint-detail' },
    pageHeader(endpointLabel(ep),
      h('a', { class: 'button', href: epHref('/edit') }, ctx.readOnly ? t('ep.view') : t('ep.edit')),
      h('a', { class: 'button', href: epHref('/deliveries') }, t('ep.history'))),
    ep.description ? h('p', { class: 'muted ep-description' }, ep.description) : null,
    h('div', { class: 'grid-2' },
      h('section', { class: 'card', 'aria-labelledby': 'settings-heading' },
        h('h2', { id: 'settings-heading' }, t('ep.settings')),
        enableSection(ctx, ep, () => replace(factsBox, facts(ep, ctx))),
        stageSection(ctx, ep, () => replace(factsBox, facts(ep, ctx))),
        factsBox,
        h('p', { class: 'hint' }, t('ep.effectiveHint'))),
      health.section),
    pausedSection(ctx, ep),
    endpointPins(ctx, ep),
    ctx.readOnly || ep.kind === 'pull' ? null : testSection(ctx, ep, types, () => health.reload()),
    h('div', { class: 'grid-2' },
      secretSection(ctx, ep),
      ctx.readOnly ? null : recoverSection(ctx, ep, () => health.reload())));
}
