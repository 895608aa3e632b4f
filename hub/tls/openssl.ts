// The openssl runner lives in lib/ (the agent makes its certificate request with it too).
export { OPENSSL, openssl } from "../../lib/openssl.ts";
