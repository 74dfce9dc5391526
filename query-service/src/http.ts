import { PositionList, parseWith, problems } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/contracts/read-model';
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { DEFAULT_MAX_WAIT_MS, MAX_WAIT_MS, type ReadModelAccess } from './read-model';

const MaxWait = z.coerce.number().int().min(0).max(MAX_WAIT_MS);

/**
 * Read-your-writes (design §6): with X-Min-Position the request waits (up to
 * X-Max-Wait-Ms) until the read model has applied those positions.
 */
export const consistency =
  (readModel: ReadModelAccess): RequestHandler =>
  async (req, _res, next) => {
    const min = req.get('X-Min-Position');
    if (min === undefined) return next();
    const positions = parseWith(PositionList, min);
    const waitHeader = req.get('X-Max-Wait-Ms');
    const maxWait =
      waitHeader === undefined ? DEFAULT_MAX_WAIT_MS : MaxWait.safeParse(waitHeader).data;
    if (maxWait === undefined)
      throw problems.badRequest(`X-Max-Wait-Ms must be 0 to ${MAX_WAIT_MS}.`);
    await readModel.waitFor(positions, maxWait);
    next();
  };

/**
 * Runs a read in one SQLite snapshot with the checkpoints it reflects, and
 * answers with X-Read-Position, an ETag and 304 for a matching If-None-Match.
 */
export const answerRead = <T>(
  req: Request,
  res: Response,
  readModel: ReadModelAccess,
  read: (db: ReadModelDb) => { body: T; etag?: string },
) => {
  const db = readModel.db();
  const { body, etag, position } = readModel.snapshot(() => ({
    ...read(db),
    position: readModel.readPosition(db),
  }));
  res.setHeader('X-Read-Position', position);
  // Without a resource revision, the answer to this URL changes only with the checkpoints.
  const tag = etag ?? `W/"${Buffer.from(position).toString('base64url')}"`;
  res.setHeader('ETag', tag);
  const ifNoneMatch = req.get('If-None-Match');
  if (ifNoneMatch?.split(',').some((t) => t.trim() === tag || t.trim() === '*')) {
    return res.status(304).end();
  }
  res.json(body);
};
