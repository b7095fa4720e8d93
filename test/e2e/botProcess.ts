import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The compiled entry point, exactly what `npm start` runs. */
export const MAIN = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

/**
 * The node flags `npm start` runs the bot with (package.json's start script), so the child-process tests and
 * the bench run exactly what operators run.
 */
export function startNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    scripts: { start: string };
  };
  const flags = /\bnode((?:\s+--\S+)*)\s+dist\/src\/main\.js/.exec(pkg.scripts.start)?.[1];
  if (flags === undefined) throw new Error('package.json start script does not run node dist/src/main.js');
  return flags.split(/\s+/).filter(Boolean);
}

/** The real bot as a separate process, with its log lines collected. */
export class BotProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(env: Record<string, string>, cwd: string) {
    this.child = spawn(process.execPath, [...startNodeFlags(), MAIN], {
      cwd,
      // Only what the test gives: no .env of the developer's, no inherited tokens.
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts.filter(Boolean));
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves when a log line contains `text` (checks lines already logged first). */
  async waitForLog(text: string, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.find((l) => l.includes(text));
      if (line) return line;
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(
          `no log line with ${JSON.stringify(text)}; got:\n${this.lines.slice(-20).join('\n')}\n${this.stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL') {
    this.child.kill(signal);
    return this.exited;
  }
}
