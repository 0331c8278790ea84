/** A small element builder: the pages are plain DOM (no framework to ship). */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | undefined | null>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A section with a heading, as every page lays them out. */
export function section(title: string, id: string, ...children: (Child | Child[])[]): HTMLElement {
  return h('section', { class: 'panel', id }, h('h2', {}, title), ...children);
}

/** A two-column table of names and values (params, tags, overview). */
export function keyValueTable(entries: [string, Child][], empty = 'none'): HTMLElement {
  if (entries.length === 0) return h('p', { class: 'muted' }, empty);
  return h(
    'table',
    { class: 'kv' },
    h(
      'tbody',
      {},
      entries.map(([name, value]) => h('tr', {}, h('th', {}, name), h('td', {}, value))),
    ),
  );
}
