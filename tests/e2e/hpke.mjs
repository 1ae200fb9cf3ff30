// HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305 — the
// sealing side only, written from the RFC with Node's crypto, to seed sealed identities and
// photos through the API the way the tablet seals them (chaski-seal's `seal`, `seal_bytes`).
// Independent of the crate: the office opening what this seals checks both against the RFC.

import { createCipheriv, createHmac, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';

const INFO = Buffer.from('chaski seal v1');
export const ALG = 'hpke-x25519-sha256-chacha20poly1305';
export const SEALED_CONTENT_TYPE = 'application/vnd.chaski.sealed';
/** The first line of a sealed photo's envelope. */
export const ENVELOPE_MAGIC = 'CHASKI-SEALED-1\n';

const u16 = (n) => Buffer.from([n >> 8, n & 255]);
const KEM_SUITE = Buffer.concat([Buffer.from('KEM'), u16(0x0020)]);
const HPKE_SUITE = Buffer.concat([Buffer.from('HPKE'), u16(0x0020), u16(0x0001), u16(0x0003)]);
const V1 = Buffer.from('HPKE-v1');

const extract = (salt, ikm) => createHmac('sha256', salt).update(ikm).digest();
function expand(prk, info, length) {
  let t = Buffer.alloc(0);
  const out = [];
  for (let i = 1; Buffer.concat(out).length < length; i++) {
    t = createHmac('sha256', prk).update(Buffer.concat([t, info, Buffer.from([i])])).digest();
    out.push(t);
  }
  return Buffer.concat(out).subarray(0, length);
}
const labeledExtract = (suite, salt, label, ikm) => extract(salt, Buffer.concat([V1, suite, Buffer.from(label), ikm]));
const labeledExpand = (suite, prk, label, info, length) =>
  expand(prk, Buffer.concat([u16(length), V1, suite, Buffer.from(label), info]), length);

function x25519Public(raw) {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/** `enc ‖ ciphertext` of `plaintext` sealed to the raw X25519 public key `pkR`, bound to `aad`. */
export function hpkeSeal(pkR, plaintext, aad) {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const enc = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  const dh = diffieHellman({ privateKey, publicKey: x25519Public(pkR) });
  const kemContext = Buffer.concat([enc, Buffer.from(pkR)]);
  const eaePrk = labeledExtract(KEM_SUITE, Buffer.alloc(0), 'eae_prk', dh);
  const shared = labeledExpand(KEM_SUITE, eaePrk, 'shared_secret', kemContext, 32);
  const pskIdHash = labeledExtract(HPKE_SUITE, Buffer.alloc(0), 'psk_id_hash', Buffer.alloc(0));
  const infoHash = labeledExtract(HPKE_SUITE, Buffer.alloc(0), 'info_hash', INFO);
  const context = Buffer.concat([Buffer.from([0]), pskIdHash, infoHash]);
  const secret = labeledExtract(HPKE_SUITE, shared, 'secret', Buffer.alloc(0));
  const key = labeledExpand(HPKE_SUITE, secret, 'key', context, 32);
  const nonce = labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, 12);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(aad), { plaintextLength: plaintext.length });
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return Buffer.concat([enc, ct]);
}

export const identityAad = (docId, personCode) => Buffer.from(`chaski identity v1\0${docId}\0${personCode}`);
export const photoAad = (docId, attachment) => Buffer.from(`chaski photo v1\0${docId}\0${attachment}`);

/** A `SealedIdentity` (the wire shape) of `identity` for person `code` of document `docId`. */
export function sealIdentity(publicKeyB64, keyId, identity, docId, code) {
  const sealed = hpkeSeal(Buffer.from(publicKeyB64, 'base64'), Buffer.from(JSON.stringify(identity)), identityAad(docId, code));
  return { alg: ALG, recipient_key_id: keyId, ciphertext_b64: sealed.toString('base64') };
}

/** A sealed photo attachment's bytes (the envelope of `seal_bytes`). */
export function sealPhoto(publicKeyB64, keyId, bytes, docId, attachment) {
  const sealed = hpkeSeal(Buffer.from(publicKeyB64, 'base64'), bytes, photoAad(docId, attachment));
  return Buffer.concat([Buffer.from(`${ENVELOPE_MAGIC}${keyId}\n`), sealed]);
}
