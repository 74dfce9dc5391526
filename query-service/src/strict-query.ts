import { problems, unknownField } from '@tasksync/contracts';
import type { Request } from 'express';

/**
 * Routes without a query schema refuse parameters they do not read, as the
 * schema routes do (design §3: strict), each named in `errors`.
 */
export const refuseUnknownQuery = (req: Request, ...known: string[]) => {
  const unknown = Object.keys(req.query).filter((name) => !known.includes(name));
  if (unknown.length) throw problems.validation(unknown.map((name) => unknownField(name)));
};
