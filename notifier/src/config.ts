import { commonEnv, jwtEnv, parseConfig, ports } from '@tasksync/contracts';
import { z } from 'zod';

/** One origin (`scheme://host[:port]`), as browsers send it in `Origin`. */
const Origin = z.url({ protocol: /^https?$/ }).transform((url) => new URL(url).origin);

const OriginList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
  )
  .pipe(z.array(Origin));

export const loadNotifierConfig = (env: NodeJS.ProcessEnv = process.env) => {
  // The board reaches the other services through them; by default on this host.
  const portOf = (name: keyof typeof ports) =>
    ports[name].safeParse(env[name] || undefined).data ?? ports[name].parse(undefined);
  return parseConfig(
    {
      ...commonEnv,
      ...jwtEnv,
      NOTIFIER_PORT: ports.NOTIFIER_PORT,
      FRONTEND_URL: OriginList.default([]),
      IDENTITY_URL: z.url().default(`http://127.0.0.1:${portOf('IDENTITY_PORT')}`),
      COMMAND_URL: z.url().default(`http://127.0.0.1:${portOf('COMMAND_PORT')}`),
      QUERY_URL: z.url().default(`http://127.0.0.1:${portOf('QUERY_PORT')}`),
      NOTIFIER_MAX_REPLAY: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
    },
    env,
  );
};

export type NotifierConfig = ReturnType<typeof loadNotifierConfig>;
