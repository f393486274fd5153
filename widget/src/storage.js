// localStorage, which may be blocked (private mode, sandboxed frames): then nothing is kept.

/** The stored object under `key`, or {}. */
export const load = (key) => {
  try {
    return JSON.parse(localStorage.getItem(key)) || {};
  } catch (e) {
    return {};
  }
};

/** Stores `value` under `key`; null removes it. */
export const save = (key, value) => {
  try {
    if (value == null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch (e) {
    // Storage blocked: this lasts for the page only.
  }
};
