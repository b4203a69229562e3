/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * lb_jhash.h - the flow hash of the load balancer: jhash2() exactly as in the
 * Linux kernel's <linux/jhash.h> (Bob Jenkins' lookup3 hashword(), public
 * domain), specialised to the 10-word input described in lb.h.
 *
 * For a Rust (or any other) reimplementation, all arithmetic is on u32 and
 * wraps; rol32(x, k) = (x << k) | (x >> (32 - k)).
 *
 *   a = b = c = 0xdeadbeef + (10 << 2) + seed;
 *   a += w[0]; b += w[1]; c += w[2]; jhash_mix(a, b, c);
 *   a += w[3]; b += w[4]; c += w[5]; jhash_mix(a, b, c);
 *   a += w[6]; b += w[7]; c += w[8]; jhash_mix(a, b, c);
 *   a += w[9];                       jhash_final(a, b, c);
 *   return c;
 *
 * Test vectors: jhash2([0; 10], 0) = 0xc0fed4b2, jhash2([0; 10], 0x5eed1234) =
 * 0x5a58f16e; flow vectors are in lb.h. smoke.py checks this code (built with
 * the host compiler) against its Python model, and the model against lookup3's
 * published vectors.
 * Generic jhash2(k, n, seed) for any n follows the same pattern: while n > 3
 * take 3 words and mix; then add the 1..3 remaining words to a, b, c (in that
 * order) and final; if none remain, c is returned without a final.
 *
 * Host-compilable (only <linux/types.h>): smoke.py builds it with gcc too.
 */
#ifndef LB_JHASH_H
#define LB_JHASH_H

#include <linux/types.h>

#define LB_JHASH_INITVAL 0xdeadbeefU
#define LB_HASH_WORDS 10

static inline __attribute__((always_inline)) __u32 lb_rol32(__u32 x, int k)
{
	return (x << k) | (x >> (32 - k));
}

#define lb_jhash_mix(a, b, c)                                  \
	do {                                                   \
		a -= c; a ^= lb_rol32(c, 4);  c += b;          \
		b -= a; b ^= lb_rol32(a, 6);  a += c;          \
		c -= b; c ^= lb_rol32(b, 8);  b += a;          \
		a -= c; a ^= lb_rol32(c, 16); c += b;          \
		b -= a; b ^= lb_rol32(a, 19); a += c;          \
		c -= b; c ^= lb_rol32(b, 4);  b += a;          \
	} while (0)

#define lb_jhash_final(a, b, c)                                \
	do {                                                   \
		c ^= b; c -= lb_rol32(b, 14);                  \
		a ^= c; a -= lb_rol32(c, 11);                  \
		b ^= a; b -= lb_rol32(a, 25);                  \
		c ^= b; c -= lb_rol32(b, 16);                  \
		a ^= c; a -= lb_rol32(c, 4);                   \
		b ^= a; b -= lb_rol32(a, 14);                  \
		c ^= b; c -= lb_rol32(b, 24);                  \
	} while (0)

/* jhash2(w, 10, seed) of the kernel. */
static inline __attribute__((always_inline)) __u32
lb_jhash_10words(const __u32 w[LB_HASH_WORDS], __u32 seed)
{
	__u32 a, b, c;

	a = b = c = LB_JHASH_INITVAL + (LB_HASH_WORDS << 2) + seed;
	a += w[0]; b += w[1]; c += w[2];
	lb_jhash_mix(a, b, c);
	a += w[3]; b += w[4]; c += w[5];
	lb_jhash_mix(a, b, c);
	a += w[6]; b += w[7]; c += w[8];
	lb_jhash_mix(a, b, c);
	a += w[9];
	lb_jhash_final(a, b, c);
	return c;
}

#endif /* LB_JHASH_H */
