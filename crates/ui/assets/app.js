// Hearth dashboard: live progress of the running job. Pages work without it; with it, progress
// bars move and a finished job's page shows its outcome without a reload.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function jobView(id) {
  const response = await fetch("/api/jobs/" + id, { credentials: "same-origin" });
  if (!response.ok) return null;
  return response.json();
}

function showJob(el, job) {
  const bar = el.querySelector("progress");
  if (bar) {
    if (job.fraction === null || job.fraction === undefined) bar.removeAttribute("value");
    else bar.value = job.fraction;
  }
  const set = (selector, text) => {
    const target = el.querySelector(selector);
    if (target) target.textContent = text;
  };
  set(".phase", job.phase);
  set(".count", job.total ? job.done + " of " + job.total : job.done ? String(job.done) : "");
  set(".state", job.state.replace("_", " "));
  const log = el.querySelector(".log");
  if (log) log.textContent = job.log.join("\n");
  if (job.state !== "running") {
    // A phase without a known total draws a moving bar; an ended job's is full.
    if (bar) bar.value = 1;
    set(".outcome", job.summary || job.error || "");
    el.dataset.state = job.state;
    const link = el.querySelector("a.result");
    if (link && job.link) { link.href = job.link; link.hidden = false; }
  }
}

// Every element with data-job follows that job until it ends.
function follow(el) {
  const id = el.dataset.job;
  const tick = async () => {
    const job = await jobView(id).catch(() => null);
    if (job) showJob(el, job);
    if (!job || job.state === "running") setTimeout(tick, 500);
    else if (el.id === "job-banner") setTimeout(() => { el.hidden = true; }, 3000);
  };
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  const banner = document.getElementById("job-banner");
  if (banner && banner.dataset.running) {
    banner.dataset.job = banner.dataset.running;
    follow(banner);
  }
  document.querySelectorAll("[data-job]").forEach((el) => { if (el !== banner) follow(el); });
  // Buttons that confirm first (prune, restore into a folder).
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});

window.hearth = { csrfToken };

// A section the server is still computing (data-pending="/url") is fetched again until ready.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-pending]").forEach((el) => {
    const poll = async () => {
      const response = await fetch(el.dataset.pending, { credentials: "same-origin" }).catch(() => null);
      if (response && response.status === 200) {
        el.outerHTML = await response.text();
      } else {
        setTimeout(poll, 1000);
      }
    };
    setTimeout(poll, 700);
  });
});
