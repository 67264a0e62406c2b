// The DNS responder's pure part: one question + the catalog → a response
// packet (ldns), or "not ours, forward it". No sockets, no caching; the
// server (dns_server.h) encodes, caches and truncates what this returns.
//
// Names, under the zone's domain (case-insensitive):
//   NAME.service.DOMAIN            A of the usable (passing/warning) instances
//   TAG.NAME.service.DOMAIN        the same, only instances carrying TAG
//   _NAME._TAG.service.DOMAIN      RFC 2782 form; _tcp means no tag filter
//     (SRV for all three: priority 1, weight 1, the port, a target whose A
//      record goes in the additional section)
//   CONTAINER.container.DOMAIN     A of a running container
//   NODE.node.DOMAIN               the node's address
//   HEX.addr.DOMAIN                an IPv4 address as 8 hex digits (SRV
//                                  targets of instances that are not containers)
//   d.c.b.a.in-addr.arpa PTR       CONTAINER.container.DOMAIN for container IPs
// An unknown name under the domain is NXDOMAIN, a known name asked for
// another type is NOERROR without answers; both carry the zone's SOA in the
// authority section (negative TTL = the service TTL). Everything else, other
// reverse names included, is forwarded.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "discovery/catalog.h"
#include "discovery/dns_ldns.h"

namespace moor::discovery {

struct DnsZone {
  std::string domain = "moor";  // without the trailing dot
  uint32_t service_ttl = 0;
  uint32_t container_ttl = 0;
};

struct DnsAnswer {
  bool forward = false;  // not ours: relay the query to an upstream
  PktPtr response;       // set unless forward
  // The answer section is a set whose order carries no meaning (a
  // service's instances): the server reshuffles it per reply.
  bool shuffle = false;
};

// `query` must hold exactly one question (else FORMERR); opcodes other than
// QUERY get NOTIMP. The response copies ID, RD and the question, and sets
// QR, RA, AA (own answers), and EDNS (4096) when the query had it.
DnsAnswer Answer(const Catalog& catalog, const DnsZone& zone, const ldns_pkt* query, std::mt19937& rng);

// A reply to `query` with no records and `rcode` (SERVFAIL when forwarding
// failed, FORMERR…). The question is copied when there is one.
PktPtr ErrorResponse(const ldns_pkt* query, ldns_pkt_rcode rcode);

}  // namespace moor::discovery
