import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../../../test/support';
import { ApiError, answer, createBoardClient, fetchAllPages, readTask } from '../../board/api';

// The board's typed client (notifier/board/api.ts) over real HTTP, against a stand-in
// for the front door that answers as the services do.

const TOKEN = 'a-session-token';

interface Seen {
  url: string;
  minPosition: string | undefined;
  authorization: string | undefined;
}

const problem = (status: number, fields: Record<string, unknown>) => ({
  type: 'about:blank',
  title: 'Problem',
  status,
  ...fields,
});

/** Five users, two a page: the client must ask for 200 a page; this door gives fewer. */
const USERS = ['u1', 'u2', 'u3', 'u4', 'u5'].map((id) => ({ id, name: id, role: 'member' }));

const door = () => {
  const seen: Seen[] = [];
  const app = express();
  app.use((req, _res, next) => {
    seen.push({
      url: req.url,
      minPosition: req.get('x-min-position'),
      authorization: req.get('authorization'),
    });
    next();
  });
  app.get('/users', (req, res) => {
    const from = Number(req.query.cursor ?? 0);
    const next = from + 2 < USERS.length ? String(from + 2) : null;
    // Each page reflects a later position; the snapshot must resume from the first.
    res.set('X-Read-Position', `t0:${from + 1}-0`);
    res.json({ items: USERS.slice(from, from + 2), nextCursor: next });
  });
  app.get('/tasks/:id', (req, res) => {
    res.set('X-Read-Position', 't0:7-0');
    res.json({ id: req.params.id, title: 'Read me', comments: [] });
  });
  app.get('/projects/:id', (_req, res) => {
    res.status(401).json(problem(401, { detail: 'The token has expired.' }));
  });
  app.post('/auth/login', (_req, res) => {
    res.status(401).json(problem(401, { detail: 'Unknown e-mail or wrong password.' }));
  });
  app.post('/tasks', (_req, res) => {
    res.status(400).json(
      problem(400, {
        detail: 'The request is invalid.',
        errors: [
          { path: 'title', message: 'Required' },
          { path: '', message: 'Unknown field: colour' },
        ],
      }),
    );
  });
  app.delete('/tasks/:id', (_req, res) => {
    res.status(410).json({ title: 'Gone' });
  });
  app.patch('/tasks/:id', (_req, res) => {
    res.status(502).end();
  });
  return { app, seen };
};

describe('the board client', () => {
  let url: string;
  let close: () => Promise<void>;
  let seen: Seen[];

  beforeAll(async () => {
    const stand = door();
    seen = stand.seen;
    ({ url, close } = await listen(stand.app));
  });
  afterAll(() => close());

  const sessionClient = () => {
    let ended = 0;
    const client = createBoardClient({
      baseUrl: url,
      token: TOKEN,
      onUnauthorized: () => {
        ended++;
      },
    });
    return { client, ended: () => ended };
  };

  it('reads every page with limit 200, the headers on the first only, and resumes from the first page', async () => {
    const { client } = sessionClient();
    const cacheModes: string[] = [];
    client.use({ onRequest: ({ request }) => void cacheModes.push(request.cache) });
    const from = seen.length;

    const { items, position } = await fetchAllPages(
      client,
      '/users',
      {},
      { 'X-Min-Position': 't0:1-0' },
    );

    expect(items.map((user) => user.id)).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
    expect(position).toBe('t0:1-0');
    expect(seen.slice(from)).toEqual([
      { url: '/users?limit=200', minPosition: 't0:1-0', authorization: `Bearer ${TOKEN}` },
      {
        url: '/users?limit=200&cursor=2',
        minPosition: undefined,
        authorization: `Bearer ${TOKEN}`,
      },
      {
        url: '/users?limit=200&cursor=4',
        minPosition: undefined,
        authorization: `Bearer ${TOKEN}`,
      },
    ]);
    // Never a cached answer: the feed resumes from the read position an answer reports.
    expect(cacheModes).toEqual(['no-store', 'no-store', 'no-store']);
  });

  it('gives an answer with the read position it reflects, the path parameter encoded', async () => {
    const { client } = sessionClient();
    const from = seen.length;
    const task = await readTask(client, 'a/b c', { 'X-Min-Position': 't0:5-0' });
    expect(task).toMatchObject({ id: 'a/b c', title: 'Read me' });
    expect(seen.slice(from)).toEqual([
      { url: '/tasks/a%2Fb%20c', minPosition: 't0:5-0', authorization: `Bearer ${TOKEN}` },
    ]);
    const { readPosition } = await answer(
      client.GET('/tasks/{id}', { params: { path: { id: 'x' } } }),
    );
    expect(readPosition).toBe('t0:7-0');
  });

  it('ends the session on a 401 with a token, once per answer, and still fails the call', async () => {
    const { client, ended } = sessionClient();
    const failure = await client
      .GET('/projects/{id}', { params: { path: { id: 'p' } } })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ status: 401, message: 'The token has expired.' });
    expect(ended()).toBe(1);
  });

  it('reports a 401 without a token as a bad login, ending no session', async () => {
    let ended = 0;
    const anonymous = createBoardClient({
      baseUrl: url,
      onUnauthorized: () => {
        ended++;
      },
    });
    const failure = anonymous.POST('/auth/login', {
      body: { email: 'a@example.com', password: 'wrong' },
    });
    await expect(failure).rejects.toThrow(
      new ApiError(401, { detail: 'Unknown e-mail or wrong password.' }),
    );
    await expect(failure).rejects.toMatchObject({ status: 401 });
    expect(ended).toBe(0);
  });

  it('describes a failure in one line: the field errors, else the detail, else the title, else the status', async () => {
    const { client } = sessionClient();
    const failure = (call: Promise<unknown>) => call.catch((error: unknown) => error);
    expect(await failure(client.POST('/tasks', { body: { title: '' } }))).toMatchObject({
      status: 400,
      message: 'title: Required; Unknown field: colour',
    });
    expect(
      await failure(client.DELETE('/tasks/{id}', { params: { path: { id: 't' } } })),
    ).toMatchObject({ status: 410, message: 'Gone' });
    expect(
      await failure(client.PATCH('/tasks/{id}', { params: { path: { id: 't' } }, body: {} })),
    ).toMatchObject({ status: 502, message: 'The request failed (HTTP 502).' });
  });

  it('fails with status 0 when the server cannot be reached', async () => {
    const closed = await listen(express());
    await closed.close();
    const client = createBoardClient({ baseUrl: closed.url, token: TOKEN });
    const failure = await client.GET('/users').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ status: 0, message: 'The server cannot be reached.' });
  });
});
