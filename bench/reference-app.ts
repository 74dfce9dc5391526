/**
 * The bench's yardsticks: bare express endpoints doing only what an endpoint
 * must, so TaskSync's figures can be read as a ratio on whatever this machine
 * is doing at the time, and compared across runs, machines and versions.
 *
 * - With REDIS_URL: POST /tasks does JWT verify, zod parse and one XADD.
 * - With READ_MODEL_PATH: GET /tasks/:id and GET /tasks (the first page of 50,
 *   most recently updated first) do JWT verify and one better-sqlite3 read of
 *   the read model the query-service reads, with no access check, building the
 *   answer's JSON in SQLite as the query-service does. The SQL names only
 *   columns every read-model version has, so the same yardstick runs against
 *   the code before projects (bench/no-projects.ts).
 */
import { createSecretKey } from 'node:crypto';
import Database from 'better-sqlite3';
import express from 'express';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import { z } from 'zod';

const key = createSecretKey(Buffer.from(process.env.JWT_SECRET ?? '', 'utf8'));
const verified = (authorization: string | undefined) => {
  try {
    jwt.verify(String(authorization).slice(7), key, { algorithms: ['HS256'] });
    return true;
  } catch {
    return false;
  }
};

const app = express();

if (process.env.REDIS_URL) {
  const redis = new Redis(process.env.REDIS_URL, { enableAutoPipelining: true });
  const Body = z.strictObject({
    projectId: z.uuid().optional(),
    title: z.string().min(1).max(200),
    priority: z.string().optional(),
    labels: z.array(z.string()).optional(),
  });
  app.post('/tasks', express.json({ limit: '100kb' }), async (req, res) => {
    if (!verified(req.headers.authorization)) return res.status(401).end();
    const body = Body.safeParse(req.body);
    if (!body.success) return res.status(400).end();
    const id = await redis.xadd('reference:log', '*', 'data', JSON.stringify(body.data));
    res.status(201).json({ id });
  });
}

if (process.env.READ_MODEL_PATH) {
  const db = new Database(process.env.READ_MODEL_PATH, { readonly: true, fileMustExist: true });
  // The query-service's settings (openReadModelReadOnly): the default 2 MB page cache
  // would make the yardstick measure how the rows read happen to lie in the file.
  db.pragma('cache_size = -65536');
  db.pragma('mmap_size = 268435456');
  const taskJson = `json_object(
    'id', t.id, 'title', t.title, 'description', t.description, 'status', t.status,
    'assigneeId', t.assignee_id, 'priority', t.priority, 'dueDate', t.due_date,
    'labels', json(t.labels), 'createdBy', t.created_by, 'createdAt', t.created_at,
    'updatedAt', t.updated_at, 'revision', t.revision, 'commentCount', t.comment_count)`;
  const one = db.prepare<[string], { json: string }>(
    `SELECT json_insert(${taskJson}, '$.comments', json((
      SELECT json_group_array(json_object('id', c.id, 'authorId', c.author_id, 'text', c.text,
        'createdAt', c.created_at) ORDER BY c.created_at, c.id)
      FROM comments c WHERE c.task_id = t.id))) AS json
    FROM tasks t WHERE t.id = ? AND t.deleted = 0`,
  );
  const page = db.prepare<[], { json: string }>(
    `SELECT ${taskJson} AS json FROM tasks t WHERE t.deleted = 0
     ORDER BY t.updated_at DESC, t.id DESC LIMIT 51`,
  );
  app.get('/tasks/:id', (req, res) => {
    if (!verified(req.headers.authorization)) return res.status(401).end();
    const row = one.get(req.params.id);
    if (!row) return res.status(404).end();
    res.type('json').send(row.json);
  });
  app.get('/tasks', (req, res) => {
    if (!verified(req.headers.authorization)) return res.status(401).end();
    const rows = page.all();
    res.type('json').send(
      `{"items":[${rows
        .slice(0, 50)
        .map((r) => r.json)
        .join(',')}],"nextCursor":null}`,
    );
  });
}

app.listen(Number(process.env.PORT), () => process.stdout.write('listening\n'));
