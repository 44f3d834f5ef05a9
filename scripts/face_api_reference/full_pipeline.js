// face-api's OWN full pipeline on video frames, to check ned's crop: detector (SSD MobileNet v1
// or tiny face detector), 68-point landmarks, and the expression net on the landmarks' aligned
// box (face-api's default) or on the raw detector box. Prints the top class per frame and
// writes boxes and probabilities as JSON. Frames: (H, W, 3) uint8 RGB .npy files.
//
// Usage (after npm install --ignore-scripts here): BK=wasm [STEP=n] node full_pipeline.js <frames dir> <out.json>
'use strict';
const fs = require('fs'); const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
function readNpy(file) {
  const buf = fs.readFileSync(file);
  const major = buf[6]; const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12; const header = buf.toString('latin1', start, start + hlen);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = new Uint8Array(buf.buffer, buf.byteOffset + start + hlen, shape.reduce((a, b) => a * b, 1));
  return tf.tensor3d(Int32Array.from(data), shape, 'int32');
}
const L = ['neutral','happy','sad','angry','fearful','disgusted','surprised'];
function top(e) { return L.reduce((a, b) => (e[a] >= e[b] ? a : b)); }
async function main() {
  const dir = process.argv[2];
  await tf.setBackend(process.env.BK || 'cpu'); await tf.ready();
  const md = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(md);
  await faceapi.nets.tinyFaceDetector.loadFromDisk(md);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(md);
  await faceapi.nets.faceExpressionNet.loadFromDisk(md);
  const out = {};
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.npy')).sort().filter((x, i) => i % (+process.env.STEP || 1) === 0)) {
    const img = readNpy(path.join(dir, f));
    const r = {};
    const ssd = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.2 });
    const a = await faceapi.detectSingleFace(img, ssd).withFaceLandmarks().withFaceExpressions();
    if (a) r.ssd_aligned = { box: a.alignedRect.box, det: a.detection.box, score: a.detection.score, top: top(a.expressions), p: a.expressions };
    const b = await faceapi.detectSingleFace(img, ssd).withFaceExpressions();
    if (b) r.ssd_det = { box: b.detection.box, top: top(b.expressions), p: b.expressions };
    const tiny = new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.2 });
    const c = await faceapi.detectSingleFace(img, tiny).withFaceLandmarks().withFaceExpressions();
    if (c) r.tiny_aligned = { box: c.alignedRect.box, top: top(c.expressions), p: c.expressions };
    const d = await faceapi.detectSingleFace(img, tiny).withFaceExpressions();
    if (d) r.tiny_det = { box: d.detection.box, top: top(d.expressions), p: d.expressions };
    out[f] = r; img.dispose();
    process.stderr.write(`${f} ${Object.entries(r).map(([k, v]) => k + ':' + v.top).join(' ')}\n`);
  }
  fs.writeFileSync(process.argv[3], JSON.stringify(out));
}
main().catch((e) => { console.error(e); process.exit(1); });
