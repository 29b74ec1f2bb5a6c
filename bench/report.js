// Turns the runner's results into the files the docs show: latest.md (tables with ratios
// against lockedfile/flock), latest.json (the raw results), latest.svg (one chart per scenario,
// plain SVG with no scripts or fonts, so GitHub and any viewer render it as is) and, for a full
// run, docs/benchmark.md (bench/page.md with the tables put in).
//   node bench/report.js    rewrites docs/benchmark.md from bench/results/latest.json
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REFERENCE = 'lockedfile/flock';
const PEERS = new Set(['proper-lockfile', 'lockfile', 'fs-ext']);
// Fields of a result that are the measurement itself; any other field becomes a column.
const MEASURED = new Set(['impl', 'value', 'runs', 'points']);
const COLOURS = { ours: '#2563eb', peer: '#ea580c', baseline: '#9ca3af' };
// The scale chart needs one colour per line, still grouped by kind so ours reads as ours.
const SHADES = {
  ours: ['#1d4ed8', '#60a5fa'],
  peer: ['#c2410c', '#f59e0b', '#b91c1c', '#a16207'],
  baseline: ['#6b7280', '#9ca3af'],
};
const threeDigits = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 });
const whole = new Intl.NumberFormat('en-US');

/**
 * ratio says how many times the baseline's cost `result` is, so above 1 is worse whichever way
 * the unit points: value/baseline when lower is better, baseline/value when higher is.
 * Takes numbers or results carrying `value`; null when either is missing or not positive.
 */
export function ratio(result, baseline, better) {
  const value = typeof result === 'object' ? result?.value : result;
  const base = typeof baseline === 'object' ? baseline?.value : baseline;
  if (!(value > 0 && base > 0)) return null;
  return better === 'higher' ? base / value : value / base;
}

/** markdown renders the report as the machine line and one table per scenario. */
export function markdown(report) {
  const lines = [
    '## Benchmark results',
    '',
    escapeCell(machineLine(report.machine)),
    '',
    `Ratios compare each result with ${REFERENCE} in the same scenario: 2.00× costs twice as much, 0.50× half as much.`,
  ];
  for (const scenario of report.scenarios) lines.push('', ...table(scenario));
  return `${lines.join('\n')}\n`;
}

function table(scenario) {
  const { results, series } = scenario;
  const reference = results.find((result) => result.impl === REFERENCE);
  const extras = extraKeys(results);
  const measured = series ? series.map((n) => `${n} process${n === 1 ? '' : 'es'}`) : [scenario.unit];
  const header = ['impl', ...measured, `vs ${REFERENCE}`, ...extras];
  const rows = results.map((result) => [
    result.impl,
    ...(series
      ? series.map((n) => cell(result.points?.find((point) => point.processes === n)?.value, '–'))
      : [cell(result.value, '–')]),
    times(ratio(result, reference, scenario.better)),
    ...extras.map((key) => cell(result[key], '', extra)),
  ]);
  // Numbers right-aligned, text (impl, setting, error) left-aligned.
  const numeric = (key) => results.every((result) => result[key] == null || typeof result[key] === 'number');
  const align = [':--', ...measured.map(() => '--:'), '--:', ...extras.map((key) => (numeric(key) ? '--:' : ':--'))];
  const atLargest = series ? `; the ratio is at ${Math.max(...series)} processes` : '';
  return [
    `### ${escapeCell(scenario.title)}`,
    '',
    `${scenario.unit}, ${scenario.better} is better${atLargest}.`,
    '',
    ...[header, align, ...rows].map((row) => `| ${row.map(escapeCell).join(' | ')} |`),
    ...(scenario.note ? ['', `*${escapeCell(scenario.note).replace(/[*_]/g, '\\$&')}*`] : []),
  ];
}

// Extra columns in the order they first appear, with `error` last since it is the longest.
function extraKeys(results) {
  const keys = new Set(results.flatMap((result) => Object.keys(result)).filter((key) => !MEASURED.has(key)));
  const hasError = keys.delete('error');
  return [...keys, ...(hasError ? ['error'] : [])];
}

function cell(value, missing, format = number) {
  if (value === null || value === undefined) return missing;
  return typeof value === 'number' ? format(value) : String(value).replace(/\s+/g, ' ');
}

// Measurements get three significant digits; counts in extra columns (lost, fdGrowth) stay exact.
const number = (value) => threeDigits.format(value);
const extra = (value) => (Number.isInteger(value) ? whole : threeDigits).format(value);
// A pipe would end the cell, and a '<' could open an HTML tag on GitHub.
const escapeCell = (text) => text.replace(/\|/g, '\\|').replace(/</g, '&lt;');
const times = (value) => (value === null ? '–' : `${value >= 100 ? number(value) : value.toPrecision(3)}×`);
const machineLine = (m) => `node ${m.node} · ${m.os} · ${m.cpus} × ${m.cpu} · ${m.date} · ${m.mode} run`;

/** svg draws the report as one standalone SVG document, a chart per scenario stacked vertically. */
export function svg(report) {
  const parts = [
    text(16, 26, 'lockedfile benchmarks', { 'font-size': 16, 'font-weight': 'bold' }),
    text(16, 46, machineLine(report.machine), { fill: '#555' }),
  ];
  const kinds = [['ours', 'lockedfile'], ['peer', 'peer libraries'], ['baseline', 'baselines (no library)']];
  kinds.forEach(([kind, label], i) => {
    parts.push(rect(16 + i * 170, 58, 12, 12, COLOURS[kind]), text(34 + i * 170, 69, label));
  });
  let top = 90;
  for (const scenario of report.scenarios) {
    const panel = scenario.series ? lineChart(scenario, top) : barChart(scenario, top);
    parts.push(...panel.parts);
    top += panel.height + 24;
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="${top}" viewBox="0 0 800 ${top}" font-family="sans-serif">`,
    rect(0, 0, 800, top, '#fff'),
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

const LABEL_X = 190;
const BAR_X = 200;
const BAR_MAX = 400; // leaves room for "52,000 lock/release per s" after the longest bar
const ROW = 24;

function barChart(scenario, top) {
  const scale = axis(scenario.results.map((result) => result.value), BAR_MAX);
  const parts = panelTitle(scenario, top, scale.log);
  const rowsTop = top + 44;
  const bottom = rowsTop + scenario.results.length * ROW;
  for (const tick of scale.ticks) {
    const x = BAR_X + scale.at(tick);
    parts.push(line(x, rowsTop - 4, x, bottom, '#e5e7eb'));
    parts.push(text(x, bottom + 12, number(tick), { 'font-size': 10, 'text-anchor': 'middle', fill: '#888' }));
  }
  scenario.results.forEach((result, i) => {
    const y = rowsTop + i * ROW;
    parts.push(text(LABEL_X, y + 14, result.impl, { 'text-anchor': 'end' }));
    if (typeof result.value !== 'number') {
      parts.push(missing(BAR_X, y + 14, result));
      return;
    }
    const width = Math.max(scale.at(result.value), 1); // a zero still shows where the bar would be
    parts.push(rect(BAR_X, y + 3, width, 16, COLOURS[kind(result.impl)]));
    parts.push(text(BAR_X + width + 6, y + 15, `${number(result.value)} ${scenario.unit}`, { 'font-size': 11 }));
  });
  return { parts, height: bottom + 16 - top };
}

const PLOT = { left: 80, width: 460, height: 160 };

function lineChart(scenario, top) {
  const { series, results } = scenario;
  const drawn = results.filter((result) => result.points?.some((point) => typeof point.value === 'number'));
  const scale = axis(drawn.flatMap((result) => result.points.map((point) => point.value)), PLOT.height);
  const parts = panelTitle(scenario, top, scale.log);
  const plotTop = top + 48;
  const plotBottom = plotTop + PLOT.height;
  // Process counts are the measured categories (1, 2, 4...), so they are spaced evenly.
  const xAt = (processes) => PLOT.left + (series.indexOf(processes) / Math.max(series.length - 1, 1)) * PLOT.width;
  const yAt = (value) => plotBottom - scale.at(value);
  for (const tick of scale.ticks) {
    parts.push(line(PLOT.left, yAt(tick), PLOT.left + PLOT.width, yAt(tick), '#e5e7eb'));
    parts.push(text(PLOT.left - 6, yAt(tick) + 4, number(tick), { 'font-size': 10, 'text-anchor': 'end', fill: '#888' }));
  }
  for (const n of series) {
    parts.push(text(xAt(n), plotBottom + 16, String(n), { 'font-size': 10, 'text-anchor': 'middle', fill: '#888' }));
  }
  parts.push(text(PLOT.left + PLOT.width / 2, plotBottom + 32, 'contending processes', { 'text-anchor': 'middle' }));
  const used = { ours: 0, peer: 0, baseline: 0 };
  drawn.forEach((result, i) => {
    const shades = SHADES[kind(result.impl)];
    const colour = shades[used[kind(result.impl)]++ % shades.length];
    const points = result.points
      .filter((point) => series.includes(point.processes) && typeof point.value === 'number')
      .map((point) => [px(xAt(point.processes)), px(yAt(point.value))]);
    parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const [x, y] of points) parts.push(`<circle cx="${x}" cy="${y}" r="3" fill="${colour}"/>`);
    const legendY = plotTop + i * 18;
    parts.push(line(PLOT.left + PLOT.width + 20, legendY, PLOT.left + PLOT.width + 40, legendY, colour, 3));
    parts.push(text(PLOT.left + PLOT.width + 46, legendY + 4, result.impl));
  });
  const absent = results.filter((result) => !drawn.includes(result));
  absent.forEach((result, i) => parts.push(missing(PLOT.left, plotBottom + 52 + i * 16, result, `${result.impl} `)));
  return { parts, height: PLOT.height + 48 + 40 + absent.length * 16 };
}

function panelTitle(scenario, top, log) {
  const subtitle = `${scenario.unit} · ${scenario.better} is better${log ? ' · log scale' : ''}`;
  return [
    text(16, top + 16, scenario.title, { 'font-size': 14, 'font-weight': 'bold' }),
    text(16, top + 32, subtitle, { fill: '#555' }),
  ];
}

// Log scale when the values span more than 20×: from the decade below the smallest, so every
// bar has length, to the largest itself, so no width is spent past it. Otherwise linear from
// zero, and always when a value is zero or below (a growth figure: the log would hide it).
function axis(values, length) {
  const numbers = values.filter((value) => typeof value === 'number');
  const positive = numbers.filter((value) => value > 0);
  const low = Math.min(...positive);
  const high = Math.max(...positive, 0);
  if (positive.length > 0 && positive.length === numbers.length && high / low > 20) {
    const from = Math.ceil(Math.log10(low)) - 1;
    const to = Math.log10(high);
    const ticks = Array.from({ length: Math.floor(to + 1e-9) - from + 1 }, (_, i) => 10 ** (from + i));
    const at = (value) => (length * (Math.log10(Math.max(value, 10 ** from)) - from)) / (to - from);
    return { log: true, ticks, at };
  }
  const step = 10 ** Math.floor(Math.log10(high || 1));
  const ceiling = Math.ceil((high || 1) / step) * step;
  const ticks = positive.length > 0 ? [0, ceiling / 2, ceiling] : []; // no numbers to read against
  return { log: false, ticks, at: (value) => (length * Math.max(value, 0)) / ceiling };
}

const kind = (impl) => (impl.startsWith('lockedfile') ? 'ours' : PEERS.has(impl) ? 'peer' : 'baseline');
const px = (n) => Math.round(n * 10) / 10;
const xml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const attributes = (map) => Object.entries(map).map(([key, value]) => ` ${key}="${xml(value)}"`).join('');
const text = (x, y, content, style = {}) =>
  `<text x="${px(x)}" y="${px(y)}"${attributes({ 'font-size': 12, fill: '#222', ...style })}>${xml(content)}</text>`;
const rect = (x, y, width, height, fill) =>
  `<rect x="${px(x)}" y="${px(y)}" width="${px(width)}" height="${px(height)}" fill="${fill}"/>`;
const line = (x1, y1, x2, y2, stroke, width = 1) =>
  `<line x1="${px(x1)}" y1="${px(y1)}" x2="${px(x2)}" y2="${px(y2)}" stroke="${stroke}" stroke-width="${width}"/>`;
const missing = (x, y, result, prefix = '') =>
  text(x, y, `${prefix}not available: ${result.error ?? 'no result'}`, { fill: '#888', 'font-style': 'italic' });

const page = fileURLToPath(new URL('./page.md', import.meta.url));
const docsPage = fileURLToPath(new URL('../docs/benchmark.md', import.meta.url));

/** writePage writes docs/benchmark.md: bench/page.md with the report's tables in place of {{tables}}. */
export function writePage(report) {
  const tables = markdown(report).replace(/^## Benchmark results\n/, '## Results\n');
  writeFileSync(docsPage, readFileSync(page, 'utf8').replace('{{tables}}', tables.trimEnd()));
}

/** writeReports writes latest.md, latest.json and latest.svg into `dir`, creating it; returns the markdown. */
export function writeReports(report, dir) {
  mkdirSync(dir, { recursive: true });
  const tables = markdown(report);
  writeFileSync(join(dir, 'latest.md'), tables);
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.svg'), svg(report));
  return tables;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writePage(JSON.parse(readFileSync(new URL('./results/latest.json', import.meta.url), 'utf8')));
}
