// meshoptimizer's simplifier (the npm package's WebAssembly build, the same version gltfpack uses),
// served over stdin/stdout to assets_pipeline.codecs.simplifier: one process answers many requests.
// Run with `node --input-type=module --eval` in the node tools folder (see assets_pipeline/nodetools.py).
// Each request: uint32 LE byte length, then 4-byte LE JSON length, JSON {indexCount, vertexCount,
// targetIndexCount, targetError, flagNames}, uint32 indices, float32 xyz positions.
// Each answer: uint32 LE byte length, then uint32 count, float32 error, uint32 indices.
// The process ends when stdin closes.
import { MeshoptSimplifier } from "meshoptimizer";

function answer(buf) {
  const jsonLen = buf.readUInt32LE(0);
  const req = JSON.parse(buf.subarray(4, 4 + jsonLen).toString());
  let off = 4 + jsonLen;
  const idxBytes = req.indexCount * 4;
  const indices = new Uint32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + idxBytes));
  off += idxBytes;
  const positions = new Float32Array(
    buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + req.vertexCount * 12));
  const [out, error] = MeshoptSimplifier.simplify(
    indices, positions, 3, req.targetIndexCount, req.targetError, req.flagNames);
  const header = Buffer.alloc(12);
  header.writeUInt32LE(8 + out.byteLength, 0);
  header.writeUInt32LE(out.length, 4);
  header.writeFloatLE(error, 8);
  return Buffer.concat([header, Buffer.from(out.buffer, out.byteOffset, out.byteLength)]);
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
