#!/usr/bin/env node
// ort_run.js - run an ONNX model exported by `ct-weights export-onnx` with ONNX Runtime (CPU,
// onnxruntime-node) as an independent check of ctfuse's engine and as its benchmark peer.
//
//   node ort_run.js MODEL.onnx [--input FILE | --batch N] [--threads 2] [--reps R]
//                   [--out FILE] [--compare FILE [--tol 1e-4]] [--json] [--quiet]
//
// Input: --input FILE is raw float32 little-endian, N x H x W x C, already preprocessed (what
// the model's input 'images' expects); without it, N = --batch images are generated as
// lib/nn/testweights.c's ct_testinput_fill does (uint8 pixels from murmur3's fmix32) and
// preprocessed as x / 127.5 - 1 in float32, as the engine does.
// Outputs are printed (name, shape, sum, first values); --out writes them as raw float32 per
// image side by side (N x sum(C), the layout of ct_net_features); --compare reads such a file
// from our engine and prints max|ours - ort| / max|ort| per output, exiting 1 above --tol.
// Timing: one warm-up run, then the best of --reps runs. --json prints one JSON object.
'use strict';
const fs = require('fs');
const path = require('path');

function usage(msg) {
	if (msg) process.stderr.write(`ort_run: ${msg}\n`);
	process.stderr.write('usage: node ort_run.js MODEL.onnx [--input FILE | --batch N] [--threads N] [--reps N]\n' +
		'                   [--out FILE] [--compare FILE [--tol X]] [--json] [--quiet]\n');
	process.exit(2);
}

function parseArgs(argv) {
	const o = { threads: 2, reps: 1, batch: 1, tol: 1e-4, json: false, quiet: false };
	const num = (s, name, min) => {
		const v = Number(s);
		if (!Number.isFinite(v) || v < min) usage(`${name}: bad value '${s}'`);
		return v;
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i], next = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
		if (a === '--input') o.input = next();
		else if (a === '--batch') o.batch = num(next(), a, 1);
		else if (a === '--threads') o.threads = num(next(), a, 1);
		else if (a === '--reps') o.reps = num(next(), a, 1);
		else if (a === '--out') o.out = next();
		else if (a === '--compare') o.compare = next();
		else if (a === '--tol') o.tol = num(next(), a, 0);
		else if (a === '--json') o.json = true;
		else if (a === '--quiet') o.quiet = true;
		else if (a === '-h' || a === '--help') usage();
		else if (a.startsWith('-')) usage(`unknown option '${a}'`);
		else if (!o.model) o.model = a;
		else usage(`extra argument '${a}'`);
	}
	if (!o.model) usage('no model');
	return o;
}

// lib/nn/testweights.c, with 32-bit unsigned arithmetic.
function fmix32(k) {
	k = (k ^ (k >>> 16)) >>> 0;
	k = Math.imul(k, 0x85ebca6b) >>> 0;
	k = (k ^ (k >>> 13)) >>> 0;
	k = Math.imul(k, 0xc2b2ae35) >>> 0;
	return (k ^ (k >>> 16)) >>> 0;
}

function generate(n, h, w, c) {
	const per = h * w * c, x = new Float32Array(n * per);
	if (c !== 3) throw new Error(`generated input needs 3 channels, the model has ${c}`);
	// float32 division then subtraction, as the engine's (float)p / 127.5f - 1.f
	const lut = new Float32Array(256);
	for (let p = 0; p < 256; p++) lut[p] = Math.fround(Math.fround(p / 127.5) - 1);
	for (let img = 0; img < n; img++) {
		const seed = (0x1234567 + Math.imul(img, 0x9e3779b9)) >>> 0;
		for (let i = 0; i < per; i++) x[img * per + i] = lut[fmix32((seed ^ fmix32(i + 1)) >>> 0) & 255];
	}
	return x;
}

function readF32(file) {
	const b = fs.readFileSync(file);
	if (b.length % 4) throw new Error(`'${file}': size ${b.length} is not a multiple of 4`);
	const out = new Float32Array(b.length / 4);
	for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(4 * i);
	return out;
}

function writeF32(file, arr) {
	const b = Buffer.alloc(arr.length * 4);
	for (let i = 0; i < arr.length; i++) b.writeFloatLE(arr[i], 4 * i);
	fs.writeFileSync(file, b);
}

async function main() {
	const o = parseArgs(process.argv.slice(2));
	let ort;
	try {
		ort = require('onnxruntime-node');
	} catch (e) {
		process.stderr.write(`ort_run: onnxruntime-node is not installed (cd ${path.relative(process.cwd(), __dirname) || '.'} && npm ci)\n`);
		process.exit(3);
	}
	const t0 = process.hrtime.bigint();
	const session = await ort.InferenceSession.create(o.model, {
		intraOpNumThreads: o.threads,
		interOpNumThreads: 1,
		executionMode: 'sequential',
		graphOptimizationLevel: 'all',
		executionProviders: ['cpu'],
	});
	const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
	const inName = session.inputNames[0];
	const meta = session.inputMetadata ? session.inputMetadata.find((m) => m.name === inName) || session.inputMetadata[0] : null;
	if (!meta || !meta.shape || meta.shape.length !== 4) throw new Error('cannot read the input shape of the model');
	const [, h, w, c] = meta.shape;
	const per = h * w * c;
	let x, n;
	if (o.input) {
		x = readF32(o.input);
		if (x.length === 0 || x.length % per) throw new Error(`'${o.input}': ${x.length} floats is not a multiple of ${h}x${w}x${c}`);
		n = x.length / per;
	} else {
		n = o.batch;
		x = generate(n, h, w, c);
	}
	if (typeof meta.shape[0] === 'number' && meta.shape[0] !== n)
		throw new Error(`the model has a fixed batch of ${meta.shape[0]}, the input has ${n} images`);
	const feeds = { [inName]: new ort.Tensor('float32', x, [n, h, w, c]) };

	let res = await session.run(feeds); // warm-up (and the result)
	let best = Infinity;
	for (let r = 0; r < o.reps; r++) {
		const t = process.hrtime.bigint();
		res = await session.run(feeds);
		best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
	}
	const outs = session.outputNames.map((name) => {
		const t = res[name];
		return { name, dims: t.dims.map(Number), data: t.data, c: t.data.length / n };
	});
	const total = outs.reduce((s, q) => s + q.c, 0);
	const rssMb = process.resourceUsage().maxRSS / 1024;
	const report = {
		model: o.model, ort: ort.env.versions ? ort.env.versions.node : '', threads: o.threads, batch: n,
		load_ms: +loadMs.toFixed(1), best_s: best, images_per_s: n / best, peak_rss_mb: Math.round(rssMb),
		outputs: outs.map((q) => ({ name: q.name, dims: q.dims })),
	};

	if (o.out) {
		const all = new Float32Array(n * total);
		for (let i = 0; i < n; i++) {
			let off = i * total;
			for (const q of outs) {
				all.set(q.data.subarray(i * q.c, (i + 1) * q.c), off);
				off += q.c;
			}
		}
		writeF32(o.out, all);
	}
	let failed = false;
	if (o.compare) {
		const ours = readF32(o.compare);
		if (ours.length !== n * total) throw new Error(`'${o.compare}': ${ours.length} floats, ORT gives ${n} x ${total}`);
		report.compare = [];
		let base = 0;
		for (const q of outs) {
			let maxDiff = 0, maxRef = 0;
			for (let i = 0; i < n; i++)
				for (let k = 0; k < q.c; k++) {
					const a = ours[i * total + base + k], b = q.data[i * q.c + k];
					maxDiff = Math.max(maxDiff, Math.abs(a - b));
					maxRef = Math.max(maxRef, Math.abs(b));
					if (!Number.isFinite(a) || !Number.isFinite(b)) maxDiff = Infinity;
				}
			const rel = maxRef > 0 ? maxDiff / maxRef : maxDiff;
			const ok = rel <= o.tol;
			failed = failed || !ok;
			report.compare.push({ name: q.name, max_abs_diff: maxDiff, max_abs_ort: maxRef, rel_err: rel, ok });
			base += q.c;
		}
	}

	if (o.json) {
		process.stdout.write(JSON.stringify(report) + '\n');
	} else if (!o.quiet) {
		process.stdout.write(`model ${o.model}  onnxruntime-node ${report.ort}  intra-op threads ${o.threads}  load ${loadMs.toFixed(0)} ms\n`);
		for (const q of outs) {
			let s = 0;
			for (const v of q.data) s += v;
			const first = Array.from(q.data.subarray(0, 4)).map((v) => v.toPrecision(6)).join(' ');
			process.stdout.write(`output ${q.name}  [${q.dims.join(', ')}]  sum ${s.toPrecision(8)}  first ${first}\n`);
		}
		process.stdout.write(`batch ${n}: best of ${o.reps} ${(best * 1e3).toFixed(1)} ms, ${(n / best).toFixed(2)} images/s, peak RSS ${Math.round(rssMb)} MB\n`);
		for (const r of report.compare || [])
			process.stdout.write(`compare ${r.name}: max|ours - ort| ${r.max_abs_diff.toExponential(3)} / max|ort| ${r.max_abs_ort.toExponential(3)} = ${r.rel_err.toExponential(3)} ${r.ok ? '<=' : '>'} ${o.tol} ${r.ok ? 'ok' : 'FAIL'}\n`);
	}
	process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
	process.stderr.write(`ort_run: ${e && e.message ? e.message : e}\n`);
	process.exit(1);
});
