// nsfwjs.js - the nsfwjs 4.3.0 TF.js layers models of node_modules/nsfwjs, unwrapped from their
// browserify bundles: model.min.js exports model.json's object, each group1-shardKofN.min.js the
// shard's bytes as one base64 string. Each bundle is evaluated in an empty vm context (no require,
// no file system), as scripts/weights.sh does before `ct-weights import-tfjs`.
'use strict';

const fs = require('fs');
const path = require('path');
const vm = require('vm');

// dist/models/<arch> of the installed nsfwjs package ('inception_v3', 'mobilenet_v2').
function modelDir(arch) {
	return path.join(__dirname, 'node_modules', 'nsfwjs', 'dist', 'models', arch);
}

function loadBundle(file) {
	const sandbox = { module: { exports: {} } };
	sandbox.exports = sandbox.module.exports;
	vm.runInNewContext(fs.readFileSync(file, 'utf8'), sandbox, { filename: file, timeout: 60000 });
	return sandbox.module.exports;
}

// model.json's object (modelTopology, weightsManifest, ...). The JSON round trip gives plain
// objects of this realm, not of the sandbox's.
function modelJSON(arch) {
	const file = path.join(modelDir(arch), 'model.min.js');
	const model = loadBundle(file);
	if (!model || !model.modelTopology || !Array.isArray(model.weightsManifest))
		throw new Error(`${file}: not a TF.js layers model`);
	return JSON.parse(JSON.stringify(model));
}

// tf.io.ModelArtifacts of the real model: topology, the manifest's weight specs in order and
// the shards' bytes concatenated in the same order (what tf.io's http loader builds), for
// tf.loadLayersModel(tf.io.fromMemory(...)). tfjs decodes (and dequantises) the weights itself.
function artifacts(arch) {
	const model = modelJSON(arch);
	const specs = [];
	const shards = [];
	for (const group of model.weightsManifest) {
		for (const p of group.paths) {
			if (p.includes('/') || p.includes('..')) throw new Error(`bad shard path ${p}`);
			const file = path.join(modelDir(arch), p + '.min.js');
			const b64 = loadBundle(file);
			if (typeof b64 !== 'string') throw new Error(`${file}: not a base64 shard`);
			shards.push(Buffer.from(b64, 'base64'));
		}
		specs.push(...group.weights);
	}
	const all = Buffer.concat(shards);
	const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
	return {
		modelTopology: model.modelTopology,
		format: model.format,
		generatedBy: model.generatedBy,
		convertedBy: model.convertedBy,
		weightSpecs: specs,
		weightData,
	};
}

module.exports = { modelDir, modelJSON, artifacts };
