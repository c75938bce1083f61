/**
 * What node's TLS errors mean, shared by the broker adapters so that both
 * explain a failed handshake the same way.
 */

/** Error codes of node's TLS client when it does not trust the server's certificate. */
export const UNTRUSTED_SERVER_CODES =
  /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_UNTRUSTED|ERR_TLS_CERT_ALTNAME_INVALID)$/;
