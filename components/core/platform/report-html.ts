/**
 * Reports as standalone HTML: charts written as Vega-Lite specs and rendered to SVG on the server by
 * Vega, so a report is one file that opens in any browser with no scripts and no network.
 */
import type { TopLevelSpec } from 'vega-lite';

export type { TopLevelSpec as ChartSpec } from 'vega-lite';

export async function chartSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded on first use: Vega is large, and most commands that import the platform draw no chart.
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  // Category names are long ("Phones, Mobile Phones & Telecoms"): let axis labels use the room.
  const withConfig = { ...spec, config: { axis: { labelLimit: 260 } } } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(withConfig).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface Figure {
  title: string;
  note: string;
  /** SVG (or other trusted HTML) of the figure; empty for a note alone. */
  body: string;
}

export function htmlReport(report: { title: string; facts: [string, string | number][]; figures: Figure[]; footer: string }): string {
  const facts = report.facts
    .map(([name, value]) => `<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(String(value))}</td></tr>`)
    .join('\n');
  const sections = report.figures
    .map((f) => `<section><h2>${escapeHtml(f.title)}</h2><p>${escapeHtml(f.note)}</p>${f.body}</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(report.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}h2{margin-top:2.5rem}
table{border-collapse:collapse}td,th{padding:.2rem .8rem;border-bottom:1px solid #ddd;text-align:left}svg{max-width:100%;height:auto}</style></head>
<body><h1>${escapeHtml(report.title)}</h1>
<table>${facts}</table>
${sections}
<p><small>${escapeHtml(report.footer)}</small></p>
</body></html>
`;
}
