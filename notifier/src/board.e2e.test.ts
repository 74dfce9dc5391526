import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareEntryIds, formatPosition } from '@tasksync/contracts';
import { createTokenService, type RedisClient, repoRoot } from '@tasksync/platform';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProcess } from '../../scripts/processes';
import { launchChromium } from '../../test/chromium';
import { client, connectTestRedis, startWholeSystem, testProcesses } from '../../test/support';

const redis: RedisClient = connectTestRedis();
const processes = testProcesses();
const { start, stopAll } = processes;
let browser: BrowserContext | undefined;
const userDataDir = mkdtempSync(join(tmpdir(), 'chromium-'));
afterAll(async () => {
  await browser?.close();
  rmSync(userDataDir, { recursive: true, force: true });
  await stopAll('SIGTERM');
  await redis.quit();
});

const ARTIFACTS = join(repoRoot, 'test-artifacts');
const SESSION_KEY = 'tasksync.session';
const SESSION_ENDED = 'Your session has ended. Please sign in again.';

/**
 * Console errors and uncaught exceptions of a page. Chromium reports a refused
 * WebSocket as a console error of its own; the tests that stop the notifier
 * cause those on purpose.
 */
const watchFailures = (page: Page, failures: string[]) => {
  page.on('pageerror', (error) => failures.push(error.message));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (/^WebSocket connection to '.*\/socket\.io\/.*' failed/.test(message.text())) return;
    failures.push(message.text());
  });
};

/** One Socket.IO connection of a page: the Engine.IO frames it sent and received. */
interface SocketFrames {
  sent: string[];
  received: string[];
}

/** Every Socket.IO connection a page opens, in order, with its frames. */
const watchSockets = (page: Page) => {
  const sockets: SocketFrames[] = [];
  page.on('websocket', (socket) => {
    if (!socket.url().includes('/socket.io/')) return;
    const frames: SocketFrames = { sent: [], received: [] };
    sockets.push(frames);
    socket.on('framesent', ({ payload }) => frames.sent.push(String(payload)));
    socket.on('framereceived', ({ payload }) => frames.received.push(String(payload)));
  });
  return sockets;
};

/** The handshakes (`40{auth}`) a connection sent. */
const handshakes = ({ sent }: SocketFrames) =>
  sent
    .filter((frame) => frame.startsWith('40'))
    .map((frame) => JSON.parse(frame.slice(2)) as { token: string; since?: string });

/** The Socket.IO messages (`42[name, data]`) a connection received, in order. */
const messages = ({ received }: SocketFrames) =>
  received
    .filter((frame) => frame.startsWith('42'))
    .map((frame) => JSON.parse(frame.slice(2)) as [string, { position?: string; reason?: string }]);

/** The messages that carry a position the board resumes from. */
const POSITIONED = ['event', 'live', 'resync', 'project-joined', 'project-left'];

/** Every position a connection was sent: each event's, and those of `live`, `resync` and membership. */
const positionsSent = (frames: SocketFrames) =>
  messages(frames).flatMap(([name, data]) =>
    POSITIONED.includes(name) && data.position ? data.position.split(',') : [],
  );

/** The latest of these positions per log, sorted. */
const latestPerLog = (positions: string[]) => {
  const latest = new Map<string, string>();
  for (const position of positions) {
    const [log, entryId] = position.split(':') as [string, string];
    const known = latest.get(log);
    if (!known || compareEntryIds(entryId, known) > 0) latest.set(log, entryId);
  }
  return [...latest].map(([log, entryId]) => formatPosition(log, entryId)).sort();
};

/** The board reads its snapshot with `GET /tasks?…` (through the door); each such read's X-Min-Position. */
const watchSnapshotReads = (page: Page) => {
  const reads: (string | null)[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname !== '/tasks') return;
    reads.push(request.headers()['x-min-position'] ?? null);
  });
  return reads;
};

const register = async (page: Page, boardUrl: string, user: { name: string; email: string }) => {
  await page.goto(boardUrl);
  const form = page.locator('form#register');
  await form.locator('input[name=name]').fill(user.name);
  await form.locator('input[name=email]').fill(user.email);
  await form.locator('input[name=password]').fill('a-long-password');
  await form.locator('button[type=submit], input[type=submit]').first().click();
  // Registering signs in; the board is live once the feed has caught up.
  await waitLive(page);
  await page.locator('#me', { hasText: user.name }).waitFor({ timeout: 10_000 });
};

const waitLive = (page: Page, timeout = 20_000) =>
  page.locator('#connection[data-state=live]').waitFor({ timeout });

const card = (page: Page, title: string) =>
  page.locator('article.card', { has: page.locator('.card-title', { hasText: title }) });

const statusOf = (page: Page, title: string) => card(page, title).getAttribute('data-status');

/** Adds a task with the board's form, to the project shown. */
const addTask = async (page: Page, title: string) => {
  const form = page.locator('form#create-task');
  await form.locator('input[name=title]').fill(title);
  await form.locator('button[type=submit]').click();
};

/** A project in the switcher, by its exact name. */
const projectItem = (page: Page, name: string) =>
  page.locator('#project-list .project-item', {
    has: page.locator('.project-item-name', { hasText: new RegExp(`^${name}$`) }),
  });

const projectNames = (page: Page) =>
  page.locator('#project-list .project-item-name').allTextContents();

const shownProject = (page: Page) => page.locator('#project-name').textContent();

/** Creates a project with the board's form; the board then shows it. */
const createProject = async (page: Page, name: string) => {
  const panel = page.locator('details#new-project');
  if ((await panel.getAttribute('open')) === null) await panel.locator('summary').click();
  const form = page.locator('form#create-project');
  await form.locator('input[name=name]').fill(name);
  await form.getByRole('button', { name: 'Create project' }).click();
  await expect.poll(() => shownProject(page), { timeout: 10_000 }).toBe(name);
};

/** A page's sessionStorage, in page.evaluate (this file is type-checked without the DOM). */
interface PageGlobals {
  sessionStorage: {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
  };
}

const sessionOf = (page: Page) =>
  page.evaluate(
    (key) =>
      JSON.parse((globalThis as unknown as PageGlobals).sessionStorage.getItem(key) ?? 'null') as {
        token: string;
        user: { id: string; name: string; role: 'member' | 'admin' };
      } | null,
    SESSION_KEY,
  );

describe('the live board in Chromium', () => {
  let boardUrl: string;
  let notifierUrl: string;
  let env: NodeJS.ProcessEnv;
  let commandUrl: string;
  let notifier: RunningProcess;
  let alice: Page;
  let bob: Page;
  let bobSockets: SocketFrames[];
  let bobSnapshotReads: (string | null)[];
  const failures: string[] = [];

  beforeAll(async () => {
    const system = await startWholeSystem(redis, processes, { CACHE_TTL_SECONDS: '0' });
    env = system.env;
    commandUrl = system.urls.command;
    // The board is opened where users open it: the front door (design §12).
    boardUrl = system.urls.door;
    notifierUrl = system.urls.notifier;
    notifier = system.notifier;

    browser = await launchChromium(userDataDir);
    [alice, bob] = [await browser.newPage(), await browser.newPage()];
    for (const page of [alice, bob]) watchFailures(page, failures);
    bobSockets = watchSockets(bob);
    bobSnapshotReads = watchSnapshotReads(bob);
    await register(alice, boardUrl, { name: 'Alice', email: 'alice@example.com' });
    await register(bob, boardUrl, { name: 'Bob', email: 'bob@example.com' });
  });

  /** Stops the notifier; the pages' sockets drop and they keep trying to reconnect. */
  const stopNotifier = async () => {
    await notifier.stop('SIGTERM');
    for (const page of [alice, bob]) {
      await page.locator('#connection[data-state=connecting]').waitFor({ timeout: 10_000 });
    }
  };

  const startNotifier = async (extra: Record<string, string> = {}) => {
    notifier = await start('notifier/src/main.ts', { ...env, ...extra }, notifierUrl);
  };

  /** Commands sent straight to the command-service as Alice, while no notifier runs. */
  const asAlice = async () => {
    const token = (await sessionOf(alice))!.token;
    const api = client(commandUrl);
    const expectWritten = (
      answer: { status: number; body: { position: string } },
      status: number,
    ) => {
      expect(answer.status).toBe(status);
      return answer.body.position;
    };
    return {
      create: async (title: string) => {
        const answer = await api.post('/tasks', { title }, { token });
        return { id: answer.body.id as string, position: expectWritten(answer, 201) };
      },
      start: async (id: string) =>
        expectWritten(await api.patch(`/tasks/${id}`, { status: 'in-progress' }, { token }), 200),
      comment: async (id: string, text: string) =>
        expectWritten(await api.post(`/tasks/${id}/comments`, { text }, { token }), 201),
    };
  };

  it('shows a task created and moved on one page on another page, without reload', async () => {
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

  it('shows a comment on the page that wrote it and on another page with the task open, once', async () => {
    const title = 'Write the release notes';
    const create = alice.locator('form#create-task');
    await create.locator('input[name=title]').fill(title);
    await create.locator('button[type=submit]').click();
    await expect.poll(() => statusOf(bob, title), { timeout: 10_000 }).toBe('pending');

    // Bob opens the task first; the comment must reach his open card live.
    await card(bob, title).getByRole('button', { name: 'Details' }).click();
    await expect
      .poll(() => card(bob, title).locator('.comments li').allTextContents())
      .toEqual(['No comments yet.']);
    await card(alice, title).getByRole('button', { name: 'Details' }).click();
    const form = card(alice, title).locator('form.comment-form');
    await form.locator('textarea[name=text]').fill('Ship them on Friday');
    await form.getByRole('button', { name: 'Comment' }).click();

    for (const page of [bob, alice]) {
      const comments = card(page, title).locator('.comments li.comment');
      await expect
        .poll(() => comments.locator('p').allTextContents(), { timeout: 10_000 })
        .toEqual(['Ship them on Friday']);
      expect(await comments.locator('.comment-head strong').allTextContents()).toEqual(['Alice']);
      expect(await card(page, title).locator('.comment-count').textContent()).toBe('1 comment');
    }
    // Sent: the form is ready for the next comment.
    expect(await form.locator('textarea[name=text]').inputValue()).toBe('');
    expect(failures).toEqual([]);
  });

  it('assigns a task: the assignee sees it, is told once, and may now change it', async () => {
    const title = 'Write the release notes';
    const onBob = card(bob, title);
    expect(await onBob.locator('.card-actions').isHidden()).toBe(true);

    await card(alice, title).locator('.card-actions select[name=assigneeId]').selectOption({
      label: 'Bob',
    });

    await expect
      .poll(() => onBob.locator('.card-assignee').textContent(), { timeout: 10_000 })
      .toBe('Bob');
    expect(await onBob.locator('.avatar').textContent()).toBe('B');
    expect(await card(alice, title).locator('.card-assignee').textContent()).toBe('Bob');
    // An assignee may change the task: Bob now has its controls.
    expect(await onBob.locator('.card-actions').isHidden()).toBe(false);
    expect(await onBob.locator('.card-actions select[name=assigneeId]').inputValue()).toBe(
      (await sessionOf(bob))!.user.id,
    );
    await expect
      .poll(() => bob.locator('#toasts .toast p').allTextContents(), { timeout: 10_000 })
      .toEqual([`Alice assigned “${title}” to you.`]);
    // Alice assigned it herself: no notice for her.
    expect(await alice.locator('#toasts .toast').count()).toBe(0);
    expect(failures).toEqual([]);
  });

  it('deletes a task on the second click: it leaves both pages', async () => {
    const title = 'Write the release notes';
    const cardsBefore = await bob.locator('article.card').count();
    // Bob holds the task but did not create it: only its creator (or an admin) may delete it.
    expect(await card(bob, title).getByRole('button', { name: 'Delete' }).isHidden()).toBe(true);

    const remove = card(alice, title).locator('.card-tools button.danger');
    await remove.click();
    // The first click only arms the button.
    expect(await remove.textContent()).toBe('Confirm delete');
    expect(await card(bob, title).count()).toBe(1);
    await remove.click();

    for (const page of [bob, alice]) {
      await expect.poll(() => card(page, title).count(), { timeout: 10_000 }).toBe(0);
      expect(await page.locator('article.card').count()).toBe(cardsBefore - 1);
      const pending = page.locator('section.column[data-status=pending]');
      expect(await pending.locator('[data-count]').textContent()).toBe(
        String(await pending.locator('article.card').count()),
      );
    }
    expect(failures).toEqual([]);
  });

  it('shares a private project live: the owner adds a person by e-mail, then removes them', async () => {
    let bobLoads = 0;
    const countLoad = () => bobLoads++;
    bob.on('load', countLoad);
    const bobFrames = bobSockets.at(-1)!;

    await createProject(alice, 'Apollo');
    const apolloId = (await projectItem(alice, 'Apollo').getAttribute('data-project-id'))!;
    expect(await projectItem(alice, 'Apollo').getAttribute('aria-current')).toBe('true');
    expect(await projectItem(alice, 'Apollo').locator('.project-item-role').textContent()).toBe(
      'Owner',
    );
    expect(await alice.locator('#project-visibility').textContent()).toBe('Private');
    // The new project's columns: none of General's cards.
    expect(await alice.locator('article.card').count()).toBe(0);
    await addTask(alice, 'Plan the launch');
    await expect
      .poll(() => statusOf(alice, 'Plan the launch'), { timeout: 10_000 })
      .toBe('pending');
    expect(await projectNames(bob)).not.toContain('Apollo');

    await alice.locator('#show-members').click();
    const members = alice.locator('#member-list');
    await expect
      .poll(() => members.locator('.member-name').allTextContents(), { timeout: 10_000 })
      .toEqual(['Alice (you)']);
    const add = alice.locator('form#add-member');
    await add.locator('input[name=email]').fill('bob@example.com');
    await add.locator('select[name=role]').selectOption('editor');
    await add.getByRole('button', { name: 'Add member' }).click();
    await expect
      .poll(() => members.locator('.member-name').allTextContents(), { timeout: 10_000 })
      .toEqual(['Alice (you)', 'Bob']);
    expect(await members.getByRole('combobox', { name: 'Role of Bob' }).inputValue()).toBe(
      'editor',
    );

    // Bob's board, never reloaded, lists the project once he is in, with his role and its task.
    await expect.poll(() => projectNames(bob), { timeout: 10_000 }).toContain('Apollo');
    const bobsApollo = projectItem(bob, 'Apollo');
    expect(await bobsApollo.locator('.project-item-role').textContent()).toBe('Editor');
    await expect.poll(() => bobsApollo.locator('.count').textContent()).toBe('1');
    await bobsApollo.click();
    expect(await shownProject(bob)).toBe('Apollo');
    await expect.poll(() => statusOf(bob, 'Plan the launch')).toBe('pending');
    expect(await bob.locator('article.card').count()).toBe(1);
    // An editor adds tasks but manages neither the project nor its members.
    expect(await bob.locator('#create-task-panel').isVisible()).toBe(true);
    expect(await bob.locator('#show-members').isHidden()).toBe(true);
    expect(await bob.locator('#edit-project').isHidden()).toBe(true);
    // Nothing of the project reached Bob's socket before he was in it.
    const joinedAt = bobFrames.received.findIndex(
      (frame) => frame.startsWith('42["project-joined"') && frame.includes(apolloId),
    );
    expect(joinedAt).toBeGreaterThan(-1);
    expect(
      bobFrames.received
        .slice(0, joinedAt)
        .filter((frame) => frame.includes(apolloId) || frame.includes('Plan the launch')),
    ).toEqual([]);

    // Both follow the project's feed now.
    await addTask(bob, 'Book the venue');
    await expect.poll(() => statusOf(alice, 'Book the venue'), { timeout: 10_000 }).toBe('pending');

    await members.getByRole('button', { name: 'Remove Bob' }).click();
    await expect
      .poll(() => members.locator('.member-name').allTextContents(), { timeout: 10_000 })
      .toEqual(['Alice (you)']);
    // Gone from Bob's switcher, live; he was in it, so his board shows General again.
    await expect.poll(() => projectNames(bob), { timeout: 10_000 }).not.toContain('Apollo');
    await expect.poll(() => shownProject(bob)).toBe('General');
    await expect
      .poll(() => bob.locator('#toasts .toast p').allTextContents())
      .toContain('You no longer have access to “Apollo”. Showing General.');
    expect(await card(bob, 'Plan the launch').count()).toBe(0);
    expect(await card(bob, 'Book the venue').count()).toBe(0);
    expect(await card(bob, 'Ship the live board').count()).toBe(1);
    // Its tasks left his board too, not only its columns: General's are all it holds.
    expect(await projectItem(bob, 'General').locator('.count').textContent()).toBe(
      String(await bob.locator('article.card').count()),
    );
    expect(bobLoads).toBe(0);
    bob.off('load', countLoad);
    await alice.screenshot({ path: join(ARTIFACTS, 'board-project.png'), fullPage: true });
    expect(failures).toEqual([]);
  });

  it('adds a task to the project shown, and moves cards between projects', async () => {
    await createProject(alice, 'Beta');
    await addTask(alice, 'Draft the budget');
    await expect
      .poll(() => statusOf(alice, 'Draft the budget'), { timeout: 10_000 })
      .toBe('pending');
    expect(await alice.locator('article.card').count()).toBe(1);

    await projectItem(alice, 'Apollo').click();
    expect(await shownProject(alice)).toBe('Apollo');
    const plan = card(alice, 'Plan the launch');
    // Alice may create tasks in General and Beta: those are where the card may go.
    expect(
      await plan
        .getByRole('combobox', { name: 'Move to project' })
        .locator('option')
        .allTextContents(),
    ).toEqual(['Move to…', 'General', 'Beta']);
    await plan.getByRole('combobox', { name: 'Move to project' }).selectOption({ label: 'Beta' });
    await expect.poll(() => plan.count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => projectItem(alice, 'Beta').locator('.count').textContent()).toBe('2');
    expect(await projectItem(alice, 'Apollo').locator('.count').textContent()).toBe('1');
    await projectItem(alice, 'Beta').click();
    await expect.poll(() => statusOf(alice, 'Plan the launch')).toBe('pending');
    expect((await alice.locator('article.card .card-title').allTextContents()).sort()).toEqual([
      'Draft the budget',
      'Plan the launch',
    ]);

    // Out of a project Bob sees, into one he does not: the card leaves his board live.
    await projectItem(alice, 'General').click();
    await addTask(alice, 'Leaving General');
    await expect.poll(() => statusOf(bob, 'Leaving General'), { timeout: 10_000 }).toBe('pending');
    await card(alice, 'Leaving General')
      .getByRole('combobox', { name: 'Move to project' })
      .selectOption({ label: 'Beta' });
    await expect.poll(() => card(bob, 'Leaving General').count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => card(alice, 'Leaving General').count()).toBe(0);
    expect(await projectItem(alice, 'Beta').locator('.count').textContent()).toBe('3');
    expect(failures).toEqual([]);
  });

  it('renames, archives and restores a project, and a member leaves it, all seen live', async () => {
    await projectItem(alice, 'Beta').click();
    if (await alice.locator('#members-panel').isHidden())
      await alice.locator('#show-members').click();
    const add = alice.locator('form#add-member');
    await add.locator('input[name=email]').fill('bob@example.com');
    await add.locator('select[name=role]').selectOption('viewer');
    await add.getByRole('button', { name: 'Add member' }).click();
    await expect.poll(() => projectNames(bob), { timeout: 10_000 }).toContain('Beta');
    await projectItem(bob, 'Beta').click();
    expect(await projectItem(bob, 'Beta').locator('.project-item-role').textContent()).toBe(
      'Viewer',
    );
    await expect.poll(() => bob.locator('article.card').count()).toBe(3);
    // A viewer comments, and nothing more.
    expect(await bob.locator('#create-task-panel').isHidden()).toBe(true);
    expect(await bob.locator('article.card .card-actions:visible').count()).toBe(0);
    expect(await bob.locator('article.card .move-project:visible').count()).toBe(0);
    const budget = card(bob, 'Draft the budget');
    await budget.getByRole('button', { name: 'Details' }).click();
    expect(await budget.locator('form.comment-form').isVisible()).toBe(true);

    await alice.locator('#edit-project').click();
    const settings = alice.locator('form#project-settings');
    expect(await settings.locator('input[name=name]').inputValue()).toBe('Beta');
    await settings.locator('input[name=name]').fill('Beta launch');
    await settings.locator('textarea[name=description]').fill('Everything for the launch');
    await settings.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => shownProject(bob), { timeout: 10_000 }).toBe('Beta launch');
    expect(await bob.locator('#project-description').textContent()).toBe(
      'Everything for the launch',
    );
    expect(await projectNames(bob)).toContain('Beta launch');
    // Closed once the command is answered, which may come after the event reached Bob.
    await expect.poll(() => settings.isHidden()).toBe(true);

    await alice.getByRole('button', { name: 'Archive' }).click();
    await expect
      .poll(() => bob.locator('#project-archived').isVisible(), { timeout: 10_000 })
      .toBe(true);
    expect(
      await bob.locator('#archived-project-list .project-item-name').allTextContents(),
    ).toEqual(['Beta launch']);
    expect(await projectNames(bob)).not.toContain('Beta launch');
    // Read-only: no comment form for Bob; for its owner no new task, card controls or member changes.
    expect(await budget.locator('form.comment-form').isHidden()).toBe(true);
    await expect.poll(() => alice.locator('#create-task-panel').isHidden()).toBe(true);
    expect(await alice.locator('article.card .card-actions:visible').count()).toBe(0);
    expect(await alice.locator('#members-panel').isVisible()).toBe(true);
    expect(await alice.locator('form#add-member').isHidden()).toBe(true);
    expect(await alice.locator('#member-list select:visible').count()).toBe(0);
    await alice.getByRole('button', { name: 'Restore' }).click();
    await expect
      .poll(() => bob.locator('#project-archived').isHidden(), { timeout: 10_000 })
      .toBe(true);
    expect(await projectNames(bob)).toContain('Beta launch');
    await expect.poll(() => alice.locator('#create-task-panel').isVisible()).toBe(true);
    expect(await alice.locator('form#add-member').isVisible()).toBe(true);

    // Leaving is armed by the first click, done by the second.
    const leave = bob.getByRole('button', { name: 'Leave project' });
    await leave.click();
    await bob.getByRole('button', { name: 'Confirm leaving' }).click();
    await expect.poll(() => projectNames(bob), { timeout: 10_000 }).not.toContain('Beta launch');
    await expect.poll(() => shownProject(bob)).toBe('General');
    await expect
      .poll(() => alice.locator('#member-list .member-name').allTextContents(), {
        timeout: 10_000,
      })
      .toEqual(['Alice (you)']);
    expect(failures).toEqual([]);
  });

  it('asks to sign in again when the token expires', async () => {
    const { user } = (await sessionOf(bob))!;
    // The services sign for an hour at least; this token, signed with their secret, lasts seconds.
    const { token } = createTokenService({ secret: env.JWT_SECRET!, ttlSeconds: 8 }).sign({
      userId: user.id,
      role: user.role,
    });
    const page = await browser!.newPage();
    watchFailures(page, failures);
    const sockets = watchSockets(page);
    await page.goto(boardUrl);
    await page.evaluate(
      ({ key, session }) =>
        (globalThis as unknown as PageGlobals).sessionStorage.setItem(key, JSON.stringify(session)),
      { key: SESSION_KEY, session: { token, user } },
    );
    await page.reload();
    await waitLive(page, 7_000);
    expect(await card(page, 'Ship the live board').count()).toBe(1);

    await page.locator('#auth-view').waitFor({ state: 'visible', timeout: 20_000 });
    expect(await page.locator('#login .form-error').textContent()).toBe(SESSION_ENDED);
    expect(await page.locator('#board-view').isHidden()).toBe(true);
    expect(await page.locator('#session').isHidden()).toBe(true);
    expect(await page.locator('#connection').getAttribute('data-state')).toBe('offline');
    expect(await page.locator('article.card').count()).toBe(0);
    expect(await sessionOf(page)).toBeNull();
    // It was the feed's `expired` that ended the session, on the one connection it had.
    expect(sockets).toHaveLength(1);
    expect(messages(sockets[0]!).filter(([name]) => name === 'expired')).toEqual([
      ['expired', { detail: 'The token has expired.' }],
    ]);
    await page.close();
    expect(failures).toEqual([]);
  });

  it('resumes with since when its socket drops, and gets what it missed exactly once', async () => {
    const opened = bobSockets.length;
    const snapshotReads = bobSnapshotReads.length;

    await stopNotifier();
    const alicesApi = await asAlice();
    const missed = await alicesApi.create('Written while the notifier was down');
    const missedPositions = [
      missed.position,
      await alicesApi.start(missed.id),
      await alicesApi.comment(missed.id, 'Nobody was listening'),
    ];
    await startNotifier();

    await waitLive(bob, 30_000);
    const onBob = card(bob, 'Written while the notifier was down');
    await expect
      .poll(() => onBob.getAttribute('data-status'), { timeout: 10_000 })
      .toBe('in-progress');
    expect(await onBob.locator('.comment-count').textContent()).toBe('1 comment');
    expect(await onBob.count()).toBe(1);
    // One more event after the resume: a duplicate of anything before it would have come by now.
    const after = await alicesApi.create('Written after the notifier came back');
    await expect
      .poll(() => card(bob, 'Written after the notifier came back').count(), { timeout: 10_000 })
      .toBe(1);

    const resumed = bobSockets.slice(opened).filter((socket) => handshakes(socket).length > 0);
    expect(resumed).toHaveLength(1);
    // It resumed from the latest position per log it had been sent before the drop.
    const [handshake] = handshakes(resumed[0]!);
    expect(handshake!.since!.split(',').sort()).toEqual(
      latestPerLog(bobSockets.slice(0, opened).flatMap(positionsSent)),
    );
    // Replayed: exactly what it missed, in order, then live, then the new event.
    expect(
      messages(resumed[0]!).map(([name, data]) => [name, name === 'event' ? data.position : '']),
    ).toEqual([
      ...missedPositions.map((position) => ['event', position]),
      ['live', ''],
      ['event', after.position],
    ]);
    // Resumed, not refetched.
    expect(bobSnapshotReads.length).toBe(snapshotReads);
    expect(failures).toEqual([]);
  });

  it('refetches the board when the notifier cannot replay what it missed (resync)', async () => {
    const opened = bobSockets.length;
    const snapshotReads = bobSnapshotReads.length;

    await stopNotifier();
    const alicesApi = await asAlice();
    const missed = await alicesApi.create('Written while too far behind');
    await alicesApi.start(missed.id);
    await alicesApi.comment(missed.id, 'Too much to replay');
    // Three events missed, one allowed: the notifier must tell the board to refetch.
    await startNotifier({ NOTIFIER_MAX_REPLAY: '1' });

    await waitLive(bob, 30_000);
    const onBob = card(bob, 'Written while too far behind');
    await expect
      .poll(() => onBob.getAttribute('data-status'), { timeout: 10_000 })
      .toBe('in-progress');
    expect(await onBob.locator('.comment-count').textContent()).toBe('1 comment');
    expect(await onBob.count()).toBe(1);

    const resumed = bobSockets.slice(opened).filter((socket) => handshakes(socket).length > 0);
    expect(resumed).toHaveLength(1);
    const received = messages(resumed[0]!);
    expect(received.map(([name, data]) => [name, data.reason])).toEqual([
      ['resync', 'too-far-behind'],
    ]);
    // One snapshot read, at least as new as the position the notifier resumed from,
    // every log of it (a log still at 0-0 is reached at once).
    expect(bobSnapshotReads.slice(snapshotReads)).toEqual([received[0]![1].position]);
    expect(failures).toEqual([]);
  });
});
