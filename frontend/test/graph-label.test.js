import assert from "node:assert/strict";
import { test } from "node:test";
import { wrapTitle } from "../src/graph-label.js";

test("short titles stay on one line", () => {
  assert.deepEqual(wrapTitle("Night Swim", 16, 3), ["Night Swim"]);
});

test("long titles break at spaces", () => {
  assert.deepEqual(wrapTitle("Field recording, harbour at dawn", 16, 3), [
    "Field recording,",
    "harbour at dawn",
  ]);
});

test("titles past the line limit end with an ellipsis", () => {
  assert.deepEqual(wrapTitle("Tide (extended instrumental version with strings)", 14, 3), [
    "Tide (extended",
    "instrumental",
    "version with…",
  ]);
});

test("a single overlong word is cut rather than overflowing", () => {
  assert.deepEqual(wrapTitle("Supercalifragilistic", 10, 2), ["Supercali…"]);
});
