// goldens.js - golden activations from TensorFlow.js (CPU backend) for the C engine's conformance tests.
//
// The networks are built by tfjs-layers from the Keras topology that Keras itself serialised
// into the nsfwjs model.json (so names and architecture do not come from our C model files),
// every weight is set with the deterministic formula of lib/nn/testweights.h (reproduced here
// bit for bit with 32-bit integer arithmetic), and the chosen layers' outputs are written to
// tests/golden/<arch>.txt. See README.md for the file format and the procedure.
//
// Usage: node goldens.js [outdir]     (default ../golden)
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const nsfwjs = require('./nsfwjs');

// ---- lib/nn/testweights.h, in JavaScript ----------------------------------------------

function fmix32(k) {
	k >>>= 0;
	k ^= k >>> 16;
	k = Math.imul(k, 0x85ebca6b) >>> 0;
	k ^= k >>> 13;
	k = Math.imul(k, 0xc2b2ae35) >>> 0;
	k ^= k >>> 16;
	return k >>> 0;
}

function fnv1a32(s) {
	const bytes = Buffer.from(s, 'utf8');
	let h = 2166136261;
	for (const b of bytes) {
		h = (h ^ b) >>> 0;
		h = Math.imul(h, 16777619) >>> 0;
	}
	return h >>> 0;
}

// Values of tensor `index` (Keras order) of `layer`, Keras shape `shape`, as a Float32Array.
function testweight(layer, index, shortName, shape) {
	const h = (fnv1a32(layer) ^ fmix32(index + 1)) >>> 0;
	const n = shape.reduce((a, b) => a * b, 1);
	let symmetric = true;
	let a = 0.1;
	let lo = 0;
	let span = 1;
	if (shortName === 'kernel' || shortName === 'depthwise_kernel') {
		const upto = shortName === 'kernel' ? shape.length - 1 : Math.min(shape.length, 2);
		let fanIn = 1;
		for (let d = 0; d < upto; d++) fanIn *= shape[d];
		a = Math.sqrt(6 / fanIn);
	} else if (shortName === 'gamma') {
		symmetric = false;
		lo = 0.8;
		span = 0.4;
	} else if (shortName === 'moving_variance') {
		symmetric = false;
		lo = 0.5;
		span = 1;
	}
	const out = new Float32Array(n);
	for (let i = 0; i < n; i++) {
		const r = fmix32((h ^ fmix32(i + 1)) >>> 0);
		const u = r / 4294967296;
		out[i] = Math.fround(symmetric ? (2 * u - 1) * a : lo + span * u);
	}
	return out;
}

// Synthetic uint8 image n of h x w x 3.
function testinput(n, h, w) {
	const seed = (0x1234567 + Math.imul(n, 0x9e3779b9)) >>> 0;
	const out = new Uint8Array(h * w * 3);
	for (let i = 0; i < out.length; i++) out[i] = fmix32((seed ^ fmix32(i + 1)) >>> 0) & 255;
	return out;
}

// ---- weights and inputs -----------------------------------------------------------------

// Keras' order of a layer's tensors, which the C side indexes by (tfjs keeps the same order;
// checked here so that a change in tfjs cannot silently shift the hash).
const KERAS_ORDER = ['kernel', 'depthwise_kernel', 'pointwise_kernel', 'bias', 'gamma', 'beta', 'moving_mean', 'moving_variance'];

function shortName(v) {
	// "conv2d_1/kernel" (originalName) -> "kernel"
	const s = (v.originalName || v.name).split('/').pop();
	return s.replace(/:\d+$/, '');
}

function setTestWeights(model) {
	let count = 0;
	for (const layer of model.layers) {
		const ws = layer.weights;
		if (!ws.length) continue;
		const names = ws.map(shortName);
		for (let i = 1; i < names.length; i++) {
			if (KERAS_ORDER.indexOf(names[i]) <= KERAS_ORDER.indexOf(names[i - 1]))
				throw new Error(`layer ${layer.name}: unexpected weight order ${names.join(',')}`);
		}
		const vals = ws.map((v, i) => tf.tensor(testweight(layer.name, i, names[i], v.shape), v.shape, 'float32'));
		layer.setWeights(vals);
		vals.forEach((t) => t.dispose());
		count += ws.length;
	}
	return count;
}

// Batch of `images` synthetic inputs, preprocessed as Keras' preprocess_input `mode` does it
// (keras-applications imagenet_utils, float32 step by step): 'tf' x / 127.5 - 1; 'caffe' RGB ->
// BGR then minus the BGR ImageNet mean; 'torch' x / 255, minus the RGB mean, over the RGB std.
function inputBatch(images, size, mode = 'tf') {
	const per = size * size * 3;
	const buf = new Float32Array(images * per);
	for (let n = 0; n < images; n++) buf.set(testinput(n, size, size), n * per);
	return tf.tidy(() => {
		const x = tf.tensor4d(buf, [images, size, size, 3]);
		if (mode === 'tf') return x.div(127.5).sub(1);
		if (mode === 'caffe') return tf.reverse(x, -1).sub(tf.tensor1d([103.939, 116.779, 123.68]));
		if (mode === 'torch')
			return x.div(255).sub(tf.tensor1d([0.485, 0.456, 0.406])).div(tf.tensor1d([0.229, 0.224, 0.225]));
		throw new Error(`unknown preprocessing mode ${mode}`);
	});
}

// ---- output -----------------------------------------------------------------------------

// %.9g without trailing zeros: enough digits to give the float32 back exactly.
function fmt(x) {
	if (x === 0) return '0';
	let s = x.toPrecision(9);
	let exp = '';
	const e = s.indexOf('e');
	if (e >= 0) {
		exp = s.slice(e);
		s = s.slice(0, e);
	}
	if (s.indexOf('.') >= 0) s = s.replace(/0+$/, '').replace(/\.$/, '');
	return s + exp;
}

// One block: pool 'avg' / 'max' over H and W (n lines of C), or 'none' (n lines of H*W*C, NHWC).
function block(name, pool, t) {
	let m;
	if (pool === 'avg') m = tf.mean(t, [1, 2]);
	else if (pool === 'max') m = tf.max(t, [1, 2]);
	else m = t.reshape([t.shape[0], -1]);
	const [n, d] = m.shape;
	const v = m.dataSync();
	const lines = [`layer ${name} pool=${pool} n=${n} d=${d}`];
	for (let i = 0; i < n; i++) {
		const row = new Array(d);
		for (let j = 0; j < d; j++) row[j] = fmt(v[i * d + j]);
		lines.push(row.join(' '));
	}
	if (m !== t) m.dispose();
	return lines.join('\n') + '\n';
}

function runGolden(arch, model, size, images, wanted, outdir, mode = 'tf') {
	const nw = setTestWeights(model);
	const outs = wanted.map(([name]) => model.getLayer(name).output);
	const sub = tf.model({ inputs: model.inputs, outputs: outs });
	const x = inputBatch(images, size, mode);
	const t0 = Date.now();
	let ys = sub.predict(x);
	if (!Array.isArray(ys)) ys = [ys];
	let text = `# ctfuse golden v1 arch=${arch} size=${size} images=${images}\n`;
	wanted.forEach(([name, pool], i) => {
		text += block(name, pool, ys[i]);
	});
	const file = path.join(outdir, `${arch}.txt`);
	fs.writeFileSync(file + '.tmp', text);
	fs.renameSync(file + '.tmp', file);
	console.log(`${file}: ${wanted.length} blocks, ${nw} weight tensors, ${text.length} bytes, ` +
		`${((Date.now() - t0) / 1000).toFixed(1)} s`);
	ys.forEach((y) => y.dispose());
	x.dispose();
}

// ---- the networks -----------------------------------------------------------------------

// The Keras topology from the nsfwjs package (a browserify bundle exporting model.json's object).
function nsfwjsTopology(dir) {
	return nsfwjs.modelJSON(dir).modelTopology;
}

async function kerasModel(dir) {
	const topo = nsfwjsTopology(dir);
	// modelFromJSON builds the layers only; weights are set afterwards.
	return tf.models.modelFromJSON({ modelTopology: topo });
}

// A tiny network exercising the layer kinds and padding rules of both architectures, with raw
// (unpooled) outputs so that border handling is checked element by element. Described in README.md.
function tinyModel() {
	const L = tf.layers;
	const x = tf.input({ shape: [16, 16, 3], name: 'input_1' });
	const pad = L.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: 'pad' }).apply(x);
	let c1 = L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'valid', useBias: false, name: 'conv1' }).apply(pad);
	c1 = L.batchNormalization({ scale: false, epsilon: 0.001, name: 'bn1' }).apply(c1);
	const r1 = L.reLU({ maxValue: 6, name: 'relu1' }).apply(c1); // 8x8x4
	// 1x7 then 7x1, 'same'
	let a = L.conv2d({ filters: 4, kernelSize: [1, 7], padding: 'same', name: 'conv_1x7' }).apply(r1);
	a = L.conv2d({ filters: 4, kernelSize: [7, 1], padding: 'same', name: 'conv_7x1' }).apply(a);
	a = L.activation({ activation: 'relu', name: 'act_7x1' }).apply(a);
	// depthwise 3x3 'same' + BN (with gamma) + relu6 + linear 1x1 projection
	let d = L.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'dw' }).apply(r1);
	d = L.batchNormalization({ epsilon: 0.001, name: 'dw_bn' }).apply(d);
	d = L.reLU({ maxValue: 6, name: 'dw_relu' }).apply(d);
	d = L.conv2d({ filters: 4, kernelSize: 1, name: 'dw_project' }).apply(d);
	// 3x3 stride-1 'same' pools (TF's average excludes the padding from the count)
	const ap = L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'avgpool' }).apply(r1);
	const pp = L.conv2d({ filters: 4, kernelSize: 1, name: 'pool_proj' }).apply(ap);
	const mp = L.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'maxpool_same' }).apply(r1);
	const add = L.add({ name: 'add' }).apply([d, pp]);
	const cat = L.concatenate({ axis: -1, name: 'concat' }).apply([a, d, pp, mp]); // 8x8x16
	// stride-2 'same' on an even size: TF pads 0 before, 1 after
	const s2 = L.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', name: 'conv_s2same' }).apply(cat);
	// stride-2 'valid' max pool, then stride-2 'same' on an odd size (pads 1 and 1)
	const mv = L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: 'maxpool_valid' }).apply(r1); // 3x3x4
	const s2o = L.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', name: 'conv_s2same_odd' }).apply(mv);
	return tf.model({ inputs: x, outputs: [add, s2, s2o], name: 'tiny' });
}

async function main() {
	const outdir = path.resolve(process.argv[2] || path.join(__dirname, '..', 'golden'));
	fs.mkdirSync(outdir, { recursive: true });
	await tf.setBackend('cpu');
	const images = 2;

	const tiny = tinyModel();
	fs.writeFileSync(path.join(outdir, 'tiny.json'), JSON.stringify(tiny.toJSON(null, false), null, 1) + '\n');
	runGolden('tiny', tiny, 16, images, [
		['relu1', 'none'], ['act_7x1', 'none'], ['dw_relu', 'none'], ['avgpool', 'none'],
		['maxpool_same', 'none'], ['add', 'none'], ['concat', 'avg'], ['conv_s2same', 'none'],
		['maxpool_valid', 'none'], ['conv_s2same_odd', 'none'],
	], outdir);
	tiny.dispose();

	const mob = await kerasModel('mobilenet_v2');
	runGolden('mobilenet_v2', mob, 224, images, [
		['Conv1_relu', 'avg'], ['expanded_conv_project_BN', 'avg'], ['block_3_project_BN', 'avg'],
		['block_6_project_BN', 'max'], ['block_10_project_BN', 'avg'], ['block_13_project_BN', 'avg'],
		['out_relu', 'avg'],
	], outdir);
	mob.dispose();

	const inc = await kerasModel('inception_v3');
	runGolden('inception_v3', inc, 299, images, [
		['activation_1', 'avg'], ['max_pooling2d_1', 'avg'], ['mixed0', 'avg'], ['mixed2', 'max'],
		['mixed5', 'avg'], ['mixed7', 'avg'], ['mixed10', 'avg'],
	], outdir);
	inc.dispose();
}

module.exports = { testweight, testinput, setTestWeights, inputBatch, runGolden, fmt, block };

if (require.main === module) {
	main().catch((e) => {
		console.error(`goldens.js: ${e.stack || e}`);
		process.exit(1);
	});
}
