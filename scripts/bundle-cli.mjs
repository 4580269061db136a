// Bundle the CLI (`make build` runs this after tsc): every module it loads —
// packages/famfs-cli, -core, -fuse, native's wrappers, commander — into one
// CommonJS file, packages/famfs-cli/dist/bundle/cli.cjs, and a V8 code cache
// for it (cli.cjs.cache). bin/famfs and bin/mkfs.famfs run it through
// packages/famfs-cli/bundle/loader.cjs: one file read and no compilation
// instead of resolving, reading and compiling a hundred ES modules, which is
// most of what a short command costs.
//
// What stays out of the bundle, loaded from where it is when needed: the
// native addon (.node), protobufjs (only commands that talk to a mount
// daemon use it), the daemon's own entry (a separate process); and a few
// Node built-ins are loaded at their first use (lazyBuiltins). Every
// `import.meta.url` in the bundled modules is replaced by the URL of the
// module's own file, so paths relative to a module (the addon, the .proto,
// package.json) resolve as they do unbundled.
//
// Then the cache is trained: the bundle runs a few commands in this process
// (mkfs, fsck, creat, logplay, help, on a small scratch image) so that the
// functions they use are compiled into it too. The cache is only valid for
// this node binary and these flags; elsewhere V8 rejects it and the CLI
// compiles from source (correct, only slower).
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'packages/famfs-cli');
const OUT = path.join(CLI, 'dist/bundle/cli.cjs');
const ENTRY = path.join(CLI, 'dist/index.js');

if (!fs.existsSync(ENTRY)) {
  process.stderr.write(`bundle-cli: ${ENTRY} missing: run tsc first (pnpm run build)\n`);
  process.exit(1);
}

/** The package a file belongs to: its name and the file's path inside it (the nearest package.json above it). */
function packageOf(file) {
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) return { name: JSON.parse(fs.readFileSync(pj, 'utf8')).name, rel: path.relative(dir, file) };
  }
  throw new Error(`bundle-cli: ${file} is in no package`);
}

/**
 * `import.meta.url` of a workspace module → its own file's URL, found at run
 * time through its package (`require.resolve('@famfs/fuse/package.json')`
 * from the bundle), so that it means the same file in the checkout and in an
 * npm install, where the packages lie elsewhere relative to the bundle.
 */
const ownUrl = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.js$/ }, async (args) => {
      const src = await fs.promises.readFile(args.path, 'utf8');
      if (!src.includes('import.meta.url')) return undefined;
      const { name, rel } = packageOf(args.path);
      return { contents: src.replaceAll('import.meta.url', `__famfsModuleUrl(${JSON.stringify(name)}, ${JSON.stringify(rel)})`), loader: 'js' };
    });
  },
};

/**
 * Node built-in modules that cost start-up time to load and that short
 * commands never use (sockets, processes, zlib and its streams, crypto): in
 * the bundle each becomes an object of getters that loads the real module on
 * the first property read. The names are this node's (a name a later node
 * adds reads through as the real module would not have it: undefined).
 */
const LAZY_BUILTINS = ['child_process', 'crypto', 'dgram', 'net', 'zlib'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(build) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    build.onResolve({ filter }, (args) => (args.namespace === 'lazy-builtin' ? undefined : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' }));
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
      const names = Object.keys(createRequire(import.meta.url)(`node:${args.path}`)).filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k));
      const getters = names.map((k) => `  get ${k}() { return load().${k}; },`).join('\n');
      return {
        contents: `let m;\nconst load = () => (m ??= require('node:${args.path}'));\nmodule.exports = {\n${getters}\n};\n`,
        loader: 'js',
      };
    });
  },
};

const result = await esbuild.build({
  entryPoints: [ENTRY],
  outfile: OUT,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  plugins: [ownUrl, lazyBuiltins],
  banner: {
    js: [
      '// The famfs-ts CLI, bundled by scripts/bundle-cli.mjs (do not edit: `make build` remakes it).',
      'const __famfsPackageDirs = new Map();',
      "const __famfsModuleUrl = (pkg, rel) => { let d = __famfsPackageDirs.get(pkg); if (d === undefined) { d = require('node:path').dirname(require.resolve(`${pkg}/package.json`)); __famfsPackageDirs.set(pkg, d); } return require('node:url').pathToFileURL(require('node:path').join(d, rel)).href; };",
    ].join('\n'),
  },
  metafile: true,
  logLevel: 'warning',
});
const inputs = Object.keys(result.metafile.inputs);
for (const bad of ['protobufjs', '.node']) {
  if (inputs.some((i) => i.includes(bad))) throw new Error(`bundle-cli: ${bad} must not be in the bundle`);
}

// train the code cache: a scratch image, a few commands in this process
const { train } = createRequire(import.meta.url)(path.join(CLI, 'bundle/loader.cjs'));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-bundle-'));
try {
  const cache = await train(async (cli) => {
    const img = path.join(scratch, 'train.img');
    const env = { FAMFS_SYSTEM_UUID: '7f3c2a10-5e4b-4d6a-9b8c-1e2f3a4b5c6d' };
    const runs = [
      ['mkfs', ['--create-size', '64m', img]],
      ['famfs', ['fsck', img]],
      ['famfs', ['-D', img, 'mkdir', 'd']],
      ['famfs', ['-D', img, 'creat', '-s', '2m', 'd/f']],
      ['famfs', ['-D', img, 'logplay']],
      ['famfs', ['-D', img, 'ls', '-l']],
      ['famfs', ['--help']],
      ['famfs', ['creat', '--help']],
      ['mkfs', ['--help']],
    ];
    for (const [which, argv] of runs) {
      const io = cli.bufferIo(env);
      const status = await (which === 'famfs' ? cli.runFamfs : cli.runMkfsFamfs)(argv, io);
      if (status !== 0) throw new Error(`bundle-cli: training run ${which} ${argv.join(' ')} exited ${status}: ${io.stderr}`);
    }
  });
  const kb = (f) => `${(fs.statSync(f).size / 1024).toFixed(0)} KiB`;
  console.log(`bundle-cli: ${path.relative(ROOT, OUT)} (${kb(OUT)}, ${inputs.length} modules), code cache ${kb(cache)}`);
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
