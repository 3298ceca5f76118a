// Small progressive enhancements for the server-rendered pages. Every page
// works without this file; with it, deadlines count down, risky forms ask
// first, copy buttons copy, and oversized uploads are caught before sending.
import { countdownText } from "./countdown.js";
import { formatBytes } from "./file-size.js";
import { focusFirstError, labelTables, menuToggle, printButtons } from "./page-a11y.js";
import { onReady } from "./ready.js";
import { startWorkPickers } from "./work-picker.js";

const COUNTDOWN_INTERVAL_MS = 30 * 1000;

// <time datetime="ISO" data-countdown> shows "3d 4h 12m left" or "closed".
// A non-empty data-countdown value replaces the word "closed".
function startCountdowns() {
  const clocks = [];
  for (const element of document.querySelectorAll("time[datetime][data-countdown]")) {
    const deadline = Date.parse(element.getAttribute("datetime"));
    if (Number.isNaN(deadline)) continue;
    // Keep the server's absolute date reachable on hover.
    if (!element.title) element.title = element.textContent.trim();
    clocks.push({ element, deadline, closedText: element.dataset.countdown || "closed" });
  }
  if (clocks.length === 0) return;
  const tick = () => {
    const now = Date.now();
    for (const clock of clocks) {
      clock.element.textContent = countdownText(clock.deadline, now, clock.closedText);
      clock.element.dataset.state = now >= clock.deadline ? "closed" : "open";
    }
  };
  tick();
  setInterval(tick, COUNTDOWN_INTERVAL_MS);
}

// <form data-confirm="Are you sure?"> (or a submit button with its own
// data-confirm) asks before submitting.
function confirmSubmits() {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const submitter = event.submitter;
    const question =
      (submitter && submitter.dataset && submitter.dataset.confirm) || form.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
}

async function writeClipboard(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain-http pages have no Clipboard API; fall back to a hidden textarea.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy command refused");
}

// <button data-copy-target="#id"> copies that element's text (or value).
function copyButtons() {
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy-target]");
    if (!button) return;
    event.preventDefault();
    const source = document.querySelector(button.dataset.copyTarget);
    if (!source) return;
    const text =
      "value" in source && typeof source.value === "string" && source.tagName !== "BUTTON"
        ? source.value
        : source.textContent.trim();
    if (!button.dataset.label) button.dataset.label = button.textContent;
    let copied = true;
    try {
      await writeClipboard(text);
    } catch (error) {
      copied = false;
    }
    button.textContent = copied ? "Copied" : "Copy failed";
    button.dataset.copied = String(copied);
    clearTimeout(Number(button.dataset.resetTimer));
    button.dataset.resetTimer = String(
      setTimeout(() => {
        button.textContent = button.dataset.label;
        delete button.dataset.copied;
      }, 2000),
    );
  });
}

function sizeMessage(file, maxBytes) {
  let size = formatBytes(file.size);
  let limit = formatBytes(maxBytes);
  if (size === limit) {
    size = `${file.size.toLocaleString()} bytes`;
    limit = `${maxBytes.toLocaleString()} bytes`;
  }
  return `“${file.name}” is ${size}; the limit is ${limit}. Choose a smaller file.`;
}

// <input type="file" data-max-bytes="N">: an inline message, and the form
// will not submit while a chosen file is too large.
function checkFileSizes() {
  const messageFor = (input) => {
    const id = `${input.id || input.name || "file"}-size-error`;
    let message = document.getElementById(id);
    if (!message) {
      message = document.createElement("p");
      message.id = id;
      message.className = "error file-size-error";
      message.setAttribute("role", "alert");
      message.hidden = true;
      input.insertAdjacentElement("afterend", message);
      const described = input.getAttribute("aria-describedby");
      input.setAttribute("aria-describedby", described ? `${described} ${id}` : id);
    }
    return message;
  };

  const validate = (input) => {
    const maxBytes = Number(input.dataset.maxBytes);
    if (!Number.isFinite(maxBytes) || maxBytes <= 0) return true;
    const tooBig = Array.from(input.files || []).find((file) => file.size > maxBytes);
    const message = messageFor(input);
    if (tooBig) {
      const text = sizeMessage(tooBig, maxBytes);
      message.textContent = text;
      message.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setCustomValidity(text);
      return false;
    }
    message.textContent = "";
    message.hidden = true;
    input.removeAttribute("aria-invalid");
    input.setCustomValidity("");
    return true;
  };

  const selector = 'input[type="file"][data-max-bytes]';
  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches(selector)) validate(event.target);
  });
  // Forms marked novalidate skip the browser's own check, so block here too.
  document.addEventListener(
    "submit",
    (event) => {
      const inputs = event.target.querySelectorAll(selector);
      const results = Array.from(inputs, validate);
      const firstBad = results.indexOf(false);
      if (firstBad !== -1) {
        event.preventDefault();
        event.stopImmediatePropagation();
        inputs[firstBad].focus();
      }
    },
    true,
  );
}

document.documentElement.classList.add("js");
confirmSubmits();
copyButtons();
checkFileSizes();
onReady(startCountdowns);
onReady(() => {
  startWorkPickers();
  menuToggle();
  labelTables();
  printButtons();
  focusFirstError();
});
