// Validates AsyncAPI documents with the official parser; prints every diagnostic of severity error
// (and warnings with --warnings); exits 1 when any document has an error.
// Usage: node validate.mjs FILE.json [FILE.json …]
import { readFileSync } from "node:fs";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const parser = new Parser();
let failed = 0;
for (const file of process.argv.slice(2).filter((a) => !a.startsWith("--"))) {
  const { document, diagnostics } = await parser.parse(readFileSync(file, "utf8"));
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  for (const d of errors) console.log(`${file}: ${d.code}: ${d.message} at ${d.path.join(".")}`);
  if (!document || errors.length) failed += 1;
  else console.log(`${file}: valid (${diagnostics.length} notes)`);
}
process.exit(failed ? 1 : 0);
