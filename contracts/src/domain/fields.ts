import { z } from 'zod';

/** Field rules shared by requests and events (design §3). */
export const TaskStatus = z.enum(['pending', 'in-progress', 'completed']);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const Priority = z.enum(['low', 'medium', 'high', 'urgent']);
export type Priority = z.infer<typeof Priority>;

export const Role = z.enum(['admin', 'member']);
export type Role = z.infer<typeof Role>;

export const Title = z.string().trim().min(1).max(200);
export const Description = z.string().max(10_000);
export const DueDate = z.iso.date();
export const Label = z.string().trim().min(1).max(40);
// An overwrite, not a transform: the output keeps its JSON Schema (answers document labels too).
export const Labels = z
  .array(Label)
  .max(20)
  .overwrite((labels) => [...new Set(labels)]);
export const CommentText = z.string().trim().min(1).max(5_000);
export const UserId = z.uuid();
export const Email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email())
  .transform((email) => email.toLowerCase());
export const DisplayName = z.string().trim().min(1).max(100);

/** Projects (design §10). */
export const ProjectRole = z.enum(['owner', 'editor', 'viewer']);
export type ProjectRole = z.infer<typeof ProjectRole>;
/** `private`: members only; `open`: every user, as an editor. */
export const Visibility = z.enum(['private', 'open']);
export type Visibility = z.infer<typeof Visibility>;
export const ProjectId = z.uuid();
export const ProjectName = z.string().trim().min(1).max(100);
export const ProjectDescription = z.string().max(2_000);
/** Who caused an event: a user, or `system` (the process manager, bootstraps). */
export const Actor = z.union([UserId, z.literal('system')]);
/** Who owns a project: a user, or `system` for the General project. */
export const OwnerId = z.union([UserId, z.literal('system')]);
/** At most this many members per project (design §10). */
export const MAX_PROJECT_MEMBERS = 1_000;
