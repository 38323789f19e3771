// The event-type catalog: the list, and one page per type that shows the
// type (its sample and schema as formatted JSON) and, for admins, the
// form that creates, changes or deletes it.

import { api, query, seg } from '../api.js';
import { addStrings, t } from '../i18n.js';
import {
  h, field, showErrors, clearErrors, pageHeader, empty, pager, timeEl, toast, confirmDialog, replace, codeBlock,
} from '../dom.js';
import { pinnedByVersion } from './pins.js';

addStrings({
  en: {
    'et.title': 'Event types',
    'et.new': 'New event type',
    'et.none': 'The catalog is empty. Add the event types your product sends, with a sample payload, so that endpoints can subscribe to them.',
    'et.noneReader': 'The catalog is empty.',
    'et.name': 'Name',
    'et.nameHint': 'Like form.submitted: letters, digits and . _ - : / . It cannot be changed later.',
    'et.group': 'Group',
    'et.groupHint': 'Optional category; endpoints can subscribe to a whole group as group:<name>.',
    'et.description': 'Description',
    'et.schema': 'Schema (JSON Schema)',
    'et.schemaHint': 'Optional. A JSON Schema object; events of this type must match it. Empty: no check.',
    'et.sample': 'Sample payload (JSON)',
    'et.sampleHint': 'Optional. Used for test sends and previews; it must match the schema.',
    'et.deprecated': 'Deprecated',
    'et.deprecatedHint': 'Still accepted, but flagged so that nobody starts using it.',
    'et.state': 'State',
    'et.created': 'Created',
    'et.updated': 'Updated',
    'et.newTitle': 'New event type',
    'et.view': 'Event type',
    'et.sampleView': 'Sample payload',
    'et.schemaView': 'Schema',
    'et.noSample': 'No sample payload.',
    'et.noSchema': 'No schema: any payload is accepted.',
    'et.edit': 'Change this event type',
    'et.badJson': 'This is not valid JSON: {message}',
    'et.deleteConfirm': 'Delete the event type "{name}" from the catalog? Endpoints subscribed to it stay subscribed, but new events of this type are refused unless undeclared types are allowed.',
    'et.danger': 'Delete this event type',
    'et.backToList': 'All event types',
    'et.adminOnly': 'Only an admin key can add event types to the catalog.',
    'et.latest': 'Latest version',
    'et.versions': 'Versions',
    'et.version': 'Version',
    'et.firstVersion': '(first, unversioned)',
    'et.pinned': 'Endpoints pinned',
    'et.converter': 'Converter to the previous version',
    'et.noVersions': 'Not versioned: events are sent in the shape above. Add a version with POST /v1/event-types/{name}/versions.',
    'et.noVersionsAdmin': 'Not versioned: events are sent in the shape above. Add a version with the form "Add a version".',
    'et.addVersion': 'Add a version',
    'et.addVersionIntro': 'The new version becomes the latest: events are sent in its shape unless they name another version, and endpoints pinned to an older version get them converted down, one version at a time.',
    'et.versionName': 'Version name',
    'et.versionNameHint': 'A date later than the latest dated version (YYYY-MM-DD, e.g. 2026-11-01) or a short token such as v2. It cannot be changed later.',
    'et.versionSchemaHint': 'Optional. This version\'s JSON Schema: events sent as this version must match it.',
    'et.versionSampleHint': 'Optional. A payload in this version\'s shape; it must match the schema.',
    'et.converterField': 'Converter (JavaScript)',
    'et.converterHint': 'Required. Defines convert(payload): it receives a payload of this version and returns it in the shape of the version before ({previous}). No network, files or timers; limited in time and memory.',
    'et.versionAdded': 'Version {version} added.',
  },
  ja: {
    'et.title': 'イベントタイプ',
    'et.new': '新しいイベントタイプ',
    'et.none': 'カタログは空です。エンドポイントが購読できるように、製品が送信するイベントタイプをサンプルのペイロードとともに追加してください。',
    'et.noneReader': 'カタログは空です。',
    'et.name': '名前',
    'et.nameHint': 'form.submitted のような名前：英数字と . _ - : / が使えます。あとから変更できません。',
    'et.group': 'グループ',
    'et.groupHint': '任意の分類。エンドポイントは group:<名前> でグループ全体を購読できます。',
    'et.description': '説明',
    'et.schema': 'スキーマ（JSON Schema）',
    'et.schemaHint': '任意。JSON Schema のオブジェクトです。このタイプのイベントはスキーマに一致する必要があります。空欄なら検証しません。',
    'et.sample': 'サンプルのペイロード（JSON）',
    'et.sampleHint': '任意。テスト送信とプレビューに使われます。スキーマに一致する必要があります。',
    'et.deprecated': '非推奨',
    'et.deprecatedHint': '引き続き受け付けますが、新たに使われないよう非推奨として表示します。',
    'et.state': '状態',
    'et.created': '作成日時',
    'et.updated': '更新日時',
    'et.newTitle': '新しいイベントタイプ',
    'et.view': 'イベントタイプ',
    'et.sampleView': 'サンプルのペイロード',
    'et.schemaView': 'スキーマ',
    'et.noSample': 'サンプルのペイロードはありません。',
    'et.noSchema': 'スキーマはありません。どのペイロードも受け付けます。',
    'et.edit': 'このイベントタイプを変更',
    'et.badJson': '正しい JSON ではありません：{message}',
    'et.deleteConfirm': 'イベントタイプ「{name}」をカタログから削除しますか？購読しているエンドポイントの設定はそのまま残りますが、未登録のタイプを許可していない限り、このタイプの新しいイベントは拒否されます。',
    'et.danger': 'このイベントタイプを削除',
    'et.backToList': 'イベントタイプ一覧',
    'et.adminOnly': 'カタログにイベントタイプを追加できるのは管理者キーだけです。',
    'et.latest': '最新バージョン',
    'et.versions': 'バージョン',
    'et.version': 'バージョン',
    'et.firstVersion': '（最初のバージョン・バージョンなし）',
    'et.pinned': '固定しているエンドポイント',
    'et.converter': '前のバージョンへの変換',
    'et.noVersions': 'バージョンはありません。イベントは上の形で送られます。バージョンは POST /v1/event-types/{name}/versions で追加します。',
    'et.noVersionsAdmin': 'バージョンはありません。イベントは上の形で送られます。バージョンは「バージョンを追加」のフォームで追加します。',
    'et.addVersion': 'バージョンを追加',
    'et.addVersionIntro': '新しいバージョンが最新になります。イベントは別のバージョンを指定しない限りこの形で送られ、古いバージョンに固定したエンドポイントには 1 バージョンずつ変換して届きます。',
    'et.versionName': 'バージョン名',
    'et.versionNameHint': '最新の日付のバージョンより後の日付（YYYY-MM-DD、例：2026-11-01）か、v2 のような短い名前。あとから変更できません。',
    'et.versionSchemaHint': '任意。このバージョンの JSON Schema です。このバージョンとして送るイベントはスキーマに一致する必要があります。',
    'et.versionSampleHint': '任意。このバージョンの形のペイロードです。スキーマに一致する必要があります。',
    'et.converterField': '変換（JavaScript）',
    'et.converterHint': '必須。convert(payload) を定義します。このバージョンのペイロードを受け取り、1 つ前のバージョン（{previous}）の形にして返します。ネットワーク・ファイル・タイマーは使えず、時間とメモリに上限があります。',
    'et.versionAdded': 'バージョン {version} を追加しました。',
  },
});

function deprecatedBadge() {
  return h('span', { class: 'badge badge-deprecated' }, t('et.deprecated'));
}

/** The catalog, by name, one page at a time. */
export async function list(ctx) {
  const body = h('div');
  const load = async (cursor) => {
    const page = await api('GET', `/v1/event-types${query({ cursor, limit: 50 })}`, undefined, { signal: ctx.signal });
    replace(body,
      page.data.length === 0 && !cursor ? empty(ctx.admin ? t('et.none') : t('et.noneReader')) : h('div', { class: 'table-wrap' },
        h('table', null,
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, t('et.name')),
            h('th', { scope: 'col' }, t('et.group')),
            h('th', { scope: 'col' }, t('et.description')),
            h('th', { scope: 'col' }, t('et.latest')),
            h('th', { scope: 'col' }, t('et.state')))),
          h('tbody', null, page.data.map((et) => h('tr', null,
            h('td', null, h('a', { class: 'mono', href: ctx.href(`/event-types/${seg(et.name)}`) }, et.name)),
            h('td', null, et.group || '—'),
            h('td', null, et.description || ''),
            h('td', { class: 'mono' }, et.latest_version || '—'),
            h('td', null, et.deprecated ? deprecatedBadge() : null)))))),
      pager(page, cursor, load));
  };
  await load('');
  return h('section', null,
    pageHeader(t('et.title'), ctx.admin && !ctx.readOnly ? h('a', { class: 'button primary', href: ctx.href('/event-types/new') }, t('et.new')) : null),
    body);
}

/** A JSON value formatted for reading. */
function jsonText(v) {
  return v === null || v === undefined ? '' : JSON.stringify(v, null, 2);
}

/** The read-only view of a type: facts, sample and schema, formatted. */
function view(et, canWrite = false) {
  return h('section', { class: 'card et-view', 'aria-labelledby': 'et-view-title' },
    h('h2', { id: 'et-view-title' }, t('et.view')),
    h('dl', { class: 'facts' },
      h('dt', null, t('et.name')), h('dd', { class: 'mono' }, et.name),
      h('dt', null, t('et.group')), h('dd', null, et.group || '—'),
      h('dt', null, t('et.description')), h('dd', null, et.description || '—'),
      h('dt', null, t('et.state')), h('dd', null, et.deprecated ? deprecatedBadge() : '—'),
      h('dt', null, t('et.created')), h('dd', null, timeEl(et.created_at)),
      h('dt', null, t('et.updated')), h('dd', null, timeEl(et.updated_at))),
    h('h3', { id: 'et-sample-title' }, t('et.sampleView')),
    et.sample === null || et.sample === undefined
      ? h('p', { class: 'muted' }, t('et.noSample'))
      : codeBlock(jsonText(et.sample), t('et.sampleView')),
    h('h3', { id: 'et-schema-title' }, t('et.schemaView')),
    et.schema === null || et.schema === undefined
      ? h('p', { class: 'muted' }, t('et.noSchema'))
      : codeBlock(jsonText(et.schema), t('et.schemaView')),
    versionsView(et, canWrite));
}

/**
 * The type's versions, oldest first, each with the count of endpoints
 * pinned to it (the caller's app's, for an app key or the portal) and the
 * converter that leads it to the version before.
 */
function versionsView(et, canWrite) {
  const versions = et.versions || [];
  const pinned = et.pinned_endpoints || {};
  const title = h('h3', { id: 'et-versions-title' }, t('et.versions'));
  if (versions.length === 0) {
    return h('div', null, title, h('p', { class: 'muted' }, t(canWrite ? 'et.noVersionsAdmin' : 'et.noVersions', { name: et.name })));
  }
  const row = (name, created, count, converter) => h('tr', null,
    h('td', { class: 'mono' }, name || t('et.firstVersion')),
    h('td', null, timeEl(created)),
    h('td', null, String(count || 0)),
    h('td', null, converter ? codeBlock(converter, t('et.converter')) : '—'));
  return h('div', null, title,
    h('div', { class: 'table-wrap' },
      h('table', { 'aria-labelledby': 'et-versions-title' },
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, t('et.version')),
          h('th', { scope: 'col' }, t('et.created')),
          h('th', { scope: 'col' }, t('et.pinned')),
          h('th', { scope: 'col' }, t('et.converter')))),
        h('tbody', null,
          row('', et.created_at, pinned[''], ''),
          versions.map((v) => row(v.version, v.created_at, pinned[v.version], v.converter))))));
}

/**
 * The value of the JSON typed in controls[name]: undefined when empty;
 * throws a field error (as showErrors takes) when it does not parse.
 */
function jsonField(controls, name) {
  const text = controls[name].value.trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw { field: name, message: t('et.badJson', { message: err.message }) };
  }
}

/**
 * The type's page: /event-types/new creates; /event-types/:name shows the
 * type, with the form to change it for admins.
 */
export async function form(ctx) {
  const editing = ctx.params.name !== undefined;
  let et = editing ? await api('GET', `/v1/event-types/${seg(ctx.params.name)}`, undefined, { signal: ctx.signal }) : {};
  const canWrite = ctx.admin && !ctx.readOnly;
  const viewBox = h('div');
  if (editing) replace(viewBox, view(et, canWrite));
  const back = h('a', { class: 'button', href: ctx.href('/event-types') }, t('et.backToList'));
  if (!canWrite) {
    if (!editing) {
      // Creating needs an admin key: say so where the form would be.
      return h('section', null, pageHeader(t('et.newTitle'), back),
        h('p', { class: 'empty' }, t('et.adminOnly')));
    }
    return h('section', null, pageHeader(et.name, back), viewBox, pinnedByVersion(ctx, et));
  }

  const c = {
    name: h('input', { type: 'text', value: et.name || '', required: !editing, readonly: editing, autocomplete: 'off', spellcheck: 'false' }),
    group: h('input', { type: 'text', value: et.group || '', autocomplete: 'off', spellcheck: 'false' }),
    description: h('input', { type: 'text', value: et.description || '' }),
    schema: h('textarea', { rows: '10', spellcheck: 'false' }),
    sample: h('textarea', { rows: '8', spellcheck: 'false' }),
    deprecated: h('input', { type: 'checkbox', checked: !!et.deprecated }),
  };
  c.schema.value = jsonText(et.schema);
  c.sample.value = jsonText(et.sample);

  const parse = (name) => jsonField(c, name);

  const save = h('button', { type: 'submit', class: 'primary' }, editing ? t('action.save') : t('action.create'));
  const frm = h('form', {
    class: 'card',
    id: 'event-type-form',
    novalidate: true,
    'aria-labelledby': editing ? 'et-form-title' : null,
    onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(frm);
      const input = {
        group: c.group.value.trim(),
        description: c.description.value,
        deprecated: c.deprecated.checked,
      };
      try {
        for (const k of ['schema', 'sample']) {
          const v = parse(k);
          // Creating leaves an empty field out; editing clears it (null).
          if (v !== undefined) input[k] = v;
          else if (editing) input[k] = null;
        }
      } catch (err) {
        // Nothing is sent: the parse error sits next to its field.
        showErrors(frm, err);
        return;
      }
      if (!editing) input.name = c.name.value.trim();
      save.disabled = true;
      try {
        const out = editing
          ? await api('PATCH', `/v1/event-types/${seg(et.name)}`, input)
          : await api('POST', '/v1/event-types', input);
        if (editing) {
          et = out;
          replace(viewBox, view(et, canWrite));
          // Show the stored (formatted) JSON back.
          c.schema.value = jsonText(et.schema);
          c.sample.value = jsonText(et.sample);
        } else {
          ctx.navigate(ctx.href(`/event-types/${seg(out.name)}`));
        }
        // After navigating: the layout rebuilds the toast region, and does
        // so at once for these pages (no app name to fetch).
        toast(t('saved'));
      } catch (err) {
        // The form keeps what was typed; the error sits by its field.
        showErrors(frm, err);
      } finally {
        save.disabled = false;
      }
    },
  },
  editing ? h('h2', { id: 'et-form-title' }, t('et.edit')) : null,
  field({ label: t('et.name'), name: 'name', control: c.name, hint: editing ? null : t('et.nameHint') }),
  field({ label: t('et.group'), name: 'group', control: c.group, hint: t('et.groupHint') }),
  field({ label: t('et.description'), name: 'description', control: c.description }),
  field({ label: t('et.schema'), name: 'schema', control: c.schema, hint: t('et.schemaHint') }),
  field({ label: t('et.sample'), name: 'sample', control: c.sample, hint: t('et.sampleHint') }),
  field({ label: t('et.deprecated'), name: 'deprecated', control: c.deprecated, hint: t('et.deprecatedHint') }),
  h('div', { class: 'actions' }, save,
    h('a', { class: 'button', href: ctx.href('/event-types') }, t('action.cancel'))));

  const del = editing ? h('section', { class: 'card et-danger' },
    h('h2', null, t('et.danger')),
    h('button', {
      type: 'button',
      class: 'danger',
      id: 'event-type-delete',
      onclick: async () => {
        if (!(await confirmDialog(t('et.deleteConfirm', { name: et.name }), t('action.delete'), true))) return;
        try {
          await api('DELETE', `/v1/event-types/${seg(et.name)}`);
          ctx.navigate(ctx.href('/event-types'));
          toast(t('deleted'));
        } catch (err) {
          toast(err.message, 'error');
        }
      },
    }, t('action.delete'))) : null;

  if (!editing) return h('section', null, pageHeader(t('et.newTitle')), frm);
  // The endpoints on each version are listed again once a version is
  // added, so that the new one shows there too.
  const pinsBox = h('div', null, pinnedByVersion(ctx, et));
  const versionForm = addVersionForm(et, (next) => {
    et = next;
    replace(viewBox, view(et, canWrite));
    replace(pinsBox, pinnedByVersion(ctx, et));
  });
  return h('section', null,
    pageHeader(et.name, back),
    h('div', { class: 'grid-2' }, viewBox, h('div', null, frm, versionForm, del)),
    pinsBox);
}

/**
 * The form that adds a version to a type (POST …/versions): its name,
 * schema, sample and the converter back to the version before. The API's
 * refusals sit by the field they name; done(et) gets the type as it is
 * after the version was added.
 */
function addVersionForm(et, done) {
  const previous = () => et.latest_version || t('et.firstVersion');
  const c = {
    version: h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: '2026-11-01' }),
    schema: h('textarea', { rows: '6', spellcheck: 'false', placeholder: '{"type": "object"}' }),
    sample: h('textarea', { rows: '5', spellcheck: 'false' }),
    converter: h('textarea', {
      rows: '8', required: true, spellcheck: 'false', autocapitalize: 'off',
      placeholder: 'function convert(payload) {\n  return payload;\n}',
    }),
  };
  const converterHint = h('span', null, t('et.converterHint', { previous: previous() }));
  const json = (name) => jsonField(c, name);
  const add = h('button', { type: 'submit', class: 'primary' }, t('et.addVersion'));
  const frm = h('form', {
    class: 'card',
    id: 'version-form',
    novalidate: true,
    'aria-labelledby': 'et-version-form-title',
    onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(frm);
      const input = { version: c.version.value.trim(), converter: c.converter.value };
      try {
        for (const k of ['schema', 'sample']) {
          const v = json(k);
          if (v !== undefined) input[k] = v;
        }
      } catch (err) {
        showErrors(frm, err);
        return;
      }
      add.disabled = true;
      try {
        const v = await api('POST', `/v1/event-types/${seg(et.name)}/versions`, input);
        const next = await api('GET', `/v1/event-types/${seg(et.name)}`);
        et = next;
        done(next);
        for (const el of Object.values(c)) el.value = '';
        converterHint.textContent = t('et.converterHint', { previous: previous() });
        toast(t('et.versionAdded', { version: v.version }));
      } catch (err) {
        // What was typed stays; the API's refusal sits by its field.
        showErrors(frm, err);
      } finally {
        add.disabled = false;
      }
    },
  },
  h('h2', { id: 'et-version-form-title' }, t('et.addVersion')),
  h('p', { class: 'hint' }, t('et.addVersionIntro')),
  field({ label: t('et.versionName'), name: 'version', control: c.version, hint: t('et.versionNameHint') }),
  field({ label: t('et.schema'), name: 'schema', control: c.schema, hint: t('et.versionSchemaHint') }),
  field({ label: t('et.sample'), name: 'sample', control: c.sample, hint: t('et.versionSampleHint') }),
  field({ label: t('et.converterField'), name: 'converter', control: c.converter, hint: converterHint }),
  h('div', { class: 'actions' }, add));
  return frm;
}
