/**
 * `npm run stress-test`: the original TaskSync's stress test, kept, now inside
 * projects (design §10). It creates STRESS_PROJECTS private projects (default
 * 10), then each of STRESS_TASKS tasks (default 1,000) goes through its whole
 * life over the real APIs: create (in project i mod N), update, start
 * (pending → in-progress), complete (→ completed), move to the next project,
 * delete. Unlike the original there is no one-second sleep: STRESS_CONCURRENCY
 * lifecycles (default 32) run at once, each one step after the other. It talks
 * to the front door (TASKSYNC_URL, design §12) through the typed client
 * (client/), and waits out the door's rate limit when it answers 429, as a
 * well-behaved client does (`Retry-After`). Prints successes and errors per
 * step (by status code), the duration and tasks/s, and exits 1 if any step
 * failed.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createTaskSyncClient, type TaskSyncClient } from '@tasksync/client';
import { ConfigError, loadDotEnv, parseConfig, runMain } from '@tasksync/platform';
import { z } from 'zod';

const STEPS = ['project', 'create', 'update', 'start', 'complete', 'move', 'delete'] as const;
type Step = (typeof STEPS)[number];

interface Answer {
  /** The HTTP status, or `network` when no answer came. */
  status: number | 'network';
  /** The answer's body as text, to say what went wrong. */
  body: string;
  /** The answer's body, parsed. */
  data?: unknown;
  ms: number;
}

interface StepTally {
  ok: number;
  /** Failures by status code (or `network`). */
  errors: Map<string, number>;
  /** Steps never tried because an earlier step of the same task failed. */
  skipped: number;
  latenciesMs: number[];
  /** The first answer of each failing status, to say what went wrong. */
  firstFailure: Map<string, string>;
}

const readConfig = () => {
  loadDotEnv();
  const config = parseConfig({
    TASKSYNC_URL: z.url().default('http://localhost:3000'),
    STRESS_EMAIL: z.string().optional(),
    STRESS_PASSWORD: z.string().optional(),
    STRESS_TASKS: z.coerce.number().int().min(1).max(1_000_000).default(1000),
    STRESS_PROJECTS: z.coerce.number().int().min(1).max(1_000).default(10),
    STRESS_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(32),
    STRESS_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  });
  if ((config.STRESS_EMAIL === undefined) !== (config.STRESS_PASSWORD === undefined)) {
    throw new ConfigError('Set both STRESS_EMAIL and STRESS_PASSWORD, or neither.');
  }
  return { ...config, TASKSYNC_URL: config.TASKSYNC_URL.replace(/\/+$/, '') };
};

/** What the typed client answers: the body as data or error, and the response. */
interface Called {
  data?: unknown;
  error?: unknown;
  response: Response;
}

/** The seconds the door said to wait, when it answered 429 (its rate limit). */
let waitedSeconds = 0;

/**
 * One call through the typed client, timed. A refused connection or a time-out
 * is an answer too (`network`); a 429 is waited out (`Retry-After`) and sent
 * again, the wait not counted in the step's latency.
 */
const send = async (
  call: (signal: AbortSignal) => Promise<Called>,
  timeoutMs: number,
): Promise<Answer> => {
  for (;;) {
    const started = performance.now();
    try {
      const { data, error, response } = await call(AbortSignal.timeout(timeoutMs));
      const ms = performance.now() - started;
      if (response.status === 429) {
        const seconds = Number(response.headers.get('retry-after')) || 1;
        waitedSeconds += seconds;
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        continue;
      }
      return { status: response.status, body: JSON.stringify(data ?? error ?? ''), data, ms };
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      return { status: 'network', body: cause ?? String(error), ms: performance.now() - started };
    }
  }
};

/** A token for STRESS_EMAIL, or for a member registered for this run. */
const logIn = async (config: ReturnType<typeof readConfig>) => {
  const timeoutMs = config.STRESS_REQUEST_TIMEOUT_MS;
  const api = createTaskSyncClient(config.TASKSYNC_URL);
  let email = config.STRESS_EMAIL;
  let password = config.STRESS_PASSWORD;
  if (email === undefined || password === undefined) {
    const fresh = {
      email: `stress-${Date.now()}-${randomBytes(3).toString('hex')}@example.com`,
      password: randomBytes(12).toString('base64url'),
    };
    ({ email, password } = fresh);
    const registered = await send(
      (signal) => api.POST('/auth/register', { body: { ...fresh, name: 'Stress test' }, signal }),
      timeoutMs,
    );
    if (registered.status !== 201) {
      throw new ConfigError(
        `Cannot register a user at ${config.TASKSYNC_URL}: ${registered.status} ${registered.body}`,
      );
    }
  }
  const credentials = { email, password };
  let token: string | undefined;
  const login = await send(async (signal) => {
    const answer = await api.POST('/auth/login', { body: credentials, signal });
    token = answer.data?.token;
    return answer;
  }, timeoutMs);
  if (login.status !== 200 || token === undefined) {
    throw new ConfigError(
      `Cannot log in as ${email} at ${config.TASKSYNC_URL}: ${login.status} ${login.body}`,
    );
  }
  return { email, token };
};

/** The new resource's id from a create's answer, or undefined if the answer has none. */
const idOf = (answer: Answer | undefined) => {
  const id = (answer?.data as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : undefined;
};

const sum = (values: Iterable<number>) => {
  let total = 0;
  for (const value of values) total += value;
  return total;
};

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

const main = async () => {
  const config = readConfig();
  const { email, token } = await logIn(config);
  const api: TaskSyncClient = createTaskSyncClient(config.TASKSYNC_URL, { token });
  const tasks = config.STRESS_TASKS;
  const concurrency = Math.min(config.STRESS_CONCURRENCY, tasks);
  const run = randomBytes(4).toString('hex');
  console.log(
    `TaskSync stress test: ${tasks} tasks in ${config.STRESS_PROJECTS} projects, ${concurrency} in flight, against ${config.TASKSYNC_URL} as ${email}`,
  );

  const tally = new Map<Step, StepTally>(
    STEPS.map((step) => [
      step,
      { ok: 0, errors: new Map(), skipped: 0, latenciesMs: [], firstFailure: new Map() },
    ]),
  );

  /** Runs one step; undefined when it failed, and then the task's later steps are skipped. */
  const step = async (
    name: Step,
    expected: number,
    call: (signal: AbortSignal) => Promise<Called>,
  ) => {
    const answer = await send(call, config.STRESS_REQUEST_TIMEOUT_MS);
    const counts = tally.get(name)!;
    counts.latenciesMs.push(answer.ms);
    if (answer.status === expected) {
      counts.ok++;
      return answer;
    }
    const status = String(answer.status);
    counts.errors.set(status, (counts.errors.get(status) ?? 0) + 1);
    if (!counts.firstFailure.has(status))
      counts.firstFailure.set(status, answer.body.slice(0, 300));
    return undefined;
  };

  const skip = (steps: readonly Step[]) => {
    for (const name of steps) tally.get(name)!.skipped++;
  };

  const started = performance.now();
  const projects: string[] = [];
  for (let index = 0; index < config.STRESS_PROJECTS; index++) {
    const created = await step('project', 201, (signal) =>
      api.POST('/projects', {
        params: { header: { 'Idempotency-Key': `stress-${run}-project-${index}` } },
        body: {
          name: `Stress project ${run} ${index}`,
          description: 'Created by npm run stress-test.',
        },
        signal,
      }),
    );
    const id = idOf(created);
    if (id === undefined) {
      // No project, no task: every task's steps are counted as skipped.
      for (let task = 0; task < tasks; task++) skip(STEPS.filter((name) => name !== 'project'));
      console.log(formatSummary(tally, { tasks, succeeded: 0, seconds: 0 }));
      process.exitCode = 1;
      return;
    }
    projects.push(id);
  }
  const projectOf = (index: number) => projects[index % projects.length]!;

  /** One task's whole life; false when a step failed (its later steps are then skipped). */
  const lifecycle = async (index: number) => {
    const created = await step('create', 201, (signal) =>
      api.POST('/tasks', {
        // A retried create lands on the same task instead of making a second one.
        params: { header: { 'Idempotency-Key': `stress-${run}-${index}` } },
        body: {
          projectId: projectOf(index),
          title: `Stress task ${index}`,
          description: 'Created by npm run stress-test.',
        },
        signal,
      }),
    );
    const id = idOf(created);
    const later: [Step, number, (id: string, signal: AbortSignal) => Promise<Called>][] = [
      [
        'update',
        200,
        (id, signal) =>
          api.PATCH('/tasks/{id}', {
            params: { path: { id } },
            body: { title: `Stress task ${index} (updated)`, priority: 'high' },
            signal,
          }),
      ],
      [
        'start',
        200,
        (id, signal) =>
          api.PATCH('/tasks/{id}', {
            params: { path: { id } },
            body: { status: 'in-progress' },
            signal,
          }),
      ],
      [
        'complete',
        200,
        (id, signal) =>
          api.PATCH('/tasks/{id}', {
            params: { path: { id } },
            body: { status: 'completed' },
            signal,
          }),
      ],
      [
        'move',
        200,
        (id, signal) =>
          api.PATCH('/tasks/{id}', {
            params: { path: { id } },
            body: { projectId: projectOf(index + 1) },
            signal,
          }),
      ],
      [
        'delete',
        204,
        (id, signal) => api.DELETE('/tasks/{id}', { params: { path: { id } }, signal }),
      ],
    ];
    if (id === undefined) {
      skip(later.map(([name]) => name));
      return false;
    }
    for (const [position, [name, expected, call]] of later.entries()) {
      if (!(await step(name, expected, (signal) => call(id, signal)))) {
        skip(later.slice(position + 1).map(([skipped]) => skipped));
        return false;
      }
    }
    return true;
  };

  let next = 0;
  let finished = 0;
  let succeeded = 0;
  const progressEvery = Math.max(1, Math.floor(tasks / 10));
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks) {
        if (await lifecycle(next++)) succeeded++;
        if (++finished % progressEvery === 0 && finished < tasks) {
          console.log(`  ${finished}/${tasks} tasks done`);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(formatSummary(tally, { tasks, succeeded, seconds }));
  if (succeeded !== tasks) process.exitCode = 1;
};

const formatSummary = (
  tally: Map<Step, StepTally>,
  run: { tasks: number; succeeded: number; seconds: number },
) => {
  const milliseconds = (value: number) => (Number.isNaN(value) ? '-' : value.toFixed(1));
  const rows = [['step', 'ok', 'errors', 'skipped', 'p50 ms', 'p99 ms']];
  const failures: string[] = [];
  let requests = 0;
  let errors = 0;
  for (const [name, counts] of tally) {
    const sorted = [...counts.latenciesMs].sort((a, b) => a - b);
    const failed = sum(counts.errors.values());
    const byStatus = [...counts.errors].map(([status, count]) => `${status}×${count}`).join(', ');
    requests += sorted.length;
    errors += failed;
    rows.push([
      name,
      String(counts.ok),
      failed ? `${failed} (${byStatus})` : '0',
      String(counts.skipped),
      milliseconds(percentile(sorted, 50)),
      milliseconds(percentile(sorted, 99)),
    ]);
    for (const [status, body] of counts.firstFailure) failures.push(`  ${name} ${status}: ${body}`);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const table = rows.map((row) =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
      )
      .join('  '),
  );
  const { tasks, succeeded, seconds } = run;
  return [
    ...table,
    ...(failures.length ? ['first answer of each failure:', ...failures] : []),
    `${tasks} tasks in ${seconds.toFixed(2)} s: ${(tasks / seconds).toFixed(1)} tasks/s, ` +
      `${(requests / seconds).toFixed(1)} requests/s; ${succeeded} tasks through every step, ${errors} errors`,
    ...(waitedSeconds
      ? [`waited ${waitedSeconds} s in all for the door's rate limit (429 Retry-After)`]
      : []),
  ].join('\n');
};

runMain(main);
