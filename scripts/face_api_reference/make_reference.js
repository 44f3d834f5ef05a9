// Reference outputs of the ORIGINAL face-api expression model for ned's PyTorch port test.
// Pure-JS TensorFlow.js, cpu backend (no native binary). Reads uint8 (h, w, 3) RGB crops
// saved as .npy, runs face-api's own pre-processing (pad to square, resize to 112, mean
// subtraction) and network, and writes logits and probabilities as JSON.
//
// Usage: npm install --ignore-scripts && node make_reference.js <crops dir> <out.json>
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

function readNpyUint8(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not .npy`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  if (!/'descr': '\|u1'/.test(header) || /'fortran_order': True/.test(header)) {
    throw new Error(`${file}: expected C-order uint8, header ${header}`);
  }
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = new Uint8Array(buf.buffer, buf.byteOffset + start + hlen, shape.reduce((a, b) => a * b, 1));
  return { shape, data: Int32Array.from(data) };
}

async function main() {
  const [cropsDir, outFile] = process.argv.slice(2);
  await tf.setBackend('cpu');
  await tf.ready();
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const net = faceapi.nets.faceExpressionNet;
  await net.loadFromDisk(modelDir);
  const files = fs.readdirSync(cropsDir).filter((f) => f.startsWith('crop_') && f.endsWith('.npy')).sort();
  const result = {
    made_with: {
      'face-api': require('@vladmandic/face-api/package.json').version,
      tfjs: tf.version.tfjs, backend: tf.getBackend(), node: process.version,
    },
    labels: ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'],
    outputs: {},
  };
  for (const f of files) {
    const { shape, data } = readNpyUint8(path.join(cropsDir, f));
    const img = tf.tensor3d(data, shape, 'int32');
    const input = await faceapi.toNetInput(img);
    const logits = net.runNet(input);
    const probs = tf.softmax(logits);
    result.outputs[f] = { shape, logits: Array.from(logits.dataSync()), probabilities: Array.from(probs.dataSync()) };
    tf.dispose([img, logits, probs]);
  }
  fs.writeFileSync(outFile, `${JSON.stringify(result, null, 1)}\n`);
  console.log(`wrote ${outFile}: ${files.length} crops`);
}

main().catch((e) => { console.error(e); process.exit(1); });
