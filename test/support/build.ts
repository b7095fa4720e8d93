import { execFileSync } from 'node:child_process';

/**
 * Vitest's global setup: builds dist/ once, before any test file runs. The tests that start the real entry point
 * as a child process (`node dist/src/main.js`, what `npm start` runs) need it; building in each of those files
 * rewrote dist/ while another file's bot processes were loading it.
 */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
