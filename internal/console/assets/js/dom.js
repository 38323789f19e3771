// DOM helpers. Everything on screen is built with h(), which only ever
// creates text nodes from strings: no HTML string from the API (payloads,
// response bodies, names) can become markup.

import { addStrings, t, lang } from './i18n.js';

let uid = 0;

/** A fresh id for label/aria wiring. */
export function newId(prefix = 'h') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * h(tag, attrs, ...children) builds an element. attrs: "class", "text",
 * on<event> functions, "dataset" object, booleans (true sets, false
 * omits), anything else as an attribute. Children: nodes, strings,
 * numbers, arrays, null/undefined/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        el.addEventListener(k.slice(2).toLowerCase(), v);
      } else if (k === 'class') {
        el.className = v;
      } else if (k === 'text') {
        el.textContent = String(v);
      } else if (k === 'dataset') {
        Object.assign(el.dataset, v);
      } else if (k === 'value' && 'value' in el) {
        el.value = v;
      } else if (k === 'checked' || k === 'selected') {
        el[k] = !!v;
      } else if (v === true) {
        el.setAttribute(k, '');
      } else {
        el.setAttribute(k, String(v));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces el's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * field() is one labelled form control with the slot where the API's
 * error about it is shown. name is the API's field name: showErrors()
 * finds the field by it.
 */
export function field({ label, name, control, hint }) {
  // A control that knows its own format (dateTimeInput) brings its hint.
  if (!hint && control.dataset && control.dataset.hint) hint = control.dataset.hint;
  const id = control.id || newId('f');
  control.id = id;
  if (name && !control.name) control.name = name;
  const errId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.setAttribute('aria-describedby', [hintId, errId].filter(Boolean).join(' '));
  const isCheck = control.type === 'checkbox';
  const lab = h('label', { for: id }, label);
  return h('div', { class: isCheck ? 'field field-check' : 'field', dataset: { field: name || '' } },
    isCheck ? [control, lab] : [lab, control],
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: errId, 'aria-live': 'polite' }));
}

/** Removes the errors shown in a form. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const box = form.querySelector('.form-error');
  if (box) { box.textContent = ''; box.hidden = true; }
}

/**
 * showErrors puts an API error next to the field it names (the longest
 * data-field that is the error's field or a prefix of it, so that
 * "headers.X-Token" lands on "headers"), focuses that field, and puts
 * errors without a field in the form's error box. prefix is stripped from
 * the error's field first ("endpoint." for previews).
 */
export function showErrors(form, err, prefix = '') {
  clearErrors(form);
  let name = err.field || '';
  if (prefix && name.startsWith(prefix)) name = name.slice(prefix.length);
  let best = null;
  if (name) {
    for (const f of form.querySelectorAll('[data-field]')) {
      const n = f.dataset.field;
      if (!n) continue;
      if ((name === n || name.startsWith(`${n}.`) || name.startsWith(`${n}[`)) && (!best || n.length > best.dataset.field.length)) best = f;
    }
  }
  if (best) {
    const msg = best.querySelector('.field-error');
    msg.textContent = err.message;
    const control = best.querySelector('input, select, textarea');
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.focus();
    }
    return;
  }
  let box = form.querySelector('.form-error');
  if (!box) {
    box = h('p', { class: 'form-error', role: 'alert' });
    form.prepend(box);
  }
  box.hidden = false;
  box.textContent = err.message || String(err);
}

const pad2 = (n) => String(n).padStart(2, '0');

/**
 * The date-time pattern of the page's language, for display and typing:
 * the order a reader of that language expects, with a 24-hour clock.
 */
export function dateTimePattern() {
  return lang() === 'ja' ? 'YYYY/MM/DD HH:mm' : 'YYYY-MM-DD HH:mm';
}

/**
 * formatDateTime writes a Date in the page's language's pattern, in the
 * browser's time zone (ja: 2026/12/04 17:05); seconds adds ":ss".
 */
export function formatDateTime(d, { seconds = false } = {}) {
  const sep = lang() === 'ja' ? '/' : '-';
  const s = `${d.getFullYear()}${sep}${pad2(d.getMonth() + 1)}${sep}${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  return seconds ? `${s}:${pad2(d.getSeconds())}` : s;
}

/**
 * parseDateTime reads a typed date-time in the browser's time zone:
 * YYYY/MM/DD or YYYY-MM-DD, then optionally HH:mm or HH:mm:ss (a date
 * alone is its midnight). It returns a Date, or null for text that is not
 * a real date.
 */
export function parseDateTime(text) {
  const m = /^\s*(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$/.exec(String(text || '')
    .replace(/[０-９／：－]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).replace(/\u3000/g, ' '));
  if (!m) return null;
  const [y, mo, d, hh, mi, ss] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mi > 59 || ss > 59) return null;
  const out = new Date(y, mo - 1, d, hh, mi, ss);
  // 2026/02/31 would roll over to March: not a date.
  if (out.getFullYear() !== y || out.getMonth() !== mo - 1 || out.getDate() !== d) return null;
  return out;
}

/** An RFC 3339 UTC time for a Date, without fractional seconds. */
export function rfc3339(d) {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * dateTimeInput is a text input for a date and time that the page
 * formats and parses itself in its own language (a browser's
 * datetime-local shows the browser's locale, not the page's). Its rfc3339
 * property reads the typed time as RFC 3339 ('' when empty, null when it
 * cannot be read); field() shows the expected pattern as its hint.
 */
export function dateTimeInput(value, attrs = {}) {
  const d = value instanceof Date ? value : value ? new Date(value) : null;
  const input = h('input', {
    type: 'text',
    inputmode: 'numeric',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: dateTimePattern(),
    value: d && !Number.isNaN(d.getTime()) ? formatDateTime(d, { seconds: !!d.getSeconds() }) : '',
    dataset: { datetime: '', hint: t('date.hint', { pattern: dateTimePattern() }) },
    ...attrs,
  });
  Object.defineProperty(input, 'rfc3339', {
    get() {
      if (!input.value.trim()) return '';
      const p = parseDateTime(input.value);
      return p ? rfc3339(p) : null;
    },
  });
  return input;
}

/** The message for a date-time that cannot be read. */
export function badDateTime() {
  return t('date.invalid', { pattern: dateTimePattern() });
}

/** A time from the API, shown in the browser's time zone and the page's language. */
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return formatDateTime(d, { seconds: true });
}

/** A <time> element for an API time. */
export function timeEl(iso) {
  if (!iso) return h('span', null, '—');
  return h('time', { datetime: iso, title: iso }, fmtTime(iso));
}

/** JSON pretty-printed for reading; non-JSON text is returned as is. */
export function pretty(value) {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') {
    try { return JSON.stringify(JSON.parse(value), null, 2); } catch { return value; }
  }
  return JSON.stringify(value, null, 2);
}

/** A block of code (JSON, bodies, headers) that keeps its spacing. */
export function codeBlock(text, label) {
  return h('pre', { class: 'code', tabindex: '0', 'aria-label': label || null }, h('code', null, text));
}

/** Headers as "Name: value" lines. */
export function headerLines(headers) {
  if (!headers) return '';
  return Object.entries(headers).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`).join('\n');
}

/** A status badge: succeeded, failed, pending, enabled, disabled. */
export function badge(state, text) {
  return h('span', { class: `badge badge-${state}` }, text || t(`state.${state}`));
}

/**
 * toast shows a short message in the page's live region, read out by
 * screen readers, and hides it after a while.
 */
export function toast(message, kind = 'ok') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  region.appendChild(el);
  setTimeout(() => el.remove(), 6000);
}

/**
 * confirmDialog asks a yes/no question in a modal <dialog> and resolves
 * to true when confirmed. The dialog traps focus (native modal) and Esc
 * cancels it.
 */
export function confirmDialog(message, confirmLabel, danger = false) {
  return new Promise((resolve) => {
    const titleId = newId('dlg');
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('p', { id: titleId }, message),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close('cancel') }, t('action.cancel')),
        h('button', { type: 'button', class: danger ? 'danger' : 'primary', onclick: () => dlg.close('ok') }, confirmLabel)));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(dlg.returnValue === 'ok'); });
    document.body.appendChild(dlg);
    dlg.showModal();
  });
}

/** A page heading with optional actions on the right. */
export function pageHeader(title, ...actions) {
  return h('header', { class: 'page-header' }, h('h1', { tabindex: '-1' }, title), actions.length ? h('div', { class: 'actions' }, actions) : null);
}

/** An empty-list message. */
export function empty(text) {
  return h('p', { class: 'empty' }, text);
}

/**
 * pager renders a "Next page" / "First page" pair for the API's cursor
 * pagination. load(cursor) is called with the cursor to show.
 */
export function pager(page, cursor, load) {
  const next = page.next_cursor;
  if (!next && !cursor) return null;
  return h('nav', { class: 'pager', 'aria-label': t('pager.label') },
    cursor ? h('button', { type: 'button', class: 'secondary', onclick: () => load('') }, t('pager.first')) : null,
    next ? h('button', { type: 'button', class: 'secondary', onclick: () => load(next) }, t('pager.next')) : null);
}

/**
 * A tablist-like nav of links between an object's sub-pages; the current
 * one carries aria-current.
 */
export function subnav(items, current) {
  return h('nav', { class: 'subnav', 'aria-label': t('nav.sections') },
    h('ul', null, items.map(([href, label]) => h('li', null,
      h('a', { href, 'aria-current': href === current ? 'page' : null }, label)))));
}

/**
 * The error shown in place of a page that could not load. A missing
 * app, endpoint, event, delivery… gets a not-found page that says which,
 * with a way back (the list it would be in, and the start page).
 */
export function errorPanel(err) {
  if (err && err.status === 404) {
    const kind = err.kind || '';
    const portal = location.pathname === '/portal' || location.pathname.startsWith('/portal/');
    const home = portal ? '/portal/' : '/console/';
    const up = wayUp(kind, portal);
    return h('section', { class: 'not-found' },
      h('h1', { tabindex: '-1' }, kind ? capitalize(t('notFound.thing', { thing: t(`error.thing.${kind}`) })) : t('notFound.title')),
      h('p', null, kind ? t('notFound.thingText', { thing: t(`error.thing.${kind}`) }) : t('notFound.text')),
      h('p', { class: 'actions' },
        up ? h('a', { class: 'button', href: up[0] }, up[1]) : null,
        h('a', { class: 'button', href: home }, t('notFound.home'))));
  }
  return h('section', { class: 'error-panel', role: 'alert' },
    h('h1', { tabindex: '-1' }, t('error.title')),
    h('p', null, err && err.message ? err.message : String(err)));
}

/**
 * wayUp is the list a missing thing would be found in, as [href, text],
 * or null: a link within the app (a browser's Back could leave it, e.g.
 * in the product page that frames the portal).
 */
function wayUp(kind, portal) {
  const m = /^\/console\/apps\/([^/]+)\//.exec(location.pathname);
  const app = portal ? '/portal' : m ? `/console/apps/${m[1]}` : '';
  if (app && (kind === 'endpoint' || kind === 'delivery')) return [`${app}/endpoints`, t('notFound.toEndpoints')];
  if (app && kind === 'event') return [`${app}/events`, t('notFound.toEvents')];
  if (!portal && app && kind === 'endpoint_template') return [`${app}/endpoint-templates`, t('notFound.toTemplates')];
  if (!portal && kind === 'event_type') return ['/console/event-types', t('notFound.toEventTypes')];
  return null;
}

function capitalize(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

addStrings({
  en: {
    'date.hint': '{pattern}, 24-hour',
    'date.invalid': 'Write the date and time as {pattern} (24-hour).',
    'notFound.thing': '{thing} not found',
    'notFound.thingText': 'This {thing} does not exist (any more), or it belongs to somebody else. Check the link, or go on from a page below.',
    'notFound.toEndpoints': 'Endpoints',
    'notFound.toEvents': 'Events',
    'notFound.toEventTypes': 'Event types',
    'notFound.toTemplates': 'Endpoint templates',
    'notFound.home': 'Start page',
  },
  ja: {
    'date.hint': '{pattern}（24 時間制）',
    'date.invalid': '日時は {pattern} の形式（24 時間制）で入力してください。',
    'notFound.thing': '{thing}が見つかりません',
    'notFound.thingText': 'この{thing}は存在しない（削除された）か、別の利用者のものです。リンクを確かめるか、下のページから探してください。',
    'notFound.toEndpoints': 'エンドポイント一覧',
    'notFound.toEvents': 'イベント一覧',
    'notFound.toEventTypes': 'イベントタイプ一覧',
    'notFound.toTemplates': 'エンドポイントテンプレート一覧',
    'notFound.home': 'トップページ',
  },
});

addStrings({
  en: {
    'copy.copy': 'Copy',
    'copy.copied': 'Copied',
    'copy.copiedToast': 'Copied to the clipboard.',
    'copy.refused': 'The browser did not allow copying: the text is selected below, press Ctrl+C (⌘C on a Mac).',
    'copy.fallbackLabel': 'Text to copy',
  },
  ja: {
    'copy.copy': 'コピー',
    'copy.copied': 'コピーしました',
    'copy.copiedToast': 'クリップボードにコピーしました。',
    'copy.refused': 'ブラウザーがコピーを許可しませんでした。下のテキストを選択済みです。Ctrl+C（Mac では ⌘C）でコピーしてください。',
    'copy.fallbackLabel': 'コピーするテキスト',
  },
});

/**
 * copyButton copies text() to the clipboard when pressed and says so on
 * the button and in a toast. When the clipboard is refused (no
 * permission, an insecure origin), the text appears selected in a
 * read-only box under the button, for Ctrl+C.
 */
export function copyButton(text, label, { id = null, text: caption = '' } = {}) {
  const wrap = h('span', { class: 'copy' });
  const btn = h('button', {
    type: 'button',
    class: 'secondary copy-button',
    // The visible words start the accessible name, so voice control finds it.
    'aria-label': label ? `${caption || t('copy.copy')}: ${label}` : null,
    id,
    onclick: async () => {
      const value = typeof text === 'function' ? await text() : text;
      wrap.querySelector('.copy-fallback')?.remove();
      try {
        if (!navigator.clipboard) throw new Error('no clipboard');
        await navigator.clipboard.writeText(value);
        btn.textContent = t('copy.copied');
        toast(t('copy.copiedToast'));
        setTimeout(() => { btn.textContent = caption || t('copy.copy'); }, 2000);
      } catch {
        const box = h('textarea', { class: 'copy-fallback code', readonly: true, rows: 4, 'aria-label': t('copy.fallbackLabel') });
        box.value = value;
        wrap.append(h('span', { class: 'copy-fallback' }, h('span', { class: 'hint', role: 'status' }, t('copy.refused')), box));
        box.focus();
        box.select();
      }
    },
  }, caption || t('copy.copy'));
  wrap.prepend(btn);
  return wrap;
}

/**
 * shellQuote quotes a string for a POSIX shell so that it survives any
 * byte: plain 'single quotes' when it holds no quote and no control
 * character, else bash's $'…' with quotes, backslashes and control bytes
 * as escapes (\xHH) and the rest as is (bash, zsh and ksh read it).
 */
export function shellQuote(str) {
  if (!/[\x00-\x1f\x7f']/.test(str)) return `'${str}'`;
  let out = "$'";
  for (const ch of str) {
    const c = ch.codePointAt(0);
    if (ch === "'" || ch === '\\') out += `\\${ch}`;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}'`;
}

/** The value history and previews show in place of a secret one. */
export const MASKED = '********';

/**
 * curlCommand writes a request as a curl command line: method, URL,
 * every header as given (masked values as …) and the body byte for byte
 * through --data-binary. curl's own Accept, User-Agent and Content-Type
 * are switched off when the request had none, so the receiver sees the
 * headers that were sent and no others but Host and Content-Length.
 */
export function curlCommand(req) {
  const headers = req.headers || {};
  const names = Object.keys(headers).map((k) => k.toLowerCase());
  const parts = ['curl -sS', `-X ${shellQuote(req.method || 'POST')}`];
  for (const [k, v] of Object.entries(headers)) {
    if (/^(content-length|host)$/i.test(k)) continue;
    const value = (Array.isArray(v) ? v.join(', ') : String(v)).split(MASKED).join('…');
    parts.push(`-H ${shellQuote(`${k}: ${value}`)}`);
  }
  for (const own of ['Accept', 'User-Agent', 'Content-Type']) {
    if (!names.includes(own.toLowerCase())) parts.push(`-H ${shellQuote(`${own}:`)}`);
  }
  if (req.body) parts.push(`--data-binary ${shellQuote(req.body)}`);
  parts.push(shellQuote(req.url || ''));
  return parts.join(' \\\n  ');
}
