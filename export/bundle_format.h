/* bundle_format.h - the constants of the evidence bundle format (docs/evidence.md), shared by
 * the writer (export_bundle.c) and the verifier (verify_bundle.c).
 *
 * A bundle is JSON Lines (UTF-8, one JSON object per line, "\n" after each line):
 *   line 1   the header: {"format", "version", "origin", "public_key", "checkpoint", "since",
 *            "until", "first_seq", "last_seq", "events", "admins", "consistency"}
 *   then     one entry per envelope, in increasing seq order: {"seq", "envelope", "inclusion"}:
 *            first the signer-registering events before the range (seq 1, every admin.added
 *            and admin.removed), then every event of the range first_seq..last_seq.
 * Envelopes and proofs are standard padded base64; an inclusion proof is the concatenation of
 * its 32-byte hashes in RFC 9162 order, against the tree of the header's checkpoint.
 */
#ifndef CL_EXPORT_BUNDLE_FORMAT_H
#define CL_EXPORT_BUNDLE_FORMAT_H

#define CL_BUNDLE_FORMAT "certledger-evidence-bundle"
#define CL_BUNDLE_VERSION 1
/* Longest header line and entry line a verifier reads (a header holds two checkpoints and the
 * admin list; an entry at most a 64 KiB envelope and 64 hashes, in base64). */
#define CL_BUNDLE_HEADER_MAX (4u << 20)
#define CL_BUNDLE_LINE_MAX (256u << 10)

#endif
