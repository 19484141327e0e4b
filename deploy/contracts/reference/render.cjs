// Renders AsyncAPI documents to HTML with AsyncAPI's own generator and HTML template (installed from
// npm under .local by deploy/contracts/contracts.py; nothing is downloaded while rendering).
// Usage: node render.cjs DOC.json OUT_DIR [DOC.json OUT_DIR …]   (one self-contained index.html each)
const path = require("node:path");
const Generator = require("@asyncapi/generator");

const template = path.dirname(require.resolve("@asyncapi/html-template/package.json"));
const params = { singleFile: "true", config: JSON.stringify({ expand: { messageExamples: true } }) };

(async () => {
  const args = process.argv.slice(2);
  if (!args.length || args.length % 2) throw new Error("usage: node render.cjs DOC.json OUT_DIR [DOC.json OUT_DIR …]");
  for (let i = 0; i < args.length; i += 2) {
    const generator = new Generator(template, path.resolve(args[i + 1]), { forceWrite: true, templateParams: params });
    await generator.generateFromFile(path.resolve(args[i]));
    console.log(`${args[i]}: ${path.join(args[i + 1], "index.html")}`);
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
