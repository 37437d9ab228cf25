/*
 * Out-of-line wrappers for the DPDK `static inline` functions (and macros)
 * cnfwd uses, so that Rust can call them. Each wrapper is a plain call: the
 * cost is one extra function call, so call them once per burst, never per
 * packet. Per-packet mbuf fields are read from the bindgen struct in Rust.
 *
 * Compiled by build.rs with every flag of `pkg-config --cflags libdpdk`
 * (`-include rte_config.h -march=corei7 ...`); without `-march=corei7`
 * rte_memcpy fails to inline.
 *
 * Not wrapped because they are ordinary exported functions, bound directly
 * by bindgen: rte_pktmbuf_free_bulk, rte_mempool_in_use_count,
 * rte_mempool_avail_count, rte_socket_id, and the LPM/FIB tables' own
 * lookups rte_fib_lookup_bulk, rte_fib6_lookup_bulk, rte_lpm6_lookup_bulk_func.
 */
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_lpm.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

uint16_t cnfwd_eth_rx_burst(uint16_t port_id, uint16_t queue_id,
                            struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t cnfwd_eth_tx_burst(uint16_t port_id, uint16_t queue_id,
                            struct rte_mbuf **tx_pkts, uint16_t nb_pkts)
{
	return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

struct rte_mbuf *cnfwd_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

int cnfwd_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
                             unsigned int count)
{
	return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}

void cnfwd_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

char *cnfwd_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_prepend(m, len);
}

char *cnfwd_pktmbuf_adj(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_adj(m, len);
}

unsigned int cnfwd_lcore_id(void)
{
	return rte_lcore_id();
}

int cnfwd_errno(void)
{
	return rte_errno;
}

int cnfwd_lpm_lookup(const struct rte_lpm *lpm, uint32_t ip, uint32_t *next_hop)
{
	return rte_lpm_lookup(lpm, ip, next_hop);
}

/* rte_lpm_lookup_bulk is a macro for this static inline function. */
int cnfwd_lpm_lookup_bulk(const struct rte_lpm *lpm, const uint32_t *ips,
                          uint32_t *next_hops, unsigned int n)
{
	return rte_lpm_lookup_bulk_func(lpm, ips, next_hops, n);
}

/*
 * rte_lpm_lookupx4 (the SSE lookup of four addresses that DPDK's l3fwd uses)
 * over a whole burst: groups of four, then rte_lpm_lookup for the last
 * n % 4. One out-of-line call per burst instead of one per four addresses.
 * hops[i] is the next hop (24 bits) of ips[i], or defv when no route covers
 * it.
 */
void cnfwd_lpm_lookupx4_bulk(const struct rte_lpm *lpm, const uint32_t *ips,
                             uint32_t *hops, unsigned int n, uint32_t defv)
{
	unsigned int i = 0;

	for (; i + 4 <= n; i += 4) {
		xmm_t ip;

		memcpy(&ip, &ips[i], sizeof(ip));
		rte_lpm_lookupx4(lpm, ip, &hops[i], defv);
	}
	for (; i < n; i++) {
		uint32_t nh;

		hops[i] = rte_lpm_lookup(lpm, ips[i], &nh) == 0 ? nh : defv;
	}
}
