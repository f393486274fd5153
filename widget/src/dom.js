/** Creates an element with a class and, optionally, text (always as text, never as HTML). */
export const h = (tag, cls, text) => {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text != null) el.textContent = text;
  return el;
};
