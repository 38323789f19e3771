// Failures: what is failing now, of one app (/apps/:app/failures) or of
// every app (/failures, operators only), grouped by endpoint and by the
// cause of the latest attempt, with the actions that fix or inspect it.

import { api, query, seg } from '../api.js';
import { addStrings, t } from '../i18n.js';
import { h, pageHeader, empty, timeEl, badge, toast, confirmDialog, replace, newId } from '../dom.js';
import { endpointLabel } from './endpoints.js';

addStrings({
  en: {
    'fail.title': 'Failures',
    'fail.allTitle': 'Failures in every app',
    'fail.intro': 'Deliveries whose latest attempt failed, grouped by endpoint and cause. Retrying deliveries will be tried again; failed ones were given up on.',
    'fail.window': 'Created in the last',
    'fail.w1h': 'hour',
    'fail.w24h': '24 hours',
    'fail.w7d': '7 days',
    'fail.none': 'Nothing is failing. Every delivery of this window succeeded or is waiting for its first try.',
    'fail.partial': 'Only the newest failures are shown: the report stops at {n} deliveries read.',
    'fail.cause': 'Cause',
    'fail.response': 'Response (first bytes)',
    'fail.failed': 'Failed',
    'fail.retrying': 'Retrying',
    'fail.firstSeen': 'First seen',
    'fail.lastSeen': 'Last seen',
    'fail.actions': 'Actions',
    'fail.app': 'App',
    'fail.openEndpoint': 'Open endpoint',
    'fail.deliveries': 'Deliveries',
    'fail.latest': 'Latest delivery',
    'fail.resend': 'Resend all',
    'fail.resendLabel': 'Resend the failed deliveries of {cause} to {url}',
    'fail.resendConfirm': 'Send the {n} failed deliveries of this endpoint that failed with {cause} again?',
    'fail.resendNone': 'No failed delivery to resend: the retrying ones are sent again on their own.',
    'fail.resendStart': 'Resending…',
    'fail.resendDone': 'Resent: {done} of {total} deliveries queued again.',
    'fail.resendFailed': 'The resend failed: {error}',
    'fail.recover': 'Recover…',
    'fail.disable': 'Disable',
    'fail.disableConfirm': 'Disable the endpoint {url}? It gets nothing until it is enabled again.',
    'fail.disabled': 'Endpoint disabled.',
    'fail.endpointGone': '(endpoint deleted)',
    'fail.progress': 'Resend progress',
    'fail.noBody': 'no response',
    'fail.jobFailed': 'the job stopped',
    'fail.definitionCause': 'Error (definition): {cause}',
    'fail.definitionHint': 'Error (definition): the endpoint\'s template, URL or transformation could not make a request, so the destination was not contacted. Fix the endpoint, then resend; the receiver is not at fault.',
    'fail.editEndpoint': 'Fix the endpoint',
  },
  ja: {
    'fail.title': '失敗',
    'fail.allTitle': 'すべてのアプリの失敗',
    'fail.intro': '最新の試行が失敗した配信を、エンドポイントと原因ごとにまとめています。再試行中の配信は自動で再送され、失敗した配信は再送をあきらめたものです。',
    'fail.window': '作成された期間',
    'fail.w1h': '1 時間',
    'fail.w24h': '24 時間',
    'fail.w7d': '7 日',
    'fail.none': '失敗している配信はありません。この期間の配信はすべて成功したか、最初の送信を待っています。',
    'fail.partial': '新しい失敗のみ表示しています（読み込みは {n} 件の配信まで）。',
    'fail.cause': '原因',
    'fail.response': 'レスポンス（先頭部分）',
    'fail.failed': '失敗',
    'fail.retrying': '再試行中',
    'fail.firstSeen': '最初の発生',
    'fail.lastSeen': '最後の発生',
    'fail.actions': '操作',
    'fail.app': 'アプリ',
    'fail.openEndpoint': 'エンドポイントを開く',
    'fail.deliveries': '配信',
    'fail.latest': '最新の配信',
    'fail.resend': 'すべて再送',
    'fail.resendLabel': '{url} への {cause} で失敗した配信を再送',
    'fail.resendConfirm': 'このエンドポイントで {cause} により失敗した {n} 件の配信を再送しますか？',
    'fail.resendNone': '再送する失敗した配信はありません。再試行中の配信は自動で再送されます。',
    'fail.resendStart': '再送しています…',
    'fail.resendDone': '再送しました：{total} 件中 {done} 件を再び送信待ちにしました。',
    'fail.resendFailed': '再送に失敗しました：{error}',
    'fail.recover': '復旧…',
    'fail.disable': '無効にする',
    'fail.disableConfirm': 'エンドポイント {url} を無効にしますか？再び有効にするまで何も送信されません。',
    'fail.disabled': 'エンドポイントを無効にしました。',
    'fail.endpointGone': '（削除されたエンドポイント）',
    'fail.progress': '再送の進み具合',
    'fail.noBody': 'レスポンスなし',
    'fail.jobFailed': 'ジョブが停止しました',
    'fail.definitionCause': 'エラー（設定）：{cause}',
    'fail.definitionHint': 'エラー（設定）：エンドポイントのテンプレート・URL・変換スクリプトからリクエストを作れなかったため、送信先には接続していません。受信側の問題ではありません。エンドポイントを修正してから再送してください。',
    'fail.editEndpoint': 'エンドポイントを修正',
  },
});

const WINDOWS = { '1h': 3600e3, '24h': 24 * 3600e3, '7d': 7 * 24 * 3600e3 };

/** One app's failures: /apps/:app/failures. */
export function appFailures(ctx) {
  return page(ctx, ctx.app);
}

/** Every app's failures: /failures (the admin's). */
export function allFailures(ctx) {
  return page(ctx, '');
}

async function page(ctx, app) {
  const q = new URLSearchParams(location.search);
  let win = WINDOWS[q.get('window')] ? q.get('window') : '24h';
  const body = h('div', { class: 'failures' });
  const live = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  const appNames = new Map();
  const appLabel = async (id) => {
    if (!appNames.has(id)) {
      appNames.set(id, api('GET', `/v1/apps/${seg(id)}`, undefined, { signal: ctx.signal }).then((a) => a.name || a.uid || a.id, () => id));
    }
    return appNames.get(id);
  };
  const load = async () => {
    const since = new Date(Date.now() - WINDOWS[win]).toISOString();
    const path = app ? `/v1/apps/${seg(app)}/failures` : '/v1/failures';
    const rep = await api('GET', `${path}${query({ since, limit: 100 })}`, undefined, { signal: ctx.signal });
    const byEndpoint = new Map();
    for (const g of rep.data) {
      const key = `${g.app_id}/${g.endpoint_id}`;
      if (!byEndpoint.has(key)) byEndpoint.set(key, []);
      byEndpoint.get(key).push(g);
    }
    const sections = [];
    for (const groups of byEndpoint.values()) {
      // A definition error needs the endpoint fixed, not the receiver:
      // first within its endpoint, the report's order kept otherwise.
      groups.sort((a, b) => isDefinition(b) - isDefinition(a));
      sections.push(await endpointSection(ctx, groups, rep.since, app ? null : await appLabel(groups[0].app_id), load));
    }
    replace(body,
      rep.partial ? h('p', { class: 'hint' }, t('fail.partial', { n: rep.scanned })) : null,
      rep.data.length === 0 ? empty(t('fail.none')) : sections);
    live.textContent = rep.data.length === 0 ? t('fail.none') : '';
  };
  const winId = newId('win');
  const winSelect = h('select', {
    id: winId,
    onchange: async () => {
      win = winSelect.value;
      history.replaceState(history.state, '', location.pathname + query({ window: win === '24h' ? '' : win }));
      await load();
    },
  }, Object.keys(WINDOWS).map((w) => h('option', { value: w, selected: w === win }, t(`fail.w${w}`))));
  await load();
  return h('section', null,
    pageHeader(app ? t('fail.title') : t('fail.allTitle'),
      h('button', {
        type: 'button',
        class: 'secondary',
        onclick: async (e) => {
          const b = e.currentTarget;
          b.disabled = true;
          try { await load(); } finally { b.disabled = false; }
        },
      }, t('action.refresh'))),
    h('p', { class: 'muted' }, t('fail.intro')),
    h('div', { class: 'field field-inline' }, h('label', { for: winId }, t('fail.window')), winSelect),
    live,
    body);
}

/** Whether a group fails because of its endpoint's definition, not its destination. */
function isDefinition(g) {
  return g.failure === 'definition';
}

/** The card of one endpoint's failure groups. */
async function endpointSection(ctx, groups, since, appName, reload) {
  const g0 = groups[0];
  const appPath = `/apps/${seg(g0.app_id)}`;
  const epHref = ctx.href(`${appPath}/endpoints/${seg(g0.endpoint_id)}`);
  // A broker endpoint has no URL either, like a deleted one: ask for it,
  // and name it by its kind and destination.
  let label = g0.endpoint_url;
  let enabled = g0.endpoint_enabled;
  if (!label) {
    try {
      const ep = await api('GET', `/v1/apps/${seg(g0.app_id)}/endpoints/${seg(g0.endpoint_id)}`, undefined, { signal: ctx.signal });
      label = endpointLabel(ep);
      enabled = ep.enabled;
    } catch (err) {
      if (err.name === 'AbortError') throw err;
    }
  }
  const url = label || t('fail.endpointGone');
  const headingId = newId('fail-ep');
  const actions = [];
  if (label) {
    actions.push(h('a', { class: 'button', href: epHref }, t('fail.openEndpoint')));
    if (!ctx.readOnly) {
      actions.push(h('a', { class: 'button', href: `${epHref}#recover-form` }, t('fail.recover')));
      if (enabled) {
        actions.push(h('button', {
          type: 'button',
          class: 'danger',
          onclick: async (e) => {
            if (!await confirmDialog(t('fail.disableConfirm', { url }), t('fail.disable'), true)) return;
            e.target.disabled = true;
            try {
              await api('PATCH', `/v1/apps/${seg(g0.app_id)}/endpoints/${seg(g0.endpoint_id)}`, { enabled: false }, { signal: ctx.signal });
              toast(t('fail.disabled'));
              await reload();
            } catch (err) {
              if (err.name === 'AbortError') return;
              e.target.disabled = false;
              toast(err.message, 'error');
            }
          },
        }, t('fail.disable')));
      }
    }
  }
  return h('section', { class: 'card fail-endpoint', 'aria-labelledby': headingId, dataset: { endpoint: g0.endpoint_id } },
    h('header', { class: 'page-header' },
      h('h2', { id: headingId, class: 'mono' }, appName ? `${appName} · ` : '', label ? h('a', { href: epHref }, url) : url),
      label ? badge(enabled ? 'enabled' : 'disabled') : null,
      h('div', { class: 'actions' }, actions)),
    groups.some(isDefinition) ? h('p', { class: 'hint definition-hint' }, t('fail.definitionHint')) : null,
    h('div', { class: 'table-wrap' },
      h('table', null,
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, t('fail.cause')),
          h('th', { scope: 'col' }, t('fail.response')),
          h('th', { scope: 'col', class: 'num' }, t('fail.failed')),
          h('th', { scope: 'col', class: 'num' }, t('fail.retrying')),
          h('th', { scope: 'col' }, t('fail.firstSeen')),
          h('th', { scope: 'col' }, t('fail.lastSeen')),
          h('th', { scope: 'col' }, t('fail.actions')))),
        h('tbody', null, groups.map((g) => groupRow(ctx, g, since, url, !!label))))));
}

/** The filter of the delivery list that shows one group's deliveries. */
function causeFilter(g) {
  return g.status_code ? { status_code: String(g.status_code) } : { error_kind: g.error_kind };
}

/** One group's row; exists says its endpoint is still there to act on. */
function groupRow(ctx, g, since, url, exists) {
  const appPath = `/apps/${seg(g.app_id)}`;
  const sample = g.body || g.error || '';
  const cell = h('td', { class: 'fail-actions' });
  const progress = h('progress', { class: 'progress', max: '1', 'aria-label': t('fail.progress') });
  const status = h('span', { class: 'job-message', role: 'status' });
  const job = h('div', { class: 'job', hidden: true }, progress, ' ', status);
  let timer = 0;
  ctx.onLeave(() => clearTimeout(timer));
  const resend = h('button', {
    type: 'button',
    class: 'primary resend-all',
    'aria-label': t('fail.resendLabel', { cause: g.cause, url }),
    onclick: async () => {
      if (g.failed === 0) {
        toast(t('fail.resendNone'));
        return;
      }
      if (!await confirmDialog(t('fail.resendConfirm', { n: g.failed, cause: g.cause }), t('fail.resend'))) return;
      resend.disabled = true;
      job.hidden = false;
      progress.removeAttribute('value');
      status.textContent = t('fail.resendStart');
      const show = (j) => {
        const total = j.total || 0;
        if (j.state === 'running' && total === 0) {
          progress.removeAttribute('value');
        } else {
          progress.max = Math.max(total, 1);
          progress.value = total === 0 ? 1 : j.done || 0;
        }
      };
      const done = (j) => {
        resend.disabled = false;
        status.textContent = j.state === 'succeeded'
          ? t('fail.resendDone', { done: j.done || 0, total: j.total || 0 })
          : t('fail.resendFailed', { error: j.error || t('fail.jobFailed') });
      };
      const poll = async (id) => {
        if (ctx.signal.aborted) return;
        try {
          const j = await api('GET', `/v1/apps/${seg(g.app_id)}/jobs/${seg(id)}`, undefined, { signal: ctx.signal });
          show(j);
          if (j.state === 'running') timer = setTimeout(() => poll(id), 500);
          else done(j);
        } catch (err) {
          if (err.name === 'AbortError') return;
          done({ state: 'failed', error: err.message });
        }
      };
      try {
        const j = await api('POST', `/v1/apps/${seg(g.app_id)}/endpoints/${seg(g.endpoint_id)}/recover`,
          { since, ...causeFilter(g) }, { signal: ctx.signal });
        show(j);
        timer = setTimeout(() => poll(j.id), 300);
      } catch (err) {
        if (err.name === 'AbortError') return;
        done({ state: 'failed', error: err.message });
      }
    },
  }, t('fail.resend'));
  const definition = isDefinition(g);
  replace(cell,
    definition && exists && !ctx.readOnly
      ? [h('a', { class: 'fix-endpoint', href: ctx.href(`${appPath}/endpoints/${seg(g.endpoint_id)}/edit`) }, t('fail.editEndpoint')), ' ']
      : null,
    h('a', { href: ctx.href(`${appPath}/endpoints/${seg(g.endpoint_id)}/deliveries${query({ ...causeFilter(g), since })}`) }, t('fail.deliveries')),
    ' ',
    h('a', { href: ctx.href(`${appPath}/deliveries/${seg(g.last_delivery_id)}`) }, t('fail.latest')),
    ' ',
    ctx.readOnly || !exists ? null : resend,
    job);
  return h('tr', { class: 'fail-group', dataset: { cause: g.cause, failure: g.failure || '' } },
    h('th', { scope: 'row' }, definition
      ? h('span', { class: 'badge badge-definition', title: t('fail.definitionHint') }, t('fail.definitionCause', { cause: g.cause }))
      : badge('failed', g.cause)),
    h('td', null, sample ? h('code', { class: 'fail-sample' }, sample) : h('span', { class: 'muted' }, t('fail.noBody'))),
    h('td', { class: 'num' }, String(g.failed)),
    h('td', { class: 'num' }, String(g.retrying)),
    h('td', null, timeEl(g.first_seen)),
    h('td', null, timeEl(g.last_seen)),
    cell);
}
