import type { Role } from '@tasksync/contracts';

/** The signed-in person, as the login answer describes them. */
export interface SessionUser {
  id: string;
  name: string;
  email?: string;
  role: Role;
}

export interface Session {
  token: string;
  user: SessionUser;
}

const SESSION_KEY = 'tasksync.session';
const PROJECT_KEY = 'tasksync.project';

/** The session of this tab, kept across reloads (sessionStorage: one per tab, gone when it closes). */
export const loadSession = (): Session | null => {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null') as Session | null;
  } catch {
    return null;
  }
};

export const saveSession = (session: Session) =>
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));

export const forgetSession = () => {
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem(PROJECT_KEY);
};

/** The project this tab showed last, so a reload comes back to it. */
export const loadCurrentProject = () => sessionStorage.getItem(PROJECT_KEY);

export const saveCurrentProject = (projectId: string) =>
  sessionStorage.setItem(PROJECT_KEY, projectId);
