import assert from "node:assert/strict";
import { test } from "node:test";
import { countdownText } from "../src/countdown.js";

const now = Date.UTC(2026, 10, 1, 12, 0, 0);
const minutes = (n) => n * 60 * 1000;

test("days, hours and minutes are all shown while days remain", () => {
  const deadline = now + minutes(3 * 24 * 60 + 4 * 60 + 12) + 30 * 1000;
  assert.equal(countdownText(deadline, now), "3d 4h 12m left");
});

test("leading zero units are dropped", () => {
  assert.equal(countdownText(now + minutes(4 * 60), now), "4h 0m left");
  assert.equal(countdownText(now + minutes(12), now), "12m left");
});

test("the last minute says so instead of 0m", () => {
  assert.equal(countdownText(now + 59 * 1000, now), "less than a minute left");
});

test("a passed deadline reads closed, or the given text", () => {
  assert.equal(countdownText(now, now), "closed");
  assert.equal(countdownText(now - 1, now, "voting closed"), "voting closed");
});
