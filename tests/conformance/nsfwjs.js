// nsfwjs.js - the nsfwjs 4.3.0 TF.js layers models of node_modules/nsfwjs, unwrapped from their
// browserify bundles: model.min.js exports model.json's object, each group1-shardKofN.min.js the
// shard's bytes as one base64 string. Each bundle is evaluated in an empty vm context (no require,
// no file system) by scripts/nsfwjs_unwrap.js, which scripts/weights.sh uses too.
'use strict';

const path = require('path');
const { readModel, readShards } = require('../../scripts/nsfwjs_unwrap.js');

// dist/models/<arch> of the installed nsfwjs package ('inception_v3', 'mobilenet_v2').
function modelDir(arch) {
	return path.join(__dirname, 'node_modules', 'nsfwjs', 'dist', 'models', arch);
}

// model.json's object (modelTopology, weightsManifest, ...).
function modelJSON(arch) {
	return readModel(modelDir(arch));
}

// tf.io.ModelArtifacts of the real model: topology, the manifest's weight specs in order and
// the shards' bytes concatenated in the same order (what tf.io's http loader builds), for
// tf.loadLayersModel(tf.io.fromMemory(...)). tfjs decodes (and dequantises) the weights itself.
function artifacts(arch) {
	const model = modelJSON(arch);
	const specs = [];
	for (const group of model.weightsManifest)
		specs.push(...group.weights);
	const all = Buffer.concat(readShards(modelDir(arch), model).map((s) => s.bytes));
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
