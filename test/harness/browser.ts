// Headless Chromium for the dashboard's browser test: the OS package (Debian's `chromium`,
// installed by scripts/bootstrap.mjs --local), driven by playwright-core, which downloads no
// browser. A missing Chromium is an error that says what to install: the test fails, never
// skips. Each browser gets a fresh profile directory, removed when it closes.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Where Chromium is looked for: $DROVER_CHROMIUM, then the Debian/Ubuntu paths. */
export function findChromium(): string {
  const candidates = [process.env.DROVER_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `no Chromium found (looked at ${candidates.join(', ')}): the dashboard's browser test needs it. ` +
        'Run `node scripts/bootstrap.mjs --local` (as root with apt-get it installs it), or `apt-get install -y chromium`, or set DROVER_CHROMIUM=/path/to/chromium',
    );
  }
  return found;
}

/**
 * Without the background-networking flags Chromium opens connections of its own (updates,
 * sync, safe browsing) that are refused many at a time on a machine without the internet.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Messages the page logged and errors it threw (for a failing test's message). */
  console: string[];
  close(): Promise<void>;
}

export async function launchBrowser(opts: { width?: number; height?: number } = {}): Promise<TestBrowser> {
  const executablePath = findChromium();
  const profile = mkdtempSync(join(tmpdir(), 'drover-chromium-'));
  let context: BrowserContext;
  try {
    // A persistent context is how playwright takes a --user-data-dir of our choosing.
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 },
      timeout: 30_000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const log: string[] = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  return {
    context,
    page,
    console: log,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
