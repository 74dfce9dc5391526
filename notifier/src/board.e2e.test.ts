import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisClient, repoRoot } from '@tasksync/platform';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/redis-server';
import { connectTestRedis, serviceEnv, testProcesses } from '../../test/support';

const redis: RedisClient = connectTestRedis();
const { start, stopAll } = testProcesses();
let browser: BrowserContext | undefined;
const userDataDir = mkdtempSync(join(tmpdir(), 'chromium-'));
afterAll(async () => {
  await browser?.close();
  rmSync(userDataDir, { recursive: true, force: true });
  await stopAll('SIGTERM');
  await redis.quit();
});

const ARTIFACTS = join(repoRoot, 'test-artifacts');

/** Debian's Chromium, driven by playwright-core (no browser download). */
const launchChromium = () =>
  chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });

const register = async (page: Page, boardUrl: string, user: { name: string; email: string }) => {
  await page.goto(boardUrl);
  const form = page.locator('form#register');
  await form.locator('input[name=name]').fill(user.name);
  await form.locator('input[name=email]').fill(user.email);
  await form.locator('input[name=password]').fill('a-long-password');
  await form.locator('button[type=submit], input[type=submit]').first().click();
  // Registering signs in; the board is live once the feed has caught up.
  await page.locator('#connection[data-state=live]').waitFor({ timeout: 20_000 });
  await expect.poll(() => page.locator('#me').textContent()).toContain(user.name);
};

const card = (page: Page, title: string) =>
  page.locator('article.card', { has: page.locator('.card-title', { hasText: title }) });

describe('the live board in Chromium', () => {
  it('shows a task created and moved on one page on another page, without reload', async () => {
    const [identityPort, notifierPort] = [await freePort(), await freePort()];
    const { env, urls } = await serviceEnv(redis, {
      IDENTITY_PORT: String(identityPort),
      NOTIFIER_PORT: String(notifierPort),
      BCRYPT_COST: '4',
      CACHE_TTL_SECONDS: '0',
    });
    const boardUrl = `http://127.0.0.1:${notifierPort}`;
    const services: [string, string][] = [
      ['identity-service/src/main.ts', `http://127.0.0.1:${identityPort}`],
      ['command-service/src/main.ts', urls.command],
      ['projector/src/main.ts', urls.projector],
      ['query-service/src/main.ts', urls.query],
      ['notifier/src/main.ts', boardUrl],
    ];
    for (const [entry, url] of services) await start(entry, env, url);

    browser = await launchChromium();
    const [alice, bob] = [await browser.newPage(), await browser.newPage()];
    const failures: string[] = [];
    for (const page of [alice, bob]) {
      page.on('pageerror', (error) => failures.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') failures.push(message.text());
      });
    }
    await register(alice, boardUrl, { name: 'Alice', email: 'alice@example.com' });
    await register(bob, boardUrl, { name: 'Bob', email: 'bob@example.com' });

    const create = alice.locator('form#create-task');
    await create.locator('input[name=title]').fill('Ship the live board');
    await create.locator('button[type=submit]').click();

    // Bob never reloads: the card arrives over Socket.IO.
    const onBob = card(bob, 'Ship the live board');
    await expect.poll(() => onBob.getAttribute('data-status'), { timeout: 10_000 }).toBe('pending');
    expect(await bob.locator('section.column[data-status=pending] article.card').count()).toBe(1);

    await card(alice, 'Ship the live board').locator('button[data-move-to=in-progress]').click();
    await expect
      .poll(() => onBob.getAttribute('data-status'), { timeout: 10_000 })
      .toBe('in-progress');
    expect(
      await bob
        .locator('section.column[data-status=in-progress]')
        .locator('.card-title', { hasText: 'Ship the live board' })
        .count(),
    ).toBe(1);
    // Only the allowed moves are offered: from in-progress, completed and back to pending.
    const moves = await card(alice, 'Ship the live board')
      .locator('button[data-move-to]')
      .evaluateAll((buttons) => buttons.map((b) => b.getAttribute('data-move-to')).sort());
    expect(moves).toEqual(['completed', 'pending']);
    // Bob neither created nor holds the task: the API would refuse him, so no controls.
    expect(await onBob.locator('.card-actions').isHidden()).toBe(true);
    expect(await bob.locator('article.card').count()).toBe(1);

    mkdirSync(ARTIFACTS, { recursive: true });
    await bob.screenshot({ path: join(ARTIFACTS, 'board.png'), fullPage: true });
    expect(failures).toEqual([]);
  });
});
