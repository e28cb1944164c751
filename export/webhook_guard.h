/* webhook_guard.h - the SSRF guard for webhook URLs: parse, resolve, check, pin.
 *
 * A webhook URL is parsed with libcurl's URL API, its host resolved with getaddrinfo, and every
 * address it resolves to is checked. Unless the subscription was created with allow_private,
 * these are refused: loopback (127/8, ::1), "this network" (0/8, ::), RFC 1918 private (10/8,
 * 172.16/12, 192.168/16), CGNAT (100.64/10), link-local (169.254/16 including the cloud metadata
 * address 169.254.169.254, fe80::/10), unique-local fc00::/7, site-local fec0::/10, multicast
 * (224/4, ff00::/8), reserved and broadcast (240/4, 255.255.255.255), and the IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
 * forms of refused IPv4 addresses. A host that resolves to several addresses is refused if any
 * one of them is.
 *
 * The scheme must be https. Plain http is accepted only together with allow_private, because
 * the loopback receivers used in tests and on a developer's machine speak plain http; on the
 * public internet a webhook carries event data and must be encrypted.
 *
 * The checked addresses are returned in a cl_wh_target, whose `resolve` entry the delivery
 * engine hands to CURLOPT_RESOLVE, so libcurl connects to exactly these addresses and never
 * asks DNS again (a second, different answer cannot be used to reach an internal host). The
 * engine also refuses, at socket-open time, any address that is not one of the pinned ones.
 */
#ifndef CL_EXPORT_WEBHOOK_GUARD_H
#define CL_EXPORT_WEBHOOK_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "certledger/error.h"

#define CL_WH_URL_MAX 2048
#define CL_WH_HOST_MAX 253
/* How many resolved addresses are checked and pinned; a host with more answers than this is
 * pinned to the first ones (all of the answers are still checked). */
#define CL_WH_PIN_MAX 8
/* Text of one address: an IPv6 address in brackets, NUL-terminated. */
#define CL_WH_ADDR_TEXT_MAX 48
/* "host:port:" + up to CL_WH_PIN_MAX bracketed addresses joined with ','. */
#define CL_WH_RESOLVE_MAX (CL_WH_HOST_MAX + 7 + CL_WH_PIN_MAX * CL_WH_ADDR_TEXT_MAX)

/* One checked address, in binary: family AF_INET (4 bytes used) or AF_INET6 (16 bytes). */
typedef struct cl_wh_addr {
	int family;
	uint8_t bytes[16];
} cl_wh_addr;

/* A checked webhook URL and where it may connect. A plain value: copy it, keep it in an array,
 * no free function. All strings are NUL-terminated. */
typedef struct cl_wh_target {
	char url[CL_WH_URL_MAX + 1]; /* normalized by libcurl, host in lower case */
	int https;                   /* 1 for https, 0 for http (only with allow_private) */
	int allow_private;           /* the policy the target was checked under */
	char host[CL_WH_HOST_MAX + 1]; /* as in the URL, without IPv6 brackets */
	unsigned port;               /* explicit or the scheme's default */
	int host_is_literal;         /* the URL names an IP address, not a DNS name */
	size_t naddrs;               /* 1..CL_WH_PIN_MAX */
	cl_wh_addr addrs[CL_WH_PIN_MAX];
	/* "host:port:addr[,addr...]" for CURLOPT_RESOLVE; empty when host_is_literal (libcurl
	 * does not resolve literals; the socket check still pins them). */
	char resolve[CL_WH_RESOLVE_MAX + 1];
} cl_wh_target;

/* Parses url (NUL-terminated, at most CL_WH_URL_MAX bytes), resolves its host and checks it
 * as described at the top of this file. On success fills *out and returns 0. The URL must be
 * absolute http(s) with a host, no user name or password, no IPv6 zone id, an ASCII host name
 * (use the punycode form) that does not end in a dot.
 * Errors, each with a one-line message naming the URL's host:
 *   CL_EBADINPUT    the URL is malformed or over the limits;
 *   CL_EREFUSED     a scheme other than https (http without allow_private), or an address the
 *                   policy refuses, e.g. "webhook URL host 10.0.0.5 is a private address (use
 *                   --allow-private to allow it)";
 *   CL_ENOTFOUND    the host does not resolve;
 *   CL_ENOMEM.
 * getaddrinfo blocks; call it outside the delivery loop (once per subscription per batch). */
cl_err cl_wh_guard_check(cl_wh_target *out, const char *url, int allow_private, cl_error *err)
	__attribute__((warn_unused_result));

/* What kind of refused address a is: a short static phrase such as "a loopback address",
 * "a private address", "a link-local address" or "the cloud metadata address", or NULL when
 * the address is public (allowed without allow_private). */
const char *cl_wh_guard_addr_kind(const cl_wh_addr *a);

/* Converts a socket address (AF_INET or AF_INET6) to a cl_wh_addr. 0, or -1 for another family
 * or a short length. */
int cl_wh_addr_from_sockaddr(cl_wh_addr *out, const struct sockaddr *sa, size_t salen);

/* Writes a's text (IPv6 without brackets) into out[CL_WH_ADDR_TEXT_MAX]. */
void cl_wh_addr_format(char out[CL_WH_ADDR_TEXT_MAX], const cl_wh_addr *a);

/* 1 if a is one of target's pinned addresses, else 0. */
int cl_wh_target_pins(const cl_wh_target *target, const cl_wh_addr *a);

#endif
