// meshoptimizer's simplifier (the npm package's WebAssembly build, the same version gltfpack uses),
// served over stdin/stdout to assets_pipeline.codecs.simplifier: one process answers many requests.
// Run with `node --input-type=module --eval` in the node tools folder (see assets_pipeline/nodetools.py).
// Each request: uint32 LE byte length, then 4-byte LE JSON length, JSON {jobs: [{indexCount, vertexCount,
// targetIndexCount, targetError, flagNames, attributeWeights}]}, then for each job: uint32 indices, float32 xyz
// positions and, when attributeWeights has n > 0 numbers, float32 attributes, n per vertex (simplifyWithAttributes).
// Each answer: uint32 LE byte length, then for each job: uint32 count, float32 error, uint32 indices.
// The process ends when stdin closes.
import { MeshoptSimplifier } from "meshoptimizer";

function floats(buf, off, count) {
  return new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + count * 4));
}

function answer(buf) {
  const jsonLen = buf.readUInt32LE(0);
  const req = JSON.parse(buf.subarray(4, 4 + jsonLen).toString());
  let off = 4 + jsonLen;
  const parts = [];
  for (const job of req.jobs) {
    const indices = new Uint32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + job.indexCount * 4));
    off += job.indexCount * 4;
    const positions = floats(buf, off, job.vertexCount * 3);
    off += job.vertexCount * 12;
    const weights = job.attributeWeights || [];
    let out, error;
    if (weights.length) {
      const attributes = floats(buf, off, job.vertexCount * weights.length);
      off += job.vertexCount * weights.length * 4;
      [out, error] = MeshoptSimplifier.simplifyWithAttributes(indices, positions, 3, attributes, weights.length,
        weights, null, job.targetIndexCount, job.targetError, job.flagNames);
    } else {
      [out, error] = MeshoptSimplifier.simplify(
        indices, positions, 3, job.targetIndexCount, job.targetError, job.flagNames);
    }
    const header = Buffer.alloc(8);
    header.writeUInt32LE(out.length, 0);
    header.writeFloatLE(error, 4);
    parts.push(header, Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  }
  const size = Buffer.alloc(4);
  size.writeUInt32LE(parts.reduce((n, p) => n + p.length, 0), 0);
  return Buffer.concat([size, ...parts]);
}

await MeshoptSimplifier.ready;
// a request's chunks are kept as they come and joined once it is complete (joining at every chunk copied a
// 5 MB request ~80 times: 0.1 s of the first call on a 270k-triangle mesh)
let chunks = [], have = 0, need = -1;
for await (const chunk of process.stdin) {
  chunks.push(chunk);
  have += chunk.length;
  for (;;) {
    if (need < 0 && have >= 4) {
      if (chunks[0].length < 4) chunks = [Buffer.concat(chunks, have)];
      need = 4 + chunks[0].readUInt32LE(0);
    }
    if (need < 0 || have < need) break;
    const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, have);
    process.stdout.write(answer(Buffer.from(all.subarray(4, need))));
    chunks = all.length > need ? [all.subarray(need)] : [];
    have -= need;
    need = -1;
  }
}
