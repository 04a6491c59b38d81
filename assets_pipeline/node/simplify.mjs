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
let pending = Buffer.alloc(0);
for await (const chunk of process.stdin) {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  while (pending.length >= 4) {
    const size = pending.readUInt32LE(0);
    if (pending.length < 4 + size) break;
    const body = pending.subarray(4, 4 + size);
    pending = pending.subarray(4 + size);
    process.stdout.write(answer(Buffer.from(body)));
  }
}
