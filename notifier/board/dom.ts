/** The page's one element for `selector`; the board's HTML always has it. */
export const $ = <E extends Element = HTMLElement>(
  selector: string,
  root: ParentNode = document,
) => {
  const found = root.querySelector<E>(selector);
  if (!found) throw new Error(`The page has no ${selector}.`);
  return found;
};

/** The element's own settable fields that hold plain values (`className`, `hidden`, `rows`…). */
type Fields<E> = {
  -readonly [K in keyof E as E[K] extends string | number | boolean ? K : never]?: E[K];
};

export type ElementProps<K extends keyof HTMLElementTagNameMap> = Fields<
  HTMLElementTagNameMap[K]
> & {
  dataset?: Record<string, string>;
  /** Set as attributes (`aria-*`), for what has no field of its own. */
  attributes?: Record<string, string>;
};

/** Builds an element; string children become text nodes, so user text is never parsed as HTML. */
export const el = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: ElementProps<K> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] => {
  const node = document.createElement(tag);
  const { dataset, attributes, ...fields } = props;
  Object.assign(node, fields);
  if (dataset) Object.assign(node.dataset, dataset);
  for (const [name, value] of Object.entries(attributes ?? {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
};

/** A form control by name; the board's forms are written with these names. */
export const control = <E extends HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>(
  form: HTMLFormElement,
  name: string,
) => {
  const found = form.elements.namedItem(name);
  if (!found) throw new Error(`The form has no ${name} field.`);
  return found as E;
};

export const errorMessage = (error: unknown) =>
  error instanceof Error ? error.message : String(error);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
