/**
 * The tenancy this run benches (bench/tenancy.ts): bench/projects.ts for this
 * code, bench/no-projects.ts with BENCH_BEFORE_PROJECTS=1 for the code before
 * projects, each imported only when chosen.
 */
import type { Tenancy } from './tenancy';

export const beforeProjects = Boolean(process.env.BENCH_BEFORE_PROJECTS);

export const tenancy: Tenancy = beforeProjects
  ? (await import('./no-projects')).noProjects
  : (await import('./projects')).projects;
