// Credit graph view: turns every <div class="graph-view"> into a layered
// drawing of who cites whom, plus a plain list of the same citations for
// screen readers and for anyone whose canvas does not work.
//
// Data shape (inline <script type="application/json" class="graph-data">
// inside the div, else fetched from data-graph-src):
//   {"focus": "w12",
//    "nodes": [{"id", "title", "kind", "owners", "url"}],
//    "edges": [{"source", "target", "share", "label"}]}
// An edge means `source` cites `target`; money flows along the arrow.
import cytoscape from "cytoscape";
import dagre from "cytoscape-dagre";
import { wrapTitle } from "./graph-label.js";
import { onReady } from "./ready.js";

cytoscape.use(dagre);

// Shapes leave different room for text: a diamond's usable area is about
// half its box, so it gets fewer characters per line and more padding.
const KIND_STYLE = {
  record: { shape: "round-rectangle", color: "#dbe6fb", border: "#2f5fb3", width: 160, lineChars: 17, pad: 22 },
  production: { shape: "hexagon", color: "#fde7c8", border: "#a45a00", width: 170, lineChars: 14, pad: 26 },
  model: { shape: "diamond", color: "#d6f0dd", border: "#1f7a3d", width: 190, lineChars: 11, pad: 46 },
  unknown: { shape: "ellipse", color: "#eceef2", border: "#6b7080", width: 160, lineChars: 14, pad: 30 },
};
const LINE_HEIGHT = 19;
const MAX_LINES = 3;

const STYLESHEET = [
  {
    selector: "node",
    style: {
      label: "data(label)",
      "text-wrap": "wrap",
      "text-max-width": "data(width)",
      "text-valign": "center",
      "text-halign": "center",
      "font-size": "15px",
      "font-family": "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif",
      color: "#1d2230",
      width: "data(width)",
      height: "data(height)",
      "border-width": 2,
      shape: "data(shape)",
      "background-color": "data(color)",
      "border-color": "data(border)",
    },
  },
  {
    selector: "node.focus",
    style: {
      "border-width": 4,
      "border-color": "#1d2230",
      "font-weight": "bold",
      "underlay-color": "#2f5fb3",
      "underlay-padding": 6,
      "underlay-opacity": 0.25,
      "underlay-shape": "round-rectangle",
    },
  },
  {
    selector: "edge",
    style: {
      width: 2,
      "line-color": "#8a91a3",
      "target-arrow-color": "#8a91a3",
      "target-arrow-shape": "triangle",
      "arrow-scale": 1.2,
      "curve-style": "bezier",
      label: "data(label)",
      "font-size": "14px",
      color: "#1d2230",
      "text-background-color": "#ffffff",
      "text-background-opacity": 0.9,
      "text-background-padding": "2px",
      "text-background-shape": "round-rectangle",
    },
  },
  {
    selector: "node:active, node:selected",
    style: { "overlay-opacity": 0.08 },
  },
];

function inlineData(view) {
  const script = view.querySelector('script.graph-data[type="application/json"]');
  return script ? JSON.parse(script.textContent) : null;
}

async function loadData(view) {
  const inline = inlineData(view);
  if (inline) return inline;
  const url = view.dataset.graphSrc;
  if (!url) throw new Error("This graph has no data.");
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) {
    throw new Error(`Could not load the graph (HTTP ${response.status}).`);
  }
  return response.json();
}

// Edges that point at a node the payload left out still deserve a drawing;
// they get a grey placeholder named by id instead of breaking the render.
function normalise(data) {
  const nodes = Array.isArray(data && data.nodes) ? data.nodes : [];
  const edges = Array.isArray(data && data.edges) ? data.edges : [];
  const byId = new Map();
  for (const node of nodes) {
    if (node && node.id != null) byId.set(String(node.id), node);
  }
  for (const edge of edges) {
    for (const end of [edge.source, edge.target]) {
      const id = String(end);
      if (!byId.has(id)) byId.set(id, { id, title: id, kind: "unknown" });
    }
  }
  return { focus: data && data.focus != null ? String(data.focus) : null, byId, edges };
}

function titleOf(node) {
  return node.title || String(node.id);
}

function elementsFor(graph) {
  const elements = [];
  for (const [id, node] of graph.byId) {
    const kind = KIND_STYLE[node.kind] ? node.kind : "unknown";
    const look = KIND_STYLE[kind];
    const lines = wrapTitle(titleOf(node), look.lineChars, MAX_LINES);
    elements.push({
      group: "nodes",
      data: {
        id,
        title: titleOf(node),
        label: lines.join("\n"),
        width: look.width,
        height: Math.max(56, lines.length * LINE_HEIGHT + look.pad),
        kind,
        url: node.url || "",
        shape: look.shape,
        color: look.color,
        border: look.border,
      },
      classes: id === graph.focus ? "focus" : "",
    });
  }
  graph.edges.forEach((edge, index) => {
    elements.push({
      group: "edges",
      data: {
        id: `e${index}`,
        source: String(edge.source),
        target: String(edge.target),
        label: edge.label || edge.share || "",
      },
    });
  });
  return elements;
}

function linkOrText(node) {
  if (!node.url) return document.createTextNode(titleOf(node));
  const link = document.createElement("a");
  link.href = node.url;
  link.textContent = titleOf(node);
  return link;
}

// One <li> per edge: "Tide cites Shoreline — 40%".
function renderEdgeList(container, graph) {
  container.textContent = "";
  if (graph.edges.length === 0) {
    const empty = document.createElement("p");
    empty.className = "muted";
    empty.textContent = "No citations.";
    container.appendChild(empty);
    return;
  }
  const list = document.createElement("ul");
  list.setAttribute("aria-label", "Citations");
  // Two columns only pay off once the list gets long.
  if (graph.edges.length > 6) list.className = "graph-edges-columns";
  for (const edge of graph.edges) {
    const item = document.createElement("li");
    item.appendChild(linkOrText(graph.byId.get(String(edge.source))));
    item.appendChild(document.createTextNode(" cites "));
    item.appendChild(linkOrText(graph.byId.get(String(edge.target))));
    const label = edge.label || edge.share;
    if (label) item.appendChild(document.createTextNode(` — ${label}`));
    list.appendChild(item);
  }
  container.appendChild(list);
}

function ensureChild(view, className, tagName = "div") {
  let child = view.querySelector(`:scope > .${className}`);
  if (!child) {
    child = document.createElement(tagName);
    child.className = className;
    view.appendChild(child);
  }
  return child;
}

function showMessage(view, text, isError) {
  const message = ensureChild(view, "graph-message", "p");
  message.textContent = text;
  message.classList.toggle("graph-message-error", Boolean(isError));
  message.setAttribute("role", isError ? "alert" : "status");
  message.hidden = false;
}

function draw(canvas, graph) {
  const cy = cytoscape({
    container: canvas,
    elements: elementsFor(graph),
    style: STYLESHEET,
    minZoom: 0.2,
    maxZoom: 2.5,
    boxSelectionEnabled: false,
    autoungrabify: true,
  });

  cy.on("tap", "node", (event) => {
    const url = event.target.data("url");
    if (url) window.location.assign(url);
  });
  cy.on("mouseover", "node", (event) => {
    canvas.style.cursor = event.target.data("url") ? "pointer" : "";
  });
  cy.on("mouseout", "node", () => {
    canvas.style.cursor = "";
  });

  return new Promise((resolve) => {
    const layout = cy.layout({
      name: "dagre",
      rankDir: "TB",
      nodeSep: 32,
      rankSep: 64,
      edgeSep: 20,
      // Route long citations around the works in between instead of
      // drawing them straight through other edges.
      useDagreEdgeControlPoints: true,
      automaticDagreEdgeStyle: true,
      fit: true,
      padding: 24,
    });
    layout.one("layoutstop", () => {
      // Never blow a two-node graph up to giant size.
      if (cy.zoom() > 1.2) {
        cy.zoom(1.2);
        cy.center();
      }
      resolve(cy);
    });
    layout.run();
  });
}

// A graph drawn while hidden (e.g. in a closed <details>) has a zero-sized
// canvas; refit once it gets a real size.
function refitOnResize(canvas, cy) {
  if (typeof ResizeObserver === "undefined") return;
  let last = `${canvas.clientWidth}x${canvas.clientHeight}`;
  new ResizeObserver(() => {
    const size = `${canvas.clientWidth}x${canvas.clientHeight}`;
    if (size === last) return;
    last = size;
    cy.resize();
    cy.fit(undefined, 24);
    if (cy.zoom() > 1.2) {
      cy.zoom(1.2);
      cy.center();
    }
  }).observe(canvas);
}

async function renderView(view) {
  if (view.dataset.rendered) return;
  view.dataset.rendered = "loading";
  view.setAttribute("aria-busy", "true");
  showMessage(view, "Loading graph…", false);

  let graph;
  try {
    graph = normalise(await loadData(view));
  } catch (error) {
    const text =
      error instanceof SyntaxError
        ? "The graph data could not be read."
        : error && error.message && !(error instanceof TypeError)
          ? error.message
          : "Could not load the graph.";
    showMessage(view, text, true);
    view.dataset.rendered = "error";
    view.removeAttribute("aria-busy");
    return;
  }

  const edgeList = ensureChild(view, "graph-edges");
  if (graph.byId.size === 0) {
    showMessage(view, "Nothing to show yet: this work has no credits graph.", false);
    renderEdgeList(edgeList, graph);
    edgeList.hidden = true;
  } else {
    view.querySelector(":scope > .graph-message").hidden = true;
    const canvas = ensureChild(view, "graph-canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute(
      "aria-label",
      `Credits graph: ${graph.byId.size} works, ${graph.edges.length} citations. The list below has the same information.`,
    );
    // Keep the canvas above the list whatever order the template used.
    view.insertBefore(canvas, edgeList);
    renderEdgeList(edgeList, graph);
    const cy = await draw(canvas, graph);
    refitOnResize(canvas, cy);
  }

  view.dataset.edgeCount = String(graph.edges.length);
  view.dataset.nodeCount = String(graph.byId.size);
  view.removeAttribute("aria-busy");
  view.dataset.rendered = "true";
}

onReady(() => {
  for (const view of document.querySelectorAll("div.graph-view")) {
    renderView(view).catch((error) => {
      showMessage(view, "The graph could not be drawn.", true);
      view.dataset.rendered = "error";
      view.removeAttribute("aria-busy");
      console.error(error);
    });
  }
});
