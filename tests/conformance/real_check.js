// real_check.js - the REAL nsfwjs InceptionV3 / MobileNetV2 (their own topology and uint8-quantised
// weights, loaded and dequantised by tfjs itself, independently of our importer and HDF5 files) on
// raw uint8 images, for tests/unit/test_realweights.c. Prints the global-average-pooled outputs of
// a few notop layers in the golden v1 text format of goldens.js (README.md).
//
// Usage: node real_check.js ARCH SIZE N IMAGES.raw [LAYER,LAYER...]
//   IMAGES.raw: N x SIZE x SIZE x 3 uint8, NHWC, nothing else.
//   Default layers: inception_v3 mixed5,mixed10; mobilenet_v2 block_10_project_BN,out_relu.
'use strict';

const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const nsfwjs = require('./nsfwjs');
const { block } = require('./goldens');

const DEFAULT_LAYERS = {
	inception_v3: 'mixed5,mixed10',
	mobilenet_v2: 'block_10_project_BN,out_relu',
};

async function main() {
	const [arch, sizeArg, nArg, file, layerArg] = process.argv.slice(2);
	const size = Number(sizeArg);
	const n = Number(nArg);
	if (!file || !DEFAULT_LAYERS[arch] || !(Number.isInteger(size) && size > 0) || !(Number.isInteger(n) && n > 0)) {
		console.error('usage: node real_check.js inception_v3|mobilenet_v2 SIZE N IMAGES.raw [LAYER,...]');
		process.exit(2);
	}
	const layers = (layerArg || DEFAULT_LAYERS[arch]).split(',');
	const raw = fs.readFileSync(file);
	if (raw.length !== n * size * size * 3)
		throw new Error(`${file}: ${raw.length} bytes, expected ${n} x ${size} x ${size} x 3`);

	await tf.setBackend('cpu');
	const model = await tf.loadLayersModel(tf.io.fromMemory(nsfwjs.artifacts(arch)));
	const [, h, w, c] = model.inputs[0].shape;
	if (h !== size || w !== size || c !== 3)
		throw new Error(`${arch} takes ${h}x${w}x${c} input, not ${size}x${size}x3`);
	// Truncated to the notop layers compared: the nsfwjs head is never run.
	const sub = tf.model({ inputs: model.inputs, outputs: layers.map((l) => model.getLayer(l).output) });

	// Keras preprocess_input 'tf', float32 step by step: x / 127.5 - 1.
	const x = tf.tidy(() => tf.tensor4d(Float32Array.from(raw), [n, size, size, 3]).div(127.5).sub(1));
	const t0 = Date.now();
	let ys = sub.predict(x);
	if (!Array.isArray(ys)) ys = [ys];
	let text = `# ctfuse golden v1 arch=${arch} size=${size} images=${n}\n`;
	layers.forEach((name, i) => {
		text += block(name, 'avg', ys[i]);
	});
	process.stdout.write(text);
	console.error(`real_check.js: ${arch} ${n} images, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
	console.error(`real_check.js: ${e.stack || e}`);
	process.exit(1);
});
