import assert from "node:assert/strict";
import { test } from "node:test";
import { suggestionOptions } from "../src/work-picker.js";

test("each suggestion is offered as its title and id, with who made it", () => {
  const options = suggestionOptions([
    { id: "r0123456789", title: "Tide", by: "Ana", label: "Tide (r0123456789)" },
    { id: "p0123456789", title: "Night", by: "", label: "Night (p0123456789)" },
  ]);
  assert.deepEqual(options, [
    { value: "Tide (r0123456789)", text: "by Ana" },
    { value: "Night (p0123456789)", text: "" },
  ]);
});
