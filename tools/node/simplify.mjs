// meshoptimizer's simplifier (the npm package's WebAssembly build, the same version gltfpack uses),
// driven over stdin/stdout by assets_pipeline.codecs.simplifier.
// stdin: 4-byte little-endian JSON length, JSON {indexCount, vertexCount, targetIndexCount, targetError, flags},
//        then uint32 indices, then float32 xyz positions. stdout: uint32 count, float32 error, uint32 indices.
import { MeshoptSimplifier } from "meshoptimizer";

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const buf = Buffer.concat(chunks);
const jsonLen = buf.readUInt32LE(0);
const req = JSON.parse(buf.subarray(4, 4 + jsonLen).toString());
let off = 4 + jsonLen;
const idxBytes = req.indexCount * 4;
const indices = new Uint32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + idxBytes));
off += idxBytes;
const positions = new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + req.vertexCount * 12));
await MeshoptSimplifier.ready;
const [out, error] = MeshoptSimplifier.simplify(indices, positions, 3, req.targetIndexCount, req.targetError, req.flagNames);
const header = Buffer.alloc(8);
header.writeUInt32LE(out.length, 0);
header.writeFloatLE(error, 4);
process.stdout.write(Buffer.concat([header, Buffer.from(out.buffer, out.byteOffset, out.byteLength)]));
