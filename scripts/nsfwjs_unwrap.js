// nsfwjs_unwrap.js - read a TF.js layers model as the npm package nsfwjs ships it: browserify
// bundles, model.min.js exporting model.json's object and each group1-shardKofN.min.js the
// shard's bytes as one base64 string. Each bundle is evaluated in an empty vm context (no
// require, no file system). Used by scripts/weights.sh (as a command: write model.json and the
// raw shards, for `ct-weights import-tfjs`) and by tests/conformance/nsfwjs.js (as a module).
//   node nsfwjs_unwrap.js SRC_DIR OUT_DIR
'use strict';

const fs = require('fs');
const path = require('path');
const vm = require('vm');

function loadBundle(file) {
	const sandbox = { module: { exports: {} } };
	sandbox.exports = sandbox.module.exports;
	vm.runInNewContext(fs.readFileSync(file, 'utf8'), sandbox, { filename: file, timeout: 60000 });
	return sandbox.module.exports;
}

// model.json's object (as plain objects of this realm, through a JSON round trip).
function readModel(dir) {
	const file = path.join(dir, 'model.min.js');
	const model = loadBundle(file);
	if (!model || !model.modelTopology || !Array.isArray(model.weightsManifest))
		throw new Error(`${file}: not a TF.js layers model`);
	return JSON.parse(JSON.stringify(model));
}

// The shards in manifest order: [{ path, bytes }].
function readShards(dir, model) {
	const shards = [];
	for (const group of model.weightsManifest) {
		for (const p of group.paths) {
			if (p.includes('/') || p.includes('..')) throw new Error(`bad shard path ${p}`);
			const file = path.join(dir, p + '.min.js');
			const b64 = loadBundle(file);
			if (typeof b64 !== 'string') throw new Error(`${file}: not a base64 shard`);
			shards.push({ path: p, bytes: Buffer.from(b64, 'base64') });
		}
	}
	return shards;
}

module.exports = { loadBundle, readModel, readShards };

if (require.main === module) {
	const [src, out] = process.argv.slice(2);
	if (!src || !out) {
		console.error('usage: node nsfwjs_unwrap.js SRC_DIR OUT_DIR');
		process.exit(2);
	}
	const model = readModel(src);
	fs.mkdirSync(out, { recursive: true });
	fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify(model));
	for (const s of readShards(src, model))
		fs.writeFileSync(path.join(out, s.path), s.bytes);
}
