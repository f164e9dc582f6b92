// The verifier is product code now (the local S3 endpoint in local/ uses it); kept here for the test doubles.
export { SigV4Failure, verifySigV4 } from "../../local/sigv4";
