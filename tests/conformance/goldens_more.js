// goldens_more.js - TensorFlow.js goldens for ResNet50, VGG16, DenseNet121 and Xception.
//
// The four networks are written here with tf.layers, independently of the C model files,
// following keras-applications (resnet_common.py / tf.keras resnet.py, vgg16.py, densenet.py,
// xception.py) with the layer names of the official notop weight files; weights, inputs and
// the output format are those of goldens.js (shared functions), each with its Keras
// preprocessing mode ('caffe', 'caffe', 'torch', 'tf'). See README.md.
//
// Usage: node goldens_more.js [outdir] [arch ...]     (default ../golden, all four)
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { runGolden } = require('./goldens.js');

const L = tf.layers;

// ---- ResNet50 (resnet_common.py block1 / stack1; every Conv2D with bias) ----------------

function resnetBlock1(x, filters, stride, convShortcut, name) {
	const bn = (n) => L.batchNormalization({ axis: 3, epsilon: 1.001e-5, name: n });
	let shortcut = x;
	if (convShortcut) {
		shortcut = L.conv2d({ filters: 4 * filters, kernelSize: 1, strides: stride, name: `${name}_0_conv` }).apply(x);
		shortcut = bn(`${name}_0_bn`).apply(shortcut);
	}
	x = L.conv2d({ filters, kernelSize: 1, strides: stride, name: `${name}_1_conv` }).apply(x);
	x = bn(`${name}_1_bn`).apply(x);
	x = L.activation({ activation: 'relu', name: `${name}_1_relu` }).apply(x);
	x = L.conv2d({ filters, kernelSize: 3, padding: 'same', name: `${name}_2_conv` }).apply(x);
	x = bn(`${name}_2_bn`).apply(x);
	x = L.activation({ activation: 'relu', name: `${name}_2_relu` }).apply(x);
	x = L.conv2d({ filters: 4 * filters, kernelSize: 1, name: `${name}_3_conv` }).apply(x);
	x = bn(`${name}_3_bn`).apply(x);
	x = L.add({ name: `${name}_add` }).apply([shortcut, x]);
	return L.activation({ activation: 'relu', name: `${name}_out` }).apply(x);
}

function resnetStack1(x, filters, blocks, stride1, name) {
	x = resnetBlock1(x, filters, stride1, true, `${name}_block1`);
	for (let i = 2; i <= blocks; i++) x = resnetBlock1(x, filters, 1, false, `${name}_block${i}`);
	return x;
}

function resnet50() {
	const input = tf.input({ shape: [224, 224, 3], name: 'input_1' });
	let x = L.zeroPadding2d({ padding: [[3, 3], [3, 3]], name: 'conv1_pad' }).apply(input);
	x = L.conv2d({ filters: 64, kernelSize: 7, strides: 2, name: 'conv1_conv' }).apply(x);
	x = L.batchNormalization({ axis: 3, epsilon: 1.001e-5, name: 'conv1_bn' }).apply(x);
	x = L.activation({ activation: 'relu', name: 'conv1_relu' }).apply(x);
	x = L.zeroPadding2d({ padding: [[1, 1], [1, 1]], name: 'pool1_pad' }).apply(x);
	x = L.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1_pool' }).apply(x);
	x = resnetStack1(x, 64, 3, 1, 'conv2');
	x = resnetStack1(x, 128, 4, 2, 'conv3');
	x = resnetStack1(x, 256, 6, 2, 'conv4');
	x = resnetStack1(x, 512, 3, 2, 'conv5');
	return tf.model({ inputs: input, outputs: x, name: 'resnet50' });
}

// ---- VGG16 ---------------------------------------------------------------------------

function vgg16() {
	const input = tf.input({ shape: [224, 224, 3], name: 'input_1' });
	let x = input;
	const cfg = [[64, 2], [128, 2], [256, 3], [512, 3], [512, 3]];
	cfg.forEach(([filters, n], b) => {
		for (let i = 1; i <= n; i++)
			x = L.conv2d({ filters, kernelSize: 3, activation: 'relu', padding: 'same', name: `block${b + 1}_conv${i}` }).apply(x);
		x = L.maxPooling2d({ poolSize: 2, strides: 2, name: `block${b + 1}_pool` }).apply(x);
	});
	return tf.model({ inputs: input, outputs: x, name: 'vgg16' });
}

// ---- DenseNet121 (densenet.py dense_block / transition_block / conv_block) ------------

function densenetConvBlock(x, growth, name) {
	let x1 = L.batchNormalization({ axis: 3, epsilon: 1.001e-5, name: `${name}_0_bn` }).apply(x);
	x1 = L.activation({ activation: 'relu', name: `${name}_0_relu` }).apply(x1);
	x1 = L.conv2d({ filters: 4 * growth, kernelSize: 1, useBias: false, name: `${name}_1_conv` }).apply(x1);
	x1 = L.batchNormalization({ axis: 3, epsilon: 1.001e-5, name: `${name}_1_bn` }).apply(x1);
	x1 = L.activation({ activation: 'relu', name: `${name}_1_relu` }).apply(x1);
	x1 = L.conv2d({ filters: growth, kernelSize: 3, padding: 'same', useBias: false, name: `${name}_2_conv` }).apply(x1);
	return L.concatenate({ axis: 3, name: `${name}_concat` }).apply([x, x1]);
}

function densenetTransition(x, reduction, name) {
	x = L.batchNormalization({ axis: 3, epsilon: 1.001e-5, name: `${name}_bn` }).apply(x);
	x = L.activation({ activation: 'relu', name: `${name}_relu` }).apply(x);
	const c = Math.floor(x.shape[3] * reduction);
	x = L.conv2d({ filters: c, kernelSize: 1, useBias: false, name: `${name}_conv` }).apply(x);
	return L.averagePooling2d({ poolSize: 2, strides: 2, name: `${name}_pool` }).apply(x);
}

function densenet121() {
	const blocks = [6, 12, 24, 16];
	const input = tf.input({ shape: [224, 224, 3], name: 'input_1' });
	let x = L.zeroPadding2d({ padding: [[3, 3], [3, 3]], name: 'zero_padding2d_1' }).apply(input);
	x = L.conv2d({ filters: 64, kernelSize: 7, strides: 2, useBias: false, name: 'conv1/conv' }).apply(x);
	x = L.batchNormalization({ axis: 3, epsilon: 1.001e-5, name: 'conv1/bn' }).apply(x);
	x = L.activation({ activation: 'relu', name: 'conv1/relu' }).apply(x);
	x = L.zeroPadding2d({ padding: [[1, 1], [1, 1]], name: 'zero_padding2d_2' }).apply(x);
	x = L.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1' }).apply(x);
	blocks.forEach((n, b) => {
		for (let i = 1; i <= n; i++) x = densenetConvBlock(x, 32, `conv${b + 2}_block${i}`);
		if (b < 3) x = densenetTransition(x, 0.5, `pool${b + 2}`);
	});
	x = L.batchNormalization({ axis: 3, epsilon: 1.001e-5, name: 'bn' }).apply(x);
	x = L.activation({ activation: 'relu', name: 'relu' }).apply(x);
	return tf.model({ inputs: input, outputs: x, name: 'densenet121' });
}

// ---- Xception (xception.py; unnamed shortcut layers get Keras 2's auto names) ----------

function xception() {
	let nconv = 0;
	let nadd = 0;
	const bn = (name) => L.batchNormalization({ axis: 3, name });
	const sep = (filters, name) => L.separableConv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, name });
	const relu = (name) => L.activation({ activation: 'relu', name });
	const add = (a, b) => L.add({ name: `add_${++nadd}` }).apply([a, b]);
	const shortcut = (x, filters) => {
		nconv++;
		const r = L.conv2d({ filters, kernelSize: 1, strides: 2, padding: 'same', useBias: false, name: `conv2d_${nconv}` }).apply(x);
		return bn(`batch_normalization_${nconv}`).apply(r);
	};
	const input = tf.input({ shape: [299, 299, 3], name: 'input_1' });
	let x = L.conv2d({ filters: 32, kernelSize: 3, strides: 2, useBias: false, name: 'block1_conv1' }).apply(input);
	x = bn('block1_conv1_bn').apply(x);
	x = relu('block1_conv1_act').apply(x);
	x = L.conv2d({ filters: 64, kernelSize: 3, useBias: false, name: 'block1_conv2' }).apply(x);
	x = bn('block1_conv2_bn').apply(x);
	x = relu('block1_conv2_act').apply(x);
	// entry flow: blocks 2-4
	[[2, 128], [3, 256], [4, 728]].forEach(([b, f]) => {
		const residual = shortcut(x, f);
		if (b > 2) x = relu(`block${b}_sepconv1_act`).apply(x);
		x = sep(f, `block${b}_sepconv1`).apply(x);
		x = bn(`block${b}_sepconv1_bn`).apply(x);
		x = relu(`block${b}_sepconv2_act`).apply(x);
		x = sep(f, `block${b}_sepconv2`).apply(x);
		x = bn(`block${b}_sepconv2_bn`).apply(x);
		x = L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: `block${b}_pool` }).apply(x);
		x = add(x, residual);
	});
	// middle flow: blocks 5-12
	for (let b = 5; b <= 12; b++) {
		const residual = x;
		for (let j = 1; j <= 3; j++) {
			x = relu(`block${b}_sepconv${j}_act`).apply(x);
			x = sep(728, `block${b}_sepconv${j}`).apply(x);
			x = bn(`block${b}_sepconv${j}_bn`).apply(x);
		}
		x = add(x, residual);
	}
	// exit flow
	const residual = shortcut(x, 1024);
	x = relu('block13_sepconv1_act').apply(x);
	x = sep(728, 'block13_sepconv1').apply(x);
	x = bn('block13_sepconv1_bn').apply(x);
	x = relu('block13_sepconv2_act').apply(x);
	x = sep(1024, 'block13_sepconv2').apply(x);
	x = bn('block13_sepconv2_bn').apply(x);
	x = L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'block13_pool' }).apply(x);
	x = add(x, residual);
	x = sep(1536, 'block14_sepconv1').apply(x);
	x = bn('block14_sepconv1_bn').apply(x);
	x = relu('block14_sepconv1_act').apply(x);
	x = sep(2048, 'block14_sepconv2').apply(x);
	x = bn('block14_sepconv2_bn').apply(x);
	x = relu('block14_sepconv2_act').apply(x);
	return tf.model({ inputs: input, outputs: x, name: 'xception' });
}

// arch: [builder, input size, preprocessing mode, blocks]
const NETS = {
	resnet50: [resnet50, 224, 'caffe', [
		['conv1_relu', 'avg'], ['pool1_pool', 'avg'], ['conv2_block3_out', 'avg'], ['conv3_block4_out', 'max'],
		['conv4_block6_out', 'avg'], ['conv5_block3_out', 'avg'],
	]],
	vgg16: [vgg16, 224, 'caffe', [
		['block1_conv2', 'avg'], ['block2_pool', 'avg'], ['block3_pool', 'avg'], ['block4_conv3', 'max'],
		['block5_pool', 'avg'],
	]],
	densenet121: [densenet121, 224, 'torch', [
		['conv1/relu', 'avg'], ['pool1', 'avg'], ['conv2_block6_concat', 'avg'], ['pool2_pool', 'avg'],
		['conv3_block12_concat', 'max'], ['pool4_pool', 'avg'], ['relu', 'avg'],
	]],
	xception: [xception, 299, 'tf', [
		['block1_conv2_act', 'avg'], ['add_1', 'avg'], ['add_3', 'avg'], ['block8_sepconv3_bn', 'max'],
		['add_11', 'avg'], ['block14_sepconv1_act', 'avg'], ['block14_sepconv2_act', 'avg'],
	]],
};

async function main() {
	const outdir = path.resolve(process.argv[2] || path.join(__dirname, '..', 'golden'));
	const which = process.argv.length > 3 ? process.argv.slice(3) : Object.keys(NETS);
	fs.mkdirSync(outdir, { recursive: true });
	await tf.setBackend('cpu');
	for (const arch of which) {
		if (!NETS[arch]) throw new Error(`unknown architecture ${arch}`);
		const [build, size, mode, blocks] = NETS[arch];
		const model = build();
		runGolden(arch, model, size, 2, blocks, outdir, mode);
		model.dispose();
	}
}

main().catch((e) => {
	console.error(`goldens_more.js: ${e.stack || e}`);
	process.exit(1);
});
