import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];

/** Every installed package (nested ones too) that runs an install script, including node-gyp's implicit one. */
function packagesWithInstallScripts(dir: string, found = new Set<string>()): Set<string> {
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      packagesWithInstallScripts(join(dir, entry), found);
      continue;
    }
    const manifestPath = join(dir, entry, 'package.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      name?: string;
      scripts?: Record<string, string>;
    };
    const scripts = manifest.scripts ?? {};
    const implicitGyp = existsSync(join(dir, entry, 'binding.gyp')) && !scripts['install'] && !scripts['preinstall'];
    if (manifest.name && (INSTALL_SCRIPTS.some((name) => scripts[name]) || implicitGyp)) found.add(manifest.name);
    packagesWithInstallScripts(join(dir, entry, 'node_modules'), found);
  }
  return found;
}

describe('package.json', () => {
  // npm 11 runs a dependency's install scripts only when allowScripts approves them: without better-sqlite3's,
  // the SQLite driver is never built and the bot cannot start.
  it('approves the install scripts of exactly the installed packages that have them', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      allowScripts?: Record<string, boolean>;
    };
    const approved = Object.entries(manifest.allowScripts ?? {})
      .filter(([, allowed]) => allowed)
      .map(([name]) => name.replace(/(?<=.)@.*$/, ''));
    const needed = [...packagesWithInstallScripts(join(root, 'node_modules'))].sort();
    expect(needed).toContain('better-sqlite3');
    expect(approved.sort()).toEqual(needed);
  });
});
