// Node labels for the credits graph. Cytoscape cannot grow a node to fit its
// text, so titles are wrapped here and the node is sized from the line count.

// Splits a title into at most `maxLines` lines of about `lineChars`
// characters, breaking at spaces and ending with "…" when text is cut.
export function wrapTitle(title, lineChars, maxLines) {
  const words = String(title).trim().split(/\s+/).filter(Boolean);
  const lines = [];
  let current = "";
  for (const word of words) {
    const candidate = current ? `${current} ${word}` : word;
    if (candidate.length <= lineChars || !current) {
      current = candidate;
    } else {
      lines.push(current);
      current = word;
    }
  }
  if (current) lines.push(current);
  const cut = lines.length > maxLines;
  const kept = lines.slice(0, maxLines).map((line) =>
    line.length > lineChars ? `${line.slice(0, lineChars - 1)}…` : line,
  );
  if (cut) {
    const last = kept[maxLines - 1];
    kept[maxLines - 1] = last.length >= lineChars ? `${last.slice(0, lineChars - 1)}…` : `${last}…`;
  }
  return kept;
}
