// Figures of repeated runs: median and spread, and the readable table the bench prints.

export function sorted(xs: readonly number[]): number[] {
  return xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
}

export function median(xs: readonly number[]): number {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: readonly number[], p: number): number {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return 'n/a';
  const abs = Math.abs(x);
  const d = abs >= 100 ? Math.min(digits, 0) : abs >= 10 ? Math.min(digits, 1) : digits;
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }).replace(/,/g, ' ');
}

export interface Row {
  label: string;
  unit: string;
  samples: number[];
  digits: number;
  note: string;
  section: string;
}

/** The table: rows are printed as they are measured, and all of them again at the end. */
export class Report {
  readonly rows: Row[] = [];
  private sectionName = '';

  constructor(private readonly out: (line: string) => void) {}

  section(name: string): void {
    this.sectionName = name;
    this.out(`\n${name}`);
  }

  /** One figure of ≥ 1 run; the median is the figure, min–max its spread. Returns the median. */
  add(label: string, unit: string, samples: number[], opts: { digits?: number; note?: string } = {}): number {
    const row: Row = { label, unit, samples, digits: opts.digits ?? 0, note: opts.note ?? '', section: this.sectionName };
    this.rows.push(row);
    this.out(this.line(row));
    return median(samples);
  }

  /** A fact of the run (no runs, no spread). */
  note(label: string, text: string): void {
    const row: Row = { label, unit: '', samples: [], digits: 0, note: text, section: this.sectionName };
    this.rows.push(row);
    this.out(this.line(row));
  }

  line(r: Row): string {
    if (r.samples.length === 0) return `  ${r.label.padEnd(66)} ${r.note}`;
    const s = sorted(r.samples);
    const med = `${fmt(median(s), r.digits)} ${r.unit}`.trim();
    const spread = s.length > 1 ? `${fmt(s[0]!, r.digits)}–${fmt(s[s.length - 1]!, r.digits)}` : '';
    const runs = `${r.samples.length} run${r.samples.length > 1 ? 's' : ''}`;
    return `  ${r.label.padEnd(66)} ${med.padStart(14)}   ${spread.padEnd(17)} ${runs.padEnd(7)} ${r.note}`.trimEnd();
  }

  printAll(): void {
    this.out(`\n${'='.repeat(118)}\n  ${'figure'.padEnd(66)} ${'median'.padStart(14)}   ${'min–max'.padEnd(17)} runs`);
    let sec = '';
    for (const r of this.rows) {
      if (r.section !== sec) this.out(`  -- ${(sec = r.section)}`);
      this.out(this.line(r));
    }
  }
}
