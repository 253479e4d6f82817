/**
 * One benchmark report from the JSON lines the benchmarks print (`bench/run.sh` collects the last
 * JSON line of each bench/*.bench.ts into one file): every ratio measured in the run, side by side,
 * each line with the machine, the data size and both figures; written as report.md and report.html
 * (a bar chart of the ratios, rendered to SVG: one file, no scripts).
 *
 * Usage: node --import tsx bench/report.ts <results.jsonl> [--out dir] [--quick]
 *
 * Every ratio reads the same way: how many times better ours is than the baseline (above 1: ours
 * wins), whether the figure is a rate (ours ÷ baseline) or a time or latency (baseline ÷ ours).
 * A benchmark is understood in one of three ways, the first that applies:
 *  1. `ratios`: [{ measure, data?, ours: {label, value, unit}, baseline: {label, value, unit},
 *     higherIsBetter }]: the explicit form, for any new benchmark (serve, faiss);
 *  2. the shapes of the benchmarks that exist (clean, load, onnx, train, serve, faiss);
 *  3. `results` entries naming their `baseline` entry (by step, name, runtime, runner or label),
 *     with a rate (perSecond, qps, rps, samplesPerSecond) or seconds.
 * A line none of these fit, or a benchmark that failed, is listed as such: never dropped silently.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chartSvg, escapeHtml, htmlReport } from '../components/core/platform/report-html.js';

export interface Figure {
  label: string;
  value: number | null;
  unit: string;
}

export interface Ratio {
  benchmark: string;
  measure: string;
  data: string;
  ours: Figure;
  baseline: Figure;
  higherIsBetter: boolean;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
}

type Line = Record<string, unknown>;

export function thisMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  };
}

export const describeMachine = (m: Machine) => `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB`;

/** How many times better ours is (above 1: ours wins); null when a figure is missing. */
export function betterBy(r: Ratio): number | null {
  const { value: ours } = r.ours;
  const { value: base } = r.baseline;
  if (ours === null || base === null || !Number.isFinite(ours) || !Number.isFinite(base) || ours <= 0 || base <= 0) return null;
  return r.higherIsBetter ? ours / base : base / ours;
}

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const str = (x: unknown, fallback = ''): string => (typeof x === 'string' ? x : typeof x === 'number' ? String(x) : fallback);
const list = (x: unknown): Line[] => (Array.isArray(x) ? x.filter((i): i is Line => typeof i === 'object' && i !== null) : []);
const dataName = (line: Line) => (typeof line['data'] === 'string' ? line['data'] : '');

/** clean and load: {step, count, unit, seconds, baseline?: step}; compared as rates per item. */
function stepRatios(line: Line): Ratio[] {
  const results = list(line['results']);
  return results.flatMap((r) => {
    const base = results.find((b) => b['step'] === r['baseline']);
    if (!base) return [];
    const rate = (x: Line): Figure => ({
      label: str(x['step']),
      value: num(x['count']) !== null && num(x['seconds']) ? num(x['count'])! / num(x['seconds'])! : null,
      unit: `${str(x['unit'])}/s`,
    });
    const data = [
      dataName(line),
      `${str(r['count'])} ${str(r['unit'])}`,
      base['count'] !== r['count'] ? `(baseline ${str(base['count'])} ${str(base['unit'])})` : '',
    ]
      .filter(Boolean)
      .join(', ');
    return [
      { benchmark: str(line['benchmark']), measure: str(r['step']), data, ours: rate(r), baseline: rate(base), higherIsBetter: true },
    ];
  });
}

/** onnx: {model, runtime, items, unit, perSecond, baseline?: runtime of the same model}. */
function onnxRatios(line: Line): Ratio[] {
  const results = list(line['results']);
  return results.flatMap((r) => {
    const base = results.find((b) => b['model'] === r['model'] && b['runtime'] === r['baseline']);
    if (!base) return [];
    const figure = (x: Line): Figure => ({ label: str(x['runtime']), value: num(x['perSecond']), unit: `${str(x['unit'])}/s` });
    return [
      {
        benchmark: 'onnx',
        measure: `${str(r['model'])}: ${str(r['runtime'])}`,
        data: `${str(r['items'])} ${str(r['unit'])}`,
        ours: figure(r),
        baseline: figure(base),
        higherIsBetter: true,
      },
    ];
  });
}

/** train: quality vs the TF-IDF + LinearSVC floor; samples/s of each TF.js backend vs PyTorch. */
function trainRatios(line: Line): Ratio[] {
  const data = [dataName(line), str(line['snapshot'])].filter(Boolean).join(', ');
  const floor = (line['floor'] ?? null) as Line | null;
  const ours = (line['ours'] ?? {}) as Record<string, Line>;
  const paired = (line['paired'] ?? null) as Line | null;
  // McNemar's test says whether the accuracy difference on this test split is more than chance.
  const pairedNote = paired
    ? `; paired: ${str(paired['oursOnly'])} only ours right, ${str(paired['floorOnly'])} only floor, McNemar p ${num(paired['p'])?.toFixed(3) ?? 'n/a'}`
    : '';
  const examples = num(line['trainExamples']);
  const out: Ratio[] = [];
  for (const [name, figures] of Object.entries(ours)) {
    out.push({
      benchmark: 'train',
      measure: `test accuracy, ours (${name})`,
      data: `${data}${examples ? `, ${examples} training examples` : ''}${name === 'text' ? pairedNote : ''}`,
      ours: { label: `ours, ${name}`, value: num(figures['accuracy']), unit: 'accuracy' },
      baseline: { label: 'TF-IDF + LinearSVC (scikit-learn)', value: num(floor?.['accuracy']), unit: 'accuracy' },
      higherIsBetter: true,
    });
  }
  const throughput = list(line['throughput']);
  const torch = throughput.find((t) => str(t['runner']).startsWith('PyTorch'));
  for (const t of throughput.filter((t) => t !== torch)) {
    out.push({
      benchmark: 'train',
      measure: `training samples/s, ${str(t['runner'])}`,
      data: `${data}; ${str(t['note'])}`,
      ours: { label: str(t['runner']), value: num(t['samplesPerSecond']), unit: 'samples/s' },
      baseline: { label: torch ? str(torch['runner']) : 'PyTorch', value: num(torch?.['samplesPerSecond']), unit: 'samples/s' },
      higherIsBetter: true,
    });
  }
  return out;
}

/** serve, search modes: hybrid /search against today's dense-only /search, and the lexical index's memory. */
function searchModeRatios(line: Line): Ratio[] {
  const modes = list(line['modes']);
  if (modes.length === 0) return [];
  const data = `${str(line['products'])} products (${dataName(line)}), ${str(line['compareSeconds'])} s each, same title queries`;
  const out: Ratio[] = [];
  for (const phase of modes.filter((p) => str(p['name']).startsWith('hybrid'))) {
    const where = str(phase['name']).replace(/^hybrid \/search, /, '');
    const dense = modes.find((p) => str(p['name']) === `today's dense-only /search, ${where}`);
    // `where`: "64 connections (median of 3)".
    for (const [measure, key, unit, higher] of [
      ['requests/s', 'perSecond', 'requests/s', true],
      ['p50', 'p50', 'ms', false],
      ['p99', 'p99', 'ms', false],
    ] as const) {
      out.push({
        benchmark: 'serve',
        measure: `/search ${measure}, ${where}`,
        data,
        ours: { label: 'hybrid (BM25F + dense)', value: num(phase[key]), unit },
        baseline: { label: "today's dense-only", value: num(dense?.[key]), unit },
        higherIsBetter: higher,
      });
    }
  }
  out.push({
    benchmark: 'serve',
    measure: 'memory: lexical index beside the FAISS product index',
    data,
    ours: { label: 'BM25F index in memory', value: num(line['lexicalMb']), unit: 'MB' },
    baseline: { label: 'FAISS product index file', value: num(line['denseIndexMb']), unit: 'MB' },
    higherIsBetter: false,
  });
  return out;
}

/** serve: the service vs FastAPI + uvicorn + faiss on the same index: throughput, p50, p99. */
function serveRatios(line: Line): Ratio[] {
  return [...similarRatios(line), ...searchModeRatios(line)];
}

function similarRatios(line: Line): Ratio[] {
  const ours = (line['ours'] ?? {}) as Line;
  const theirs = (line['baseline'] ?? {}) as Line;
  const missing = theirs['available'] === false;
  const baseLabel = missing ? `FastAPI + uvicorn + faiss: not available (${str(theirs['reason'])})` : 'FastAPI + uvicorn + faiss';
  const data = `${str(line['products'])} products (${dataName(line)}), ${str(line['connections'])} connections, ${str(line['compareSeconds'])} s each`;
  return [
    ['requests/s on /similar', 'perSecond', 'requests/s', true],
    ['p50 latency on /similar', 'p50', 'ms', false],
    ['p99 latency on /similar', 'p99', 'ms', false],
  ].map(([measure, key, unit, higher]) => ({
    benchmark: 'serve',
    measure: String(measure),
    data,
    ours: { label: 'ours (fastify + faiss-node)', value: num(ours[String(key)]), unit: String(unit) },
    baseline: { label: baseLabel, value: missing ? null : num(theirs[String(key)]), unit: String(unit) },
    higherIsBetter: higher === true,
  }));
}

/** faiss: faiss-node vs python3-faiss on the same index file and queries: QPS and recall. */
function faissRatios(line: Line): Ratio[] {
  const data = `${str(line['vectors'])} vectors of ${str(line['dim'])}, ${str(line['queries'])} queries, k ${str(line['k'])}`;
  return list(line['results']).flatMap((r) => {
    const node = (r['node'] ?? {}) as Line;
    const python = (r['python'] ?? null) as Line | null;
    const what = `${str(r['index'])}${r['efSearch'] ? ` (efSearch ${str(r['efSearch'])})` : ''}, ${r['mode'] === 'batch' ? 'all queries in one call' : 'one query per call'}`;
    return [
      ['QPS', 'qps', 'queries/s'],
      ['recall', 'recall', `recall@${str(line['k'])}`],
    ].map(([measure, key, unit]) => ({
      benchmark: 'faiss',
      measure: `${measure}, ${what}`,
      data,
      ours: { label: 'faiss-node', value: num(node[key!]), unit: unit! },
      baseline: {
        label: python ? 'python3-faiss' : `python3-faiss: ${str(line['python'], 'not available')}`,
        value: num(python?.[key!]),
        unit: unit!,
      },
      higherIsBetter: true,
    }));
  });
}

const NAME_KEYS = ['step', 'name', 'runtime', 'runner', 'label', 'server', 'library'];
const RATE_KEYS = ['perSecond', 'qps', 'rps', 'requestsPerSecond', 'samplesPerSecond'];

/** Any other benchmark with `results` that name their baseline. */
function genericRatios(line: Line): Ratio[] {
  const results = list(line['results']);
  const nameOf = (x: Line) => str(x[NAME_KEYS.find((k) => typeof x[k] === 'string') ?? ''], '?');
  return results.flatMap((r) => {
    if (typeof r['baseline'] !== 'string') return [];
    const base = results.find((b) => b !== r && nameOf(b) === r['baseline']);
    if (!base) return [];
    const rateKey = RATE_KEYS.find((k) => num(r[k]) !== null && num(base[k]) !== null);
    const figure = (x: Line): Figure =>
      rateKey ? { label: nameOf(x), value: num(x[rateKey]), unit: rateKey } : { label: nameOf(x), value: num(x['seconds']), unit: 's' };
    if (!rateKey && (num(r['seconds']) === null || num(base['seconds']) === null)) return [];
    const size = [str(r['count'] ?? r['items']), str(r['unit'])].filter(Boolean).join(' ');
    return [
      {
        benchmark: str(line['benchmark']),
        measure: nameOf(r),
        data: [dataName(line), size].filter(Boolean).join(', '),
        ours: figure(r),
        baseline: figure(base),
        higherIsBetter: rateKey !== undefined,
      },
    ];
  });
}

function explicitRatios(line: Line): Ratio[] {
  return list(line['ratios']).map((r) => {
    const figure = (x: unknown): Figure => {
      const f = (x ?? {}) as Line;
      return { label: str(f['label'], '?'), value: num(f['value']), unit: str(f['unit']) };
    };
    return {
      benchmark: str(line['benchmark']),
      measure: str(r['measure'], '?'),
      data: str(r['data'], dataName(line)),
      ours: figure(r['ours']),
      baseline: figure(r['baseline']),
      higherIsBetter: r['higherIsBetter'] !== false,
    };
  });
}

export function ratiosOf(line: Line): Ratio[] {
  if (Array.isArray(line['ratios'])) return explicitRatios(line);
  switch (line['benchmark']) {
    case 'clean':
    case 'load':
      return stepRatios(line);
    case 'onnx':
      return onnxRatios(line);
    case 'train':
      return trainRatios(line);
    case 'serve':
      return serveRatios(line);
    case 'faiss':
      return faissRatios(line);
    default:
      return genericRatios(line);
  }
}

const fmt = (x: number | null) => (x === null ? 'n/a' : x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(3));
const figureText = (f: Figure) => `${f.label}: ${fmt(f.value)} ${f.unit}`;
const ratioText = (r: Ratio) => {
  const x = betterBy(r);
  return x === null ? 'n/a' : `${fmt(x)}×`;
};

/** The search service under load across a hot swap (serve): no baseline, the figures themselves. */
export interface ServiceLoad {
  connections: number | null;
  seconds: number | null;
  swappedAfterSeconds: number | null;
  rssMb: { before: number | null; after: number | null };
  /** The three phases across the swap. */
  phases: LoadPhase[];
  /** Text search at fewer connections, after the swap. */
  sweep: LoadPhase[];
}

interface LoadPhase {
  name: string;
  requests: number | null;
  perSecond: number | null;
  p50: number | null;
  p99: number | null;
  failed: number;
  rssMb: number | null;
}

function loadPhase(p: Line): LoadPhase {
  return {
    name: str(p['name'], '?'),
    requests: num(p['requests']),
    perSecond: num(p['perSecond']),
    p50: num(p['p50']),
    p99: num(p['p99']),
    failed: (num(p['errors']) ?? 0) + (num(p['timeouts']) ?? 0) + (num(p['non2xx']) ?? 0),
    rssMb: num(p['rssMb']),
  };
}

function serviceLoadOf(line: Line): ServiceLoad | null {
  const phases = list(line['phases']).map(loadPhase);
  if (line['benchmark'] !== 'serve' || phases.length === 0) return null;
  const rss = (line['rssMb'] ?? {}) as Line;
  return {
    connections: num(line['connections']),
    seconds: num(line['seconds']),
    swappedAfterSeconds: num(line['swappedAfterSeconds']),
    rssMb: { before: num(rss['before']), after: num(rss['after']) },
    phases,
    sweep: [...list(line['sweep']), ...list(line['modes'])].map(loadPhase),
  };
}

const whole = (x: number | null) => (x === null ? 'n/a' : String(Math.round(x)));

function serviceLoadRows(load: ServiceLoad): string[][] {
  return [...load.phases, ...load.sweep].map((p) => [
    p.name,
    whole(p.requests),
    whole(p.perSecond),
    whole(p.p50),
    whole(p.p99),
    String(p.failed),
    whole(p.rssMb),
  ]);
}

const SERVICE_LOAD_HEADER = ['phase', 'requests', 'requests/s', 'p50 ms', 'p99 ms', 'failed', 'server RSS MB at the end'];

function serviceLoadSummary(load: ServiceLoad): string {
  const failed = load.phases.reduce((sum, p) => sum + p.failed, 0);
  return `${whole(load.connections)} connections for ${whole(load.seconds)} s in three phases; the new model and index landed ${fmt(load.swappedAfterSeconds)} s into the middle one; failed requests across the swap: ${failed}; server RSS ${fmt(load.rssMb.before)} MB before the load, ${fmt(load.rssMb.after)} MB after.`;
}

/** Wall time of each benchmark (and of the whole run), as bench/run.sh measured it. */
export interface Duration {
  benchmark: string;
  seconds: number;
}

export interface Report {
  machine: Machine;
  quick: boolean;
  ratios: Ratio[];
  serviceLoad: ServiceLoad | null;
  durations: Duration[];
  /** Benchmarks that failed or printed nothing this report understands. */
  notes: string[];
}

export function buildReport(lines: Line[], machine: Machine, quick: boolean, durations: Duration[] = []): Report {
  const ratios: Ratio[] = [];
  const notes: string[] = [];
  let serviceLoad: ServiceLoad | null = null;
  for (const line of lines) {
    serviceLoad = serviceLoadOf(line) ?? serviceLoad;
    const name = str(line['benchmark'], '(unnamed)');
    if (line['failed'] === true) {
      notes.push(`${name}: failed (exit code ${str(line['exitCode'], '?')}), no figures`);
      continue;
    }
    const found = ratiosOf(line);
    if (found.length === 0)
      notes.push(`${name}: printed no side-by-side figures this report understands: ${JSON.stringify(line).slice(0, 300)}`);
    ratios.push(...found);
  }
  return { machine, quick, ratios, serviceLoad, durations, notes };
}

export function markdown(report: Report): string {
  const machine = describeMachine(report.machine);
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  return [
    `# Benchmark report${report.quick ? ' (--quick: a sample)' : ''}`,
    '',
    `Machine: ${machine}; Node ${report.machine.node}. Every ratio is measured in the same run, on the same machine; "ours vs baseline" is how many times better ours is (above 1: ours wins; rates compare ours ÷ baseline, times and latencies baseline ÷ ours).`,
    '',
    '| benchmark | measure | machine | data | ours | baseline | ours vs baseline |',
    '|---|---|---|---|---:|---:|---:|',
    ...report.ratios.map(
      (r) =>
        `| ${[r.benchmark, r.measure, machine, r.data, figureText(r.ours), figureText(r.baseline), ratioText(r)].map(cell).join(' | ')} |`,
    ),
    ...(report.serviceLoad
      ? [
          '',
          '## The search service under load, across a hot swap',
          '',
          serviceLoadSummary(report.serviceLoad),
          '',
          `| ${SERVICE_LOAD_HEADER.join(' | ')} |`,
          `|---|${SERVICE_LOAD_HEADER.slice(1)
            .map(() => '---:')
            .join('|')}|`,
          ...serviceLoadRows(report.serviceLoad).map((row) => `| ${row.map(cell).join(' | ')} |`),
        ]
      : []),
    ...(report.notes.length ? ['', '## Not measured', '', ...report.notes.map((n) => `- ${n}`)] : []),
    ...(report.durations.length
      ? [
          '',
          '## Run time',
          '',
          '| benchmark | seconds |',
          '|---|---:|',
          ...report.durations.map((d) => `| ${cell(d.benchmark)} | ${whole(d.seconds)} |`),
        ]
      : []),
    '',
  ].join('\n');
}

export async function html(report: Report): Promise<string> {
  const measured = report.ratios.flatMap((r) => {
    const x = betterBy(r);
    return x === null ? [] : [{ name: `${r.benchmark}: ${r.measure}`, ratio: x, wins: x >= 1 ? 'ours better' : 'baseline better' }];
  });
  const chart = measured.length
    ? await chartSvg({
        width: 520,
        height: { step: 22 },
        data: { values: measured },
        layer: [
          {
            mark: 'bar',
            encoding: {
              y: { field: 'name', type: 'nominal', sort: null, title: null },
              x: {
                field: 'ratio',
                type: 'quantitative',
                scale: { type: 'log' },
                title: 'ours vs baseline (×, log scale; above 1: ours better)',
              },
              // Bars grow from 1 (a tie), right where ours is better, left where the baseline is: a log
              // scale has no zero to start a bar from.
              x2: { datum: 1 },
              color: {
                field: 'wins',
                type: 'nominal',
                title: null,
                scale: { domain: ['ours better', 'baseline better'], range: ['#3a7d44', '#b5523b'] },
              },
            },
          },
          { mark: { type: 'rule', color: '#222' }, encoding: { x: { datum: 1 } } },
        ],
      })
    : '';
  const rows = report.ratios
    .map(
      (r) =>
        `<tr>${[r.benchmark, r.measure, describeMachine(report.machine), r.data, figureText(r.ours), figureText(r.baseline), ratioText(r)].map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const table = `<table><tr>${['benchmark', 'measure', 'machine', 'data', 'ours', 'baseline', 'ours vs baseline'].map((h) => `<th>${h}</th>`).join('')}</tr>\n${rows}</table>`;
  const load = report.serviceLoad;
  const loadTable = load
    ? `<table><tr>${SERVICE_LOAD_HEADER.map((h) => `<th>${h}</th>`).join('')}</tr>\n${serviceLoadRows(load)
        .map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
        .join('\n')}</table>`
    : '';
  return htmlReport({
    title: `Benchmark report${report.quick ? ' (--quick: a sample)' : ''}`,
    facts: [
      ['CPU', report.machine.cpu],
      ['cores', report.machine.cores],
      ['memory', `${report.machine.memoryGiB} GiB`],
      ['Node', report.machine.node],
      ['ratios measured', measured.length],
      ...report.durations.map((d): [string, string] => [`${d.benchmark} (s)`, whole(d.seconds)]),
    ],
    figures: [
      {
        title: 'Ours vs baseline',
        note: 'How many times better ours is than the baseline measured in the same run (log scale).',
        body: chart,
      },
      { title: 'Every figure', note: 'Both figures of every ratio, with the data size.', body: table },
      ...(load ? [{ title: 'The search service under load, across a hot swap', note: serviceLoadSummary(load), body: loadTable }] : []),
      ...(report.notes.length ? [{ title: 'Not measured', note: report.notes.join(' · '), body: '' }] : []),
    ],
    footer: `Generated by bench/report.ts on ${new Date().toISOString()}.`,
  });
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: 'string', default: path.join('bench', 'report') },
      quick: { type: 'boolean', default: false },
      durations: { type: 'string' },
    },
  });
  const input = positionals[0];
  if (!input)
    throw new Error('usage: node --import tsx bench/report.ts <results.jsonl> [--out dir] [--quick] [--durations durations.jsonl]');
  const readLines = async (file: string): Promise<Line[]> =>
    (await readFile(file, 'utf8'))
      .split('\n')
      .filter((text) => text.trim())
      .map((text) => {
        try {
          return JSON.parse(text) as Line;
        } catch {
          return { benchmark: '(unreadable line)', failed: true, exitCode: 'n/a' };
        }
      });
  const lines = await readLines(input);
  const durations = values.durations
    ? (await readLines(values.durations)).flatMap((d) =>
        num(d['seconds']) === null ? [] : [{ benchmark: str(d['benchmark'], '?'), seconds: num(d['seconds'])! }],
      )
    : [];
  const report = buildReport(lines, thisMachine(), values.quick, durations);
  await mkdir(values.out, { recursive: true });
  await writeFile(path.join(values.out, 'report.md'), markdown(report));
  await writeFile(path.join(values.out, 'report.html'), await html(report));
  process.stdout.write(markdown(report));
  process.stderr.write(`bench: report in ${path.join(values.out, 'report.md')} and report.html (${report.ratios.length} ratios)\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
