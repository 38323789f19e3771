// A small hand-written SVG line chart for an endpoint's last day, hour by
// hour: the success rate (0–100 %, left axis) and the median latency (ms,
// right axis). No library: the chart is a few paths and text nodes, drawn
// again at the container's width so that its text stays readable on a
// phone. Screen readers get a summary (aria-label) and a visually hidden
// table with the same numbers.

import { addStrings, lang, t } from '../i18n.js';
import { h } from '../dom.js';

addStrings({
  en: {
    'chart.rate': 'Success rate',
    'chart.latency': 'Median latency (p50)',
    'chart.hour': 'Hour starting',
    'chart.attempts': 'Attempts',
    'chart.succeeded': 'Succeeded',
    'chart.failed': 'Failed',
    'chart.failedAttempts': 'Failed attempts',
    'chart.p50': 'p50 latency',
    'chart.p99': 'p99 latency',
    'chart.noData': 'No data yet: no attempts were made in the last 24 hours.',
    'chart.summary': 'Chart of the last {hours} hours, hour by hour. Attempts were made in {active} of them. Success rate from {rmin} to {rmax}. Median latency from {lmin} to {lmax}.',
    'chart.summaryNone': 'Chart of the last {hours} hours: no attempts were made.',
    'chart.tableCaption': 'Attempts per hour (times in your time zone)',
    'chart.ms': '{n} ms',
  },
  ja: {
    'chart.rate': '成功率',
    'chart.latency': 'レイテンシの中央値（p50）',
    'chart.hour': '開始時刻',
    'chart.attempts': '試行数',
    'chart.succeeded': '成功',
    'chart.failed': '失敗',
    'chart.failedAttempts': '失敗した試行',
    'chart.p50': 'p50 レイテンシ',
    'chart.p99': 'p99 レイテンシ',
    'chart.noData': 'データがありません：過去 24 時間に送信の試行はありませんでした。',
    'chart.summary': '過去 {hours} 時間の 1 時間ごとのグラフ。試行があったのは {active} 時間。成功率は {rmin}〜{rmax}、レイテンシの中央値は {lmin}〜{lmax}。',
    'chart.summaryNone': '過去 {hours} 時間のグラフ：送信の試行はありませんでした。',
    'chart.tableCaption': '1 時間ごとの試行（時刻はお使いのタイムゾーン）',
    'chart.ms': '{n} ミリ秒',
  },
});

const SVG = 'http://www.w3.org/2000/svg';

/** s builds an SVG element (h() makes HTML elements only). */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null && v !== false) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A share (0..1) as a percentage in the page's language. */
export function fmtRate(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return new Intl.NumberFormat(lang(), { style: 'percent', maximumFractionDigits: 1 }).format(v);
}

/** Milliseconds, short. */
export function fmtMs(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  const n = new Intl.NumberFormat(lang(), { maximumFractionDigits: v < 10 ? 1 : 0 }).format(v);
  return t('chart.ms', { n });
}

function hourLabel(d) {
  // Minutes only where the zone is not a whole number of hours from UTC.
  return d.getMinutes() === 0
    ? d.toLocaleTimeString(lang(), { hour: 'numeric' })
    : d.toLocaleTimeString(lang(), { hour: 'numeric', minute: '2-digit' });
}

/** A round axis maximum whose quarter is a round number too. */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const quarter = v / 4;
  const p = 10 ** Math.floor(Math.log10(quarter));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 10]) {
    if (m * p >= quarter) return m * p * 4;
  }
  return 40 * p;
}

/** The points of one line, with null where the line has a gap. */
function linePath(points) {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (!p) { pen = false; continue; }
    d += `${pen ? 'L' : 'M'}${p[0].toFixed(1)},${p[1].toFixed(1)}`;
    pen = true;
  }
  return d;
}

function draw(svg, series, width) {
  const height = width < 480 ? 220 : 260;
  const small = width < 480;
  const m = { top: 12, right: small ? 48 : 60, bottom: 28, left: small ? 40 : 48 };
  const pw = Math.max(10, width - m.left - m.right);
  const ph = height - m.top - m.bottom;
  const n = series.length;
  const step = pw / n;
  const lat = series.map((b) => (b.attempts > 0 && b.latency_p50_ms !== null && b.latency_p50_ms !== undefined ? b.latency_p50_ms : null));
  const latMax = niceMax(Math.max(0, ...lat.filter((v) => v !== null)));
  const x = (i) => m.left + (i + 0.5) * step;
  const yRate = (v) => m.top + ph * (1 - v);
  const yLat = (v) => m.top + ph * (1 - v / latMax);

  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);

  // Grid and both axes' labels: five lines, 0 to 100 % and 0 to latMax.
  const grid = s('g', { class: 'chart-grid' });
  const axes = s('g', { class: 'chart-axis', 'aria-hidden': 'true' });
  for (let k = 0; k <= 4; k++) {
    const y = m.top + ph * (1 - k / 4);
    grid.appendChild(s('line', { x1: m.left, x2: m.left + pw, y1: y, y2: y }));
    axes.appendChild(s('text', { x: m.left - 6, y: y + 4, 'text-anchor': 'end', class: 'chart-rate-text' }, `${k * 25}%`));
    const lv = (latMax * k) / 4;
    axes.appendChild(s('text', { x: m.left + pw + 6, y: y + 4, 'text-anchor': 'start', class: 'chart-latency-text' },
      new Intl.NumberFormat(lang(), { maximumFractionDigits: lv < 10 ? 1 : 0 }).format(lv)));
  }
  axes.appendChild(s('text', { x: m.left + pw + 6, y: m.top + ph + 20, 'text-anchor': 'start', class: 'chart-latency-text' }, 'ms'));

  // Hour ticks, in the browser's time zone: every 3 hours, 6 on a phone.
  const every = small ? 6 : 3;
  for (let i = 0; i < n; i++) {
    const d = new Date(series[i].start);
    if (Number.isNaN(d.getTime())) continue;
    const tickX = m.left + i * step;
    if (d.getHours() % every !== 0 && !(i === 0 && n < every)) continue;
    grid.appendChild(s('line', { x1: tickX, x2: tickX, y1: m.top + ph, y2: m.top + ph + 4, class: 'chart-tick' }));
    axes.appendChild(s('text', { x: tickX, y: m.top + ph + 18, 'text-anchor': 'middle' }, hourLabel(d)));
  }
  grid.appendChild(s('line', { x1: m.left, x2: m.left + pw, y1: m.top + ph, y2: m.top + ph, class: 'chart-base' }));

  // Bars under the lines: each hour's attempts, its failures (red) under
  // its successes, scaled to the busiest hour over the lower third, so
  // that a falling rate shows whether it fell on 3 attempts or on 3000.
  const most = Math.max(1, ...series.map((b) => b.attempts || 0));
  const barH = (v) => (ph / 3) * (v / most);
  const bw = Math.max(1, step * 0.6);
  const bars = s('g', { 'aria-hidden': 'true' });
  series.forEach((b, i) => {
    if (!b.attempts) return;
    const failedH = barH(b.failed || 0);
    const okH = barH(b.attempts - (b.failed || 0));
    const base = m.top + ph;
    if (failedH > 0) bars.appendChild(s('rect', { x: x(i) - bw / 2, y: base - failedH, width: bw, height: failedH, class: 'chart-bar chart-bar-failed' }));
    if (okH > 0) bars.appendChild(s('rect', { x: x(i) - bw / 2, y: base - failedH - okH, width: bw, height: okH, class: 'chart-bar chart-bar-ok' }));
  });

  // The lines, broken where an hour had no attempts; dots so that a lone
  // hour between gaps still shows.
  const ratePts = series.map((b, i) => (b.attempts > 0 && b.success_rate !== null && b.success_rate !== undefined ? [x(i), yRate(b.success_rate)] : null));
  const latPts = lat.map((v, i) => (v === null ? null : [x(i), yLat(v)]));
  const lines = s('g', { 'aria-hidden': 'true' },
    s('path', { d: linePath(latPts), class: 'chart-line chart-latency' }),
    s('path', { d: linePath(ratePts), class: 'chart-line chart-rate' }),
    latPts.filter(Boolean).map((p) => s('circle', { cx: p[0], cy: p[1], r: 2.5, class: 'chart-dot chart-latency' })),
    ratePts.filter(Boolean).map((p) => s('circle', { cx: p[0], cy: p[1], r: 3, class: 'chart-dot chart-rate' })));
  svg.append(grid, bars, lines, axes);
}

function summary(series) {
  const active = series.filter((b) => b.attempts > 0);
  if (active.length === 0) return t('chart.summaryNone', { hours: series.length });
  const rates = active.map((b) => b.success_rate).filter((v) => v !== null && v !== undefined);
  const lats = active.map((b) => b.latency_p50_ms).filter((v) => v !== null && v !== undefined);
  return t('chart.summary', {
    hours: series.length,
    active: active.length,
    rmin: rates.length ? fmtRate(Math.min(...rates)) : '—',
    rmax: rates.length ? fmtRate(Math.max(...rates)) : '—',
    lmin: lats.length ? fmtMs(Math.min(...lats)) : '—',
    lmax: lats.length ? fmtMs(Math.max(...lats)) : '—',
  });
}

/** The numbers of the chart as a table, for screen readers. */
function dataTable(series) {
  return h('table', null,
    h('caption', null, t('chart.tableCaption')),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, t('chart.hour')),
      h('th', { scope: 'col' }, t('chart.attempts')),
      h('th', { scope: 'col' }, t('chart.succeeded')),
      h('th', { scope: 'col' }, t('chart.failed')),
      h('th', { scope: 'col' }, t('chart.rate')),
      h('th', { scope: 'col' }, t('chart.p50')),
      h('th', { scope: 'col' }, t('chart.p99')))),
    h('tbody', null, series.map((b) => h('tr', null,
      h('th', { scope: 'row' }, h('time', { datetime: b.start }, new Date(b.start).toLocaleString(lang(), { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }))),
      h('td', null, b.attempts),
      h('td', null, b.succeeded),
      h('td', null, b.failed),
      h('td', null, b.attempts > 0 ? fmtRate(b.success_rate) : '—'),
      h('td', null, b.attempts > 0 ? fmtMs(b.latency_p50_ms) : '—'),
      h('td', null, b.attempts > 0 ? fmtMs(b.latency_p99_ms) : '—')))));
}

/**
 * lineChart({series, label, signal}) returns the chart of the hourly
 * buckets (oldest first): an SVG (role=img, summarised in its label), a
 * legend and a visually hidden table. It redraws at its container's width
 * until signal is aborted. Without buckets it returns a "no data" note.
 */
export function lineChart({ series, label, signal }) {
  if (!Array.isArray(series) || series.length === 0) {
    return h('p', { class: 'muted chart-empty' }, t('chart.noData'));
  }
  const text = summary(series);
  const svg = s('svg', { role: 'img', 'aria-label': label ? `${label}. ${text}` : text, preserveAspectRatio: 'xMidYMid meet', focusable: 'false' });
  let width = 720;
  draw(svg, series, width);
  const legend = h('ul', { class: 'chart-legend' },
    h('li', null, h('span', { class: 'chart-swatch chart-rate', 'aria-hidden': 'true' }), t('chart.rate'), h('span', { class: 'muted' }, ' (%)')),
    h('li', null, h('span', { class: 'chart-swatch chart-latency', 'aria-hidden': 'true' }), t('chart.latency'), h('span', { class: 'muted' }, ' (ms)')),
    h('li', null, h('span', { class: 'chart-swatch chart-bar-ok', 'aria-hidden': 'true' }), t('chart.attempts')),
    h('li', null, h('span', { class: 'chart-swatch chart-bar-failed', 'aria-hidden': 'true' }), t('chart.failedAttempts')));
  const wrap = h('div', { class: 'chart' },
    svg,
    legend,
    series.every((b) => b.attempts === 0) ? h('p', { class: 'muted' }, t('chart.noData')) : null,
    h('div', { class: 'visually-hidden' }, dataTable(series)));
  if (typeof ResizeObserver === 'function') {
    const ro = new ResizeObserver((entries) => {
      const w = Math.round(entries[0].contentRect.width);
      if (w > 0 && Math.abs(w - width) > 4) {
        width = w;
        draw(svg, series, width);
      }
    });
    ro.observe(wrap);
    if (signal) signal.addEventListener('abort', () => ro.disconnect(), { once: true });
  }
  return wrap;
}
