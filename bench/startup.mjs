// Benchmark: what one CLI process costs, side by side with `node -e 0` (the
// floor: Node's own start-up) measured in the same run; and whole-process
// `famfs fsck` / `famfs -D IMG logplay` of a full 256 MiB log (493,447 entries)
// against the issue's absolute targets.
//
// Every figure is per process: CPU = user + system time of the child (bash's
// `time` keyword: getrusage(RUSAGE_CHILDREN) deltas, microsecond resolution),
// wall = elapsed time around it. Each command runs REPS times in a row; the
// table shows the median and the best. Ratios are medians over medians, CPU
// decides whether a target is met (wall is shown too: on a shared machine it
// includes waiting for a core). Peak RSS: GNU time's %M (maxrss), when
// /usr/bin/time is there.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { FAMFS, MiB, ROOT, fmt, log, mkImage, record, table, workDir } from './lib.mjs';
import { makeFullLogImage } from './log-image.mjs';

const REPS = Number(process.env.BENCH_STARTUP_REPS ?? 20);
const LOOP = Number(process.env.BENCH_STARTUP_LOOP ?? 100);
const LOOP_REPS = Number(process.env.BENCH_STARTUP_LOOP_REPS ?? 3);
const BIG_REPS = Number(process.env.BENCH_STARTUP_BIG_REPS ?? 5);
const work = workDir();
// bin/famfs runs the bundled CLI only when the bundle is newer than the last tsc build
const loader = path.join(ROOT, 'packages/famfs-cli/bundle/loader.cjs');
const bundled = fs.existsSync(loader) && createRequire(import.meta.url)(loader).bundleIsCurrent();
if (!bundled) log('startup: NOTE: no current CLI bundle (`make build` makes it): measuring the unbundled CLI');
const cliKind = bundled ? 'bundled CLI' : 'unbundled CLI';
const TAG = bundled ? 'startup' : 'startup (unbundled CLI)';
const GNU_TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/**
 * Run `cmd args` `reps` times in a row, in one bash, each under bash's `time`
 * keyword; returns per-run {cpu, wall} in ms. `{i}` in an argument becomes the
 * run's number. stdout/stderr of the command are discarded; a run that exits
 * other than `okExit` fails the benchmark.
 */
function timed(cmd, args, reps, { okExit = 0, rss = false } = {}) {
  const rssFile = path.join(work, 'rss.txt');
  const pre = rss && GNU_TIME ? [GNU_TIME, '-f', '%M', '-o', rssFile] : [];
  const script = [
    'TIMEFORMAT="%3R %3U %3S"',
    `for ((i = 0; i < ${reps}; i++)); do`,
    // `time` reports on this shell's stderr; the command's own output goes away
    '  { time "${@//\\{i\\}/$i}" >/dev/null 2>"$ERRFILE"; } 2>>"$TIMEFILE"; rc=$?',
    `  if [ "$rc" != ${okExit} ]; then cat "$ERRFILE" >&2; echo "exit $rc" >&2; exit 1; fi`,
    ...(pre.length > 0 ? ['  cat "$RSSFILE" >>"$RSSALL"'] : []),
    'done',
  ].join('\n');
  const timeFile = path.join(work, 'times.txt');
  const rssAll = path.join(work, 'rss-all.txt');
  fs.rmSync(timeFile, { force: true });
  fs.rmSync(rssAll, { force: true });
  const r = spawnSync('bash', ['-c', script, 'bash', ...pre, cmd, ...args], {
    encoding: 'utf8',
    env: { ...process.env, TIMEFILE: timeFile, ERRFILE: path.join(work, 'err.txt'), RSSFILE: rssFile, RSSALL: rssAll },
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  // bash's `time` prints one line per run: real user sys (seconds); `time` of a
  // function/loop is not used, so each line is exactly one process
  const runs = fs.readFileSync(timeFile, 'utf8').trim().split('\n').map((l) => {
    const [real, user, sys] = l.trim().split(/\s+/).map(Number);
    return { wall: real * 1000, cpu: (user + sys) * 1000 };
  });
  const maxrss = pre.length > 0 && fs.existsSync(rssAll)
    ? Math.max(...fs.readFileSync(rssAll, 'utf8').trim().split('\n').map((l) => Number(l.trim().split(/\s+/).pop())))
    : undefined;
  return { runs, maxrss };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const min = (xs) => Math.min(...xs);
const stats = (runs) => ({
  cpu: median(runs.map((r) => r.cpu)), cpuBest: min(runs.map((r) => r.cpu)),
  wall: median(runs.map((r) => r.wall)), wallBest: min(runs.map((r) => r.wall)),
});

// ---------------------------------------------------------------- single processes
const empty = path.join(work, 'startup-empty.img');
mkImage(empty, '8g');

// Interleaved, so that load changes hit every row alike: REPS rounds of one run each.
const rows = {
  node: { label: '`node -e 0` (baseline)', cmd: process.execPath, args: ['-e', '0'], runs: [] },
  version: { label: '`famfs --version`', cmd: FAMFS, args: ['--version'], runs: [] },
  help: { label: '`famfs --help` (detail)', cmd: FAMFS, args: ['--help'], runs: [] },
  fsck: { label: '`famfs fsck` of an empty 8 GiB image', cmd: FAMFS, args: ['fsck', empty], runs: [] },
};
// a CLI without --version (before it was added) fails with a usage error: time that
const probe = spawnSync(FAMFS, ['--version'], { encoding: 'utf8' });
if (probe.status !== 0) {
  rows.version.okExit = probe.status;
  rows.version.label += ` (not there: exits ${probe.status})`;
}
for (let i = 0; i < REPS; i++) {
  for (const row of Object.values(rows)) row.runs.push(...timed(row.cmd, row.args, 1, { okExit: row.okExit ?? 0 }).runs);
}
const s = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, stats(v.runs)]));

// ---------------------------------------------------------------- LOOP × creat vs LOOP × node -e 0
const loopImg = path.join(work, 'startup-creat.img');
const loopNode = [];
const loopCreat = [];
for (let rep = 0; rep < LOOP_REPS; rep++) {
  mkImage(loopImg, '8g');
  const n = timed(process.execPath, ['-e', '0'], LOOP).runs;
  loopNode.push({ cpu: n.reduce((a, r) => a + r.cpu, 0), wall: n.reduce((a, r) => a + r.wall, 0) });
  // the same way: one bash, LOOP processes `famfs -D IMG creat -s 2m fN`
  const c = timed(FAMFS, ['-D', loopImg, 'creat', '-s', '2m', 'f{i}'], LOOP).runs;
  loopCreat.push({ cpu: c.reduce((a, r) => a + r.cpu, 0), wall: c.reduce((a, r) => a + r.wall, 0) });
}
fs.rmSync(loopImg, { force: true });
const sLoopNode = stats(loopNode);
const sLoopCreat = stats(loopCreat);

const x = (a, b) => fmt.x(a / b);
const verdict = (ratio, target) => (ratio <= target ? 'yes' : 'no');
const perProcRows = [
  [rows.node.label, fmt.ms(s.node.cpu), fmt.ms(s.node.cpuBest), fmt.ms(s.node.wall), fmt.ms(s.node.wallBest), '1.00×', '1.00×', '', ''],
  ...[['version', 1.5], ['help', undefined], ['fsck', 2]].map(([k, target]) => [
    rows[k].label, fmt.ms(s[k].cpu), fmt.ms(s[k].cpuBest), fmt.ms(s[k].wall), fmt.ms(s[k].wallBest),
    x(s[k].cpu, s.node.cpu), x(s[k].wall, s.node.wall),
    target === undefined ? '—' : `≤ ${target}×`, target === undefined ? '—' : verdict(s[k].cpu / s.node.cpu, target),
  ]),
  [`${LOOP} × \`node -e 0\` (baseline)`, fmt.ms(sLoopNode.cpu), fmt.ms(sLoopNode.cpuBest), fmt.ms(sLoopNode.wall), fmt.ms(sLoopNode.wallBest), '1.00×', '1.00×', '', ''],
  [`${LOOP} × \`famfs -D IMG creat -s 2m fN\``, fmt.ms(sLoopCreat.cpu), fmt.ms(sLoopCreat.cpuBest), fmt.ms(sLoopCreat.wall), fmt.ms(sLoopCreat.wallBest),
    x(sLoopCreat.cpu, sLoopNode.cpu), x(sLoopCreat.wall, sLoopNode.wall), '≤ 2.5×', verdict(sLoopCreat.cpu / sLoopNode.cpu, 2.5)],
];
table(`Start-up (${cliKind}): one CLI process vs \`node -e 0\` (median of ${REPS}, interleaved; loops: median of ${LOOP_REPS})`,
  ['what', 'CPU', 'CPU best', 'wall', 'wall best', 'CPU ÷ node', 'wall ÷ node', 'target (CPU)', 'met?'], perProcRows);

for (const [k, target] of [['version', 1.5], ['fsck', 2]]) {
  record({
    benchmark: `${TAG}: ${rows[k].label.replaceAll('`', '')}`,
    ours: `${fmt.ms(s[k].cpu)} CPU / ${fmt.ms(s[k].wall)} wall`,
    baseline: `node -e 0: ${fmt.ms(s.node.cpu)} CPU / ${fmt.ms(s.node.wall)} wall`,
    ratio: `${x(s[k].cpu, s.node.cpu)} CPU / ${x(s[k].wall, s.node.wall)} wall`,
    target: `≤ ${target}× CPU`,
    met: verdict(s[k].cpu / s.node.cpu, target),
  });
}
record({
  benchmark: `${TAG}: ${LOOP} × famfs -D IMG creat -s 2m fN`,
  ours: `${fmt.ms(sLoopCreat.cpu)} CPU / ${fmt.ms(sLoopCreat.wall)} wall`,
  baseline: `${LOOP} × node -e 0: ${fmt.ms(sLoopNode.cpu)} CPU / ${fmt.ms(sLoopNode.wall)} wall`,
  ratio: `${x(sLoopCreat.cpu, sLoopNode.cpu)} CPU / ${x(sLoopCreat.wall, sLoopNode.wall)} wall`,
  target: '≤ 2.5× CPU',
  met: verdict(sLoopCreat.cpu / sLoopNode.cpu, 2.5),
});

// ---------------------------------------------------------------- a full 256 MiB log
const big = path.join(work, 'startup-256m.img');
const t0 = performance.now();
const made = makeFullLogImage(big, 256 * MiB, '256m', '2048g');
log(`startup: 256 MiB log: ${fmt.n(made.entries)} entries (${fmt.n(made.dirs)} mkdir, ${fmt.n(made.files)} file) made in ${fmt.ms(performance.now() - t0)}`);
const bigRows = [];
for (const [label, args] of [
  ['`famfs fsck IMG`', ['fsck', big]],
  ['`famfs -D IMG logplay`', ['-D', big, 'logplay']],
]) {
  const r = timed(FAMFS, args, BIG_REPS, { rss: true });
  const st = stats(r.runs);
  const rss = r.maxrss === undefined ? 'n/a' : `${(r.maxrss / 1024).toFixed(0)} MiB`;
  const met = st.cpu <= 500 && st.wall <= 800 ? 'yes' : st.cpu <= 500 ? 'CPU yes, wall no' : st.wall <= 800 ? 'wall yes, CPU no' : 'no';
  bigRows.push([label, fmt.ms(st.cpu), fmt.ms(st.cpuBest), fmt.ms(st.wall), fmt.ms(st.wallBest), rss, '≤ 500 ms CPU, ≤ 800 ms wall', met]);
  record({
    benchmark: `${TAG}: ${label.replaceAll('`', '')}, full 256 MiB log (${fmt.n(made.entries)} entries)`,
    ours: `${fmt.ms(st.cpu)} CPU / ${fmt.ms(st.wall)} wall, peak RSS ${rss}`,
    baseline: `node -e 0: ${fmt.ms(s.node.cpu)} CPU`,
    ratio: x(st.cpu, s.node.cpu),
    target: '≤ 500 ms CPU, ≤ 800 ms wall',
    met,
  });
}
fs.rmSync(big, { force: true });
table(`Full 256 MiB log (${fmt.n(made.entries)} entries, ${cliKind}): one process each (median of ${BIG_REPS})`,
  ['what', 'CPU', 'CPU best', 'wall', 'wall best', 'peak RSS', 'target', 'met?'], bigRows);
