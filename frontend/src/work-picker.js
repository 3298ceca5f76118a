// The source picker: inputs marked data-work-picker suggest works by title
// while the creator types, from GET /search/works.json?q=. A chosen
// suggestion reads "Title (r1a2b3c4d5e)"; the server reads the id from the
// brackets (hitrack.services.search.resolve_source), and a bare title works
// too when only one work has it. Without this file the form still works.

const MIN_CHARS = 2;
const DELAY_MS = 150;

// What the server's answer puts in the datalist: one option per work.
export function suggestionOptions(items) {
  return items.map((item) => ({ value: item.label, text: item.by ? `by ${item.by}` : "" }));
}

export function startWorkPickers(doc = document, fetchJson = (url) => fetch(url).then((r) => r.json())) {
  const inputs = doc.querySelectorAll("input[data-work-picker][list]");
  for (const input of inputs) {
    const list = doc.getElementById(input.getAttribute("list"));
    if (!list) continue;
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const words = input.value.trim();
      if (words.length < MIN_CHARS || /\([a-z][0-9a-f]{10}\)$/.test(words)) return;
      timer = setTimeout(async () => {
        const items = await fetchJson(`/search/works.json?q=${encodeURIComponent(words)}`);
        list.replaceChildren(
          ...suggestionOptions(items).map(({ value, text }) => {
            const option = doc.createElement("option");
            option.value = value;
            option.textContent = text;
            return option;
          }),
        );
      }, DELAY_MS);
    });
  }
}
