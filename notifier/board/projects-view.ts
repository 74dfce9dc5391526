import type { ProjectRole } from '@tasksync/contracts';
import { $, el } from './dom';
import { onSubmit } from './page';
import {
  accessLabel,
  countTasks,
  type MemberView,
  type ProjectView,
  projectPermissions,
  sortMembers,
  sortProjects,
} from './projects';
import type { BoardState } from './render';
import type { SessionUser } from './session';

/** What the project controls do; the board sends the commands. */
export interface ProjectActions {
  select(projectId: string): void;
  createProject(form: HTMLFormElement): Promise<void>;
  saveProject(form: HTMLFormElement): Promise<void>;
  toggleArchived(button: HTMLButtonElement): void;
  leave(button: HTMLButtonElement): void;
  toggleMembers(): void;
  addMember(form: HTMLFormElement): Promise<void>;
  setMemberRole(userId: string, select: HTMLSelectElement): void;
  removeMember(userId: string, button: HTMLButtonElement): void;
}

const ROLES: ProjectRole[] = ['owner', 'editor', 'viewer'];
const VISIBILITY_LABELS = { private: 'Private', open: 'Open' } as const;

/**
 * Wires the page's fixed project controls once; they act on whichever board is
 * signed in (`board()`), so a new session adds no second listener.
 */
export const bindProjectControls = (board: () => ProjectActions | null) => {
  onSubmit($<HTMLFormElement>('#create-project'), async (form) => {
    await board()?.createProject(form);
  });
  onSubmit($<HTMLFormElement>('#project-settings'), async (form) => {
    await board()?.saveProject(form);
  });
  onSubmit($<HTMLFormElement>('#add-member'), async (form) => {
    await board()?.addMember(form);
  });
  $('#edit-project').addEventListener('click', () => toggleSettings());
  $('#cancel-project-settings').addEventListener('click', () => toggleSettings(false));
  $('#show-members').addEventListener('click', () => board()?.toggleMembers());
  const archive = $<HTMLButtonElement>('#archive-project');
  archive.addEventListener('click', () => board()?.toggleArchived(archive));
  const leave = $<HTMLButtonElement>('#leave-project');
  leave.addEventListener('click', () => board()?.leave(leave));
};

/** Opens or closes the settings form (toggles without `open`). */
const toggleSettings = (open?: boolean) => {
  const form = $<HTMLFormElement>('#project-settings');
  const show = open ?? form.hidden;
  form.hidden = !show;
  $('#edit-project').setAttribute('aria-expanded', String(show));
  if (show) $<HTMLInputElement>('input[name=name]', form).focus();
};

/** Clears what a signed-out page must not keep showing. */
export const clearProjects = () => {
  $('#project-list').replaceChildren();
  $('#archived-project-list').replaceChildren();
  $('#member-list').replaceChildren();
  $('#members-panel').hidden = true;
  $('#project-settings').hidden = true;
};

/** The project switcher, the shown project's header and its members panel. */
export const createProjectsView = (
  state: BoardState,
  me: () => SessionUser,
  actions: ProjectActions,
) => {
  const current = () =>
    state.currentProjectId ? state.projects.get(state.currentProjectId) : undefined;

  const projectItem = (project: ProjectView, taskCount: number) => {
    const button = el(
      'button',
      { type: 'button', className: 'project-item', dataset: { projectId: project.id } },
      el('span', { className: 'project-item-name' }, project.name),
      el(
        'span',
        { className: 'project-item-meta' },
        el('span', { className: 'project-item-role' }, accessLabel(project.access)),
        el(
          'span',
          { className: 'count', attributes: { 'aria-label': `${taskCount} tasks` } },
          String(taskCount),
        ),
      ),
    );
    if (project.id === state.currentProjectId) button.setAttribute('aria-current', 'true');
    button.addEventListener('click', () => actions.select(project.id));
    return el('li', {}, button);
  };

  const renderSwitcher = () => {
    const counts = countTasks(state.tasks.values());
    const projects = sortProjects(state.projects.values());
    const item = (project: ProjectView) => projectItem(project, counts.get(project.id) ?? 0);
    const active = projects.filter((project) => !project.archived);
    const archived = projects.filter((project) => project.archived);
    $('#project-list').replaceChildren(...active.map(item));
    $('#archived-project-list').replaceChildren(...archived.map(item));
    $('#archived-projects').hidden = archived.length === 0;
    $('[data-archived-count]').textContent = String(archived.length);
    // An archived project being shown keeps its group open, so the current one is visible.
    if (current()?.archived) $<HTMLDetailsElement>('#archived-projects').open = true;
  };

  const renderHeader = () => {
    const project = current();
    $('#project-header').hidden = !project;
    const allowed = projectPermissions(project);
    $('#create-task-panel').hidden = !allowed.createTasks;
    if (!project) return;
    $('#project-name').textContent = project.name;
    $('#project-access').textContent = accessLabel(project.access);
    $('#project-visibility').textContent = VISIBILITY_LABELS[project.visibility];
    $('#project-archived').hidden = !project.archived;
    const description = $('#project-description');
    description.textContent = project.description;
    description.hidden = !project.description;

    $('#edit-project').hidden = !allowed.manage;
    if (!allowed.manage) toggleSettings(false);
    $('#show-members').hidden = !allowed.members;
    if (!allowed.members) showMembersPanel(false);
    const archive = $<HTMLButtonElement>('#archive-project');
    archive.hidden = !allowed.archive;
    archive.textContent = project.archived ? 'Restore' : 'Archive';
    const leave = $<HTMLButtonElement>('#leave-project');
    leave.hidden = !allowed.leave;
    // Filled while closed, so it opens with what the project is now; never under someone's typing.
    if ($('#project-settings').hidden) fillSettings();
  };

  /** Fills the settings form from the project shown (when it opens or the project changes). */
  const fillSettings = () => {
    const project = current();
    const form = $<HTMLFormElement>('#project-settings');
    if (!project) return;
    $<HTMLInputElement>('input[name=name]', form).value = project.name;
    $<HTMLTextAreaElement>('textarea[name=description]', form).value = project.description;
    $<HTMLSelectElement>('select[name=visibility]', form).value = project.visibility;
  };

  const memberRow = (member: MemberView, manage: boolean) => {
    const name = member.name || 'Unknown user';
    const you = member.userId === me().id;
    // One leaves with the header's "Leave project", so one's own row has no Remove.
    const row = el(
      'li',
      { className: 'member', dataset: { userId: member.userId } },
      el(
        'span',
        { className: 'member-name' },
        name,
        you ? el('span', { className: 'muted' }, ' (you)') : '',
      ),
    );
    if (!manage) {
      row.append(el('span', { className: 'tag' }, accessLabel(member.role)));
      return row;
    }
    const role = el(
      'select',
      { name: 'role' },
      ...ROLES.map((value) => el('option', { value }, accessLabel(value))),
    );
    role.value = member.role;
    role.addEventListener('change', () => actions.setMemberRole(member.userId, role));
    const remove = el(
      'button',
      {
        type: 'button',
        className: 'button small danger',
        attributes: { 'aria-label': `Remove ${name}` },
      },
      'Remove',
    );
    remove.addEventListener('click', () => actions.removeMember(member.userId, remove));
    remove.hidden = you;
    row.append(
      el(
        'label',
        { className: 'member-role' },
        el('span', { className: 'sr-only' }, `Role of ${name}`),
        role,
      ),
      remove,
    );
    return row;
  };

  const renderMembers = () => {
    const list = $('#member-list');
    if ($('#members-panel').hidden) return;
    if (!state.members) {
      list.replaceChildren(el('li', { className: 'muted' }, 'Loading members…'));
      return;
    }
    const manage = projectPermissions(current()).editMembers;
    $('#add-member').hidden = !manage;
    list.replaceChildren(...sortMembers(state.members.values()).map((m) => memberRow(m, manage)));
  };

  /** Shows or hides the members panel; true when it is now shown. */
  const showMembersPanel = (show: boolean) => {
    $('#members-panel').hidden = !show;
    $('#show-members').setAttribute('aria-expanded', String(show));
    renderMembers();
    return show;
  };

  return {
    renderSwitcher,
    renderMembers,
    showMembersPanel,
    membersShown: () => !$('#members-panel').hidden,

    /** Everything about the projects: after a snapshot, a switch, or a project event. */
    render() {
      renderSwitcher();
      renderHeader();
      renderMembers();
    },

    /** Another project is shown: its settings and members panel start closed. */
    projectSwitched() {
      toggleSettings(false);
      showMembersPanel(false);
    },

    closeSettings: () => toggleSettings(false),
  };
};

export type ProjectsView = ReturnType<typeof createProjectsView>;
