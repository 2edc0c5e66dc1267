// Parse Mermaid diagrams with Mermaid's own parser (the one GitHub runs).
// Input on stdin: diagrams separated by a line "%%%%"; output: one line per diagram,
// "ok" or "error <message>".
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");

const diagrams = readFileSync(0, "utf8").split("\n%%%%\n");
for (const text of diagrams) {
  try {
    await mermaid.parse(text);
    console.log("ok");
  } catch (error) {
    console.log("error " + String(error.message ?? error).replace(/\n/g, " "));
  }
}
