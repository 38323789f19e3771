// Which endpoint is on which version of a versioned event type: the tags
// of the endpoints list, the endpoint page's pins, the type page's
// endpoints per version, and an app's "Event versions" page (the portal's
// view of the versions its endpoints receive). All of it reads; pins are
// changed in the endpoint form.

import { api, query, seg } from '../api.js';
import { addStrings, t } from '../i18n.js';
import { h, replace, pageHeader, empty, timeEl, codeBlock } from '../dom.js';
import { catalog, subscriptionMatches, endpointLabel, appEndpoints } from './endpoints.js';

addStrings({
  en: {
    'pins.tag': '{type} {version}',
    'pins.nTypes': 'pinned: {n} types',
    'pins.allTypes': 'every type',
    'pins.first': 'first',
    'pins.latest': 'latest',
    'pins.latestIs': 'latest ({version})',
    'pins.title': 'Event type versions',
    'pins.type': 'Event type',
    'pins.version': 'Version',
    'pins.none': 'This endpoint receives no versioned event type: each event is sent as it was sent to Herald.',
    'pins.loading': 'Loading…',
    'pins.error': 'Could not load the catalog: {message}',
    'pins.byVersion': 'Endpoints on each version',
    'pins.byVersionHint': 'Endpoints pinned to a version (by the type or by *). Endpoints that pin nothing receive the latest.',
    'pins.noneOn': 'No endpoint is pinned to this version.',
    'pins.showMore': 'Show more',
    'pins.app': 'app {app}',
    'pins.disabled': 'disabled',
    'pins.pageTitle': 'Event versions',
    'pins.pageIntro': 'The versioned event types your endpoints receive, and the version each endpoint receives them as. An endpoint that pins no version receives the latest; pin one in the endpoint’s settings.',
    'pins.pageNone': 'None of your endpoints receives a versioned event type.',
    'pins.created': 'Created',
    'pins.sample': 'Sample',
    'pins.noSample': 'No sample.',
    'pins.endpoints': 'Your endpoints on it',
    'pins.unpinned': 'not pinned',
    'pins.firstName': '(first, unversioned)',
  },
  ja: {
    'pins.tag': '{type} {version}',
    'pins.nTypes': '{n} タイプを固定',
    'pins.allTypes': 'すべてのタイプ',
    'pins.first': '最初',
    'pins.latest': '最新',
    'pins.latestIs': '最新（{version}）',
    'pins.title': 'イベントタイプのバージョン',
    'pins.type': 'イベントタイプ',
    'pins.version': 'バージョン',
    'pins.none': 'このエンドポイントはバージョンのあるイベントタイプを受信しません。イベントは Herald に送られた形のまま送信されます。',
    'pins.loading': '読み込み中…',
    'pins.error': 'カタログを読み込めませんでした：{message}',
    'pins.byVersion': 'バージョンごとのエンドポイント',
    'pins.byVersionHint': 'バージョンを固定しているエンドポイント（タイプ指定または * による）。何も固定していないエンドポイントは最新を受信します。',
    'pins.noneOn': 'このバージョンに固定しているエンドポイントはありません。',
    'pins.showMore': 'さらに表示',
    'pins.app': 'アプリ {app}',
    'pins.disabled': '無効',
    'pins.pageTitle': 'イベントのバージョン',
    'pins.pageIntro': 'エンドポイントが受信するバージョンのあるイベントタイプと、各エンドポイントが受信するバージョンです。バージョンを固定していないエンドポイントは最新を受信します。固定はエンドポイントの設定で行います。',
    'pins.pageNone': 'バージョンのあるイベントタイプを受信しているエンドポイントはありません。',
    'pins.created': '作成日時',
    'pins.sample': 'サンプル',
    'pins.noSample': 'サンプルはありません。',
    'pins.endpoints': 'このバージョンのエンドポイント',
    'pins.unpinned': '固定なし',
    'pins.firstName': '（最初のバージョン・バージョンなし）',
  },
});

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The version an endpoint is pinned to for a type, or null when it pins
 * none: the type's own pin, else the "*" pin, which names a version the
 * type may not have (a date then pins the newest version dated on or
 * before it, the first when none is; a token pins nothing). The server's
 * rule (herald.PinnedVersion), so that the screens say what is delivered.
 */
export function pinnedVersion(ep, et) {
  const pins = ep.event_type_versions || {};
  if (Object.hasOwn(pins, et.name)) return pins[et.name];
  if (!Object.hasOwn(pins, '*')) return null;
  const v = pins['*'];
  const versions = et.versions || [];
  if (v === '' || versions.some((x) => x.version === v)) return v;
  if (!DATE.test(v)) return null;
  let pinned = '';
  for (const x of versions) if (DATE.test(x.version) && x.version <= v) pinned = x.version;
  return pinned;
}

function versionName(v) {
  return v === '' ? t('pins.first') : v;
}

/**
 * The endpoints list's tags of an endpoint's pins: "order.created
 * 2026-11-01" each, or "pinned: N types" past two. Null without pins.
 */
export function pinTags(ep) {
  const pins = Object.entries(ep.event_type_versions || {});
  if (pins.length === 0) return null;
  if (pins.length > 2) return h('div', { class: 'pin-tags' }, h('span', { class: 'badge badge-pin' }, t('pins.nTypes', { n: pins.length })));
  return h('div', { class: 'pin-tags' }, pins.map(([type, v]) => h('span', { class: 'badge badge-pin mono' },
    t('pins.tag', { type: type === '*' ? t('pins.allTypes') : type, version: versionName(v) }))));
}

/** Whether an endpoint receives a type (subscribed to it; all when it names none). */
function receives(ep, et) {
  const subs = ep.event_types || [];
  return subs.length === 0 || subs.some((s) => subscriptionMatches(s, et.name, et.group));
}

/**
 * The endpoint page's pins: for each versioned type the endpoint
 * receives or pins, the version it receives ("latest" when it pins
 * none). The catalog loads after the page shows.
 */
export function endpointPins(ctx, ep) {
  const body = h('div', null, h('p', { class: 'muted' }, t('pins.loading')));
  const section = h('section', { class: 'card endpoint-pins', id: 'endpoint-pins', 'aria-labelledby': 'pins-heading' },
    h('h2', { id: 'pins-heading' }, t('pins.title')), body);
  catalog(ctx.signal).then((types) => {
    const pins = ep.event_type_versions || {};
    const rows = types.filter((et) => (et.versions || []).length > 0 && receives(ep, et) || Object.hasOwn(pins, et.name));
    if (rows.length === 0) {
      replace(body, h('p', { class: 'muted' }, t('pins.none')));
      return;
    }
    const typeHref = (name) => (ctx.mode === 'portal' ? ctx.appHref(`/versions#type-${encodeURIComponent(name)}`) : ctx.href(`/event-types/${seg(name)}`));
    replace(body, h('div', { class: 'table-wrap' }, h('table', { 'aria-labelledby': 'pins-heading' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('pins.type')),
        h('th', { scope: 'col' }, t('pins.version')))),
      h('tbody', null, rows.slice(0, 100).map((et) => {
        const v = pinnedVersion(ep, et);
        return h('tr', { dataset: { type: et.name } },
          h('td', null, h('a', { class: 'mono', href: typeHref(et.name) }, et.name)),
          h('td', { class: 'mono' }, v === null
            ? h('span', { class: 'muted' }, t('pins.latestIs', { version: versionName(et.latest_version || '') }))
            : versionName(v)));
      })))));
  }).catch((err) => {
    if (err.name === 'AbortError') return;
    replace(body, h('p', { class: 'error' }, t('pins.error', { message: err.message })));
  });
  return section;
}

/** One pinned endpoint, linked to its page. */
function pinnedItem(ctx, p) {
  const label = endpointLabel(p);
  return h('li', { dataset: { endpoint: p.id } },
    h('a', { class: 'mono', href: ctx.href(`/apps/${seg(p.app_id)}/endpoints/${seg(p.id)}`) }, label),
    p.description ? h('span', { class: 'muted' }, ` — ${p.description}`) : null,
    ctx.admin ? h('span', { class: 'muted' }, ` (${t('pins.app', { app: p.app_id })})`) : null,
    p.enabled ? null : h('span', { class: 'badge' }, t('pins.disabled')));
}

/**
 * The type page's endpoints on each version, ten at a time with "Show
 * more": the caller's app's for an app key, every app's for an admin.
 * Null for an unversioned type.
 */
export function pinnedByVersion(ctx, et) {
  const versions = et.versions || [];
  if (versions.length === 0) return null;
  const block = (v) => {
    let list = h('ul', { class: 'plain-list pinned-list' });
    const more = h('div');
    const box = h('div', { class: 'pinned-version', dataset: { version: v } },
      h('h3', { class: 'mono' }, v === '' ? t('pins.firstName') : v), list, more);
    const load = async (cursor) => {
      // version= with nothing after it is the first version: query()
      // leaves empty values out, so it is written here.
      const q = `?version=${encodeURIComponent(v)}${query({ cursor, limit: 10 }).replace('?', '&')}`;
      try {
        const page = await api('GET', `/v1/event-types/${seg(et.name)}/pinned-endpoints${q}`, undefined, { signal: ctx.signal });
        if (!cursor && page.data.length === 0) {
          const none = h('p', { class: 'muted' }, t('pins.noneOn'));
          list.replaceWith(none);
          list = none;
        } else list.append(...page.data.map((p) => pinnedItem(ctx, p)));
        replace(more, page.next_cursor ? h('button', { type: 'button', class: 'secondary', onclick: () => load(page.next_cursor) }, t('pins.showMore')) : null);
      } catch (err) {
        if (err.name === 'AbortError') return;
        replace(more, h('p', { class: 'error' }, err.message));
      }
    };
    load('');
    return box;
  };
  return h('section', { class: 'card et-pins', id: 'et-pins', 'aria-labelledby': 'et-pins-title' },
    h('h2', { id: 'et-pins-title' }, t('pins.byVersion')),
    h('p', { class: 'hint' }, t('pins.byVersionHint')),
    block(''), versions.map((v) => block(v.version)));
}


/**
 * An app's "Event versions" page: each versioned type its endpoints
 * receive, with its versions (name, date, sample) and which of the
 * endpoints is on each. The portal's view of versions; read-only.
 */
export async function appVersions(ctx) {
  const [eps, types] = await Promise.all([appEndpoints(ctx, 1000), catalog(ctx.signal)]);
  const shown = eps.filter((ep) => !ep.operational);
  const cards = [];
  for (const et of types) {
    if ((et.versions || []).length === 0) continue;
    const on = shown.filter((ep) => receives(ep, et) || Object.hasOwn(ep.event_type_versions || {}, et.name));
    if (on.length === 0) continue;
    const latest = et.latest_version || '';
    const byVersion = new Map();
    for (const ep of on) {
      const v = pinnedVersion(ep, et);
      const key = v === null ? latest : v;
      if (!byVersion.has(key)) byVersion.set(key, []);
      byVersion.get(key).push({ ep, pinned: v !== null });
    }
    const all = [{ version: '', created_at: et.created_at, sample: et.sample }, ...et.versions];
    const id = `type-${et.name}`;
    cards.push(h('section', { class: 'card type-versions', id, dataset: { type: et.name }, 'aria-labelledby': `${id}-title` },
      h('h2', { id: `${id}-title`, class: 'mono' }, et.name),
      et.description ? h('p', { class: 'muted' }, et.description) : null,
      h('div', { class: 'table-wrap' }, h('table', { 'aria-labelledby': `${id}-title` },
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, t('pins.version')),
          h('th', { scope: 'col' }, t('pins.created')),
          h('th', { scope: 'col' }, t('pins.sample')),
          h('th', { scope: 'col' }, t('pins.endpoints')))),
        h('tbody', null, all.map((v) => {
          const here = byVersion.get(v.version) || [];
          return h('tr', { dataset: { version: v.version } },
            h('td', { class: 'mono' }, v.version === '' ? t('pins.firstName') : v.version,
              v.version === latest ? h('span', { class: 'badge badge-pin' }, t('pins.latest')) : null),
            h('td', null, timeEl(v.created_at)),
            h('td', null, v.sample === null || v.sample === undefined ? h('span', { class: 'muted' }, t('pins.noSample'))
              : h('details', null, h('summary', null, t('pins.sample')), codeBlock(JSON.stringify(v.sample, null, 2), t('pins.sample')))),
            h('td', null, here.length === 0 ? h('span', { class: 'muted' }, '—') : h('ul', { class: 'plain-list' }, here.map(({ ep, pinned }) => h('li', { dataset: { endpoint: ep.id } },
              h('a', { class: 'mono', href: ctx.appHref(`/endpoints/${seg(ep.id)}`) }, endpointLabel(ep)),
              ep.description ? h('span', { class: 'muted' }, ` — ${ep.description}`) : null,
              pinned ? null : h('span', { class: 'muted' }, ` (${t('pins.unpinned')})`))))));
        }))))));
  }
  return h('section', { class: 'app-versions' },
    pageHeader(t('pins.pageTitle')),
    h('p', { class: 'hint' }, t('pins.pageIntro')),
    cards.length ? cards : empty(t('pins.pageNone')));
}
