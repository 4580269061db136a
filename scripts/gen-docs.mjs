// Writes the man pages and the bash completion generated from the CLI's
// command definitions (packages/famfs-cli/src/docs) into
// packages/famfs-cli/man and packages/famfs-cli/completion. Run by
// `pnpm run build` after the TypeScript build; `make install` installs them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('../packages/famfs-cli/', import.meta.url));
const { generatedDocs } = await import(path.join(pkg, 'dist/docs/index.js'));

const files = generatedDocs();
for (const dir of new Set(files.map((f) => path.dirname(f.file)))) {
  fs.rmSync(path.join(pkg, dir), { recursive: true, force: true });
  fs.mkdirSync(path.join(pkg, dir), { recursive: true });
}
for (const f of files) fs.writeFileSync(path.join(pkg, f.file), f.text);
console.log(`gen-docs: ${files.length} files in ${path.relative(process.cwd(), pkg) || '.'}/{${[...new Set(files.map((f) => path.dirname(f.file)))].join(',')}}`);
