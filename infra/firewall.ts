import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { MIN_IP_RATE_LIMIT } from "./config";

/** Arguments of {@link Firewall}. */
export interface FirewallArgs {
    /** ARN of the API Gateway stage the web ACL protects (`aws.apigateway.Stage.arn`). */
    stageArn: pulumi.Input<string>;
    /** Requests one IP address may make in each window before it is answered 429 until the rate falls. Default `1000`. */
    ipRateLimit?: number;
    /** The rate-based rule's window, in seconds: 60, 120, 300 or 600. Default `300`. */
    ipRateWindowSeconds?: 60 | 120 | 300 | 600;
}

/**
 * Rules of the AWS managed core rule set (`AWSManagedRulesCommonRuleSet`, "Baseline rule groups" in the AWS WAF
 * developer guide) that inspect the request body or query arguments, switched from Block to Count. Notes and
 * search queries are free text: a note may quote a path (`../`), an address or markup, and a note body may be
 * up to 64 KiB while `SizeRestrictions_BODY` blocks every body over 8 KB. The functions validate those
 * fields themselves; counting keeps the matches visible in the rule group's metrics.
 */
export const COUNTED_CORE_RULES = [
    "SizeRestrictions_BODY",
    "CrossSiteScripting_BODY",
    "GenericLFI_BODY",
    "GenericRFI_BODY",
    "EC2MetaDataSSRF_BODY",
    "CrossSiteScripting_QUERYARGUMENTS",
    "GenericLFI_QUERYARGUMENTS",
    "GenericRFI_QUERYARGUMENTS",
    "EC2MetaDataSSRF_QUERYARGUMENTS",
    "RestrictedExtensions_QUERYARGUMENTS",
] as const;

/** The body WAF answers a rate-limited request with: the API's error shape. */
export const RATE_LIMITED_BODY = JSON.stringify({
    success: false,
    error: { code: "TooManyRequests", message: "Too many requests from this address. Wait a minute and try again." },
});

/**
 * An AWS WAF web ACL on the API stage: a rate-based rule per client IP address (answered 429 in the API's error
 * shape, with `Retry-After`) and the AWS managed core rule set (its body and query-argument rules counted, see
 * {@link COUNTED_CORE_RULES}). A request the core rule set blocks gets API Gateway's `WAF_FILTERED` gateway
 * response (403, the API's error shape). Everything else is allowed. Metrics and sampled requests are on.
 */
export class Firewall extends pulumi.ComponentResource {
    /** The web ACL. */
    public readonly webAcl: aws.wafv2.WebAcl;

    constructor(name: string, args: FirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mobile-backend:index:Firewall", name, {}, opts);
        const limit = args.ipRateLimit ?? 1000;
        const window = args.ipRateWindowSeconds ?? 300;
        if (!Number.isInteger(limit) || limit < MIN_IP_RATE_LIMIT) {
            throw new Error(`the IP rate limit must be a whole number of at least ${MIN_IP_RATE_LIMIT}, got ${limit}`);
        }
        const metric = (suffix: string) => ({
            cloudwatchMetricsEnabled: true,
            sampledRequestsEnabled: true,
            metricName: `${pulumi.getProject()}-${pulumi.getStack()}-${suffix}`,
        });

        this.webAcl = new aws.wafv2.WebAcl(
            `${name}-acl`,
            {
                description: `Rate limit per IP and core rules for the API of ${pulumi.getProject()} ${pulumi.getStack()}`,
                scope: "REGIONAL",
                defaultAction: { allow: {} },
                customResponseBodies: [{ key: "rate-limited", contentType: "APPLICATION_JSON", content: RATE_LIMITED_BODY }],
                rules: [
                    {
                        name: "rate-per-ip",
                        priority: 0,
                        action: {
                            block: {
                                customResponse: {
                                    responseCode: 429,
                                    customResponseBodyKey: "rate-limited",
                                    responseHeaders: [{ name: "Retry-After", value: "60" }],
                                },
                            },
                        },
                        statement: {
                            rateBasedStatement: { aggregateKeyType: "IP", limit, evaluationWindowSec: window },
                        },
                        visibilityConfig: metric("rate-per-ip"),
                    },
                    {
                        name: "aws-core-rules",
                        priority: 1,
                        overrideAction: { none: {} },
                        statement: {
                            managedRuleGroupStatement: {
                                vendorName: "AWS",
                                name: "AWSManagedRulesCommonRuleSet",
                                ruleActionOverrides: COUNTED_CORE_RULES.map((rule) => ({ name: rule, actionToUse: { count: {} } })),
                            },
                        },
                        visibilityConfig: metric("core-rules"),
                    },
                ],
                visibilityConfig: metric("web-acl"),
            },
            { parent: this },
        );
        new aws.wafv2.WebAclAssociation(
            `${name}-stage`,
            { resourceArn: args.stageArn, webAclArn: this.webAcl.arn },
            { parent: this },
        );
        this.registerOutputs({ webAcl: this.webAcl });
    }
}
