/* webhook_guard.c - parses webhook URLs with libcurl's URL API, resolves them with getaddrinfo
 * and refuses internal addresses unless allowed; see webhook_guard.h for the policy.
 *
 * The address classification works on the binary address only (never on text), and unwraps
 * IPv6 forms that carry an IPv4 address before classifying, so ::ffff:127.0.0.1 is loopback.
 */
#include "export/webhook_guard.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- address classification -------------------------------------------------------------- */

static int v4_in(const uint8_t a[4], uint32_t net, unsigned prefix)
{
	uint32_t v = ((uint32_t)a[0] << 24) | ((uint32_t)a[1] << 16) | ((uint32_t)a[2] << 8) | a[3];
	uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
	return (v & mask) == (net & mask);
}

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static const char *v4_kind(const uint8_t a[4])
{
	if (v4_in(a, V4(169, 254, 169, 254), 32))
		return "the cloud metadata address";
	if (v4_in(a, V4(127, 0, 0, 0), 8))
		return "a loopback address";
	if (v4_in(a, V4(0, 0, 0, 0), 8))
		return "a \"this network\" address";
	if (v4_in(a, V4(10, 0, 0, 0), 8) || v4_in(a, V4(172, 16, 0, 0), 12) || v4_in(a, V4(192, 168, 0, 0), 16))
		return "a private address";
	if (v4_in(a, V4(100, 64, 0, 0), 10))
		return "a shared (CGNAT) address";
	if (v4_in(a, V4(169, 254, 0, 0), 16))
		return "a link-local address";
	if (v4_in(a, V4(255, 255, 255, 255), 32))
		return "the broadcast address";
	if (v4_in(a, V4(224, 0, 0, 0), 4))
		return "a multicast address";
	if (v4_in(a, V4(240, 0, 0, 0), 4))
		return "a reserved address";
	if (v4_in(a, V4(192, 0, 0, 0), 24) || v4_in(a, V4(192, 0, 2, 0), 24) || v4_in(a, V4(198, 18, 0, 0), 15) ||
	    v4_in(a, V4(198, 51, 100, 0), 24) || v4_in(a, V4(203, 0, 113, 0), 24))
		return "a reserved address";
	return NULL;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static const char *v6_kind(const uint8_t a[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	if (all_zero(a, 16))
		return "the unspecified address";
	if (all_zero(a, 15) && a[15] == 1)
		return "a loopback address";
	/* Forms that carry an IPv4 address: classify that address. */
	if (memcmp(a, mapped, 12) == 0 || all_zero(a, 12) || memcmp(a, nat64, 12) == 0)
		return v4_kind(a + 12);
	if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: 2002:AABB:CCDD::/48 */
		return v4_kind(a + 2);
	if (a[0] == 0xff)
		return "a multicast address";
	if ((a[0] & 0xfe) == 0xfc)
		return "a unique-local address";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "a link-local address";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return "a site-local address";
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return "a reserved address"; /* documentation, 2001:db8::/32 */
	return NULL;
}

const char *cl_wh_guard_addr_kind(const cl_wh_addr *a)
{
	if (a->family == AF_INET)
		return v4_kind(a->bytes);
	if (a->family == AF_INET6)
		return v6_kind(a->bytes);
	return "an address of an unknown family";
}

int cl_wh_addr_from_sockaddr(cl_wh_addr *out, const struct sockaddr *sa, size_t salen)
{
	memset(out, 0, sizeof(*out));
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		out->family = AF_INET;
		memcpy(out->bytes, &s4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		out->family = AF_INET6;
		memcpy(out->bytes, &s6->sin6_addr, 16);
		return 0;
	}
	return -1;
}

void cl_wh_addr_format(char out[CL_WH_ADDR_TEXT_MAX], const cl_wh_addr *a)
{
	if (inet_ntop(a->family, a->bytes, out, CL_WH_ADDR_TEXT_MAX) == NULL)
		snprintf(out, CL_WH_ADDR_TEXT_MAX, "?");
}

static int addr_eq(const cl_wh_addr *x, const cl_wh_addr *y)
{
	if (x->family != y->family)
		return 0;
	return memcmp(x->bytes, y->bytes, x->family == AF_INET ? 4 : 16) == 0;
}

int cl_wh_target_pins(const cl_wh_target *target, const cl_wh_addr *a)
{
	for (size_t i = 0; i < target->naddrs && i < CL_WH_PIN_MAX; i++)
		if (addr_eq(&target->addrs[i], a))
			return 1;
	return 0;
}

/* ---- URL parsing -------------------------------------------------------------------------- */

/* Copies a curl-allocated part into dst[cap] (NUL-terminated); -1 if it does not fit. */
static int copy_part(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

static cl_err get_part(CURLU *u, CURLUPart what, unsigned flags, char **out)
{
	*out = NULL;
	CURLUcode uc = curl_url_get(u, what, out, flags);
	if (uc == CURLUE_OK)
		return CL_OK;
	if (uc == CURLUE_OUT_OF_MEMORY)
		return CL_ENOMEM;
	return CL_ENOTFOUND;
}

static cl_err parse_url(cl_wh_target *t, const char *url, int allow_private, cl_error *err)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *pass = NULL, *zone = NULL;
	char *norm = NULL;
	cl_err rc = CL_EBADINPUT;

	size_t ulen = strnlen(url, CL_WH_URL_MAX + 1);
	if (ulen == 0 || ulen > CL_WH_URL_MAX) {
		cl_error_set(err, rc, "webhook URL is empty or over %d bytes", CL_WH_URL_MAX);
		goto out;
	}
	/* libcurl accepts "https:/h" and "https:///h" as "https://h"; take only the plain form,
	 * so what was typed is what gets resolved. */
	const char *sep = memchr(url, ':', ulen);
	if (sep != NULL && !(sep - url == 5 && strncasecmp(url, "https", 5) == 0) &&
	    !(sep - url == 4 && strncasecmp(url, "http", 4) == 0) && sep - url <= 16) {
		int ok = sep > url;
		for (const char *c = url; c < sep; c++)
			ok &= (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (c > url && *c >= '0' && *c <= '9');
		if (ok) {
			rc = cl_error_set(err, CL_EREFUSED, "webhook URL scheme \"%.*s\" is not https", (int)(sep - url), url);
			goto out;
		}
	}
	if (sep == NULL || (size_t)(url + ulen - sep) < 4 || memcmp(sep, "://", 3) != 0 || sep[3] == '/' ||
	    sep[3] == '\\') {
		cl_error_set(err, rc, "webhook URL does not start with \"https://\" and a host");
		goto out;
	}
	u = curl_url();
	if (u == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory parsing a webhook URL");
		goto out;
	}
	/* NON_SUPPORT_SCHEME: let any scheme parse so that the refusal below can name it. */
	CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (uc != CURLUE_OK) {
		rc = cl_error_set(err, uc == CURLUE_OUT_OF_MEMORY ? CL_ENOMEM : CL_EBADINPUT,
				  "webhook URL is malformed: %s", curl_url_strerror(uc));
		goto out;
	}
	if ((rc = get_part(u, CURLUPART_SCHEME, 0, &scheme)) != CL_OK) {
		if (rc == CL_ENOMEM)
			cl_error_set(err, rc, "out of memory parsing a webhook URL");
		else
			rc = cl_error_set(err, CL_EBADINPUT, "webhook URL has no scheme");
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
		rc = cl_error_set(err, CL_EREFUSED, "webhook URL scheme \"%.16s\" is not https", scheme);
		goto out;
	}
	if ((rc = get_part(u, CURLUPART_HOST, 0, &host)) != CL_OK) {
		if (rc == CL_ENOMEM)
			cl_error_set(err, rc, "out of memory parsing a webhook URL");
		else
			rc = cl_error_set(err, CL_EBADINPUT, "webhook URL has no host");
		goto out;
	}
	rc = CL_EBADINPUT;
	if (get_part(u, CURLUPART_USER, 0, &user) == CL_OK || get_part(u, CURLUPART_PASSWORD, 0, &pass) == CL_OK) {
		/* The URL is stored in the ledger, which is exported to third parties. */
		cl_error_set(err, rc, "webhook URL must not carry a user name or password");
		goto out;
	}
	if (get_part(u, CURLUPART_ZONEID, 0, &zone) == CL_OK) {
		cl_error_set(err, rc, "webhook URL host %s has an IPv6 zone id", host);
		goto out;
	}
	if (strcmp(scheme, "https") == 0) {
		t->https = 1;
	} else {
		t->https = 0;
		if (!allow_private) {
			rc = cl_error_set(err, CL_EREFUSED,
					  "webhook URL for host %s uses http; https is required (plain http is "
					  "accepted only with --allow-private)",
					  host);
			goto out;
		}
	}

	/* Host: IPv6 literals come back in brackets. Lower-case it (DNS is case-insensitive and
	 * the CURLOPT_RESOLVE entry must match the URL's host). */
	size_t hlen = strlen(host);
	const char *h = host;
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		h = host + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen > CL_WH_HOST_MAX) {
		cl_error_set(err, rc, "webhook URL host is empty or over %d bytes", CL_WH_HOST_MAX);
		goto out;
	}
	for (size_t i = 0; i < hlen; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		/* Letters, digits, '-', '.', '_' and, in IPv6 literals, ':'. No percent-encoding:
		 * what is resolved must be exactly what libcurl will ask for. */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		      (c == ':' && h != host))) {
			if (c >= 0x80)
				cl_error_set(err, rc, "webhook URL host has a non-ASCII character (use its punycode form)");
			else
				cl_error_set(err, rc, "webhook URL host has a character that is not allowed in a host name");
			goto out;
		}
		t->host[i] = (char)c;
	}
	t->host[hlen] = '\0';
	if (t->host[hlen - 1] == '.') {
		cl_error_set(err, rc, "webhook URL host %s ends with a dot", t->host);
		goto out;
	}
	uint8_t probe[16];
	t->host_is_literal = inet_pton(AF_INET, t->host, probe) == 1 || inet_pton(AF_INET6, t->host, probe) == 1;
	if (h == host + 1 && !t->host_is_literal) {
		cl_error_set(err, rc, "webhook URL host [%s] is not an IPv6 address", t->host);
		goto out;
	}

	if ((rc = get_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT, &port)) != CL_OK) {
		if (rc == CL_ENOMEM)
			cl_error_set(err, rc, "out of memory parsing a webhook URL");
		else
			rc = cl_error_set(err, CL_EBADINPUT, "webhook URL for host %s has no port", t->host);
		goto out;
	}
	rc = CL_EBADINPUT;
	char *end = NULL;
	unsigned long p = strtoul(port, &end, 10);
	if (end == port || *end != '\0' || p == 0 || p > 65535) {
		cl_error_set(err, rc, "webhook URL for host %s has a bad port", t->host);
		goto out;
	}
	t->port = (unsigned)p;

	/* Write the lower-cased host back so the URL libcurl requests names the same host as the
	 * CURLOPT_RESOLVE entry. */
	char hostbuf[CL_WH_HOST_MAX + 3];
	snprintf(hostbuf, sizeof(hostbuf), h != host ? "[%s]" : "%s", t->host);
	uc = curl_url_set(u, CURLUPART_HOST, hostbuf, 0);
	if (uc == CURLUE_OK)
		uc = curl_url_get(u, CURLUPART_URL, &norm, 0);
	if (uc != CURLUE_OK) {
		rc = cl_error_set(err, uc == CURLUE_OUT_OF_MEMORY ? CL_ENOMEM : CL_EBADINPUT,
				  "webhook URL for host %s cannot be normalized: %s", t->host, curl_url_strerror(uc));
		goto out;
	}
	if (copy_part(t->url, sizeof(t->url), norm) != 0) {
		cl_error_set(err, rc, "webhook URL for host %s is over %d bytes once normalized", t->host,
			     CL_WH_URL_MAX);
		goto out;
	}
	rc = CL_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_free(pass);
	curl_free(zone);
	curl_free(norm);
	curl_url_cleanup(u);
	return rc;
}

/* ---- resolution and the policy ------------------------------------------------------------ */

static cl_err resolve_and_check(cl_wh_target *t, cl_error *err)
{
	struct addrinfo hints, *res = NULL;
	cl_err rc;
	char port[8];
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = t->host_is_literal ? AI_NUMERICHOST : 0;
	snprintf(port, sizeof(port), "%u", t->port);
	int g = getaddrinfo(t->host, port, &hints, &res);
	if (g == EAI_MEMORY)
		return cl_error_set(err, CL_ENOMEM, "out of memory resolving webhook URL host %s", t->host);
	if (g != 0)
		return cl_error_set(err, CL_ENOTFOUND, "webhook URL host %s does not resolve: %s", t->host,
				    gai_strerror(g));

	t->naddrs = 0;
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		cl_wh_addr a;
		if (cl_wh_addr_from_sockaddr(&a, ai->ai_addr, ai->ai_addrlen) != 0)
			continue;
		const char *kind = cl_wh_guard_addr_kind(&a);
		if (kind != NULL && !t->allow_private) {
			char text[CL_WH_ADDR_TEXT_MAX];
			cl_wh_addr_format(text, &a);
			if (t->host_is_literal)
				rc = cl_error_set(err, CL_EREFUSED,
						  "webhook URL host %s is %s (use --allow-private to allow it)",
						  t->host, kind);
			else
				rc = cl_error_set(err, CL_EREFUSED,
						  "webhook URL host %s resolves to %s, %s (use --allow-private to allow it)",
						  t->host, text, kind);
			goto out;
		}
		if (cl_wh_target_pins(t, &a) || t->naddrs >= CL_WH_PIN_MAX)
			continue;
		t->addrs[t->naddrs++] = a;
	}
	if (t->naddrs == 0) {
		rc = cl_error_set(err, CL_ENOTFOUND, "webhook URL host %s has no IPv4 or IPv6 address", t->host);
		goto out;
	}
	rc = CL_OK;
out:
	freeaddrinfo(res);
	return rc;
}

static cl_err build_resolve(cl_wh_target *t, cl_error *err)
{
	t->resolve[0] = '\0';
	if (t->host_is_literal)
		return CL_OK;
	size_t cap = sizeof(t->resolve);
	int n = snprintf(t->resolve, cap, "%s:%u:", t->host, t->port);
	if (n < 0 || (size_t)n >= cap)
		goto toolong;
	size_t len = (size_t)n;
	for (size_t i = 0; i < t->naddrs; i++) {
		char text[CL_WH_ADDR_TEXT_MAX];
		cl_wh_addr_format(text, &t->addrs[i]);
		int v6 = t->addrs[i].family == AF_INET6;
		n = snprintf(t->resolve + len, cap - len, "%s%s%s%s", i ? "," : "", v6 ? "[" : "", text,
			     v6 ? "]" : "");
		if (n < 0 || (size_t)n >= cap - len)
			goto toolong;
		len += (size_t)n;
	}
	return CL_OK;
toolong:
	return cl_error_set(err, CL_EINTERNAL, "pinned address list for %s does not fit", t->host);
}

cl_err cl_wh_guard_check(cl_wh_target *out, const char *url, int allow_private, cl_error *err)
{
	cl_err rc;
	memset(out, 0, sizeof(*out));
	if (url == NULL)
		return cl_error_set(err, CL_EUSAGE, "no webhook URL given");
	out->allow_private = allow_private ? 1 : 0;
	rc = parse_url(out, url, out->allow_private, err);
	if (rc == CL_OK)
		rc = resolve_and_check(out, err);
	if (rc == CL_OK)
		rc = build_resolve(out, err);
	if (rc != CL_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
