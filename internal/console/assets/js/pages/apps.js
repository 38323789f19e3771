// Apps: the list, and one form for creating and editing (with delete).

import { api, query, seg } from '../api.js';
import { addStrings, t } from '../i18n.js';
import { h, field, showErrors, clearErrors, pageHeader, empty, pager, timeEl, toast, confirmDialog, replace } from '../dom.js';

// Herald's own event types, which an app's operational webhook picks from.
const OPERATIONAL_TYPES = ['herald.endpoint.failing', 'herald.endpoint.recovered', 'herald.endpoint.disabled',
  'herald.delivery.exhausted', 'herald.endpoint.created', 'herald.endpoint.updated', 'herald.endpoint.deleted'];

addStrings({
  en: {
    'apps.title': 'Apps',
    'apps.new': 'New app',
    'apps.none': 'No apps yet. An app is one product account whose events Herald delivers: create the first one.',
    'apps.name': 'Name',
    'apps.uid': 'Your id (uid)',
    'apps.uidHint': 'Optional: your own id for this app; the API accepts it wherever an app id goes.',
    'apps.id': 'Id',
    'apps.created': 'Created',
    'apps.failing': 'Endpoints failing',
    'apps.failed24': 'Failed (24 h)',
    'apps.pending24': 'Pending (24 h)',
    'apps.lastEvent': 'Last event',
    'apps.failingLink': '{n} failing',
    'apps.editTitle': 'App settings',
    'apps.newTitle': 'New app',
    'apps.delivery': 'Delivery defaults for this app',
    'apps.retry': 'Retry schedule',
    'apps.retryHint': 'Comma-separated waits, e.g. 5s,1m,10m,1h. Empty: the installation default.',
    'apps.timeout': 'Request timeout (ms)',
    'apps.maxInFlight': 'Requests in flight per endpoint',
    'apps.maxPerType': 'Most endpoints per event type',
    'apps.maxPerChannel': 'Most endpoints per event type, per channel',
    'apps.maxPerChannelHint': 'Endpoints with channels count per channel against this instead; 0: they count against the limit above.',
    'apps.quota': 'Monthly delivery quota',
    'apps.zeroHint': '0: no limit / installation default.',
    'apps.opsUrl': 'Operational webhook URL',
    'apps.opsHint': 'Herald posts its own events about the app here, signed: an endpoint failing, recovered or disabled, a delivery that used up its retries, endpoints created, changed or deleted.',
    'apps.payloadFormat': 'Payload format',
    'apps.templateSyntax': 'Template syntax',
    'apps.webhookHeaders': 'Signature headers',
    'apps.traceContext': 'Send trace context',
    'apps.traceContextHint': 'Receivers get a W3C traceparent header continuing the attempt\'s trace (when Herald exports traces).',
    'apps.headersStandard': 'webhook-id, webhook-timestamp, webhook-signature (Standard Webhooks)',
    'apps.headersSvix': 'svix-id, svix-timestamp, svix-signature (for receivers that verify Svix\'s headers)',
    'apps.opsTypes': 'Operational events',
    'apps.opsTypesHint': 'Which of Herald\'s own events the operational webhook receives; none ticked: all of them.',
    'apps.default': '(default)',
    'apps.deleteConfirm': 'Delete the app "{name}" with all its endpoints, events and history? This cannot be undone.',
    'apps.danger': 'Delete this app',
  },
  ja: {
    'apps.title': 'アプリ',
    'apps.new': '新しいアプリ',
    'apps.none': 'アプリはまだありません。アプリは Herald がイベントを配信する製品のアカウントです。最初のアプリを作成してください。',
    'apps.name': '名前',
    'apps.uid': '独自 ID（uid）',
    'apps.uidHint': '任意：このアプリを指す独自の ID。API ではアプリ ID の代わりに使えます。',
    'apps.id': 'ID',
    'apps.created': '作成日時',
    'apps.failing': '失敗中のエンドポイント',
    'apps.failed24': '失敗（24 時間）',
    'apps.pending24': '送信待ち（24 時間）',
    'apps.lastEvent': '最後のイベント',
    'apps.failingLink': '{n} 件が失敗中',
    'apps.editTitle': 'アプリの設定',
    'apps.newTitle': '新しいアプリ',
    'apps.delivery': 'このアプリの配信の既定値',
    'apps.retry': '再送スケジュール',
    'apps.retryHint': 'カンマ区切りの待ち時間（例：5s,1m,10m,1h）。空欄ならインストール全体の既定値。',
    'apps.timeout': 'リクエストのタイムアウト（ミリ秒）',
    'apps.maxInFlight': 'エンドポイントごとの同時リクエスト数',
    'apps.maxPerType': 'イベントタイプごとのエンドポイント数の上限',
    'apps.maxPerChannel': 'イベントタイプ・チャネルごとのエンドポイント数の上限',
    'apps.maxPerChannelHint': 'チャネルを持つエンドポイントは代わりにチャネルごとにこの上限で数えます。0：上の上限で数えます。',
    'apps.quota': '月間配信数の上限',
    'apps.zeroHint': '0：上限なし／既定値。',
    'apps.opsUrl': '運用通知用 Webhook URL',
    'apps.opsHint': 'アプリについての Herald 自身のイベントを署名付きで送信します：エンドポイントの失敗・回復・無効化、再試行を使い切った配信、エンドポイントの作成・変更・削除。',
    'apps.payloadFormat': 'ペイロード形式',
    'apps.templateSyntax': 'テンプレート構文',
    'apps.webhookHeaders': '署名ヘッダー',
    'apps.traceContext': 'トレースコンテキストを送信',
    'apps.traceContextHint': '受信側に、試行のトレースを引き継ぐ W3C traceparent ヘッダーを送ります（Herald がトレースを出力しているとき）。',
    'apps.headersStandard': 'webhook-id, webhook-timestamp, webhook-signature（Standard Webhooks）',
    'apps.headersSvix': 'svix-id, svix-timestamp, svix-signature（Svix のヘッダーで検証する受信側向け）',
    'apps.opsTypes': '運用通知のイベント',
    'apps.opsTypesHint': '運用通知用 Webhook が受け取る Herald 自身のイベント。何も選ばなければすべて。',
    'apps.default': '（既定）',
    'apps.deleteConfirm': 'アプリ「{name}」を、すべてのエンドポイント・イベント・履歴とともに削除しますか？元に戻せません。',
    'apps.danger': 'このアプリを削除',
  },
});

/** A count of only the newest deliveries of a busy window reads "n+". */
function capped(n, isCapped) {
  return isCapped ? `${n}+` : String(n);
}

/**
 * The health cells of one app (GET /v1/apps/{app}/health), filled in when
 * the answer comes, so that a slow app does not hold the list back.
 */
function healthCells(ctx, a) {
  const cells = [h('td', { class: 'num health-failing-cell' }, '…'), h('td', { class: 'num' }, '…'),
    h('td', { class: 'num' }, '…'), h('td', null, '…')];
  api('GET', `/v1/apps/${seg(a.id)}/health`, undefined, { signal: ctx.signal }).then((hl) => {
    replace(cells[0], hl.endpoints_failing > 0
      ? h('a', { class: 'health-failing', href: ctx.href(`/apps/${seg(a.id)}/failures`) }, t('apps.failingLink', { n: hl.endpoints_failing }))
      : '0');
    replace(cells[1], capped(hl.failed, hl.capped));
    replace(cells[2], capped(hl.pending, hl.capped));
    replace(cells[3], timeEl(hl.last_event_at));
  }, (err) => {
    if (err.name === 'AbortError') return;
    for (const c of cells) replace(c, '—');
  });
  return cells;
}

/** The list of apps, one page at a time, with each app's health. */
export async function list(ctx) {
  const body = h('div');
  const load = async (cursor) => {
    const page = await api('GET', `/v1/apps${query({ cursor, limit: 50 })}`, undefined, { signal: ctx.signal });
    replace(body,
      page.data.length === 0 && !cursor ? empty(t('apps.none')) : h('div', { class: 'table-wrap' },
        h('table', { class: 'apps-table' },
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, t('apps.name')),
            h('th', { scope: 'col' }, t('apps.id')),
            h('th', { scope: 'col', class: 'num' }, t('apps.failing')),
            h('th', { scope: 'col', class: 'num' }, t('apps.failed24')),
            h('th', { scope: 'col', class: 'num' }, t('apps.pending24')),
            h('th', { scope: 'col' }, t('apps.lastEvent')),
            h('th', { scope: 'col' }, t('apps.created')))),
          h('tbody', null, page.data.map((a) => h('tr', { dataset: { app: a.id } },
            h('td', null, h('a', { href: ctx.href(`/apps/${seg(a.id)}/endpoints`) }, a.name || a.uid || a.id)),
            h('td', { class: 'mono' }, a.uid ? `${a.id} (${a.uid})` : a.id),
            healthCells(ctx, a),
            h('td', null, timeEl(a.created_at))))))),
      pager(page, cursor, load));
  };
  await load('');
  return h('section', null,
    pageHeader(t('apps.title'), ctx.admin ? h('a', { class: 'button primary', href: ctx.href('/apps/new') }, t('apps.new')) : null),
    body);
}

function numberInput(v) {
  return h('input', { type: 'number', min: '0', step: '1', inputmode: 'numeric', value: v ?? 0 });
}

/** The app form: /apps/new creates, /apps/:app/settings edits. */
export async function form(ctx) {
  const editing = !!ctx.params.app;
  const a = editing ? await api('GET', `/v1/apps/${seg(ctx.params.app)}`, undefined, { signal: ctx.signal }) : {};
  const c = {
    name: h('input', { type: 'text', value: a.name || '', required: true, autocomplete: 'off' }),
    uid: h('input', { type: 'text', value: a.uid || '', autocomplete: 'off', spellcheck: 'false' }),
    retry_schedule: h('input', { type: 'text', value: a.retry_schedule || '', placeholder: '5s,1m,10m,1h', spellcheck: 'false' }),
    timeout_ms: numberInput(a.timeout_ms),
    max_in_flight: numberInput(a.max_in_flight),
    max_endpoints_per_event_type: numberInput(a.max_endpoints_per_event_type),
    max_endpoints_per_event_type_per_channel: numberInput(a.max_endpoints_per_event_type_per_channel),
    monthly_delivery_quota: numberInput(a.monthly_delivery_quota),
    operational_webhook_url: h('input', { type: 'url', value: a.operational_webhook_url || '', placeholder: 'https://', spellcheck: 'false' }),
    payload_format: h('select', null, ['', 'standard', 'raw', 'flat'].map((v) => h('option', { value: v, selected: (a.payload_format || '') === v }, v || t('apps.default')))),
    template_syntax: h('select', null, ['', 'braces', 'hash'].map((v) => h('option', { value: v, selected: (a.template_syntax || '') === v }, v || t('apps.default')))),
    propagate_trace_context: h('input', { type: 'checkbox', checked: !!a.propagate_trace_context }),
    webhook_headers: h('select', null, [['', t('apps.headersStandard')], ['svix', t('apps.headersSvix')]].map(([v, label]) => h('option', { value: v, selected: (a.webhook_headers === 'svix') === (v === 'svix') }, label))),
  };
  const opsTypes = OPERATIONAL_TYPES.map((name) => h('input', { type: 'checkbox', value: name, checked: (a.operational_event_types || []).includes(name) }));
  const opsTypesField = h('fieldset', { class: 'field type-field', dataset: { field: 'operational_event_types' } },
    h('legend', null, t('apps.opsTypes')),
    h('p', { class: 'hint' }, t('apps.opsTypesHint')),
    h('p', { class: 'field-error', 'aria-live': 'polite' }),
    h('ul', { class: 'type-list' }, OPERATIONAL_TYPES.map((name, i) => h('li', null,
      h('label', { class: 'type-option' }, opsTypes[i], h('span', { class: 'mono type-name' }, name))))));
  const save = h('button', { type: 'submit', class: 'primary' }, editing ? t('action.save') : t('action.create'));
  const frm = h('form', {
    class: 'card',
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(frm);
      const input = {
        name: c.name.value.trim(),
        retry_schedule: c.retry_schedule.value.trim(),
        operational_webhook_url: c.operational_webhook_url.value.trim(),
        payload_format: c.payload_format.value,
        template_syntax: c.template_syntax.value,
        webhook_headers: c.webhook_headers.value,
        propagate_trace_context: c.propagate_trace_context.checked,
        operational_event_types: opsTypes.filter((b) => b.checked).map((b) => b.value),
      };
      if (c.uid.value.trim() || editing) input.uid = c.uid.value.trim();
      for (const k of ['timeout_ms', 'max_in_flight', 'max_endpoints_per_event_type', 'max_endpoints_per_event_type_per_channel', 'monthly_delivery_quota']) {
        input[k] = c[k].value === '' ? 0 : Number(c[k].value);
      }
      save.disabled = true;
      try {
        const out = editing
          ? await api('PATCH', `/v1/apps/${seg(a.id)}`, input)
          : await api('POST', '/v1/apps', input);
        toast(t('saved'));
        ctx.navigate(ctx.href(`/apps/${seg(out.id)}/endpoints`));
      } catch (err) {
        // The form keeps what was typed; the error sits by its field.
        showErrors(frm, err);
      } finally {
        save.disabled = false;
      }
    },
  },
  field({ label: t('apps.name'), name: 'name', control: c.name }),
  field({ label: t('apps.uid'), name: 'uid', control: c.uid, hint: t('apps.uidHint') }),
  h('fieldset', null, h('legend', null, t('apps.delivery')),
    field({ label: t('apps.retry'), name: 'retry_schedule', control: c.retry_schedule, hint: t('apps.retryHint') }),
    field({ label: t('apps.timeout'), name: 'timeout_ms', control: c.timeout_ms, hint: t('apps.zeroHint') }),
    field({ label: t('apps.maxInFlight'), name: 'max_in_flight', control: c.max_in_flight, hint: t('apps.zeroHint') }),
    field({ label: t('apps.maxPerType'), name: 'max_endpoints_per_event_type', control: c.max_endpoints_per_event_type, hint: t('apps.zeroHint') }),
    field({ label: t('apps.maxPerChannel'), name: 'max_endpoints_per_event_type_per_channel', control: c.max_endpoints_per_event_type_per_channel, hint: t('apps.maxPerChannelHint') }),
    field({ label: t('apps.quota'), name: 'monthly_delivery_quota', control: c.monthly_delivery_quota, hint: t('apps.zeroHint') }),
    field({ label: t('apps.payloadFormat'), name: 'payload_format', control: c.payload_format }),
    field({ label: t('apps.templateSyntax'), name: 'template_syntax', control: c.template_syntax }),
    field({ label: t('apps.webhookHeaders'), name: 'webhook_headers', control: c.webhook_headers }),
    field({ label: t('apps.traceContext'), name: 'propagate_trace_context', control: c.propagate_trace_context, hint: t('apps.traceContextHint') })),
  field({ label: t('apps.opsUrl'), name: 'operational_webhook_url', control: c.operational_webhook_url, hint: t('apps.opsHint') }),
  opsTypesField,
  h('div', { class: 'actions' }, save,
    h('a', { class: 'button', href: editing ? ctx.href(`/apps/${seg(a.id)}/endpoints`) : ctx.href('/') }, t('action.cancel'))));

  const del = editing && ctx.admin ? h('section', { class: 'card' },
    h('h2', null, t('apps.danger')),
    h('button', {
      type: 'button',
      class: 'danger',
      onclick: async () => {
        if (!(await confirmDialog(t('apps.deleteConfirm', { name: a.name || a.id }), t('action.delete'), true))) return;
        try {
          await api('DELETE', `/v1/apps/${seg(a.id)}`);
          toast(t('deleted'));
          ctx.navigate(ctx.href('/'));
        } catch (err) {
          toast(err.message, 'error');
        }
      },
    }, t('action.delete'))) : null;
  return h('section', null, pageHeader(editing ? t('apps.editTitle') : t('apps.newTitle')), frm, del);
}
