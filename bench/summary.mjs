// Print the final summary table (markdown) from the rows the benchmarks recorded.
import * as fs from 'node:fs';

const file = process.argv[2];
const rows = fs.existsSync(file)
  ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
  : [];
const header = ['benchmark', 'ours', 'baseline', 'ratio', 'target', 'met?'];
const cells = rows.map((r) => [r.benchmark, r.ours, r.baseline, r.ratio, r.target, r.met]);
const all = [header, ...cells];
const w = header.map((_, i) => Math.max(3, ...all.map((r) => String(r[i]).length)));
const line = (r) => `| ${r.map((c, i) => String(c).padEnd(w[i])).join(' | ')} |`;
console.log('\n## Summary\n');
console.log([line(header), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...cells.map(line)].join('\n'));
console.log('\nratio: ours ÷ baseline — for rates (files/s, MB/s, GiB/s, IOPS) above 1 is better; for times (ms) below 1 is better,');
console.log('except where the cell says "(tmpfs ms ÷ ours)": that is speed relative to the baseline, so above 1 is better there too.');
