// Record which sources the built extension came from (tests/browser/test_lab_build.py
// recomputes it): a shipped build can never silently lag behind the TypeScript.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const files = [
  'package.json',
  'tsconfig.json',
  ...readdirSync('src').map(name => `src/${name}`),
  ...readdirSync('style').map(name => `style/${name}`)
].sort();
const hash = createHash('sha256');
for (const file of files) {
  hash.update(`${file}\0`);
  hash.update(readFileSync(file));
  hash.update('\0');
}
writeFileSync('../src/bookstore/labextension/sources.sha256', `${hash.digest('hex')}\n`);
