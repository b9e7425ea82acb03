/** Constants fixed by the Noise specification (rev. 34). Not tunable. */
export const NOISE_MAX_MESSAGE = 65535;
export const NOISE_TAG_LEN = 16;
export const DH_LEN = 32;
export const KEY_LEN = 32;
/** Largest plaintext that fits one Noise transport message. */
export const NOISE_MAX_PLAINTEXT = NOISE_MAX_MESSAGE - NOISE_TAG_LEN;

/**
 * Our nonce ceiling. The spec reserves 2^64-1 and lets an application stop earlier; JS numbers are
 * exact to 2^53-1, so a CipherState refuses to use any nonce at or above this value. At 1 M messages
 * per second that is 285 years, so in practice only the test hook that sets the nonce reaches it.
 */
export const NONCE_CEILING = Number.MAX_SAFE_INTEGER;
