import type { ReadModelDb } from '@tasksync/platform/read-model';
import type { Request, Response } from 'express';
import type { ReadModelAccess } from './read-model';

/** Sends a read's JSON with X-Read-Position and an ETag; 304 for a matching If-None-Match. */
export const sendRead = (
  req: Request,
  res: Response,
  position: string,
  etag: string | undefined,
  json: string | Buffer,
) => {
  res.setHeader('X-Read-Position', position);
  // Without a resource revision, the answer to this URL changes only with the checkpoints.
  const tag = etag ?? `W/"${Buffer.from(position).toString('base64url')}"`;
  res.setHeader('ETag', tag);
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch?.split(',').some((t) => t.trim() === tag || t.trim() === '*')) {
    return res.status(304).end();
  }
  // Straight to Node: express's send would parse the content type again to add the
  // charset, and copy every answer of 1,000 characters or more into a Buffer.
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
};

/** A read's answer: a value to serialize, or JSON text SQLite already built. */
export type ReadAnswer<T> = ({ body: T } | { json: string }) & { etag?: string };

/** Runs a read in one SQLite snapshot and returns its JSON with the position it reflects. */
export const snapshotRead = <T>(
  res: Response,
  readModel: ReadModelAccess,
  read: (db: ReadModelDb) => ReadAnswer<T>,
) => {
  const db = readModel.db();
  const { etag, ...answer } = readModel.snapshot(() => {
    const position = readModel.readPosition(db);
    // Set first, so a 404 or 410 the read throws also says which model state it reflects.
    res.setHeader('X-Read-Position', position);
    return { ...read(db), position };
  });
  const json = 'json' in answer ? answer.json : JSON.stringify(answer.body);
  return { json, etag, position: answer.position };
};

/**
 * Runs a read in one SQLite snapshot with the checkpoints it reflects, and
 * answers with X-Read-Position, an ETag and 304 for a matching If-None-Match.
 */
export const answerRead = <T>(
  req: Request,
  res: Response,
  readModel: ReadModelAccess,
  read: (db: ReadModelDb) => ReadAnswer<T>,
) => {
  const { json, etag, position } = snapshotRead(res, readModel, read);
  sendRead(req, res, position, etag, json);
};
