// Loads a function's serialized `__index.js` in this fresh Node process, the way the Lambda runtime
// does, and serves invocations sent by the parent process over IPC.
"use strict";
const path = require("node:path");

const { handler } = require(path.resolve(process.argv[2]));
let invocations = 0;

process.on("message", async ({ id, event }) => {
    invocations += 1;
    const context = {
        functionName: process.env.AWS_LAMBDA_FUNCTION_NAME || "local",
        awsRequestId: `local-${process.pid}-${invocations}`,
        getRemainingTimeInMillis: () => 10000,
    };
    try {
        const result = await handler(event, context);
        process.send({ id, result: result === undefined ? null : result });
    } catch (err) {
        process.send({ id, error: String((err && err.stack) || err) });
    }
});
process.send({ ready: true });
