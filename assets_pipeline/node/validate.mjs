// Runs the Khronos glTF-Validator on each file given and prints one JSON line per file:
// {"path": ..., "numErrors": N, "numWarnings": N, "messages": [...first errors...], "info": {...}}
// Used by assets_pipeline.validation, which runs it with `node --input-type=module --eval` in the node tools
// folder (see assets_pipeline/nodetools.py), so the files start at process.argv[1].
// External resources are resolved next to the file.
import { readFile } from "node:fs/promises";
import path from "node:path";
import validator from "gltf-validator";

async function validate(file) {
  const data = new Uint8Array(await readFile(file));
  const dir = path.dirname(file);
  const report = await validator.validateBytes(data, {
    uri: path.basename(file),
    maxIssues: 200,
    externalResourceFunction: async (uri) => {
      const resolved = path.resolve(dir, decodeURIComponent(uri));
      if (!resolved.startsWith(path.resolve(dir) + path.sep)) {
        throw new Error("resource outside the asset folder");
      }
      return new Uint8Array(await readFile(resolved));
    },
  });
  const issues = report.issues;
  return {
    path: file,
    numErrors: issues.numErrors,
    numWarnings: issues.numWarnings,
    numInfos: issues.numInfos,
    messages: issues.messages.filter((m) => m.severity <= 1).slice(0, 50),
    info: report.info,
  };
}

for (const file of process.argv.slice(1)) {
  try {
    console.log(JSON.stringify(await validate(file)));
  } catch (err) {
    console.log(JSON.stringify({ path: file, numErrors: 1, numWarnings: 0, messages: [{ code: "VALIDATOR_FAILED", message: String(err), severity: 0 }] }));
  }
}
