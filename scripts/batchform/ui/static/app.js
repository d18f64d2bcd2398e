// batchform dashboard: keeps each page's live part fresh, streams a job's log lines, copies commands.
// No framework and no build step; served by the package under a CSP that allows only this file.
"use strict";

function refreshLive() {
  const live = document.getElementById("live");
  if (!live) return;
  const every = Number(live.dataset.refresh || 5) * 1000;
  const url = new URL(window.location.href);
  url.searchParams.set("fragment", "1");
  let busy = false;
  setInterval(async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" } });
      if (response.ok) {
        live.innerHTML = await response.text(); // server-rendered, autoescaped
        live.dataset.refreshed = String(Date.now());
      }
    } catch (_) {
      // the server is restarting or the network dropped: the next tick tries again
    } finally {
      busy = false;
    }
  }, every);
}

function streamLogs() {
  const pre = document.getElementById("logs");
  if (!pre) return;
  const state = document.getElementById("logs-state");
  const source = new EventSource(pre.dataset.src);
  let count = 0;
  source.onmessage = (event) => {
    const line = document.createElement("span");
    line.className = "line";
    line.textContent = event.data + "\n";
    pre.appendChild(line);
    count += 1;
    pre.dataset.lines = String(count);
    if (state) state.textContent = `${count} line${count === 1 ? "" : "s"}, following…`;
  };
  source.addEventListener("end", () => {
    source.close(); // the job is over: do not reconnect
    pre.dataset.ended = "true";
    if (state) state.textContent = `${count} line${count === 1 ? "" : "s"}; the job is over`;
  });
  source.onerror = () => {
    if (state && pre.dataset.ended !== "true") state.textContent = `${count} lines; reconnecting…`;
  };
}

function copyButtons() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.copy");
    if (!button) return;
    navigator.clipboard.writeText(button.dataset.copy).then(() => {
      button.textContent = "copied";
      setTimeout(() => { button.textContent = "copy"; }, 1500);
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  refreshLive();
  streamLogs();
  copyButtons();
});
