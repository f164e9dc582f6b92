// One function of the local backend, in a worker thread of its own (local/functions.ts): its own
// `process.env` (the function's variables, its credentials, the SDK's endpoint settings), its own module
// registry (a fresh worker loads the code anew: that is the hot reload), and the handler its factory
// builds once, as a Lambda execution environment does at a cold start.
"use strict";
const crypto = require("node:crypto");
const { parentPort, workerData } = require("node:worker_threads");

const { modulePath, factory, functionName } = workerData;

// TypeScript, as `npm start` loads it (transpile-only, cached on disk).
require("./register-ts");

let invocations = 0;
let handler;
try {
    const exported = require(modulePath)[factory];
    if (typeof exported !== "function") throw new Error(`${modulePath} exports no function ${factory}`);
    handler = exported();
} catch (err) {
    parentPort.postMessage({ ready: false, error: describe(err) });
    return;
}

function describe(err) {
    if (err instanceof Error) return { errorType: err.name, errorMessage: err.message, stackTrace: String(err.stack || "").split("\n").slice(1).map((l) => l.trim()) };
    return { errorType: "Error", errorMessage: String(err), stackTrace: [] };
}

parentPort.on("message", async ({ id, event, deadlineMs }) => {
    invocations += 1;
    const awsRequestId = crypto.randomUUID();
    const context = {
        functionName,
        functionVersion: "$LATEST",
        awsRequestId,
        invokedFunctionArn: process.env.LOCAL_FUNCTION_ARN || functionName,
        memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || "128",
        logGroupName: `/aws/lambda/${functionName}`,
        logStreamName: `local/${process.pid}/${invocations}`,
        callbackWaitsForEmptyEventLoop: true,
        getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    };
    try {
        const result = await handler(event, context);
        parentPort.postMessage({ id, result: result === undefined ? null : result });
    } catch (err) {
        console.error(`${functionName} ${awsRequestId} ERROR`, err);
        parentPort.postMessage({ id, error: describe(err) });
    }
});
parentPort.postMessage({ ready: true });
