import { problems } from '@tasksync/contracts';
import type { Request, Response } from 'express';
import { type CommandOutcome, requestHash } from '../commands/handle-command';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const IF_MATCH = /^(?:W\/)?"?(\d{1,15})"?$/;

/** The request's Idempotency-Key (design §3) with the hash of what it asked, or undefined. */
export const idempotencyKeyOf = (req: Request) => {
  const key = req.get('Idempotency-Key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw problems.badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters.');
  }
  return { key, requestHash: requestHash(req.method, req.originalUrl.split('?')[0]!, req.body) };
};

/** The revision an If-Match names; `*` (any) and no header are undefined. */
export const ifMatchOf = (req: Request) => {
  const value = req.get('If-Match')?.trim();
  if (value === undefined || value === '*') return undefined;
  const match = IF_MATCH.exec(value);
  if (!match) throw problems.badRequest('If-Match must be an ETag this API sent, like "3".');
  return Number(match[1]);
};

/** Answers a command's outcome: its status and body, ETag and X-Event-Position (design §3). */
export const sendOutcome = (res: Response, outcome: CommandOutcome<unknown>) => {
  res.setHeader('ETag', `"${outcome.revision}"`);
  res.setHeader('X-Event-Position', outcome.position);
  if (outcome.replayed) res.setHeader('Idempotent-Replayed', 'true');
  if (outcome.body === null) return res.status(outcome.status).end();
  res.status(outcome.status).json(outcome.body);
};
