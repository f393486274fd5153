// Events for the host page: Chatctl.on(event, callback) (README, "The widget").

export const handlers = {};

/** Calls the page's callbacks for `name`; one that throws does not stop the others. */
export const emit = (name, detail, widget) =>
  (handlers[name] || []).forEach((cb) => {
    try {
      cb(detail, widget);
    } catch (e) {
      console.error("chatctl: error in an event handler", e);
    }
  });
