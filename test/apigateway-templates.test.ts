/**
 * local/apigateway.ts renders API Gateway templates as API Gateway does: integration mapping templates as
 * VTL (real engine: velocityjs, Java string semantics), gateway-response templates as plain `$context`
 * substitution. The asynchronous route's template is rendered with hostile identities and bodies and
 * must always give exactly the event the function expects.
 */
import { ASYNC_EVENT_TEMPLATE, BODYLESS_ASYNC_EVENT_TEMPLATE } from "../infra/openapi";
import {
    escapeJavaScript,
    gatewayResponseHeaders,
    gatewayResponseVariables,
    MappingTemplateError,
    renderGatewayResponseTemplate,
    renderMappingTemplate,
    urlDecode,
    urlEncode,
} from "../local/apigateway";
import { HOSTILE_PIECES, hostileJson, hostileString, random } from "./support/adversarial";

const IDENTITY = "us-east-1:11111111-1111-4111-8111-111111111111";

describe("$util as documented", () => {
    test("escapeJavaScript escapes as Commons Lang does, ' included (invalid JSON on its own)", () => {
        expect(escapeJavaScript(`it's "x"/y\\z`)).toBe(String.raw`it\'s \"x\"\/y\\z`);
        expect(escapeJavaScript("a\nb\r\t\b\f\u0001\u001f")).toBe(String.raw`a\nb\r\t\b\f\u0001\u001F`);
        expect(escapeJavaScript("é日😀\u007f")).toBe(String.raw`\u00E9\u65E5\uD83D\uDE00` + "\u007f");
        expect(() => JSON.parse(`"${escapeJavaScript("it's")}"`)).toThrow();
    });

    test("urlEncode and urlDecode are Java's form encoding (space as +, UTF-8 bytes)", () => {
        expect(urlEncode("a b&c/é*~")).toBe("a+b%26c%2F%C3%A9*%7E");
        expect(urlDecode("a+b%26c%2F%C3%A9*%7E")).toBe("a b&c/é*~");
        for (const piece of HOSTILE_PIECES.filter((p) => !/[\ud800-\udfff]/.test(p))) expect(urlDecode(urlEncode(piece))).toBe(piece);
        expect(() => urlDecode("%zz")).toThrow(MappingTemplateError);
    });

    test("base64Encode, base64Decode and parseJson", () => {
        const out = renderMappingTemplate(
            '#set($o = $util.parseJson($input.path(\'$.inner\')))"$util.base64Encode($input.path(\'$.text\'))|$util.base64Decode("w6k=")|$o.k"',
            { body: JSON.stringify({ text: "héllo", inner: '{"k":"v"}' }) },
            { context: {} },
        );
        expect(out).toBe(`"${Buffer.from("héllo").toString("base64")}|é|v"`);
    });
});

describe("$input, $context and Java strings in VTL", () => {
    const request = {
        body: JSON.stringify({ a: { b: ["x", "y"] }, "odd key": 1, n: null }),
        path: { noteId: "n-1" },
        querystring: { limit: "5", noteId: "from-query" },
        header: { "x-api-key": "k" },
    };

    test("$input.json, $input.path and $input.body", () => {
        const render = (template: string) => renderMappingTemplate(template, request, { context: {} });
        expect(render("$input.json('$.a.b')")).toBe('["x","y"]');
        expect(render("$input.json('$.a.b[1]')")).toBe('"y"');
        expect(render("$input.json(\"$['odd key']\")")).toBe("1");
        expect(render("$input.json('$.missing')")).toBe("null");
        expect(render("$input.path('$.a.b').size()")).toBe("2");
        expect(render("$input.body")).toBe(request.body);
        expect(() => render("$input.json('$..b')")).toThrow(MappingTemplateError);
        expect(() => renderMappingTemplate("$input.json('$')", { body: "not json" }, { context: {} })).toThrow(MappingTemplateError);
    });

    test("$input.params searches path, then query string, then headers", () => {
        const render = (template: string) => renderMappingTemplate(template, request, { context: {} });
        expect(render("$input.params('noteId')|$input.params('limit')|$input.params('x-api-key')|$input.params('none')|")).toBe(
            "n-1|5|k||",
        );
        expect(render("$input.params().querystring.limit")).toBe("5");
    });

    test("$context and $stageVariables, nested", () => {
        const out = renderMappingTemplate(
            "$context.requestId $context.identity.cognitoIdentityId $stageVariables.tier",
            { body: "{}" },
            { context: { requestId: "r-1", identity: { cognitoIdentityId: IDENTITY } }, stageVariables: { tier: "dev" } },
        );
        expect(out).toBe(`r-1 ${IDENTITY} dev`);
    });

    test("strings have Java semantics: replaceAll is a regular expression, replace replaces every match, literals keep backslashes", () => {
        const render = (template: string) => renderMappingTemplate(template, { body: JSON.stringify({ s: "a'b'c\\'d" }) }, { context: {} });
        expect(render(String.raw`$input.path('$.s').replaceAll("\\'","!")`)).toBe("a'b'c!d");
        expect(render(`$input.path('$.s').replace("'","-")`)).toBe("a-b-c\\-d");
        expect(render(`$input.path('$.s').replaceAll("([ab])'","$1$1")`)).toBe("aabbc\\'d");
        expect(render(`$input.path('$.s').replaceFirst("'","")`)).toBe("ab'c\\'d");
        expect(render(`$input.path('$.s').matches("a.*d")`)).toBe("true");
        expect(render(`$input.path('$.s').length()`)).toBe("8");
    });
});

describe("the asynchronous route's event", () => {
    /** The exact event the sender receives: what Lambda parses from the rendered template. */
    function event(identityId: string, requestId: string, body: string): unknown {
        const rendered = renderMappingTemplate(ASYNC_EVENT_TEMPLATE, { body }, { context: { requestId, identity: { cognitoIdentityId: identityId } } });
        return JSON.parse(rendered);
    }

    test("a real identity and body come through unchanged", () => {
        const body = { recipientId: IDENTITY, message: "Hi 'there' \"you\" \\ 😀\n", data: { k: "é" } };
        expect(event(IDENTITY, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", JSON.stringify(body))).toEqual({
            senderId: IDENTITY,
            requestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            body,
        });
    });

    test("every hostile piece as identity and request id, and inside the body", () => {
        for (const piece of HOSTILE_PIECES) {
            const body = { [piece]: piece, message: `x${piece}y`, nested: [piece, { piece }] };
            expect(event(piece, `r${piece}`, JSON.stringify(body))).toEqual({ senderId: piece, requestId: `r${piece}`, body });
        }
    });

    test("500 generated identities, request ids and bodies (seeded) all give the exact event", () => {
        const next = random(7);
        for (let i = 0; i < 500; i++) {
            const identityId = hostileString(next, 12);
            const requestId = hostileString(next, 4);
            const body = hostileJson(next);
            const raw = JSON.stringify(body);
            expect(event(identityId, requestId, raw)).toEqual({ senderId: identityId, requestId, body: JSON.parse(raw) });
        }
    });
});

describe("gateway-response templates are plain substitution", () => {
    test("only $context/$stageVariables names are replaced, once; VTL is left as text", () => {
        const template = '{"m":$context.error.messageString,"t":"$context.error.responseType","s":"$stageVariables.x","u":"$util.escapeJavaScript($context.requestId)"}';
        expect(gatewayResponseVariables(template)).toEqual([
            "context.error.messageString",
            "context.error.responseType",
            "stageVariables.x",
            "context.requestId",
        ]);
        const out = renderGatewayResponseTemplate(template, {
            context: { error: { message: 'say "$context.requestId"', responseType: "THROTTLED" }, requestId: "r-1" },
            stageVariables: { x: "$context.requestId" },
        });
        expect(out).toBe('{"m":"say \\"$context.requestId\\"","t":"THROTTLED","s":"$context.requestId","u":"$util.escapeJavaScript(r-1)"}');
    });

    test("a variable without a value renders empty; messageString is the quoted message", () => {
        expect(renderGatewayResponseTemplate("[$context.nothing.here]", { context: {} })).toBe("[]");
        expect(renderGatewayResponseTemplate("$context.error.messageString", { context: { error: { message: "a\nb" } } })).toBe('"a\\nb"');
    });

    test("response parameters map static values, context variables and request parameters into headers", () => {
        expect(
            gatewayResponseHeaders(
                {
                    "gatewayresponse.header.x-static": "'fixed value'",
                    "gatewayresponse.header.x-detail": "context.error.validationErrorString",
                    "gatewayresponse.header.x-key": "method.request.header.x-api-key",
                },
                { context: { error: { validationErrorString: '[object has missing required properties (["message"])]' } } },
                { body: "", header: { "x-api-key": "abc" } },
            ),
        ).toEqual({ "x-static": "fixed value", "x-detail": '[object has missing required properties (["message"])]', "x-key": "abc" });
        expect(() => gatewayResponseHeaders({ "gatewayresponse.header.x": "$util.x" }, { context: {} })).toThrow(MappingTemplateError);
    });
});

describe("the body-less asynchronous route's event (DELETE /me)", () => {
    const ISSUER = "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123";
    function event(identity: Record<string, string | null | undefined>, requestId: string): unknown {
        return JSON.parse(renderMappingTemplate(BODYLESS_ASYNC_EVENT_TEMPLATE, { body: "" }, { context: { requestId, identity } }));
    }

    test("a signed-in caller's identity, type and provider come through unchanged; a body is ignored", () => {
        const provider = `${ISSUER},${ISSUER}:CognitoSignIn:aaaaaaaa-1111-4111-8111-111111111111`;
        const identity = { cognitoIdentityId: IDENTITY, cognitoAuthenticationType: "authenticated", cognitoAuthenticationProvider: provider };
        expect(event(identity, "r-1")).toEqual({ identityId: IDENTITY, authenticationType: "authenticated", authenticationProvider: provider, requestId: "r-1" });
        const withBody = renderMappingTemplate(BODYLESS_ASYNC_EVENT_TEMPLATE, { body: '{"identityId":"someone else"}' }, { context: { requestId: "r", identity } });
        expect(JSON.parse(withBody).identityId).toBe(IDENTITY);
    });

    test("a guest (no provider) and a caller without Cognito credentials give empty strings, never the template's text", () => {
        expect(event({ cognitoIdentityId: IDENTITY, cognitoAuthenticationType: "unauthenticated" }, "r")).toEqual({
            identityId: IDENTITY,
            authenticationType: "unauthenticated",
            authenticationProvider: "",
            requestId: "r",
        });
        expect(event({}, "r")).toEqual({ identityId: "", authenticationType: "", authenticationProvider: "", requestId: "r" });
    });

    test("every hostile piece as provider, type, identity and request id gives the exact event", () => {
        for (const piece of HOSTILE_PIECES) {
            const provider = `${ISSUER},${ISSUER}:CognitoSignIn:${piece}`;
            expect(event({ cognitoIdentityId: piece, cognitoAuthenticationType: piece, cognitoAuthenticationProvider: provider }, `r${piece}`)).toEqual({
                identityId: piece,
                authenticationType: piece,
                authenticationProvider: provider,
                requestId: `r${piece}`,
            });
        }
    });

    test("500 generated providers (seeded) all give the exact event", () => {
        const next = random(11);
        for (let i = 0; i < 500; i++) {
            const provider = hostileString(next, 16);
            const identityId = hostileString(next, 8);
            expect(event({ cognitoIdentityId: identityId, cognitoAuthenticationType: "authenticated", cognitoAuthenticationProvider: provider }, "r")).toEqual({
                identityId,
                authenticationType: "authenticated",
                authenticationProvider: provider,
                requestId: "r",
            });
        }
    });
});
