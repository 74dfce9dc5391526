import { isUuid, problems } from '@tasksync/contracts';
import type { Request } from 'express';

/** A uuid path parameter; anything else names nothing that exists, so it is a 404 with `detail`. */
export const uuidParam = (req: Request, name: string, detail: string): string => {
  const value = String(req.params[name]);
  if (!isUuid(value)) throw problems.notFound(detail);
  return value;
};
