/** Creates an element with a class and, optionally, text (always as text, never as HTML). */
export const h = (tag, cls, text) => {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text != null) el.textContent = text;
  return el;
};

/** Elements from a spec, [tag, {attribute: value}, ...children], each child a spec or a text.
 * DOM calls, no HTML parsing: pages that enforce Trusted Types allow them (README). */
export const build = ([tag, attrs, ...kids]) => {
  const el = h(tag);
  for (const a in attrs) el.setAttribute(a, attrs[a]);
  el.append(...kids.map((k) => (k.map ? build(k) : k)));
  return el;
};

/** Fills `el` with `text` whose `{name}` placeholders come from `vars`, each value isolated in
 * a <bdi>: a name written right to left never moves the words around it. */
export const fillIn = (el, text, vars) => {
  el.textContent = "";
  text.split(new RegExp("\\{(\\w+)\\}")).forEach((s, i) => el.append(i % 2 ? (vars[s] != null ? h("bdi", "", vars[s]) : `{${s}}`) : s));
};
