/**
 * What the program declares for uploads (dev stack file): the uploads function and its role, its routes
 * and request model (checked with a real draft-4 validator, as API Gateway validates), and the media
 * distribution's cache and response-headers policies.
 */
import Ajv from "ajv-draft-04";
import { loadProgram, type LoadedProgram } from "./support/program";

let dev: LoadedProgram;

beforeAll(async () => {
    dev = await loadProgram("dev");
});

const statements = (policy: string) => JSON.parse(policy).Statement;

test("the uploads function may sign uploads to, delete from and list only uploads/*", () => {
    expect(statements(dev.recorder.one("aws:iam/rolePolicy:RolePolicy", "uploads-function-policy").inputs.policy).slice(1)).toEqual([
        { Effect: "Allow", Action: ["s3:PutObject", "s3:DeleteObject"], Resource: ["arn:aws:s3:::media-uploads-abc1234/uploads/*"] },
        {
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: ["arn:aws:s3:::media-uploads-abc1234"],
            Condition: { StringLike: { "s3:prefix": "uploads/*" } },
        },
    ]);
    const fn = dev.recorder.one("aws:lambda/function:Function", "uploads-function").inputs;
    expect(fn.environment.variables).toEqual({
        UPLOADS_BUCKET: "media-uploads-abc1234",
        MEDIA_BASE_URL: "https://d1234abcd.cloudfront.net",
        UPLOAD_CONTENT_TYPES: "image/jpeg,image/png,image/heic,image/heif,image/webp,video/mp4,video/quicktime",
        UPLOAD_MAX_IMAGE_BYTES: "10485760",
        UPLOAD_MAX_VIDEO_BYTES: "104857600",
        UPLOAD_EXPIRY_SECONDS: "600",
    });
    // The presigned-POST library comes from the runtime's AWS SDK, like the client: the archive is the closure only.
    const archive = dev.archives["uploads-function"];
    expect(Object.keys(archive.files)).toEqual(["__index.js"]);
    expect(archive.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(archive.files["__index.js"]).toMatch(/require\("@aws-sdk\/s3-presigned-post"\)/);
});

test("POST /uploads is validated by API Gateway with the stage's types and largest size", () => {
    const doc = JSON.parse(dev.recorder.one("aws:apigateway/restApi:RestApi").inputs.body);
    const op = doc.paths["/uploads"].post;
    expect(op.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/CreateUploadRequest" });
    expect(op["x-amazon-apigateway-integration"].uri).toContain("function:uploads-function-abc1234");
    expect(doc.paths["/uploads/{key}"].delete.parameters).toEqual([{ name: "key", in: "path", required: true, schema: { type: "string" } }]);
    const validate = new Ajv({ strict: false }).compile(doc.components.schemas.CreateUploadRequest);
    expect(validate({ contentType: "image/heic", contentLength: 123 })).toBe(true);
    expect(validate({ contentType: "video/quicktime", contentLength: 104857600 })).toBe(true);
    for (const bad of [
        { contentType: "text/html", contentLength: 1 },
        { contentType: "image/jpeg", contentLength: 0 },
        { contentType: "image/jpeg", contentLength: 104857601 },
        { contentType: "image/jpeg", contentLength: "12" },
        { contentType: "image/jpeg", contentLength: 1, key: "uploads/mine.html" },
        { contentType: "image/jpeg" },
    ]) {
        expect({ bad, valid: validate(bad) }).toEqual({ bad, valid: false });
    }
});

test("media is cached at most media.cacheSeconds (dev: 300 s) and served with nosniff and no scripts", () => {
    const cache = dev.recorder.one("aws:cloudfront/cachePolicy:CachePolicy", "media-media").inputs;
    expect(cache).toMatchObject({ minTtl: 0, defaultTtl: 300, maxTtl: 300 });
    expect(cache.parametersInCacheKeyAndForwardedToOrigin).toMatchObject({
        queryStringsConfig: { queryStringBehavior: "none" },
        enableAcceptEncodingGzip: true,
    });
    const headers = dev.recorder.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy", "media-media").inputs;
    expect(headers.securityHeadersConfig).toMatchObject({
        contentTypeOptions: { override: true },
        contentSecurityPolicy: { contentSecurityPolicy: "default-src 'none'; sandbox", override: true },
        frameOptions: { frameOption: "DENY", override: true },
    });
    expect(headers.customHeadersConfig.items).toEqual([{ header: "Cache-Control", value: "max-age=300", override: true }]);
    const behavior = dev.recorder.one("aws:cloudfront/distribution:Distribution").inputs.defaultCacheBehavior;
    expect(behavior).toMatchObject({ cachePolicyId: "media-media-id", responseHeadersPolicyId: "media-media-id" });
});
