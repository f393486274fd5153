// chatctl admin: small progressive enhancements. Every page works without it.
"use strict";

// How long the form's ban lasts (`_duration.hbs`), for "{duration}" in a confirmation.
function banLength(form) {
  const unit = form.elements.unit ? form.elements.unit.value : "permanent";
  if (unit === "permanent") return "permanently";
  const n = form.elements.duration ? form.elements.duration.value : "";
  return `for ${n} ${n === "1" ? unit.replace(/s$/, "") : unit}`;
}

// Confirm destructive forms: <form data-confirm="Really?">.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute && form.getAttribute("data-confirm");
  if (!question) return;
  if (!window.confirm(question.replace("{duration}", banLength(form)))) event.preventDefault();
});

// Times in the viewer's own time zone; the UTC time the server wrote stays as the tooltip.
const localTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
for (const time of document.querySelectorAll("time[datetime]")) {
  const at = new Date(time.getAttribute("datetime"));
  if (Number.isNaN(at.getTime())) continue;
  time.title = time.textContent;
  time.textContent = localTime.format(at);
}

// Copy buttons: <button data-copy="#selector">.
document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.getAttribute("data-copy"));
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});

// Dashboard numbers refresh themselves: <div data-refresh="/admin/dashboard.json">.
const live = document.querySelector("[data-refresh]");
if (live) {
  const refresh = async () => {
    try {
      const response = await fetch(live.getAttribute("data-refresh"), { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      for (const site of data.sites) {
        const card = live.querySelector(`[data-site="${site.id}"]`);
        if (!card) continue;
        for (const cell of card.querySelectorAll("[data-stat]")) {
          const value = site[cell.getAttribute("data-stat")];
          if (value !== undefined) cell.textContent = String(value);
        }
      }
    } catch (_) {
      // Offline or logged out: keep the last numbers.
    }
  };
  setInterval(refresh, 10000);
}
