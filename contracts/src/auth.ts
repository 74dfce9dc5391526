import { z } from 'zod';
import { Role } from './domain/fields';

/** What a TaskSync token claims (design §3): HS256, `sub` = user id, the role when signed. */
export const JWT_ISSUER = 'tasksync';
export const JWT_AUDIENCE = 'tasksync-api';

export const TokenClaims = z.object({
  sub: z.uuid(),
  role: Role,
  iss: z.literal(JWT_ISSUER),
  aud: z.literal(JWT_AUDIENCE),
  exp: z.number(),
});

export interface AuthContext {
  userId: string;
  role: Role;
}
