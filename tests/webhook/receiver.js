#!/usr/bin/env node
// receiver.js - a real webhook receiver for certledger's tests and benchmarks.
//
// It listens on 127.0.0.1 (port 0 unless --port is given), prints the port it got as the first
// line of stdout, and checks every webhook request's signature with the `standardwebhooks`
// package (the official Standard Webhooks implementation, which we did not write):
// `new Webhook(secret).verify(body, headers)`. Each webhook request is written as one JSON line
// to the log file *before* the response is sent, so a client that got its answer can read it.
//
// Usage:
//   node receiver.js --secret whsec_... --log FILE [--plan 500,200] [--default 200]
//                    [--hold-ms 30000] [--port 0] [--quiet-log]
// The secret may come from the CL_WEBHOOK_SECRET environment variable instead of --secret (so
// it does not show in the process list).
//
// Response plan: a queue of steps, one consumed per webhook request in arrival order; when the
// queue is empty the default step answers (200 unless --default says otherwise). Steps:
//   200, 500, 410, ...  answer with that status (100..599; 1xx is not allowed)
//   429:2, 503:7        answer with that status and "Retry-After: 2"
//   200@300, 429:2@50   answer as above after a delay of that many milliseconds (0..60000)
//   timeout             never answer; the socket is destroyed after --hold-ms (the client's
//                       time-out is expected to fire first)
//   close               destroy the connection without answering (a connection error)
//
// Control endpoints (not signed, not logged, never counted as webhook requests):
//   PUT  /_control/plan     body "500,200"    replace the queue; answers 204 or 400 with a reason
//   PUT  /_control/default  body "200"        replace the default step
//   GET  /_control/stats                      {"received":N,"valid":N,"invalid":N,"pending":N}
//   POST /_control/shutdown                   answers 204, then exits 0
// Every other path is a webhook delivery. SIGTERM and SIGINT close the server and exit 0.
//
// Log line fields: seq_received (1-based arrival order), path, id, timestamp, signature
// (the webhook-id / webhook-timestamp / webhook-signature headers as received), type and seq
// (from the JSON body's "type" and "data.seq" when present, else null), signature_valid,
// verify_error (the package's message when invalid, else null), status (the status answered,
// 0 for timeout/close), plan (the step used), body (the raw body as UTF-8 text).
//
// --quiet-log leaves out the body and headers (for benchmarks with many requests).
'use strict';

const fs = require('fs');
const http = require('http');
const { Webhook } = require('standardwebhooks');

const MAX_BODY = 1024 * 1024;

function die(msg) {
	process.stderr.write(`receiver: ${msg}\n`);
	process.exit(2);
}

function parseArgs(argv) {
	const o = { secret: null, log: null, plan: '', def: '200', holdMs: 30000, port: 0, quiet: false };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const next = () => {
			if (i + 1 >= argv.length)
				die(`${a} needs a value`);
			return argv[++i];
		};
		switch (a) {
		case '--secret': o.secret = next(); break;
		case '--log': o.log = next(); break;
		case '--plan': o.plan = next(); break;
		case '--default': o.def = next(); break;
		case '--hold-ms': o.holdMs = Number(next()); break;
		case '--port': o.port = Number(next()); break;
		case '--quiet-log': o.quiet = true; break;
		default: die(`unknown argument ${a}`);
		}
	}
	if (!o.secret && process.env.CL_WEBHOOK_SECRET)
		o.secret = process.env.CL_WEBHOOK_SECRET;
	if (!o.secret)
		die('--secret whsec_... (or the CL_WEBHOOK_SECRET environment variable) is required');
	if (!o.log)
		die('--log FILE is required');
	if (!Number.isInteger(o.holdMs) || o.holdMs < 0 || o.holdMs > 600000)
		die('--hold-ms must be an integer 0..600000');
	if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)
		die('--port must be an integer 0..65535');
	return o;
}

// Parses one step; returns {kind, status, retryAfter} or throws with a reason.
function parseStep(text) {
	const t = text.trim();
	if (t === 'timeout' || t === 'close')
		return { kind: t, status: 0, retryAfter: null, text: t };
	const m = /^([1-5][0-9][0-9])(?::([0-9]{1,9}))?(?:@([0-9]{1,5}))?$/.exec(t);
	if (!m)
		throw new Error(`bad plan step "${t}" (use STATUS[:RETRY_AFTER][@DELAY_MS], timeout or close)`);
	const status = Number(m[1]);
	if (status < 200)
		throw new Error(`bad plan step "${t}": 1xx cannot be a final answer`);
	const delayMs = m[3] === undefined ? 0 : Number(m[3]);
	if (delayMs > 60000)
		throw new Error(`bad plan step "${t}": delay over 60000 ms`);
	return { kind: 'status', status, retryAfter: m[2] === undefined ? null : m[2], delayMs, text: t };
}

function parsePlan(text) {
	const t = text.trim();
	if (t === '')
		return [];
	return t.split(',').map(parseStep);
}

const opts = parseArgs(process.argv.slice(2));
let wh;
try {
	wh = new Webhook(opts.secret);
} catch (e) {
	die(`bad secret: ${e.message}`);
}
let queue;
let defStep;
try {
	queue = parsePlan(opts.plan);
	defStep = parseStep(opts.def);
} catch (e) {
	die(e.message);
}
const logFd = fs.openSync(opts.log, 'a');
const stats = { received: 0, valid: 0, invalid: 0 };
const held = new Set();

function readBody(req, cb) {
	const chunks = [];
	let size = 0;
	let tooBig = false;
	req.on('data', (c) => {
		size += c.length;
		if (size > MAX_BODY)
			tooBig = true;
		else
			chunks.push(c);
	});
	req.on('end', () => cb(tooBig, Buffer.concat(chunks)));
	req.on('error', () => {});
}

function control(req, res, body) {
	const reply = (status, text, type) => {
		res.writeHead(status, { 'content-type': type || 'text/plain' });
		res.end(text);
	};
	const text = body.toString('utf8');
	try {
		if (req.method === 'PUT' && req.url === '/_control/plan') {
			queue = parsePlan(text);
			return reply(204, '');
		}
		if (req.method === 'PUT' && req.url === '/_control/default') {
			defStep = parseStep(text);
			return reply(204, '');
		}
	} catch (e) {
		return reply(400, `${e.message}\n`);
	}
	if (req.method === 'GET' && req.url === '/_control/stats')
		return reply(200, JSON.stringify({ ...stats, pending: queue.length }) + '\n', 'application/json');
	if (req.method === 'POST' && req.url === '/_control/shutdown') {
		res.on('finish', () => shutdown());
		return reply(204, '');
	}
	return reply(404, 'unknown control endpoint\n');
}

function header(req, name) {
	const v = req.headers[name];
	return typeof v === 'string' ? v : null;
}

function deliver(req, res, tooBig, body) {
	stats.received++;
	const step = queue.length > 0 ? queue.shift() : defStep;
	let valid = false;
	let verifyError = null;
	if (tooBig) {
		verifyError = 'body over 1 MiB';
	} else {
		try {
			wh.verify(body, req.headers, { jsonParse: false });
			valid = true;
		} catch (e) {
			verifyError = String(e && e.message ? e.message : e);
		}
	}
	if (valid)
		stats.valid++;
	else
		stats.invalid++;
	let type = null;
	let seq = null;
	try {
		const j = JSON.parse(body.toString('utf8'));
		if (j && typeof j.type === 'string')
			type = j.type;
		if (j && j.data && (typeof j.data.seq === 'number' || typeof j.data.seq === 'string'))
			seq = j.data.seq;
	} catch (e) {
		// not JSON: type and seq stay null
	}
	const line = {
		seq_received: stats.received,
		path: req.url,
		id: header(req, 'webhook-id'),
		timestamp: header(req, 'webhook-timestamp'),
		type,
		seq,
		signature_valid: valid,
		verify_error: verifyError,
		status: step.status,
		plan: step.text,
	};
	if (!opts.quiet) {
		line.signature = header(req, 'webhook-signature');
		line.content_type = header(req, 'content-type');
		line.body = body.toString('utf8');
	}
	fs.writeSync(logFd, JSON.stringify(line) + '\n');

	if (step.kind === 'close') {
		req.socket.destroy();
		return;
	}
	if (step.kind === 'timeout') {
		held.add(req.socket);
		const t = setTimeout(() => req.socket.destroy(), opts.holdMs);
		req.socket.on('close', () => {
			clearTimeout(t);
			held.delete(req.socket);
		});
		return;
	}
	const answer = () => {
		const headers = { 'content-type': 'text/plain' };
		if (step.retryAfter !== null)
			headers['retry-after'] = step.retryAfter;
		res.writeHead(step.status, headers);
		res.end(step.status >= 200 && step.status < 300 ? 'ok\n' : `status ${step.status}\n`);
	};
	if (step.delayMs > 0)
		setTimeout(answer, step.delayMs);
	else
		answer();
}

const server = http.createServer((req, res) => {
	readBody(req, (tooBig, body) => {
		if (req.url.startsWith('/_control/'))
			control(req, res, body);
		else
			deliver(req, res, tooBig, body);
	});
});
server.keepAliveTimeout = 60000;
server.headersTimeout = 65000;

function shutdown() {
	for (const s of held)
		s.destroy();
	server.close(() => {
		fs.closeSync(logFd);
		process.exit(0);
	});
	server.closeAllConnections();
	setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.on('error', (e) => die(`listen: ${e.message}`));
server.listen(opts.port, '127.0.0.1', () => {
	process.stdout.write(`${server.address().port}\n`);
});
