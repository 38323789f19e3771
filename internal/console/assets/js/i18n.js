// Texts in English and Japanese. Each page module adds its own strings
// with addStrings() so that pages stay self-contained; t() falls back to
// English, then to the key itself, so a missing translation shows up as
// English rather than as nothing.

const dict = { en: {}, ja: {} };
let current = 'en';

/** The languages the console speaks. */
export const languages = ['en', 'ja'];

/** addStrings merges { en: {...}, ja: {...} } into the dictionaries. */
export function addStrings(strings) {
  for (const l of languages) Object.assign(dict[l], strings[l] || {});
}

/** The current language code. */
export function lang() {
  return current;
}

/**
 * pickLanguage chooses the language: the explicit choice if it is one we
 * speak, else the browser's first preferred language we speak, else
 * English.
 */
export function pickLanguage(explicit) {
  const wanted = [explicit, ...(navigator.languages || [navigator.language])].filter(Boolean);
  for (const w of wanted) {
    const base = String(w).toLowerCase().split('-')[0];
    if (languages.includes(base)) return base;
  }
  return 'en';
}

/** setLang switches the language and the document's lang attribute. */
export function setLang(l) {
  current = languages.includes(l) ? l : 'en';
  document.documentElement.lang = current;
}

/** t looks up a text and fills {name} placeholders from vars. */
export function t(key, vars) {
  let s = dict[current][key] ?? dict.en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

addStrings({
  en: {
    'app.title': 'Herald',
    'nav.main': 'Main',
    'nav.apps': 'Apps',
    'nav.eventTypes': 'Event types',
    'nav.endpoints': 'Endpoints',
    'nav.events': 'Events',
    'nav.settings': 'Settings',
    'nav.sections': 'Sections',
    'nav.skip': 'Skip to content',
    'nav.language': 'Language',
    'signIn.title': 'Sign in to Herald',
    'signIn.intro': 'Paste an API key (hk_…) or the admin token. It is kept in this browser tab only and forgotten when the tab closes.',
    'signIn.key': 'API key',
    'signIn.submit': 'Sign in',
    'signIn.out': 'Sign out',
    'signIn.as': 'Signed in with {key}',
    'portal.expired': 'This link has expired or is not valid. Ask for a new one from the page that opened it.',
    'portal.expiredTitle': 'Link expired',
    'portal.readOnly': 'Read only',
    'portal.role.viewer': 'Viewer (read only)',
    'portal.role.developer': 'Developer',
    'portal.role.admin': 'Admin',
    'action.save': 'Save',
    'action.create': 'Create',
    'action.cancel': 'Cancel',
    'action.delete': 'Delete',
    'action.edit': 'Edit',
    'action.back': 'Back',
    'action.add': 'Add',
    'action.remove': 'Remove',
    'action.refresh': 'Refresh',
    'action.apply': 'Apply',
    'state.succeeded': 'Succeeded',
    'state.failed': 'Failed',
    'state.pending': 'Pending',
    'state.cancelled': 'Cancelled',
    'state.enabled': 'Enabled',
    'state.disabled': 'Disabled',
    'pager.label': 'Pages',
    'pager.next': 'Next page',
    'pager.first': 'First page',
    'notFound.title': 'Not found',
    'notFound.text': 'There is nothing here, or it belongs to somebody else.',
    'error.title': 'Something went wrong',
    'error.network': 'Herald could not be reached: {message}',
    'saved': 'Saved.',
    'deleted': 'Deleted.',
    'loading': 'Loading…',
  },
  ja: {
    'app.title': 'Herald',
    'nav.main': 'メイン',
    'nav.apps': 'アプリ',
    'nav.eventTypes': 'イベントタイプ',
    'nav.endpoints': 'エンドポイント',
    'nav.events': 'イベント',
    'nav.settings': '設定',
    'nav.sections': 'セクション',
    'nav.skip': '本文へスキップ',
    'nav.language': '言語',
    'signIn.title': 'Herald にサインイン',
    'signIn.intro': 'API キー（hk_…）または管理トークンを貼り付けてください。このタブの中だけに保存され、タブを閉じると消えます。',
    'signIn.key': 'API キー',
    'signIn.submit': 'サインイン',
    'signIn.out': 'サインアウト',
    'signIn.as': '{key} でサインイン中',
    'portal.expired': 'このリンクは有効期限が切れているか、無効です。開いたページから新しいリンクを取得してください。',
    'portal.expiredTitle': 'リンクの有効期限切れ',
    'portal.readOnly': '閲覧のみ',
    'portal.role.viewer': '閲覧者（閲覧のみ）',
    'portal.role.developer': '開発者',
    'portal.role.admin': '管理者',
    'action.save': '保存',
    'action.create': '作成',
    'action.cancel': 'キャンセル',
    'action.delete': '削除',
    'action.edit': '編集',
    'action.back': '戻る',
    'action.add': '追加',
    'action.remove': '削除',
    'action.refresh': '再読み込み',
    'action.apply': '適用',
    'state.succeeded': '成功',
    'state.failed': '失敗',
    'state.pending': '送信待ち',
    'state.cancelled': 'キャンセル',
    'state.enabled': '有効',
    'state.disabled': '無効',
    'pager.label': 'ページ',
    'pager.next': '次のページ',
    'pager.first': '最初のページ',
    'notFound.title': '見つかりません',
    'notFound.text': 'ここには何もないか、別の利用者のものです。',
    'error.title': 'エラーが発生しました',
    'error.network': 'Herald に接続できませんでした: {message}',
    'saved': '保存しました。',
    'deleted': '削除しました。',
    'loading': '読み込み中…',
  },
});
