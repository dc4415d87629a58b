// Tiny HTML helpers for self-contained report pages (no external assets, no scripts).
// Long values (keys, hashes, GTID sets, JSON, error text) may wrap anywhere, so nothing
// widens a page beyond the window (checked at 1280 px in headless Chromium); short words
// that must stay whole (verdicts, depths, numbers) are marked `kw` or `num`.
export function esc(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

export function fmtValue(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined) return '–';
  return s < 60 ? `${s.toFixed(1)} s` : s < 3600 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** `2026-11-27 02:00:00 UTC` from an ISO time; the input unchanged when it is not one. */
export function utc(iso: string | null | undefined): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  return Number.isFinite(t) ? `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')} UTC` : iso;
}

/** Colours per verdict and per depth, shared by badges, charts and legends. */
export const VERDICT_COLOR = { pass: '#1f7a3a', fail: '#b3261e', error: '#5f6673', interrupted: '#b35c00' } as const;
export const DEPTH_COLOR = { integrity: '#7a5cc4', restore: '#2a5bd7', content: '#0f8a8a' } as const;

export const STYLE = `
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:72rem;padding:0 1.25rem;color:#1d2330;overflow-wrap:anywhere}
h1{font-size:1.5rem;margin:.2rem 0;display:flex;flex-wrap:wrap;align-items:center;gap:.6rem} h2{font-size:1.15rem;margin:1.8rem 0 .5rem}
.verdict{display:inline-block;padding:.3rem .9rem;border-radius:.4rem;font-weight:700;font-size:1.3rem;color:#fff}
.pass{background:${VERDICT_COLOR.pass}}.fail{background:${VERDICT_COLOR.fail}}.error{background:${VERDICT_COLOR.error}}.interrupted{background:${VERDICT_COLOR.interrupted}}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border-bottom:1px solid #dde1e8;padding:.3rem .5rem;text-align:left;vertical-align:top}
table.narrow{width:auto;min-width:24rem}
th{background:#f3f5f8;font-weight:600} td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap} .kw{white-space:nowrap;overflow-wrap:normal}
tr.bad td{background:#fdecea} tr.warn td{background:#fff4e0} code{font-size:.9em} .muted{color:#5b6474}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.25rem 1rem;margin:.5rem 0} dt{font-weight:600;overflow-wrap:normal} dd{margin:0}
.box{border:1px solid #c8ced8;border-radius:.4rem;padding:.6rem 1rem;margin:1rem 0;background:#f8f9fb}
.box h2{margin-top:.2rem}
.banner{border-radius:.4rem;padding:.6rem 1rem;margin:1rem 0;font-weight:600}
.banner.ok{background:#e6f4ea;border:1px solid ${VERDICT_COLOR.pass}}.banner.bad{background:#fdecea;border:1px solid ${VERDICT_COLOR.fail}}.banner.unknown{background:#fff4e0;border:1px solid ${VERDICT_COLOR.interrupted}}
.banner ul{font-weight:400;margin:.3rem 0 0}
details{border:1px solid #dde1e8;border-radius:.3rem;margin:.35rem 0;padding:.2rem .6rem} summary{cursor:pointer;padding:.2rem 0}
.def{color:#3d4452;font-size:.92em;margin:.1rem 0 .6rem}
svg{max-width:100%;height:auto;display:block}
.legend{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;list-style:none;padding:0;margin:.3rem 0 .8rem;font-size:.92em}
.legend li{display:flex;align-items:center;gap:.35rem} .legend svg{display:inline-block}
pre{white-space:pre-wrap}
h1,h2,th,summary{overflow-wrap:normal}
`;

export function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title><style>${STYLE}</style></head><body>\n${body}\n</body></html>\n`;
}
