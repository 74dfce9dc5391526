/**
 * The bench's yardstick: a bare express endpoint doing only what a create must
 * (JWT verify, zod parse, one XADD), so TaskSync's figures can be read as a
 * ratio on whatever this machine is doing at the time.
 */
import { createSecretKey } from 'node:crypto';
import express from 'express';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import { z } from 'zod';

const key = createSecretKey(Buffer.from(process.env.JWT_SECRET ?? '', 'utf8'));
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  enableAutoPipelining: true,
});
const Body = z.strictObject({
  title: z.string().min(1).max(200),
  priority: z.string().optional(),
  labels: z.array(z.string()).optional(),
});

const app = express();
app.use(express.json({ limit: '100kb' }));
app.post('/tasks', async (req, res) => {
  try {
    jwt.verify(String(req.headers.authorization).slice(7), key, { algorithms: ['HS256'] });
  } catch {
    return res.status(401).end();
  }
  const body = Body.safeParse(req.body);
  if (!body.success) return res.status(400).end();
  const id = await redis.xadd('reference:log', '*', 'data', JSON.stringify(body.data));
  res.status(201).json({ id });
});
app.listen(Number(process.env.PORT), () => process.stdout.write('listening\n'));
