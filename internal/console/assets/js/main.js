// Boot, layout and routing of the console (/console/…) and of the
// customers' portal (/portal/…). Both are this one app: the portal is the
// console's app-scoped pages with the app fixed by its session and the
// operator-only pages left out.

import { api, ApiError, setToken, token, whenUnauthorized, seg } from './api.js';
import { addStrings, lang, languages, pickLanguage, setLang, t } from './i18n.js';
import { h, replace, field, showErrors, errorPanel, newId, toast } from './dom.js';

const root = document.getElementById('root');
const mode = location.pathname === '/portal' || location.pathname.startsWith('/portal/') ? 'portal' : 'console';
const base = mode === 'portal' ? '/portal' : '/console';

/** Portal theme: from the link's query, kept for the tab's life. */
function portalTheme() {
  const q = new URLSearchParams(location.search);
  let saved = {};
  try { saved = JSON.parse(sessionStorage.getItem('herald.theme') || '{}'); } catch { /* none */ }
  const theme = {
    primary_color: q.get('primary_color') ?? saved.primary_color ?? '',
    logo_url: q.get('logo_url') ?? saved.logo_url ?? '',
    language: q.get('language') ?? q.get('lang') ?? saved.language ?? '',
  };
  try { sessionStorage.setItem('herald.theme', JSON.stringify(theme)); } catch { /* blocked */ }
  return theme;
}

function applyTheme(theme) {
  if (/^#[0-9a-fA-F]{6}$/.test(theme.primary_color || '')) {
    document.documentElement.style.setProperty('--primary', theme.primary_color);
  }
}

// The routes, below the base. ":name" matches one path segment.
// portal: false keeps a page out of the portal.
const routes = [
  { path: '/', page: () => import('./pages/apps.js').then((m) => m.list), portal: false },
  { path: '/apps/new', page: () => import('./pages/apps.js').then((m) => m.form), portal: false },
  { path: '/apps/:app', redirect: (p) => `/apps/${seg(p.app)}/endpoints` },
  { path: '/apps/:app/settings', page: () => import('./pages/apps.js').then((m) => m.form), portal: false },
  { path: '/apps/:app/endpoints', page: () => import('./pages/endpoints.js').then((m) => m.list) },
  { path: '/apps/:app/endpoints/new', page: () => import('./pages/endpoint_form.js').then((m) => m.form) },
  { path: '/apps/:app/endpoints/:id', page: () => import('./pages/endpoints.js').then((m) => m.detail) },
  { path: '/apps/:app/endpoints/:id/edit', page: () => import('./pages/endpoint_form.js').then((m) => m.form) },
  { path: '/apps/:app/endpoints/:id/deliveries', page: () => import('./pages/history.js').then((m) => m.endpointDeliveries) },
  { path: '/apps/:app/endpoint-templates', page: () => import('./pages/endpoint_templates.js').then((m) => m.list), portal: false },
  { path: '/apps/:app/endpoint-templates/new', page: () => import('./pages/endpoint_templates.js').then((m) => m.form), portal: false },
  { path: '/apps/:app/endpoint-templates/:id', page: () => import('./pages/endpoint_templates.js').then((m) => m.form), portal: false },
  { path: '/apps/:app/events', page: () => import('./pages/history.js').then((m) => m.events) },
  { path: '/apps/:app/events/:id', page: () => import('./pages/history.js').then((m) => m.event) },
  { path: '/apps/:app/deliveries', page: () => import('./pages/history.js').then((m) => m.appDeliveries) },
  { path: '/apps/:app/deliveries/:id', page: () => import('./pages/history.js').then((m) => m.delivery) },
  { path: '/apps/:app/versions', page: () => import('./pages/pins.js').then((m) => m.appVersions) },
  { path: '/apps/:app/failures', page: () => import('./pages/failures.js').then((m) => m.appFailures), portal: false },
  { path: '/failures', page: () => import('./pages/failures.js').then((m) => m.allFailures), portal: false },
  { path: '/event-types', page: () => import('./pages/eventtypes.js').then((m) => m.list), portal: false },
  { path: '/event-types/new', page: () => import('./pages/eventtypes.js').then((m) => m.form), portal: false },
  { path: '/event-types/:name', page: () => import('./pages/eventtypes.js').then((m) => m.form), portal: false },
];

function match(pattern, path) {
  const ps = pattern.split('/').filter(Boolean);
  const xs = path.split('/').filter(Boolean);
  if (ps.length !== xs.length) return null;
  const params = {};
  for (let i = 0; i < ps.length; i++) {
    if (ps[i].startsWith(':')) {
      try { params[ps[i].slice(1)] = decodeURIComponent(xs[i]); } catch { return null; }
    } else if (ps[i] !== xs[i]) return null;
  }
  return params;
}

// State of the session.
const state = {
  me: null, // GET /v1/whoami
  appId: '', // the portal's app
  appCache: new Map(), // id → app, for names in the header
  theme: {},
  leave: [], // cleanups of the current page
};

/** route path (below base, console form) → the browser's path. */
function href(path) {
  if (mode === 'portal') {
    const prefix = `/apps/${seg(state.appId)}`;
    if (path === prefix || path === `${prefix}/`) return `${base}/`;
    if (path.startsWith(`${prefix}/`)) return base + path.slice(prefix.length);
    return `${base}/`;
  }
  return base + (path === '/' ? '/' : path);
}

/** The browser's path → route path (console form). */
function routePath(pathname) {
  let p = pathname.slice(base.length) || '/';
  if (mode === 'portal') {
    if (p === '/' || p === '') return `/apps/${seg(state.appId)}/endpoints`;
    return `/apps/${seg(state.appId)}${p}`;
  }
  return p;
}

/** navigate goes to a browser path without reloading. */
function navigate(to, { replace: rep = false } = {}) {
  if (rep) history.replaceState(null, '', to); else history.pushState(null, '', to);
  render();
}

// Links inside the app navigate without reloading; modified clicks
// (new tab, …) and links elsewhere keep their default.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target && a.target !== '_self') return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !(url.pathname === base || url.pathname.startsWith(`${base}/`))) return;
  e.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});
window.addEventListener('popstate', () => render());

async function appName(id) {
  if (!state.appCache.has(id)) {
    try {
      state.appCache.set(id, await api('GET', `/v1/apps/${seg(id)}`));
    } catch {
      return id;
    }
  }
  const a = state.appCache.get(id);
  return a.name || a.uid || a.id;
}

function languageSelect() {
  const id = newId('lang');
  const sel = h('select', {
    id,
    onchange: () => {
      try { sessionStorage.setItem('herald.lang', sel.value); } catch { /* blocked */ }
      setLang(sel.value);
      render();
    },
  }, languages.map((l) => h('option', { value: l, selected: l === lang() }, l === 'ja' ? '日本語' : 'English')));
  return h('div', { class: 'lang' }, h('label', { for: id, class: 'visually-hidden' }, t('nav.language')), sel);
}

async function layout(params, routeP) {
  const appId = params.app;
  const inApp = appId !== undefined;
  let brand;
  if (mode === 'portal' && /^https?:\/\//.test(state.theme.logo_url || '')) {
    brand = h('img', { class: 'logo', src: state.theme.logo_url, alt: '' });
  } else {
    brand = h('span', { class: 'brand' }, 'Herald');
  }
  const links = [];
  if (mode === 'console') {
    links.push([href('/'), t('nav.apps'), routeP === '/' || routeP.startsWith('/apps')]);
    links.push([href('/event-types'), t('nav.eventTypes'), routeP.startsWith('/event-types')]);
    if (state.me && state.me.scope === 'admin') links.push([href('/failures'), t('nav.failures'), routeP === '/failures']);
  }
  let appNav = null;
  if (inApp) {
    const a = `/apps/${seg(appId)}`;
    const items = [
      [href(`${a}/endpoints`), t('nav.endpoints'), /\/(endpoints|deliveries)/.test(routeP)],
      [href(`${a}/events`), t('nav.events'), /\/events/.test(routeP)],
    ];
    if (mode === 'console') items.push([href(`${a}/endpoint-templates`), t('nav.templates'), /\/endpoint-templates/.test(routeP)]);
    items.push([href(`${a}/versions`), t('nav.versions'), routeP.endsWith('/versions')]);
    if (mode === 'console') items.push([href(`${a}/failures`), t('nav.failures'), routeP.endsWith('/failures')]);
    if (mode === 'console') items.push([href(`${a}/settings`), t('nav.settings'), routeP.endsWith('/settings')]);
    const name = mode === 'console' ? await appName(appId) : '';
    appNav = h('nav', { class: 'appnav', 'aria-label': t('nav.apps') },
      name ? h('span', { class: 'appname' }, name) : null,
      h('ul', null, items.map(([u, label, cur]) => h('li', null, h('a', { href: u, 'aria-current': cur ? 'page' : null }, label)))));
  }
  const who = state.me;
  const main = h('main', { id: 'main', tabindex: '-1' });
  // The toast region outlives pages, so that "Saved." shown just before
  // a navigation is still read out after it.
  const toasts = document.getElementById('toasts') || h('div', { id: 'toasts', class: 'toasts', 'aria-live': 'polite' });
  const page = h('div', { class: `shell mode-${mode}` },
    h('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); main.focus(); } }, t('nav.skip')),
    h('header', { class: 'topbar' },
      h('a', { class: 'home', href: href(mode === 'portal' ? `/apps/${seg(state.appId)}/endpoints` : '/'), 'aria-label': 'Herald' }, brand),
      links.length ? h('nav', { class: 'mainnav', 'aria-label': t('nav.main') },
        h('ul', null, links.map(([u, label, cur]) => h('li', null, h('a', { href: u, 'aria-current': cur ? 'page' : null }, label))))) : null,
      h('div', { class: 'spacer' }),
      who ? searchBox(inApp ? appId : '') : null,
      who && who.role ? h('span', { class: 'badge badge-role', id: 'portal-role' }, t(`portal.role.${who.role}`))
        : who && who.read_only ? h('span', { class: 'badge badge-readonly' }, t('portal.readOnly')) : null,
      languageSelect(),
      mode === 'console' && who ? h('button', {
        type: 'button', class: 'secondary', onclick: () => { setToken(''); state.me = null; navigate(href('/')); },
      }, t('signIn.out')) : null),
    appNav,
    main,
    toasts);
  replace(root, page);
  root.removeAttribute('aria-busy');
  return main;
}

/** Where a thing found by GET /v1/lookup/{id} is shown. */
function foundPath(l) {
  const a = `/apps/${seg(l.app_id)}`;
  switch (l.kind) {
    case 'app': return `${a}/endpoints`;
    case 'endpoint': return `${a}/endpoints/${seg(l.id)}`;
    case 'event': return `${a}/events/${seg(l.id)}`;
    case 'attempt': return `${a}/deliveries/${seg(l.delivery_id)}`;
    default: return `${a}/deliveries/${seg(l.id)}`;
  }
}

/**
 * The search box of the top bar: any id (event, delivery or its
 * webhook-id, attempt, endpoint, app) or an idempotency key of the
 * current app goes straight to the page of what it names.
 */
function searchBox(appId) {
  const id = newId('search');
  const input = h('input', {
    id, type: 'search', name: 'q', autocomplete: 'off', spellcheck: 'false', maxlength: '512',
    placeholder: t('search.placeholder'),
  });
  const form = h('form', {
    class: 'search',
    role: 'search',
    onsubmit: async (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (!v) return;
      input.disabled = true;
      try {
        const q = mode === 'console' && appId ? `?app=${encodeURIComponent(appId)}` : '';
        const l = await api('GET', `/v1/lookup/${seg(v)}${q}`);
        input.value = '';
        navigate(href(foundPath(l)));
      } catch (err) {
        toast(err.status === 404 ? t('search.nothing', { q: v }) : err.message, 'error');
      } finally {
        input.disabled = false;
      }
    },
  },
  h('label', { for: id, class: 'visually-hidden' }, t('search.label')),
  input,
  // A plain button, not a submit one, so that "the form's submit button"
  // of a page stays the page's own; Enter in the box submits the form.
  h('button', { type: 'button', class: 'secondary', onclick: () => form.requestSubmit() }, t('search.go')));
  return form;
}

function signIn() {
  const input = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
  const form = h('form', {
    class: 'card signin',
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (!v) {
        showErrors(form, { field: 'token', message: t('signIn.required') });
        return;
      }
      try {
        state.me = await api('GET', '/v1/whoami', undefined, { token: v });
        setToken(v);
        // Stay on the page that was asked for.
        render();
      } catch (err) {
        showErrors(form, { field: 'token', message: err.message });
      }
    },
  },
  h('h1', { tabindex: '-1' }, t('signIn.title')),
  h('p', null, t('signIn.intro')),
  field({ label: t('signIn.key'), name: 'token', control: input }),
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('signIn.submit'))));
  replace(root, h('div', { class: 'shell' },
    h('header', { class: 'topbar' }, h('span', { class: 'brand' }, 'Herald'), h('div', { class: 'spacer' }), languageSelect()),
    h('main', { id: 'main', class: 'narrow' }, form)));
  root.removeAttribute('aria-busy');
  input.focus();
}

function portalExpired() {
  replace(root, h('div', { class: 'shell' },
    h('header', { class: 'topbar' }, h('span', { class: 'brand' }, 'Herald'), h('div', { class: 'spacer' }), languageSelect()),
    h('main', { id: 'main', class: 'narrow' },
      h('section', { class: 'card', role: 'alert' }, h('h1', null, t('portal.expiredTitle')), h('p', null, t('portal.expired'))))));
  root.removeAttribute('aria-busy');
}

let renderSeq = 0;
let navigated = false;

/** render shows the page for the current location. */
async function render() {
  const seq = ++renderSeq;
  for (const fn of state.leave.splice(0)) {
    try { fn(); } catch { /* a cleanup must not stop navigation */ }
  }
  if (!token()) {
    if (mode === 'portal') return portalExpired();
    return signIn();
  }
  if (!state.me) {
    try {
      state.me = await api('GET', '/v1/whoami');
    } catch (err) {
      if (seq !== renderSeq) return;
      if (err instanceof ApiError && err.status === 401) return;
      replace(root, errorPanel(err));
      return;
    }
    if (mode === 'portal') state.appId = state.me.app_id;
  }
  const rp = routePath(location.pathname);
  let found = null;
  let params = {};
  for (const r of routes) {
    const p = match(r.path, rp);
    if (p && !(mode === 'portal' && r.portal === false)) { found = r; params = p; break; }
  }
  if (found && found.redirect) {
    navigate(href(found.redirect(params)), { replace: true });
    return;
  }
  const main = await layout(found ? params : {}, rp);
  if (seq !== renderSeq) return;
  const abort = new AbortController();
  state.leave.push(() => abort.abort());
  const ctx = {
    mode,
    params,
    me: state.me,
    app: params.app || state.appId,
    readOnly: !!state.me.read_only,
    // A portal session's role (viewer, developer, admin); '' for keys.
    role: state.me.role || '',
    // secrets: may rotate signing secrets and see other credentials
    // (not read-only callers, nor a developer's portal session), which
    // all but read-only callers may read.
    secrets: !state.me.read_only && (!state.me.role || state.me.role === 'admin'),
    admin: state.me.scope === 'admin',
    href,
    appHref: (rest = '') => href(`/apps/${seg(params.app || state.appId)}${rest}`),
    navigate,
    signal: abort.signal,
    onLeave: (fn) => state.leave.push(fn),
    refresh: () => render(),
    main,
  };
  let node;
  if (!found) {
    node = errorPanel(new ApiError(404, { error: { message: '' } }));
  } else {
    try {
      const page = await found.page();
      node = await page(ctx);
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      node = errorPanel(err);
    }
  }
  if (seq !== renderSeq) return;
  replace(main, node);
  const h1 = main.querySelector('h1');
  document.title = h1 ? `${h1.textContent} · Herald` : 'Herald';
  // Focus follows in-app navigation so that keyboard and screen-reader
  // users land on the new page's heading; a page load keeps the
  // browser's own start, where the first Tab reaches the skip link.
  if (navigated && h1 && document.activeElement && !main.contains(document.activeElement)) h1.focus({ preventScroll: true });
  navigated = true;
  // A link to a part of a page (the failures page's "Recover…" to the
  // endpoint's recovery form) shows that part.
  const target = location.hash.length > 1 ? document.getElementById(location.hash.slice(1)) : null;
  if (target) target.scrollIntoView({ block: 'start' });
}

function boot() {
  let explicit = '';
  try { explicit = sessionStorage.getItem('herald.lang') || ''; } catch { /* blocked */ }
  if (mode === 'portal') {
    state.theme = portalTheme();
    applyTheme(state.theme);
    if (!explicit) explicit = state.theme.language;
    // The link carries its token in the fragment, which never reaches a
    // server or a Referer; it is moved to the tab's storage and removed
    // from the address bar.
    const frag = new URLSearchParams(location.hash.slice(1));
    const tok = frag.get('token');
    if (tok) {
      setToken(tok);
      history.replaceState(null, '', location.pathname + location.search);
    }
  }
  setLang(pickLanguage(explicit));
  whenUnauthorized(() => {
    setToken('');
    state.me = null;
    if (mode === 'portal') portalExpired();
    else signIn();
  });
  render();
}

addStrings({
  en: {
    'signIn.required': 'Paste a key first.',
    'nav.failures': 'Failures',
    'nav.templates': 'Endpoint templates',
    'nav.versions': 'Event versions',
    'search.label': 'Find by id',
    'search.placeholder': 'Any id, webhook-id or key',
    'search.go': 'Find',
    'search.nothing': 'Nothing found for “{q}”.',
  },
  ja: {
    'signIn.required': 'キーを貼り付けてください。',
    'nav.failures': '失敗',
    'nav.templates': 'エンドポイントテンプレート',
    'nav.versions': 'イベントのバージョン',
    'search.label': 'ID で探す',
    'search.placeholder': 'ID・webhook-id・キー',
    'search.go': '検索',
    'search.nothing': '「{q}」に該当するものはありません。',
  },
});
boot();
