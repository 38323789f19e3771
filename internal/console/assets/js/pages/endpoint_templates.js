// An app's endpoint templates: a request (URL, method, headers, body
// template or preset) defined once and referenced by several endpoints.
// A change to a template changes every endpoint that references it, so the
// form previews what a change does (which endpoints, and one request
// before and after) before it is saved. The request fields are the
// endpoint form's, with its controls and readers.

import { api, errorText, query, seg } from '../api.js';
import { addStrings, t } from '../i18n.js';
import {
  h, field, showErrors, clearErrors, pageHeader, empty, timeEl, toast, confirmDialog, replace, codeBlock, headerLines, pretty,
} from '../dom.js';
import { endpointLabel, appEndpoints } from './endpoints.js';
import {
  PRESETS, METHODS, CONTENT_TYPES, requestShapeFields, select, parseHeaders, parseOptions, optionsText, presetOptionsHint,
  templateToText, textToTemplate,
} from './endpoint_form.js';

addStrings({
  en: {
    'tpl.title': 'Endpoint templates',
    'tpl.intro': 'A request defined once and used by several endpoints. An endpoint that references a template takes its URL and request from it, except the fields it sets itself; a change to the template changes every endpoint that uses it.',
    'tpl.new': 'New endpoint template',
    'tpl.none': 'This app has no endpoint templates yet. Create one to define a request once and attach it to several endpoints in their forms.',
    'tpl.name': 'Name',
    'tpl.nameHint': 'For people: what the request is, such as "Chatwork room of the sales team".',
    'tpl.description': 'Description',
    'tpl.urlHint': 'Optional: left empty, each endpoint sets its own. It may hold tags such as {{lead.id}}.',
    'tpl.endpoints': 'Endpoints using it',
    'tpl.updated': 'Updated',
    'tpl.newTitle': 'New endpoint template',
    'tpl.users': 'Endpoints using this template',
    'tpl.usersNone': 'No endpoint uses this template yet: pick it in an endpoint\'s form.',
    'tpl.usersError': 'The endpoints using this template could not be listed: {message}',
    'tpl.changeHint': 'Saving changes every endpoint that uses this template, each keeping the fields it sets itself. Preview the change first to see which endpoints it changes, and how.',
    'tpl.previewButton': 'Preview changes',
    'tpl.previewTitle': 'What this change does',
    'tpl.previewEmpty': 'Change the form, then press "Preview changes" to see which endpoints would send a new request, and one request before and after. Nothing is saved.',
    'tpl.previewNothing': 'No endpoint\'s request changes with this.',
    'tpl.previewAffected': 'Endpoints whose request changes ({n}):',
    'tpl.previewOne': 'The request of {endpoint} for {type}, with the type\'s sample payload:',
    'tpl.previewNoSample': 'No request to show: the endpoint subscribes to no single event type whose sample can be rendered.',
    'tpl.previewStale': 'The form changed since this preview: preview again to see what it does now.',
    'tpl.previewLoading': 'Previewing…',
    'tpl.before': 'Before',
    'tpl.after': 'After',
    'tpl.requestLine': 'Request line',
    'tpl.headers': 'Headers',
    'tpl.body': 'Body',
    'tpl.noBody': '(no body)',
    'tpl.created': 'Endpoint template created.',
    'tpl.savedN': 'Saved: {n} endpoints changed with it.',
    'tpl.danger': 'Delete this template',
    'tpl.deleteConfirm': 'Delete the endpoint template "{name}"?',
    'tpl.inUse': 'This template cannot be deleted while endpoints use it. Detach each of them first (in its form, choose no endpoint template; it keeps the values in force):',
    'tpl.back': 'All endpoint templates',
    'tpl.noChanges': 'Nothing changed.',
  },
  ja: {
    'tpl.title': 'エンドポイントテンプレート',
    'tpl.intro': '一度定義して複数のエンドポイントで使うリクエストです。テンプレートを参照するエンドポイントは、自分で設定した項目を除き、URL とリクエストをテンプレートから受け継ぎます。テンプレートを変更すると、それを使うすべてのエンドポイントが変わります。',
    'tpl.new': '新しいエンドポイントテンプレート',
    'tpl.none': 'このアプリにはエンドポイントテンプレートがまだありません。リクエストを一度定義し、各エンドポイントのフォームで複数のエンドポイントに設定できます。',
    'tpl.name': '名前',
    'tpl.nameHint': '人が読むための名前です。例：「営業チームの Chatwork ルーム」。',
    'tpl.description': '説明',
    'tpl.urlHint': '任意。空欄なら各エンドポイントが自分で設定します。{{lead.id}} のようなタグも使えます。',
    'tpl.endpoints': '使用中のエンドポイント',
    'tpl.updated': '更新日時',
    'tpl.newTitle': '新しいエンドポイントテンプレート',
    'tpl.users': 'このテンプレートを使うエンドポイント',
    'tpl.usersNone': 'このテンプレートを使うエンドポイントはまだありません。エンドポイントのフォームで選んでください。',
    'tpl.usersError': 'このテンプレートを使うエンドポイントを一覧にできませんでした：{message}',
    'tpl.changeHint': '保存すると、このテンプレートを使うすべてのエンドポイントが変わります（各エンドポイントが自分で設定した項目はそのままです）。先に変更をプレビューして、どのエンドポイントがどう変わるかを確かめてください。',
    'tpl.previewButton': '変更をプレビュー',
    'tpl.previewTitle': 'この変更の影響',
    'tpl.previewEmpty': 'フォームを変更してから「変更をプレビュー」を押すと、リクエストが変わるエンドポイントと、1 件のリクエストの変更前・変更後が表示されます。保存はされません。',
    'tpl.previewNothing': 'この変更でリクエストが変わるエンドポイントはありません。',
    'tpl.previewAffected': 'リクエストが変わるエンドポイント（{n} 件）：',
    'tpl.previewOne': '{endpoint} が {type} のサンプルのペイロードで送るリクエスト：',
    'tpl.previewNoSample': '表示できるリクエストはありません。このエンドポイントは、サンプルを展開できる個別のイベントタイプを購読していません。',
    'tpl.previewStale': 'プレビューの後にフォームが変更されました。今の内容の影響を見るには、もう一度プレビューしてください。',
    'tpl.previewLoading': 'プレビュー中…',
    'tpl.before': '変更前',
    'tpl.after': '変更後',
    'tpl.requestLine': 'リクエスト行',
    'tpl.headers': 'ヘッダー',
    'tpl.body': 'ボディ',
    'tpl.noBody': '（ボディなし）',
    'tpl.created': 'エンドポイントテンプレートを作成しました。',
    'tpl.savedN': '保存しました。{n} 件のエンドポイントが変更されました。',
    'tpl.danger': 'このテンプレートを削除',
    'tpl.deleteConfirm': 'エンドポイントテンプレート「{name}」を削除しますか？',
    'tpl.inUse': 'エンドポイントが使っている間は、このテンプレートを削除できません。先に各エンドポイントから外してください（フォームで「テンプレートなし」を選びます。現在の値はそのまま残ります）：',
    'tpl.back': 'エンドポイントテンプレート一覧',
    'tpl.noChanges': '変更はありません。',
  },
});


/** The app's templates: at most 100, so one page. */
async function templates(ctx) {
  const page = await api('GET', `/v1/apps/${seg(ctx.app)}/endpoint-templates${query({ limit: 100 })}`, undefined, { signal: ctx.signal });
  return page.data;
}

/** The list of the app's templates, each with how many endpoints use it. */
export async function list(ctx) {
  const [tpls, eps] = await Promise.all([templates(ctx), appEndpoints(ctx).catch((err) => {
    if (err.name === 'AbortError') throw err;
    return null;
  })]);
  const uses = new Map();
  for (const ep of eps || []) {
    if (ep.endpoint_template_id) uses.set(ep.endpoint_template_id, (uses.get(ep.endpoint_template_id) || 0) + 1);
  }
  const body = tpls.length === 0 ? empty(t('tpl.none')) : h('div', { class: 'table-wrap' },
    h('table', { id: 'templates-table' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('tpl.name')),
        h('th', { scope: 'col' }, t('epf.url')),
        h('th', { scope: 'col' }, t('epf.preset')),
        h('th', { scope: 'col', class: 'num' }, t('tpl.endpoints')),
        h('th', { scope: 'col' }, t('tpl.updated')))),
      h('tbody', null, tpls.map((tp) => h('tr', { dataset: { template: tp.id } },
        h('td', null, h('a', { href: ctx.appHref(`/endpoint-templates/${seg(tp.id)}`) }, tp.name),
          h('div', { class: 'mono muted' }, tp.id)),
        h('td', { class: 'mono' }, tp.url || '—'),
        h('td', null, tp.preset ? (PRESETS[tp.preset] ? PRESETS[tp.preset].label : tp.preset) : '—'),
        h('td', { class: 'num template-uses' }, eps ? String(uses.get(tp.id) || 0) : '—'),
        h('td', null, timeEl(tp.updated_at)))))));
  return h('section', null,
    pageHeader(t('tpl.title'), ctx.readOnly ? null : h('a', { class: 'button primary', href: ctx.appHref('/endpoint-templates/new') }, t('tpl.new'))),
    h('p', { class: 'hint' }, t('tpl.intro')),
    body);
}

/** One request (a preview's before or after) as request line, headers and body. */
function requestView(out, title) {
  if (!out) return null;
  const hdrs = Object.fromEntries(Object.entries(out.headers || {}).sort(([a], [b]) => a.localeCompare(b)));
  return h('div', { class: 'template-request' },
    h('h3', null, title),
    codeBlock(`${out.method} ${out.url}`, `${title}: ${t('tpl.requestLine')}`),
    codeBlock(headerLines(hdrs), `${title}: ${t('tpl.headers')}`),
    out.body ? codeBlock(pretty(out.body), `${title}: ${t('tpl.body')}`) : h('p', { class: 'muted' }, t('tpl.noBody')));
}

/**
 * The template's page: /endpoint-templates/new creates one;
 * /endpoint-templates/:id shows it with the endpoints using it, and
 * changes it after a preview of what the change does, or deletes it.
 */
export async function form(ctx) {
  const editing = ctx.params.id !== undefined;
  const base = `/v1/apps/${seg(ctx.app)}/endpoint-templates`;
  const [tp, eps] = await Promise.all([
    editing ? api('GET', `${base}/${seg(ctx.params.id)}`, undefined, { signal: ctx.signal }) : Promise.resolve({}),
    editing ? appEndpoints(ctx).catch((err) => {
      if (err.name === 'AbortError') throw err;
      return err;
    }) : Promise.resolve([]),
  ]);
  const usersError = eps instanceof Error ? eps : null;
  const users = usersError ? [] : eps.filter((ep) => ep.endpoint_template_id === tp.id);
  const byId = new Map(users.map((ep) => [ep.id, ep]));
  const epLink = (id) => h('a', { class: 'mono', href: ctx.appHref(`/endpoints/${seg(id)}`) }, byId.has(id) ? endpointLabel(byId.get(id)) : id);

  const c = {
    name: h('input', { type: 'text', value: tp.name || '', required: true, autocomplete: 'off' }),
    description: h('input', { type: 'text', value: tp.description || '', autocomplete: 'off' }),
    url: h('input', { type: 'url', value: tp.url || '', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://' }),
    preset: select([['', t('epf.presetNone')], ...Object.entries(PRESETS).map(([k, p]) => [k, p.label])], tp.preset || ''),
    preset_options: h('textarea', { rows: '4', class: 'short', spellcheck: 'false' }),
    method: select([['', t('epf.defaultMethod')], ...METHODS.map((m) => [m, m])], tp.method || ''),
    content_type: select([['', t('epf.defaultContentType')], ...CONTENT_TYPES.map((x) => [x, x])], tp.content_type || ''),
    headers: h('textarea', { rows: '4', class: 'short', spellcheck: 'false', placeholder: 'X-Source: herald' }),
    plain_headers: h('input', { type: 'text', value: (tp.plain_headers || []).join(', '), autocomplete: 'off', spellcheck: 'false', placeholder: 'X-Source' }),
    body_template: h('textarea', { rows: '8', spellcheck: 'false', placeholder: '{"text": "New lead: {{name}}"}' }),
    template_syntax: select([['', t('epf.appDefault')], ['braces', t('epf.syntaxBraces')], ['hash', t('epf.syntaxHash')]], tp.template_syntax || ''),
    payload_format: select([['', t('epf.appDefault')], ['standard', t('epf.formatStandard')], ['raw', t('epf.formatRaw')], ['flat', t('epf.formatFlat')]], tp.payload_format || ''),
    template_strict: h('input', { type: 'checkbox', checked: !!tp.template_strict }),
  };
  c.preset_options.value = optionsText(tp.preset_options);
  c.headers.value = headerLines(Object.fromEntries(Object.entries(tp.headers || {}).sort(([a], [b]) => a.localeCompare(b))));
  c.body_template.value = templateToText(tp.body_template);

  const presetHint = h('span');
  const presetDoc = h('span');
  const optionsField = field({ label: t('epf.presetOptions'), name: 'preset_options', control: c.preset_options, hint: presetHint });
  const presetField = field({ label: t('epf.preset'), name: 'preset', control: c.preset, hint: presetDoc });
  const showPreset = () => {
    const p = PRESETS[c.preset.value];
    optionsField.hidden = !p;
    presetDoc.textContent = p ? t(`epf.preset.${c.preset.value}`) : '';
    if (presetDoc.parentElement) presetDoc.parentElement.hidden = !p;
    presetHint.textContent = presetOptionsHint(p);
  };
  c.preset.addEventListener('change', showPreset);

  /** The form as a template input; error: the first thing that cannot be read. */
  const collect = () => {
    let error = null;
    const fail = (name, message) => { if (!error) error = { field: name, message }; };
    const out = {
      name: c.name.value.trim(),
      description: c.description.value,
      url: c.url.value.trim(),
      preset: c.preset.value,
      method: c.method.value,
      content_type: c.content_type.value,
      plain_headers: c.plain_headers.value.split(',').map((x) => x.trim()).filter(Boolean),
      template_syntax: c.template_syntax.value,
      payload_format: c.payload_format.value,
      template_strict: c.template_strict.checked,
    };
    if (out.preset) {
      const o = parseOptions(c.preset_options.value);
      if (o.error) fail('preset_options', o.error); else out.preset_options = o.value;
    } else {
      out.preset_options = {};
    }
    // A template needs a name: said before asking, as the API would.
    if (!out.name) fail('name', errorText(422, 'required', 'name', ''));
    const hd = parseHeaders(c.headers.value);
    if (hd.error) fail('headers', hd.error); else out.headers = hd.value;
    const bt = textToTemplate(c.body_template.value);
    if (bt.error) fail('body_template', bt.error); else out.body_template = bt.value;
    return { input: out, error };
  };
  // What the form held when it was filled: a change sends only what
  // differs, and headers and preset options (shown masked) only when
  // their text was edited, a masked value sent back keeping the stored one.
  const initial = collect().input;
  const initialText = { headers: c.headers.value, preset_options: c.preset_options.value };
  const changes = (input) => {
    const out = {};
    for (const [k, v] of Object.entries(input)) {
      if (k === 'headers' || k === 'preset_options') continue;
      if (JSON.stringify(v) !== JSON.stringify(initial[k])) out[k] = v;
    }
    if (c.headers.value !== initialText.headers && input.headers) out.headers = input.headers;
    if ((c.preset_options.value !== initialText.preset_options || input.preset !== initial.preset) && input.preset_options) {
      out.preset_options = input.preset_options;
    }
    return out;
  };

  // ----- the preview of a change -----
  const previewState = h('p', { class: 'muted preview-state', role: 'status' }, editing ? t('tpl.previewEmpty') : '');
  const previewBody = h('div', { class: 'preview-body' });
  let previewed = null; // the input the preview shows
  const preview = async () => {
    clearErrors(frm);
    const { input, error } = collect();
    if (error) { showErrors(frm, error); return; }
    const body = changes(input);
    previewButton.disabled = true;
    previewState.textContent = t('tpl.previewLoading');
    try {
      const out = await api('POST', `${base}/${seg(tp.id)}/preview-change`, body, { signal: ctx.signal });
      previewed = JSON.stringify(body);
      previewBody.classList.remove('stale');
      previewState.textContent = '';
      const ids = out.endpoints || [];
      const p = out.preview;
      replace(previewBody,
        ids.length === 0 ? h('p', { class: 'preview-nothing' }, t('tpl.previewNothing')) : [
          h('p', null, t('tpl.previewAffected', { n: ids.length })),
          h('ul', { class: 'plain-list preview-endpoints' }, ids.map((id) => h('li', null, epLink(id)))),
          p && p.before && p.after ? [
            h('p', null, t('tpl.previewOne', { endpoint: byId.has(p.endpoint_id) ? endpointLabel(byId.get(p.endpoint_id)) : p.endpoint_id, type: p.event_type })),
            h('div', { class: 'grid-2 tight preview-sides' },
              h('div', { class: 'preview-before' }, requestView(p.before, t('tpl.before'))),
              h('div', { class: 'preview-after' }, requestView(p.after, t('tpl.after')))),
          ] : h('p', { class: 'muted' }, t('tpl.previewNoSample')),
        ]);
    } catch (err) {
      if (err.name === 'AbortError') return;
      previewState.textContent = '';
      showErrors(frm, err);
    } finally {
      previewButton.disabled = false;
    }
  };
  const previewButton = h('button', { type: 'button', class: 'secondary', id: 'template-preview-button', onclick: preview }, t('tpl.previewButton'));
  const previewSection = editing ? h('section', { id: 'template-preview', class: 'card preview', 'aria-live': 'polite', 'aria-labelledby': 'template-preview-title' },
    h('h2', { id: 'template-preview-title' }, t('tpl.previewTitle')),
    previewState,
    previewBody) : null;

  // ----- the form -----
  const save = ctx.readOnly ? null : h('button', { type: 'submit', class: 'primary' }, editing ? t('action.save') : t('action.create'));
  const listHref = ctx.appHref('/endpoint-templates');
  const frm = h('form', {
    id: 'template-form',
    class: 'card',
    novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      if (ctx.readOnly) return;
      clearErrors(frm);
      const { input, error } = collect();
      if (error) { showErrors(frm, error); return; }
      const body = editing ? changes(input) : input;
      if (editing && Object.keys(body).length === 0) {
        toast(t('tpl.noChanges'));
        return;
      }
      save.disabled = true;
      try {
        if (editing) {
          // The dry run first, so that the toast can say how many
          // endpoints the change reached.
          const dry = await api('POST', `${base}/${seg(tp.id)}/preview-change`, body, { signal: ctx.signal });
          await api('PATCH', `${base}/${seg(tp.id)}`, body, { signal: ctx.signal });
          toast(t('tpl.savedN', { n: (dry.endpoints || []).length }));
          ctx.refresh();
        } else {
          const out = await api('POST', base, body, { signal: ctx.signal });
          toast(t('tpl.created'));
          ctx.navigate(ctx.appHref(`/endpoint-templates/${seg(out.id)}`));
        }
      } catch (err) {
        if (err.name === 'AbortError') return;
        showErrors(frm, err);
      } finally {
        save.disabled = false;
      }
    },
  },
  h('fieldset', { class: 'bare', disabled: ctx.readOnly },
    field({ label: t('tpl.name'), name: 'name', control: c.name, hint: t('tpl.nameHint') }),
    field({ label: t('tpl.description'), name: 'description', control: c.description }),
    field({ label: t('epf.url'), name: 'url', control: c.url, hint: t('tpl.urlHint') }),
    presetField,
    optionsField,
    ...requestShapeFields(c, field({ label: t('epf.method'), name: 'method', control: c.method })),
    field({ label: t('epf.strict'), name: 'template_strict', control: c.template_strict })),
  editing && !ctx.readOnly ? h('p', { class: 'hint' }, t('tpl.changeHint')) : null,
  h('div', { class: 'actions' }, editing && !ctx.readOnly ? previewButton : null, save,
    h('a', { class: 'button', href: listHref }, ctx.readOnly ? t('action.back') : t('action.cancel'))));
  showPreset();
  // A preview of other settings than the form's now is marked stale.
  frm.addEventListener('input', () => {
    if (previewed === null) return;
    const { input, error } = collect();
    const stale = !!error || JSON.stringify(changes(input)) !== previewed;
    previewBody.classList.toggle('stale', stale);
    previewState.textContent = stale ? t('tpl.previewStale') : '';
  });

  if (!editing) {
    return h('section', { class: 'template-page' }, pageHeader(t('tpl.newTitle')), h('p', { class: 'hint' }, t('tpl.intro')), frm);
  }

  const usersBox = h('section', { class: 'card', id: 'template-users', 'aria-labelledby': 'template-users-title' },
    h('h2', { id: 'template-users-title' }, t('tpl.users')),
    usersError ? h('p', { class: 'form-error' }, t('tpl.usersError', { message: usersError.message }))
      : users.length === 0 ? h('p', { class: 'muted' }, t('tpl.usersNone'))
        : h('ul', { class: 'plain-list' }, users.map((ep) => h('li', null, epLink(ep.id)))));

  const inUse = h('div', { id: 'template-in-use', role: 'alert' });
  const del = ctx.readOnly ? null : h('section', { class: 'card', 'aria-labelledby': 'template-danger-title' },
    h('h2', { id: 'template-danger-title' }, t('tpl.danger')),
    inUse,
    h('button', {
      type: 'button',
      class: 'danger',
      id: 'template-delete',
      onclick: async () => {
        if (!(await confirmDialog(t('tpl.deleteConfirm', { name: tp.name }), t('action.delete'), true))) return;
        replace(inUse);
        try {
          await api('DELETE', `${base}/${seg(tp.id)}`);
          toast(t('deleted'));
          ctx.navigate(listHref);
        } catch (err) {
          if (err.status !== 409) { toast(err.message, 'error'); return; }
          // Still referenced: say so, with the endpoints to detach (as
          // they are now: the page's list may be older).
          const now = await appEndpoints(ctx).catch(() => users);
          const left = now.filter((ep) => ep.endpoint_template_id === tp.id);
          for (const ep of left) byId.set(ep.id, ep);
          replace(inUse, h('p', { class: 'form-error' }, t('tpl.inUse')),
            h('ul', { class: 'plain-list' }, (left.length ? left.map((ep) => ep.id) : []).map((id) => h('li', null, epLink(id)))),
            left.length ? null : h('p', { class: 'muted' }, err.message));
        }
      },
    }, t('action.delete')));

  return h('section', { class: 'template-page' },
    pageHeader(tp.name, h('a', { class: 'button', href: listHref }, t('tpl.back'))),
    h('p', { class: 'mono muted' }, tp.id),
    // The preview comes right after the form on a phone's one column,
    // and beside the form and what is under it on a desk.
    h('div', { class: 'grid-2 form-with-preview' },
      frm,
      previewSection,
      h('div', null, usersBox, del)));
}
