// Inline SVG charts for the report index: a time axis labelled with date and time (UTC) at
// round steps, and one marker shape per verdict so failed and interrupted runs stand out
// in colour and in shape (readable in grey print too).
import { esc, VERDICT_COLOR } from './html.js';
import type { Verdict } from './report-schema.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const STEPS = [MIN, 5 * MIN, 15 * MIN, 30 * MIN, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 365 * DAY];

export interface TimeScale {
  t0: number;
  t1: number;
  x(t: number): number;
  ticks: number[];
}

/** A scale over [t0, t1] mapped to [left, right], with at most `maxTicks` ticks at a round step. */
export function timeScale(times: number[], left: number, right: number, maxTicks = 7): TimeScale {
  let t0 = Math.min(...times);
  let t1 = Math.max(...times);
  if (t1 - t0 < 10 * MIN) {
    // One run, or runs minutes apart: an hour around them.
    t0 -= 30 * MIN;
    t1 += 30 * MIN;
  }
  const pad = (t1 - t0) * 0.04;
  t0 -= pad;
  t1 += pad;
  const step = STEPS.find((s) => (t1 - t0) / s <= maxTicks) ?? STEPS.at(-1)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) ticks.push(t);
  return { t0, t1, ticks, x: (t) => left + ((t - t0) / (t1 - t0)) * (right - left) };
}

/** Tick labels in two lines: the date, then the time (UTC). */
export function timeAxis(scale: TimeScale, y: number, top: number): string {
  return scale.ticks
    .map((t) => {
      const iso = new Date(t).toISOString();
      const x = scale.x(t).toFixed(1);
      return `<line x1="${x}" y1="${top}" x2="${x}" y2="${y}" stroke="#eceff3"/><line x1="${x}" y1="${y}" x2="${x}" y2="${y + 5}" stroke="#8a93a3"/>
<text x="${x}" y="${y + 19}" font-size="12" fill="#3d4452" text-anchor="middle" class="tick">${iso.slice(0, 10)}</text><text x="${x}" y="${y + 34}" font-size="12" fill="#5b6474" text-anchor="middle" class="tick">${iso.slice(11, 16)}</text>`;
    })
    .join('\n');
}

/** A run's marker: pass a filled dot in its series colour, fail a red cross, interrupted an orange ring, error a grey square. */
export function marker(verdict: Verdict, x: number, y: number, color: string, title?: string, href?: string): string {
  const t = title ? `<title>${esc(title)}</title>` : '';
  let shape: string;
  switch (verdict) {
    case 'pass':
      shape = `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="6" fill="${color}" class="run pass">${t}</circle>`;
      break;
    case 'fail':
      shape = `<path d="M${(x - 7).toFixed(1)},${(y - 7).toFixed(1)} L${(x + 7).toFixed(1)},${(y + 7).toFixed(1)} M${(x - 7).toFixed(1)},${(y + 7).toFixed(1)} L${(x + 7).toFixed(1)},${(y - 7).toFixed(1)}" stroke="${VERDICT_COLOR.fail}" stroke-width="4" stroke-linecap="round" class="run fail">${t}</path>`;
      break;
    case 'interrupted':
      shape = `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="6" fill="#fff" stroke="${VERDICT_COLOR.interrupted}" stroke-width="3" class="run interrupted">${t}</circle>`;
      break;
    default:
      shape = `<rect x="${(x - 6).toFixed(1)}" y="${(y - 6).toFixed(1)}" width="12" height="12" fill="${VERDICT_COLOR.error}" class="run error">${t}</rect>`;
  }
  return href ? `<a href="${esc(href)}">${shape}</a>` : shape;
}

/** A small standalone marker for legends. */
export function legendMarker(verdict: Verdict, color: string): string {
  return `<svg width="18" height="18" viewBox="0 0 18 18" aria-hidden="true">${marker(verdict, 9, 9, color)}</svg>`;
}

export function legendLine(color: string): string {
  return `<svg width="26" height="18" viewBox="0 0 26 18" aria-hidden="true"><line x1="1" y1="9" x2="25" y2="9" stroke="${color}" stroke-width="3"/><circle cx="13" cy="9" r="5" fill="${color}"/></svg>`;
}
