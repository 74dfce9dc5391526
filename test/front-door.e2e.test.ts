import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './chromium';
import { client, connectTestRedis, startWholeSystem, testProcesses } from './support';

/*
 * The API as a front-end developer meets it (design §12), in Chromium: a page
 * of its own origin calls the front door, which it may when the origin is in
 * FRONTEND_URL, and may not when it is not; and the door's reference page
 * renders under its Content-Security-Policy.
 */

const redis = connectTestRedis();
const processes = testProcesses();
const userDataDir = mkdtempSync(join(tmpdir(), 'chromium-'));
let browser: BrowserContext | undefined;
const servers: http.Server[] = [];

afterAll(async () => {
  await browser?.close();
  rmSync(userDataDir, { recursive: true, force: true });
  for (const server of servers) server.close();
  await processes.stopAll('SIGTERM');
  await redis.quit();
});

/** A front-end's origin: a server of one blank page. */
const frontEnd = async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>a front-end</title><p>front-end</p>');
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

/** What the page's script sees of a cross-origin fetch: only what CORS exposes. */
interface Seen {
  status: number;
  body: Record<string, unknown>;
  etag: string | null;
  eventPosition: string | null;
  readPosition: string | null;
  requestId: string | null;
}

/** Runs fetches in the page (its origin), against the door; a refused one is `refused: <message>`. */
const inPage = (page: Page, door: string, email: string) =>
  page.evaluate(
    async ({ door, email }) => {
      const call = async (method: string, path: string, body?: unknown, headers = {}) => {
        const answer = await fetch(`${door}${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return {
          status: answer.status,
          body: (await answer.json()) as Record<string, unknown>,
          etag: answer.headers.get('etag'),
          eventPosition: answer.headers.get('x-event-position'),
          readPosition: answer.headers.get('x-read-position'),
          requestId: answer.headers.get('x-request-id'),
        };
      };
      try {
        const credentials = { email, password: 'a-long-password' };
        const registered = await call('POST', '/auth/register', { ...credentials, name: 'Front' });
        const login = await call('POST', '/auth/login', credentials);
        const auth = { authorization: `Bearer ${login.body.token as string}` };
        const created = await call(
          'POST',
          '/tasks',
          { title: 'From another origin' },
          { ...auth, 'idempotency-key': 'front-end-1' },
        );
        const replayed = await call(
          'POST',
          '/tasks',
          { title: 'From another origin' },
          { ...auth, 'idempotency-key': 'front-end-1' },
        );
        const read = await call('GET', `/tasks/${created.body.id as string}`, undefined, {
          ...auth,
          'x-min-position': created.eventPosition ?? '',
        });
        return { registered, login, created, replayed, read };
      } catch (error) {
        return `refused: ${(error as Error).message}`;
      }
    },
    { door, email },
  ) as Promise<Record<string, Seen> | string>;

describe('the front door from a browser', () => {
  let door: string;
  let listed: string;
  let unlisted: string;
  let identityLog: string;
  let taskLogs: string[];

  beforeAll(async () => {
    [listed, unlisted] = [await frontEnd(), await frontEnd()];
    const system = await startWholeSystem(redis, processes, { FRONTEND_URL: listed });
    identityLog = system.keys.identityLog;
    taskLogs = system.keys.logs().map((log) => log.key);
    door = system.urls.door;
    browser = await launchChromium(userDataDir);
  });

  it('lets a page of a FRONTEND_URL origin register, log in, write with Idempotency-Key and read its write back', async () => {
    const page = await browser!.newPage();
    await page.goto(listed);
    const seen = await inPage(page, door, 'front@example.com');
    if (typeof seen === 'string') throw new Error(seen);
    expect(seen.registered!.status).toBe(201);
    expect(seen.login!.status).toBe(200);
    expect(seen.created!.status).toBe(201);
    expect(seen.created!.etag).toBe('"0"');
    expect(seen.created!.eventPosition).toMatch(/^t\d+:\d+-\d+/);
    expect(seen.created!.requestId).toMatch(/\S/);
    // The same key answers the first result again, and nothing more is appended.
    expect(seen.replayed).toMatchObject({ status: 201, body: seen.created!.body });
    expect(seen.read!.status).toBe(200);
    expect(seen.read!.body).toMatchObject({
      id: seen.created!.body.id,
      title: 'From another origin',
    });
    expect(seen.read!.etag).toBe('"0"');
    expect(seen.read!.readPosition).toMatch(/\S/);
    await page.close();
  });

  it('refuses a page of any other origin in the browser, and nothing is appended', async () => {
    const lengths = async () =>
      Promise.all([identityLog, ...taskLogs].map((key) => redis.xlen(key)));
    const before = await lengths();
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(unlisted);
    expect(await inPage(page, door, 'elsewhere@example.com')).toBe('refused: Failed to fetch');
    expect(errors.join('\n')).toMatch(/blocked by CORS policy/);
    expect(await lengths()).toEqual(before);
    expect(
      (
        await client(door).post('/auth/login', {
          email: 'elsewhere@example.com',
          password: 'a-long-password',
        })
      ).status,
    ).toBe(401);
    await page.close();
  });

  it('renders the API reference at /docs under its Content-Security-Policy, with no violation', async () => {
    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || /Content.Security.Policy/i.test(message.text()))
        problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${door}/docs`);
    await page
      .locator('.opblock-summary-path', { hasText: '/tasks/{id}/history' })
      .first()
      .waitFor({
        timeout: 20_000,
      });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(30);
    expect(await page.locator('.info .title').textContent()).toMatch(/TaskSync API/);
    expect(problems).toEqual([]);
    await page.close();
  });
});
