import { type KeyLayout, PositionList, parseWith, problems } from '@tasksync/contracts';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { DEFAULT_MAX_WAIT_MS, MAX_WAIT_MS, type ReadModelAccess } from './read-model';

const MaxWait = z.coerce.number().int().min(0).max(MAX_WAIT_MS);

/**
 * Read-your-writes (design §6): with X-Min-Position the request waits (up to
 * X-Max-Wait-Ms) until the read model has applied those positions.
 */
export const readYourWrites =
  (readModel: ReadModelAccess, keys: KeyLayout): RequestHandler =>
  async (req, _res, next) => {
    const min = req.get('X-Min-Position');
    if (min === undefined) return next();
    const positions = parseWith(PositionList, min, 'X-Min-Position');
    const unknown = positions.find((p) => keys.logKeyByName(p.log) === undefined);
    // A position on a log this deployment does not have can never be reached: 400, not a wait.
    if (unknown)
      throw problems.badRequest(
        `X-Min-Position names log ${unknown.log}, which does not exist here.`,
      );
    const waitHeader = req.get('X-Max-Wait-Ms');
    const maxWait =
      waitHeader === undefined ? DEFAULT_MAX_WAIT_MS : MaxWait.safeParse(waitHeader).data;
    if (maxWait === undefined)
      throw problems.badRequest(`X-Max-Wait-Ms must be 0 to ${MAX_WAIT_MS}.`);
    await readModel.waitFor(positions, maxWait);
    next();
  };
